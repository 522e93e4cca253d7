import Foundation

/// The audio a killed recorder wrote into a take after it last brought the header up to date
/// (once a second): whole frames on disk past what the header counts, where libsndfile, sox
/// and most players stop. `review` says they are there and `review --repair` counts them in,
/// so the take holds everything it was given, as it would have had its recorder closed it.
///
/// - WAV and RF64: found only in the shape libsndfile leaves, the header's chunks ending with
///   `data` (the RIFF size says the file ends where the audio the header counts ends) and the
///   file going on past it. A finished take's appended chunks (cues, iXML) are counted in its
///   RIFF size, so they are never taken for audio.
/// - W64: the same shape in its GUID chunks (64-bit sizes that count their 24-byte headers).
/// - FLAC: STREAMINFO's length (``FLACFrames/LiveLength``) short of the whole frames the
///   file holds (each frame's CRCs checked).
public struct UncountedAudio: Sendable, Equatable {
    /// The frames the header counts, and the whole frames past them.
    public let countedFrames: Int
    public let frames: Int
    /// Where a WAV/RF64/W64 take's counts are; nil for FLAC.
    let riff: RIFF?

    struct RIFF: Sendable, Equatable {
        enum Kind: Sendable { case riff, rf64, w64 }
        let kind: Kind
        let blockAlign: Int
        let dataOffset: UInt64
        let dataSize: UInt64
        /// Where `fact`'s sample length is, when the take has one.
        let factOffset: UInt64?
    }

    /// Whether the take takes markers once its audio is counted (WAV and RF64 as cues,
    /// FLAC as chapters in its tags).
    public var takesMarkers: Bool { riff.map { $0.kind != .w64 } ?? true }

