import Foundation

extension StringProtocol {
    /// Its lines, each ended by "\n" or "\r\n" (a file that went through Windows: a Swift
    /// string holds "\r\n" as one Character, which splitting on "\n" does not see), without
    /// their ends; after a last end, an empty line.
    public func splitLines() -> [SubSequence] {
        split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
    }
}

/// Writes a report file (HTML, labels, a calibration). Outputs never replace inputs or
/// audio: a path that is an audio file, a clip log, or one of the paths being read is
/// refused, and any other existing file is replaced only with `--force` (SPEC's exit 73),
/// or when it is a report headroom sealed and nobody has changed since (``sealed(_:)``,
/// ``sealed(json:)``).
/// So `review --html takes/*.wav`, where the shell made the first take the report's
/// name, refuses instead of turning a take into HTML, and `review --html report.html
/// takes` after the next session brings its own report up to date.
public enum TextFile {
    /// Checks that `path` may be written (before any work is done, so a slip costs nothing).
    /// - Parameters:
    ///   - option: the option that named the file (`--html`), for the message.
    ///   - inputs: the files being read; none of them may be the output.
    ///   - force: an existing file that is none of the above may be replaced.
    /// - Returns: whether a file is there to be replaced (`force`, or one headroom sealed).
    @discardableResult
    public static func check(
        _ path: String,
        option: String,
        inputs: [String] = [],
        force: Bool
    ) throws(HeadroomError) -> Bool {
        guard !path.isEmpty else { throw HeadroomError(.usage, "\(option) is empty: name a file") }
        var st = stat()
        guard lstat(path, &st) == 0 else {
            let folder = FilePaths.directory(of: path)
            var dir = stat()
            if stat(folder, &dir) != 0 {
                throw HeadroomError(.cantCreate, "cannot write \(path): the folder \(folder) does not exist")
            }
            return false
        }
        let refuse = { (why: String) in HeadroomError(.cantCreate, "\(option) \(path): \(why); nothing was written") }
        // A folder first: `--html takes takes` is a folder, whichever else it is.
        if (st.st_mode & S_IFMT) == S_IFDIR { throw refuse("that is a folder") }
        if inputs.contains(where: { FileIdentity(path: $0) == FileIdentity(st) }) {
            throw refuse("that is one of the files being read")
        }
        if isAudio(path) { throw refuse("that is an audio file, and headroom never writes over audio") }
        if isClipLog(path) { throw refuse("that is a clip log, and headroom never writes over one") }
        if !force && !isSealed(path) {
            throw refuse(
                isSealed(path, anyContent: true)
                    ? "headroom wrote it, but it has been changed since; add --force to replace it"
                    : "the file exists; add --force to replace it"
            )
        }
        return true
    }

    /// `text` (a report headroom writes: HTML) with a last line that seals it: a comment
    /// holding a hash of what comes before. A later run finds the file its own and unchanged
    /// (``isSealed(_:anyContent:)``) and replaces it without `--force`; a report a person
    /// edited, or any other file, still needs `--force`.
    public static func sealed(_ text: String) -> String {
        text + sealPrefix + seal(Array(text.utf8)) + " -->\n"
    }

    private static let sealPrefix = "<!-- written by headroom; its hash: "

    /// `object` (a JSON object headroom writes to a file: a `calibrate --save` soundcheck) on
    /// one line, with a last member that seals it: `"headroom_seal"`, a hash of the object as
    /// it reads without that member. JSON has no comments, and a member any reader skips keeps
    /// the file the object SPEC prints (`record --reference`, jq and Python read it as
    /// before). So the next soundcheck replaces the last (`calibrate --save levels.json` run
    /// again after turning the gains), and one a person edited still needs `--force`.
    public static func sealed(json object: JSONValue) -> String {
        guard case .object(let pairs) = object else { return object.encoded() + "\n" }
        let hash = seal(Array(object.encoded().utf8))
        return JSONValue.object(pairs + [(jsonSealKey, .string(hash))]).encoded() + "\n"
    }

    private static let jsonSealKey = "headroom_seal"

