import Foundation
import HeadroomCore
import Synchronization
import Testing

@Suite("headroom record through JACK's dummy backend (paced, real time)", .serialized)
struct RecordJackRigTests {
    @Test("SIGINT after a few seconds: final header, summary complete false, exit 0")
    func sigint() throws {
        let r = try RigRecording("int", seconds: 3)
        defer { r.stop() }
        let (samples, lines) = try r.interrupted(after: 2)
        let frames = samples.count / 2
        #expect(frames > 48000 * 2)
        // Bit-exact capture: the take is the player's output, sample for sample. (Under load,
        // a JACK xrun inside the graph can repeat one 256-frame period and skip the next; the
        // frame count stays right, so no ALSA client can see it: docs/internals.md, "What the rigs taught".)
        expectPlayerOutput(samples, log: lines, of: r.input, channels: 2)
        let summary = try #require(lines.last)
        #expect(summary["type"] as? String == "summary")
        #expect(summary["complete"] as? Bool == false)
        #expect(summary["frames"] as? Int == frames)
    }

    @Test("a channel that stays hot (a held note, a tone, feedback) is shouted while it lasts, not only once it stops")
    func sustainedHot() throws {
        // Noise to 0.8 on both channels (its true peak over 0 dBTP, no sample at full scale):
        // over -3 dBTP every few frames, one hot burst for good.
        let r = try RigRecording(
            "hot",
            seconds: 4,
            level: 0.8,
            arguments: ["--format", "FLOAT_LE", "--names", "Vox,Gtr"]
        )
        defer { r.stop() }
        let deadline = Date().addingTimeInterval(20)
        var said: [String] = []
        while Date() < deadline && said.count < 2 {
            said = r.recorder.stderr.split(separator: "\n").map(String.init).filter { $0.hasSuffix(", still hot") }
            usleep(50_000)
        }
        #expect(r.recorder.wait(seconds: 0) == nil, "said while recording: \(r.recorder.stderr)")
        #expect(said.count == 2, "\(r.recorder.stderr)")
        for (line, name) in zip(said.sorted(), ["ch1 Vox", "ch2 Gtr"]) {
            #expect(line.hasPrefix("HOT: \(name) at ") && line.contains(" dBTP since 00:00:00.0"), "\(line)")
        }
        kill(r.recorder.pid, SIGINT)
        #expect(r.recorder.wait(seconds: 10) == 0, "\(r.recorder.stderr)")
        // Once per burst; the log's hot events are the bursts, closed at the end of the take.
        let lines = r.recorder.stderr.split(separator: "\n")
        #expect(lines.filter { $0.hasSuffix(", still hot") }.count == 2, "\(r.recorder.stderr)")
        let (_, log) = try r.take()
        #expect(log.filter { $0["type"] as? String == "hot" }.count == 2)
        #expect(lines.filter { $0.hasPrefix("HOT: ") && $0.contains(" reached ") }.count == 2, "\(r.recorder.stderr)")
    }

    @Test("three channels, and six: every channel of the take is its own port's, sample for sample")
    func oddChannelCounts() throws {
        // The rig pads the player's file to a power of two channels (JackRig.playable):
        // unpadded, sndfile-jackplay itself shifted whole stretches of its output by a channel
        // every few tenths of a second, in arecord's takes as in headroom's.
        for channels in [3, 6] {
            let r = try RigRecording("ch\(channels)", seconds: 3, channels: channels)
            defer { r.stop() }
            let (samples, lines) = try r.interrupted(after: 2)
            #expect(samples.count > 48000 * 2 * channels)
            expectPlayerOutput(samples, log: lines, of: r.input, channels: channels)
        }
    }

    @Test("an integer take of JACK's floats: every sample is alsa-lib's code for the player's, past full scale too")
    func integerTake() throws {
        // JACK's ports are floats: `plug` converts them to S32_LE (alsa-lib's lfloat), or
        // headroom reads floats and converts them itself; either way, the same codes.
        let r = try RigRecording("s32", seconds: 3, level: 1.3, arguments: ["--format", "S32_LE"])
        defer { r.stop() }
        let (samples, lines) = try r.interrupted(after: 2)
        #expect(samples.count > 48000 * 2 * 2)
        // The codes, as libsndfile reads a 32-bit take back into floats.
        let codes = r.input.map { Float(lfloatCode($0)) / 2_147_483_648 }
        expectPlayerOutput(samples, log: lines, of: codes, channels: 2)
        #expect(lines.first?["path"] as? [String] == ["plug", "lfloat", "jack"])
    }

