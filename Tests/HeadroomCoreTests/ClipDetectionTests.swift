import Foundation
import Testing

@testable import HeadroomCore

@Suite("Clip runs and clip events (SPEC: Full scale, Clip run, Clip event)")
struct ClipDetectionTests {
    @Test("runs of 1 and 2 samples at full scale do not qualify; a run of 3 does", arguments: [Int16.max, Int16.min])
    func runLengths(code: Int16) {
        let s = int16Signal(
            frames: 48000,
            set: [1000: code, 5000: code, 5001: code, 20000: code, 20001: code, 20002: code]
        )
        let (events, analyzer) = analyze(s, channels: 1, layout: .int16)
        let c = clips(events)
        #expect(c.count == 1)
        #expect(c.first?.startFrame == 20000)
        #expect(c.first?.endFrame == 20003)
        #expect(c.first?.clippedSamples == 3)
        #expect(c.first?.runs == 1)
        #expect(c.first?.longestRun == 3)
        #expect(c.first?.peakDBFS == (code == Int16.min ? 0 : dB(32767 / 32768)))
        #expect(analyzer.summary(channel: 0).clipEvents == 1)
        #expect(analyzer.summary(channel: 0).clippedSamples == 3)
    }

    @Test("a run one code below full scale is not clipped")
    func oneCodeBelow() {
        var set: [Int: Int16] = [:]
        for f in 100..<200 { set[f] = f % 2 == 0 ? 32766 : -32767 }
        let (events, analyzer) = analyze(int16Signal(frames: 4800, set: set), channels: 1, layout: .int16)
        #expect(clips(events).isEmpty)
        #expect(analyzer.summary(channel: 0).clipEvents == 0)
    }

    @Test("a run split across two blocks is one run", arguments: [1, 2, 3, 7, 64, 1000])
    func splitRun(block: Int) {
        // The run covers frames 998..<1003; every block size splits it somewhere else.
        var set: [Int: Int16] = [:]
        for f in 998..<1003 { set[f] = .max }
        let (events, _) = analyze(int16Signal(frames: 3000, set: set), channels: 1, layout: .int16, block: block)
        let c = clips(events)
        #expect(c.count == 1)
        #expect(c.first.map { [$0.startFrame, $0.endFrame, $0.clippedSamples, $0.longestRun] } == [998, 1003, 5, 5])
    }