    /// FNV-1a, 64 bits, in hex: enough to see an edit, not meant to resist a forger.
    private static func seal(_ bytes: some Sequence<UInt8>) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Whether `path` is a regular file that ends in headroom's seal over what it holds
    /// (`anyContent`: whatever the hash says, so an edited report can be told apart).
    static func isSealed(_ path: String, anyContent: Bool = false) -> Bool {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size < 256 << 20,
            let data = FileManager.default.contents(atPath: path)
        else { return false }
        let bytes = Array(data)
        guard bytes.last == 0x0A else { return false }
        let start = bytes.dropLast().lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        let last = String(decoding: bytes[start...], as: UTF8.self)
        if start == 0, let json = jsonSealed(bytes) { return anyContent || json }
        guard last.hasPrefix(sealPrefix), last.hasSuffix(" -->\n") else { return false }
        return anyContent || last == sealPrefix + seal(bytes[..<start]) + " -->\n"
    }

    /// For a one-line JSON object that ends in headroom's seal (``sealed(json:)``), whether
    /// the hash is of what it holds; nil for anything else.
    private static func jsonSealed(_ line: [UInt8]) -> Bool? {
        // ,"headroom_seal":"0123456789abcdef"}\n
        let tail = Array(",\"\(jsonSealKey)\":\"".utf8)
        let end = line.count - 3 - 16
        guard line.first == UInt8(ascii: "{"), end > tail.count,
            line[(end - tail.count)..<end].elementsEqual(tail),
            line[(line.count - 3)...].elementsEqual(Array("\"}\n".utf8))
        else { return nil }
        let hash = String(decoding: line[end..<(end + 16)], as: UTF8.self)
        return hash == seal(line[..<(end - tail.count)] + [UInt8(ascii: "}")])
    }

    /// Writes `text` to `path` after ``check(_:option:inputs:force:)``, through a temporary
    /// file in the same folder renamed into place: a reader never sees half a report, and
    /// a file that appeared meanwhile is not replaced without `force`. A file that already
    /// holds exactly `text` (what headroom wrote before, untouched since: `review --labels`
    /// run again) is left as it is, and the result is false; it cannot be audio, a clip log or
    /// an input, since it holds a report.
    @discardableResult
    public static func write(
        _ text: String,
        to path: String,
        option: String,
        inputs: [String] = [],
        force: Bool
    ) throws(HeadroomError) -> Bool {
        if holds(text, at: path) { return false }
        let replacing = try check(path, option: option, inputs: inputs, force: force)
        var template = Array((FilePaths.directory(of: path) + "/.headroom-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw HeadroomError(.cantCreate, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        let temporary = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var failure: String? = nil
        if !FileBytes.write(fd, Array(text.utf8)) { failure = String(cString: strerror(errno)) }
        fchmod(fd, 0o644)
        if failure == nil && fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        close(fd)
        if failure == nil {
            // Where nothing was there to replace, link(2) fails if the name was taken
            // meanwhile: never replaced.
            let placed = replacing ? rename(temporary, path) == 0 : link(temporary, path) == 0
            if !placed { failure = String(cString: strerror(errno)) }
        }
        unlink(temporary)
        if let failure { throw HeadroomError(.cantCreate, "cannot write \(path): \(failure)") }
        return true
    }

    /// Whether `path` is a regular file that already holds exactly `text`.
    static func holds(_ text: String, at path: String) -> Bool {
        var st = stat()
        let expected = Array(text.utf8)
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, Int(st.st_size) == expected.count,
            let data = FileManager.default.contents(atPath: path)
        else { return false }
        return data.elementsEqual(expected)
    }

    /// An audio file by name or by its first bytes (RIFF, RF64, BW64, W64, AIFF, FLAC, Ogg, CAF).
    public static func isAudio(_ path: String) -> Bool {
        let known: Set<String> = [
            "wav", "wave", "bwf", "rf64", "w64", "flac", "caf", "aif", "aiff", "aifc", "ogg", "oga", "opus", "mp3",
        ]
        if known.contains((path as NSString).pathExtension.lowercased()) { return true }
        let head = firstBytes(path, 4)
        let magic = ["RIFF", "RF64", "BW64", "riff", "FORM", "fLaC", "OggS", "caff"].map { Array($0.utf8) }
        return magic.contains(head)
    }

    /// A clip log by name, or a file whose first line is a clip log's `take` header.
    public static func isClipLog(_ path: String) -> Bool {
        if path.hasSuffix(".clips.jsonl") { return true }
        let head = String(decoding: firstBytes(path, 64), as: UTF8.self)
        return head.hasPrefix("{\"type\":\"take\"")
    }

    private static func firstBytes(_ path: String, _ count: Int) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: count)
        let n = read(fd, &buffer, count)
        return n > 0 ? Array(buffer.prefix(n)) : []
    }
}
