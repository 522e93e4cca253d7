import Foundation

/// Cue markers for a finished WAV/RF64 take: one per clip event, so editors show where
/// it clipped. libsndfile accepts cues only before the first frame is written, and the
/// events are known only as the take goes on, so the `cue ` chunk (with a `LIST adtl`
/// of labels) is appended to the closed file and the RIFF (or ds64) size is fixed up.
public enum CueMarkers {
    /// One marker: a frame and its label ("clip ch1 Kick").
    public struct Marker: Sendable, Equatable {
        public var frame: Int
        public var label: String
        public init(frame: Int, label: String) {
            self.frame = frame
            self.label = label
        }
    }

    /// Appends `markers` to the closed RIFF/RF64 file at `path`. Does nothing for none.
    public static func append(_ markers: [Marker], to path: String) throws(HeadroomError) {
        guard !markers.isEmpty else { return }
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw failure(path, "cannot reopen the take") }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 28)
        guard pread(fd, &header, 28, 0) == 28, Array(header[8..<12]) == Array("WAVE".utf8) else {
            throw HeadroomError(.io, "\(path): not a WAV file; cannot add cue markers")
        }
        let isRF64 = Array(header[0..<4]) == Array("RF64".utf8)
        var end = UInt64(lseek(fd, 0, SEEK_END))
        var chunks = Data()
        if end % 2 == 1 {  // chunks start on even offsets
            chunks.append(0)
        }
        chunks += cueChunk(markers)
        chunks += labelList(markers)
        guard write(fd, chunks, at: end) else { throw failure(path, "cannot add cue markers") }
        end += UInt64(chunks.count)
        let riffSize = end - 8
        if isRF64 {
            // RF64: the RIFF size lives in ds64 (after "RF64", size, "WAVE", "ds64", size).
            guard Array(header[12..<16]) == Array("ds64".utf8) else {
                throw HeadroomError(.io, "\(path): RF64 without ds64; cannot add cue markers")
            }
            guard write(fd, le64(riffSize), at: 20) else { throw failure(path, "cannot add cue markers") }
        } else {
            guard riffSize <= UInt64(UInt32.max) else {
                ftruncate(fd, off_t(end - UInt64(chunks.count)))
                throw HeadroomError(.io, "\(path): no room for cue markers past 4 GiB in a RIFF file")
            }
            guard write(fd, le32(UInt32(riffSize)), at: 4) else { throw failure(path, "cannot add cue markers") }
        }
        fsync(fd)
    }

    /// The cue points a RIFF/RF64 file already has, found by walking its chunks (libsndfile
    /// does not report the cues of an RF64 file); nil when it is not a RIFF file.
    public static func existingCount(in path: String) -> Int? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        func read(_ count: Int, at offset: UInt64) -> [UInt8]? {
            var bytes = [UInt8](repeating: 0, count: count)
            return pread(fd, &bytes, count, off_t(offset)) == count ? bytes : nil
        }
        func u32(_ b: [UInt8], _ i: Int) -> UInt64 { (0..<4).reduce(0) { $0 | UInt64(b[i + $1]) << (8 * $1) } }
        func u64(_ b: [UInt8], _ i: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[i + $1]) << (8 * $1) } }
        guard let head = read(12, at: 0), Array(head[8..<12]) == Array("WAVE".utf8) else { return nil }
        let kind = String(decoding: head[0..<4], as: UTF8.self)
        guard kind == "RIFF" || kind == "RF64" else { return nil }
        var end = UInt64(lseek(fd, 0, SEEK_END))
        var dataSize: UInt64? = nil
        var cues = 0
        var offset: UInt64 = 12
        while offset + 8 <= end, let chunk = read(8, at: offset) {
            let id = String(decoding: chunk[0..<4], as: UTF8.self)
            var size = u32(chunk, 4)
            if id == "ds64", let ds = read(16, at: offset + 8) {
                dataSize = u64(ds, 8)
            } else if id == "data" && size == 0xFFFF_FFFF, let real = dataSize {
                size = real
            } else if id == "cue ", let count = read(4, at: offset + 8) {
                cues += Int(u32(count, 0))
            }
            offset += 8 + size + size % 2
            if size == 0xFFFF_FFFF && dataSize == nil { end = 0 }  // a size we cannot follow
        }
        return cues
    }

    private static func write(_ fd: Int32, _ data: Data, at offset: UInt64) -> Bool {
        data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) == $0.count }
    }

    private static func failure(_ path: String, _ what: String) -> HeadroomError {
        HeadroomError(.io, "\(path): \(what): \(String(cString: strerror(errno)))")
    }

    static func cueChunk(_ markers: [Marker]) -> Data {
        var body = le32(UInt32(markers.count))
        for (i, m) in markers.enumerated() {
            body += le32(UInt32(i + 1))  // cue point id
            body += le32(UInt32(truncatingIfNeeded: m.frame))  // position (sample frames, play order)
            body += Data("data".utf8)
            body += le32(0)  // chunk start
            body += le32(0)  // block start
            body += le32(UInt32(truncatingIfNeeded: m.frame))  // sample offset
        }
        return Data("cue ".utf8) + le32(UInt32(body.count)) + body
    }

    static func labelList(_ markers: [Marker]) -> Data {
        var body = Data("adtl".utf8)
        for (i, m) in markers.enumerated() {
            var text = Data(m.label.utf8) + Data([0])
            if text.count % 2 == 1 { text += Data([0]) }
            body += Data("labl".utf8) + le32(UInt32(4 + m.label.utf8.count + 1)) + le32(UInt32(i + 1)) + text
        }
        return Data("LIST".utf8) + le32(UInt32(body.count)) + body
    }

    static func le32(_ v: UInt32) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
    static func le64(_ v: UInt64) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
}
