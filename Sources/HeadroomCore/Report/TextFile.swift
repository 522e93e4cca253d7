import Foundation

/// Writes a report file (HTML, labels, a calibration), failing with one sentence that
/// names the file and the system's reason (exit 73).
public enum TextFile {
    public static func write(_ text: String, to path: String) throws(HeadroomError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw HeadroomError(.cantCreate, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw HeadroomError(.cantCreate, "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        bytes.removeAll()
    }
}
