import CHeadroomKernels
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
/// recorder waits for the commands still running, unless told to leave them running.
///
/// The commands run one at a time, in the order their takes closed. Started as each take
/// closed, an upload that hangs (an rsync to a server gone, with no `--timeout`) left one more
/// process, thread and pipe behind with every take: after a day of one-minute takes the
/// recorder ran out of descriptors, and the next takes could not be opened. In a queue, one
/// that hangs holds only the commands after it, and says so as they wait.
public final class TakeHook: Sendable {
    public let command: String
    /// Entered for each take given, left once its command has ended (or will never run).
    private let group = DispatchGroup()
    private let reports = Mutex<[String]>([])
    private let queue = Mutex<Queue>(Queue())
    /// Called on the hook's thread between a take leaving the queue and its command starting
    /// (tests: to hold a take there while the recorder is told to end).
    private let beforeSpawn: (@Sendable () -> Void)?

    private typealias Job = (take: String, log: String, complete: Bool)

    private struct Queue {
        /// The takes whose command has not started, in the order they closed.
        var waiting: [Job] = []
        /// A thread is running the commands in turn (it ends once none waits).
        var working = false
        /// The take taken from the queue: its command's shell's pid once started (nil before:
        /// told to end then, the recorder names it among the takes whose command never ran).
        var running: (pid: Int32?, job: Job)?
        /// How many takes waited for the command running when that was last said (10, 100...).
        var saidWaiting = 0
        /// Told to stop waiting at the end: nothing more starts.
        var closed = false
    }

    /// Nil for an empty (or blank) command: no hook, so that `--on-take-closed ''` or
    /// `on_take_closed = ""` turns off one a config file read earlier set (run, it would have
    /// tried to execute the take itself).
    public convenience init?(command: String) {
        self.init(command: command, beforeSpawn: nil)
    }

    /// `beforeSpawn`: see the property (tests only).
    init?(command: String, beforeSpawn: (@Sendable () -> Void)?) {
        guard !command.allSatisfy(\.isWhitespace) else { return nil }
        self.command = command
        self.beforeSpawn = beforeSpawn
    }

    /// Queues the command for a take that closed; it starts when the ones before it have
    /// ended.
    func run(take: String, log: String, complete: Bool) {
        group.enter()
        let (said, startWorking) = queue.withLock { q -> (String?, Bool) in
            q.waiting.append((take, log, complete))
            defer { q.working = true }
            guard let running = q.running, let pid = running.pid, q.waiting.count >= max(10, q.saidWaiting * 10)
            else {
                return (nil, !q.working)
            }
            q.saidWaiting = q.waiting.count
            return (
                "--on-take-closed has not finished for \(Self.name(running.job)) (pid \(pid)): \(q.waiting.count) takes wait for it (one command runs at a time)",
                !q.working
            )
        }
        if let said { reports.withLock { $0.append(said) } }
        if startWorking {
            let thread = Thread { [self] in work() }
            thread.name = "headroom-hook"
            thread.start()
        }
    }

    /// The commands waiting, one after another, until none waits (or the recorder leaves them).
    private func work() {
        while let job = queue.withLock({ q -> Job? in
            guard !q.closed, !q.waiting.isEmpty else {
                q.working = false
                return nil
            }
            let job = q.waiting.removeFirst()
            q.running = (nil, job)
            return job
        }) {
            execute(job)
            queue.withLock { q in
                q.running = nil
                q.saidWaiting = 0
            }
            group.leave()
        }
    }

    /// Runs one command to its end and reports how it ended, when it failed.
    private func execute(_ job: Job) {
        let (take, log) = (job.take, job.log)
        let script = Self.namesPaths(command) ? command : command + " \"$@\""
        let environment = ProcessInfo.processInfo.environment.merging([
            "HEADROOM_TAKE": take, "HEADROOM_LOG": log, "HEADROOM_COMPLETE": job.complete ? "1" : "0",
        ]) { $1 }
        let name = Self.name(job)
        let output: (read: Int32, write: Int32)
        do {
            output = try Self.pipe()
        } catch {
            reports.withLock { $0.append("--on-take-closed: cannot run /bin/sh for \(name): \(error)") }
            return
        }
        beforeSpawn?()
        // Started under the queue's lock, so that a recorder told to end (``waitAll``) finds
        // the take either not started (and says so) or started with its pid, never between.
        var failure: SpawnError? = nil
        let started = queue.withLock { q -> pid_t? in
            guard !q.closed else { return nil }
            do throws(SpawnError) {
                let pid = try Self.spawn(
                    ["/bin/sh", "-c", script, "headroom", take, log],
                    environment: environment.map { "\($0.key)=\($0.value)" },
                    output: output.write
                )
                q.running = (pid, job)
                return pid
            } catch {
                failure = error
                return nil
            }
        }
        close(output.write)
        guard let pid = started else {
            close(output.read)
            if let failure {
                reports.withLock { $0.append("--on-take-closed: cannot run /bin/sh for \(name): \(failure)") }
            }
            return
        }
        let printed = Self.readToEnd(output.read, keepingLast: 2000)
        close(output.read)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // waitpid's status: the low 7 bits the signal that killed it (0: it exited), the
        // next byte the exit code.
        let (signal, code) = (status & 0x7F, (status >> 8) & 0xFF)
        if signal != 0 || code != 0 {
            let last =
                String(decoding: printed, as: UTF8.self)
                .splitLines().last { !$0.isEmpty }.map { ": " + DisplayText.escaped(String($0)) } ?? ""
            let how = signal == 0 ? "exited \(code)" : "was killed by signal \(signal)"
            reports.withLock { $0.append("--on-take-closed \(how) for \(name)\(last)") }
        }
    }

