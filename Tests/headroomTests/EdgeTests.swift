import CSndFile
import Foundation
import HeadroomCore
import Synchronization
import Testing

@testable import headroom

// The edges a take must survive in ordinary use (issue 9): a report flag before a glob,
// a terminal or a reader that goes away, stray signals, names that cannot be made or that
// collide, a take deleted under the recorder, numbers that do not fit, and names with
// control characters.

/// `headroom record` of `material` (S24_3LE) through the `file` rig for `seconds`, into `dir`.
@discardableResult
func recordOnFileRig(_ material: Material, seconds: Int, dir: String, extra: [String] = []) throws -> RunResult {
    let rig = FileRig(bytes: material.bytes("S24_3LE"))
    return try run(
        headroomBinary,
        ["record", "--device", "testcap", "--channels", String(material.channels), "--duration", String(seconds)]
            + ["--dir", dir] + extra,
        environment: rig.environment
    )
}

@discardableResult
func recordFileTake(
    _ material: Material,
    seconds: Int,
    dir: String,
    extra: [String] = []
) throws -> (take: String, log: String, result: RunResult) {
    let r = try recordOnFileRig(material, seconds: seconds, dir: dir, extra: extra)
    let take = try #require(files(in: dir, ending: ".wav").last, "\(r.stderr)")
    return (take, take.replacingOccurrences(of: ".wav", with: ".clips.jsonl"), r)
}

extension Material {
    /// One second of stereo material with full-scale runs (channel, frame, length).
    static func stereoSecond(clips: [(Int, Int, Int)]) -> Material {
        var m = Material(frames: 48000, channels: 2)
        for (channel, frame, length) in clips { m.clip(channel: channel, frame: frame, length: length) }
        return m
    }
}

/// The bytes of a file (empty when it cannot be read).
func bytes(_ path: String) -> Data { FileManager.default.contents(atPath: path) ?? Data() }

/// Frames in a take's header, as libsndfile reads them.
func headerFrames(_ path: String) -> Int? {
    var info = SF_INFO()
    guard let f = sf_open(path, Int32(SFM_READ), &info) else { return nil }
    sf_close(f)
    return Int(info.frames)
}

func fileSize(_ path: String) -> Int {
    var st = stat()
    return stat(path, &st) == 0 ? Int(st.st_size) : 0
}

/// Polls `predicate` every 20 ms until it holds or `timeout` passes.
func eventually(_ timeout: Double = 15, _ predicate: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if predicate() { return true }
        usleep(20_000)
    }
    return predicate()
}

@Suite("Outputs never replace inputs or audio")
struct OutputSafetyTests {
    @Test("review --html before a glob refuses (exit 73) and leaves every take byte-identical")
    func globSlip() throws {
        let dir = scratchDirectory()
        let m = Material.stereoSecond(clips: [(0, 1000, 4)])
        try recordFileTake(m, seconds: 1, dir: dir, extra: ["--name", "take-%n"])
        try recordFileTake(m, seconds: 1, dir: dir, extra: ["--name", "take-%n"])
        let takes = files(in: dir, ending: ".wav")
        #expect(takes.count == 2)
        let before = takes.map(bytes)
        // The shell expanded `--html takes/*.wav`: the first take became the report's name.
        let r = try headroom("review", "--html", takes[0], takes[1])
        #expect(r.status == 73)
        #expect(r.stderr.contains("--html \(takes[0]): that is an audio file"), "\(r.stderr)")
        #expect(takes.map(bytes) == before)
        // A clip log, or one of the inputs, is refused the same way.
        let log = TakeLog.path(takes[0])
        let logBefore = bytes(log)
        #expect(try headroom("review", "--html", log, takes[1]).status == 73)
        #expect(bytes(log) == logBefore)
        let input = dir + "/notes.txt"
        try "a person's notes".write(toFile: input, atomically: true, encoding: .utf8)
        let read = try headroom("review", "--force", "--html", input, input, takes[1])
        #expect(read.status == 73)
        #expect(read.stderr.contains("--html \(input): that is one of the files being read"), "\(read.stderr)")
        // The folder being reviewed, named as the report: a folder, before it is an input.
        let folder = try headroom("review", "--html", dir, dir)
        #expect(folder.status == 73)
        #expect(folder.stderr == "headroom: --html \(dir): that is a folder; nothing was written\n")
        let html = dir + "/report.html"
        try "made by a person".write(toFile: html, atomically: true, encoding: .utf8)
        let again = try headroom("review", "--html", html, dir)
        #expect(again.status == 73)
        #expect(again.stderr.contains("add --force"))
        #expect(try String(contentsOfFile: html, encoding: .utf8) == "made by a person")
        #expect(try headroom("review", "--force", "--html", html, dir).status == 0)
        #expect(try String(contentsOfFile: html, encoding: .utf8).contains("<html"))
        // Its own report, run again after the next take: brought up to date without --force.
        let (third, _, _) = try recordFileTake(m, seconds: 1, dir: dir, extra: ["--name", "take-%n"])
        let update = try headroom("review", "--html", html, dir)
        #expect(update.status == 0 && update.stderr == "headroom: wrote \(html)\n", "\(update.stderr)")
        let name = (third as NSString).lastPathComponent
        let report = try String(contentsOfFile: html, encoding: .utf8)
        #expect(!takes.contains(third) && report.contains(name), "\(name)")
        // Edited by a person since, it is theirs again.
        let edited = try String(contentsOfFile: html, encoding: .utf8).replacingOccurrences(
            of: "<body>",
            with: "<body><p>mic 2 was the ribbon</p>"
        )
        try edited.write(toFile: html, atomically: true, encoding: .utf8)
        let kept = try headroom("review", "--html", html, dir)
        #expect(kept.status == 73)
        #expect(kept.stderr.contains("headroom wrote it, but it has been changed since; add --force"), "\(kept.stderr)")
        #expect(try String(contentsOfFile: html, encoding: .utf8) == edited)
        // --force never extends to audio.
        #expect(try headroom("review", "--force", "--html", takes[0], takes[1]).status == 73)
        #expect(takes.map(bytes) == before)
    }

    @Test("calibrate --save over a take, or into a missing folder, refuses before listening")
    func calibrateSave() throws {
        let dir = scratchDirectory()
        let m = Material(frames: 48000, channels: 2)
        let (take, _, _) = try recordFileTake(m, seconds: 1, dir: dir)
        let before = bytes(take)
        let rig = FileRig(bytes: m.bytes("S24_3LE"))
        let over = try headroom(
            "calibrate",
            "--device",
            "testcap",
            "--seconds",
            "1",
            "--save",
            take,
            environment: rig.environment
        )
        #expect(over.status == 73)
        #expect(!over.stderr.contains("listening"))
        #expect(bytes(take) == before)
        let missing = try headroom(
            "calibrate",
            "--device",
            "testcap",
            "--seconds",
            "1",
            "--save",
            dir + "/no/such/levels.json",
            environment: rig.environment
        )
        #expect(missing.status == 73)
        #expect(missing.stderr.contains("does not exist"))
        #expect(!missing.stderr.contains("listening"))
    }

