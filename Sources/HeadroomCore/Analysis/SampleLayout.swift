/// How interleaved samples sit in memory when they reach the analyzer or the writer.
///
/// Integer layouts carry their significant bit depth, because SPEC's clip threshold
/// and full scale (`2^(B-1)`) depend on it.
public enum SampleLayout: Sendable, Equatable {
    /// 16-bit signed, native endian (ALSA S16_LE; libsndfile `sf_readf_short`).
    case int16
    /// 24-bit signed packed in 3 bytes, little endian (ALSA S24_3LE).
    case int24Packed
    /// 24-bit signed in the low 3 bytes of a 32-bit word (ALSA S24_LE).
    case int24InInt32
    /// `bits` significant bits, left-justified in a 32-bit word: the value is
    /// `sample << (32 - bits)` (ALSA S32_LE with bits = 32; libsndfile `sf_readf_int`).
    case int32(bits: Int)
    /// 32-bit IEEE float, 1.0 = full scale (ALSA FLOAT_LE; libsndfile `sf_readf_float`).
    case float32

    /// Bytes per sample.
    public var bytesPerSample: Int {
        switch self {
        case .int16: 2
        case .int24Packed: 3
        case .int24InInt32, .int32, .float32: 4
        }
    }

    /// Significant bits of an integer layout; `nil` for float.
    public var bits: Int? {
        switch self {
        case .int16: 16
        case .int24Packed, .int24InInt32: 24
        case .int32(let bits): bits
        case .float32: nil
        }
    }
}

extension SampleLayout {
    /// A packed little-endian 24-bit sample (ALSA S24_3LE) at `p`, left-justified in 32
    /// bits (the value `sf_readf_int` gives): the analyzer and the take writer decode it here.
    @inline(__always)
    static func packed24(_ p: UnsafePointer<UInt8>) -> Int32 {
        Int32(p[0]) << 8 | Int32(p[1]) << 16 | Int32(p[2]) << 24
    }
}
