import CALSA

/// The capture sample formats headroom records, with what each means to ALSA and the
/// analyzer (and, in `Writer/`, to libsndfile).
public enum SampleFormat: String, CaseIterable, Sendable {
    case s16 = "S16_LE"
    case s24packed = "S24_3LE"
    case s24 = "S24_LE"
    case s32 = "S32_LE"
    case float = "FLOAT_LE"

    /// Parses a `--format` value (case-insensitive).
    public init?(name: String) {
        guard let f = Self.allCases.first(where: { $0.rawValue.caseInsensitiveCompare(name) == .orderedSame }) else {
            return nil
        }
        self = f
    }

    /// `SND_PCM_FORMAT_*`.
    var alsa: snd_pcm_format_t {
        switch self {
        case .s16: SND_PCM_FORMAT_S16_LE
        case .s24packed: SND_PCM_FORMAT_S24_3LE
        case .s24: SND_PCM_FORMAT_S24_LE
        case .s32: SND_PCM_FORMAT_S32_LE
        case .float: SND_PCM_FORMAT_FLOAT_LE
        }
    }

    /// How the analyzer reads it.
    public var layout: SampleLayout {
        switch self {
        case .s16: .int16
        case .s24packed: .int24Packed
        case .s24: .int24InInt32
        case .s32: .int32(bits: 32)
        case .float: .float32
        }
    }

    public var bytesPerSample: Int { layout.bytesPerSample }

    /// The ALSA name of any `snd_pcm_format_t` (for "the device offers ..." messages).
    static func name(of format: snd_pcm_format_t) -> String {
        guard let name = snd_pcm_format_name(format) else { return "format \(format.rawValue)" }
        return String(cString: name)
    }
}