    @Test(
        "calibrate --save again replaces its own soundcheck (the gains were turned), and keeps one a person edited or made"
    )
    func calibrateSaveAgain() throws {
        let dir = scratchDirectory()
        let rig = FileRig(bytes: Material(frames: 48000, channels: 2).bytes("S24_3LE"))
        let levels = dir + "/levels.json"
        func soundcheck(_ seconds: String, _ extra: String...) throws -> RunResult {
            try run(
                headroomBinary,
                ["calibrate", "--device", "testcap", "--seconds", seconds, "--json", "--save", levels] + extra,
                environment: rig.environment
            )
        }
        let first = try soundcheck("0.5")
        #expect(first.status == 0, "\(first.stderr)")
        let saved = try String(contentsOfFile: levels, encoding: .utf8)
        // The object --json prints, sealed by one last member any JSON reader passes over.
        let object = try #require(
            JSONSerialization.jsonObject(with: Data(saved.utf8)) as? [String: Any]
        )
        #expect(object["type"] as? String == "calibration" && object["seconds"] as? Double == 0.5)
        #expect(saved.hasPrefix(first.stdout.dropLast(2)) && saved.contains(",\"headroom_seal\":\""))
        let reference = try recordOnFileRig(
            Material(frames: 48000, channels: 2),
            seconds: 1,
            dir: dir,
            extra: ["--reference", levels]
        )
        #expect(reference.status == 0, "\(reference.stderr)")
        // The next soundcheck, as the proposal asks ("then run calibrate again"), replaces it.
        let again = try soundcheck("0.25")
        #expect(again.status == 0, "\(again.stderr)")
        let replaced = try String(contentsOfFile: levels, encoding: .utf8)
        #expect(replaced.contains("\"seconds\":0.25,"))
        // One a person changed is kept, said before listening; --force replaces it.
        let edited = replaced.replacingOccurrences(of: "\"name\":\"L\"", with: "\"name\":\"Vox\"")
        try edited.write(toFile: levels, atomically: true, encoding: .utf8)
        let kept = try soundcheck("0.5")
        #expect(kept.status == 73)
        #expect(kept.stderr.contains("headroom wrote it, but it has been changed since; add --force"), "\(kept.stderr)")
        #expect(!kept.stderr.contains("listening"))
        #expect(try String(contentsOfFile: levels, encoding: .utf8) == edited)
        #expect(try soundcheck("0.5", "--force").status == 0)
        #expect(try String(contentsOfFile: levels, encoding: .utf8).contains("\"seconds\":0.5,"))
        // A file headroom did not write is kept too.
        try "{\"type\":\"calibration\",\"channels\":[]}\n".write(toFile: levels, atomically: true, encoding: .utf8)
        let foreign = try soundcheck("0.5")
        #expect(foreign.status == 73 && foreign.stderr.contains("the file exists; add --force"), "\(foreign.stderr)")
    }

    @Test(
        "review --labels keeps a labels file a person edited unless --force, and leaves its own alone on a second run"
    )
    func labels() throws {
        let dir = scratchDirectory()
        let m = Material.stereoSecond(clips: [(1, 2000, 5)])
        let (take, _, _) = try recordFileTake(m, seconds: 1, dir: dir)
        let labels = (take as NSString).deletingPathExtension + ".labels.txt"
        try "0.5\t0.5\tmy note\n".write(toFile: labels, atomically: true, encoding: .utf8)
        let r = try headroom("review", "--labels", dir)
        #expect(r.status == 73)
        #expect(try String(contentsOfFile: labels, encoding: .utf8) == "0.5\t0.5\tmy note\n")
        #expect(try headroom("review", "--labels", "--force", dir).status == 0)
        let written = try String(contentsOfFile: labels, encoding: .utf8)
        #expect(written.contains("CLIP ch2"))
        // Run again over the same takes (a new take beside them, say): what headroom wrote is
        // up to date, not a refusal.
        let again = try headroom("review", "--labels", dir)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr == "headroom: \(labels) is up to date\n")
        #expect(try String(contentsOfFile: labels, encoding: .utf8) == written)
    }

    @Test(
        "--metrics-file over a take, a clip log or a folder refuses before the device opens; an empty --save or --html is a usage error"
    )
    func metricsFileAndEmptyNames() throws {
        let dir = scratchDirectory()
        let m = Material(frames: 48000, channels: 2)
        let (take, _, _) = try recordFileTake(m, seconds: 1, dir: dir)
        let log = TakeLog.path(take)
        let before = [bytes(take), bytes(log)]
        let rig = FileRig(bytes: m.bytes("S24_3LE"))
        func record(_ metrics: String) throws -> RunResult {
            try headroom(
                "record",
                "--device",
                "testcap",
                "--duration",
                "0.2",
                "--dir",
                dir + "/new",
                "--metrics-file",
                metrics,
                environment: rig.environment
            )
        }
        for (path, why) in [(take, "that is an audio file"), (log, "that is a clip log"), (dir, "that is a folder")] {
            let r = try record(path)
            #expect(r.status == 73, "\(path): \(r.stderr)")
            #expect(r.stderr.contains("--metrics-file \(path): \(why)"), "\(r.stderr)")
        }
        #expect([bytes(take), bytes(log)] == before)
        #expect(!FileManager.default.fileExists(atPath: dir + "/new"))
        let empty = try record("")
        #expect(empty.status == 64)
        #expect(empty.stderr.hasPrefix("headroom: --metrics-file is empty: name a file"), "\(empty.stderr)")
        // An earlier run's metrics file is replaced without --force: it is rewritten every 5 s.
        let prom = dir + "/headroom.prom"
        try "# an earlier run\n".write(toFile: prom, atomically: true, encoding: .utf8)
        #expect(try record(prom).status == 0)
        #expect(try String(contentsOfFile: prom, encoding: .utf8).contains("headroom_"))
        let save = try headroom(
            "calibrate",
            "--device",
            "testcap",
            "--seconds",
            "1",
            "--save",
            "",
            environment: rig.environment
        )
        #expect(save.status == 64)
        #expect(!save.stderr.contains("listening"))
        #expect(try headroom("review", "--html", "", dir).status == 64)
    }
}

