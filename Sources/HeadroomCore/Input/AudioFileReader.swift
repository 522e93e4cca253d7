import CSndFile
import Foundation

/// Reads any file libsndfile reads (WAV, RF64, W64, FLAC, AIFF, CAF, Ogg, ...) in
/// interleaved blocks, in the sample layout that keeps it exact: 16-bit files as
/// `Int16`, other integer files as left-justified `Int32`, everything else as float.
public final class AudioFileReader {
    public let path: String
    public let channels: Int
    /// Frames per second.
    public let rate: Int
    /// Frames in the file (as the header says); 0 when unknown (a stream on standard input).
    public let frames: Int
    public let layout: SampleLayout
    /// The codec's largest magnitude, in the layout's codes, when it is under the layout's
    /// full scale: G.711's μ-law decodes to at most 32124 and A-law to 32256 (of 32768), and
    /// a stream at that code is clipped (SPEC's "maximum code"). `nil` for every other codec.
    public let largestCode: Int?
    /// libsndfile's names for the container and the encoding, e.g. "WAV", "PCM_24".
    public let containerName: String
    public let encodingName: String
    /// The lossy codec the samples were decoded from ("MP3", "Vorbis", "Opus"), nil for PCM and
    /// lossless files: a clipped recording after lossy coding reads low on how far over it went.
    public let lossyCodec: String?
    /// When the recording began by the file's `bext` chunk (``BroadcastInfo/started``): a
    /// field recorder's WAV, or a take whose log is gone; nil without one.
    public let originated: String?
    private var file: OpaquePointer?

    /// The path that means standard input, as for sox and aplay.
    public static let standardInput = "-"

    /// Containers libsndfile has no reader for that people bring anyway: a phone's voice
    /// memo (M4A), a video's soundtrack, WavPack. Named by extension, lower case.
    static let undecodable: Set<String> = [
        "m4a", "m4b", "mp4", "aac", "mov", "3gp", "amr", "mkv", "mka", "webm", "wma", "ape", "wv", "ac3", "dts",
    ]

    /// For a file in one of the ``undecodable`` containers: how to decode it into a pipe
    /// (`; decode it first: ffmpeg -i 'memo.m4a' -c:a pcm_f32le -f wav - | headroom analyze -`);
    /// for raw PCM, how to give it a header; else "".
    static func decodeHint(_ path: String) -> String {
        let ext = (path as NSString).pathExtension.lowercased()
        // arecord -t raw, a DAW's raw export: samples with nothing to say what they are.
        if ["raw", "pcm", "s16", "s24", "s32", "f32"].contains(ext) {
            return
                "; raw PCM has no header to say its rate, channels and format: give it one, e.g. sox -t raw -r 48000 -c 2 -e signed -b 24 \(FilePaths.shellQuoted(path)) -t wav - | headroom analyze -"
        }
        // `analyze takes/*`: the clip logs came along with the takes.
        if path.hasSuffix(".clips.jsonl") {
            return "; it is a clip log: `headroom review \(FilePaths.shellQuoted(path))` reads it with its take"
        }
        guard undecodable.contains(ext) else { return "" }
        return
            "; decode it first: ffmpeg -i \(FilePaths.shellQuoted(path)) -c:a pcm_f32le -f wav - | headroom analyze -"
    }

