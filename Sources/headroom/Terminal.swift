import ArgumentParser
import Foundation
import HeadroomCore
import Synchronization

/// headroom's entry point: the process is made safe for its outputs before any command runs.
@main
enum Main {
    static func main() {
        Terminal.prepareProcess()
        // `headroom help recrod`: the parser's help command shows the overview for a name it
        // does not know, with exit 0.
        let words = CommandLine.arguments.dropFirst()
        if words.first == "help", let word = words.dropFirst().first, let text = Headroom.notACommand(word) {
            Terminal.error(text)
            Headroom.exit(withError: ExitCode.validationFailure)
        }
        do {
            var command = try Headroom.parseAsRoot()
            try command.run()
        } catch {
            Headroom.exitReporting(error)
        }
        // `calibrate --json > levels.json` on a full disk: what the command printed is not
        // all there, and exit 0 would say it is.
        Terminal.finishOutput()
        if let failure = Terminal.stdoutFailure {
            Terminal.error("cannot write stdout: \(failure); what was printed is cut short")
            exit(HeadroomError.Code.io.rawValue)
        }
    }
}

/// stdout and stderr, written with `write(2)` so that an output that goes away is not
/// fatal. A reader that quit (`| head`: EPIPE), a terminal that hung up (ssh dropped, tmux
/// killed: EIO) or a closed descriptor (EBADF) means nobody is watching: that stream is
/// marked gone and later writes to it are dropped, and a recording goes on to its end. Any
/// other failure of stdout (a file on a full disk: ENOSPC) is a result lost: the stream is
/// marked gone as well, and the command ends with exit 74 saying so (``stdoutFailure``).
enum Terminal {
    private static let stdoutGone = Atomic<Bool>(false)
    private static let stderrGone = Atomic<Bool>(false)
    /// errno of a stdout write that failed other than by its reader going away; 0: none.
    private static let stdoutErrno = Atomic<Int32>(0)

    /// Why stdout could not be written, when it failed other than by its reader going away.
    static var stdoutFailure: String? {
        let code = stdoutErrno.load(ordering: .relaxed)
        return code == 0 ? nil : String(cString: strerror(code))
    }

    /// Ends the process at once (`_exit`: no `atexit`, nothing more that could wait on a
    /// disk that does not answer), after what is queued for the terminal, as far as it
    /// takes it (``finishOutput()``).
    static func leave(_ code: HeadroomError.Code) -> Never {
        finishOutput()
        _exit(code.rawValue)
    }