@Suite("review --cues")
struct CueTests {
    @Test(
        "adds the clip events' cues once: a second run changes nothing, for WAV and RF64",
        arguments: [Int32(SF_FORMAT_WAV), Int32(SF_FORMAT_RF64)]
    )
    func idempotent(container: Int32) throws {
        let dir = scratchDirectory()
        let m = Material.stereoSecond(clips: [(0, 1000, 4), (1, 30000, 5)])
        let (take, log, _) = try recordFileTake(m, seconds: 1, dir: dir + "/rec")
        // The same audio without cues, and the same log beside it.
        let audio = try #require(readAudio(take))
        let bare = dir + "/bare." + (container == Int32(SF_FORMAT_RF64) ? "rf64" : "wav")
        writeAudio(bare, samples: audio.samples, channels: 2, format: container | Int32(SF_FORMAT_PCM_24))
        try FileManager.default.copyItem(atPath: log, toPath: TakeLog.path(bare))
        let first = try headroom("review", "--cues", bare)
        #expect(first.stderr.contains("wrote 2 cue markers"), "\(first.stderr)")
        let once = bytes(bare)
        let second = try headroom("review", "--cues", bare)
        #expect(second.stderr.contains("already has 2 cue markers"), "\(second.stderr)")
        #expect(bytes(bare) == once)
        #expect(firstDifference(readAudio(bare)?.samples, audio.samples) == nil)
    }
}

enum TakeLog {
    static func path(_ take: String) -> String { (take as NSString).deletingPathExtension + ".clips.jsonl" }
}

@Suite("The live commands' output thread")
struct OutputThreadTests {
    @Test(
        "while a write is held: meter frames are left out, lines wait in order, past the limit they are counted and said once output flows"
    )
    func heldOutput() {
        let written = Mutex<[String]>([])
        let gate = DispatchSemaphore(value: 0)
        let output = OutputThread { fd, bytes in
            if bytes.first == UInt8(ascii: "H") { gate.wait() }  // the terminal takes nothing
            written.withLock { $0.append("\(fd):" + String(decoding: bytes, as: UTF8.self)) }
        }
        output.enqueue(2, Array("HELD".utf8), skippable: false)
        output.enqueue(1, Array("frame".utf8), skippable: true)
        output.enqueue(2, Array("CLIP".utf8), skippable: false)
        let line = [UInt8](repeating: UInt8(ascii: "x"), count: OutputThread.limit / 4)
        for _ in 0..<6 { output.enqueue(2, line, skippable: false) }
        gate.signal()
        output.drain()
        output.enqueue(2, Array("after".utf8), skippable: false)
        output.drain()
        output.enqueue(1, Array("frame".utf8), skippable: true)
        output.drain()
        let lines = written.withLock { $0 }
        #expect(lines.first == "2:HELD" && lines[1] == "2:CLIP")
        #expect(lines.filter { $0 == "1:frame" }.count == 1 && lines.last == "1:frame")
        #expect(lines.filter { $0.hasPrefix("2:xxx") }.count == 3)
        #expect(
            lines.suffix(3).first
                == "2:headroom: 3 lines not shown: the output took nothing for a while (the clip log has every event)\n"
        )
        #expect(lines.suffix(2).first == "2:after")
    }
}

@Suite("Outputs that go away are not fatal", .serialized)
struct GoneOutputTests {
    /// A recorder on the JACK rig (3 s of noise clipping every half second) that is a tmux
    /// pane's process, as a login shell's foreground job is the one a hangup reaches;
    /// `pid()` reads the pid it wrote once it runs.
    struct PaneRecorder {
        let rig: JackRig
        let tmux: MeterTerminalTests.Tmux
        let takes: String
        let pidFile: String

        init(_ name: String, arguments: String) throws {
            let dir = scratchDirectory()
            _ = writeNoiseWav(dir + "/in.wav", seconds: 3, level: 0.05, clipEvery: 24000)
            rig = try JackRig(name: name, wav: dir + "/in.wav")
            takes = dir + "/takes"
            pidFile = dir + "/pid"
            do {
                tmux = try MeterTerminalTests.Tmux(
                    command:
                        "sh -c 'echo $$ > \(pidFile); exec \(headroomBinary) record --device testlive \(arguments) --dir \(takes)'",
                    environment: rig.environment,
                    name: name,
                    pane: true
                )
            } catch {
                rig.stop()
                throw error
            }
        }

