import CHeadroomKernels
import Foundation

/// Loudness by ITU-R BS.1770-4 and EBU R 128 / Tech 3342: what a person finishing the take
/// in post wants to know next. ``LoudnessMeter`` measures a file once; it answers per channel
/// (``Loudness/Channel``, as `review` shows it) and for the take as one programme
/// (``ProgrammeLoudness/Figures``, as `bext` carries it).
///
/// The definitions are libebur128's, which the tests hold it to (within 0.01 LU): the K
/// filter from the same analog prototype at any rate, 400 ms gating blocks every 100 ms with
/// the -70 LUFS absolute and -10 LU relative gates, and for the range 3 s blocks every
/// second, -20 LU relative gate, the 10th to 95th percentile. It is our own because of
/// speed: libebur128 filters one channel at a time in a scalar loop (about 20 M samples/s
/// here), which made the loudness of a 32-channel take cost more than recording it; this
/// runs the filter on all channels at once in SIMD lanes.
public enum Loudness {
    public struct Channel: Sendable, Equatable {
        /// Integrated loudness, LUFS; nil when the channel is silent or gated out.
        public var integratedLUFS: Double?
        /// Loudness range, LU; nil when the channel is silent or gated out, and 0 when it
        /// holds no 3 s block that passes the gates (a take under 3 s), as libebur128 gives.
        public var rangeLU: Double?
    }

    /// A file's loudness as one programme and per channel (from 0).
    public struct Measured: Sendable, Equatable {
        public var programme: ProgrammeLoudness.Figures
        public var channels: [Channel]
    }
}

/// The loudness of a take as one programme, the figures EBU Tech 3285 v2 puts in `bext`:
/// integrated loudness, loudness range, and the largest momentary (400 ms) and short-term
/// (3 s) loudness, read every 100 ms. Every channel counts with weight 1 (a multitrack take
/// has no speaker layout). The recorder measures a take while it records it, from the floats
/// libsndfile would read back from the file (the file itself where frames were dropped), and
/// `review` from the file (a take without a log, as it analyzes it, the same way): all give
/// the same figures.
public enum ProgrammeLoudness {
    public struct Figures: Sendable, Equatable {
        public var integratedLUFS: Double?
        public var rangeLU: Double?
        public var maxMomentaryLUFS: Double?
        public var maxShortTermLUFS: Double?
    }

    /// Measures the take at `path` as one programme. Nil when the file cannot be read.
    public static func measure(path: String) -> Figures? {
        LoudnessMeter.measure(path: path)?.programme
    }
}

/// Streaming BS.1770 measurement of every channel of a stream: feed interleaved float frames
/// with ``add(floats:frames:)``, then read ``programme`` and ``channel(_:)``. The K filter (a
/// high shelf and a high-pass, two biquads) runs in double precision, its state kept in groups
/// of eight channels (`hr_k_weight`, in C); what is kept is each channel's K-weighted energy
/// per 100 ms, from which every figure follows (10 numbers a second a channel: an hour of 32
/// channels is 9 MB).
public final class LoudnessMeter {
    public let channels: Int
    public let rate: Int
    /// Frames per 100 ms segment, rounded as libebur128 rounds them.
    let segmentFrames: Int
    private typealias V = SIMD8<Double>
    private let groups: Int
    /// The two biquads' coefficients as `hr_k_weight` takes them (b0, b1 - a1 b0, b2 - a2 b0,
    /// a2, a1 of each), and their state per group (two words each).
    private let coefficients: [Double]
    private var state: [V]
    private var sums: [V]
    private var filled = 0
    /// Sum of squares of the K-weighted signal per 100 ms segment: `energies[k * channels + c]`.
    private(set) var energies: [Double] = []
    /// Frames of ``add(_:frames:layout:)`` converted to floats at a time, and room for them.
    private static let convertFrames = 2048
    private var converted: [Float]

    private struct Biquad {
        var b0, b1, b2, a1, a2: Double
    }

