import Testing

@testable import HeadroomCore

@Suite("Repeated warning lines")
struct RepeatedWarningsTests {
    typealias Key = RepeatedWarnings.Key
    let rate = 1000
    let vox = Key(kind: .clip, channel: 0)

    @Test("five lines a minute are shown; the sixth holds the rest, counted once a minute with the worst figure")
    func holdsAndCounts() {
        var r = RepeatedWarnings(rate: rate)
        let verdicts = (0..<5).map { r.admit(vox, at: $0 * 1000) }
        #expect(verdicts == Array(repeating: .show, count: 5))
        #expect(r.admit(vox, at: 5000, worst: -2) == .holdFromNow)
        #expect(r.isHolding(vox))
        #expect(r.admit(vox, at: 6000, worst: -1) == .held)
        #expect(r.admit(vox, at: 7000, worst: -3) == .held)
        // Another channel, and another kind on the same channel, are counted apart.
        #expect(r.admit(Key(kind: .clip, channel: 1), at: 7000) == .show)
        #expect(r.admit(Key(kind: .hot, channel: 0), at: 7000) == .show)
        #expect(r.due(at: 64_999).isEmpty)
        let first = r.due(at: 65_000)
        #expect(first == [.init(key: vox, from: 5000, to: 65_000, count: 3, worst: -1, frames: 0)])
        // The next minute counts afresh.
        #expect(r.admit(vox, at: 70_000, worst: -4) == .held)
        #expect(r.due(at: 125_000) == [.init(key: vox, from: 65_000, to: 125_000, count: 1, worst: -4, frames: 0)])
    }

    @Test("a minute without one shows every line again; lines spread wider than a minute are never held")
    func releases() {
        var r = RepeatedWarnings(rate: rate)
        for f in 0..<6 { _ = r.admit(vox, at: f) }
        #expect(r.isHolding(vox))
        // The sixth is the minute's one event counted; the next minute has none.
        #expect(r.due(at: 60_005).map(\.count) == [1])
        #expect(r.isHolding(vox))
        #expect(r.due(at: 120_005).isEmpty)
        #expect(!r.isHolding(vox))
        #expect(r.admit(vox, at: 120_006) == .show)

        var spread = RepeatedWarnings(rate: rate)
        let verdicts = (0..<20).map { spread.admit(vox, at: $0 * 12_001) }
        #expect(verdicts == Array(repeating: .show, count: 20))
    }

    @Test("the take's end says what is still counted, up to its last frame, and starts afresh")
    func finish() {
        var r = RepeatedWarnings(rate: rate)
        let xrun = Key(kind: .xrun, channel: -1)
        for f in 0..<5 { _ = r.admit(xrun, at: f * 10, frames: 64) }
        #expect(r.admit(xrun, at: 50, frames: 100) == .holdFromNow)
        #expect(r.admit(xrun, at: 60, frames: 28) == .held)
        for f in 0..<6 { _ = r.admit(vox, at: f) }
        let left = r.finish(at: 30_000)
        #expect(left.map(\.key) == [xrun, vox])
        #expect(left.map(\.to) == [30_000, 30_000])
        #expect(left[0].count == 2 && left[0].frames == 128)
        #expect(r.admit(vox, at: 30_001) == .show)
        #expect(r.finish(at: 30_002).isEmpty)
    }
}
