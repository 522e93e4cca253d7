import CSndFile

/// The containers `--file-format` offers.
public enum TakeFileFormat: String, CaseIterable, Sendable {
    case wav, rf64, w64, flac, caf

    /// The file name extension.
    public var fileExtension: String { rawValue }

    /// "wav, rf64, w64, flac or caf", for errors.
    public static var spelledOut: String {
        let all = allCases.map(\.rawValue)
        return all.dropLast().joined(separator: ", ") + " or " + all.last!
    }

    /// Extensions of audio files as people name them (lower case): a take name that ends in
    /// one is a container asked for, not a part of the name.
    public static let audioFileExtensions: Set<String> = Set(allCases.map(\.fileExtension)).union([
        "wave", "bwf", "aif", "aiff", "aifc", "au", "snd", "voc", "raw", "pcm", "mp3", "ogg", "oga", "opus", "m4a",
        "aac", "wma",
    ])

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

    /// FLAC and CAF carry tags (Vorbis comments for FLAC). libsndfile writes none into W64,
    /// whose takes are the audio alone.
    var carriesTags: Bool { self == .flac || self == .caf }

    /// WAV and RF64 carry a cue marker per event and the loudness in `bext`; FLAC a chapter
    /// per event and the loudness in its tags (``FLACTags``).
    var carriesMarkers: Bool { isRIFF || self == .flac }

    /// The most channels a take in the container can have: FLAC's eight; the others hold more
    /// than headroom records.
    public var maxChannels: Int { self == .flac ? 8 : Analyzer.channelRange.upperBound }

    /// FLAC stores at most 24 bits of integer PCM.
    public func supports(_ format: SampleFormat) -> Bool {
        self != .flac || format == .s16 || format == .s24packed || format == .s24
    }
}

/// What the channels of a take are (`--layout`): independent tracks (the default, channel
/// mask 0: no speaker positions), or a speaker layout whose WAVE_FORMAT_EXTENSIBLE mask the
/// take carries.
public enum ChannelLayout: String, CaseIterable, Sendable {
    case multitrack, mono, stereo, quad
    case surround51 = "5.1"
    case surround71 = "7.1"

    /// The speaker mask (Microsoft's bits: FL 0x1, FR 0x2, FC 0x4, LFE 0x8, BL 0x10, BR 0x20,
    /// SL 0x200, SR 0x400).
    public var channelMask: UInt32 {
        switch self {
        case .multitrack: 0
        case .mono: 0x4
        case .stereo: 0x3
        case .quad: 0x33
        case .surround51: 0x3F
        case .surround71: 0x63F
        }
    }

    /// Channels the layout has; nil for multitrack (any count).
    public var channels: Int? {
        switch self {
        case .multitrack: nil
        case .mono: 1
        case .stereo: 2
        case .quad: 4
        case .surround51: 6
        case .surround71: 8
        }
    }
}