    public init(channels: Int, rate: Int) {
        self.channels = channels
        self.rate = rate
        segmentFrames = (rate + 5) / 10
        groups = (channels + 7) / 8
        // BS.1770's pre-filter (a high shelf, +4 dB above about 1.7 kHz) and RLB high-pass,
        // from their analog prototypes by the bilinear transform, so every rate is exact.
        let pi = Double.pi
        var f0 = 1681.974450955533
        let gain = 3.999843853973347
        var q = 0.7071752369554196
        var k = tan(pi * f0 / Double(rate))
        let vh = pow(10.0, gain / 20.0)
        let vb = pow(vh, 0.4996667741545416)
        var a0 = 1.0 + k / q + k * k
        let s = Biquad(
            b0: (vh + vb * k / q + k * k) / a0,
            b1: 2.0 * (k * k - vh) / a0,
            b2: (vh - vb * k / q + k * k) / a0,
            a1: 2.0 * (k * k - 1.0) / a0,
            a2: (1.0 - k / q + k * k) / a0
        )
        f0 = 38.13547087602444
        q = 0.5003270373238773
        k = tan(pi * f0 / Double(rate))
        a0 = 1.0 + k / q + k * k
        let h = Biquad(b0: 1, b1: -2, b2: 1, a1: 2.0 * (k * k - 1.0) / a0, a2: (1.0 - k / q + k * k) / a0)
        coefficients = [
            s.b0, s.b1 - s.a1 * s.b0, s.b2 - s.a2 * s.b0, s.a2, s.a1,
            h.b0, h.b1 - h.a1 * h.b0, h.b2 - h.a2 * h.b0, h.a2, h.a1,
        ]
        state = Array(repeating: V(), count: groups * 4)
        sums = Array(repeating: V(), count: groups)
        converted = Array(repeating: 0, count: Self.convertFrames * channels)
    }

    /// Measures the file at `path` (`onProgress`: how far it has got). Nil when it cannot be read.
    static func measure(path: String, onProgress: FileProgress = { _, _, _ in }) -> LoudnessMeter? {
        guard let info = AudioFile.info(path) else { return nil }
        let meter = LoudnessMeter(channels: info.channels, rate: info.rate)
        var done = 0
        AudioFile.forEachFloatBlock(path, blockFrames: 8192) { interleaved, n in
            meter.add(floats: interleaved.baseAddress!, frames: n)
            done += n
            onProgress(done, info.frames, info.rate)
        }
        return meter
    }

    /// Adds `frames` interleaved frames laid out as `layout` says, as the floats libsndfile
    /// reads back from a file that stores them (``SampleLayout/readBack(_:count:into:)``), so
    /// that loudness measured as frames are analyzed (a take as it is recorded, a file as
    /// `review` analyzes it) is the file's to the last bit.
    func add(_ samples: UnsafeRawPointer, frames: Int, layout: SampleLayout) {
        var done = 0
        while done < frames {
            let n = min(frames - done, Self.convertFrames)
            converted.withUnsafeMutableBufferPointer { floats in
                layout.readBack(
                    samples + done * channels * layout.bytesPerSample,
                    count: n * channels,
                    into: floats.baseAddress!
                )
                add(floats: floats.baseAddress!, frames: n)
            }
            done += n
        }
    }

    /// Adds interleaved float frames (1.0 = full scale).
    public func add(floats: UnsafePointer<Float>, frames: Int) {
        var done = 0
        while done < frames {
            let n = min(frames - done, segmentFrames - filled)
            filter(floats + done * channels, frames: n)
            filled += n
            done += n
            if filled == segmentFrames {
                for g in 0..<groups {
                    for l in 0..<min(8, channels - g * 8) { energies.append(sums[g][l]) }
                    sums[g] = V()
                }
                filled = 0
            }
        }
    }

    /// Both biquads over all groups (`hr_k_weight`): frames inner, two groups side by side, their
    /// state in registers for the whole run of frames, and the output substituted into the state
    /// update, so a frame waits on one multiply-add per biquad. The same filter; the last bits of
    /// a figure may differ from the plain form's (libebur128's own order differs again).
    private func filter(_ x: UnsafePointer<Float>, frames: Int) {
        state.withUnsafeMutableBytes { z in
            sums.withUnsafeMutableBytes { sum in
                hr_k_weight(
                    x,
                    channels,
                    frames,
                    coefficients,
                    z.baseAddress!.assumingMemoryBound(to: Double.self),
                    sum.baseAddress!.assumingMemoryBound(to: Double.self)
                )
            }
        }
    }

