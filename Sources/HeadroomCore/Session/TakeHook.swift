import Foundation
import Synchronization

/// `--on-take-closed CMD` (jack_capture's `--hook-close`): once a take and its log are both
/// closed (and its cue markers and metadata written), `/bin/sh -c 'CMD "$@"' headroom TAKE
/// LOG` runs, with `HEADROOM_TAKE`, `HEADROOM_LOG` and `HEADROOM_COMPLETE` (`1` or `0`) in
/// its environment: rsync to a server, a checksum, an upload. A command that names the paths
/// itself (``namesPaths(_:)``) runs as it is, `/bin/sh -c 'CMD' headroom TAKE LOG`: the paths
/// appended again would land in its last command (`cat "$HEADROOM_LOG" >> all.jsonl` would
/// append the take's audio, and the log once more, to all.jsonl). It runs beside the recording,
/// never on the capture path, and the next take does not wait for it. A command that fails
/// is reported (with the last line it printed) and the recording goes on; at the end the
/// recorder waits for the commands still running.
public final class TakeHook: Sendable {
    public let command: String
    private let group = DispatchGroup()
    private let reports = Mutex<[String]>([])

    /// Nil for an empty (or blank) command: no hook, so that `--on-take-closed ''` or
    /// `on_take_closed = ""` turns off one a config file read earlier set (run, it would have
    /// tried to execute the take itself).
    public init?(command: String) {
        guard !command.allSatisfy(\.isWhitespace) else { return nil }
        self.command = command
    }

    func run(take: String, log: String, complete: Bool) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", Self.namesPaths(command) ? command : command + " \"$@\"", "headroom", take, log]
        process.environment = ProcessInfo.processInfo.environment.merging([
            "HEADROOM_TAKE": take, "HEADROOM_LOG": log, "HEADROOM_COMPLETE": complete ? "1" : "0",
        ]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        let name = (take as NSString).lastPathComponent
        do {
            try process.run()
        } catch {
            reports.withLock { $0.append("--on-take-closed: cannot run /bin/sh for \(name): \(error)") }
            return
        }
        group.enter()
        let thread = Thread { [self] in
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let status = process.terminationStatus
            if process.terminationReason != .exit || status != 0 {
                let last =
                    String(decoding: data.suffix(2000), as: UTF8.self)
                    .splitLines().last { !$0.isEmpty }.map { ": " + DisplayText.escaped(String($0)) } ?? ""
                let how = process.terminationReason == .exit ? "exited \(status)" : "was killed by signal \(status)"
                reports.withLock { $0.append("--on-take-closed \(how) for \(name)\(last)") }
            }
            group.leave()
        }
        thread.name = "headroom-hook"
        thread.start()
    }

    /// Whether `command` names the take or the log itself: `$1`, `$2`, `$@` or `$*` (braced or
    /// not), `HEADROOM_TAKE` or `HEADROOM_LOG`.
    static func namesPaths(_ command: String) -> Bool {
        command.contains("HEADROOM_TAKE") || command.contains("HEADROOM_LOG")
            || command.contains(/\$\{?[12@*]/)
    }

    /// Failures since the last call.
    func failures() -> [String] {
        reports.withLock { r in
            defer { r.removeAll() }
            return r
        }
    }

    /// Waits for every command still running.
    func waitAll() { group.wait() }
}
