import Foundation

/// Turns `--name` (strftime codes plus `%n`, a take counter) into take file names inside
/// `--dir`, never overwriting an existing take and never leaving the folder.
public struct TakeNamer: Sendable {
    /// `--dir`, or where it went when it was renamed while recording (``TakeRegistry``).
    public private(set) var directory: String
    public let template: String
    public let fileFormat: TakeFileFormat
    private var counter = 0
    /// The folder whose `%n` numbers the counter has been brought past (looked at once: a
    /// month of one-minute takes is 86,000 files to list before every take).
    private var counted: String?
    /// The next take's name as it is (no strftime, no counter), once: the take that follows
    /// on from one a device loss cut (`take-003-2`, or `2026-12-06/take-003-2`).
    public var followOn: String?

    /// Checks the template. A `/` in it makes folders inside `--dir` (`%Y-%m-%d/take-%H%M%S`:
    /// a folder a day, as field recorders keep them), made as takes need them; a name that
    /// would leave `--dir` (`..`, a leading `/`) is refused, and so is a hidden one. The
    /// container's extension, given as people give it to arecord (`--name take-%n.wav`), is
    /// the one the take gets, not a second one (`take-001.wav.wav`). strftime codes in a
    /// `--dir` not made yet are refused: it is one folder, taken as written.
    public init(directory: String, template: String, fileFormat: TakeFileFormat) throws(HeadroomError) {
        self.directory = directory
        let ext = "." + fileFormat.fileExtension
        self.template =
            template.count > ext.count && template.lowercased().hasSuffix(ext)
            ? String(template.dropLast(ext.count)) : template
        self.fileFormat = fileFormat
        // `--name song.flac` with WAV takes would make song.flac.wav: a container asked for.
        let asked = (self.template as NSString).pathExtension.lowercased()
        if asked != fileFormat.fileExtension, TakeFileFormat.audioFileExtensions.contains(asked) {
            let format = TakeFileFormat(rawValue: asked)
            throw HeadroomError(
                .usage,
                "--name \"\(template)\" ends in .\(asked), but takes are \(fileFormat.rawValue) (--file-format); "
                    + (format.map {
                        "for \($0.rawValue) takes add --file-format \($0.rawValue), or leave .\(asked) out"
                    }
                        ?? "headroom writes \(TakeFileFormat.spelledOut): leave .\(asked) out")
            )
        }
        let sample = Self.expand(self.template, date: Date(), counter: 1)
        guard !template.isEmpty, !sample.isEmpty else {
            throw HeadroomError(.usage, "--name must not be empty")
        }
        let parts = sample.split(separator: "/", omittingEmptySubsequences: false)
        guard !sample.hasPrefix("/"), !parts.contains(where: { $0 == "." || $0 == ".." }) else {
            throw HeadroomError(
                .usage,
                "--name \"\(template)\" would write outside --dir (\(sample)); use --dir for the folder and --name for the file name"
            )
        }
        guard !parts.contains(where: \.isEmpty) else {
            throw HeadroomError(
                .usage,
                "--name \"\(template)\" has an empty name \(sample.hasSuffix("/") ? "after its last /" : "between two slashes") (\(sample)); a / makes a folder inside --dir, and the take's name follows it"
            )
        }
        guard !parts.contains(where: { $0.hasPrefix(".") }) else {
            throw HeadroomError(
                .usage,
                "--name \"\(template)\" would make hidden \(parts.last!.hasPrefix(".") ? "files" : "folders") (\(sample)\(ext)), which ls and file managers do not show"
            )
        }
        if !FileManager.default.fileExists(atPath: directory), let coded = Self.datedFolder(directory) {
            throw HeadroomError(
                .usage,
                "--dir \"\(directory)\" is one folder, taken as written (it would be made with the % codes in its name); for dated folders, put the codes in --name: --dir \(FilePaths.shellQuoted(coded.folder)) --name \"\(coded.codes)/\(template)\""
            )
        }
        // The longest name a take of this template gets: its log (`.clips.jsonl`), after a
        // `-NN` suffix for a name already taken, and review's `.labels.txt` is shorter; or a
        // folder's name, where it is longer.
        let longest = max(
            parts.last!.utf8.count + 4 + ".clips.jsonl".utf8.count,
            parts.dropLast().map(\.utf8.count).max() ?? 0
        )
        let allowed = Self.nameMax(directory)
        if longest > allowed {
            throw HeadroomError(
                .cantCreate,
                "--name \"\(String(template.prefix(40)))...\" makes file names of \(longest) bytes with \".clips.jsonl\"; \(directory) allows at most \(allowed)"
            )
        }
    }

    /// Whether takes go into folders inside `--dir` that are made as they are needed.
    public var makesFolders: Bool { template.contains("/") }

    /// `--dir` split where strftime would first change it (`takes/%Y-%m-%d`: `takes` and
    /// `%Y-%m-%d`); nil when it has no codes.
    static func datedFolder(_ directory: String) -> (folder: String, codes: String)? {
        let parts = directory.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard let i = parts.firstIndex(where: { expand($0, date: Date(), counter: 1) != $0 }) else { return nil }
        let folder = parts[..<i].joined(separator: "/")
        return (folder.isEmpty ? (directory.hasPrefix("/") ? "/" : ".") : folder, parts[i...].joined(separator: "/"))
    }

