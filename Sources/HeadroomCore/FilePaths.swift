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

    /// The folder to open or `stat` for `path`: ``folder(of:)``, and `"."` for a bare name.
    public static func directory(of path: String) -> String {
        let folder = folder(of: path)
        return folder.isEmpty ? "." : folder
    }
}