    /// Opens `path` for reading (``standardInput``: standard input); a missing, unreadable
    /// or non-audio file throws ``HeadroomError/Code/noInput`` naming the file.
    public init(path: String) throws(HeadroomError) {
        self.path = path
        var info = SF_INFO()
        let handle: OpaquePointer
        if path == Self.standardInput {
            guard isatty(STDIN_FILENO) == 0 else {
                throw HeadroomError(
                    .noInput,
                    "-: standard input is a terminal; pipe audio into it (ffmpeg -i take.m4a -c:a pcm_f32le -f wav - | headroom analyze -)"
                )
            }
            guard let opened = sf_open_fd(STDIN_FILENO, Int32(SFM_READ), &info, 0) else {
                let reason = String(cString: sf_strerror(nil))
                throw HeadroomError(
                    .noInput,
                    "-: not audio libsndfile can read through a pipe (\(reason)); it reads \(Self.streamableNames) there, other containers as files"
                )
            }
            handle = opened
        } else {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw HeadroomError(.noInput, FilePaths.notFound(path))
            }
            guard !isDirectory.boolValue else {
                // (analyze meets this; review reads a folder's takes, and says so.)
                throw HeadroomError(
                    .noInput,
                    "\(path): is a folder, not an audio file; `headroom review \(path)` reads the takes in a folder"
                )
            }
            guard access(path, R_OK) == 0 else { throw HeadroomError(.noInput, "\(path): permission denied") }
            guard let opened = sf_open(path, Int32(SFM_READ), &info) else {
                let reason = String(cString: sf_strerror(nil))
                throw HeadroomError(
                    .noInput,
                    "\(path): not an audio file libsndfile can read (\(reason))\(Self.decodeHint(path))"
                )
            }
            handle = opened
        }
        // Through a pipe libsndfile reads some containers to the end and others not at all
        // or with a tail of junk (CAF and RF64 gave 0 frames, W64 48 frames too many): only
        // those it streams are taken.
        let container = Int(info.format) & Int(SF_FORMAT_TYPEMASK)
        if info.seekable == 0 && !Self.streamable.contains(container) {
            sf_close(handle)
            throw HeadroomError(
                .noInput,
                "\(path): \(Self.containerName(container)) cannot be read through a pipe, only \(Self.streamableNames); give it as a file"
            )
        }
        file = handle
        channels = Int(info.channels)
        rate = Int(info.samplerate)
        // A stream's header cannot know its length (a WAV piped from ffmpeg says 2^30 frames,
        // an Ogg stream 2^63): 0, unknown, unless the input can be seeked (a redirected file).
        // A killed recorder's FLAC take says 2^63 too: counted where it can be opened again.
        let unknown = Int(info.frames) == AudioFile.unknownLength
        frames = info.seekable == 0 || (unknown && path == Self.standardInput) ? 0 : AudioFile.length(info, path)
        let subtype = Int(info.format) & Int(SF_FORMAT_SUBMASK)
        layout = Self.layout(forSubtype: subtype)
        largestCode = Self.largestCode(subtype)
        containerName = Self.containerName(container)
        encodingName = Self.encodingName(subtype)
        lossyCodec = Self.lossyCodec(subtype)
        originated = BroadcastInfo.read(from: handle)?.started
        guard Analyzer.channelRange.contains(channels) else {
            sf_close(handle)
            file = nil
            throw HeadroomError(
                .noInput,
                "\(path): \(channels) channels; headroom analyzes 1 to \(Analyzer.channelRange.upperBound)"
            )
        }
        guard (8000...384_000).contains(rate) else {
            sf_close(handle)
            file = nil
            throw HeadroomError(.noInput, "\(path): sample rate \(rate) Hz; headroom analyzes 8000 to 384000 Hz")
        }
    }

    deinit { if let file { sf_close(file) } }

    /// Reads up to `frames` frames into `buffer` (room for `frames * channels` samples of
    /// ``layout``); returns the frames read, 0 at the end.
    public func read(into buffer: UnsafeMutableRawPointer, frames: Int) -> Int {
        guard let file else { return 0 }
        switch layout {
        case .int16: return Int(sf_readf_short(file, buffer.assumingMemoryBound(to: Int16.self), sf_count_t(frames)))
        case .float32: return Int(sf_readf_float(file, buffer.assumingMemoryBound(to: Float.self), sf_count_t(frames)))
        default: return Int(sf_readf_int(file, buffer.assumingMemoryBound(to: Int32.self), sf_count_t(frames)))
        }
    }

    /// The error libsndfile reports for this file, if any (a truncated or corrupt file).
    public var readError: String? {
        guard let file, sf_error(file) != 0 else { return nil }
        return String(cString: sf_strerror(file))
    }

    /// The containers libsndfile reads through a pipe as it reads them from a file.
    static let streamable: Set<Int> = [
        Int(SF_FORMAT_WAV), Int(SF_FORMAT_WAVEX), Int(SF_FORMAT_AIFF), Int(SF_FORMAT_AU), Int(SF_FORMAT_OGG),
    ]
    static let streamableNames = "WAV, AIFF, AU and Ogg"

    /// The exact layout for a libsndfile subtype.
    static func layout(forSubtype subtype: Int) -> SampleLayout {
        switch subtype {
        case Int(SF_FORMAT_PCM_16), Int(SF_FORMAT_ALAC_16), Int(SF_FORMAT_DWVW_16): .int16
        case Int(SF_FORMAT_ULAW), Int(SF_FORMAT_ALAW): .int16  // libsndfile's 16-bit tables, exact
        case Int(SF_FORMAT_PCM_24), Int(SF_FORMAT_ALAC_24), Int(SF_FORMAT_DWVW_24): .int32(bits: 24)
        case Int(SF_FORMAT_ALAC_20): .int32(bits: 20)
        case Int(SF_FORMAT_PCM_32), Int(SF_FORMAT_ALAC_32): .int32(bits: 32)
        case Int(SF_FORMAT_PCM_S8), Int(SF_FORMAT_PCM_U8): .int32(bits: 8)
        case Int(SF_FORMAT_DWVW_12): .int32(bits: 12)
        default: .float32
        }
    }

    /// G.711's largest decoded magnitude (libsndfile's tables, as ITU-T G.711 gives them).
    static func largestCode(_ subtype: Int) -> Int? {
        switch subtype {
        case Int(SF_FORMAT_ULAW): 32124
        case Int(SF_FORMAT_ALAW): 32256
        default: nil
        }
    }

    /// Short names for the containers people meet; libsndfile's own name otherwise.
    static func containerName(_ major: Int) -> String {
        switch major {
        case Int(SF_FORMAT_WAV), Int(SF_FORMAT_WAVEX): "WAV"
        case Int(SF_FORMAT_RF64): "RF64"
        case Int(SF_FORMAT_W64): "W64"
        case Int(SF_FORMAT_FLAC): "FLAC"
        case Int(SF_FORMAT_AIFF): "AIFF"
        case Int(SF_FORMAT_CAF): "CAF"
        case Int(SF_FORMAT_OGG): "Ogg"
        default: libsndfileName(major)
        }
    }

    static func lossyCodec(_ subtype: Int) -> String? {
        switch subtype {
        case Int(SF_FORMAT_VORBIS): "Vorbis"
        case Int(SF_FORMAT_OPUS): "Opus"
        case Int(SF_FORMAT_MPEG_LAYER_I), Int(SF_FORMAT_MPEG_LAYER_II), Int(SF_FORMAT_MPEG_LAYER_III): "MP3"
        default: nil
        }
    }

    /// `PCM_16`, `PCM_24`, `PCM_32`, `FLOAT`, ... as libsndfile's constants are named.
    static func encodingName(_ subtype: Int) -> String {
        switch subtype {
        case Int(SF_FORMAT_PCM_S8): "PCM_S8"
        case Int(SF_FORMAT_PCM_U8): "PCM_U8"
        case Int(SF_FORMAT_PCM_16): "PCM_16"
        case Int(SF_FORMAT_PCM_24): "PCM_24"
        case Int(SF_FORMAT_PCM_32): "PCM_32"
        case Int(SF_FORMAT_FLOAT): "FLOAT"
        case Int(SF_FORMAT_DOUBLE): "DOUBLE"
        case Int(SF_FORMAT_VORBIS): "VORBIS"
        case Int(SF_FORMAT_OPUS): "OPUS"
        case Int(SF_FORMAT_ALAC_16): "ALAC_16"
        case Int(SF_FORMAT_ALAC_24): "ALAC_24"
        default: libsndfileName(subtype)
        }
    }

    private static func libsndfileName(_ format: Int) -> String {
        var info = SF_FORMAT_INFO()
        info.format = Int32(format)
        guard sf_command(nil, Int32(SFC_GET_FORMAT_INFO), &info, Int32(MemoryLayout<SF_FORMAT_INFO>.size)) == 0,
            let name = info.name
        else { return "0x" + String(format, radix: 16) }
        return String(cString: name)
    }
}