        func pid() throws -> pid_t {
            try #require(
                pid_t(
                    try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                )
            )
        }
    }

    @Test("a tmux session killed mid-take: the header's frame count equals the log summary's")
    func terminalKilled() throws {
        let recorder = try PaneRecorder("gone", arguments: "--format FLOAT_LE")
        defer { recorder.rig.stop() }
        let (tmux, out) = (recorder.tmux, recorder.takes)
        #expect(tmux.waitFor { $0.contains("CLIP 2") } != nil)
        let pid = try recorder.pid()
        tmux.stop()  // the terminal goes away under the recorder: SIGHUP, then EIO on every write
        #expect(eventually { kill(pid, 0) != 0 }, "the recorder is still running")
        let take = try #require(files(in: out, ending: ".wav").first)
        let log = TakeLog.path(take)
        #expect(eventually { logLines(log).last?["type"] as? String == "summary" }, "no summary")
        let summary = try #require(logLines(log).last)
        #expect(eventually { headerFrames(take) == summary["frames"] as? Int })
        #expect(headerFrames(take) == summary["frames"] as? Int)
        #expect((summary["frames"] as? Int ?? 0) > 24000)
    }

    @Test(
        "a terminal that takes no output (its tmux server stopped, as a stalled ssh link): kill -INT still ends the take with its summary, and the recorder exits"
    )
    func terminalStalled() throws {
        let recorder = try PaneRecorder("stall", arguments: "")
        defer { recorder.rig.stop() }
        let (tmux, out) = (recorder.tmux, recorder.takes)
        defer { tmux.stop() }
        #expect(tmux.waitFor { $0.hasPrefix("REC ") } != nil, "\(tmux.screen())")
        let pid = try recorder.pid()
        let server = try #require(
            pid_t(
                try run("/usr/bin/tmux", ["display-message", "-p", "-t", tmux.session, "#{pid}"]).stdout
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            )
        )
        // The terminal stops reading: the pane's buffer fills with meter frames until one of
        // the recorder's threads waits in write(2) on stdout or stderr.
        kill(server, SIGSTOP)
        defer { kill(server, SIGCONT) }
        func writingToTerminal() -> Bool {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            return tasks.contains { task in
                let call = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/syscall", encoding: .utf8)) ?? ""
                return call.hasPrefix("1 0x1 ") || call.hasPrefix("1 0x2 ")
            }
        }
        #expect(eventually { writingToTerminal() }, "the recorder never waited on its terminal")
        kill(pid, SIGINT)
        // Its parent (the tmux server) is stopped and cannot reap it: exited is a zombie.
        func exited() -> Bool {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
            return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
        }
        #expect(eventually { exited() }, "SIGINT did not end a recorder whose terminal takes no output")
        let take = try #require(files(in: out, ending: ".wav").first)
        let summary = try #require(logLines(TakeLog.path(take)).last)
        #expect(summary["type"] as? String == "summary")
        #expect(headerFrames(take) == summary["frames"] as? Int)
        #expect((summary["frames"] as? Int ?? 0) > 48000)
    }

    @Test(
        "stderr into head -1, or closed: the take runs to its planned end with a complete summary",
        arguments: ["2>&1 | head -1", "2>&-"]
    )
    func stderrGone(redirect: String) throws {
        let dir = scratchDirectory()
        _ = writeNoiseWav(dir + "/in.wav", seconds: 3, level: 0.05, clipEvery: 12000)
        let rig = try JackRig(name: "head", wav: dir + "/in.wav")
        defer { rig.stop() }
        let out = dir + "/takes"
        // A CLIP line every 0.25 s: head has quit long before the end.
        let script =
            "\"$0\" record --device testlive --format FLOAT_LE --duration 3 --dir \(out) </dev/null \(redirect); echo \"status=${PIPESTATUS[0]}\""
        let r = try run("/bin/bash", ["-c", script, headroomBinary], environment: rig.environment)
        #expect(r.stdout.contains("status=0"), "\(r.stdout) \(r.stderr)")
        let take = try #require(files(in: out, ending: ".wav").first)
        let summary = try #require(logLines(TakeLog.path(take)).last)
        #expect(summary["type"] as? String == "summary")
        #expect(summary["complete"] as? Bool == true)
        // Three seconds of the device's time; on a loaded machine the JACK rig may drop a
        // cycle, which is logged as a gap and stands in the take as silence.
        let gaps = logLines(TakeLog.path(take)).filter { $0["type"] as? String == "gap" }
            .compactMap { $0["lost_frames"] as? Int }.reduce(0, +)
        #expect((3 * 48000)...(3 * 48000 + gaps) ~= (summary["frames"] as? Int ?? 0))
        #expect(headerFrames(take) == summary["frames"] as? Int)
        if redirect == "2>&-" {
            // Warnings went nowhere; in particular not into a file opened after the start.
            #expect(!(try String(contentsOfFile: TakeLog.path(take), encoding: .utf8)).contains("CLIP:"))
        }
    }

    @Test("analyze and review with stdout closed or into head: no backtrace")
    func stdoutGone() throws {
        let dir = scratchDirectory()
        let m = Material.stereoSecond(clips: [(0, 100, 4)])
        let (take, _, _) = try recordFileTake(m, seconds: 1, dir: dir)
        for command in ["analyze --json", "review --events", "review"] {
            for redirect in [">&-", "| head -c 1"] {
                let r = try run(
                    "/bin/bash",
                    [
                        "-c", "\"$0\" \(command) \(take) \(take) \(redirect); echo \"status=${PIPESTATUS[0]}\"",
                        headroomBinary,
                    ]
                )
                #expect(r.stdout.hasSuffix("status=0\n"), "\(command) \(redirect): \(r.stdout) \(r.stderr)")
                #expect(!r.stderr.contains("Fatal error"), "\(command) \(redirect): \(r.stderr)")
            }
        }
    }
}

extension GoneOutputTests {
    @Test(
        "stdout into a file on a full disk (/dev/full): exit 74 and a line that says so, not exit 0 with the result cut short"
    )
    func stdoutFull() throws {
        let dir = scratchDirectory()
        let (take, _, _) = try recordFileTake(Material.stereoSecond(clips: [(0, 100, 4)]), seconds: 1, dir: dir)
        let rig = FileRig(bytes: Material.stereoSecond(clips: []).bytes("S24_3LE"))
        for arguments in [
            ["analyze", "--json", take], ["review", take],
            ["calibrate", "-D", "testcap", "--seconds", "0.5", "--json"],
        ] {
            let r = try run(
                "/bin/bash",
                ["-c", "\"$@\" >/dev/full", headroomBinary, headroomBinary] + arguments,
                environment: rig.environment
            )
            #expect(r.status == 74, "\(arguments): \(r.stderr)")
            #expect(
                r.stderr.contains(
                    "headroom: cannot write stdout: No space left on device; what was printed is cut short"
                ),
                "\(arguments): \(r.stderr)"
            )
        }
    }
}

@Suite("Signals: every catchable one has a meaning", .serialized)
struct SignalTests {
    @Test(
        "SIGUSR2 marks, SIGUSR1 starts the next take, stray signals are ignored, and HUP or QUIT ends cleanly",
        arguments: [SIGHUP, SIGQUIT]
    )
    func signals(end: Int32) throws {
        let r = try RigRecording("sig\(end)", seconds: 4, arguments: ["--format", "FLOAT_LE", "--name", "take-%n"])
        defer { r.stop() }
        let rec = r.recorder
        #expect(waitForAudio(in: r.out, seconds: 0.5))
        let first = r.out + "/take-001.clips.jsonl"
        kill(rec.pid, SIGUSR2)
        #expect(eventually { logLines(first).contains { $0["type"] as? String == "marker" } }, "no marker")
        // Signals whose default action would kill the recorder mid-take.
        for stray in [SIGALRM, SIGVTALRM, SIGPROF, SIGPWR, SIGIO, SIGXCPU, __libc_current_sigrtmin() + 1] {
            kill(rec.pid, stray)
        }
        kill(rec.pid, SIGUSR1)
        let second = r.out + "/take-002.wav"
        #expect(eventually { (headerFrames(second) ?? 0) > 0 || fileSize(second) > 24000 * 8 }, "no second take")
        kill(rec.pid, end)
        #expect(rec.wait(seconds: 10) == 0, "\(rec.stderr)")
        let takes = files(in: r.out, ending: ".wav")
        #expect(takes.count == 2)
        var joined: [Float] = []
        var joinedLog: [[String: Any]] = []
        for take in takes {
            let lines = logLines(TakeLog.path(take))
            let summary = try #require(lines.last)
            #expect(summary["type"] as? String == "summary")
            #expect(headerFrames(take) == summary["frames"] as? Int)
            // The log's frames, counted from the first take's start.
            let before = joined.count / 2
            joinedLog += lines.map { line in
                line.merging(["frame": (line["frame"] as? Int ?? 0) + before]) { $1 }
            }
            joined += try #require(readFloats(take)).samples
        }
        // No frame lost between the two takes: together they are one exact stretch of the input.
        expectPlayerOutput(joined, log: joinedLog, of: r.input, channels: 2)
        let marker = try #require(logLines(first).first { $0["type"] as? String == "marker" })
        #expect((marker["frame"] as? Int ?? -1) > 0)
        #expect(rec.stderr.contains("MARKER at"))
    }
}

