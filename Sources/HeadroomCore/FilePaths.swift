/// Path arithmetic that Foundation on Linux gets wrong.
public enum FilePaths {
    /// The folder part of `path`, as `NSString.deletingLastPathComponent` gives it: `""` for
    /// a bare name, `"/"` for a name in the root, trailing slashes ignored. Without it:
    /// swift-corelibs-foundation traps on a path of one character (`"o"`, `"o/"`, `"."`), and
    /// `record --dir o`, `review --html r` and `calibrate --save x` crashed.
    public static func folder(of path: String) -> String {
        var p = Substring(path)
        while p.count > 1, p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return "" }
        var folder = p[..<slash]
        while folder.hasSuffix("/") { folder = folder.dropLast() }
        return folder.isEmpty ? "/" : String(folder)
    }

    /// "PATH: no such file" (`what`), and why where the name is not UTF-8: Swift's strings
    /// hold UTF-8 only, so such a name (Latin-1 from an old recorder's card, a Windows archive)
    /// reaches headroom, from the command line or a folder, with U+FFFD in place of its bytes,
    /// and no file has that name.
    public static func notFound(_ path: String, _ what: String = "no such file") -> String {
        guard path.contains("\u{FFFD}") else { return "\(path): \(what)" }
        return
            "\(path): \(what) by that name (a name that is not UTF-8 reaches headroom with \u{FFFD} in place of its bytes: rename it to UTF-8, e.g. convmv -f latin1 -t utf8 --notest NAME)"
    }

    /// The folder to open or `stat` for `path`: ``folder(of:)``, and `"."` for a bare name.
    public static func directory(of path: String) -> String {
        let folder = folder(of: path)
        return folder.isEmpty ? "." : folder
    }
}