    /// Runs first: SIGPIPE ignored (a closed pipe is an EPIPE to handle, not a death), and
    /// fds 0-2 held open on /dev/null when they were closed (`2>&-`), so the next file
    /// opened (a take, a log, JACK's shared memory) never lands on a standard descriptor.
    static func prepareProcess() {
        signal(SIGPIPE, SIG_IGN)
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) < 0 && errno == EBADF {
            let null = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY)
            if null >= 0 && null != fd {
                dup2(null, fd)
                close(null)
            }
        }
    }

    /// `headroom: <message>` on stderr, control characters escaped.
    static func error(_ message: String) {
        line("headroom: " + message)
    }

    /// One line on stderr (a warning, a status line), control characters escaped. Under
    /// systemd (stderr is the journal) it carries its syslog priority and names the take.
    static func line(_ text: String) {
        var text = DisplayText.escaped(text)
        if Systemd.stderrIsJournal {
            let take = currentTake.withLock { $0 }
            if !take.isEmpty && !text.contains(take) { text += " [\(take)]" }
            text = "<\(Systemd.priority(of: text))>" + text
        }
        _ = write(STDERR_FILENO, text + "\n", gone: stderrGone)
    }

    /// A status line on a terminal's stderr, redrawn in place (no newline); nil clears it.
    /// For stderr that is a terminal only: a file or the journal would keep every redraw.
    static func status(_ text: String?) {
        _ = write(STDERR_FILENO, "\r\u{1B}[K" + (text.map { DisplayText.escaped($0) } ?? ""), gone: stderrGone)
    }

    /// A ``status(_:)`` line that knows whether it is showing, so that what is written next
    /// clears it only then; nil when stderr is not a terminal.
    final class StatusLine: @unchecked Sendable {
        private var shown = false

        init?() {
            guard Terminal.drawable(STDERR_FILENO) else { return nil }
        }

        func show(_ text: String) {
            Terminal.status(text)
            shown = true
        }

        func clear() {
            guard shown else { return }
            Terminal.status(nil)
            shown = false
        }
    }

    /// The take being recorded, for journal lines.
    static let currentTake = Mutex("")

    /// Text on stdout (tables, JSON, event lists); control characters other than line
    /// feeds are escaped, since the text may carry names from a clip log. `raw` for text
    /// whose outside parts are already escaped and that carries colours of its own.
    static func out(_ text: String, raw: Bool = false) {
        _ = write(STDOUT_FILENO, raw ? text : DisplayText.escaped(text, keepNewlines: true), gone: stdoutGone)
    }

    /// Terminal drawing (the meter's escape sequences) as it is; false once stdout is gone.
    /// A `skippable` frame (one that redraws all it shows) is left out while the terminal
    /// is behind (see ``writeAside()``).
    static func draw(_ text: String, skippable: Bool = false) -> Bool {
        write(STDOUT_FILENO, text, gone: stdoutGone, skippable: skippable)
    }

    /// False once stdout has gone away.
    static var stdoutAlive: Bool { !stdoutGone.load(ordering: .relaxed) }

    /// How wide the terminal stdout is (nil when stdout is not a terminal, or one that does
    /// not say, as a pseudo-terminal nobody sized): tables too wide for it are printed as
    /// records, a channel or a take at a time.
    static var stdoutColumns: Int? { stdoutSize.flatMap { $0.columns > 0 ? $0.columns : nil } }

    /// The terminal stdout's width and height (TIOCGWINSZ; 0 x 0 for a pseudo-terminal
    /// nobody sized), nil when stdout is not a terminal.
    static var stdoutSize: (columns: Int, rows: Int)? {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0 else { return nil }
        return (Int(size.ws_col), Int(size.ws_row))
    }

    /// True when stdout is a terminal that draws and NO_COLOR is not set.
    static var stdoutColor: Bool {
        drawable(STDOUT_FILENO) && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
    }

    /// Whether this process's group has the terminal on stdin: false for a job started
    /// with `&` until `fg` (whose reads of the terminal fail, and whose drawing would run
    /// through the shell's lines).
    static var inForeground: Bool { tcgetpgrp(STDIN_FILENO) == getpgrp() }

    /// For a live command that may be a background job: when the job has just come to the
    /// foreground (`fg`) and does not hold the terminal, `take` it (meter, keys); when it has
    /// just gone to the background (Ctrl-Z, `bg`) and holds it, `give` it back.
    static func followForeground(holding: Bool, take: () -> Void, give: () -> Void) {
        switch (inForeground, holding) {
        case (true, false): take()
        case (false, true): give()
        default: break
        }
    }

    /// Whether `fd` is a terminal that takes escape sequences: not one whose `TERM` is
    /// `dumb` (Emacs's shell buffer, some IDE consoles), which would show them as text.
    /// There the meter, the colours and the status lines give way to plain lines, as
    /// through a pipe.
    static func drawable(_ fd: Int32) -> Bool {
        isatty(fd) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    /// From here on (for the live commands, `record` and `calibrate`) stdout and stderr are
    /// written by a thread of their own (``OutputThread``), so that a terminal or a journal
    /// that stops taking output (an ssh link stalled, a terminal server stopped, journald
    /// busy) holds that thread and not the recorder's main loop: Ctrl-C, `kill`, systemd's
    /// stop and its watchdog, the web page and the metrics go on, and so does the take. What
    /// is queued is written before the process exits, unless the output takes nothing for
    /// ``OutputThread/patience`` seconds.
    static func writeAside() {
        aside.withLock { thread in
            guard thread == nil else { return }
            thread = OutputThread { fd, bytes in
                var bytes = bytes
                if !writeNow(fd, &bytes) { markGone(fd, errno) }
            }
            atexit { Terminal.finishOutput() }
        }
    }

    /// Waits for what the output thread still holds (see ``writeAside()``); for an exit
    /// that does not run `atexit` (`_exit`).
    static func finishOutput() {
        aside.withLock { $0 }?.drain()
    }

    private static let aside = Mutex<OutputThread?>(nil)

    /// Marks `fd` gone after a write failed with `error`.
    private static func markGone(_ fd: Int32, _ error: Int32) {
        if fd == STDOUT_FILENO {
            stdoutGone.store(true, ordering: .relaxed)
            if ![EPIPE, EIO, EBADF].contains(error) { stdoutErrno.store(error, ordering: .relaxed) }
        } else {
            stderrGone.store(true, ordering: .relaxed)
        }
    }

    private static func write(
        _ fd: Int32,
        _ text: String,
        gone: borrowing Atomic<Bool>,
        skippable: Bool = false
    ) -> Bool {
        guard !gone.load(ordering: .relaxed) else { return false }
        var bytes = Array(text.utf8)
        if let thread = aside.withLock({ $0 }) {
            thread.enqueue(fd, bytes, skippable: skippable)
            return true
        }
        let ok = writeNow(fd, &bytes)
        if !ok { markGone(fd, errno) }
        return ok
    }

    /// Writes all of `bytes`, retrying short writes and EINTR; false on EPIPE, EIO, EBADF
    /// (or any other failure): the caller marks the stream gone.
    private static func writeNow(_ fd: Int32, _ bytes: inout [UInt8]) -> Bool {
        var offset = 0
        return bytes.withUnsafeMutableBytes { buffer -> Bool in
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 && (errno == EINTR || errno == EAGAIN) {
                    if errno == EAGAIN { usleep(1000) }
                    continue
                }
                guard n > 0 else { return false }
                offset += n
            }
            return true
        }
    }
}

