import CSndFile
import Foundation
import Glibc

#if canImport(FoundationXML)
import FoundationXML
#endif

/// The channel names a WAV or RF64 file carries in its iXML chunk's track list: headroom's
/// takes (`--names`), and those of field recorders that write iXML (Sound Devices, Zoom,
/// Sonosax...); a headroom FLAC or CAF take's, in its comment. `analyze` names a file's
/// channels with them where `--names` does not.
/// Names are a courtesy: a file without them, or with an iXML chunk that does not parse, is
/// read all the same, its channels numbered.
public enum CarriedNames {
    /// An iXML chunk longer than this is not read (a track list takes a few KiB).
    static let longestChunk: UInt64 = 1 << 20

    /// Channel index (from 0) -> name, for the tracks of `path`'s iXML chunk that have a
    /// position in the file from 1 to `channels` (``tracks(_:channels:)``) and a name; empty
    /// where there are none.
    public static func read(path: String, channels: Int) -> [Int: String] {
        guard let document = ixml(path) else { return tagged(path, channels: channels) }
        return tracks(document, channels: channels)
    }

    /// The names in a FLAC or CAF take's comment, as headroom writes it (`headroom take from
    /// DEV; channels: 1 Vox, 2 Gtr; originator reference ...`), for a file whose software tag
    /// says headroom; empty otherwise.
    static func tagged(_ path: String, channels: Int) -> [Int: String] {
        let tags = strings(path, [Int32(SF_STR_SOFTWARE), Int32(SF_STR_COMMENT)])
        guard tags[0].hasPrefix("headroom") else { return [:] }
        return commentNames(tags[1], channels: channels)
    }

    /// libsndfile's strings `keys` of the regular file at `path` ("" for each it does not
    /// have); none from a named pipe, which would be read away (or waited on).
    private static func strings(_ path: String, _ keys: [Int32]) -> [String] {
        let none = keys.map { _ in "" }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return none }
        defer { close(fd) }
        var st = stat()
        var info = SF_INFO()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, let f = sf_open_fd(fd, Int32(SFM_READ), &info, 0)
        else { return none }
        defer { sf_close(f) }
        return keys.map { sf_get_string(f, $0).map { String(cString: $0) } ?? "" }
    }

    /// `1 Vox, 2 Gtr` between `; channels: ` and `; originator reference`: each name runs to
    /// the next channel's number (a name may hold a comma).
    static func commentNames(_ comment: String, channels: Int) -> [Int: String] {
        guard let start = comment.range(of: "; channels: "),
            let end = comment.range(of: "; originator reference ", options: .backwards),
            start.upperBound <= end.lowerBound
        else { return [:] }
        var rest = comment[start.upperBound..<end.lowerBound]
        var names: [Int: String] = [:]
        for c in 1...max(channels, 1) {
            guard rest.hasPrefix("\(c) ") else { break }
            rest = rest.dropFirst("\(c) ".count)
            let next = c < channels ? rest.range(of: ", \(c + 1) ") : nil
            let name = next.map { rest[..<$0.lowerBound] } ?? rest
            if !name.isEmpty { names[c - 1] = String(name) }
            guard let next else { break }
            rest = rest[next.lowerBound...].dropFirst(2)
        }
        return names
    }

    /// The name a take was recorded under, as the file still says it once renamed: a WAV or
    /// RF64 file's iXML `SCENE` (headroom's takes; a field recorder's scene), or the title a
    /// FLAC or CAF take's tags give (libsndfile's `SF_STR_TITLE`). Nil where there is none.
    public static func takeName(path: String) -> String? {
        var name = ""
        if let document = ixml(path) {
            name = TrackReader.parse(document)?.scene ?? ""
        } else {
            name = strings(path, [Int32(SF_STR_TITLE)])[0]
        }
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// The iXML document of the WAV or RF64 file at `path`, up to its first NUL.
    private static func ixml(_ path: String) -> Data? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)  // a named pipe: no names, no wait
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let chunks = try? RIFFChunks(reading: fd, path: path), let offset = chunks.offset(of: "iXML"),
            let size = chunks.size(of: "iXML"), size <= longestChunk,
            let bytes = FileBytes.read(fd, Int(size), at: offset)
        else { return nil }
        return Data(bytes.prefix { $0 != 0 })
    }

    /// The tracks of an iXML document (`TRACK_LIST/TRACK`), each at its `INTERLEAVE_INDEX`:
    /// its place among the file's channels. `CHANNEL_INDEX` is the recorder's track, which
    /// is the same place only when every track was recorded: a poly file of tracks 1, 2, 5
    /// and 6 has interleave indices 1 to 4, and a mono file of track 3 has 1. A track
    /// without an interleave index is placed by its channel index (older writers).
    static func tracks(_ document: Data, channels: Int) -> [Int: String] {
        guard let reader = TrackReader.parse(document) else { return [:] }
        var names: [Int: String] = [:]
        func number(_ text: String) -> Int? { Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) }
        for track in reader.tracks {
            guard let index = number(track.interleave) ?? number(track.index),
                (1...max(channels, 1)).contains(index), names[index - 1] == nil
            else { continue }
            let name = track.name.trimmingCharacters(in: .whitespacesAndNewlines)
            if !name.isEmpty { names[index - 1] = name }
        }
        return names
    }

    /// Collects each `TRACK`'s `CHANNEL_INDEX`, `INTERLEAVE_INDEX` and `NAME` text, and the
    /// document's `SCENE`.
    private final class TrackReader: NSObject, XMLParserDelegate {
        var tracks: [(index: String, interleave: String, name: String)] = []
        var scene = ""
        private var path: [String] = []

        /// `document` read, or nil where it does not parse.
        static func parse(_ document: Data) -> TrackReader? {
            let reader = TrackReader()
            let parser = XMLParser(data: document)
            parser.delegate = reader
            return parser.parse() ? reader : nil
        }
        private var track: (index: String, interleave: String, name: String)?

        func parser(
            _ parser: XMLParser,
            didStartElement element: String,
            namespaceURI: String?,
            qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            path.append(element)
            if element == "TRACK" && path.dropLast().last == "TRACK_LIST" { track = ("", "", "") }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if path == ["BWFXML", "SCENE"] { scene += string }
            guard track != nil, path.dropLast().last == "TRACK" else { return }
            switch path.last {
            case "CHANNEL_INDEX": track!.index += string
            case "INTERLEAVE_INDEX": track!.interleave += string
            case "NAME": track!.name += string
            default: break
            }
        }

        func parser(
            _ parser: XMLParser,
            didEndElement element: String,
            namespaceURI: String?,
            qualifiedName: String?
        ) {
            if element == "TRACK", let t = track, path.dropLast().last == "TRACK_LIST" {
                tracks.append(t)
                track = nil
            }
            path.removeLast()
        }
    }
}