/// How far a pass over a file has got, after each block: the frames read so far, the file's
/// length in frames (0: unknown) and its rate (`analyze`'s and `review`'s position line).
public typealias FileProgress = (_ done: Int, _ total: Int, _ rate: Int) -> Void

/// What a person sees of an audio file before reading it, and the float read that
/// review's loudness and the HTML report's level overview share: with the reader above,
/// the only places that open audio files with libsndfile.
public enum AudioFile {
    public struct Info: Sendable, Equatable {
        public var frames: Int
        public var rate: Int
        public var channels: Int
        /// WAV, WAVEX or RF64: a RIFF file that can carry cue and bext chunks.
        public var isRIFF: Bool
    }

    /// The length libsndfile gives a file whose header does not say (`SF_COUNT_MAX`): a FLAC
    /// take whose recorder was killed before it could write its length into STREAMINFO.
    static let unknownLength = Int(Int64.max)

    /// The file's header, or nil when libsndfile cannot open it. A length the header does not
    /// give is counted (``heldFrames(_:claimed:)``): a killed recorder's FLAC take is as long
    /// as the frames it holds, not 2^63.
    public static func info(_ path: String) -> Info? {
        var info = SF_INFO()
        guard let f = sf_open(path, Int32(SFM_READ), &info) else { return nil }
        sf_close(f)
        let major = Int(info.format) & Int(SF_FORMAT_TYPEMASK)
        return Info(
            frames: length(info, path),
            rate: Int(info.samplerate),
            channels: Int(info.channels),
            isRIFF: [Int(SF_FORMAT_WAV), Int(SF_FORMAT_RF64), Int(SF_FORMAT_WAVEX)].contains(major)
        )
    }

