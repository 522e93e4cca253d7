import Foundation

/// Markers and loudness for a finished FLAC take, in its Vorbis comment: a chapter per event
/// (`CHAPTER001=00:01:02.345`, `CHAPTER001NAME=clip ch1 Vox +4.0 dB`: the Vorbis chapter
/// extension, which ffprobe reads as chapters) and the take's loudness as ReplayGain 2.0 tags
/// (`REPLAYGAIN_TRACK_GAIN` to -18 LUFS, `REPLAYGAIN_TRACK_PEAK` its largest true peak,
/// `REPLAYGAIN_TRACK_RANGE` its loudness range, as loudgain and rsgain write them).
///
/// libsndfile writes a FLAC file's tags once, before the first frame, and the events are known
/// only as the take goes on. So the take's comment is written with room after it
/// (``reserving(_:)``: spaces, where a killed take's comment keeps them), and once the take is
/// closed the comment block is written again in the same bytes, the room left over as a
/// PADDING block: the take is never moved or copied.
public enum FLACTags {
    /// The room the comment holds for what is added when the take closes: about 1,000
    /// markers (`clip ch1 Vox +4.0 dB`: 66 bytes with its time).
    static let reserve = 64 * 1024
    /// The Vorbis chapter extension numbers chapters with three digits.
    static let mostChapters = 999

    /// The take's comment with its room after it.
    static func reserving(_ comment: String) -> String { comment + String(repeating: " ", count: reserve) }

    /// What ``finish(_:markers:rate:loudness:maxTruePeakDBTP:)`` wrote.
    public struct Written: Sendable, Equatable {
        /// Chapters written, of the markers given (the rest did not fit, or came after 999).
        public var chapters: Int
        public var markers: Int
        public var loudness: Bool
    }

