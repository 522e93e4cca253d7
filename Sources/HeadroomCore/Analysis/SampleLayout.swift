import CHeadroomKernels

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
    /// bits (the value `sf_readf_int` gives): the take writer decodes it here, for FLAC and
    /// CAF. The analyzer and ``readBack(_:count:into:)`` decode whole rows with
    /// `hr_unpack24`, four samples to a byte shuffle, to the same value over 2^31.
    @inline(__always)
    static func packed24(_ p: UnsafePointer<UInt8>) -> Int32 {
        Int32(p[0]) << 8 | Int32(p[1]) << 16 | Int32(p[2]) << 24
    }

    /// `count` interleaved samples at `src` as floats, 1.0 = full scale, exactly as
    /// libsndfile's `sf_readf_float` reads them back from a take that stores them (a
    /// power-of-two scale after `Float(Int32)`; floats as they are, non-finite ones too).
    /// The analyzer's own conversion (``Analyzer``) writes channel groups and replaces
    /// non-finite floats; this one is for figures that must equal the file's.
    func readBack(_ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        let scale: Float = 1.0 / 2_147_483_648
        switch self {
        case .int16:
            let s = src.assumingMemoryBound(to: Int16.self)
            for i in 0..<count { out[i] = Float(s[i]) * (1.0 / 32768) }
        case .int24InInt32:
            // A take stores the low 24 bits (TakeWriter shifts them to the top).
            let s = src.assumingMemoryBound(to: Int32.self)
            for i in 0..<count { out[i] = Float(s[i] &<< 8) * scale }
        case .int24Packed:
            hr_unpack24(src.assumingMemoryBound(to: UInt8.self), 3 * count, 1, count, out, count)
        case .int32:
            let s = src.assumingMemoryBound(to: Int32.self)
            for i in 0..<count { out[i] = Float(s[i]) * scale }
        case .float32:
            out.update(from: src.assumingMemoryBound(to: Float.self), count: count)
        }
    }
}
