import CSndFile
import Foundation
import HeadroomCore
import Testing

@Suite("headroom calibrate", .serialized)
struct CalibrateCommandTests {
    /// Channels with known peaks: clipping, hot (-1.5), in the band (-8), quiet (-24), flat
    /// tops at -12 dBFS (a tone driven 4 dB into a ceiling there), silent. Eight in all (the
    /// last three silent).
    static let peaksDBFS: [Double?] = [nil, -1.5, -8, -24, nil, nil]
    static let channels = 8
    static let flatCeiling = pow(10, -12.0 / 20)

    static func soundcheck(_ path: String) {
        let frames = 48000 * 2
        var samples = [Float](repeating: 0, count: frames * Self.channels)
        for i in 0..<frames {
            let s = sin(2 * Double.pi * 441 * Double(i) / 48000)
            samples[i * Self.channels + 0] = Float(max(-1, min(1, 1.6 * s)))  // clips every half cycle
            for c in 1...3 { samples[i * Self.channels + c] = Float(pow(10, peaksDBFS[c]! / 20) * s) }
            samples[i * Self.channels + 4] = Float(max(-flatCeiling, min(flatCeiling, flatCeiling * pow(10, 0.2) * s)))
        }
        writeFloatWav(path, samples: samples, channels: Self.channels)
    }

    /// `headroom calibrate` with `arguments`, run again once if the soundcheck lost frames,
    /// as calibrate then asks a person to do. The levels the tests check hold for a
    /// soundcheck that lost nothing: the tone jumps across a loss, and its true peak can read
    /// high beside it (2 dB once, on a loaded machine: the rig's JACK server missed a cycle).
    /// Twice in a row fails the test.
    static func calibrate(_ arguments: String..., environment: [String: String]) throws -> RunResult {
        let first = try run(headroomBinary, ["calibrate"] + arguments, environment: environment)
        guard first.stderr.contains("the soundcheck lost") else { return first }
        return try run(headroomBinary, ["calibrate"] + arguments, environment: environment)
    }