extension SignalTests {
    @Test(
        "under nohup a hang-up leaves the recording going (it ended the take), a note says how to end it, and SIGINT still does"
    )
    func nohup() throws {
        let dir = scratchDirectory()
        _ = writeNoiseWav(dir + "/in.wav", seconds: 3, level: 0.05)
        let rig = try JackRig(name: "nohup", wav: dir + "/in.wav")
        defer { rig.stop() }
        let out = dir + "/takes"
        let rec = try BackgroundRecorder(
            ["record", "--device", "testlive", "--format", "FLOAT_LE", "--dir", out, "--name", "t"],
            environment: rig.environment,
            directory: dir,
            through: "/usr/bin/nohup"
        )
        #expect(waitForAudio(in: out, seconds: 0.5))
        #expect(
            rec.stderr.contains(
                "note: SIGHUP is ignored (nohup): the recording goes on when the terminal or ssh session goes away; end it with kill -INT \(rec.pid)"
            ),
            "\(rec.stderr)"
        )
        kill(rec.pid, SIGHUP)  // the ssh session drops
        // A second of audio more: the recorder took no notice.
        let before = fileSize(out + "/t.wav")
        #expect(eventually { fileSize(out + "/t.wav") > before + 48000 * 8 }, "the take stopped growing: \(rec.stderr)")
        #expect(kill(rec.pid, 0) == 0)
        kill(rec.pid, SIGINT)
        #expect(rec.wait(seconds: 10) == 0, "\(rec.stderr)")
        let summary = try #require(logLines(out + "/t.clips.jsonl").last)
        #expect(summary["type"] as? String == "summary")
        #expect(headerFrames(out + "/t.wav") == summary["frames"] as? Int)
    }
}

@Suite("Take names: created together, never lost, never shared")
struct TakeNameTests {
    @Test("a name too long for the file system is refused before the device opens, nothing left behind")
    func tooLong() throws {
        let rig = FileRig(bytes: Material(frames: 4800, channels: 2).bytes("S24_3LE"))
        for length in [300, 250] {
            let out = rig.directory + "/takes-\(length)"
            let r = try headroom(
                "record",
                "--device",
                "testcap",
                "--duration",
                "0.1",
                "--dir",
                out,
                "--name",
                String(repeating: "x", count: length),
                environment: rig.environment
            )
            #expect(r.status == 73, "\(length): \(r.stderr)")
            #expect(r.stderr.contains("at most 255"))
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }

    @Test(
        "a name given with the container's extension gets it once, the log beside it; another container's, or a hidden name, is refused before the device opens"
    )
    func extensionGiven() throws {
        let rig = FileRig(bytes: Material(frames: 4800, channels: 2).bytes("S24_3LE"))
        let out = rig.directory + "/takes"
        func record(_ name: String, _ extra: String...) throws -> RunResult {
            try run(
                headroomBinary,
                ["record", "--device", "testcap", "--duration", "0.1", "--dir", out, "--name", name] + extra,
                environment: rig.environment
            )
        }
        #expect(try record("take-%n.wav").status == 0)
        #expect(try record("Scene 4.WAV").status == 0)
        #expect(try record("mix.flac", "--file-format", "flac").status == 0)
        // Another container's extension asks for that container: said, and nothing made
        // (notes.flac.wav would be a WAV named like a FLAC).
        let other = try record("notes.flac")
        #expect(other.status == 64)
        #expect(other.stderr.contains("for flac takes add --file-format flac, or leave .flac out"), "\(other.stderr)")
        let made = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(
            made == [
                "Scene 4.clips.jsonl", "Scene 4.wav", "mix.clips.jsonl", "mix.flac", "take-001.clips.jsonl",
                "take-001.wav",
            ],
            "\(made)"
        )
        let hidden = try record(".take")
        #expect(hidden.status == 64)
        #expect(hidden.stderr.contains("--name \".take\" would make hidden files (.take.wav)"), "\(hidden.stderr)")
        #expect(!hidden.stderr.contains("outside --dir"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).count == made.count)
    }

    @Test("--dir=~/takes and --html=~/report.html are in the home folder: no shell expands ~ after =")
    func homeFolder() throws {
        let rig = FileRig(bytes: Material(frames: 4800, channels: 2).bytes("S24_3LE"))
        let home = rig.directory + "/home"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let r = try run(
            headroomBinary,
            ["record", "--device", "testcap", "--duration", "0.1", "--dir=~/takes", "--name", "t"],
            cwd: rig.directory,
            environment: rig.environment.merging(["HOME": home]) { $1 }
        )
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: home + "/takes/t.wav"))
        #expect(!FileManager.default.fileExists(atPath: rig.directory + "/~"))
        let html = try run(
            headroomBinary,
            ["review", "--html=~/report.html", home + "/takes"],
            cwd: rig.directory,
            environment: ["HOME": home]
        )
        #expect(html.status == 0, "\(html.stderr)")
        #expect(FileManager.default.fileExists(atPath: home + "/report.html"))
    }

    @Test("one-character paths: record --dir o and --dir a/b, --metrics-file m, calibrate --save x, review --html r")
    func oneCharacterPaths() throws {
        // Foundation's NSString.deletingLastPathComponent traps on a path of one character:
        // each of these crashed before it wrote anything.
        let rig = FileRig(bytes: Material(frames: 48000, channels: 2).bytes("S24_3LE"))
        func inRig(_ arguments: String...) throws -> RunResult {
            try run(headroomBinary, arguments, cwd: rig.directory, environment: rig.environment)
        }
        let record = try inRig(
            "record",
            "--device",
            "testcap",
            "--duration",
            "0.2",
            "--dir",
            "o",
            "--metrics-file",
            "m"
        )
        #expect(record.status == 0, "\(record.stderr)")
        let nested = try inRig("record", "--device", "testcap", "--duration", "0.2", "--dir", "a/b", "--name", "t")
        #expect(nested.status == 0, "\(nested.stderr)")
        let save = try inRig("calibrate", "--device", "testcap", "--seconds", "0.2", "--save", "x")
        #expect(save.status == 0, "\(save.stderr)")
        let html = try inRig("review", "--html", "r", "o")
        #expect(html.status == 0, "\(html.stderr)")
        for made in ["m", "a/b/t.wav", "x", "r"] {
            #expect(FileManager.default.fileExists(atPath: rig.directory + "/" + made), "\(made)")
        }
        #expect(files(in: rig.directory + "/o", ending: ".wav").count == 1)
    }

    @Test("a dangling symlink where the log would go: the next free name, the link untouched")
    func danglingSymlink() throws {
        let rig = FileRig(bytes: Material(frames: 48000, channels: 2).bytes("S24_3LE"))
        let out = rig.directory + "/takes"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let target = rig.directory + "/elsewhere.jsonl"
        #expect(symlink(target, out + "/fixed.clips.jsonl") == 0)
        let r = try headroom(
            "record",
            "--device",
            "testcap",
            "--duration",
            "1",
            "--dir",
            out,
            "--name",
            "fixed",
            environment: rig.environment
        )
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target))
        #expect(FileManager.default.fileExists(atPath: out + "/fixed-2.wav"))
        #expect(logLines(out + "/fixed-2.clips.jsonl").last?["type"] as? String == "summary")
        #expect(r.stderr.contains("take \(out)/fixed-2.wav (log \(out)/fixed-2.clips.jsonl)"))
    }

    @Test("20 pairs of recorders started together with one name: each records its own take and log")
    func pairs() throws {
        let m = Material(frames: 24000, channels: 2)
        let rig = FileRig(bytes: m.bytes("S24_3LE"))
        for pair in 0..<20 {
            let out = rig.directory + "/pair-\(pair)"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let recorders = (0..<2).map { _ in
                let p = Process()
                p.executableURL = URL(fileURLWithPath: headroomBinary)
                p.arguments = ["record", "--device", "testcap", "--duration", "0.5", "--dir", out, "--name", "same"]
                p.environment = ProcessInfo.processInfo.environment.merging(rig.environment) { $1 }
                p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
                p.standardError = FileHandle(forWritingAtPath: "/dev/null")
                return p
            }
            for p in recorders { try p.run() }
            for p in recorders { p.waitUntilExit() }
            #expect(recorders.map(\.terminationStatus) == [0, 0], "pair \(pair)")
            let takes = files(in: out, ending: ".wav")
            #expect(takes.map { ($0 as NSString).lastPathComponent } == ["same-2.wav", "same.wav"], "pair \(pair)")
            for take in takes {
                let lines = logLines(TakeLog.path(take))
                #expect(lines.first?["file"] as? String == (take as NSString).lastPathComponent)
                #expect(lines.last?["frames"] as? Int == 24000)
                #expect(headerFrames(take) == 24000)
            }
        }
    }

    @Test("a full disk before the first frame: exit 73 naming the disk, nothing left behind")
    func fullDiskAtStart() throws {
        let rig = FileRig(bytes: Material(frames: 4800, channels: 2).bytes("S24_3LE"))
        let mount = rig.directory + "/small"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        let mounted = try run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mount])
        try #require(mounted.status == 0, "\(mounted.stderr)")
        defer { _ = try? run("/bin/umount", [mount]) }
        _ = try run("/bin/dd", ["if=/dev/zero", "of=\(mount)/filler", "bs=4k", "count=100"])
        let r = try headroom(
            "record",
            "--device",
            "testcap",
            "--duration",
            "0.1",
            "--dir",
            mount,
            "--name",
            "take",
            environment: rig.environment
        )
        #expect(r.status == 73, "\(r.stderr)")
        #expect(r.stderr.contains("No space left on device"), "\(r.stderr)")
        #expect(files(in: mount, ending: ".wav").isEmpty)
        #expect(files(in: mount, ending: ".jsonl").isEmpty)
    }
}

