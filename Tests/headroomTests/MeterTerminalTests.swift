import Foundation
import Testing

@testable import HeadroomCore
@testable import headroom

/// The live meter as a person sees it: headroom runs in a real terminal (tmux) on the
/// JACK rig, and the test reads the screen.
/// Runs argv[0] with stdout and stderr on /dev/null and waits for that pid; its exit status.
func spawnAndWait(_ argv: [String]) -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    var cargs = argv.map { strdup($0) } + [nil]
    defer { for p in cargs { free(p) } }
    var pid = pid_t()
    guard posix_spawn(&pid, argv[0], &actions, nil, &cargs, environ) == 0 else { return -1 }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return (status >> 8) & 0xFF
}

@Suite("The live meter on a terminal", .serialized)
struct MeterTerminalTests {
    final class Tmux {
        let session: String
        /// `pane`: the command replaces the pane's shell (`exec`), so it is the process a
        /// hangup reaches; otherwise the pane stays open after it, showing `EXIT=`.
        init(
            command: String,
            environment: [String: String],
            name: String = "meter",
            pane: Bool = false,
            size: (Int, Int) = (150, 20)
        ) throws {
            session = "hr-\(name)-\(getpid())"
            let env = environment.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            // The client daemonizes the tmux server, which must not hold the test's pipes,
            // and Foundation's Process does not reliably reap such a client: posix_spawn it
            // with /dev/null for output and wait for its own pid.
            let argv = [
                "/usr/bin/tmux", "new-session", "-d", "-s", session, "-x", String(size.0), "-y", String(size.1),
                pane ? "exec env \(env) \(command)" : "env \(env) \(command); echo EXIT=$?; sleep 60",
            ]
            guard spawnAndWait(argv) == 0 else { throw RigError("tmux new-session failed") }
        }
        func screen() -> String { (try? run("/usr/bin/tmux", ["capture-pane", "-t", session, "-p"]).stdout) ?? "" }
        func keys(_ k: String) { _ = try? run("/usr/bin/tmux", ["send-keys", "-t", session, k]) }
        func resize(_ columns: Int, _ rows: Int) {
            _ = try? run("/usr/bin/tmux", ["resize-window", "-t", session, "-x", String(columns), "-y", String(rows)])
        }
        /// Polls the screen until `predicate` holds (bounded).
        func waitFor(_ timeout: Double = 15, _ predicate: (String) -> Bool) -> String? {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                let s = screen()
                if predicate(s) { return s }
                usleep(100_000)
            }
            return nil
        }
        deinit { _ = try? run("/usr/bin/tmux", ["kill-session", "-t", session]) }
        /// Ends the program in the pane (by the pane's pid) if it is still running.
        func stop() { _ = try? run("/usr/bin/tmux", ["kill-session", "-t", session]) }
    }

    @Test(
        "tables too wide for the terminal (80 columns) come as records, a channel or a take at a time; through a pipe they stay tables"
    )
    func narrowTables() throws {
        let dir = scratchDirectory()
        // Two channels: the first clips, the second sits at -20 dBFS.
        let samples = (0..<48000).flatMap { i -> [Float] in
            let s = Float(sin(2 * Double.pi * 440 * Double(i) / 48000))
            return [max(-1, min(1, 2 * s)), 0.1 * s]
        }
        writeFloatWav(dir + "/take.wav", samples: samples, channels: 2)
        let tmux = try Tmux(
            command: "\(headroomBinary) analyze --names Vox \(dir)/take.wav; \(headroomBinary) review \(dir)",
            environment: ["NO_COLOR": "1"],
            name: "narrow",
            size: (80, 60)
        )
        defer { tmux.stop() }
        let screen = try #require(tmux.waitFor { $0.contains("EXIT=") })
        let lines = screen.split(separator: "\n").map(String.init)
        #expect(lines.contains("ch 1 Vox  << CLIPPED"), "\(screen)")
        #expect(lines.contains("ch 2 R"), "a stereo file's second channel: \(screen)")
        #expect(lines.contains { $0.hasPrefix("  proposal ") && $0.contains("(clipped by about") }, "\(screen)")
        #expect(lines.contains("take take.wav"), "\(screen)")
        #expect(lines.contains { $0.hasPrefix("  ended ") && $0.hasSuffix("no log (analyzed)") }, "\(screen)")
        #expect(!lines.contains { $0.hasPrefix("ch  name") || $0.hasPrefix("take  ") }, "no table to wrap: \(screen)")
        // calibrate's table too, each record titled by its channel.
        let results = [
            CalibrationSession.Result(
                channel: 0,
                name: "Vox",
                truePeakDBTP: 0.03,
                typicalPeakDBTP: 0.03,
                clipEvents: 4,
                hotEvents: 0,
                proposal: GainProposal(reason: .clipped, changeDB: -7.5)
            ),
            CalibrationSession.Result(
                channel: 1,
                name: "2",
                truePeakDBTP: -20,
                typicalPeakDBTP: -21,
                clipEvents: 0,
                hotEvents: 0,
                proposal: GainProposal(reason: .quiet, changeDB: 14)
            ),
        ]
        let calibration = CalibrateCommand.table(results, mapping: [nil, nil], maxStep: 12, columns: 50)
        let records = calibration.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(records.first == "ch 1 Vox" && records.contains("ch 2"), "\(calibration)")
        #expect(records.allSatisfy { DisplayText.cells($0) <= 50 }, "\(calibration)")
        #expect(!CalibrateCommand.table(results, mapping: [nil, nil], maxStep: 12).hasPrefix("ch 1"))
        // The same through a pipe: one row per channel and per take, for the tools that read it.
        let piped = try run(headroomBinary, ["analyze", "--names", "Vox", dir + "/take.wav"]).stdout
        #expect(piped.split(separator: "\n").contains { $0.hasPrefix(" 1  Vox ") && $0.hasSuffix("<< CLIPPED") })
    }

    @Test("meter rows, the clip latch, and the r, n and q keys")
    func meter() throws {
        let dir = scratchDirectory()
        _ = writeNoiseWav(dir + "/in.wav", seconds: 2, level: 0.05, clipEvery: 48000)
        let out = dir + "/takes"
        // A soundcheck file (as calibrate --save writes it) puts a reference mark at -30 dBTP on Bass.
        try #"{"type":"calibration","channels":[{"channel":2,"typical_peak_dbtp":-30.0}]}"#
            .write(toFile: dir + "/levels.json", atomically: true, encoding: .utf8)
        let (rig, tmux) = try Self.meterOnRig(
            "meter",
            wav: dir + "/in.wav",
            arguments:
                "record --device testlive --names Vox,Bass --dir \(out) --name 'take-%n' --reference \(dir)/levels.json"
        )
        defer { rig.stop() }
        let first = try #require(tmux.waitFor { $0.contains("CLIP 1") })
        let lines = first.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("REC  take-001.wav"))
        #expect(lines[0].contains("xruns 0"))
        #expect(lines[1].contains("TP dBTP") && lines[1].contains("headroom") && lines[1].contains("proposal"))
        let vox = try #require(lines.first { $0.hasPrefix("  1 Vox") })
        let bass = try #require(lines.first { $0.hasPrefix("  2 Bass") })
        #expect(vox.contains("CLIP 1"))
        #expect(vox.contains("(at least)"))  // the clipped channel's proposal
        #expect(!bass.contains("CLIP"))
        let bar = try #require(bass.firstIndex(of: "["))
        let mark = try #require(bass.firstIndex(of: "¦"))
        #expect(bass.distance(from: bar, to: mark) == 25)  // cell 24 of 48 (-60..0 dBFS): -30 dBTP
        #expect(!vox.contains("¦"))
        #expect(vox.contains("[") && vox.contains("]"))
        #expect(first.contains("CLIP: ch1 Vox at"))  // the warning line
        #expect(first.contains("keys: r reset"))

        tmux.keys("r")
        let reset = try #require(tmux.waitFor { $0.contains("clip indicators reset") })
        #expect(reset.split(separator: "\n").first { $0.hasPrefix("  1 Vox") }.map { !$0.contains("CLIP 1") } ?? false)

        // Ctrl-Z would stop the recorder mid-take: it says so and records on.
        tmux.keys("C-z")
        #expect(tmux.waitFor { $0.contains("Ctrl-Z: no pausing mid-take; q ends the take") } != nil)

        // Ctrl-S (XOFF) is a key, not a frozen meter: the take's time goes on a second and more.
        func shownSeconds(_ pane: String) -> Double? {
            guard let clock = pane.split(separator: " ").first(where: { $0.filter { $0 == ":" }.count == 2 }) else {
                return nil
            }
            let parts = clock.split(separator: ":").compactMap { Double($0) }
            return parts.count == 3 ? parts[0] * 3600 + parts[1] * 60 + parts[2] : nil
        }
        tmux.keys("C-s")
        let frozen = try #require(tmux.waitFor { shownSeconds($0) != nil }.flatMap(shownSeconds))
        #expect(tmux.waitFor { (shownSeconds($0) ?? 0) > frozen + 1 } != nil, "the meter froze at \(frozen) s")

        tmux.keys("n")
        #expect(tmux.waitFor { $0.hasPrefix("REC  take-002.wav") } != nil)

        tmux.keys("q")
        let end = try #require(tmux.waitFor { $0.contains("EXIT=") })
        #expect(end.contains("EXIT=0"))
        #expect(files(in: out, ending: ".wav").count == 2)
        for log in files(in: out, ending: ".clips.jsonl") {
            #expect(logLines(log).last?["type"] as? String == "summary")
        }
    }

    @Test(
        "record and calibrate started as a shell's background job (&) leave the shell its terminal: lines, no meter; fg brings the meter and keys"
    )
    func backgroundJob() throws {
        let dir = scratchDirectory()
        _ = writeNoiseWav(dir + "/in.wav", seconds: 2, level: 0.05, clipEvery: 48000)
        let rig = try JackRig(name: "bgjob", wav: dir + "/in.wav", channels: 2)
        defer { rig.stop() }
        let tmux = try Tmux(
            command: "bash --norc --noprofile -i",
            environment: rig.environment.merging(["NO_COLOR": "1", "PS1": "$ "]) { $1 },
            name: "bgjob",
            size: (120, 30)
        )
        defer { tmux.stop() }
        #expect(tmux.waitFor { $0.contains("$") } != nil, "the shell's prompt")
        /// Types `line` and Enter into the shell; the screen once it `shows` what is awaited.
        func typed(_ line: String, until shows: (String) -> Bool) throws -> String {
            tmux.keys(line)
            tmux.keys("Enter")
            let screen = tmux.waitFor(15, shows)
            return try #require(screen, "\(tmux.screen())")
        }
        // The overs still come, as lines among the shell's.
        let background = try typed(
            "'\(headroomBinary)' record --device testlive --names Vox,Bass --dir '\(dir)/takes' --name t &"
        ) { $0.contains("note: recording in the background") && $0.contains("CLIP: ch1 Vox") }
        #expect(!background.contains("REC  t.wav") && !background.contains("keys: r"), "\(background)")
        // The shell is the terminal's: what is typed echoes and runs.
        let shell = try typed("echo shell-\\ok") { $0.split(separator: "\n").contains("shell-ok") }
        #expect(!shell.contains("REC  t.wav"), "\(shell)")
        // fg: the meter, and the keys work.
        let front = try typed("fg") { $0.contains("REC  t.wav") && $0.contains("keys: r") }
        #expect(front.contains("CLIP"), "the overs from the background are latched: \(front)")
        tmux.keys("q")
        #expect(tmux.waitFor { $0.contains("headroom: take ") } != nil, "\(tmux.screen())")
        let log = try String(contentsOfFile: dir + "/takes/t.clips.jsonl", encoding: .utf8)
        #expect(log.contains("\"type\":\"clip\"") && log.contains("\"type\":\"summary\""))
        // calibrate in the background: its plain line, no soundcheck meter; fg brings the
        // meter, and q ends the soundcheck with its table.
        let listening = try typed(
            "clear; '\(headroomBinary)' calibrate --device testlive --names Vox,Bass --seconds 60 &"
        ) { $0.contains("listening to testlive for 60 s") }
        #expect(!listening.contains("SOUNDCHECK") && !listening.contains("keys: q"), "\(listening)")
        let soundcheck = try typed("fg") { $0.contains("SOUNDCHECK") && $0.contains("Bass") }
        #expect(soundcheck.contains("listening: play as loud"), "\(soundcheck)")
        tmux.keys("C-z")
        #expect(tmux.waitFor { $0.contains("Ctrl-Z: no pausing the soundcheck; q ends it early") } != nil)
        tmux.keys("q")
        #expect(tmux.waitFor { $0.contains("proposal") && $0.contains("true peak dBTP") } != nil, "\(tmux.screen())")
    }

    @Test("on a terminal whose TERM is dumb (Emacs's shell): plain lines, as through a pipe, and no escape sequence")
    func dumbTerminal() throws {
        let m = Material.stereoSecond(clips: [(1, 20000, 4)])
        let rig = FileRig(bytes: m.bytes("S24_3LE"))
        let dir = scratchDirectory()
        var environment = rig.environment
        environment["TERM"] = "dumb"
        for (name, command) in [
            ("record", "'\(headroomBinary)' record -D testcap --duration 1 --names Vox,Gtr --dir '\(dir)/takes'"),
            ("analyze", "'\(headroomBinary)' analyze '\(dir)'/takes/*.wav"),
            ("calibrate", "'\(headroomBinary)' calibrate -D testcap --seconds 1"),
        ] {
            let r = try run(
                "/usr/bin/script",
                ["-qec", command, dir + "/\(name).typescript"],
                environment: environment
            )
            #expect(r.status == 0, "\(r.stderr)")
            let screen = try String(contentsOfFile: dir + "/\(name).typescript", encoding: .utf8)
            #expect(!screen.contains("\u{1B}"), "\(name): \(screen)")
            let shows = ["record": "CLIP: ch2 Gtr at 00:00:00.417", "analyze": "<< CLIPPED", "calibrate": "proposal"]
            #expect(screen.contains(shows[name]!), "\(name): \(screen)")
        }
    }

    @Test(
        "a --reference file edited by hand to levels and channels no take has: marks at the bar's ends, the rest left out, no crash"
    )
    func absurdReference() throws {
        let rig = FileRig(bytes: Material.stereoSecond(clips: []).bytes("S24_3LE"))
        let dir = scratchDirectory()
        let reference =
            #"{"type":"calibration","channels":[{"channel":1,"typical_peak_dbtp":1e300},{"channel":2,"typical_peak_dbtp":-1e300},"#
            + #"{"channel":-9223372036854775808,"typical_peak_dbtp":-6}]}"#
        try reference.write(toFile: dir + "/levels.json", atomically: true, encoding: .utf8)
        var environment = rig.environment
        environment["TERM"] = "xterm"
        let command =
            "'\(headroomBinary)' record -D testcap --duration 1 --dir '\(dir)/takes' --reference '\(dir)/levels.json'"
        let r = try run("/usr/bin/script", ["-qec", command, dir + "/typescript"], environment: environment)
        let screen = try String(contentsOfFile: dir + "/typescript", encoding: .utf8)
        #expect(r.status == 0 && screen.contains("¦") && !screen.contains("crashed"), "\(screen)")
        #expect(files(in: dir + "/takes", ending: ".wav").count == 1)
    }

    @Test("a note from before the meter stays in view: more names than channels")
    func startNote() throws {
        let dir = scratchDirectory()
        _ = writeNoiseWav(dir + "/in.wav", seconds: 2, level: 0.05, clipEvery: 48000)
        let (rig, tmux) = try Self.meterOnRig(
            "note",
            wav: dir + "/in.wav",
            arguments: "record --device testlive --names Vox,Bass,Room --dir \(dir)/takes",
            size: (110, 20)
        )
        defer { rig.stop() }
        // The meter's first draw clears the screen; the note is on its message line.
        let screen = try #require(tmux.waitFor { $0.hasPrefix("REC ") && $0.contains("  2 Bass") })
        #expect(screen.contains("note: 3 channel names for 2 channels (Vox, Bass); to use all 3, add --channels 3"))
        tmux.keys("q")
        #expect(tmux.waitFor { $0.contains("EXIT=0") } != nil)
    }

    @Test(
        "a take a killed recorder left, finished as the next one starts, is said again once the meter is gone: the meter's one message line soon shows the next warning"
    )
    func finishedLeftBehindAfterMeter() throws {
        // Channel 1 clips every 0.25 s: warnings that take the meter's message line.
        let r = try RigRecording(
            "meter-killed",
            seconds: 2,
            clipEvery: 12000,
            arguments: ["--format", "FLOAT_LE", "--name", "t"]
        )
        defer { r.stop() }
        #expect(waitForAudio(in: r.out, seconds: 0.5))
        let found = stopLeavingUncounted(r.recorder.pid, take: r.out + "/t.wav", frames: 2400)
        kill(r.recorder.pid, SIGKILL)
        _ = r.recorder.wait(seconds: 10)
        #expect(found != nil)
        let tmux = try Tmux(
            command:
                "\(headroomBinary) record --device testlive --channels 2 --format FLOAT_LE --dir \(r.out) --name t --duration 1",
            environment: r.rig.environment.merging(["NO_COLOR": "1"]) { $1 },
            name: "killed",
            size: (300, 30)
        )
        let end = try #require(tmux.waitFor(30) { $0.contains("EXIT=") })
        #expect(end.contains("EXIT=0"), "\(end)")
        // Below the meter, after the take it recorded: the take it finished.
        let lines = end.split(separator: "\n")
        let recorded = lines.firstIndex { $0.hasPrefix("headroom: take \(r.out)/t-2.wav") }
        let finished = lines.firstIndex {
            $0.hasPrefix("headroom: t.wav: left cut off by a recorder that was killed; counted in the ")
        }
        #expect(recorded != nil && finished != nil && recorded! < finished!, "\(end)")
    }

    /// A JACK rig playing `wav` (looped) and `headroom <arguments>` on its `testlive` device in
    /// a tmux window of `size`, colours off. The rig is the caller's to stop.
    static func meterOnRig(
        _ name: String,
        wav: String,
        channels: Int = 2,
        arguments: String,
        size: (Int, Int) = (150, 20)
    ) throws -> (rig: JackRig, tmux: Tmux) {
        let rig = try JackRig(name: name, wav: wav, channels: channels)
        do {
            let tmux = try Tmux(
                command: "\(headroomBinary) \(arguments)",
                environment: rig.environment.merging(["NO_COLOR": "1"]) { $1 },
                name: name,
                size: size
            )
            return (rig, tmux)
        } catch {
            rig.stop()
            throw error
        }
    }

    /// Two channels, 2 s (looped by the rig): on channel 1 a 440 Hz tone driven 4.1 dB past
    /// full scale for 50 ms every half second (each burst one clip event of about 22 overs,
    /// whose overshoot the estimator can read), a quiet tone between, or `throughout` (880
    /// whole cycles: the loop is seamless, one clip event for as long as it plays); on
    /// channel 2 a tone at -14 dBFS.
    static func writeClippedBursts(_ path: String, throughout: Bool = false) {
        var samples = [Int32]()
        for t in 0..<96000 {
            let phase = 2 * Double.pi * Double(t) / 48000
            let burst = throughout || t % 24000 < 2400
            let vox = burst ? max(-1, min(1, 1.6 * sin(440 * phase))) : 0.1 * sin(440 * phase)
            samples += [vox, 0.2 * sin(330 * phase)].map { Int32(($0 * 8_388_607).rounded()) << 8 }
        }
        writeAudio(path, samples: samples, channels: 2)
    }

    /// ``meterOnRig(_:wav:channels:arguments:size:)`` playing ``writeClippedBursts(_:throughout:)``'s
    /// two channels, from a scratch folder of its own: `command` is the command line after
    /// `headroom` (a `record` writes its takes into `<folder>/takes`).
    static func meterOnBursts(
        _ name: String,
        size: (Int, Int),
        command: String = "record --device testlive --names 'Lead vocal,Bass DI'"
    ) throws -> (rig: JackRig, tmux: Tmux) {
        let dir = scratchDirectory()
        writeClippedBursts(dir + "/in.wav")
        let takes = command.hasPrefix("record") ? " --dir \(dir)/takes" : ""
        return try meterOnRig(name, wav: dir + "/in.wav", arguments: command + takes, size: size)
    }

    @Test(
        "the meter fits the terminal: one row per channel from 40 to 160 columns, the proposal as it fits, nothing cut mid-word, q always among the keys",
        arguments: [(40, 16), (50, 20), (80, 24), (100, 30), (160, 50)]
    )
    func fits(width: Int, height: Int) throws {
        let (rig, tmux) = try Self.meterOnBursts("fit\(width)", size: (width, height))
        defer { rig.stop() }
        // Three bursts: the latch counts clip events (as the log and review do), not the overs in them.
        let screen = try #require(tmux.waitFor { $0.contains("CLIP 3 ") || $0.contains("CLIP 3\n") })
        tmux.keys("q")
        let lines = screen.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // No line reaches the last column (a full line would wrap on some terminals).
        #expect(lines.allSatisfy { $0.count < width }, "\(lines.map(\.count))")
        let first = try #require(lines.firstIndex { $0.hasPrefix("  1 Lead v") })
        #expect(lines[first + 1].hasPrefix("  2 Bass"), "channel 1's row wrapped:\n\(screen)")
        #expect(lines[first].contains("CLIP 3 ") || lines[first].hasSuffix("CLIP 3"))
        #expect(!lines[first].hasSuffix("]"))
        let heading = lines[first - 1]
        #expect(heading.contains("TP dBTP") && heading.contains("clips"))
        // What gives way first: the hold column, then the proposal, then (when the bar is
        // as short as it goes) the headroom column.
        #expect(heading.contains("hold") == (width >= 124))
        #expect(heading.contains("proposal") == (width >= 94))
        #expect(heading.contains("headroom") == (width >= 62))
        // The proposal, whole where it fits and short where it does not, never wraps.
        #expect(lines[first].contains(" dB (clipped by about ") == (width >= 160), "\(lines[first])")
        #expect(lines[first].hasSuffix(" over") == (width == 100), "\(lines[first])")
        #expect((lines[first + 1].hasSuffix(".0 dB") || lines[first + 1].hasSuffix(".5 dB")) == (width >= 94))
        if width >= 80 {
            #expect(lines.contains("keys: r reset holds and clip indicators   m marker   n next take   q stop"))
        } else {
            #expect(lines.contains("keys: q stop  r reset  m marker  n next"), "\(screen)")
        }
        #expect(tmux.waitFor { $0.contains("EXIT=0") } != nil)
    }

    @Test(
        "a window narrower than any full row (26 x 8: a split pane): the state, the time and the CLIP latch stay in view, nothing wraps the header away"
    )
    func narrowerThanARow() throws {
        let (rig, tmux) = try Self.meterOnBursts("narrow", size: (26, 8))
        defer { rig.stop() }
        let screen = try #require(tmux.waitFor { $0.contains("CLIP 2") })
        tmux.keys("q")
        let lines = screen.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.allSatisfy { $0.count < 26 }, "\(lines.map(\.count))\n\(screen)")
        // The take's name gives way to the time: "REC  00:00:02.1  xruns 0".
        #expect(lines[0].hasPrefix("REC  00:00:0"), "\(screen)")
        #expect(lines[1].hasPrefix(" ch ") && lines[1].hasSuffix("clips"), "\(screen)")
        #expect(lines[2].hasPrefix("  1 ") && lines[2].contains("]  CLIP 2"), "\(screen)")
        #expect(lines[3].hasPrefix("  2 ") && lines[3].hasSuffix("-"), "\(screen)")
        #expect(tmux.waitFor { $0.contains("EXIT=0") } != nil)
    }

    @Test(
        "a name in Japanese (two columns a character) keeps the meter's columns: bars aligned, no row wraps",
        arguments: [(100, 20), (50, 20)]
    )
    func wideNames(width: Int, height: Int) throws {
        let (rig, tmux) = try Self.meterOnBursts(
            "wide\(width)",
            size: (width, height),
            command: "record --device testlive --names 'ボーカル,Bass'"
        )
        defer { rig.stop() }
        let screen = try #require(tmux.waitFor { $0.contains("CLIP 1") })
        tmux.keys("q")
        // Columns as the terminal counts them, for the characters on this screen: the katakana
        // take two, everything else (the bar's blocks and dots too) one.
        func columns(_ s: Substring) -> Int {
            s.unicodeScalars.reduce(0) { $0 + ((0x3000...0x30FF).contains($1.value) ? 2 : 1) }
        }
        let lines = screen.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.allSatisfy { columns($0) < width }, "\(lines.map { columns($0) })\n\(screen)")
        let first = try #require(lines.firstIndex { $0.hasPrefix("  1 ボー") }, "\(screen)")
        #expect(lines[first + 1].hasPrefix("  2 Bass"), "channel 1's row wrapped:\n\(screen)")
        let bars = lines[first...(first + 1)].map { line in line.firstIndex(of: "[").map { columns(line[..<$0]) } }
        #expect(bars[0] != nil && bars[0] == bars[1], "the bars start at columns \(bars):\n\(screen)")
        #expect(tmux.waitFor { $0.contains("EXIT=0") } != nil)
    }

    @Test(
        "a window too short for every channel keeps its header, shows the clipping channel, and says which are left out"
    )
    func shortWindow() throws {
        let dir = scratchDirectory()
        // Six channels of quiet tones; channel 5 clips throughout.
        var samples = [Int32]()
        for t in 0..<96000 {
            let phase = 2 * Double.pi * Double(t) / 48000
            for c in 0..<6 {
                let x = c == 4 ? max(-1, min(1, 1.6 * sin(300 * phase))) : 0.1 * sin(Double(200 + 20 * c) * phase)
                samples.append(Int32((x * 8_388_607).rounded()) << 8)
            }
        }
        writeAudio(dir + "/in.wav", samples: samples, channels: 6)
        let (rig, tmux) = try Self.meterOnRig(
            "short",
            wav: dir + "/in.wav",
            channels: 6,
            arguments: "record --device testlive --channels 6 --dir \(dir)/takes",
            size: (100, 10)
        )
        defer { rig.stop() }
        let screen = try #require(tmux.waitFor { $0.contains("CLIP 1") && $0.contains("not shown") })
        tmux.keys("q")
        let lines = screen.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0].hasPrefix("REC  take-"), "\(screen)")
        #expect(lines[1].contains("TP dBTP"))
        // Ten rows: header, heading, three channels, the note, a blank line, the message, the
        // keys, and the row the cursor waits on. The clipping channel takes a row, and the
        // first quiet ones the rest (in order: the ranking's unit test holds the rule).
        #expect(lines[2].hasPrefix("  1 ") && lines[3].hasPrefix("  2 ") && lines[4].hasPrefix("  5 "), "\(screen)")
        #expect(lines[4].contains("CLIP 1"), "\(screen)")
        #expect(
            lines[5].hasPrefix("ch3-4, ch6 not shown (a taller window shows them): no clips or flat tops there"),
            "\(screen)"
        )
        #expect(lines[8].hasPrefix("keys: r reset"), "\(screen)")
        #expect(tmux.waitFor { $0.contains("EXIT=0") } != nil)
    }

    @Test("calibrate's soundcheck meter: its own header and keys, not a recording's")
    func soundcheck() throws {
        let (rig, tmux) = try Self.meterOnBursts(
            "check",
            size: (100, 24),
            command: "calibrate --device testlive --names Vox,Gtr --seconds 30"
        )
        defer { rig.stop() }
        let screen = try #require(tmux.waitFor { $0.contains("CLIP 2") })
        let lines = screen.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("SOUNDCHECK  00:00:0"), "\(lines[0])")
        #expect(lines[0].contains(" of 00:00:30.0  xruns 0"), "\(lines[0])")
        #expect(!screen.contains("REC") && !screen.contains("disk") && !screen.contains("next take"))
        #expect(lines.contains("keys: q end the soundcheck now and show the proposals"))
        // In a narrow window the time stays, without its "of".
        tmux.resize(34, 24)
        let narrow = try #require(
            tmux.waitFor { $0.hasPrefix("SOUNDCHECK") && !$0.contains(" of ") },
            "\(tmux.screen())"
        )
        #expect(narrow.hasPrefix("SOUNDCHECK  00:00:"), "\(narrow)")
        tmux.resize(100, 24)
        tmux.keys("q")
        let end = try #require(tmux.waitFor { $0.contains("EXIT=") })
        #expect(end.contains("EXIT=0") && end.contains("clipped") && end.contains("lower 10.0 dB"), "\(end)")
    }
}