    /// What the take open at `fd` holds past its header's count, or nil where it holds
    /// nothing there (or is not in that shape).
    public static func find(_ fd: Int32) -> UncountedAudio? {
        if let (counted, held) = FLACFrames.uncounted(fd) {
            return UncountedAudio(countedFrames: counted, frames: held - counted, riff: nil)
        }
        func read(_ count: Int, at offset: UInt64) -> [UInt8]? { FileBytes.read(fd, count, at: offset) }
        func u16(_ b: [UInt8], _ i: Int) -> UInt64 { UInt64(b[i]) | UInt64(b[i + 1]) << 8 }
        func u32(_ b: [UInt8], _ i: Int) -> UInt64 { (0..<4).reduce(0) { $0 | UInt64(b[i + $1]) << (8 * $1) } }
        func u64(_ b: [UInt8], _ i: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[i + $1]) << (8 * $1) } }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        if let w64 = findW64(fd, length: UInt64(st.st_size)) { return w64 }
        // The header's chunks only, up to `data`.
        let chunks = RIFFChunks.headerChunks(fd)
        guard !chunks.isEmpty, let head = read(8, at: 0) else { return nil }
        let length = UInt64(st.st_size)
        var riffEnd = u32(head, 4) + 8
        var ds64Data: UInt64? = nil
        var blockAlign: UInt64 = 0
        var factOffset: UInt64? = nil
        for (id, offset, size) in chunks {
            switch id {
            case "ds64":
                guard let ds = read(16, at: offset) else { return nil }
                riffEnd = u64(ds, 0) + 8
                ds64Data = u64(ds, 8)
            case "fmt ":
                guard size >= 16, let fmt = read(16, at: offset) else { return nil }
                blockAlign = u16(fmt, 12)
            case "fact" where size >= 4:
                factOffset = offset
            case "data":
                let size = size == 0xFFFF_FFFF ? ds64Data ?? size : size
                guard blockAlign > 0 else { return nil }
                let end = offset + size
                // The header ends with this chunk, and the file goes on past it by a frame or more.
                guard riffEnd == end + size % 2, length >= end + blockAlign else { return nil }
                return UncountedAudio(
                    countedFrames: Int(size / blockAlign),
                    frames: Int((length - end) / blockAlign),
                    riff: RIFF(
                        kind: head[0..<4].elementsEqual("RF64".utf8) ? .rf64 : .riff,
                        blockAlign: Int(blockAlign),
                        dataOffset: offset,
                        dataSize: size,
                        factOffset: factOffset
                    )
                )
            default:
                break
            }
        }
        return nil
    }

    /// W64: "riff" and its GUID, the file's size (64 bits), "wave" and its GUID, then chunks
    /// of a 16-byte GUID (its first four bytes the id) and a 64-bit size that counts the
    /// chunk's own 24 bytes, each starting on 8 bytes.
    private static func findW64(_ fd: Int32, length: UInt64) -> UncountedAudio? {
        let riffGUID: [UInt8] = [
            0x72, 0x69, 0x66, 0x66, 0x2E, 0x91, 0xCF, 0x11, 0xA5, 0xD6, 0x28, 0xDB, 0x04, 0xC1, 0x00, 0x00,
        ]
        func u64(_ b: [UInt8], _ i: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[i + $1]) << (8 * $1) } }
        guard let head = FileBytes.read(fd, 40, at: 0), Array(head[0..<16]) == riffGUID,
            Array(head[24..<28]) == Array("wave".utf8)
        else { return nil }
        let riffEnd = u64(head, 16)
        var blockAlign: UInt64 = 0
        var factOffset: UInt64? = nil
        var offset: UInt64 = 40
        while offset + 24 <= length, let chunk = FileBytes.read(fd, 24, at: offset) {
            let size = u64(chunk, 16)
            guard size >= 24 else { return nil }
            switch String(decoding: chunk[0..<4], as: UTF8.self) {
            case "fmt ":
                guard let fmt = FileBytes.read(fd, 16, at: offset + 24) else { return nil }
                blockAlign = UInt64(fmt[12]) | UInt64(fmt[13]) << 8
            case "fact" where size >= 32:
                factOffset = offset + 24
            case "data":
                let end = offset + size
                guard blockAlign > 0, riffEnd == end, length >= end + blockAlign else { return nil }
                return UncountedAudio(
                    countedFrames: Int((size - 24) / blockAlign),
                    frames: Int((length - end) / blockAlign),
                    riff: RIFF(
                        kind: .w64,
                        blockAlign: Int(blockAlign),
                        dataOffset: offset + 24,
                        dataSize: size - 24,
                        factOffset: factOffset
                    )
                )
            default:
                break
            }
            offset += (size + 7) & ~7
        }
        return nil
    }

    /// What the take at `path` holds past its header's count, or nil.
    public static func find(path: String) -> UncountedAudio? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return find(fd)
    }

    /// Counts the frames into the header of the take open (read-write) at `fd`: the data
    /// chunk's size (and `ds64`'s), the RIFF size and `fact`'s length, or STREAMINFO's; a
    /// part of a frame past the last whole one is dropped. The audio itself is not touched.
    public func count(_ fd: Int32, path: String) throws(HeadroomError) {
        guard let riff else {
            guard try FLACFrames.trimCutShort(fd, path: path) == countedFrames + frames, fsync(fd) == 0 else {
                throw HeadroomError(.io, "\(path): cannot count its audio into the header")
            }
            return
        }
        let (kind, blockAlign, dataOffset, dataSize) = (riff.kind, riff.blockAlign, riff.dataOffset, riff.dataSize)
        let size = dataSize + UInt64(frames * blockAlign)
        let end = dataOffset + size
        let riffSize = end + size % 2 - 8
        let total = UInt64(countedFrames + frames)
        guard kind != .riff || riffSize <= UInt64(UInt32.max) else {
            throw HeadroomError(.io, "\(path): its audio runs past what a WAV header can count (4 GiB); left as it is")
        }
        func failed() -> HeadroomError { RIFFChunks.failure(path, "cannot count its audio into the header") }
        guard ftruncate(fd, off_t(end)) == 0 else { throw failed() }
        if kind == .w64 {
            // The file's size, the data chunk's (with its 24 bytes), fact's frames (64 bits).
            guard FileBytes.write(fd, RIFFChunks.le64(end), at: 16),
                FileBytes.write(fd, RIFFChunks.le64(size + 24), at: dataOffset - 8),
                riff.factOffset.map({ FileBytes.write(fd, RIFFChunks.le64(total), at: $0) }) ?? true,
                fsync(fd) == 0
            else { throw failed() }
            return
        }
        if size % 2 == 1, !FileBytes.write(fd, Data([0]), at: end) { throw failed() }
        let written: Bool
        if kind == .rf64 {
            // ds64: RIFF size, data size, sample count (after "RF64", size, "WAVE", "ds64", size).
            written =
                FileBytes.write(fd, RIFFChunks.le64(riffSize), at: 20)
                && FileBytes.write(fd, RIFFChunks.le64(size), at: 28)
                && FileBytes.write(fd, RIFFChunks.le64(total), at: 36)
        } else {
            written =
                FileBytes.write(fd, RIFFChunks.le32(UInt32(riffSize)), at: 4)
                && FileBytes.write(fd, RIFFChunks.le32(UInt32(size)), at: dataOffset - 4)
        }
        guard written else { throw failed() }
        if let factOffset = riff.factOffset, let fact = FileBytes.read(fd, 4, at: factOffset),
            fact != [0xFF, 0xFF, 0xFF, 0xFF]
        {
            guard FileBytes.write(fd, RIFFChunks.le32(UInt32(clamping: total)), at: factOffset) else { throw failed() }
        }
        guard fsync(fd) == 0 else { throw failed() }
    }
}
