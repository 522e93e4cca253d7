import Foundation
import Glibc

/// Path arithmetic that Foundation on Linux gets wrong.
public enum FilePaths {
    /// Whether take `a` was recorded before take `b`, as their names tell: numbers by their
    /// value (t-999 before t-1000, as `ls -v`), and a take before the one that follows on from
    /// it (take-003 before take-003-2, where `.` sorts after `-`).
    public static func recordedBefore(_ a: String, _ b: String) -> Bool {
        // The extension off by hand: NSString's path methods trap on some short paths here.
        func base(_ p: String) -> String {
            guard let dot = p.lastIndex(of: "."), !p[dot...].contains("/") else { return p }
            return String(p[..<dot])
        }
        let (x, y) = (base(a), base(b))
        switch x.compare(y, options: .numeric) {
        case .orderedAscending: return true
        case .orderedDescending: return false
        case .orderedSame: return a < b
        }
    }

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

    /// `path` as one word for a shell, in single quotes (a quote inside as `'\''`), for a
    /// command line a message suggests.
    public static func shellQuoted(_ path: String) -> String {
        "'" + path.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// The folder to open or `stat` for `path`: ``folder(of:)``, and `"."` for a bare name.
    public static func directory(of path: String) -> String {
        let folder = folder(of: path)
        return folder.isEmpty ? "." : folder
    }

    /// `mkdir -p path` (mode 0777 less the umask): nil, or the first folder that could not
    /// be made and why (errno). Foundation's own says "The operation could not be completed"
    /// and not which folder.
    public static func makeFolders(_ path: String) -> (folder: String, errno: Int32)? {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += prefix.isEmpty || prefix.hasSuffix("/") ? part : "/" + part
            if mkdir(prefix, 0o777) != 0 && errno != EEXIST { return (prefix, errno) }
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            return (path, ENOTDIR)
        }
        return nil
    }

    /// The absolute path the file or folder open on `descriptor` has now (it may have been
    /// renamed since it was opened), as the kernel keeps it (`/proc/self/fd`); nil when it
    /// has none (deleted) or cannot be read.
    public static func currentPath(of descriptor: Int32) -> String? {
        guard let path = target(of: "/proc/self/fd/\(descriptor)") else { return nil }
        return path.hasPrefix("/") && !path.hasSuffix(" (deleted)") ? path : nil
    }

    /// What the symbolic link at `path` holds (readlink(2)); nil for anything else.
    static func target(of path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// An absolute path as a person gave its kind: relative to the working folder when
    /// `given` was relative and `absolute` lies inside that folder.
    public static func shown(_ absolute: String, like given: String) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return absolute }
        let here = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard !given.hasPrefix("/"), here != "/", absolute.hasPrefix(here + "/") else { return absolute }
        return String(absolute.dropFirst(here.count + 1))
    }

    /// Where the symbolic link at `path` points, when nothing is there; nil for anything else.
    public static func danglingLink(_ path: String) -> String? {
        var st = stat()
        guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFLNK, stat(path, &st) != 0, errno == ENOENT else {
            return nil
        }
        return target(of: path) ?? "?"
    }

    /// What a small file a person named holds (a config file, a calibration file), or why
    /// it cannot be read, for an error in the caller's words.
    public enum Contents {
        case data(Data)
        /// No such file (or a link to nothing).
        case missing
        case folder
        /// The system's reason: "Permission denied".
        case unreadable(String)
    }

    public static func contents(of path: String) -> Contents {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            return errno == ENOENT || errno == ENOTDIR ? .missing : .unreadable(String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR { return .folder }
        do {
            return .data(try FileHandle(fileDescriptor: fd, closeOnDealloc: false).readToEnd() ?? Data())
        } catch {
            return .unreadable(String(cString: strerror(errno)))
        }
    }

    /// Whether `path` (links followed) is a regular file; nil when it cannot be looked at (no
    /// such file, a dangling link).
    public static func isRegularFile(_ path: String) -> Bool? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return st.st_mode & S_IFMT == S_IFREG
    }
}

/// Which file a path or descriptor is (its device and inode), to tell the same file under
/// two names, or a file replaced since it was opened.
public struct FileIdentity: Sendable, Equatable {
    public var device: UInt64
    public var inode: UInt64

    public init(device: UInt64, inode: UInt64) {
        (self.device, self.inode) = (device, inode)
    }

    init(_ st: stat) {
        (device, inode) = (UInt64(st.st_dev), UInt64(st.st_ino))
    }

    /// The file `descriptor` is open on.
    public init?(descriptor: Int32) {
        var st = stat()
        guard fstat(descriptor, &st) == 0 else { return nil }
        self.init(st)
    }

    /// The file at `path`, following symbolic links; with `regularOnly`, nil unless `path`
    /// itself is a regular file (not a link to one).
    public init?(path: String, regularOnly: Bool = false) {
        var st = stat()
        if regularOnly {
            guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        } else {
            guard stat(path, &st) == 0 else { return nil }
        }
        self.init(st)
    }
}