@Suite("The meter's words, without a terminal")
struct MeterTextTests {
    @Test("the status line counts clip events, the open one included, and the overs in them")
    func statusLine() {
        var s = MeterSnapshot(channels: [.init(name: "Vox"), .init(name: "Gtr")], rate: 48000)
        s.takeName = "take-001.wav"
        s.takeFrames = 96000
        s.channels[0].clipEvents = 2
        s.channels[0].isClipping = true
        s.channels[0].clipRuns = 340
        s.channels[1].flatEvents = 1
        let line = MeterView.statusLine(s)
        #expect(line.hasPrefix("status: take-001.wav 00:00:02.0, true peaks (dBTP) Vox -inf, Gtr -inf;"), "\(line)")
        #expect(line.contains("; clips 3 (340 overs), flat tops 1, xruns 0"), "\(line)")
    }

    @Test("the proposal as it fits the room the row leaves it")
    func proposalForms() {
        func clipped(_ change: Double, over: Double, bound: Bool = false) -> GainProposal {
            var p = GainProposal(reason: .clipped, changeDB: change)
            (p.overDB, p.overBound) = (over, bound)
            return p
        }
        var flat = GainProposal(reason: .flat, changeDB: -5)
        flat.flatLevelDBFS = -3.1
        flat.overDB = 2
        let cases: [(GainProposal, Int, String)] = [
            (clipped(-10, over: 3.9), 40, "-10.0 dB (clipped by about 3.9 dB)"),
            (clipped(-10, over: 3.9), 18, "-10.0 dB, 3.9 over"),
            (clipped(-10, over: 3.9, bound: true), 19, "-10.0 dB, ≥3.9 over"),
            (clipped(-10, over: 3.9, bound: true), 18, "-10.0 dB"),
            (flat, 18, "-5.0 dB, flat -3.1"),
            (GainProposal(reason: .clipped, changeDB: -6), 18, "-6.0 dB (at least)"),
            (clipped(-6.5, over: 0.03), 40, "-6.5 dB (clipped by under 0.1 dB)"),
            (clipped(-6.5, over: 0.03), 18, "-6.5 dB, <0.1 over"),
            (clipped(-6.5, over: 0.03, bound: true), 18, "-6.5 dB (clipped)"),
            (GainProposal(reason: .noSignal, changeDB: nil), 18, "no signal"),
        ]
        for (proposal, room, expected) in cases {
            #expect(MeterView.proposal(proposal, room: room) == expected, "room \(room)")
        }
    }