    private static func name(_ job: Job) -> String { (job.take as NSString).lastPathComponent }

    struct SpawnError: Error, CustomStringConvertible {
        let description: String
    }

    /// A pipe whose ends are closed in the command (close-on-exec; its output end is given to
    /// it as stdout and stderr).
    private static func pipe() throws(SpawnError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard Glibc.pipe(&fds) == 0 else { throw SpawnError(description: String(cString: strerror(errno))) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }

    /// Starts `argv` as a command of its own: every signal at its default and none blocked
    /// (the recorder blocks and ignores most: inherited, a hook's `timeout 60 rsync ...` could
    /// not stop rsync, nor systemd's SIGTERM the hook), in a process group of its own (the
    /// terminal's Ctrl-C is the recorder's to take, not the upload's), stdin on /dev/null,
    /// stdout and stderr into `output`, and no other descriptor of the recorder's.
    private static func spawn(_ argv: [String], environment: [String], output: Int32) throws(SpawnError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, output, 2)
        // Nothing else of the recorder's: its device, its take files and their locks, a
        // --listen socket, or a descriptor its own parent waits on to see it end.
        hr_spawn_close_from(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var every = sigset_t()
        sigemptyset(&every)
        for signal in 1...__libc_current_sigrtmax() where signal != SIGKILL && signal != SIGSTOP {
            sigaddset(&every, signal)
        }
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &every)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes,
            Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP)
        )
        let arguments = argv.map { strdup($0) } + [nil]
        let variables = environment.map { strdup($0) } + [nil]
        defer { for p in arguments + variables { free(p) } }
        var pid = pid_t()
        let failed = posix_spawn(&pid, argv[0], &actions, &attributes, arguments, variables)
        guard failed == 0 else { throw SpawnError(description: String(cString: strerror(failed))) }
        return pid
    }

    /// Reads `fd` to its end, keeping the last `limit` bytes.
    private static func readToEnd(_ fd: Int32, keepingLast limit: Int) -> [UInt8] {
        var kept: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            kept += buffer.prefix(n)
            if kept.count > 2 * limit { kept.removeFirst(kept.count - limit) }
        }
        return Array(kept.suffix(limit))
    }

    /// Whether `command` names the take or the log itself: `$1`, `$2`, `$@` or `$*` (braced or
    /// not), `HEADROOM_TAKE` or `HEADROOM_LOG`.
    static func namesPaths(_ command: String) -> Bool {
        command.contains("HEADROOM_TAKE") || command.contains("HEADROOM_LOG")
            || command.contains(/\$\{?[12@*]/)
    }

    /// Failures since the last call.
    public func failures() -> [String] {
        reports.withLock { r in
            defer { r.removeAll() }
            return r
        }
    }

    /// Waits for every command, the one running and those waiting, or until `leave()` (asked
    /// about ten times a second) says to stop waiting: then the command running is left to run
    /// (in its own process group, so the terminal's Ctrl-C does not reach it), returned as
    /// "take.wav (pid 123)", and the takes whose command had not started (one just taken from
    /// the queue among them: it never will) are returned by their paths.
    public func waitAll(leavingWhen leave: () -> Bool) -> (leftRunning: [String], notRun: [String]) {
        while group.wait(timeout: .now() + 0.1) == .timedOut {
            if leave() {
                let (running, waiting) = queue.withLock { q in
                    q.closed = true
                    defer { q.waiting = [] }
                    return (q.running, q.waiting)
                }
                for _ in waiting { group.leave() }
                guard let running else { return ([], waiting.map(\.take)) }
                guard let pid = running.pid else { return ([], [running.job.take] + waiting.map(\.take)) }
                return (["\(Self.name(running.job)) (pid \(pid))"], waiting.map(\.take))
            }
        }
        return ([], [])
    }
}
