import Foundation
import HeadroomCore

/// Runs a recording in the foreground: signals, keys, the meter or the plain lines.
struct LiveRecording {
    let session: RecordingSession
    let settings: Settings
    /// Bytes a frame takes in the take file (24 bits in 32 are stored as 3), for the time
    /// left on the disk.
    let takeBytesPerFrame: Int
    let headless: Bool
    /// Soundcheck levels (dBTP) to mark in the meters, by 0-based channel.
    var references: [Int: Double] = [:]
    /// `--listen` / `--metrics-file`: where the recorder's figures go (nil: nowhere).
    var monitor: Monitor? = nil
    var metricsFile: String? = nil
    /// A note already on stderr from before the device opened (names left over, a path that
    /// can hide clipping): the meter's first draw clears the screen, so its message line
    /// shows it until a warning takes the line.
    var startNote: String? = nil

    /// The signals that end a take cleanly (exit 0): Ctrl-C, `kill`, a terminal or ssh
    /// session that hangs up, Ctrl-\\. A hang-up is not one under `nohup`.
    static var endSignals: [Int32] { hangupIgnored ? [SIGINT, SIGTERM, SIGQUIT] : [SIGINT, SIGTERM, SIGHUP, SIGQUIT] }

    /// SIGHUP came ignored (`nohup headroom record ...`): the person asked for the recording
    /// to outlive the terminal, so a hang-up stays ignored. Set once, by ``takeOverSignals()``,
    /// before any thread starts.
    nonisolated(unsafe) private(set) static var hangupIgnored = false

