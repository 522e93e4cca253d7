import Foundation
import Testing

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

    @Test("meter rows, the clip latch, and the r, n and q keys")
    func meter() throws {
        let dir = scratchDirectory()
        _ = writeNoiseWav(dir + "/in.wav", seconds: 2, level: 0.05, clipEvery: 48000)
        let rig = try JackRig(name: "meter", wav: dir + "/in.wav")
        defer { rig.stop() }
        let out = dir + "/takes"
        // A soundcheck file (as calibrate --save writes it) puts a reference mark at -30 dBTP on Bass.
        try #"{"type":"calibration","channels":[{"channel":2,"typical_peak_dbtp":-30.0}]}"#
            .write(toFile: dir + "/levels.json", atomically: true, encoding: .utf8)
        let tmux = try Tmux(
            command:
                "\(headroomBinary) record --device testlive --names Vox,Bass --dir \(out) --name 'take-%n' --reference \(dir)/levels.json",
            environment: rig.environment.merging(["NO_COLOR": "1"]) { $1 }
        )
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
        "the meter fits the terminal: one row per channel at 80x24, 100x30 and 160x50, nothing cut mid-word",
        arguments: [(80, 24), (100, 30), (160, 50)]
    )
    func fits(width: Int, height: Int) throws {
        let dir = scratchDirectory()
        _ = writeNoiseWav(dir + "/in.wav", seconds: 2, level: 0.05, clipEvery: 24000)
        let rig = try JackRig(name: "fit\(width)", wav: dir + "/in.wav")
        defer { rig.stop() }
        let tmux = try Tmux(
            command: "\(headroomBinary) record --device testlive --names 'Lead vocal,Bass DI' --dir \(dir)/takes",
            environment: rig.environment.merging(["NO_COLOR": "1"]) { $1 },
            name: "fit\(width)",
            size: (width, height)
        )
        let screen = try #require(tmux.waitFor { $0.contains("CLIP 1") })
        tmux.keys("q")
        let lines = screen.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // No line reaches the last column (a full line would wrap on some terminals).
        #expect(lines.allSatisfy { $0.count < width }, "\(lines.map(\.count))")
        let first = try #require(lines.firstIndex { $0.hasPrefix("  1 Lead vocal") })
        #expect(lines[first + 1].hasPrefix("  2 Bass DI"), "channel 1's row wrapped:\n\(screen)")
        #expect(lines[first].contains("CLIP 1") && lines[first].hasSuffix("]") == false)
        let heading = lines[first - 1]
        #expect(heading.contains("TP dBTP") && heading.contains("headroom") && heading.contains("clips"))
        // What gives way first: the hold column, then the proposal.
        #expect(heading.contains("hold") == (width >= 122))
        #expect(heading.contains("proposal") == (width >= 92))
        #expect(lines[first].contains("(at least)") == (width >= 92))
        #expect(lines.contains("keys: r reset holds and clip indicators   m marker   n next take   q stop"))
        #expect(tmux.waitFor { $0.contains("EXIT=0") } != nil)
    }
}
