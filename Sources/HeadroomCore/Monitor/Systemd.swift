import Foundation

/// What a service tells systemd, by the `NOTIFY_SOCKET` datagram protocol (sd_notify(3)),
/// and how its stderr lines read in the journal. Without systemd (no `NOTIFY_SOCKET`, no
/// `JOURNAL_STREAM`), nothing here does anything.
public enum Systemd {
    /// Sends `READY=1`, `STATUS=...`, `WATCHDOG=1` (newline-separated assignments) to the
    /// service manager. False when there is none or it could not be reached.
    @discardableResult
    public static func notify(_ state: String) -> Bool {
        guard var path = ProcessInfo.processInfo.environment["NOTIFY_SOCKET"], !path.isEmpty else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let abstract = path.hasPrefix("@")
        if abstract { path = "\0" + path.dropFirst() }  // Linux's abstract namespace
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let sent = state.withCString { text in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, text, strlen(text), 0, $0, length)
                }
            }
        }
        return sent >= 0
    }

    /// The watchdog interval systemd asks for (`WatchdogSec=`), seconds; nil without one.
    public static var watchdogSeconds: Double? {
        let env = ProcessInfo.processInfo.environment
        guard let usec = env["WATCHDOG_USEC"].flatMap(Double.init), usec > 0 else { return nil }
        if let pid = env["WATCHDOG_PID"].flatMap(Int32.init), pid != getpid() { return nil }
        return usec / 1e6
    }

    /// Runs `body`, telling the watchdog all is well every third of its interval meanwhile:
    /// for work that is progress although no frame arrives (the last take's loudness, read
    /// back at about a second per minute of 8 channels, once capture has ended). Without a
    /// watchdog, just `body`.
    public static func keepingAlive<T>(_ body: () throws -> T) rethrows -> T {
        guard let seconds = watchdogSeconds else { return try body() }
        let done = DispatchSemaphore(value: 0)
        let ended = DispatchSemaphore(value: 0)
        let thread = Thread {
            while done.wait(timeout: .now() + seconds / 3) == .timedOut { notify("WATCHDOG=1") }
            ended.signal()
        }
        thread.name = "headroom-watchdog"
        thread.start()
        defer {
            done.signal()
            ended.wait()
        }
        return try body()
    }

    /// True when stderr is the journal (`JOURNAL_STREAM` names stderr's device and inode):
    /// then lines carry a syslog priority prefix (`<4>`) that journald reads.
    public static let stderrIsJournal: Bool = {
        guard let stream = ProcessInfo.processInfo.environment["JOURNAL_STREAM"] else { return false }
        let parts = stream.split(separator: ":").compactMap { UInt64($0) }
        guard parts.count == 2 else { return false }
        return FileIdentity(descriptor: STDERR_FILENO) == FileIdentity(device: parts[0], inode: parts[1])
    }()

    /// The syslog priority of a line headroom writes: 3 errors, 4 clip, flat and loss
    /// warnings, 5 hot, 6 status and notes (SPEC).
    public static func priority(of line: String) -> Int {
        let warnings = ["CLIP", "FLAT", "XRUN", "GAP", "DROPPED", "DEVICE LOST", "DISK", "LOG", "PATH"]
        if warnings.contains(where: { line.hasPrefix($0) }) { return 4 }
        if line.hasPrefix("HOT") { return 5 }
        if line.hasPrefix("headroom: ") {
            let rest = line.dropFirst("headroom: ".count)
            let quiet = ["take ", "note", "waiting", "recording", "listening", "wrote", "serving"]
            // "1190 takes from take-0001.wav to take-1190.wav, and the last 10:", before a list.
            let listing =
                rest.first?.isNumber == true && rest.drop(while: \.isNumber).hasPrefix(" takes from ")
                && rest.hasSuffix(", and the last 10:")
            return listing || quiet.contains(where: { rest.hasPrefix($0) }) ? 6 : 3
        }
        return 6
    }
}

/// `record --metrics-file PATH`: the metrics for node_exporter's textfile collector,
/// written to a temporary file in the same folder and renamed over the old one, so the
/// collector never reads half a file.
public enum MetricsFile {
    public static func write(_ text: String, to path: String) throws(HeadroomError) {
        let temporary = FilePaths.directory(of: path) + "/.\((path as NSString).lastPathComponent).\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else {
            throw HeadroomError(.cantCreate, "--metrics-file \(path): \(String(cString: strerror(errno)))")
        }
        // All of it, however many writes that takes (a short write to a filling disk has no
        // errno to name; the next one says ENOSPC).
        let ok = FileBytes.write(fd, Data(text.utf8), at: 0) && fsync(fd) == 0
        close(fd)
        guard ok, rename(temporary, path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(temporary)
            throw HeadroomError(.cantCreate, "--metrics-file \(path): \(why)")
        }
    }
}
