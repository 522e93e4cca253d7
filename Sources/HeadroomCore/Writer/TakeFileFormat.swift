import CSndFile

/// The containers `--file-format` offers.
public enum TakeFileFormat: String, CaseIterable, Sendable {
    case wav, rf64, w64, flac, caf

    /// The file name extension.
    public var fileExtension: String { rawValue }

    /// WAV is written as RF64 with libsndfile's auto-downgrade: a plain RIFF/WAVE file
    /// (with a JUNK chunk reserved for `ds64`) while it is under 4 GiB, so a killed take
    /// opens anywhere, and RF64 once it passes 4 GiB.
    var major: Int32 {
        switch self {
        case .wav, .rf64: Int32(SF_FORMAT_RF64)
        case .w64: Int32(SF_FORMAT_W64)
        case .flac: Int32(SF_FORMAT_FLAC)
        case .caf: Int32(SF_FORMAT_CAF)
        }
    }

    /// WAV and RF64 carry `bext` and cue chunks.
    var isRIFF: Bool { self == .wav || self == .rf64 }

    /// FLAC stores at most 24 bits of integer PCM.
    public func supports(_ format: SampleFormat) -> Bool {
        self != .flac || format == .s16 || format == .s24packed || format == .s24
    }
}
