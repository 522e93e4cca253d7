import Testing

@testable import HeadroomCore

/// The loss detector on a synthetic clock: readings are (time, frames, waiting) as a
/// device at 48 kHz with 480-frame periods would give them. No sleeps: ten minutes of
/// device time run in milliseconds.
@Suite("LossDetector on a synthetic clock")
struct LossDetectorTests {
    static let rate = 48000
    static let period = 480
    static let periodSeconds = Double(period) / Double(rate)

    /// Frames the baseline may rise in `seconds`: how much of a loss the clock-skew
    /// allowance can hide.
    static func allowance(_ seconds: Double) -> Int {
        Int((LossDetector.clockTolerance * Double(rate) * seconds).rounded(.up))
    }

    /// A paced device read on time: period `k` arrives at `(k + 1) * period` (times `skew`),
    /// `extra` seconds late from `from` on (a loss no one reports shifts the clock for good).
    static func run(
        periods: Int,
        skew: Double = 1,
        lateFrom from: Int = .max,
        extra: Double = 0,
        detector: inout LossDetector
    ) -> [LossDetector.Decision] {
        var decisions: [LossDetector.Decision] = []
        for k in 0..<periods {
            let t = Double(k + 1) * periodSeconds * skew + (k >= from ? extra : 0)
            if let lost = detector.reading(frames: period, at: t, waiting: 0, settled: true) {
                decisions.append(.lost(frames: lost, after: 0))
            }
            let d = detector.decide(at: t, mustDecide: false)
            if d != .none && d != .hold { decisions.append(d) }
        }
        return decisions
    }

    @Test("three periods lost without a word: one loss of 1,440 frames, confirmed after 0.25 s of holding")
    func silentLoss() {
        var detector = LossDetector(rate: Self.rate, periodFrames: Self.period, start: 0)
        var decisions = Self.run(periods: 40, detector: &detector)
        #expect(decisions.isEmpty)
        // From period 40 the clock stands three periods further than the frames.
        var held = 0
        for k in 40..<100 {
            let t = Double(k + 1) * Self.periodSeconds + 3 * Self.periodSeconds
            _ = detector.reading(frames: Self.period, at: t, waiting: 0, settled: true)
            let d = detector.decide(at: t, mustDecide: false)
            if d == .hold { held += 1 } else if d != .none { decisions.append(d) }
        }
        // Short of 1,440 by at most what the skew allowance grants over the 0.3 s held.
        guard decisions.count == 1, case .lost(let lost, let after) = decisions[0] else {
            Issue.record("decisions: \(decisions)")
            return
        }
        #expect((1440 - Self.allowance(0.3))...1440 ~= lost, "lost \(lost)")
        #expect(after == 0)  // the reader was on time: nothing waited before the hole
        #expect(held == Int((LossDetector.confirmSeconds / Self.periodSeconds).rounded(.down)))
    }

    @Test("a device that falls 50 ms behind and catches up: held, then released, nothing lost")
    func behindAndCaughtUp() {
        var detector = LossDetector(rate: Self.rate, periodFrames: Self.period, start: 0)
        #expect(Self.run(periods: 40, detector: &detector).isEmpty)
        // Frames show late by `lag`, which shrinks by 3/4 of a period each read.
        var next = 41 * Self.periodSeconds
        var lag = 0.05
        var decisions: [LossDetector.Decision] = []
        for _ in 0..<60 {
            let t = next + lag
            // What the device shows beyond this period: periods whose (lagging) time has come.
            var waiting = 0
            while next + Double(waiting / Self.period + 1) * Self.periodSeconds
                + max(0, lag - 0.75 * Self.periodSeconds * Double(waiting / Self.period + 1)) <= t
            {
                waiting += Self.period
            }
            _ = detector.reading(frames: Self.period, at: t, waiting: waiting, settled: true)
            let d = detector.decide(at: t, mustDecide: false)
            if d != .none && d != .hold { decisions.append(d) }
            next += Self.periodSeconds
            lag = max(0, lag - 0.75 * Self.periodSeconds)
        }
        #expect(decisions == [.release])
        #expect(!detector.suspected)
    }