    @Test("qualifying runs closer than clip_hold merge; at the hold they do not")
    func holdMerging() {
        // rate 48000, clip_hold 0.1 s: hold = 4800 frames. Gap = next start - previous end.
        var settings = AnalysisSettings()
        settings.clipHoldSeconds = 0.1
        func run(gap: Int) -> [ClipEvent] {
            var set: [Int: Int16] = [:]
            for f in 1000..<1004 { set[f] = .max }  // run A: 4 samples, end 1004
            let start = 1004 + gap
            for f in start..<(start + 3) { set[f] = .min }  // run B: 3 samples
            return clips(
                analyze(int16Signal(frames: 20000, set: set), channels: 1, layout: .int16, settings: settings).events
            )
        }
        let merged = run(gap: 4799)
        #expect(merged.count == 1)
        #expect(
            merged.first.map { [$0.startFrame, $0.endFrame, $0.clippedSamples, $0.runs, $0.longestRun] } == [
                1000, 1004 + 4799 + 3, 7, 2, 4,
            ]
        )
        let apart = run(gap: 4800)
        #expect(apart.count == 2)
        #expect(apart.map(\.startFrame) == [1000, 1004 + 4800])
    }

    @Test("a short run between qualifying runs neither counts nor breaks the merge")
    func shortRunInside() {
        var set: [Int: Int16] = [:]
        for f in 100..<103 { set[f] = .max }
        for f in 200..<202 { set[f] = .max }  // 2 samples: not an over
        for f in 300..<305 { set[f] = .max }
        let c = clips(analyze(int16Signal(frames: 10000, set: set), channels: 1, layout: .int16).events)
        #expect(c.count == 1)
        #expect(c.first.map { [$0.clippedSamples, $0.runs, $0.longestRun, $0.endFrame] } == [8, 2, 5, 305])
    }

    @Test("clip_run and clip_level move the thresholds exactly")
    func thresholds() {
        var settings = AnalysisSettings()
        settings.clipRunSamples = 1
        settings.clipLevelDBFS = -1
        let threshold = Int16((pow(10, -1.0 / 20) * 32767).rounded())
        let s = int16Signal(frames: 9600, set: [100: threshold, 5000: threshold - 1])
        let c = clips(analyze(s, channels: 1, layout: .int16, settings: settings).events)
        #expect(c.map(\.startFrame) == [100])
    }

    @Test("float samples clip at 1.0 and above; 0.9999 does not")
    func floatOvers() {
        var s = [Float](repeating: 0.25, count: 9600)
        for f in 100..<103 { s[f] = 1.0 }
        for f in 3000..<3010 { s[f] = 0.9999 }
        for f in 6000..<6004 { s[f] = -1.7 }
        let (events, analyzer) = analyze(s, channels: 1, layout: .float32)
        let c = clips(events)
        #expect(c.map(\.startFrame) == [100, 6000])
        #expect(c.map(\.clippedSamples) == [3, 4])
        #expect(abs(c[1].peakDBFS - dB(1.7)) < 0.001)
        #expect(abs(analyzer.summary(channel: 0).peakDBFS! - dB(1.7)) < 0.001)
    }

    @Test("24-bit packed, 24-in-32 and left-justified 24-bit agree on the full-scale codes")
    func twentyFourBit() {
        let maxCode: Int32 = (1 << 23) - 1
        let minCode: Int32 = -(1 << 23)
        var values = [Int32](repeating: 4096, count: 30000)
        for f in 10..<13 { values[f] = maxCode }
        for f in 10000..<10003 { values[f] = minCode }
        for f in 20000..<20010 { values[f] = maxCode - 1 }
        let packed = packed24(values)
        let low = values.map { $0 & 0x00FF_FFFF }  // S24_LE leaves the top byte unspecified: here zero
        let left = values.map { $0 << 8 }
        let a = clips(analyze(packed, channels: 1, layout: .int24Packed).events)
        let b = clips(analyze(low, channels: 1, layout: .int24InInt32).events)
        let c = clips(analyze(left, channels: 1, layout: .int32(bits: 24)).events)
        #expect(a.map(\.startFrame) == [10, 10000])
        #expect(a == b)
        #expect(a == c)
    }

    @Test(
        "packed 24-bit samples (S24_3LE) read as their codes do: every count, the extreme codes, any number of channels"
    )
    func packedConversion() {
        // The vector conversion (four samples a byte shuffle, the rest one at a time) against
        // the definition: the three bytes, left-justified in 32 bits, over 2^31.
        var noise = Noise(seed: 24)
        let edges: [Int32] = [-(1 << 23), -(1 << 23) + 1, -1, 0, 1, (1 << 23) - 2, (1 << 23) - 1]
        let codes = edges + (0..<200).map { _ in Int32(noise.next() * 8_388_608) }
        for count in 1...codes.count {
            let raw = packed24(Array(codes.prefix(count)))
            var out = [Float](repeating: .nan, count: count)
            raw.withUnsafeBytes { r in
                out.withUnsafeMutableBufferPointer {
                    SampleLayout.int24Packed.readBack(r.baseAddress!, count: count, into: $0.baseAddress!)
                }
            }
            #expect(out == codes.prefix(count).map { Float($0) / 8_388_608 }, "\(count) samples")
        }
        // The analyzer's conversion into channel groups, a last partial group included: the
        // same figures and events as the same codes given left-justified in 32-bit words.
        for channels in [1, 3, 4, 5, 8, 13, 16, 17, 21, 40] {
            let x = TruePeakTests.randomMaterial(channels: channels, frames: 24000, seed: UInt64(channels) + 100)
            let codes = x.map { quantized($0, bits: 24) }
            let packed = analyze(packed24(codes), channels: channels, layout: .int24Packed, block: 1000)
            let words = analyze(codes.map { $0 << 8 }, channels: channels, layout: .int32(bits: 24), block: 1000)
            #expect(packed.events == words.events, "\(channels) channels")
            #expect(!clips(packed.events).isEmpty, "\(channels) channels: no clip event to compare")
            for c in 0..<channels {
                #expect(
                    packed.analyzer.summary(channel: c) == words.analyzer.summary(channel: c),
                    "channel \(c + 1) of \(channels)"
                )
            }
        }
    }

    @Test(
        "32-bit samples clip within one 24-bit step of full scale, exactly: the code under a 24-bit converter's largest is not clipped"
    )
    func thirtyTwoBitExact() {
        let largest24: Int32 = 0x7FFF_FF00  // (2^23 - 1) << 8
        var values = [Int32](repeating: 1 << 20, count: 40000)
        for f in 10..<13 { values[f] = .max }
        for f in 10000..<10003 { values[f] = .min }
        for f in 20000..<20060 { values[f] = largest24 - 1 }  // the same Float as largest24
        for f in 30000..<30003 { values[f] = largest24 }
        for f in 35000..<35003 { values[f] = .max - 1 }
        let c = clips(analyze(values, channels: 1, layout: .int32(bits: 32)).events)
        #expect(c.map(\.startFrame) == [10, 10000, 30000, 35000])
    }

    @Test(
        "a 24-bit converter's codes in 32-bit words (S32_LE) clip at its largest and smallest code, as the same codes read as 24-bit do",
        arguments: [1, 2, 17]
    )
    func twentyFourBitInThirtyTwo(channels: Int) {
        let x = TruePeakTests.randomMaterial(channels: channels, frames: 24000, seed: UInt64(channels) + 300)
        var words = x.map { quantized($0, bits: 24) << 8 }
        for c in 0..<channels {  // a run at each extreme code in every channel, beside the material's own
            for f in (700 + c)..<(703 + c) { words[f * channels + c] = 0x7FFF_FF00 }
            for f in (9000 + c)..<(9004 + c) { words[f * channels + c] = .min }
        }
        let as32 = analyze(words, channels: channels, layout: .int32(bits: 32), block: 1000)
        let as24 = analyze(words, channels: channels, layout: .int32(bits: 24), block: 1000)
        #expect(!clips(as24.events).isEmpty)
        #expect(clips(as32.events) == clips(as24.events))
    }

    @Test(
        "32-bit clip checks are exact at and below full scale: the code under the clip level, which rounds to the same float, is not clipped, after a run as well; runs across blocks",
        arguments: [1, 8, 16, 17]
    )
    func thirtyTwoBitExactBelowFullScale(channels: Int) throws {
        for level in [-3.0, 0] {
            var settings = AnalysisSettings()
            settings.clipLevelDBFS = level
            // Within one 24-bit step of the level: 2^31 - 2^8 at 0 dBFS.
            let code = Int32((Decibels.toAmplitude(level) * 2_147_483_392).rounded(.toNearestOrAwayFromZero))
            // The premise: a float cannot tell the clip code from the one under it.
            try #require(Float(code - 1) == Float(code))
            let c = channels - 1  // the last channel: a partial group's lane when there are 17
            var values = [Int32](repeating: 1 << 20, count: 30000 * channels)
            func put(_ frames: Range<Int>, _ v: Int32) { for f in frames { values[f * channels + c] = v } }
            // Runs longer than clip_run followed by the code under: at full scale, where every
            // clipped frame is hot, the walk takes such a run in bulk (in full groups, from the
            // stretches it finds for all lanes at once), and must stop where the code drops.
            put(10..<15, code)
            put(15..<18, code - 1)
            put(5000..<5010, code - 1)  // one under: not clipped
            put(6000..<6010, 1 - code)  // one under on the negative side
            put(10000..<10005, -code)
            put(10005..<10009, 1 - code)
            put(14998..<15004, code)  // across the 1000-frame blocks' boundary at 15000
            put(20000..<20004, .min)
            let events = clips(
                analyze(values, channels: channels, layout: .int32(bits: 32), settings: settings, block: 1000).events
            )
            #expect(events.map(\.startFrame) == [10, 10000, 14998, 20000], "\(level) dBFS")
            #expect(events.map(\.clippedSamples) == [5, 5, 6, 4], "\(level) dBFS")
            #expect(events.allSatisfy { $0.channel == c })
        }
    }

    @Test("events land on the right channel of an interleaved block", arguments: [1, 3, 5, 9, 17, 32])
    func channelsInLanes(channels: Int) {
        var s = [Int16](repeating: 100, count: 4800 * channels)
        for c in 0..<channels { for f in 0..<(3 + c) { s[(1000 + 10 * c + f) * channels + c] = .max } }
        let c = clips(analyze(s, channels: channels, layout: .int16, block: 333).events)
        #expect(c.count == channels)
        for e in c {
            #expect(e.startFrame == 1000 + 10 * e.channel)
            #expect(e.clippedSamples == 3 + e.channel)
        }
    }

    @Test("a clip event is reported while the stream runs, once its hold has passed")
    func streaming() {
        var set: [Int: Int16] = [:]
        for f in 100..<110 { set[f] = .max }
        let s = int16Signal(frames: 48000, set: set)
        let analyzer = Analyzer(channels: 1, rate: 48000, layout: .int16, settings: .init(), maxBlockFrames: 1024)
        var reportedAt: Int? = nil
        s.withUnsafeBytes { raw in
            for start in stride(from: 0, to: 48000, by: 480) where reportedAt == nil {
                analyzer.process(raw.baseAddress! + start * 2, frames: 480)
                if analyzer.events.contains(where: { if case .clip = $0 { true } else { false } }) {
                    reportedAt = start + 480
                }
            }
        }
        // Hold 4800 frames after the end (110), plus the filter's 6-frame look-ahead and one block.
        #expect(reportedAt != nil)
        #expect(reportedAt! <= 110 + 4800 + 6 + 480)
    }

    @Test("results do not depend on the block size", arguments: [1, 13, 256, 4096])
    func blockInvariance(block: Int) {
        var noise = Noise(seed: 7)
        let channels = 3
        var s = [Int16](repeating: 0, count: 30000 * channels)
        for i in s.indices { s[i] = Int16(noise.next() * 20000) }
        for burst in stride(from: 500, to: 29000, by: 2311) {
            let c = burst % channels
            let len = 1 + burst % 6
            for f in burst..<(burst + len) { s[f * channels + c] = burst % 2 == 0 ? .max : .min }
        }
        let reference = analyze(s, channels: channels, layout: .int16, block: 30000, maxBlockFrames: 8192)
        let other = analyze(s, channels: channels, layout: .int16, block: block, maxBlockFrames: 64)
        // Channels report in the order their events close, which depends on where blocks end.
        let order: (ClipEvent, ClipEvent) -> Bool = { ($0.channel, $0.startFrame) < ($1.channel, $1.startFrame) }
        let hotOrder: (HotEvent, HotEvent) -> Bool = { ($0.channel, $0.startFrame) < ($1.channel, $1.startFrame) }
        #expect(clips(other.events).sorted(by: order) == clips(reference.events).sorted(by: order))
        #expect(hots(other.events).sorted(by: hotOrder) == hots(reference.events).sorted(by: hotOrder))
        // 13 bursts of 1 + (start % 6) samples: the 4 of length 1 or 2 are not overs.
        #expect(clips(reference.events).count == 9)
        for c in 0..<channels {
            var a = other.analyzer.summary(channel: c)
            let b = reference.analyzer.summary(channel: c)
            #expect(abs(a.rmsDBFS! - b.rmsDBFS!) < 1e-4)  // float sums per block
            a.rmsDBFS = b.rmsDBFS
            #expect(a == b)
        }
    }

    @Test("gain events come at the same frames however much the caller hands over at once")
    func gainCadence() {
        // Channel 1 clips now and then; channel 2 rises 12 dB over 4 s, its proposal moving a
        // dB at a time. The analyzer works in blocks of 1024 frames; the caller hands it 1024
        // or 8192 frames a call and takes the events after each. A check for a gain event
        // runs every half second and where a clip event closed in the block: a clip event the
        // caller has not yet taken must not count again in the blocks after it.
        let channels = 2
        let frames = 4 * 48000
        var noise = Noise(seed: 3)
        var s = [Float](repeating: 0, count: frames * channels)
        for i in 0..<frames {
            let t = Double(i) / 48000
            s[i * channels] = Float(0.3 * sin(2 * .pi * 220 * t))
            if i % 30000 < 8 && i > 1000 { s[i * channels] = 1 }
            s[i * channels + 1] = Float(pow(10, (-30 + 3 * t) / 20) * noise.next())
        }
        func gains(_ events: [Event]) -> [GainEvent] {
            events.compactMap { if case .gain(let g) = $0 { g } else { nil } }
        }
        let small = gains(analyze(s, channels: channels, layout: .float32, block: 1024, maxBlockFrames: 1024).events)
        let large = gains(analyze(s, channels: channels, layout: .float32, block: 8192, maxBlockFrames: 1024).events)
        #expect(small.filter { $0.channel == 1 }.count >= 4, "\(small)")
        #expect(large == small)
    }
}
