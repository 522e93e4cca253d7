import Foundation  // ContiguousBytes (Data, [UInt8])
import Glibc

/// Bytes of an open file, whole or not at all: the one `pread` and the one write loop that
/// takes, logs, metrics files and reports are read and written with.
public enum FileBytes {
    /// `count` bytes at `offset` (the file's offset is not moved); nil where fewer are there.
    public static func read(_ fd: Int32, _ count: Int, at offset: UInt64) -> [UInt8]? {
        guard count >= 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: count)
        return pread(fd, &bytes, count, off_t(offset)) == count ? bytes : nil
    }

    /// Writes all of `bytes` at `offset` with `pwrite` (the file's offset is not moved).
    public static func write(_ fd: Int32, _ bytes: some ContiguousBytes, at offset: UInt64) -> Bool {
        whole(bytes) { pwrite(fd, $0, $1, off_t(offset) + off_t($2)) }
    }

    /// Writes all of `bytes` at the file's offset with `write` (a pipe's, or the end of a
    /// file opened with `O_APPEND`).
    public static func write(_ fd: Int32, _ bytes: some ContiguousBytes) -> Bool {
        whole(bytes) { pointer, count, _ in Glibc.write(fd, pointer, count) }
    }

    /// As many calls of `call(from, count, done)` as it takes: false, with `errno` saying
    /// why, when one fails (a disk that fills part-way through a write takes what fits, and
    /// only the next write says ENOSPC). EINTR is tried again.
    private static func whole(
        _ bytes: some ContiguousBytes,
        _ call: (UnsafeRawPointer, Int, Int) -> Int
    ) -> Bool {
        bytes.withUnsafeBytes { bytes in
            var done = 0
            while done < bytes.count {
                let n = call(bytes.baseAddress! + done, bytes.count - done, done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                done += n
            }
            return true
        }
    }
}
