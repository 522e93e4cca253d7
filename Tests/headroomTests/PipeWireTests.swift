import CSndFile
import Foundation
import Testing

/// A real PipeWire server, the path most desktop users record through: its own runtime
/// folder and session bus, wireplumber, a null sink that `pw-cat` plays into, and headroom
/// recording the sink's monitor through ALSA's `pipewire` PCM. Every process is started here
/// and stopped by its own pid.
final class PipeWireRig {
    let runtime: String
    let environment: [String: String]
    private var processes: [Process] = []
    static let sink = "hr-sink"

    init() throws {
        runtime = scratchDirectory() + "/run"
        try FileManager.default.createDirectory(atPath: runtime, withIntermediateDirectories: true)
        chmod(runtime, 0o700)
        let bus = "unix:path=\(runtime)/bus"
        // Its own state folder too: wireplumber restores a stream's last volume from there, and
        // a volume left from another run would lower the "full volume" take.
        environment = [
            "XDG_RUNTIME_DIR": runtime, "XDG_STATE_HOME": runtime + "/state", "DBUS_SESSION_BUS_ADDRESS": bus,
            "PIPEWIRE_NODE": Self.sink,
            "PIPEWIRE_PROPS": "{ stream.capture.sink=true }",
        ]
        do {
            processes.append(
                try JackRig.launch("/usr/bin/dbus-daemon", ["--session", "--nofork", "--address=\(bus)"], environment)
            )
            try Self.waitFor { FileManager.default.fileExists(atPath: "\(self.runtime)/bus") }
            processes.append(try JackRig.launch("/usr/bin/pipewire", [], environment))
            try Self.waitFor { FileManager.default.fileExists(atPath: "\(self.runtime)/pipewire-0") }
            processes.append(try JackRig.launch("/usr/bin/wireplumber", [], environment))
            let made = try run(
                "/usr/bin/pw-cli",
                [
                    "create-node", "adapter",
                    "{ factory.name=support.null-audio-sink node.name=\(Self.sink) media.class=Audio/Sink object.linger=true audio.position=[FL FR] audio.rate=48000 }",
                ],
                environment: environment
            )
            guard made.status == 0 else { throw RigError("pw-cli create-node failed: \(made.stderr)") }
            try Self.waitFor { self.nodes().contains { $0.name == Self.sink } }
        } catch {
            stop()
            throw error
        }
    }

    /// Plays `wav` into the sink (once); returns the player's stream node id once it exists.
    func play(_ wav: String) throws -> Int {
        let player = try JackRig.launch("/usr/bin/pw-cat", ["--playback", "--target", Self.sink, wav], environment)
        processes.append(player)
        var id: Int?
        try Self.waitFor {
            id = self.nodes().first { $0.mediaClass == "Stream/Output/Audio" && $0.name == "pw-cat" }?.id
            return id != nil
        }
        return id!
    }

    /// Nodes as `pw-dump` lists them.
    func nodes() -> [(id: Int, name: String, mediaClass: String)] {
        guard let dump = try? run("/usr/bin/pw-dump", [], environment: environment), dump.status == 0,
            let objects = try? JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [[String: Any]]
        else { return [] }
        return objects.compactMap { o in
            guard let id = o["id"] as? Int, let info = o["info"] as? [String: Any],
                let props = info["props"] as? [String: Any], let name = props["node.name"] as? String
            else { return nil }
            return (id, name, props["media.class"] as? String ?? "")
        }
    }

    func stop() {
        for p in processes.reversed() where p.isRunning {
            let pid = p.processIdentifier
            kill(pid, SIGTERM)
            if !JackRig.reap(pid, seconds: 10) {
                kill(pid, SIGKILL)
                _ = JackRig.reap(pid, seconds: 5)
            }
        }
        processes = []
    }

    deinit { stop() }

    /// Polls `condition` every 50 ms for up to 15 s.
    static func waitFor(_ condition: () -> Bool) throws {
        for _ in 0..<300 {
            if condition() { return }
            usleep(50_000)
        }
        throw RigError("PipeWire rig: timed out waiting")
    }
}

@Suite("Through a real PipeWire server")
struct PipeWireTests {
    @Test("the path warning names PipeWire; with the stream 1 dB down, flat events are found where no sample clips")
    func desktopPath() throws {
        let dir = scratchDirectory()
        // 30 s of a 220 Hz sine driven 6 dB into full scale, 24-bit (a clipped source).
        let frames = 48000 * 30
        let values = (0..<(frames * 2)).map { i in max(-1, min(1, 2 * sin(2 * Double.pi * 220 * Double(i / 2) / 48000)))
        }
        let wav = dir + "/clipped.wav"
        var info = SF_INFO()
        info.channels = 2
        info.samplerate = 48000
        info.format = Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_24)
        let file = try #require(sf_open(wav, Int32(SFM_WRITE), &info))
        values.withUnsafeBufferPointer { _ = sf_writef_double(file, $0.baseAddress!, sf_count_t(frames)) }
        sf_close(file)
        let rig = try PipeWireRig()
        defer { rig.stop() }
        let stream = try rig.play(wav)

        func record(_ name: String) throws -> (stderr: String, log: [[String: Any]]) {
            let r = try headroom(
                "record",
                "--device",
                "pipewire",
                "--duration",
                "2",
                "--dir",
                dir + "/takes",
                "--name",
                name,
                environment: rig.environment
            )
            #expect(r.status == 0, "\(r.stderr)")
            return (r.stderr, logLines(dir + "/takes/\(name).clips.jsonl"))
        }
        func count(_ log: [[String: Any]], _ type: String) -> Int { log.filter { $0["type"] as? String == type }.count }

        // At full volume the server passes the clipped samples through: clips at full scale.
        let full = try record("full")
        #expect(
            full.stderr.contains("PATH: pipewire goes through pipewire: the PipeWire server can change sample values")
        )
        #expect(full.log.first?["path"] as? [String] == ["pipewire"])
        #expect(count(full.log, "clip") > 0, "\(full.log.last ?? [:])")

        // The stream's volume about 1 dB down (wpctl's volume is cubic: 0.962^3 = -1.0 dB).
        let set = try run("/usr/bin/wpctl", ["set-volume", String(stream), "0.962"], environment: rig.environment)
        #expect(set.status == 0)
        let lowered = try record("lowered")
        #expect(count(lowered.log, "clip") == 0, "no sample reaches full scale any more")
        let flats = lowered.log.filter { $0["type"] as? String == "flat" }
        #expect(!flats.isEmpty)
        for flat in flats { #expect(abs((flat["level_dbfs"] as? Double ?? 0) + 1) < 0.3, "\(flat)") }
        #expect(lowered.stderr.contains("FLAT: ch1 L flat tops at -1.0 dBFS"))
        let summary = try #require(lowered.log.last?["channels"] as? [[String: Any]])
        #expect(summary.allSatisfy { $0["reason"] as? String == "flat" })

        // review says how the take was recorded.
        let review = try headroom("review", dir + "/takes/lowered.wav")
        #expect(review.stderr.contains("recorded through pipewire"))
    }
}
