import Foundation

/// What a finished WAV/RF64 take carries beside its audio, so it tells its story once it
/// leaves the folder: an `iXML` chunk (project, take, the channel names as a `TRACK_LIST`,
/// the speed and timestamp that follow from `bext`), `bext` version 2 with the loudness of
/// EBU Tech 3285 v2, and channel mask 0 (multitrack: no speaker positions).
///
/// The iXML is known before the first frame, so the writer hands it to libsndfile with the
/// first header, which libsndfile rewrites every second with it: a take whose recorder was
/// killed still names its channels and itself. The rest is added when both the writer and
/// the analyzer have closed the take: a take killed before then still opens (with `bext`
/// version 1 and no loudness, which is not a claim of 0 LUFS) until it is finished
/// (``KilledTakes``), which writes its loudness.
public struct TakeMetadata: Sendable, Equatable {
    public var names: [String]
    public var rate: Int
    public var bitDepth: Int
    /// The folder the takes go to: what sound recorders call the project.
    public var project: String
    /// The take's file name without extension, and its number in the recording (from 1).
    public var takeName: String
    public var takeNumber: Int
    /// `bext`'s time reference (samples since midnight) and originator reference (unique).
    public var timeReference: UInt64
    public var fileUID: String
    public var loudness: ProgrammeLoudness.Figures?
    /// The largest true peak of any channel, dBTP (SPEC's definition).
    public var maxTruePeakDBTP: Double?
    /// WAVE_FORMAT_EXTENSIBLE's speaker mask: 0 for a multitrack take (``ChannelLayout``).
    public var channelMask: UInt32

    public init(
        names: [String],
        rate: Int,
        bitDepth: Int,
        project: String,
        takeName: String,
        takeNumber: Int,
        timeReference: UInt64,
        fileUID: String,
        loudness: ProgrammeLoudness.Figures?,
        maxTruePeakDBTP: Double?,
        channelMask: UInt32 = 0
    ) {
        self.names = names
        self.rate = rate
        self.bitDepth = bitDepth
        self.project = project
        self.takeName = takeName
        self.takeNumber = takeNumber
        self.timeReference = timeReference
        self.fileUID = fileUID
        self.loudness = loudness
        self.maxTruePeakDBTP = maxTruePeakDBTP
        self.channelMask = channelMask
    }

    /// The metadata of the take recorded into `file` from `start`, the `number`th of the
    /// recording; loudness and true peak are added when it closes. The writer puts its iXML
    /// into the take's first header, the analyzer its loudness into `bext` at the end.
    public init(
        take file: String,
        start: Date,
        number: Int,
        names: [String],
        rate: Int,
        bitDepth: Int,
        channelMask: UInt32 = 0
    ) {
        let url = URL(fileURLWithPath: file).standardizedFileURL
        self.init(
            names: names,
            rate: rate,
            bitDepth: bitDepth,
            project: url.deletingLastPathComponent().lastPathComponent,
            takeName: url.deletingPathExtension().lastPathComponent,
            takeNumber: number,
            timeReference: BroadcastInfo(start: start, rate: rate, description: "", reference: "").timeReference,
            fileUID: BroadcastInfo.uniqueReference(start: start, path: file),
            loudness: nil,
            maxTruePeakDBTP: nil,
            channelMask: channelMask
        )
    }