    /// Every signal the main loop takes: the end signals, SIGUSR1 (close the take, start
    /// the next: arecord's convention), SIGUSR2 (drop a marker) and SIGTSTP (Ctrl-Z, which
    /// would stop the recorder mid-take: said, not done).
    static var handledSignals: sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        for s in endSignals + [SIGUSR1, SIGUSR2, SIGTSTP] { sigaddset(&signals, s) }
        return signals
    }

    /// Signals whose default action would end (or stop) the recorder without closing the
    /// take, and that mean nothing to it: ignored. SIGPIPE is a reader gone (EPIPE is
    /// handled where it happens); SIGXFSZ is a file-size limit, handled as a full disk;
    /// the tty signals would stop a recorder mid-take (the device overruns).
    static let ignoredSignals: [Int32] =
        [SIGPIPE, SIGXFSZ, SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGSTKFLT, SIGXCPU, SIGTTIN, SIGTTOU]
        + Array(__libc_current_sigrtmin()...__libc_current_sigrtmax())

    /// Call before any thread starts (the device's plugins start some): every thread
    /// blocks the handled signals, so only the main loop takes them, and the rest that
    /// could end a take are ignored. No catchable signal ends a take without closing it.
    /// Returns a note to show where SIGHUP came ignored.
    @discardableResult
    static func takeOverSignals() -> String? {
        // nohup's SIGHUP, ignored, stays so: the one disposition kept as it came.
        let hangup = signal(SIGHUP, SIG_IGN)
        hangupIgnored = unsafeBitCast(hangup, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
        // A background job of a script inherits SIGINT ignored, and an ignored signal never
        // becomes pending: restore the defaults so `kill -INT` still ends the take.
        for s in endSignals + [SIGUSR1, SIGUSR2, SIGTSTP] { signal(s, SIG_DFL) }
        var signals = handledSignals
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        for s in ignoredSignals { signal(s, SIG_IGN) }
        guard hangupIgnored else { return nil }
        return
            "note: SIGHUP is ignored (nohup): the recording goes on when the terminal or ssh session goes away; end it with kill -INT \(getpid())"
    }

    /// The line for a disk that answers again after holding a call `seconds`, mid-take or
    /// before the first frame.
    static func diskAnswers(after seconds: Double) -> String {
        String(format: "DISK: the disk answers again, after %.1f s", seconds)
    }

    /// What a signal taken by the main loop asks for.
    enum Request: Equatable {
        case end, nextTake, marker
        /// Ctrl-Z: a recorder stopped mid-take loses what the device overruns, so it goes on.
        case suspend
    }

    /// Waits up to `seconds` for a handled signal.
    static func nextSignal(seconds: Double) -> Request? {
        var signals = handledSignals
        var timeout = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        switch sigtimedwait(&signals, nil, &timeout) {
        case SIGUSR1: return .nextTake
        case SIGUSR2: return .marker
        case SIGTSTP: return .suspend
        case let s where s > 0: return .end
        default: return nil
        }
    }

    /// Waits up to `seconds` for a signal that ends the recording; true when one came.
    /// SIGUSR1 and SIGUSR2 mean nothing while there is no take, and say so (a marker button
    /// pressed while the interface is unplugged is not placed, and its owner hears of it).
    static func waitForEndSignal(seconds: Double) -> Bool {
        let deadline = MonotonicClock.now() + seconds
        repeat {
            switch nextSignal(seconds: max(0, deadline - MonotonicClock.now())) {
            case .end: return true
            case .marker: Terminal.error("note: SIGUSR2: no take is being recorded, so no marker was placed")
            case .nextTake: Terminal.error("note: SIGUSR1: no take is being recorded, so none was started")
            case .suspend, nil: break
            }
        } while MonotonicClock.now() < deadline
        return false
    }

    /// Seconds of audio the free space of `directory` holds at `bytesPerFrame` (FLAC's
    /// compression only makes it more); nil when it cannot be read.
    static func diskSecondsLeft(directory: String, rate: Int, bytesPerFrame: Int) -> Double? {
        var fs = statvfs()
        guard statvfs(directory, &fs) == 0 else { return nil }
        return Double(fs.f_bavail) * Double(fs.f_frsize) / Double(max(rate * bytesPerFrame, 1))
    }

    func run() -> RecordingSession.Outcome {
        // The meter and the keys are the terminal's foreground job's: `headroom record ... &`
        // leaves the shell its terminal (warnings come as lines, no status lines), and `fg`
        // brings them up; a terminal that hung up never does again.
        let terminal = !headless && Terminal.drawable(STDOUT_FILENO) && isatty(STDIN_FILENO) == 1
        var hungUp = false
        let statusInterval: Double = headless ? 60 : 10
        var meter: MeterView? = nil
        var keyboard: RawKeyboard? = nil
        func takeTerminal() {
            meter = MeterView(settings: settings.analysis, mode: .record)
            meter?.references = references
            if let startNote { meter?.message = startNote }
            keyboard = RawKeyboard()
        }
        if terminal && Terminal.inForeground { takeTerminal() }
        if terminal && meter == nil {
            Terminal.line("note: recording in the background: warnings come here; fg shows the meter and takes keys")
        }
        session.start()
        var noted = false
        var lastStatus = MonotonicClock.now()
        // systemd: ready once the device is open and capture starts; the watchdog is fed
        // while frames keep arriving (and, outside this loop, while the device is waited for and
        // the last take finished).
        Systemd.notify("READY=1\nSTATUS=recording from \(settings.device)")
        // Without a terminal (a service's journal, a pipe, a log file): what it records, and
        // where, as arecord's "Recording WAVE ..." says; each take is said as it closes.
        if !terminal {
            let source = session.source
            Terminal.error(
                "recording \(settings.device) (\(source.channels) ch, \(source.rate) Hz, \(source.format.rawValue)) into \(session.firstTake)"
            )
        }
        let watchdog = Systemd.watchdogSeconds
        var lastPing = 0.0
        var lastFrames = -1
        var lastTake = ""
        // The takes said as they closed (a recorder with no meter: a service's journal gets
        // each take as it lands), not said again at the end.
        var said = Set<String>()
        var lastMetricsFile = 0.0
        var lastDiskCheck = 0.0
        var diskLeft: Double? = nil
        var diskCheck: Aside<(directory: String, left: Double?)>? = nil
        var diskWarned = (thirty: false, five: false)
        // The metrics file is written aside too: its fsync can take seconds on a card the
        // take keeps busy, and its folder can stop answering. A write that has not finished
        // when the next is due is left to finish; the next one carries the newer figures.
        var metricsWrite: Aside<Void>? = nil
        func metricsWritten(within seconds: Double) -> Bool {
            guard let write = metricsWrite else { return true }
            guard write.finished(within: seconds) else { return false }
            metricsWrite = nil
            do throws(HeadroomError) { try write.result() } catch { Terminal.error(error.message) }
            return true
        }
        func writeMetricsFile(waiting seconds: Double = 0) {
            guard let metricsFile, let monitor, metricsWritten(within: seconds) else { return }
            let text = monitor.exposition
            metricsWrite = Aside { () throws(HeadroomError) in try MetricsFile.write(text, to: metricsFile) }
            _ = metricsWritten(within: seconds)
        }
        var stopping = false
        // The `m` key: the moment is taken at once; the label is typed while the meter runs
        // (and handed to the session as it is typed: a recording that ends meanwhile logs
        // the marker with it).
        var draft: [UInt8]? = nil
        // A disk that stops answering (a network share gone, a failing disk) holds the
        // writer in one call; the take cannot be finished until it answers. Said once it has
        // lasted 2 s; an end signal while it lasts, once the recording is stopping, leaves
        // without waiting for it (exit 74).
        var stall = (said: false, longest: 0.0)
        // Set once leaving is offered (the stall goes on while stopping): on the meter the
        // line stays under it until the disk answers (the events the stop closes would write
        // over it), and it fits a narrow window.
        var stallNotice: String? = nil
        func waitingNotice(_ take: String) -> String {
            "DISK: waiting for the disk to take the rest of \(take); "
                + (meter != nil
                    ? "q or Ctrl-C again leaves now" : "Ctrl-C again leaves now (the take keeps what the disk took)")
        }
        func say(_ line: String) {
            if var m = meter {
                m.message = line
                _ = m.draw(session.snapshot())
                meter = m
            } else {
                Terminal.line(line)
            }
        }
        func leave() -> Never {
            keyboard?.restore()
            meter?.finish()
            let take = session.snapshot().takeName
            Terminal.error(
                "left \(take) unfinished: the disk has not answered for \(Int(session.diskStalledSeconds)) s; the take holds what it took, and this process ends once the disk answers or is unmounted"
            )
            Systemd.notify("STATUS=stopped (the disk stopped answering)")
            // Not exit(): nothing more may wait on that disk, the stuck threads included.
            Terminal.leave(.io)
        }
        func stop() {
            if stopping && stallNotice != nil { leave() }
            if !stopping { session.stop() }
            stopping = true
            if stall.said && stallNotice == nil {
                stallNotice = waitingNotice(session.snapshot().takeName)
                say(stallNotice!)
            }
        }
        while !session.isFinished {
            if terminal && !hungUp {
                Terminal.followForeground(holding: keyboard != nil, take: takeTerminal) {
                    keyboard?.restore()
                    meter?.finish()
                    (keyboard, meter) = (nil, nil)
                }
            }
            if let k = keyboard {
                var input = k.read(timeoutMilliseconds: 66, orAttention: session.attentionDescriptor)
                if let bytes = draft, case .key(let character)? = input {
                    input = nil
                    switch UInt8(truncatingIfNeeded: character.unicodeScalars.first?.value ?? 0) {
                    case 0x0A, 0x0D:  // Enter: mark, with the label if one was typed
                        session.commitMarker()
                        draft = nil
                        meter?.labelDraft = nil
                    case 0x1B:  // Esc: no marker
                        session.cancelMarker()
                        draft = nil
                        meter?.labelDraft = nil
                        meter?.message = "marker cancelled"
                    case 0x7F, 0x08:  // Backspace: one character back
                        var text = String(decoding: bytes, as: UTF8.self)
                        if !text.isEmpty { text.removeLast() }
                        draft = Array(text.utf8)
                    case let b where b >= 0x20:
                        if bytes.count < 200 { draft = bytes + [b] }
                    default: break
                    }
                    if let bytes = draft {
                        let label = String(decoding: bytes, as: UTF8.self)
                        session.labelMarker(label)
                        meter?.labelDraft = label
                    }
                }
                switch input {
                case .key("m"), .key("M"):
                    session.beginMarker()
                    draft = []
                    meter?.labelDraft = ""
                case .key("q"), .key("Q"): stop()
                case .key("n"), .key("N"): session.nextTake()
                case .key("r"), .key("R"): meter?.reset()
                case .key, .none: break
                case .gone:
                    // The terminal hung up (ssh dropped, tmux killed): nobody is watching.
                    // The take goes on; its warnings are in its log.
                    keyboard = nil
                    meter = nil
                    hungUp = true
                }
            } else {
                session.waitForAttention(seconds: 0.1)
            }
            switch Self.nextSignal(seconds: 0) {
            case .end: stop()
            case .nextTake: session.nextTake()
            case .marker: session.mark(label: nil)
            case .suspend:
                say(
                    meter != nil
                        ? "Ctrl-Z: no pausing mid-take; q ends the take (a pause would lose frames: the device overruns)"
                        : "SIGTSTP: no pausing mid-take; SIGINT ends the take (a pause would lose frames: the device overruns)"
                )
            case nil: break
            }
            if !noted && session.realtimeStatus == -1 {
                noted = true
                let note =
                    "note: no real-time priority for the capture thread (join the audio group or allow rtprio); recording anyway"
                if meter != nil { meter?.message = note } else { Terminal.error(note) }
            }
            var warnings = session.takeWarnings()
            let closed = session.finishedTakes()
            let snapshot = session.snapshot()
            let now = MonotonicClock.now()
            let stalled = session.diskStalledSeconds
            if stalled >= 2 {
                stall.longest = stalled
                if !stall.said {
                    stall.said = true
                    Systemd.notify("STATUS=the disk has not answered for \(Int(stalled)) s (\(snapshot.takeName))")
                    warnings.append(
                        "DISK: a write to \(snapshot.takeName) has not returned for \(Int(stalled)) s (a share gone? a failing disk?); frames wait in memory"
                    )
                    if stopping {
                        stallNotice = waitingNotice(snapshot.takeName)
                        warnings.append(stallNotice!)
                    }
                }
            } else if stall.said {
                warnings.append(Self.diskAnswers(after: stall.longest))
                Systemd.notify(
                    stopping ? "STATUS=stopping" : "STATUS=recording \(snapshot.takeName) from \(settings.device)"
                )
                stall = (false, 0)
                stallNotice = nil
            }
            // The free space, once a second, asked aside: a takes' folder that stops
            // answering (a share gone) holds that call, not this loop; a disk that answers
            // does within the 0.1 s it is given as it is asked, so its answer is used at once.
            var asked = false
            if diskCheck == nil && now - lastDiskCheck >= 1 {
                lastDiskCheck = now
                asked = true
                let (session, rate, bytesPerFrame) = (session, snapshot.rate, takeBytesPerFrame)
                diskCheck = Aside {
                    let directory = session.directory
                    return (
                        directory, Self.diskSecondsLeft(directory: directory, rate: rate, bytesPerFrame: bytesPerFrame)
                    )
                }
            }
            if let check = diskCheck, check.finished(within: asked ? 0.1 : 0) {
                diskCheck = nil
                if let (directory, left) = try? check.result() {
                    diskLeft = left
                    // Warned once at 30 and once at 5 minutes of disk left (journal, meter, page, metrics).
                    if let left {
                        if left < 300 && !diskWarned.five {
                            diskWarned = (true, true)
                            warnings.append(
                                "DISK: \(Int(left / 60)) min \(Int(left) % 60) s of recording left on \(directory)"
                            )
                        } else if left < 1800 && !diskWarned.thirty {
                            diskWarned.thirty = true
                            warnings.append("DISK: \(Int(left / 60)) min of recording left on \(directory)")
                        }
                    }
                }
            }
            monitor?.update(snapshot, recording: !stopping, diskSecondsLeft: diskLeft)
            if snapshot.takeName != lastTake {
                if !lastTake.isEmpty { writeMetricsFile() }  // a take ended
                lastTake = snapshot.takeName
                Terminal.currentTake.withLock { $0 = snapshot.takeName }
                Systemd.notify("STATUS=recording \(snapshot.takeName) from \(settings.device)")
            }
            if now - lastMetricsFile >= 5 {
                lastMetricsFile = now
                writeMetricsFile()
            }
            if let watchdog, now - lastPing >= watchdog / 3 {
                let frames = session.currentFrame
                if frames != lastFrames {  // capture is moving: the service is alive
                    Systemd.notify("WATCHDOG=1")
                    lastPing = now
                    lastFrames = frames
                }
            }
            if var m = meter {
                m.diskSecondsLeft = diskLeft
                for w in warnings { m.message = w }
                if let stallNotice { m.message = stallNotice }
                if m.draw(snapshot) {
                    meter = m
                } else {
                    meter = nil
                    keyboard = nil
                    hungUp = true
                }
            } else {
                for w in warnings { Terminal.line(w) }
                for (file, log) in closed {
                    Self.sayTake(file, log)
                    said.insert(file)
                }
                // A background job's status lines would run through the shell's.
                let inBackground = terminal && !hungUp
                if !inBackground && MonotonicClock.now() - lastStatus >= statusInterval {
                    lastStatus = MonotonicClock.now()
                    Terminal.line(MeterView.statusLine(snapshot))
                }
            }
        }
        // A label still being typed when the recording ended was logged with what was
        // typed: its prompt gives way to the latest line.
        meter?.labelDraft = nil
        // Under systemd's watchdog, finishing the last take (its loudness read back, its cue
        // markers) is progress too: without a word for WatchdogSec, systemd would kill it.
        let outcome = Systemd.keepingAlive { session.outcome() }
        monitor?.update(session.snapshot(), recording: false, diskSecondsLeft: diskLeft)
        if outcome.reason == .deviceLost { monitor?.deviceLost() }
        // The last figures, waited for (a folder that does not answer gets 2 s, and a line).
        writeMetricsFile(waiting: 2)
        if metricsWrite != nil, let metricsFile {
            Terminal.error("--metrics-file \(metricsFile): the disk did not answer; the file may hold older figures")
        }
        let why =
            switch outcome.reason {
            case .stopped: "stopped"
            case .duration: "--duration reached"
            case .deviceLost: "the device went away"
            case .deviceError: "the device failed"
            case .disk: "the disk failed"
            }
        Systemd.notify("STATUS=stopped (\(why))")
        if var m = meter, m.draw(session.snapshot()) { m.finish() }
        // Whatever came after the last frame (a hook's failure) goes below the meter.
        for w in session.takeWarnings() { Terminal.line(w) }
        keyboard?.restore()
        // The takes not said as they closed. A month of one-minute takes is 43,000 of them,
        // which would bury the meter's last lines and run into journald's rate limit: past
        // 20, the last 10, after any of the others that lack a file or a log.
        let unsaid = zip(outcome.takes, outcome.logs).filter { !said.contains($0.0) }
        let earlier = unsaid.count > 20 ? unsaid.dropLast(10) : []
        for (file, log) in earlier where !(Self.exists(file) && Self.exists(log)) { Self.sayTake(file, log) }
        if let first = earlier.first, let last = earlier.last {
            Terminal.error("\(earlier.count) takes from \(first.0) to \(last.0), and the last 10:")
        }
        for (file, log) in unsaid.dropFirst(earlier.count) { Self.sayTake(file, log) }
        if !outcome.takes.contains(where: Self.exists) { Terminal.error("no take was written") }
        // Said on the meter's one message line as it happened, where the next warning soon
        // replaced it: said again once the meter is gone.
        if terminal { for line in outcome.finishedLeftBehind { Terminal.error(line) } }
        return outcome
    }

    /// Waits, as the recorder ends, for the `--on-take-closed` commands running and waiting:
    /// after a second it says so, and an end signal (Ctrl-C, SIGTERM, SIGHUP) leaves the one
    /// running running, named with its pid, and names the takes whose command never ran (to
    /// be run by hand). A hook that hangs (an rsync to a server gone) never keeps the recorder.
    static func waitForHooks(_ hook: TakeHook) {
        var asked = 0
        let (leftRunning, notRun) = hook.waitAll {
            asked += 1
            if asked == 10 { Terminal.error("waiting for --on-take-closed to finish (Ctrl-C leaves it running)") }
            return nextSignal(seconds: 0) == .end
        }
        for line in hook.failures() { Terminal.line(line) }
        for left in leftRunning {
            Terminal.error("left --on-take-closed running for \(left); what it ends with is not reported")
        }
        if let first = notRun.first, let last = notRun.last, notRun.count > 10 {
            Terminal.error(
                "--on-take-closed not run for \(notRun.count) takes, \(first) to \(last): they waited their turn when the recorder was told to end"
            )
        } else {
            for take in notRun {
                Terminal.error(
                    "--on-take-closed not run for \(take): it waited its turn when the recorder was told to end"
                )
            }
        }
    }

    /// One take, as made: a take or log that could not be made is not reported as made.
    private static func sayTake(_ file: String, _ log: String) {
        switch (exists(file), exists(log)) {
        case (true, true): Terminal.error("take \(file) (log \(log))")
        case (true, false): Terminal.error("take \(file) (no log)")
        case (false, true): Terminal.error("no take written (log \(log))")
        case (false, false): break
        }
    }

    private static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }
}