    @Test(
        "SIGSTOP for less than the device buffer and for more: a gap of about the time lost, no error from ALSA, silence in the take",
        arguments: [0.1, 1.5]
    )
    func sigstop(seconds: Double) throws {
        let r = try RigRecording("stop", seconds: 3)
        defer { r.stop() }
        let rec = r.recorder
        #expect(waitForAudio(in: r.out, seconds: 1))
        // The recorder's JACK client thread stops with it: what the player sends meanwhile
        // never reaches ALSA's buffer, and the plugin reports nothing.
        kill(rec.pid, SIGSTOP)
        usleep(useconds_t(seconds * 1e6))  // the stall under test
        kill(rec.pid, SIGCONT)
        #expect(waitForAudio(in: r.out, seconds: seconds + 2.5))
        kill(rec.pid, SIGINT)
        #expect(rec.wait(seconds: 10) == 0)
        let (take, lines) = try r.take()
        #expect(!lines.contains { $0["type"] as? String == "xrun" })
        // One gap is the stall (under load jackd's own xruns may add small ones).
        let gaps = lines.filter { $0["type"] as? String == "gap" }.compactMap { $0["lost_frames"] as? Int }
        let expected = (0.9 * seconds * 48000)...((seconds + max(0.15, 0.2 * seconds)) * 48000)
        #expect(gaps.contains { expected.contains(Double($0)) }, "gaps: \(gaps)")
        #expect(rec.stderr.contains("lost at"))
        // Silence stands in for the lost frames: the summary counts them, and the file holds them.
        let audio = try #require(readFloats(take))
        let frames = audio.samples.count / 2
        #expect(lines.last?["frames"] as? Int == frames)
        // ...where they went missing: every sample of the take is the player's output or the
        // logged silence, and the player's output jumps at the silence, within two of the
        // recorder's periods. (The frames ALSA's jack plugin still held when the reader
        // stopped come back first; the silence goes after what it held at the last reading
        // on time, so at the hole or up to a period before it. The silence's length is the
        // time the recorder lost, checked above; the player's jump is the time JACK's dummy
        // backend went on for, which was 88 frames less in one run and 4,629 less in a CI
        // run: the dummy backend's clock lost that much time while the client was stopped.)
        expectPlayerOutput(audio.samples, log: lines, of: r.input, channels: 2)
    }

