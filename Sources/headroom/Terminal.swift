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
    }
}

/// stdout and stderr, written with `write(2)` so that an output that goes away is not
/// fatal. A reader that quit (`| head`: EPIPE), a terminal that hung up (ssh dropped, tmux
/// killed: EIO) or a closed descriptor (EBADF) means nobody is watching: that stream is
/// marked gone and later writes to it are dropped, and a recording goes on to its end.
enum Terminal {
    private static let stdoutGone = Atomic<Bool>(false)
    private static let stderrGone = Atomic<Bool>(false)

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
    static func draw(_ text: String) -> Bool {
        write(STDOUT_FILENO, text, gone: stdoutGone)
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

    /// Writes all of `text`, retrying short writes and EINTR; on EPIPE, EIO, EBADF (or any
    /// other failure) the stream is marked gone and false returned.
    private static func write(_ fd: Int32, _ text: String, gone: borrowing Atomic<Bool>) -> Bool {
        guard !gone.load(ordering: .relaxed) else { return false }
        var bytes = Array(text.utf8)
        var offset = 0
        let ok = bytes.withUnsafeMutableBytes { buffer -> Bool in
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
        if !ok { gone.store(true, ordering: .relaxed) }
        return ok
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