    @Test("the latch's count stays within its column")
    func latch() {
        #expect(MeterView.latch("CLIP", 0) == "CLIP")
        #expect(MeterView.latch("CLIP", 9999) == "CLIP 9999")
        #expect(MeterView.latch("FLAT", 12345) == "FLAT 12k")
        #expect(MeterView.latch("CLIP", 5_000_000) == "CLIP 999k")
        for n in [1, 99, 9999, 10_000, 999_999, 5_000_000] {
            #expect(MeterView.latch("CLIP", n).count <= MeterView.Layout.clipWidth)
        }
    }

    @Test("a marker label being typed stays in view at every width: the end of what is typed is always shown")
    func labelPrompt() {
        #expect(
            MeterView.labelPrompt("chorus 2", columns: 100) == "marker label (Enter: mark, Esc: cancel): chorus 2"
        )
        #expect(MeterView.labelPrompt("", columns: 34) == "label: ")
        let label = "second verse, the one with the late snare"
        for columns in 34...200 {
            let line = MeterView.labelPrompt(label, columns: columns)
            #expect(DisplayText.cells(line) <= columns - 1, "\(columns): \(line)")
            #expect(line.hasSuffix("late snare"), "\(columns): \(line)")
        }
        #expect(MeterView.labelPrompt(label, columns: 34) == "label: …e one with the late snare")
        // Wide characters count as two cells.
        let wide = MeterView.labelPrompt(String(repeating: "歌", count: 30), columns: 34)
        #expect(DisplayText.cells(wide) <= 33 && wide.hasPrefix("label: …"), "\(wide)")
    }

    @Test("a short window: lit channels first, shown in order, the rest named as ranges")
    func shortWindowRows() {
        let lit: Set<Int> = [4, 9]
        let (shown, hidden) = MeterView.rows(channels: 12, room: 5) { lit.contains($0) ? 0 : 2 }
        #expect(shown == [0, 1, 4, 9])
        #expect(MeterView.ranges(hidden) == "ch3-4, ch6-9, ch11-12")
        #expect(MeterView.rows(channels: 4, room: 4) { _ in 2 } == ([0, 1, 2, 3], []))
        #expect(MeterView.ranges([0]) == "ch1")
    }

    @Test("every width from 34 to 200 columns gets a layout that fits it")
    func layouts() {
        for columns in 46...200 {
            let layout = MeterView.Layout.fitting(columns)
            #expect(layout.width <= columns - 1, "\(columns): \(layout)")
            #expect(layout.barCells >= MeterView.shortestBar && layout.nameCells >= MeterView.Layout.shortestName)
        }
        #expect(MeterView.Layout.fitting(124).hold && !MeterView.Layout.fitting(123).hold)
        #expect(MeterView.Layout.fitting(94).proposal && !MeterView.Layout.fitting(93).proposal)
        #expect(MeterView.Layout.fitting(62).headroom && !MeterView.Layout.fitting(61).headroom)
        // Narrower (a phone's terminal): the bar shortens, then the names go; rows still fit.
        for columns in 34..<46 {
            let layout = MeterView.Layout.fitting(columns)
            #expect(layout.width <= columns - 1, "\(columns): \(layout)")
            #expect(layout.barCells >= MeterView.narrowestBar)
        }
        #expect(MeterView.Layout.fitting(40).nameCells > 0 && MeterView.Layout.fitting(34).nameCells == 0)
        // Narrower still (a split pane): the true peak goes, the latch stays.
        for columns in 25..<34 {
            let layout = MeterView.Layout.fitting(columns)
            #expect(layout.width <= columns - 1 && !layout.truePeak, "\(columns): \(layout)")
            #expect(layout.barCells >= MeterView.narrowestBar)
        }
        #expect(MeterView.Layout.fitting(34).truePeak)
    }

    @Test("the status line keeps what matters most as the window narrows, in its order")
    func statusParts() {
        let parts = [("REC", 0), ("take-20261206-204757.wav", 3), ("00:01:02.3", 1), ("disk 2h left", 4)]
        let losses = [("xruns 0", 5), ("gaps 2", 2), ("dropped 0", 5)]
        let name = "take-20261206-204757.wav"
        #expect(
            MeterView.fit(parts + losses, columns: 100)
                == "REC  \(name)  00:01:02.3  disk 2h left  xruns 0  gaps 2  dropped 0"
        )
        #expect(MeterView.fit(parts + losses, columns: 80) == "REC  \(name)  00:01:02.3  disk 2h left  xruns 0  gaps 2")
        // A part that does not fit leaves room for a later rank.
        #expect(MeterView.fit(parts + losses, columns: 40) == "REC  00:01:02.3  disk 2h left  gaps 2")
        #expect(MeterView.fit(parts + losses, columns: 30) == "REC  00:01:02.3  gaps 2")
        // Parts of one rank stay a run from its first: never "gaps 0" without "xruns 0".
        let zero = parts + [("xruns 0", 5), ("gaps 0", 5)]
        #expect(MeterView.fit(zero, columns: 39) == "REC  00:01:02.3  disk 2h left  xruns 0")
        #expect(MeterView.fit(zero, columns: 38) == "REC  00:01:02.3  disk 2h left")
        #expect(MeterView.fit(parts, columns: 4) == "REC")
    }

    @Test("a note beside a table is as wide as the terminal, broken at spaces; through a pipe it is one line")
    func paragraphs() {
        let note = "hw:CARD=USB: no capture controls with dB information; set the gains on the interface itself."
        #expect(TextTable.paragraph(note, columns: nil) == note)
        #expect(TextTable.paragraph(note, columns: 200) == note)
        let lines = TextTable.paragraph(note, columns: 34).split(separator: "\n")
        #expect(lines.count == 3 && lines.allSatisfy { $0.count <= 33 }, "\(lines)")
        #expect(lines.joined(separator: " ") == note)
    }

    @Test("a line cut to the window keeps its colours and ends them")
    func cutLines() {
        let red = "\u{1B}[1;31mREC\u{1B}[0m  take-1.wav"
        #expect(MeterView.cut(red, cells: 40) == red)
        #expect(MeterView.cut(red, cells: 5) == "\u{1B}[1;31mREC\u{1B}[0m  ")
        #expect(MeterView.cut("\u{1B}[1;37;41mCLIP 3\u{1B}[0m", cells: 4) == "\u{1B}[1;37;41mCLIP\u{1B}[0m")
        #expect(MeterView.cut("歌歌歌", cells: 5) == "歌歌")
    }
}
