import CSndFile
import Foundation
import Testing

/// A folder served through the kernel's FUSE (Debian's python3-fusepy) that passes every
/// call to a folder of its own, except that writes to a `.wav` file past its first MiB
/// hang while the file `hold` exists: a network share that stops answering, a failing disk.
/// While `hold-create` exists, creating a `.wav` file hangs; while `hold-all` does, every
/// call under `/takes` (a share gone before the recorder started).
final class HoldingFolder {
    let mount: String
    let backing: String
    let hold: String
    private let server = Process()

    static let script = """
        import errno, os, sys, time
        from fusepy import FUSE, FuseOSError, Operations

        class HoldFS(Operations):
            def __init__(self, root, hold):
                self.root, self.hold = root, hold
            def _p(self, path):
                return os.path.join(self.root, path.lstrip('/'))
            def _wait(self, path, creating=False):
                while (path.startswith('/takes') and os.path.exists(self.hold + '-all')) or (
                        creating and path.endswith('.wav') and os.path.exists(self.hold + '-create')):
                    time.sleep(0.02)
            def getattr(self, path, fh=None):
                self._wait(path)
                st = os.lstat(self._p(path))
                keys = ('st_atime', 'st_ctime', 'st_gid', 'st_mode', 'st_mtime', 'st_nlink', 'st_size', 'st_uid')
                return {k: getattr(st, k) for k in keys}
            def readdir(self, path, fh):
                self._wait(path)
                return ['.', '..'] + os.listdir(self._p(path))
            def access(self, path, mode):
                self._wait(path)
                if not os.access(self._p(path), mode):
                    raise FuseOSError(errno.EACCES)
            def mkdir(self, path, mode):
                self._wait(path)
                os.mkdir(self._p(path), mode)
            def create(self, path, mode, fi=None):
                self._wait(path, creating=True)
                return os.open(self._p(path), os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
            def open(self, path, flags):
                self._wait(path)
                return os.open(self._p(path), flags)
            def read(self, path, size, offset, fh): return os.pread(fh, size, offset)
            def write(self, path, data, offset, fh):
                while path.endswith('.wav') and offset >= 1 << 20 and os.path.exists(self.hold):
                    time.sleep(0.02)
                self._wait(path)
                return os.pwrite(fh, data, offset)
            def truncate(self, path, length, fh=None):
                self._wait(path)
                os.truncate(self._p(path), length)
            def flush(self, path, fh): return 0
            def release(self, path, fh): os.close(fh)
            def fsync(self, path, datasync, fh):
                self._wait(path)
                os.fsync(fh)
            def unlink(self, path): os.unlink(self._p(path))
            def rename(self, old, new): os.rename(self._p(old), self._p(new))
            def chmod(self, path, mode): os.chmod(self._p(path), mode)
            def utimens(self, path, times=None): os.utime(self._p(path), times)
            def statfs(self, path):
                self._wait(path)
                s = os.statvfs(self._p(path))
                keys = ('f_bavail', 'f_bfree', 'f_blocks', 'f_bsize', 'f_favail', 'f_ffree', 'f_files', 'f_flag',
                        'f_frsize', 'f_namemax')
                return {k: getattr(s, k) for k in keys}

        FUSE(HoldFS(sys.argv[1], sys.argv[3]), sys.argv[2], foreground=True)
        """

    init(in directory: String) throws {
        mount = directory + "/share"
        backing = directory + "/disk"
        hold = directory + "/hold"
        for folder in [mount, backing] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        let script = directory + "/holdfs.py"
        try Self.script.write(toFile: script, atomically: true, encoding: .utf8)
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        server.arguments = [script, backing, mount, hold]
        server.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        server.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try server.run()
        let deadline = Date().addingTimeInterval(10)
        while !isMounted && server.isRunning && Date() < deadline { usleep(20_000) }
        guard isMounted else {
            stop()
            throw RigError("the FUSE folder did not mount at \(mount)")
        }
    }