    // MARK: - Figures

    /// Complete 100 ms segments so far.
    var segments: Int { energies.count / max(channels, 1) }

    /// The energy (sum of squares) of each segment, over the channels in `set`.
    private func segmentEnergies(_ set: Range<Int>) -> [Double] {
        (0..<segments).map { k in set.reduce(0) { $0 + energies[k * channels + $1] } }
    }

    /// Mean square over the `length` segments of `e` ending with segment `k` (zeros before
    /// the start).
    private func window(_ e: [Double], ending k: Int, length: Int) -> Double {
        var sum = 0.0
        for j in max(k - length + 1, 0)...k { sum += e[j] }
        return sum / Double(length * segmentFrames)
    }

    private static func lufs(_ meanSquare: Double) -> Double { 10 * log10(meanSquare) - 0.691 }
    /// -70 LUFS as a mean square.
    private static let absoluteGate = pow(10.0, (-70.0 + 0.691) / 10.0)

    /// Integrated loudness and range of a programme whose segment energies are `e`.
    private func gated(_ e: [Double]) -> (integrated: Double?, range: Double?) {
        let n = e.count
        // Integrated: 400 ms blocks every 100 ms, absolute then relative (-10 LU) gate.
        var blocks: [Double] = []
        if n >= 4 {
            for k in 3..<n {
                let block = window(e, ending: k, length: 4)
                if block >= Self.absoluteGate { blocks.append(block) }
            }
        }
        var integrated: Double?
        if !blocks.isEmpty {
            let relative = blocks.reduce(0, +) / Double(blocks.count) * 0.1
            let kept = blocks.filter { $0 >= relative }
            if !kept.isEmpty {
                let l = Self.lufs(kept.reduce(0, +) / Double(kept.count))
                if l.isFinite && l > -70 { integrated = l }
            }
        }
        // Range: 3 s blocks every second, absolute then relative (-20 LU) gate, 10th to 95th
        // percentile (EBU Tech 3342, indices as libebur128 takes them).
        var range: Double?
        if integrated != nil && n >= 30 {
            var shortTerm: [Double] = []
            var k = 29
            while k < n {
                let block = window(e, ending: k, length: 30)
                if block >= Self.absoluteGate { shortTerm.append(block) }
                k += 10
            }
            if !shortTerm.isEmpty {
                shortTerm.sort()
                let relative = shortTerm.reduce(0, +) / Double(shortTerm.count) * 0.01
                let kept = shortTerm.drop { $0 < relative }
                if let first = kept.indices.first {
                    let count = kept.count
                    let high = kept[first + Int(Double(count - 1) * 0.95 + 0.5)]
                    let low = kept[first + Int(Double(count - 1) * 0.1 + 0.5)]
                    range = Self.lufs(high) - Self.lufs(low)
                } else {
                    range = 0
                }
            } else {
                range = 0
            }
        } else if integrated != nil {
            range = 0
        }
        return (integrated, range)
    }

    /// Channel `c` as a mono programme.
    public func channel(_ c: Int) -> Loudness.Channel {
        let (integrated, range) = gated(segmentEnergies(c..<(c + 1)))
        return Loudness.Channel(integratedLUFS: integrated, rangeLU: range)
    }

    /// All channels as one programme, and each channel as its own.
    public var measured: Loudness.Measured {
        Loudness.Measured(programme: programme, channels: (0..<channels).map(channel))
    }

    /// All channels as one programme.
    public var programme: ProgrammeLoudness.Figures {
        let e = segmentEnergies(0..<channels)
        let (integrated, range) = gated(e)
        // Momentary and short-term loudness every 100 ms.
        var maxMomentary = -Double.infinity
        var maxShortTerm = -Double.infinity
        for k in e.indices {
            maxMomentary = max(maxMomentary, Self.lufs(window(e, ending: k, length: 4)))
            maxShortTerm = max(maxShortTerm, Self.lufs(window(e, ending: k, length: 30)))
        }
        return ProgrammeLoudness.Figures(
            integratedLUFS: integrated,
            rangeLU: range,
            maxMomentaryLUFS: maxMomentary > -70 ? maxMomentary : nil,
            maxShortTermLUFS: maxShortTerm > -70 ? maxShortTerm : nil
        )
    }
}
