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