    @Test("clock skew of 0.1 % either way for ten minutes: no suspicion", arguments: [1.001, 0.999])
    func skew(_ skew: Double) {
        var detector = LossDetector(rate: Self.rate, periodFrames: Self.period, start: 0)
        var suspected = 0
        for k in 0..<60_000 {
            let t = Double(k + 1) * Self.periodSeconds * skew
            _ = detector.reading(frames: Self.period, at: t, waiting: 0, settled: true)
            if detector.suspected { suspected += 1 }
            _ = detector.decide(at: t, mustDecide: false)
        }
        #expect(suspected == 0)
    }

    @Test("an overrun the device reports is measured by the clock at the next reading")
    func xrun() {
        var detector = LossDetector(rate: Self.rate, periodFrames: Self.period, start: 0)
        #expect(Self.run(periods: 20, detector: &detector).isEmpty)
        detector.xrunReported()
        let t = 21 * Self.periodSeconds + 0.1  // 4,800 frames of device time went by
        let lost = detector.reading(frames: Self.period, at: t, waiting: 0, settled: true) ?? -1
        #expect((4800 - Self.allowance(0.2))...4800 ~= lost, "lost \(lost)")
        #expect(detector.decide(at: t, mustDecide: false) == .none)
    }

    @Test("a loss suspected when the recording ends: counted when stopped, not when the device went away")
    func atTheEnd() {
        var detector = LossDetector(rate: Self.rate, periodFrames: Self.period, start: 0)
        _ = Self.run(periods: 20, detector: &detector)
        let t = 21 * Self.periodSeconds + 0.05
        _ = detector.reading(frames: Self.period, at: t, waiting: 0, settled: true)
        #expect(detector.decide(at: t, mustDecide: false) == .hold)
        #expect((2400 - Self.allowance(0.2))...2400 ~= detector.lossAtEnd(deviceGone: false).frames)
        #expect(detector.lossAtEnd(deviceGone: true) == (0, 0))
    }

    @Test("a reader that stalls with 1.5 periods still waiting: the loss goes after those 720 frames, not before them")
    func stalledReader() {
        var detector = LossDetector(rate: Self.rate, periodFrames: Self.period, start: 0)
        // The device's clock at `t` stands at `t * rate`, less what it dropped. The reader
        // takes a period each time and leaves 720 frames waiting.
        var received = 0
        var dropped = 0
        func read(at t: Double) -> LossDetector.Decision {
            received += Self.period
            let waiting = Int((t * Double(Self.rate)).rounded()) - dropped - received
            _ = detector.reading(frames: Self.period, at: t, waiting: waiting, settled: true)
            return detector.decide(at: t, mustDecide: false)
        }
        for k in 0..<40 {
            #expect(read(at: Double((k + 1) * Self.period + 720) / Double(Self.rate)) == .none)
        }
        // Stopped for 0.1 s: the device's buffer laps and it drops 4,800 frames. Back, the
        // reader catches up a period at a time, twice as often as they come.
        var t = Double(40 * Self.period + 720) / Double(Self.rate) + 0.1
        dropped = 4800
        var decisions: [LossDetector.Decision] = []
        for _ in 0..<80 {
            t += Self.periodSeconds / 2
            let d = read(at: t)
            if d != .none && d != .hold { decisions.append(d) }
        }
        guard decisions.count == 1, case .lost(let lost, let after) = decisions[0] else {
            Issue.record("decisions: \(decisions)")
            return
        }
        #expect((4800 - Self.allowance(0.4))...4800 ~= lost, "lost \(lost)")
        #expect(after == 720)
    }

    @Test("a source far ahead of the clock is unpaced (the file plugin): no gap is ever suspected")
    func unpaced() {
        var detector = LossDetector(rate: Self.rate, periodFrames: Self.period, start: 0)
        for k in 0..<200 {
            _ = detector.reading(frames: Self.period, at: Double(k) * 1e-5, waiting: 0, settled: true)
        }
        #expect(detector.unpaced)
        _ = detector.reading(frames: Self.period, at: 10, waiting: 0, settled: true)
        #expect(!detector.suspected)
    }
}