    /// The iXML document (iXML 2.10), laid out as Sound Devices and Zoom recorders write it.
    public var ixml: String {
        // Control characters, which XML 1.0 does not allow and which would make every reader
        // drop the whole document, shown as the terminal shows them (`\x01`).
        func x(_ s: String) -> String { DisplayText.markup(DisplayText.escaped(s)) }
        let tracks = names.enumerated().map { i, name in
            "    <TRACK>\n      <CHANNEL_INDEX>\(i + 1)</CHANNEL_INDEX>\n      <INTERLEAVE_INDEX>\(i + 1)</INTERLEAVE_INDEX>\n      <NAME>\(x(name))</NAME>\n      <FUNCTION></FUNCTION>\n    </TRACK>\n"
        }.joined()
        let high = timeReference >> 32
        let low = timeReference & 0xFFFF_FFFF
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <BWFXML>
              <IXML_VERSION>2.10</IXML_VERSION>
              <PROJECT>\(x(project))</PROJECT>
              <SCENE>\(x(takeName))</SCENE>
              <TAKE>\(takeNumber)</TAKE>
              <FILE_UID>\(x(fileUID))</FILE_UID>
              <NOTE>recorded by headroom</NOTE>
              <SPEED>
                <MASTER_SPEED>\(rate)/1</MASTER_SPEED>
                <CURRENT_SPEED>\(rate)/1</CURRENT_SPEED>
                <TIMECODE_RATE>25/1</TIMECODE_RATE>
                <TIMECODE_FLAG>NDF</TIMECODE_FLAG>
                <FILE_SAMPLE_RATE>\(rate)</FILE_SAMPLE_RATE>
                <AUDIO_BIT_DEPTH>\(bitDepth)</AUDIO_BIT_DEPTH>
                <DIGITIZER_SAMPLE_RATE>\(rate)</DIGITIZER_SAMPLE_RATE>
                <TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI>\(high)</TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI>
                <TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO>\(low)</TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO>
                <TIMESTAMP_SAMPLE_RATE>\(rate)</TIMESTAMP_SAMPLE_RATE>
              </SPEED>
              <TRACK_LIST>
                <TRACK_COUNT>\(names.count)</TRACK_COUNT>

            """ + tracks + """
                  </TRACK_LIST>
                </BWFXML>

                """
    }

    /// `bext` v2's loudness fields: value x 100, rounded, as a signed 16-bit word; 0x7fff
    /// where there is no value (EBU Tech 3285 v2).
    var loudnessWords: [UInt16] { Self.loudnessWords(loudness, maxTruePeakDBTP: maxTruePeakDBTP) }

    static func loudnessWords(_ loudness: ProgrammeLoudness.Figures?, maxTruePeakDBTP: Double?) -> [UInt16] {
        func word(_ v: Double?) -> UInt16 {
            guard let v, v.isFinite else { return 0x7FFF }
            return UInt16(bitPattern: Int16(clamping: Int((v * 100).rounded())))
        }
        return [
            word(loudness?.integratedLUFS), word(loudness?.rangeLU), word(maxTruePeakDBTP),
            word(loudness?.maxMomentaryLUFS), word(loudness?.maxShortTermLUFS),
        ]
    }

    /// Patches `bext` (where the take has one of full length) to version 2 with `words`
    /// (``loudnessWords``).
    private static func writeLoudness(_ words: [UInt16], into fd: Int32, chunks: RIFFChunks) throws(HeadroomError) {
        guard let bext = chunks.offset(of: "bext"), chunks.size(of: "bext") ?? 0 >= 422 else { return }
        var bytes = Data()
        for w in words { bytes += RIFFChunks.le16(w) }
        // Version at 346; the five loudness words at 412..421 (after the 64-byte UMID).
        guard FileBytes.write(fd, RIFFChunks.le16(2), at: bext + 346), FileBytes.write(fd, bytes, at: bext + 412)
        else { throw RIFFChunks.failure(chunks.path, "cannot write the loudness into bext") }
    }

    /// Writes the loudness a review measured into the `bext` of a WAV/RF64 take whose recorder
    /// was killed before it could (``KilledTakes``): version 2, as the recorder would have
    /// left it. The rest of its metadata (its iXML, its channel mask) is as its first header
    /// had it. False where the take has no `bext` to patch.
    public static func writeLoudness(
        _ loudness: ProgrammeLoudness.Figures,
        maxTruePeakDBTP: Double?,
        to path: String
    ) throws(HeadroomError) -> Bool {
        let chunks = try RIFFChunks(path: path)
        guard chunks.size(of: "bext") ?? 0 >= 422 else { return false }
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw RIFFChunks.failure(path, "cannot reopen the take") }
        defer { close(fd) }
        try writeLoudness(Self.loudnessWords(loudness, maxTruePeakDBTP: maxTruePeakDBTP), into: fd, chunks: chunks)
        return true
    }

    /// Adds the metadata to the closed WAV/RF64 take at `path`: `bext` patched in place to
    /// version 2 with the loudness, the channel mask set, and iXML appended where the take
    /// has none yet (its writer puts it in the first header).
    public func apply(to path: String) throws(HeadroomError) {
        let chunks = try RIFFChunks(path: path)
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw RIFFChunks.failure(path, "cannot reopen the take") }
        defer { close(fd) }
        if loudness != nil { try Self.writeLoudness(loudnessWords, into: fd, chunks: chunks) }
        if let fmt = chunks.offset(of: "fmt "), chunks.size(of: "fmt ") ?? 0 >= 40 {
            // WAVE_FORMAT_EXTENSIBLE: libsndfile sets speaker positions from the channel
            // count (4 channels read as "quad"); a multitrack take has none, a --layout its own.
            guard FileBytes.write(fd, RIFFChunks.le32(channelMask), at: fmt + 20) else {
                throw RIFFChunks.failure(path, "cannot write the channel mask")
            }
        }
        if chunks.offset(of: "iXML") == nil {
            var body = Data(ixml.utf8)
            let size = body.count
            if size % 2 == 1 { body.append(0) }
            try RIFFChunks.append(
                Data("iXML".utf8) + RIFFChunks.le32(UInt32(size)) + body,
                what: "its iXML (channel names)",
                to: path
            )
        }
    }
}

/// The chunks of a RIFF/RF64 WAVE file, found by walking them (libsndfile does not say
/// where its chunks are, and does not report the cues of an RF64 file), and appending to it.
public struct RIFFChunks {
    public let path: String
    public let isRF64: Bool
    /// Chunk id -> (offset of its body, its size), first of each id.
    public private(set) var chunks: [String: (offset: UInt64, size: UInt64)] = [:]
    /// Cue points in all `cue ` chunks.
    public private(set) var cuePoints = 0
    /// Why nothing may be appended to a file: what came after it would be read as part of a
    /// chunk, or not be found.
    public enum Damage: Sendable, Equatable, CustomStringConvertible {
        /// A chunk (`id`) that runs past the end of the file: a copy cut short.
        case cutShort(id: String)
        /// Bytes after the last chunk that are not a chunk: the audio a recorder that was
        /// killed wrote after it last brought its header up to date.
        case tail
        /// A chunk (`id`) whose size is not given (written as a stream).
        case unsized(id: String)

        public var description: String {
            switch self {
            case .cutShort(let id): "its \(id) chunk runs past the end of the file (a copy cut short?)"
            case .tail:
                "bytes past its last chunk that are not a chunk (audio written after its header was last brought up to date, by a recorder that was killed?)"
            case .unsized(let id): "its \(id) chunk gives no size (written as a stream)"
            }
        }
    }
    /// Nil for a whole file.
    public private(set) var damage: Damage? = nil

    public init(path: String) throws(HeadroomError) {
        // Not blocking: a named pipe `analyze` has read to its end has no writer left, and
        // would hold the open until one came (it reads as no WAV file: pread cannot).
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw Self.failure(path, "cannot open") }
        defer { close(fd) }
        try self.init(reading: fd, path: path)
    }

    /// The chunks of the file open at `fd` (read with `pread`; the offset is not moved).
    init(reading fd: Int32, path: String) throws(HeadroomError) {
        self.path = path
        func read(_ count: Int, at offset: UInt64) -> [UInt8]? { FileBytes.read(fd, count, at: offset) }
        func u32(_ b: [UInt8], _ i: Int) -> UInt64 { (0..<4).reduce(0) { $0 | UInt64(b[i + $1]) << (8 * $1) } }
        func u64(_ b: [UInt8], _ i: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[i + $1]) << (8 * $1) } }
        guard let head = read(12, at: 0), Array(head[8..<12]) == Array("WAVE".utf8) else {
            throw HeadroomError(.io, "\(path): not a WAV file")
        }
        let kind = String(decoding: head[0..<4], as: UTF8.self)
        guard kind == "RIFF" || kind == "RF64" else { throw HeadroomError(.io, "\(path): not a WAV file") }
        isRF64 = kind == "RF64"
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Self.failure(path, "cannot read") }
        var end = UInt64(st.st_size)
        var dataSize: UInt64? = nil
        var offset: UInt64 = 12
        while offset + 8 <= end, let chunk = read(8, at: offset) {
            if chunk.allSatisfy({ $0 == 0 }) {
                offset += 8  // padding some recorders leave, which readers step over
                continue
            }
            guard chunk[0..<4].allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
                damage = .tail
                break
            }
            let id = String(decoding: chunk[0..<4], as: UTF8.self)
            var size = u32(chunk, 4)
            if id == "ds64", let ds = read(16, at: offset + 8) {
                dataSize = u64(ds, 8)
            } else if id == "data" && size == 0xFFFF_FFFF, let real = dataSize {
                size = real
            } else if id == "cue ", let count = read(4, at: offset + 8) {
                cuePoints += Int(u32(count, 0))
            }
            if chunks[id] == nil { chunks[id] = (offset + 8, size) }
            if size == 0xFFFF_FFFF && dataSize == nil {
                damage = .unsized(id: id)
                end = 0  // a size we cannot follow
            } else if offset + 8 + size > end {
                damage = .cutShort(id: id)
            }
            offset += 8 + size + size % 2
        }
        // Fewer bytes than a chunk header after the last chunk: what is appended would start
        // there, out of reach of every reader that walks the chunks.
        if damage == nil && offset < end { damage = .tail }
    }

    /// Drops what follows the `data` chunk of the closed take open at `fd`, and fixes the
    /// RIFF size (in `ds64` for RF64): a write that a full disk cut short leaves part of a
    /// frame there, past the frames the header counts, and chunks appended after it (cue
    /// markers, iXML) would be out of reach. Only for a take's own writer, before anything
    /// else is appended.
    static func dropAfterData(_ fd: Int32, path: String) throws(HeadroomError) {
        let chunks = try RIFFChunks(reading: fd, path: path)
        guard let data = chunks.chunks["data"] else { return }
        let length = UInt64(lseek(fd, 0, SEEK_END))
        var end = data.offset + data.size
        guard length > end + data.size % 2 else { return }
        if data.size % 2 == 1 {
            guard FileBytes.write(fd, Data([0]), at: end) else { throw failure(path, "cannot trim the take") }
            end += 1
        }
        guard ftruncate(fd, off_t(end)) == 0 else { throw failure(path, "cannot trim the take") }
        let riffSize = end - 8
        let written =
            chunks.isRF64
            ? FileBytes.write(fd, le64(riffSize), at: 20)
            : FileBytes.write(fd, le32(UInt32(clamping: riffSize)), at: 4)
        guard written else { throw failure(path, "cannot trim the take") }
    }

    /// Where the body of the first chunk `id` starts, or nil.
    public func offset(of id: String) -> UInt64? { chunks[id]?.offset }
    public func size(of id: String) -> UInt64? { chunks[id]?.size }

    /// Appends whole chunks (`id`, size, body, padding) to the closed RIFF/RF64 file at
    /// `path` and fixes the RIFF size (in `ds64` for RF64). A file whose chunks do not end
    /// where it does (``damage``) is left as it is, and so is one the chunks do not fit on
    /// (a full disk): what part of them went in is taken out again, since a chunk cut short
    /// at a file's end makes readers (ffprobe) refuse the whole take. `what` names the
    /// chunks for the error ("its cue markers").
    public static func append(_ chunks: Data, what: String, to path: String) throws(HeadroomError) {
        if let damage = try RIFFChunks(path: path).damage {
            throw HeadroomError(.io, "\(path): \(damage); left as it is")
        }
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw failure(path, "cannot reopen the take") }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 28)
        guard pread(fd, &header, 28, 0) == 28, Array(header[8..<12]) == Array("WAVE".utf8) else {
            throw HeadroomError(.io, "\(path): not a WAV file")
        }
        let isRF64 = Array(header[0..<4]) == Array("RF64".utf8)
        if isRF64 && Array(header[12..<16]) != Array("ds64".utf8) {
            throw HeadroomError(.io, "\(path): RF64 without ds64")
        }
        let start = UInt64(lseek(fd, 0, SEEK_END))
        var data = Data()
        if start % 2 == 1 { data.append(0) }  // chunks start on even offsets
        data += chunks
        let end = start + UInt64(data.count)
        if !isRF64 && end - 8 > UInt64(UInt32.max) {
            throw HeadroomError(.io, "\(path): cannot add \(what): no room past 4 GiB in a RIFF file")
        }
        // RF64: the RIFF size lives in ds64 (after "RF64", size, "WAVE", "ds64", size).
        guard FileBytes.write(fd, data, at: start),
            isRF64 ? FileBytes.write(fd, le64(end - 8), at: 20) : FileBytes.write(fd, le32(UInt32(end - 8)), at: 4)
        else {
            let reason = String(cString: strerror(errno))
            ftruncate(fd, off_t(start))
            throw HeadroomError(.io, "\(path): cannot add \(what): \(reason); the take is whole without them")
        }
        fsync(fd)
    }

    /// `count` bytes of `fd` at `offset`, or nil where the file has fewer.
    /// The chunks of the header of the RIFF/RF64 WAVE file open at `fd`, in order, up to and
    /// including `data` and not past it: where each one's body starts, and the 32-bit size
    /// its header gives (`data`'s is 0xFFFFFFFF in RF64, where `ds64` has it). A take being
    /// written, or one whose recorder was killed, has audio past what `data` counts, whose
    /// silence ``init(reading:path:)`` would walk as padding 8 bytes at a time.
    static func headerChunks(_ fd: Int32) -> [(id: String, offset: UInt64, size: UInt64)] {
        guard let head = FileBytes.read(fd, 12, at: 0), Array(head[8..<12]) == Array("WAVE".utf8),
            head[0..<4].elementsEqual("RIFF".utf8) || head[0..<4].elementsEqual("RF64".utf8)
        else { return [] }
        var chunks: [(id: String, offset: UInt64, size: UInt64)] = []
        var offset: UInt64 = 12
        while let chunk = FileBytes.read(fd, 8, at: offset) {
            let id = String(decoding: chunk[0..<4], as: UTF8.self)
            let size = (0..<4).reduce(UInt64(0)) { $0 | UInt64(chunk[4 + $1]) << (8 * $1) }
            chunks.append((id, offset + 8, size))
            if id == "data" { break }
            offset += 8 + size + size % 2
        }
        return chunks
    }

    static func failure(_ path: String, _ what: String) -> HeadroomError {
        HeadroomError(.io, "\(path): \(what): \(String(cString: strerror(errno)))")
    }

    static func le16(_ v: UInt16) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
    static func le32(_ v: UInt32) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
    static func le64(_ v: UInt64) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
}
