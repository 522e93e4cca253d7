import CEBUR128

/// Integrated loudness (LUFS) and loudness range (LU) per channel, by libebur128 (EBU
/// R 128 / ITU-R BS.1770): what a person finishing the take in post wants to know next.
public enum Loudness {
    public struct Channel: Sendable, Equatable {
        /// Integrated loudness, LUFS; nil when the channel is silent or gated out.
        public var integratedLUFS: Double?
        /// Loudness range, LU; nil when too short or silent.
        public var rangeLU: Double?
    }

    /// Measures each channel of `path` as a mono programme. Nil when the file cannot be read.
    public static func measure(path: String) -> [Channel]? {
        guard let info = AudioFile.info(path) else { return nil }
        let channels = info.channels
        let mode = Int32(EBUR128_MODE_I.rawValue | EBUR128_MODE_LRA.rawValue)
        var states: [UnsafeMutablePointer<ebur128_state>?] = (0..<channels).map { _ in
            ebur128_init(1, UInt(info.rate), mode)
        }
        defer { for i in states.indices { ebur128_destroy(&states[i]) } }
        var mono = [Float](repeating: 0, count: 8192)
        AudioFile.forEachFloatBlock(path, blockFrames: 8192) { interleaved, n in
            for c in 0..<channels {
                for i in 0..<n { mono[i] = interleaved[i * channels + c] }
                mono.withUnsafeBufferPointer { _ = ebur128_add_frames_float(states[c], $0.baseAddress!, n) }
            }
        }
        return states.map { state in
            var lufs = 0.0
            var lra = 0.0
            let okI = ebur128_loudness_global(state, &lufs) == 0 && lufs.isFinite && lufs > -70
            let okR = ebur128_loudness_range(state, &lra) == 0 && lra.isFinite && okI
            return Channel(integratedLUFS: okI ? lufs : nil, rangeLU: okR ? lra : nil)
        }
    }
}

/// The loudness of a take as one programme, the figures EBU Tech 3285 v2 puts in `bext`:
/// integrated loudness, loudness range, and the largest momentary (400 ms) and short-term
/// (3 s) loudness, by libebur128. Every channel counts with weight 1 (a multitrack take has
/// no speaker layout). Momentary loudness is read every 100 ms of audio and short-term every
/// second (libebur128 rescans its window on each read: a 3 s window read 10 times a second
/// cost more than the filtering). The recorder measures a finished take from its file, as
/// `review` does, so both give the same figures.
public final class ProgrammeLoudness {
    public struct Figures: Sendable, Equatable {
        public var integratedLUFS: Double?
        public var rangeLU: Double?
        public var maxMomentaryLUFS: Double?
        public var maxShortTermLUFS: Double?
    }

    private var state: UnsafeMutablePointer<ebur128_state>?
    private let channels: Int
    private let step: Int
    private var untilRead: Int
    private var reads = 0
    private var maxMomentary = -Double.infinity
    private var maxShortTerm = -Double.infinity

    public init(channels: Int, rate: Int) {
        self.channels = channels
        let mode =
            EBUR128_MODE_I.rawValue | EBUR128_MODE_LRA.rawValue | EBUR128_MODE_M.rawValue
            | EBUR128_MODE_S.rawValue
        state = ebur128_init(UInt32(channels), UInt(rate), Int32(mode))
        for c in 0..<channels { ebur128_set_channel(state, UInt32(c), Int32(EBUR128_LEFT.rawValue)) }
        step = max(rate / 10, 1)
        untilRead = step
    }

    deinit {
        ebur128_destroy(&state)
    }

    /// Adds interleaved float frames read from a take.
    public func add(floats: UnsafePointer<Float>, frames: Int) {
        var done = 0
        while done < frames {
            let n = min(frames - done, untilRead)
            ebur128_add_frames_float(state, floats + done * channels, n)
            advance(n)
            done += n
        }
    }

    private func advance(_ n: Int) {
        untilRead -= n
        guard untilRead == 0 else { return }
        untilRead = step
        var m = 0.0
        if ebur128_loudness_momentary(state, &m) == 0, m.isFinite { maxMomentary = max(maxMomentary, m) }
        reads += 1
        guard reads % 10 == 0 else { return }
        var s = 0.0
        if ebur128_loudness_shortterm(state, &s) == 0, s.isFinite { maxShortTerm = max(maxShortTerm, s) }
    }

    /// The figures so far; nil where there is nothing to say (silence, or too short).
    public var figures: Figures {
        var lufs = 0.0
        var lra = 0.0
        let okI = ebur128_loudness_global(state, &lufs) == 0 && lufs.isFinite && lufs > -70
        let okR = ebur128_loudness_range(state, &lra) == 0 && lra.isFinite && okI
        return Figures(
            integratedLUFS: okI ? lufs : nil,
            rangeLU: okR ? lra : nil,
            maxMomentaryLUFS: maxMomentary > -70 ? maxMomentary : nil,
            maxShortTermLUFS: maxShortTerm > -70 ? maxShortTerm : nil
        )
    }

    /// Measures the take at `path` as one programme. Nil when the file cannot be read.
    public static func measure(path: String) -> Figures? {
        guard let info = AudioFile.info(path) else { return nil }
        let loudness = ProgrammeLoudness(channels: info.channels, rate: info.rate)
        AudioFile.forEachFloatBlock(path, blockFrames: 8192) { interleaved, n in
            loudness.add(floats: interleaved.baseAddress!, frames: n)
        }
        return loudness.figures
    }
}