/// The thread that writes a live command's stdout and stderr (``Terminal/writeAside()``), in
/// the order they were asked for. While it is behind (a write has not returned, or more
/// waits), a meter frame is left out: the next one redraws everything. Lines wait, up to
/// ``limit`` bytes; beyond that they are counted, and said in one line once output flows
/// again (every event is in the take's clip log).
final class OutputThread: @unchecked Sendable {
    /// Bytes of lines held for an output that takes nothing.
    static let limit = 1 << 20
    /// Seconds the exit waits for an output that takes nothing.
    static let patience = 2.0

    private struct Queue {
        var items: [(fd: Int32, bytes: [UInt8])] = []
        var bytes = 0
        var writing = false
        var dropped = 0
        var behind: Bool { writing || !items.isEmpty }
    }
    private let queue = Mutex(Queue())
    private let wake = DispatchSemaphore(value: 0)
    private let progressed = DispatchSemaphore(value: 0)

    init(write: @escaping @Sendable (Int32, [UInt8]) -> Void) {
        let thread = Thread { [self] in run(write) }
        thread.name = "headroom-output"
        // Signals are the main loop's: the thread starts with them all blocked (it inherits
        // the mask it is started with, and the recorder takes the signals after this).
        var all = sigset_t()
        var was = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_SETMASK, &all, &was)
        thread.start()
        pthread_sigmask(SIG_SETMASK, &was, nil)
    }

    private func run(_ write: (Int32, [UInt8]) -> Void) {
        while true {
            wake.wait()
            while let item = queue.withLock({ q -> (fd: Int32, bytes: [UInt8])? in
                guard !q.items.isEmpty else { return nil }
                q.writing = true
                return q.items.removeFirst()
            }) {
                write(item.fd, item.bytes)
                queue.withLock { q in
                    q.writing = false
                    q.bytes -= item.bytes.count
                }
                progressed.signal()
            }
        }
    }

    func enqueue(_ fd: Int32, _ bytes: [UInt8], skippable: Bool) {
        let queued = queue.withLock { q -> Bool in
            if skippable && q.behind { return false }
            guard q.bytes + bytes.count <= Self.limit else {
                q.dropped += 1
                return false
            }
            if q.dropped > 0 && !q.behind {
                let note =
                    "headroom: \(q.dropped) lines not shown: the output took nothing for a while (the clip log has every event)\n"
                q.items.append((STDERR_FILENO, Array(note.utf8)))
                q.bytes += note.utf8.count
                q.dropped = 0
            }
            q.items.append((fd, bytes))
            q.bytes += bytes.count
            return true
        }
        if queued { wake.signal() }
    }

    /// Returns once everything queued is written, or once the output has taken nothing for
    /// ``patience`` seconds.
    func drain() {
        while queue.withLock({ $0.behind }) {
            if progressed.wait(timeout: .now() + Self.patience) == .timedOut { return }
        }
    }
}

/// "12:30 of 2:00:00 analyzed (10 %)" on a terminal's stderr while one file is analyzed (`analyze`,
/// or `review` of a take without a log), or "measured for loudness" while `review --json` or
/// `--html` reads one take for its loudness; redrawn at most four times a second and cleared
/// before anything else is written; nothing when stderr is not a terminal.
final class FilePosition: @unchecked Sendable {
    private let line: Terminal.StatusLine
    private var last = 0.0
    private var doing = ""

    init?() {
        guard let line = Terminal.StatusLine() else { return nil }
        self.line = line
    }

    /// Draws where a pass is (`doing`: what it does); a new pass at once, over the last one.
    func show(done: Int, total: Int, rate: Int, doing: String = "analyzed") {
        let now = ProcessInfo.processInfo.systemUptime
        guard now - last >= 0.25 || doing != self.doing, rate > 0, done < total || total <= 0 else { return }
        last = now
        self.doing = doing
        var text = Self.clock(Double(done) / Double(rate))
        if total > 0 {
            text += " of \(Self.clock(Double(total) / Double(rate))) \(doing) (\(done * 100 / total) %)"
        } else {
            text += " " + doing
        }
        line.show(text)
    }

    func clear() { line.clear() }

    /// "4:05" or "1:02:03".
    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds)
        return s >= 3600
            ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