    /// Writes `markers` as chapters (in the order they stand in the take) and the loudness
    /// into the closed FLAC take at `path`, in the room its comment keeps; chapters it already
    /// has are replaced, and its ReplayGain tags where `loudness` is given. Markers that do not
    /// fit are left to the clip log. Nil where the file is not a FLAC stream with a comment
    /// this can rewrite.
    @discardableResult
    public static func finish(
        _ path: String,
        markers: [CueMarkers.Marker],
        rate: Int,
        loudness: ProgrammeLoudness.Figures?,
        maxTruePeakDBTP: Double?
    ) throws(HeadroomError) -> Written? {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw RIFFChunks.failure(path, "cannot reopen the take") }
        defer { close(fd) }
        guard let room = commentRoom(fd), let (vendor, old) = parseComment(room.body) else { return nil }
        let gain = loudness?.integratedLUFS.flatMap { $0.isFinite ? -18 - $0 : nil }
        var entries = old.filter { !isChapter($0) && !(gain != nil && isReplayGain($0)) }.map { entry in
            // The room the recorder kept after its comment goes; the comment stays.
            key(entry) == "comment" ? String(entry.reversed().drop(while: { $0 == " " }).reversed()) : entry
        }
        if let gain {
            entries.append(String(format: "REPLAYGAIN_TRACK_GAIN=%+.2f dB", gain))
            if let peak = maxTruePeakDBTP, peak.isFinite {
                entries.append(String(format: "REPLAYGAIN_TRACK_PEAK=%.6f", pow(10, peak / 20)))
            }
            if let range = loudness?.rangeLU, range.isFinite {
                entries.append(String(format: "REPLAYGAIN_TRACK_RANGE=%.2f dB", range))
            }
            entries.append("REPLAYGAIN_REFERENCE_LOUDNESS=-18.00 LUFS")
        }
        let ordered = CueMarkers.inTakeOrder(markers)
        var chapters: [String] = []
        for (i, m) in ordered.prefix(mostChapters).enumerated() {
            let number = String(format: "%03d", i + 1)
            chapters += [
                "CHAPTER\(number)=\(EventText.timecode(seconds: Double(m.frame) / Double(rate)))",
                "CHAPTER\(number)NAME=\(m.label)",
            ]
        }
        // As many chapters as fit, from the first: a block is the room, or the room less
        // a PADDING block's header. An entry is its length (4 bytes) and its text.
        let fits = { (size: Int) in size == room.body.count || size + 4 <= room.body.count }
        var kept = chapters.count
        var size = commentBlock(vendor: vendor, entries).count + chapters.reduce(0) { $0 + 4 + $1.utf8.count }
        while !fits(size) && kept > 0 {
            size -= chapters[(kept - 2)..<kept].reduce(0) { $0 + 4 + $1.utf8.count }
            kept -= 2
        }
        // No room at all (a comment written without it: an earlier headroom's, another
        // program's): the file is left as it is.
        guard fits(size), kept > 0 || chapters.isEmpty else { return nil }
        let body = commentBlock(vendor: vendor, entries + chapters.prefix(kept))
        var bytes = blockHeader(type: 4, last: room.last && body.count == room.body.count, size: body.count) + body
        if body.count < room.body.count {
            let padding = room.body.count - body.count - 4
            bytes += blockHeader(type: 1, last: room.last, size: padding) + [UInt8](repeating: 0, count: padding)
        }
        let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(room.offset)) }
        guard written == bytes.count, fsync(fd) == 0 else {
            throw RIFFChunks.failure(path, "cannot write its markers and loudness into its tags")
        }
        return Written(chapters: kept / 2, markers: markers.count, loudness: gain != nil)
    }

    /// What a FLAC file's comment holds: its chapters, and whether it still keeps the room a
    /// recorder left for them (a take not finished yet). Nil where it is not a FLAC stream.
    public static func look(_ path: String) -> (chapters: Int, room: Bool)? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let room = commentRoom(fd), let (_, entries) = parseComment(room.body) else { return nil }
        let chapters = entries.filter { isChapter($0) && !key($0).hasSuffix("name") }.count
        return (chapters, entries.contains { key($0) == "comment" && $0.hasSuffix("  ") })
    }

    /// The keys headroom writes when a take closes (Vorbis keys are case-insensitive).
    private static func isChapter(_ entry: String) -> Bool {
        let k = key(entry)
        return k.hasPrefix("chapter") && k.count > 7 && k.dropFirst(7).prefix(3).allSatisfy(\.isNumber)
    }

    private static func isReplayGain(_ entry: String) -> Bool { key(entry).hasPrefix("replaygain_") }

    private static func key(_ entry: String) -> String {
        String(entry.prefix(while: { $0 != "=" })).lowercased()
    }

    /// The VORBIS_COMMENT block and the PADDING blocks right after it: where it starts (its
    /// header), its bytes and theirs together, and whether the last of them is the last block.
    private static func commentRoom(_ fd: Int32) -> (offset: Int, body: [UInt8], last: Bool)? {
        guard let blocks = FLACFrames.metadataBlocks(fd), let first = blocks.firstIndex(where: { $0.type == 4 })
        else { return nil }
        let end = blocks[(first + 1)...].prefix { $0.type == 1 }.last ?? blocks[first]
        let start = blocks[first].offset
        guard let body = FLACFrames.read(fd, end.offset + end.size - start, at: start + 4) else { return nil }
        return (start, body, end.last)
    }

    /// The vendor string and the entries of a Vorbis comment (little-endian lengths); what
    /// follows its last entry (padding read with it) is not part of it.
    private static func parseComment(_ bytes: [UInt8]) -> (vendor: [UInt8], entries: [String])? {
        var at = 0
        func length() -> Int? {
            guard at + 4 <= bytes.count else { return nil }
            defer { at += 4 }
            return Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24
        }
        guard let vendorLength = length(), at + vendorLength <= bytes.count else { return nil }
        let vendor = Array(bytes[at..<at + vendorLength])
        at += vendorLength
        guard let count = length() else { return nil }
        var entries: [String] = []
        for _ in 0..<count {
            guard let n = length(), at + n <= bytes.count else { return nil }
            entries.append(String(decoding: bytes[at..<at + n], as: UTF8.self))
            at += n
        }
        return (vendor, entries)
    }

    private static func commentBlock(vendor: [UInt8], _ entries: [String]) -> [UInt8] {
        var out = RIFFChunks.le32(UInt32(vendor.count)) + vendor + RIFFChunks.le32(UInt32(entries.count))
        for e in entries { out += RIFFChunks.le32(UInt32(e.utf8.count)) + Data(e.utf8) }
        return [UInt8](out)
    }

    private static func blockHeader(type: UInt8, last: Bool, size: Int) -> [UInt8] {
        [type | (last ? 0x80 : 0), UInt8(size >> 16 & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size & 0xFF)]
    }
}