@Suite("A take deleted under the recorder, or reviewed while recording", .serialized)
struct DeletedTakeTests {
    @Test("review --cues leaves alone a take a recorder still has open")
    func cuesWhileRecording() throws {
        let r = try RigRecording("cues", seconds: 3, clipEvery: 24000)
        defer { r.stop() }
        #expect(waitForAudio(in: r.out, seconds: 1))
        let take = try #require(files(in: r.out, ending: ".wav").first)
        let review = try headroom("review", "--cues", r.out)
        #expect(review.stderr.contains("\(take): still being recorded"), "\(review.stderr)")
        kill(r.recorder.pid, SIGINT)
        #expect(r.recorder.wait(seconds: 10) == 0)
        // Only the recorder's own cue chunk is in the take: one `cue ` chunk, not two.
        let data = bytes(take)
        var cueChunks = 0
        var offset = 12
        while offset + 8 <= data.count {
            let id = String(decoding: data[offset..<(offset + 4)], as: UTF8.self)
            let size = data[(offset + 4)..<(offset + 8)].enumerated().reduce(0) {
                $0 | Int($1.element) << (8 * $1.offset)
            }
            if id == "cue " { cueChunks += 1 }
            offset += 8 + size + size % 2
        }
        #expect(cueChunks == 1)
    }

    @Test("its folder removed: exit 74 within 2 s")
    func folderRemoved() throws {
        let r = try RigRecording("rmdir", seconds: 3)
        defer { r.stop() }
        #expect(waitForAudio(in: r.out, seconds: 0.5))
        try FileManager.default.removeItem(atPath: r.out)
        #expect(r.recorder.wait(seconds: 2) == 74, "\(r.recorder.stderr)")
        #expect(r.recorder.stderr.contains("while recording"))
    }

