import Foundation

/// A FLAC take's length in STREAMINFO, which libFLAC fills in only when the stream is
/// finished: a take whose recorder was killed, or whose disk filled, would say none
/// (libsndfile reports 2^63 frames, soundfile cannot read it, sox stops at a lost sync).
/// Both read the take's last whole frame (its header's CRC-8 and the frame's CRC-16 both
/// hold; its header numbers it): ``LiveLength`` writes the length in as the take grows,
/// ``trimCutShort(_:path:)`` drops the part-frame a full disk left and writes the length
/// (the MD5 stays zero: "not computed").
enum FLACFrames {
    /// The frames the take open at `fd` (read and write) holds once trimmed, or nil when it
    /// is not a FLAC stream this can read.
    static func trimCutShort(_ fd: Int32, path: String) throws(HeadroomError) -> Int? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw RIFFChunks.failure(path, "cannot read the take") }
        let length = Int(st.st_size)
        guard let (info, audioStart) = metadata(fd), audioStart <= length,
            let (searched, last) = lastWholeFrame(fd, from: audioStart, to: length, fixedBlockSize: info.fixedBlockSize)
        else { return nil }
        // No whole frame in a window that does not reach back to the first: not a take cut
        // short at its end; leave it.
        if last == nil && searched > audioStart { return nil }
        let (end, samples) = last ?? (audioStart, 0)
        if end < length {
            guard ftruncate(fd, off_t(end)) == 0 else { throw RIFFChunks.failure(path, "cannot trim the take") }
        }
        guard writeLength(samples, into: fd, streamInfo: info.bytes) else {
            throw RIFFChunks.failure(path, "cannot write the take's length")
        }
        return samples
    }

    /// The samples a FLAC take's STREAMINFO counts and those its whole frames hold, where it
    /// holds more: the take of a recorder killed between two of ``LiveLength``'s updates (or
    /// before the first). Nil otherwise.
    static func uncounted(_ fd: Int32) -> (counted: Int, held: Int)? {
        var st = stat()
        guard fstat(fd, &st) == 0, let (info, audioStart) = metadata(fd), audioStart < Int(st.st_size),
            let last = lastWholeFrame(fd, from: audioStart, to: Int(st.st_size), fixedBlockSize: info.fixedBlockSize)?
                .last
        else { return nil }
        let b = info.bytes
        let counted = Int(b[13] & 0x0F) << 32 | Int(b[14]) << 24 | Int(b[15]) << 16 | Int(b[16]) << 8 | Int(b[17])
        return last.samples > counted ? (counted, last.samples) : nil
    }

    /// A FLAC take's length in its STREAMINFO, kept up to date while it is written (from
    /// ``TakeWriter/updateHeader()``, once a second): libFLAC writes it only when the stream
    /// is finished, so a take whose recorder was killed would say no length at all. Between
    /// two writes the file holds whole frames only (libFLAC hands libsndfile a frame at a
    /// time, and libsndfile writes it out at once); each update finds the last of them. The
    /// MD5 stays zero ("not computed") until libFLAC finishes and writes every field.
    struct LiveLength {
        private var info: (bytes: [UInt8], fixedBlockSize: Int)?
        /// The end of the last whole frame found (of the metadata, at first): the next update
        /// looks no further back.
        private var counted = 0
        /// The length last written into STREAMINFO.
        private var written = 0

        mutating func update(_ fd: Int32) {
            if info == nil {
                guard let (found, audioStart) = FLACFrames.metadata(fd) else { return }
                info = found
                counted = audioStart
            }
            guard let info else { return }
            var st = stat()
            guard fstat(fd, &st) == 0, Int(st.st_size) > counted,
                let last = FLACFrames.lastWholeFrame(
                    fd,
                    from: counted,
                    to: Int(st.st_size),
                    fixedBlockSize: info.fixedBlockSize
                )?.last
            else { return }
            counted = last.end
            if last.samples != written && FLACFrames.writeLength(last.samples, into: fd, streamInfo: info.bytes) {
                written = last.samples
            }
        }
    }

    /// The last whole frame of the file open at `fd` between `from` and `to` (its length),
    /// looked for in the last MiB at most (a frame is at most a few hundred KiB: 4,096 frames
    /// of 8 channels of 32 bits): where it ends in the file and the samples up to there, and
    /// where the search began (`searched`). Nil when the file cannot be read.
    private static func lastWholeFrame(
        _ fd: Int32,
        from: Int,
        to length: Int,
        fixedBlockSize: Int
    ) -> (searched: Int, last: (end: Int, samples: Int)?)? {
        let start = max(from, length - (1 << 20))
        guard let bytes = read(fd, length - start, at: start) else { return nil }
        let last = lastWholeFrame(in: bytes, fixedBlockSize: fixedBlockSize)
        return (start, last.map { (start + $0.end, $0.samples) })
    }

    /// The STREAMINFO block (34 bytes) and its fixed block size, and where the frames
    /// start; nil for what is not a FLAC stream with its metadata all written.
    private static func metadata(_ fd: Int32) -> (info: (bytes: [UInt8], fixedBlockSize: Int), audioStart: Int)? {
        guard let blocks = metadataBlocks(fd), let end = blocks.last, end.last,
            let first = blocks.first(where: { $0.type == 0 }), let info = read(fd, 34, at: first.offset + 4)
        else { return nil }
        return ((info, Int(info[2]) << 8 | Int(info[3])), end.offset + 4 + end.size)
    }

    /// A metadata block: where its header is, its type (0 STREAMINFO, 1 PADDING, 4
    /// VORBIS_COMMENT...), its size after the header, and whether it is the last.
    struct Block {
        let offset: Int
        let type: UInt8
        let size: Int
        let last: Bool
    }

    /// The metadata blocks of the FLAC stream open at `fd`, in order, up to the last (or to a
    /// header that cannot be read: a file cut inside them); nil where it is not a FLAC stream.
    static func metadataBlocks(_ fd: Int32) -> [Block]? {
        // "fLaC", then metadata blocks (a flag for the last, a type, a 24-bit size).
        guard let magic = read(fd, 4, at: 0), magic == Array("fLaC".utf8) else { return nil }
        var blocks: [Block] = []
        var offset = 4
        while blocks.last?.last != true, let header = read(fd, 4, at: offset) {
            let size = Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
            blocks.append(Block(offset: offset, type: header[0] & 0x7F, size: size, last: header[0] & 0x80 != 0))
            offset += 4 + size
        }
        return blocks
    }

    /// Where the last whole frame in `bytes` ends (its header's CRC-8 and the frame's CRC-16
    /// both hold), and the samples in the stream up to there; nil where none is whole.
    /// `bytes` may start inside a frame.
    private static func lastWholeFrame(in bytes: [UInt8], fixedBlockSize: Int) -> (end: Int, samples: Int)? {
        var last: (end: Int, samples: Int)? = nil
        let starts = bytes.indices.filter { frameHeader(bytes, at: $0) != nil }
        var next = 0
        while next < starts.count {
            let start = starts[next]
            next += 1
            guard start >= last?.end ?? 0, let header = frameHeader(bytes, at: start) else { continue }
            // The frame ends where the CRC-16 of everything since its start is the two bytes
            // that follow: at the next frame's start, or at the end of the bytes.
            var crc: UInt16 = 0
            var i = start
            var end: Int? = nil
            for candidate in starts[next...] + [bytes.count] where candidate >= start + header.length + 2 {
                while i < candidate - 2 {
                    crc = crc16Table[Int(UInt8(crc >> 8) ^ bytes[i])] ^ (crc << 8)
                    i += 1
                }
                if UInt16(bytes[candidate - 2]) << 8 | UInt16(bytes[candidate - 1]) == crc {
                    end = candidate
                    break
                }
            }
            guard let end else { continue }
            last = (end, (header.variable ? header.number : header.number * fixedBlockSize) + header.blockSize)
            while next < starts.count && starts[next] < end { next += 1 }
        }
        return last
    }

    /// Writes `samples` into STREAMINFO's total samples (the low 36 bits of its bytes
    /// 10-17), keeping the bits per sample that share the first byte.
    private static func writeLength(_ samples: Int, into fd: Int32, streamInfo info: [UInt8]) -> Bool {
        var total = Array(info[13..<18])
        total[0] = total[0] & 0xF0 | UInt8((samples >> 32) & 0x0F)
        for k in 1..<5 { total[k] = UInt8((samples >> (8 * (4 - k))) & 0xFF) }
        return pwrite(fd, total, 5, off_t(4 + 4 + 13)) == 5
    }

    /// A frame header at `at` whose CRC-8 holds: its length, coded number (frame number, or
    /// first sample for a variable block size) and block size.
    static func frameHeader(_ b: [UInt8], at p: Int) -> (length: Int, number: Int, blockSize: Int, variable: Bool)? {
        guard p + 6 <= b.count, b[p] == 0xFF, b[p + 1] & 0xFE == 0xF8, b[p + 3] & 1 == 0 else { return nil }
        let sizeCode = Int(b[p + 2] >> 4)
        let rateCode = Int(b[p + 2] & 0x0F)
        guard sizeCode != 0, rateCode != 15 else { return nil }
        // The coded number: UTF-8's pattern, up to 7 bytes (36 bits).
        var q = p + 4
        let more: Int
        switch b[q] {
        case 0x00...0x7F: more = 0
        case 0xC0...0xDF: more = 1
        case 0xE0...0xEF: more = 2
        case 0xF0...0xF7: more = 3
        case 0xF8...0xFB: more = 4
        case 0xFC...0xFD: more = 5
        case 0xFE: more = 6
        default: return nil
        }
        guard q + more < b.count else { return nil }
        var number = more == 0 ? Int(b[q]) : Int(b[q] & (0x3F >> more))
        for k in stride(from: 1, through: more, by: 1) {
            guard b[q + k] & 0xC0 == 0x80 else { return nil }
            number = number << 6 | Int(b[q + k] & 0x3F)
        }
        q += 1 + more
        var blockSize: Int
        switch sizeCode {
        case 1: blockSize = 192
        case 2...5: blockSize = 576 << (sizeCode - 2)
        case 6:
            guard q < b.count else { return nil }
            blockSize = Int(b[q]) + 1
            q += 1
        case 7:
            guard q + 1 < b.count else { return nil }
            blockSize = (Int(b[q]) << 8 | Int(b[q + 1])) + 1
            q += 2
        default: blockSize = 256 << (sizeCode - 8)
        }
        q += rateCode == 12 ? 1 : (rateCode == 13 || rateCode == 14 ? 2 : 0)
        guard q < b.count else { return nil }
        var crc: UInt8 = 0
        for k in p..<q { crc = crc8Table[Int(crc ^ b[k])] }
        guard crc == b[q] else { return nil }
        return (q + 1 - p, number, blockSize, b[p + 1] & 1 == 1)
    }

    /// `count` bytes at `offset` (``FileBytes/read(_:_:at:)``), nil before the file's start.
    static func read(_ fd: Int32, _ count: Int, at offset: Int) -> [UInt8]? {
        offset >= 0 ? FileBytes.read(fd, count, at: UInt64(offset)) : nil
    }

    /// CRC-8, polynomial x^8 + x^2 + x + 1 (frame headers).
    private static let crc8Table: [UInt8] = (0..<256).map { n in
        var c = UInt8(n)
        for _ in 0..<8 { c = c & 0x80 != 0 ? (c << 1) ^ 0x07 : c << 1 }
        return c
    }

    /// CRC-16, polynomial x^16 + x^15 + x^2 + 1 (whole frames).
    private static let crc16Table: [UInt16] = (0..<256).map { n in
        var c = UInt16(n) << 8
        for _ in 0..<8 { c = c & 0x8000 != 0 ? (c << 1) ^ 0x8005 : c << 1 }
        return c
    }
}