/// The terminal in raw mode (no echo, no line buffering) for single-key commands.
final class RawKeyboard {
    private var saved = termios()
    private var active = false

    init() {
        guard tcgetattr(STDIN_FILENO, &saved) == 0 else { return }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        // Ctrl-S (XOFF, a classic slip in PuTTY and xterm) would freeze the meter and then
        // the main loop, blocked writing to it, with every key and Ctrl-C behind it: it is a
        // key like any other while the meter runs (as in vim and less).
        raw.c_iflag &= ~tcflag_t(IXON)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 0
            cc[Int(VTIME)] = 0
        }
        active = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0
        if active { tcflow(STDIN_FILENO, TCOON) }  // output an XOFF had stopped goes on
    }

    enum Input: Equatable {
        /// One byte from the terminal (a byte of UTF-8 reads as its Latin-1 character).
        case key(Character)
        /// The terminal hung up or stdin was closed.
        case gone
    }

    /// One key, or nil after `timeoutMilliseconds` or as soon as `attention` (the session's
    /// warning descriptor) turns readable, so a warning is drawn the moment it comes.
    func read(timeoutMilliseconds: Int32, orAttention attention: Int32 = -1) -> Input? {
        var pfd = [
            pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0),
            pollfd(fd: attention, events: Int16(POLLIN), revents: 0),
        ]
        let ready = poll(&pfd, attention >= 0 ? 2 : 1, timeoutMilliseconds)
        guard ready > 0 else { return ready < 0 && errno != EINTR ? .gone : nil }
        if attention >= 0 && pfd[1].revents != 0 { RecordingSession.drainAttention(attention) }
        guard pfd[0].revents != 0 else { return nil }
        var byte: UInt8 = 0
        let n = Glibc.read(STDIN_FILENO, &byte, 1)
        if n == 1 { return .key(Character(UnicodeScalar(byte))) }
        if n < 0 && (errno == EINTR || errno == EAGAIN) { return nil }
        return .gone  // 0 (end of file) or EIO: a terminal that hung up
    }

    func restore() {
        if active { tcsetattr(STDIN_FILENO, TCSANOW, &saved) }
        active = false
    }

    deinit { restore() }
}