    @Test(
        "the take renamed while recording (a file manager): finished under its new name, with its cues, iXML, loudness and hook, and review pairs it with its log"
    )
    func fileRenamed() throws {
        let hooked = scratchDirectory() + "/hooked"
        let r = try RigRecording(
            "mv",
            seconds: 3,
            clipEvery: 24000,
            arguments: ["--format", "FLOAT_LE", "--name", "t", "--on-take-closed", "echo \"$1\" > \(hooked)"]
        )
        defer { r.stop() }
        #expect(waitForAudio(in: r.out, seconds: 0.5))
        let renamed = r.out + "/verse 1.wav"
        #expect(rename(r.out + "/t.wav", renamed) == 0)
        #expect(waitForAudio(in: r.out, seconds: 1.0))
        kill(r.recorder.pid, SIGINT)
        #expect(r.recorder.wait(seconds: 10) == 0, "\(r.recorder.stderr)")
        let stderr = r.recorder.stderr
        #expect(
            stderr.contains("\(r.out)/t.wav was renamed to \(renamed) while recording; finished there"),
            "\(stderr)"
        )
        #expect(stderr.contains("take \(renamed) (log \(r.out)/t.clips.jsonl)"))
        #expect(!stderr.contains("no take"))
        let chunks = try TakeStoryTests.chunks(renamed)
        #expect(chunks["cue "] != nil && chunks["iXML"] != nil, "\(chunks.keys)")
        #expect(String(decoding: chunks["iXML"] ?? Data(), as: UTF8.self).contains("<SCENE>t</SCENE>"))
        // bext version 2: the loudness went in.
        #expect(chunks["bext"].map { $0[$0.startIndex + 346] } == 2)
        #expect((try? String(contentsOfFile: hooked, encoding: .utf8)) == renamed + "\n")
        let review = try headroom("review", "--json", r.out).jsonLines
        #expect(review.count == 1)
        #expect(review.first?["file"] as? String == renamed && review.first?["log_state"] as? String == "complete")
    }

    @Test(
        "the takes' folder renamed while recording: the take goes on (it ended, exit 74, as if the folder were removed), is finished there with its log, and the next parts follow it"
    )
    func folderRenamed() throws {
        let r = try RigRecording(
            "mvdir",
            seconds: 3,
            clipEvery: 24000,
            arguments: ["--format", "FLOAT_LE", "--name", "t-%n", "--max-take-seconds", "1"]
        )
        defer { r.stop() }
        #expect(waitForAudio(in: r.out, seconds: 0.2))
        let moved = r.dir + "/gig 2026-12-05"
        #expect(rename(r.out, moved) == 0)
        // Parts 2 and 3 in the renamed folder, the third under way.
        #expect(waitForAudio(in: moved, seconds: 0.2, ending: "-003.wav"), "\(r.recorder.stderr)")
        kill(r.recorder.pid, SIGINT)
        #expect(r.recorder.wait(seconds: 10) == 0, "\(r.recorder.stderr)")
        let stderr = r.recorder.stderr
        #expect(
            stderr.contains("\(r.out) was renamed to \(moved) while recording; the next takes go there"),
            "\(stderr)"
        )
        #expect(stderr.contains("take \(moved)/t-001.wav (log \(moved)/t-001.clips.jsonl)"))
        #expect(!FileManager.default.fileExists(atPath: r.out))
        let review = try headroom("review", "--json", moved).jsonLines
        #expect(review.count >= 3, "\(review)")
        #expect(review.allSatisfy { $0["log_state"] as? String == "complete" && $0["audio_seconds"] != nil })
        // The parts follow each other with no frame lost: each but the last is a second long.
        let seconds = review.compactMap { $0["audio_seconds"] as? Double }
        #expect(seconds.dropLast().allSatisfy { $0 == 1.0 }, "\(seconds)")
        #expect(try TakeStoryTests.chunks(moved + "/t-001.wav")["iXML"] != nil)
    }

    @Test(
        "the log deleted while recording (a tidy-up): written again within a second, every line, and the take goes on to its summary"
    )
    func logDeleted() throws {
        let r = try RigRecording(
            "rmlog",
            seconds: 3,
            clipEvery: 24000,
            arguments: ["--format", "FLOAT_LE", "--name", "t"]
        )
        defer { r.stop() }
        let log = r.out + "/t.clips.jsonl"
        // Deleted once the log has lines beyond its header (clips every half second).
        #expect(eventually { logLines(log).contains { $0["type"] as? String == "clip" } })
        let before = String(decoding: bytes(log), as: UTF8.self)
        #expect(unlink(log) == 0)
        #expect(eventually(5) { FileManager.default.fileExists(atPath: log) }, "\(r.recorder.stderr)")
        #expect(waitForAudio(in: r.out, seconds: 2.5))
        kill(r.recorder.pid, SIGINT)
        #expect(r.recorder.wait(seconds: 10) == 0, "\(r.recorder.stderr)")
        let warning = try #require(r.recorder.stderr.split(separator: "\n").first { $0.hasPrefix("LOG: ") })
        #expect(warning.hasPrefix("LOG: \(log) was deleted while recording; written again"))
        #expect(Systemd.priority(of: String(warning)) == 4, "a warning in the journal")
        let after = String(decoding: bytes(log), as: UTF8.self)
        #expect(after.hasPrefix(before), "the lines from before it was deleted, as they were")
        let lines = logLines(log)
        #expect(lines.first?["type"] as? String == "take" && lines.last?["type"] as? String == "summary")
        let clips = lines.filter { $0["type"] as? String == "clip" }.count
        let counted = (lines.last?["channels"] as? [[String: Any]])?.reduce(0) { $0 + ($1["clip_events"] as? Int ?? 0) }
        #expect(clips == counted && clips > 1, "\(clips) clip lines, \(String(describing: counted)) in the summary")
    }

    @Test("the take file deleted: the log says disk, exit 74")
    func fileDeleted() throws {
        let r = try RigRecording("rm", seconds: 3)
        defer { r.stop() }
        #expect(waitForAudio(in: r.out, seconds: 0.5))
        let take = try #require(files(in: r.out, ending: ".wav").first)
        #expect(unlink(take) == 0)
        #expect(r.recorder.wait(seconds: 3) == 74, "\(r.recorder.stderr)")
        let lines = logLines(TakeLog.path(take))
        #expect(
            lines.contains { $0["type"] as? String == "disk" && ($0["reason"] as? String ?? "").contains("deleted") }
        )
        #expect(lines.last?["type"] as? String == "summary")
    }
}

@Suite("Numbers that do not fit, and text from outside")
struct InputTextTests {
    @Test("numbers out of range: exit 64 naming the option")
    func ranges() throws {
        for (args, option) in [
            (["record", "--duration", "1e300"], "--duration"),
            (["record", "--max-take-seconds", "1e300"], "--max-take-seconds"),
            (["calibrate", "--seconds", "1e300"], "--seconds"),
            (["record", "--duration", "nan"], "--duration"),
            (["analyze", "--target-peak", "nan", "x.wav"], "--target-peak"),
            (["analyze", "--clip-hold", "inf", "x.wav"], "--clip-hold"),
        ] {
            let r = try run(headroomBinary, args)
            #expect(r.status == 64, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(option), "\(args): \(r.stderr)")
            #expect(!r.stderr.contains("Fatal error"))
        }
        // A take of no length: the line says what is allowed, without a range that reads as if
        // 0 were in it.
        let zero = try run(headroomBinary, ["record", "--duration", "0"])
        #expect(zero.status == 64)
        #expect(zero.stderr.contains("--duration must be more than 0 seconds and at most 31622400 (366 days)"))
        // A length of time as a person writes one: a clock, or units; anything else says which.
        let rig = FileRig(bytes: Material(frames: 48000, channels: 2).bytes("S24_3LE"))
        let dir = rig.directory
        let clock = try run(
            headroomBinary,
            ["record", "--device", "testcap", "--duration", "0:00.25", "--dir", dir, "--name", "clock"],
            environment: rig.environment
        )
        #expect(clock.status == 0, "\(clock.stderr)")
        #expect(headerFrames(dir + "/clock.wav") == 12000)
        let unit = try run(
            headroomBinary,
            ["record", "--device", "testcap", "-d", "0.5s", "--dir", dir, "--name", "unit"],
            environment: rig.environment
        )
        #expect(unit.status == 0 && headerFrames(dir + "/unit.wav") == 24000, "\(unit.stderr)")
        let words = try run(headroomBinary, ["record", "--duration", "2x"])
        #expect(words.status == 64)
        #expect(words.stderr.contains("give seconds (90), a clock (1:30:00) or units (90s, 15m, 2h"), "\(words.stderr)")
    }