    @Test("through the JACK rig: the right reason per channel, proposals within 0.5 dB of target minus the played peak")
    func reasons() throws {
        let dir = scratchDirectory()
        Self.soundcheck(dir + "/check.wav")
        let rig = try JackRig(name: "cal", wav: dir + "/check.wav", channels: Self.channels, period: 1024)
        defer { rig.stop() }
        let r = try Self.calibrate(
            "--device",
            "testlive",
            "--channels",
            "8",
            "--format",
            "FLOAT_LE",
            "--seconds",
            "3",
            "--json",
            "--names",
            "Vox,Kick,Gtr,Room,Bass,Spare",
            "--save",
            dir + "/levels.json",
            environment: rig.environment
        )
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stderr.contains("the soundcheck lost"), "\(r.stderr)")
        let object = try #require(r.jsonLines.first)
        #expect(object["type"] as? String == "calibration")
        #expect(object["device"] as? String == "testlive")
        let channels = try #require(object["channels"] as? [[String: Any]])
        #expect(
            channels.map { $0["reason"] as? String } == [
                "clipped", "hot", "ok", "quiet", "flat", "no_signal", "no_signal", "no_signal",
            ]
        )
        #expect((channels[0]["proposal_db"] as? Double ?? 0) <= -6)  // at most target - 0 dBFS
        // Played 1.6x full scale (+4.1 dB): the overshoot estimate lands the proposal near -10.1.
        #expect(abs((channels[0]["over_db"] as? Double ?? 99) - 20 * log10(1.6)) <= 1)
        #expect(abs((channels[0]["proposal_db"] as? Double ?? 99) - (-6 - 20 * log10(1.6))) <= 1)
        #expect((channels[0]["clip_events"] as? Int ?? 0) > 0)
        #expect(abs((channels[1]["proposal_db"] as? Double ?? 99) - (-6 - -1.5)) <= 0.5)
        #expect(channels[2]["proposal_db"] as? Double == 0)
        #expect(abs((channels[3]["proposal_db"] as? Double ?? 99) - (-6 - -24)) <= 0.5)
        // Flat at -12 dBFS, about 4 dB over: lowered at least that far (SPEC's own figure,
        // -6 - (-12 + 4), would raise it 2 dB and clip harder).
        let flatOver = try #require(channels[4]["over_db"] as? Double)
        #expect(abs(flatOver - 4) <= 1 && abs((channels[4]["flat_level_dbfs"] as? Double ?? 99) - -12) <= 0.2)
        let flatProposal = try #require(channels[4]["proposal_db"] as? Double)
        // (over_db is shown to 0.1 dB; the proposal rounds the unrounded figure down to 0.5.)
        #expect(flatProposal <= -flatOver + 0.05 && flatProposal >= -flatOver - 0.55, "\(channels[4])")
        #expect(channels[5]["proposal_db"] is NSNull)
        #expect(abs((channels[2]["typical_peak_dbtp"] as? Double ?? 99) - -8) < 0.2)
        #expect(channels.allSatisfy { $0["control"] is NSNull })  // no sound card, no controls
        let saved = try String(contentsOfFile: dir + "/levels.json", encoding: .utf8)
        // The object printed, with headroom's seal as its last member.
        #expect(saved.hasPrefix(r.stdout.dropLast(2) + ",\"headroom_seal\":\""), "\(saved)")

        let table = try Self.calibrate(
            "--device",
            "testlive",
            "--channels",
            "8",
            "--format",
            "FLOAT_LE",
            "--seconds",
            "2",
            "--names",
            "Vox,Kick,Gtr,Room,Bass,Spare",
            environment: rig.environment
        )
        let rows = table.stdout.split(separator: "\n").map(String.init)
        #expect(rows[0].contains("true peak dBTP") && rows[0].contains("typical dBTP") && rows[0].contains("proposal"))
        #expect(
            rows[1].contains("Vox") && rows[1].contains("clipped") && rows[1].contains(" dB: lower ")
                && rows[1].contains("run calibrate again"),
            "\(rows[1])"
        )
        #expect(rows[2].contains("Kick") && rows[2].contains("hot: lower 4.5 dB"))
        #expect(rows[3].hasSuffix("ok"))
        #expect(rows[4].contains("too quiet: raise 18.0 dB"))
        // The stage that clips comes down; the rest is made up after it.
        #expect(
            rows[5].contains("Bass") && rows[5].contains("flat tops at -12.0 dBFS, by about ")
                && rows[5].contains(" dB (clipping before the converter?), then raise ")
                && rows[5].hasSuffix(" dB after that stage"),
            "\(rows[5])"
        )
        #expect(rows[6].contains("no signal: is it plugged in?"))
        #expect(
            table.stdout.contains(
                "testlive: no capture controls with dB information; set the gains on the interface itself."
            )
        )

        let apply = try headroom(
            "calibrate",
            "--device",
            "testlive",
            "--channels",
            "8",
            "--format",
            "FLOAT_LE",
            "--seconds",
            "1",
            "--apply",
            "--yes",
            environment: rig.environment
        )
        #expect(apply.status == 69)
        #expect(apply.stderr.contains("--apply: testlive has no capture controls headroom can set"))
        #expect(apply.stderr.contains("nothing changed"))
    }

    @Test("a control's dB arithmetic: the value for a change, clamped to its range and to --max-step")
    func gainSteps() {
        // A typical USB preamp: 0...100 steps over -10...+40 dB (0.5 dB a step), now at +20 dB.
        let mic = ALSAMixer.Control(
            name: "Mic 1",
            minValue: 0,
            maxValue: 100,
            minDB: -10,
            maxDB: 40,
            value: 60,
            valueDB: 20
        )
        #expect(GainStep.target(mic, changeDB: -4.5, maxStepDB: 12).map { [Double($0.value), $0.db] } == [51, 15.5])
        // Step-limited:
        #expect(GainStep.target(mic, changeDB: 18, maxStepDB: 12).map { [Double($0.value), $0.db] } == [84, 32])
        #expect(GainStep.target(mic, changeDB: -40, maxStepDB: 60).map { $0.value } == 0)  // range-limited
        #expect(GainStep.target(mic, changeDB: 30, maxStepDB: 60).map { $0.value } == 100)
        // 1.5 dB steps: a -4 dB change lands on -3 dB, never past what was asked.
        let coarse = ALSAMixer.Control(
            name: "Capture",
            minValue: 0,
            maxValue: 40,
            minDB: 0,
            maxDB: 60,
            value: 20,
            valueDB: 30
        )
        let t = GainStep.target(coarse, changeDB: -4, maxStepDB: 12)
        #expect(t?.db == 27)
        let limited = GainStep.target(coarse, changeDB: -20, maxStepDB: 12)
        #expect(limited.map { 30 - $0.db } == 12)
        // No dB information: no figure is made up.
        let plain = ALSAMixer.Control(
            name: "Line",
            minValue: 0,
            maxValue: 31,
            minDB: nil,
            maxDB: nil,
            value: 10,
            valueDB: nil
        )
        #expect(GainStep.target(plain, changeDB: -3, maxStepDB: 12) == nil)
    }

    @Test("the card behind a device name; plugins have none")
    func cardNames() {
        #expect(ALSAMixer.cardName("hw:CARD=USB,DEV=0") == "hw:USB")
        #expect(ALSAMixer.cardName("plughw:1") == "hw:1")
        #expect(ALSAMixer.cardName("hw:2,0") == "hw:2")
        #expect(ALSAMixer.cardName("default") == nil)
        #expect(ALSAMixer(device: "hw:CARD=Nope") == nil)  // no such card here: no mixer, no crash
    }
}
