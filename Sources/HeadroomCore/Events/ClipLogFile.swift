import CHeadroomKernels
import Foundation
import Synchronization

/// A clip log on disk: each line is written whole (``FileBytes/write(_:_:)``) as soon as
/// it is known, so a log cut short by a crash still parses line by line; `sync()` pushes it
/// to the disk.
///
/// The calls to the disk are made on a queue of the log's own, in order: a takes' folder
/// that stops answering (a share gone, a failing disk) holds that queue, not the analyzer,
/// which goes on analyzing and warning while the lines wait in memory (up to ``waitingLimit``
/// bytes; past that they are counted, and said once the disk answers). Only ``close()``
/// waits for them.
public final class ClipLogFile: @unchecked Sendable {
    public let path: String
    /// Touched only on `queue` (and in `deinit`, once nothing is queued).
    private var fd: Int32
    private let queue = DispatchQueue(label: "headroom-log")
    private let failed = Mutex<String?>(nil)
    /// Set after the first failed write (disk full); later lines are not attempted.
    public var failure: String? { failed.withLock { $0 } }
    /// What ``sync()`` found to tell the user (a log deleted and written again).
    private let notes = Mutex<[String]>([])
    /// A ``sync()`` is queued and has not run yet: a disk that does not answer gets one.
    private let syncQueued = Atomic<Bool>(false)
    /// Bytes of lines waiting for the disk, at most (a channel clipping all night on a share
    /// that went away must not grow the recorder until it is killed).
    static let waitingLimit = 16 << 20
    private let waiting = Atomic<Int>(0)
    /// Lines not written because ``waitingLimit`` bytes already waited.
    private let unwritten = Atomic<Int>(0)
    /// Clip, flat and hot lines not written since the last note: the disk was full.
    private let unwrittenFindings = Atomic<Int>(0)
    /// The last attempt to hold more disk found none free (touched only on `queue`).
    private var diskFull = false
    /// Bytes written, and how far the disk is held for the log (see ``reserve``).
    private var size = 0
    /// ``TakeRegistry`` held the first ``reserve`` bytes as it created the log.
    private var reservedTo: Int
    private let reserve: Int

    /// Disk kept allocated past the log's end (`fallocate`, the file's size unchanged), so
    /// that a take that fills the disk leaves room for its log's last lines: the `disk`
    /// line, the gain lines and the summary (about 330 bytes a channel: 21 KB for 64
    /// channels, 84 KB for 256). At least half of it is always held, so 1 KiB a channel,
    /// and never under 64 KiB. Without it, on a disk the take filled, the log could not grow
    /// into a new block: the take's header line, written after the first frames, or its end
    /// went missing.
    static func reserve(channels: Int) -> Int { max(64 << 10, channels << 10) }

    /// The log at `path` of a take of `channels`, written through `fd` (a new empty file,
    /// created with its take by ``TakeRegistry``); the log owns `fd` from here on.
    public init(fd: Int32, path: String, channels: Int) {
        self.path = path
        self.fd = fd
        reserve = Self.reserve(channels: channels)
        reservedTo = reserve
    }

    /// Holds `reserve` bytes past the end once less than half of the last reservation is
    /// left. Where the file system cannot (EOPNOTSUPP), the log goes on without.
    private func reserveAhead() {
        guard fd >= 0, reservedTo >= 0, size + reserve / 2 > reservedTo else { return }
        if hr_reserve(fd, Int64(size), Int64(reserve)) == 0 {
            reservedTo = size + reserve
            diskFull = false
        } else if errno == EOPNOTSUPP {
            reservedTo = -1
        } else if errno == ENOSPC || errno == EDQUOT {
            diskFull = true
        }
    }

    deinit { closeNow() }

    /// Appends an event's line: a clip, flat or hot event (``Event/isFinding``: what the
    /// summary counts and the take's audio holds, so a review finds it there again) is the
    /// one kind of line left out on a full disk.
    public func append(_ event: Event, names: [String], rate: Int) {
        append(ClipLog.eventLine(event, names: names, rate: rate), finding: event.isFinding)
    }

    /// Appends one line (written in turn on the log's queue).
    public func append(_ line: JSONValue, finding: Bool = false) {
        let bytes = Array((line.encoded() + "\n").utf8)
        guard waiting.add(bytes.count, ordering: .relaxed).newValue <= Self.waitingLimit else {
            waiting.subtract(bytes.count, ordering: .relaxed)
            unwritten.add(1, ordering: .relaxed)
            return
        }
        queue.async {
            self.write(bytes, finding: finding)
            self.waiting.subtract(bytes.count, ordering: .relaxed)
        }
    }