    @Test("SIGKILL mid-take: the take opens and holds an exact prefix; every complete log line parses")
    func sigkill() throws {
        let r = try RigRecording("kill", seconds: 5, clipEvery: 24000)
        defer { r.stop() }
        let rec = r.recorder
        #expect(waitForAudio(in: r.out, seconds: 3))
        kill(rec.pid, SIGKILL)
        _ = rec.wait(seconds: 5)
        let (take, lines) = try r.take()
        let audio = try #require(readFloats(take))
        #expect(audio.samples.count / 2 >= 48000)  // all but about the last second
        // The killed take holds exactly what was captured, to its last frame.
        expectPlayerOutput(audio.samples, log: lines, of: r.input, channels: 2)
        let sox = try run("/usr/bin/soxi", ["-s", take])
        #expect(sox.status == 0)
        #expect(Int(sox.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) == audio.samples.count / 2)
        let log = try String(
            contentsOfFile: take.replacingOccurrences(of: ".wav", with: ".clips.jsonl"),
            encoding: .utf8
        )
        // Everything before the last newline: the complete lines.
        let complete = log.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(complete.count >= 2)
        for line in complete {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "\(line)")
        }
        #expect(lines.contains { $0["type"] as? String == "clip" })
    }

    @Test("jackd stopped mid-take: the device counts as lost within seconds; take valid, device_lost, exit 74")
    func deviceLost() throws {
        let r = try RigRecording("lost", seconds: 2, arguments: [])
        defer { r.stop() }
        let rec = r.recorder
        #expect(waitForAudio(in: r.out, seconds: 1, bytesPerFrame: 6))
        r.rig.killServer()
        let start = Date()
        #expect(rec.wait(seconds: 10) == 74, "\(rec.stderr)")
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(rec.stderr.contains("DEVICE LOST"))
        let (take, lines) = try r.take()
        let frames = try #require(readAudio(take)).samples.count / 2
        #expect(frames > 48000)
        let lost = try #require(lines.first { $0["type"] as? String == "device_lost" })
        #expect(lost["frame"] as? Int == frames)
        #expect(lines.last?["type"] as? String == "summary")
        #expect(lines.last?["complete"] as? Bool == false)
    }

    @Test("a format or rate the device refuses: exit 69 and what it offers")
    func refused() throws {
        let dir = scratchDirectory()
        _ = writeNoiseWav(dir + "/in.wav", seconds: 1)
        let rig = try JackRig(name: "refuse", wav: dir + "/in.wav")
        defer { rig.stop() }
        let format = try headroom(
            "record",
            "--device",
            "jackraw",
            "--format",
            "S24_3LE",
            "--dir",
            dir,
            environment: rig.environment
        )
        #expect(format.status == 69)
        #expect(
            format.stderr
                == "headroom: jackraw does not offer S24_3LE: it offers FLOAT_LE only; use --format FLOAT_LE\n"
        )
        let rate = try headroom(
            "record",
            "--device",
            "jackraw",
            "--format",
            "FLOAT_LE",
            "--rate",
            "44100",
            "--dir",
            dir,
            environment: rig.environment
        )
        #expect(rate.status == 69)
        #expect(rate.stderr.contains("cannot capture at 44100 Hz (nearest it offers: 48000 Hz); use --rate 48000"))
    }

    @Test("a slow disk: warnings keep coming, no xrun; the ring overflow is logged as dropped")
    func slowDisk() throws {
        let dir = scratchDirectory()
        _ = writeNoiseWav(dir + "/in.wav", seconds: 2, clipEvery: 4800)
        let rig = try JackRig(name: "slow", wav: dir + "/in.wav")
        defer { rig.stop() }
        for (key, value) in rig.environment { setenv(key, value, 1) }
        var settings = Settings()
        settings.directory = dir + "/takes"
        let source = try ALSACapture(device: "testlive", rate: 48000, channels: 2, format: .float)
        // The writer stalls for 3 s on its first block after 1 s of audio; its ring holds 1 s.
        let stall = DispatchSemaphore(value: 0)
        let stalled = Atomic<Bool>(false)
        var config = RecordingSession.Configuration(
            settings: settings,
            fileFormat: .wav,
            names: ["L", "R"],
            deviceName: "testlive"
        )
        config.writerRingSeconds = 1
        config.frameLimit = 48000 * 6
        config.beforeWrite = {
            if !stalled.exchange(true, ordering: .relaxed) { _ = stall.wait(timeout: .now() + 3) }
        }
        let session = try RecordingSession(source: source, configuration: config)
        session.start()
        // While the writer is stuck, the analyzer keeps going: the meter advances and clips are reported.
        usleep(500_000)
        let before = session.snapshot()
        var warnings: [String] = []
        usleep(2_000_000)
        let during = session.snapshot()
        warnings += session.takeWarnings()
        stall.signal()
        let outcome = session.outcome()
        #expect(during.takeFrames - before.takeFrames > 48000 * 3 / 2)
        #expect(warnings.contains { $0.hasPrefix("CLIP:") })
        #expect(outcome.reason == .duration)
        let logFile = try #require(outcome.logs.first)
        let lines = logLines(logFile)
        #expect(!lines.contains { $0["type"] as? String == "xrun" })
        let dropped = lines.filter { $0["type"] as? String == "dropped" }
        #expect(!dropped.isEmpty)
        let lost = dropped.compactMap { $0["lost_frames"] as? Int }.reduce(0, +)
        #expect(lost > 48000)
        // Time-accurate: the dropped frames are silence in the take, so it is as long as asked.
        let takeFile = try #require(outcome.takes.first)
        let takeAudio = try #require(readAudio(takeFile))
        #expect(takeAudio.samples.count / 2 == 48000 * 6)
        #expect(lines.last?["dropped_frames"] as? Int == lost)
    }
}