    var isMounted: Bool {
        let mounts = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
        return mounts.split(separator: "\n").contains { $0.split(separator: " ").dropFirst().first == Substring(mount) }
    }

    enum Held: String {
        case writes = ""
        case creates = "-create"
        case everything = "-all"
    }

    /// Writes past the first MiB of a take, creating a take, or every call under `/takes`
    /// hang from now until ``answer()``.
    func stopAnswering(_ held: Held = .writes) {
        #expect(FileManager.default.createFile(atPath: hold + held.rawValue, contents: nil))
    }
    func answer() {
        for held in [Held.writes, .creates, .everything] {
            try? FileManager.default.removeItem(atPath: hold + held.rawValue)
        }
    }

    /// Answers whatever waits, unmounts (lazily when a file is still open there: a
    /// recorder the test is leaving behind), and stops the server by its pid.
    func stop() {
        answer()
        if isMounted, (try? run("/bin/umount", [mount]))?.status != 0 { _ = try? run("/bin/umount", ["-l", mount]) }
        if server.isRunning { kill(server.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(3)
        while server.isRunning && Date() < deadline { usleep(20_000) }
        if server.isRunning { kill(server.processIdentifier, SIGKILL) }
        server.waitUntilExit()
    }
}

@Suite("A disk that stops answering (a FUSE folder that holds writes)")
struct DiskStallTests {
    @Test(
        "a write that does not return is said, and so is the disk answering again; Ctrl-C then waits for it, and again leaves (exit 74) with what the disk took"
    )
    func stalls() throws {
        // A minute of a quiet tone, read unpaced: the recorder is far ahead of the disk.
        let frames = 60 * 48000
        var samples = [Int16](repeating: 0, count: frames * 2)
        for f in 0..<frames { samples[2 * f] = Int16(3000 * sin(Double(f) * 0.05)) }
        for f in 0..<frames { samples[2 * f + 1] = samples[2 * f] }
        let rig = FileRig(bytes: samples.withUnsafeBytes { Data($0) })
        let folder = try HoldingFolder(in: rig.directory)
        defer { folder.stop() }
        func record(_ name: String) throws -> BackgroundRecorder {
            try BackgroundRecorder(
                [
                    "record", "--device", "testcap", "--format", "S16_LE", "--duration", "60", "--dir",
                    folder.mount + "/takes", "--name", name,
                ],
                environment: rig.environment,
                directory: rig.directory + "/" + name
            )
        }
        try FileManager.default.createDirectory(atPath: rig.directory + "/again", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: rig.directory + "/gone", withIntermediateDirectories: true)

        // The disk stops answering for a while and comes back: said, and the take is whole.
        folder.stopAnswering()
        let again = try record("again")
        #expect(waitFor("DISK: a write to again.wav has not returned for 2 s", in: again), "\(again.stderr)")
        folder.answer()
        #expect(again.wait(seconds: 30) == 0, "\(again.stderr)")
        #expect(again.stderr.contains("DISK: the disk answers again, after "), "\(again.stderr)")
        var info = SF_INFO()
        if let file = sf_open(folder.backing + "/takes/again.wav", Int32(SFM_READ), &info) { sf_close(file) }
        #expect(info.frames == Int64(frames))

        // The disk stops answering for good: Ctrl-C says it waits, and a second one leaves.
        folder.stopAnswering()
        let gone = try record("gone")
        #expect(waitFor("DISK: a write to gone.wav has not returned for 2 s", in: gone), "\(gone.stderr)")
        kill(gone.pid, SIGINT)
        #expect(
            waitFor(
                "DISK: waiting for the disk to take the rest of gone.wav; Ctrl-C again leaves now (the take keeps what the disk took)",
                in: gone,
                seconds: 5
            ),
            "\(gone.stderr)"
        )
        kill(gone.pid, SIGINT)
        #expect(waitFor("headroom: left gone.wav unfinished: the disk has not answered for ", in: gone, seconds: 5))
        // A write the disk holds keeps the process (its thread cannot be killed) until the
        // disk answers; then it ends at once, 74, without finishing the take.
        folder.answer()
        #expect(gone.wait(seconds: 10) == 74, "\(gone.stderr)")
        // What the disk took opens as a WAV file.
        var left = SF_INFO()
        let file = sf_open(folder.backing + "/takes/gone.wav", Int32(SFM_READ), &left)
        #expect(file != nil && left.channels == 2)
        if let file { sf_close(file) }
    }

    @Test(
        "a share gone mid-take (every call under the folder hangs, the log's too): the analysis and the warnings go on, the disk is said, and once it answers the take ends with its whole log"
    )
    func goneMidTake() throws {
        let dir = scratchDirectory()
        MeterTerminalTests.writeClippedBursts(dir + "/in.wav")
        let rig = try JackRig(name: "share", wav: dir + "/in.wav")
        defer { rig.stop() }
        let folder = try HoldingFolder(in: dir)
        defer { folder.stop() }
        try FileManager.default.createDirectory(atPath: folder.mount + "/takes", withIntermediateDirectories: true)
        let recorder = try BackgroundRecorder(
            ["record", "--device", "testlive", "--dir", folder.mount + "/takes", "--name", "mid"],
            environment: rig.environment,
            directory: dir
        )
        #expect(waitFor("CLIP: ch1", in: recorder), "\(recorder.stderr)")
        folder.stopAnswering(.everything)
        #expect(waitFor("DISK: a write to mid.wav has not returned for 2 s", in: recorder), "\(recorder.stderr)")
        // The share stays gone a second longer: longer than the analyzer's ring holds (2 s),
        // within what the writer's does (4 s).
        usleep(1_000_000)
        folder.answer()
        #expect(waitFor("DISK: the disk answers again, after ", in: recorder), "\(recorder.stderr)")
        kill(recorder.pid, SIGINT)
        #expect(recorder.wait(seconds: 15) == 0, "\(recorder.stderr)")
        let log = logLines(folder.backing + "/takes/mid.clips.jsonl")
        #expect(log.last?["type"] as? String == "summary")
        // The analyzer never waited on the log's disk: nothing went unanalyzed.
        let unanalyzed = log.filter { $0["type"] as? String == "dropped" && $0["in"] as? String == "analysis" }
        #expect(unanalyzed.isEmpty, "\(unanalyzed)")
    }

    @Test(
        "a --metrics-file folder that does not answer: at the start said as the takes' folder is; mid-take it holds only its writes, Ctrl-C ends the take, and the end says the file may be old"
    )
    func metricsFolderGone() throws {
        let dir = scratchDirectory()
        _ = writeNoiseWav(dir + "/in.wav", seconds: 2, level: 0.05)
        let rig = try JackRig(name: "prom", wav: dir + "/in.wav")
        defer { rig.stop() }
        let folder = try HoldingFolder(in: dir)
        defer { folder.stop() }
        try FileManager.default.createDirectory(atPath: folder.mount + "/takes", withIntermediateDirectories: true)
        let metrics = folder.mount + "/takes/headroom.prom"
        // Gone when the recorder starts: said, and the recording starts once it answers.
        folder.stopAnswering(.everything)
        let recorder = try BackgroundRecorder(
            ["record", "--device", "testlive", "--dir", dir + "/takes", "--name", "t", "--metrics-file", metrics],
            environment: rig.environment,
            directory: dir
        )
        #expect(
            waitFor("DISK: \(folder.mount)/takes has not answered for 2 s", in: recorder),
            "\(recorder.stderr)"
        )
        folder.answer()
        #expect(eventually { FileManager.default.fileExists(atPath: folder.backing + "/takes/headroom.prom") })
        // Gone mid-take.
        folder.stopAnswering(.everything)
        // The next write (every 5 s) waits on the folder: a thread of the recorder sleeps in FUSE.
        func waitingOnFUSE() -> Bool {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(recorder.pid)/task")) ?? []
            return tasks.contains { task in
                let wchan =
                    (try? String(contentsOfFile: "/proc/\(recorder.pid)/task/\(task)/wchan", encoding: .utf8)) ?? ""
                return wchan.contains("fuse") || wchan == "request_wait_answer"
            }
        }
        #expect(eventually(20) { waitingOnFUSE() }, "no write to the metrics file waited")
        kill(recorder.pid, SIGINT)
        #expect(
            waitFor(
                "headroom: --metrics-file \(metrics): the disk did not answer; the file may hold older figures",
                in: recorder
            ),
            "\(recorder.stderr)"
        )
        #expect(recorder.stderr.contains("headroom: take \(dir)/takes/t.wav"), "\(recorder.stderr)")
        folder.answer()  // the held call keeps the process until it returns
        #expect(recorder.wait(seconds: 10) == 0, "\(recorder.stderr)")
        #expect(logLines(dir + "/takes/t.clips.jsonl").last?["type"] as? String == "summary")
    }

    @Test(
        "a takes' folder that does not answer when recording starts is said after 2 s, and so is its answer, and systemd's watchdog is fed meanwhile; Ctrl-C while a take's creation hangs leaves, exit 74"
    )
    func silentAtStart() throws {
        let rig = FileRig(bytes: Material(frames: 48000, channels: 2).bytes("S16_LE"))
        let folder = try HoldingFolder(in: rig.directory)
        defer { folder.stop() }
        try FileManager.default.createDirectory(atPath: folder.mount + "/takes", withIntermediateDirectories: true)
        let notify = try NotifySocket(rig.directory + "/notify")
        func record(_ name: String) throws -> BackgroundRecorder {
            try FileManager.default.createDirectory(
                atPath: rig.directory + "/" + name,
                withIntermediateDirectories: true
            )
            return try BackgroundRecorder(
                [
                    "record", "--device", "testcap", "--format", "S16_LE", "--duration", "1", "--dir",
                    folder.mount + "/takes", "--name", name,
                ],
                environment: rig.environment.merging(["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "3000000"]) {
                    $1
                },
                directory: rig.directory + "/" + name
            )
        }

        // The share answers nothing under the folder (its server gone), then comes back.
        folder.stopAnswering(.everything)
        let back = try record("back")
        #expect(
            waitFor("DISK: \(folder.mount)/takes has not answered for 2 s (a share gone? a failing disk?)", in: back),
            "\(back.stderr)"
        )
        // Under systemd it is alive meanwhile: the watchdog (3 s here) is fed, and the status says why.
        let (pinged, messages) = notify.untilPinged(3)
        #expect(pinged, "\(messages)")
        // Ready, as for a device waited for, so that TimeoutStartSec does not end the wait.
        #expect(
            messages.contains(
                "READY=1\nSTATUS=waiting for \(folder.mount)/takes to answer (a share gone? a failing disk?)"
            )
        )
        folder.answer()
        #expect(back.wait(seconds: 30) == 0, "\(back.stderr)")
        #expect(back.stderr.contains("DISK: the disk answers again, after "), "\(back.stderr)")
        var info = SF_INFO()
        if let file = sf_open(folder.backing + "/takes/back.wav", Int32(SFM_READ), &info) { sf_close(file) }
        #expect(info.frames == 48000)

        // Creating the take hangs (signals are the recorder's by then): Ctrl-C leaves.
        folder.stopAnswering(.creates)
        let gone = try record("gone")
        #expect(waitFor("DISK: \(folder.mount)/takes has not answered for 2 s", in: gone), "\(gone.stderr)")
        kill(gone.pid, SIGINT)
        #expect(
            waitFor("\nheadroom: left without recording: \(folder.mount)/takes has not answered", in: gone, seconds: 5),
            "\(gone.stderr)"
        )
        // The DISK lines are warnings as they come mid-take, not errors.
        #expect(
            !gone.stderr.contains("headroom: DISK") && !gone.stderr.contains("headroom: headroom"),
            "\(gone.stderr)"
        )
        folder.answer()  // a call FUSE holds may keep the process until it returns
        #expect(gone.wait(seconds: 10) == 74, "\(gone.stderr)")
    }
}
