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
        guard let handle = FileHandle(forUpdatingAtPath: path) else {
            throw HeadroomError(.io, "\(path): cannot reopen the take to add cue markers")
        }
        defer { try? handle.close() }
        do {
            let header = try handle.read(upToCount: 28) ?? Data()
            guard header.count >= 12, header[8..<12] == Data("WAVE".utf8) else {
                throw HeadroomError(.io, "\(path): not a WAV file; cannot add cue markers")
            }
            let isRF64 = header[0..<4] == Data("RF64".utf8)
            var end = try handle.seekToEnd()
            if end % 2 == 1 {  // chunks start on even offsets
                try handle.write(contentsOf: Data([0]))
                end += 1
            }
            var chunks = Data()
            chunks += cueChunk(markers)
            chunks += labelList(markers)
            try handle.write(contentsOf: chunks)
            let riffSize = end + UInt64(chunks.count) - 8
            if isRF64 {
                // RF64: the RIFF size lives in ds64 (right after "RF64", size, "WAVE", "ds64", size).
                guard header.count >= 28, header[12..<16] == Data("ds64".utf8) else {
                    throw HeadroomError(.io, "\(path): RF64 without ds64; cannot add cue markers")
                }
                try handle.seek(toOffset: 20)
                try handle.write(contentsOf: le64(riffSize))
            } else {
                guard riffSize <= UInt64(UInt32.max) else {
                    throw HeadroomError(.io, "\(path): no room for cue markers past 4 GiB in a RIFF file")
                }
                try handle.seek(toOffset: 4)
                try handle.write(contentsOf: le32(UInt32(riffSize)))
            }
            try handle.synchronize()
        } catch let error as HeadroomError {
            throw error
        } catch {
            throw HeadroomError(.io, "\(path): cannot add cue markers: \(error.localizedDescription)")
        }
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