    /// The name, within `--dir`, that takes following on from `take` after a reconnect are
    /// named after (`take-003` for `take-003-2`), with the folders `--name` made
    /// (`2026-12-06/take-003`), so they go beside it.
    public static func followOnBase(of take: String, directory: String) -> String {
        let folder = directory.hasSuffix("/") ? directory : directory + "/"
        let inside =
            take.hasPrefix(folder) ? String(take.dropFirst(folder.count)) : URL(fileURLWithPath: take).lastPathComponent
        return (inside as NSString).deletingPathExtension
    }

    /// The takes' folder was renamed (or moved within its file system) to `directory`: the
    /// next takes go there.
    mutating func moved(to directory: String) { self.directory = directory }

    /// The longest file name `directory` takes, asked of the nearest folder that exists
    /// (`--dir` may not be created yet: it is checked before anything is made).
    static func nameMax(_ directory: String) -> Int {
        var folder = directory.isEmpty ? "." : directory
        while true {
            let limit = pathconf(folder, Int32(_PC_NAME_MAX))
            if limit > 0 { return limit }
            let next = FilePaths.directory(of: folder)
            if next == folder { return 255 }
            folder = next
        }
    }

    /// The next take's path without extension (`dir/take-20261124-153000`), free of existing files.
    /// `%n` goes on from the highest number already in its folder (`take-006` after take-005,
    /// even where take-003 was deleted): takes sort in the order they were recorded.
    public mutating func next(date: Date = Date()) -> String {
        // `--dir takes/` (a shell's completion) names takes/take-..., not takes//take-...
        let folder = directory.hasSuffix("/") ? directory : directory + "/"
        if let name = followOn {
            followOn = nil
            return free(folder + name)
        }
        guard template.contains("%n") else { return free(folder + Self.expand(template, date: date, counter: 0)) }
        if let (scanned, highest) = highestCounter(date: date, unlessIn: counted) {
            counted = scanned
            counter = max(counter, highest)
        }
        while true {
            counter += 1
            let base = folder + Self.expand(template, date: date, counter: counter)
            if !exists(base) { return base }
        }
    }

    /// `base`, or where a take has it, the first of `base-2`, `base-3`... that is free.
    private func free(_ base: String) -> String {
        guard exists(base) else { return base }
        var suffix = 2
        while exists(base + "-\(suffix)") { suffix += 1 }
        return base + "-\(suffix)"
    }

    /// The highest `%n` among the names already where the next one goes: the first part of the
    /// name with `%n` in it, matched against the entries of the folder it goes in (`take-%n`:
    /// take-005.wav, take-005.clips.jsonl, take-005-2.wav after a reconnect; `%n/take`: the
    /// folders 005 and 006, not a file named 007), 0 when there are none; nil when that folder
    /// is `scanned` (or the name has no `%n`).
    func highestCounter(date: Date, unlessIn scanned: String? = nil) -> (folder: String, highest: Int)? {
        let marker = "\u{2}N\u{2}"
        let expanded = Self.expand(template.replacingOccurrences(of: "%n", with: marker), date: date, counter: 0)
        let parts = expanded.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard let i = parts.firstIndex(where: { $0.contains(marker) }) else { return nil }
        let pieces = parts[i].components(separatedBy: marker)
        let (prefix, after, last) = (pieces[0], pieces[1], pieces.count == 2)
        let folder = ([directory.isEmpty ? "." : directory] + parts[..<i]).joined(separator: "/")
        guard folder != scanned else { return nil }
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return (folder, 0) }
        var highest = 0
        for entry in entries where entry.hasPrefix(prefix) {
            let rest = entry.dropFirst(prefix.count)
            let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
            // As %n writes them (001, 1234), and not a date's 8 digits (take-20261206-...).
            guard (3...6).contains(digits.count), let n = Int(digits), String(format: "%03d", n) == digits else {
                continue
            }
            let tail = rest.dropFirst(digits.count)
            guard tail.hasPrefix(after) else { continue }
            if i < parts.count - 1 {
                // A folder of takes (`%n/take`).
                var st = stat()
                guard !last || tail.count == after.count, lstat(folder + "/" + entry, &st) == 0,
                    st.st_mode & S_IFMT == S_IFDIR
                else { continue }
            } else if last {
                // The take, its log, its labels, a part after a reconnect (-2).
                let end = tail.dropFirst(after.count)
                let suffix = end.hasPrefix("-") ? end.dropFirst().prefix(while: { $0.isASCII && $0.isNumber }) : ""
                let more = end.dropFirst(end.hasPrefix("-") ? 1 + suffix.count : 0)
                guard
                    end.isEmpty || end.hasPrefix(".")
                        || (suffix.count >= 1 && suffix.count <= 3 && (more.isEmpty || more.hasPrefix(".")))
                else { continue }
            }
            highest = max(highest, n)
        }
        return (folder, highest)
    }

    /// The take file and its clip log both count: neither may be overwritten, and a
    /// symlink (even a dangling one) counts as taken. Only a hint: ``TakeRegistry``
    /// creates both with `O_EXCL` and moves on when another recorder got there first.
    private func exists(_ base: String) -> Bool {
        var st = stat()
        return lstat(base + "." + fileFormat.fileExtension, &st) == 0 || lstat(base + ".clips.jsonl", &st) == 0
    }

    /// strftime in local time, with `%n` as a 3-digit counter (not strftime's newline).
    public static func expand(_ template: String, date: Date, counter: Int) -> String {
        let marker = "\u{1}N\u{1}"
        let protected = template.replacingOccurrences(of: "%n", with: marker)
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        localtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 1024)
        let n = strftime(&buffer, buffer.count, protected, &parts)
        let expanded =
            n > 0 ? String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self) : protected
        return expanded.replacingOccurrences(of: marker, with: String(format: "%03d", counter))
    }
}
