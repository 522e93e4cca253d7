import Foundation

/// A clip log on disk: each line is written with one `write(2)` as soon as it is known,
/// so a log cut short by a crash still parses line by line; `sync()` pushes it to the disk.
public final class ClipLogFile {
    public let path: String
    private var fd: Int32
    /// Set after the first failed write (disk full); later lines are not attempted.
    public private(set) var failure: String?

    /// The log at `path`, written through `fd` (a new empty file, created with its take
    /// by ``TakeRegistry``); the log owns `fd` from here on.
    public init(fd: Int32, path: String) {
        self.path = path
        self.fd = fd
    }

    deinit { close() }

    /// Appends one line.
    public func append(_ line: JSONValue) {
        guard fd >= 0, failure == nil else { return }
        var bytes = Array((line.encoded() + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                failure = String(cString: strerror(errno))
                return
            }
            offset += n
        }
        bytes.removeAll()
    }

    /// Flushes the log to the disk (once a second while recording, and at the end).
    public func sync() {
        if fd >= 0 { fdatasync(fd) }
    }

    public func close() {
        if fd >= 0 {
            fdatasync(fd)
            Glibc.close(fd)
            fd = -1
        }
    }
}