    /// The header's length of the file at `path`, or where it gives none, the frames counted.
    static func length(_ info: SF_INFO, _ path: String) -> Int {
        Int(info.frames) == unknownLength ? heldFrames(path, claimed: unknownLength) : Int(info.frames)
    }

    /// How many of the `claimed` frames (its header's) the file at `path` holds: the frames up
    /// to the last one libsndfile can seek to and read. It cuts a WAV, RF64, W64 or AIFF file's
    /// count to what the file holds itself; a FLAC file's comes from its header, and in a copy
    /// cut short a seek past the end fails (and leaves the handle unusable, so each look opens
    /// the file afresh): the last readable frame is found by halving, in about 25 looks. An
    /// ``unknownLength`` is first bounded by doubling from a second at 48 kHz.
    public static func heldFrames(_ path: String, claimed: Int) -> Int {
        func readable(_ frame: Int) -> Bool {
            var info = SF_INFO()
            guard let f = sf_open(path, Int32(SFM_READ), &info) else { return false }
            defer { sf_close(f) }
            var sample = [Float](repeating: 0, count: max(Int(info.channels), 1))
            return sf_seek(f, sf_count_t(frame), SEEK_SET) == frame && sf_readf_float(f, &sample, 1) == 1
        }
        guard claimed > 0, !readable(claimed - 1) else { return claimed }
        guard readable(0) else { return 0 }
        var (good, bad) = (0, claimed - 1)
        if claimed == unknownLength {
            bad = 48_000
            while bad < claimed / 2 && readable(bad) { (good, bad) = (bad, bad * 2) }
        }
        while bad - good > 1 {
            let middle = good + (bad - good) / 2
            if readable(middle) { good = middle } else { bad = middle }
        }
        return good + 1
    }

    /// Why libsndfile cannot open the file at `path` (its own words), for a file ``info(_:)``
    /// gave nil for.
    public static func openError(_ path: String) -> String {
        var info = SF_INFO()
        if let f = sf_open(path, Int32(SFM_READ), &info) {
            sf_close(f)
            return "it opens now"
        }
        return String(cString: sf_strerror(nil)).trimmingCharacters(in: CharacterSet(charactersIn: ". "))
    }

    /// Reads the whole file as interleaved floats, `blockFrames` at a time: `body` gets
    /// each block and its frame count. Returns the header, or nil when it cannot be read.
    @discardableResult
    public static func forEachFloatBlock(
        _ path: String,
        blockFrames: Int = 8192,
        _ body: (UnsafeBufferPointer<Float>, Int) -> Void
    ) -> Info? {
        guard let info = info(path) else { return nil }
        var sf = SF_INFO()
        guard let file = sf_open(path, Int32(SFM_READ), &sf) else { return nil }
        defer { sf_close(file) }
        var buffer = [Float](repeating: 0, count: blockFrames * info.channels)
        while true {
            let n = buffer.withUnsafeMutableBufferPointer {
                Int(sf_readf_float(file, $0.baseAddress!, sf_count_t(blockFrames)))
            }
            if n <= 0 { break }
            buffer.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[0..<(n * info.channels)]), n) }
        }
        return info
    }
}