    private func write(_ line: [UInt8], finding: Bool) {
        guard fd >= 0, failure == nil else { return }
        // On a disk the take filled, the room held is kept for the lines its end needs (the
        // disk line, losses, markers, the gain lines and the summary): a channel clipping
        // every few milliseconds used it up with clip lines, and the log ended mid-line with
        // no summary. Events are counted instead, and said at the end.
        if finding && diskFull {
            reserveAhead()
            if diskFull {
                unwrittenFindings.add(1, ordering: .relaxed)
                return
            }
        }
        guard FileBytes.write(fd, line) else {
            let why = String(cString: strerror(errno))
            failed.withLock { $0 = why }
            // Not half a line at the end: the log still parses line by line.
            _ = ftruncate(fd, off_t(size))
            return
        }
        size += line.count
        reserveAhead()
    }

    /// Flushes the log to the disk (once a second while recording, and at the end), and
    /// writes it again where it was deleted (``restoreIfDeleted()``); what that has to tell
    /// comes from ``takeNotes()``.
    public func sync() {
        guard !syncQueued.exchange(true, ordering: .relaxed) else { return }
        queue.async {
            self.syncQueued.store(false, ordering: .relaxed)
            if self.fd >= 0 { fdatasync(self.fd) }
            if let note = self.restoreIfDeleted() { self.notes.withLock { $0.append(note) } }
            self.noteUnwritten()
        }
    }

    /// Lines counted past ``waitingLimit``, and events not written on a full disk, since
    /// the last note, as notes.
    private func noteUnwritten() {
        let lost = unwritten.exchange(0, ordering: .relaxed)
        if lost > 0 {
            notes.withLock {
                $0.append(
                    "LOG: \(path): \(lost) lines not written while the disk did not answer (\(Self.waitingLimit >> 20) MiB of them waited); the summary counts every event"
                )
            }
        }
        let events = unwrittenFindings.exchange(0, ordering: .relaxed)
        if events > 0 {
            notes.withLock {
                $0.append(
                    "LOG: \(path): \(events) clip, flat and hot event\(events == 1 ? "" : "s") not written, the disk being full (its room kept for the summary, which counts every event); `headroom review` finds them in the take"
                )
            }
        }
    }

    /// What the syncs so far found to tell the user, once.
    public func takeNotes() -> [String] {
        notes.withLock { n in
            defer { n.removeAll() }
            return n
        }
    }

    /// A log deleted while its take records (a tidy-up that took it for clutter, `find -name
    /// '*.jsonl' -delete`) is written again at its path, every line so far, and goes on
    /// there: the take's events, losses and markers are not lost with it. Checked once a
    /// second, with ``sync()``. Returns what to tell the user when it was deleted.
    private func restoreIfDeleted() -> String? {
        var st = stat()
        guard fd >= 0, failure == nil, fstat(fd, &st) == 0, st.st_nlink == 0 else { return nil }
        // The deleted file is still there behind the descriptor: its lines, read back.
        let old = open("/proc/self/fd/\(fd)", O_RDONLY | O_CLOEXEC)
        let lines = old >= 0 ? FileBytes.read(old, size, at: 0) : nil
        if old >= 0 { Glibc.close(old) }
        func givenUp(_ why: String) -> String {
            failed.withLock { $0 = "deleted while recording, and not written again (\(why))" }
            return "LOG: \(path) was deleted while recording and could not be written again (\(why))"
        }
        guard let lines else { return givenUp("its lines could not be read back") }
        let new = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_APPEND | O_CLOEXEC, 0o644)
        guard new >= 0 else { return givenUp(String(cString: strerror(errno))) }
        guard FileBytes.write(new, Data(lines), at: 0) else {
            let why = String(cString: strerror(errno))
            Glibc.close(new)
            unlink(path)
            return givenUp(why)
        }
        // The same descriptor number, on the new file (closed on exec, as it was): the next
        // line goes there.
        dup2(new, fd)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        Glibc.close(new)
        reservedTo = 0
        reserveAhead()
        return "LOG: \(path) was deleted while recording; written again, every line, and the take goes on"
    }

    /// Writes what waits, gives back the disk held past the end, syncs and closes: waits
    /// for the disk. What it has to tell comes from ``takeNotes()``.
    public func close() {
        queue.sync {
            noteUnwritten()
            closeNow()
        }
    }

    private func closeNow() {
        if fd >= 0 {
            // Gives back the disk held past the end: truncating to the size it has frees
            // the blocks beyond it.
            var st = stat()
            if reservedTo > 0, fstat(fd, &st) == 0 { _ = ftruncate(fd, st.st_size) }
            fdatasync(fd)
            Glibc.close(fd)
            fd = -1
        }
    }
}