    @Test("names with ESC, CR and LF are escaped on stderr, in review's table and in the headings that name a file")
    func controlCharacters() throws {
        let dir = scratchDirectory()
        let m = Material.stereoSecond(clips: [(0, 100, 4), (1, 200, 4)])
        let names = "Vo\u{1B}]0;owned\u{07}x,R\r\nFAKE: all good"
        let (_, _, r) = try recordFileTake(m, seconds: 1, dir: dir, extra: ["--names", names])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("CLIP: ch1 Vo\\x1b]0;owned\\x07x"), "\(r.stderr)")
        #expect(r.stderr.contains("CLIP: ch2 R\\x0d\\x0aFAKE: all good"))
        #expect(!r.stderr.contains("\u{1B}") && !r.stderr.contains("\r"))
        #expect(!r.stderr.split(separator: "\n").contains { $0.hasPrefix("FAKE") })
        let review = try headroom("review", dir)
        #expect(review.stdout.contains("Vo\\x1b]0;owned\\x07x x1"), "\(review.stdout)")
        #expect(!review.stdout.contains("\u{1B}") && !review.stdout.contains("\r"))
        let events = try headroom("review", "--events", dir)
        #expect(events.stdout.contains("CLIP ch2 R\\x0d\\x0aFAKE: all good"), "\(events.stdout)")
        // A file whose name holds a line feed: the heading of analyze's table and of review
        // --events is one line, its line feed shown.
        let take = try #require(files(in: dir, ending: ".wav").first)
        let odd = dir + "/odd\nFAKE: clean.wav"
        try FileManager.default.copyItem(atPath: take, toPath: odd)
        for arguments in [["analyze", odd], ["review", "--events", odd]] {
            let out = try run(headroomBinary, arguments).stdout
            #expect(out.contains("odd\\x0aFAKE: clean.wav"), "\(arguments): \(out)")
            #expect(!out.split(separator: "\n").contains { $0.hasPrefix("FAKE") }, "\(arguments): \(out)")
        }
    }

    @Test("NaN and infinite float samples read as clipped, never as a -inf proposal")
    func nonFiniteSamples() throws {
        let dir = scratchDirectory()
        var samples = [Float](repeating: 0.1, count: 96000)
        for f in 0..<48000 { samples[f * 2] = Float(0.5 * sin(Double(f) * 0.05)) }
        for f in 1000..<1004 { samples[f * 2] = .nan }
        for f in 20000..<20004 { samples[f * 2] = -.infinity }
        writeFloatWav(dir + "/nan.wav", samples: samples, channels: 2)
        let r = try headroom("analyze", "--json", dir + "/nan.wav")
        let summary = try #require(r.jsonLines.last)
        let ch1 = try #require((summary["channels"] as? [[String: Any]])?.first)
        #expect(ch1["clip_events"] as? Int == 2)
        #expect(ch1["reason"] as? String == "clipped")
        #expect((ch1["gain_proposal_db"] as? Double).map { $0 <= -6 && $0.isFinite } == true)
        #expect(ch1["rms_dbfs"] as? Double != nil)
        #expect(!(try headroom("analyze", dir + "/nan.wav")).stdout.contains("inf dB"))
    }
}

@Suite("review of logs that cannot be taken at their word")
struct OddLogTests {
    @Test("numbers as strings, negative frames, a second summary: each named, with a note")
    func malformedFields() throws {
        let dir = scratchDirectory()
        let m = Material.stereoSecond(clips: [(0, 100, 4)])
        let (take, log, _) = try recordFileTake(m, seconds: 1, dir: dir)
        var lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        let summary = lines.removeLast()
        lines.append(#"{"type":"clip","channel":1,"name":"L","start_frame":"500","end_frame":510,"time":0.01}"#)
        lines.append(#"{"type":"gap","frame":-20,"lost_frames":5,"time":0}"#)
        lines.append(summary)
        lines.append(summary.replacingOccurrences(of: "\"complete\":true", with: "\"complete\":false"))
        try (lines.joined(separator: "\n") + "\n").write(toFile: log, atomically: true, encoding: .utf8)
        let r = try headroom("review", "--events", take)
        #expect(
            r.stderr.contains("\(log):\(lines.count - 3): clip line skipped: \"start_frame\" must be a whole number")
        )
        #expect(r.stderr.contains("\(log):\(lines.count - 2): gap line skipped: \"frame\" must be a whole number >= 0"))
        #expect(r.stderr.contains("\(log):\(lines.count): a second summary; the first"))
        #expect(!r.stdout.contains("frame -20"))
        let json = try headroom("review", "--json", take)
        #expect(json.jsonLines.first?["complete"] as? Bool == true)
    }

    @Test("an empty log, or one for another rate or channel count: the audio is analyzed afresh")
    func foreignLogs() throws {
        let dir = scratchDirectory()
        let m = Material.stereoSecond(clips: [(1, 300, 5)])
        let (take, log, _) = try recordFileTake(m, seconds: 1, dir: dir)
        try "".write(toFile: log, atomically: true, encoding: .utf8)
        let empty = try headroom("review", "--json", take)
        #expect(empty.stderr.contains("no take header"))
        let line = try #require(empty.jsonLines.first)
        #expect(line["log_state"] as? String == "missing")
        #expect((line["channels"] as? [[String: Any]])?.last?["clip_events"] as? Int == 1)
        try (#"{"type":"take","version":1,"file":"x.wav","rate":44100,"channels":2,"names":["L","R"]}"# + "\n")
            .write(toFile: log, atomically: true, encoding: .utf8)
        let foreign = try headroom("review", "--json", take)
        #expect(foreign.stderr.contains("the log is for 44100 Hz, 2 ch"))
        #expect(foreign.jsonLines.first?["log_state"] as? String == "missing")
    }

    @Test("a folder review cannot read is exit 66, not an empty table")
    func unreadableFolder() throws {
        let dir = scratchDirectory()
        let m = Material(frames: 48000, channels: 2)
        try recordFileTake(m, seconds: 1, dir: dir + "/locked")
        chmod(dir, 0o755)
        chmod(dir + "/locked", 0o700)  // root's; the review runs as nobody
        let r = try run(
            "/usr/bin/setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", headroomBinary, "review", dir]
        )
        #expect(r.status == 66, "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("\(dir)/locked: cannot read the folder"), "\(r.stderr)")
    }
}
