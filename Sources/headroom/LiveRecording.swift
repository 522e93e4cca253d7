import Foundation
import HeadroomCore

/// Runs a recording in the foreground: signals, keys, the meter or the plain lines.
struct LiveRecording {
    let session: RecordingSession
    let settings: Settings
    let headless: Bool
    /// Soundcheck levels (dBTP) to mark in the meters, by 0-based channel.
    var references: [Int: Double] = [:]

    /// The signals that end a take: blocked in every thread, taken by the main loop.
    static var endSignals: sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGHUP)
        return signals
    }

    /// Call before any thread starts (the device's plugins start some): SIGINT, SIGTERM
    /// and SIGHUP end the take cleanly, so every thread blocks them and the main loop takes them.
    static func takeOverSignals() {
        // A background job of a script inherits SIGINT ignored, and an ignored signal never
        // becomes pending: restore the defaults so `kill -INT` still ends the take.
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
        var signals = endSignals
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        signal(SIGPIPE, SIG_IGN)
        signal(SIGXFSZ, SIG_IGN)  // a file-size limit is a full disk: the write fails, the take is closed
    }

    /// Waits up to `seconds` for SIGINT, SIGTERM or SIGHUP; true when one came.
    static func waitForEndSignal(seconds: Double) -> Bool {
        var signals = endSignals
        var timeout = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        return sigtimedwait(&signals, nil, &timeout) > 0
    }

    func run() -> RecordingSession.Outcome {
        var signals = Self.endSignals

        let interactive = !headless && isatty(STDOUT_FILENO) == 1 && isatty(STDIN_FILENO) == 1
        let statusInterval: Double = headless ? 60 : 10
        var meter = interactive ? MeterView(settings: settings.analysis, directory: settings.directory) : nil
        meter?.references = references
        let keyboard = interactive ? RawKeyboard() : nil
        session.start()
        var noted = false
        var lastStatus = CaptureClock.now()
        var stopping = false
        while !session.isFinished {
            if let key = keyboard?.read(timeoutMilliseconds: 66) {
                switch key {
                case "q", "Q":
                    session.stop()
                    stopping = true
                case "n", "N": session.nextTake()
                case "r", "R": meter?.reset()
                default: break
                }
            } else if keyboard == nil {
                _ = session.wait(seconds: 0.1)
            }
            var timeout = timespec(tv_sec: 0, tv_nsec: 0)
            if sigtimedwait(&signals, nil, &timeout) > 0 && !stopping {
                session.stop()
                stopping = true
            }
            if !noted && session.realtimeStatus == -1 {
                noted = true
                let note =
                    "note: no real-time priority for the capture thread (join the audio group or allow rtprio); recording anyway"
                if meter != nil { meter?.message = note } else { Terminal.error(note) }
            }
            let warnings = session.takeWarnings()
            let snapshot = session.snapshot()
            if var m = meter {
                for w in warnings { m.message = w }
                m.draw(snapshot)
                meter = m
            } else {
                for w in warnings { FileHandle.standardError.write(Data((w + "\n").utf8)) }
                if CaptureClock.now() - lastStatus >= statusInterval {
                    lastStatus = CaptureClock.now()
                    FileHandle.standardError.write(Data((MeterView.statusLine(snapshot) + "\n").utf8))
                }
            }
        }
        let outcome = session.outcome()
        for w in session.takeWarnings() where meter == nil { FileHandle.standardError.write(Data((w + "\n").utf8)) }
        if var m = meter {
            m.draw(session.snapshot())
            m.finish()
        }
        keyboard?.restore()
        for (file, log) in zip(outcome.takes, outcome.logs) {
            Terminal.error("take \(file) (log \(log))")
        }
        return outcome
    }
}

enum CaptureClock {
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
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
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 0
            cc[Int(VTIME)] = 0
        }
        active = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0
    }

    /// One key, or nil after `timeoutMilliseconds`.
    func read(timeoutMilliseconds: Int32) -> Character? {
        var pfd = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, timeoutMilliseconds) > 0 else { return nil }
        var byte: UInt8 = 0
        guard Glibc.read(STDIN_FILENO, &byte, 1) == 1 else { return nil }
        return Character(UnicodeScalar(byte))
    }

    func restore() {
        if active { tcsetattr(STDIN_FILENO, TCSANOW, &saved) }
        active = false
    }

    deinit { restore() }
}
