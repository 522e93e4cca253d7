import CSndFile
import Foundation
import HeadroomCore
import Testing

@Suite("headroom record through ALSA's file plugin (unpaced, bit-exact)")
struct RecordFileRigTests {
    @Test(
        "the take is bit-identical to what the device delivered",
        arguments: ["S16_LE", "S24_3LE", "S24_LE", "S32_LE", "FLOAT_LE"]
    )
    func bitExact(format: String) throws {
        var m = Material(frames: 48000 * 2, channels: 3)
        m.clip(channel: 1, frame: 30000, length: 4)
        let rig = FileRig(bytes: m.bytes(format))
        let take = try rig.record("--channels", "3", "--format", format, "--duration", "2")
        var info = SF_INFO()
        let file = try #require(sf_open(take, Int32(SFM_READ), &info))
        defer { sf_close(file) }
        #expect(info.frames == 96000)
        #expect(info.channels == 3)
        let subtype = info.format & Int32(SF_FORMAT_SUBMASK)
        let expectedSubtype: Int32 =
            [
                "S16_LE": Int32(SF_FORMAT_PCM_16), "S32_LE": Int32(SF_FORMAT_PCM_32),
                "FLOAT_LE": Int32(SF_FORMAT_FLOAT),
            ][format] ?? Int32(SF_FORMAT_PCM_24)
        #expect(subtype == expectedSubtype)
        if format == "FLOAT_LE" {
            var got = [Float](repeating: 0, count: 96000 * 3)
            _ = got.withUnsafeMutableBufferPointer { sf_readf_float(file, $0.baseAddress!, 96000) }
            #expect(got == m.values.map { Float($0) })
        } else {
            #expect(firstDifference(try readInts(take, frames: 96000, channels: 3), m.expectedInts(format)) == nil)
        }
    }

    @Test(
        "from a float device through plug, an integer take holds alsa-lib's codes for every sample, over full scale and under one step included",
        arguments: ["S16_LE", "S24_3LE", "S24_LE", "S32_LE"]
    )
    func floatDevice(format: String) throws {
        // Noise past full scale, and the edges of the conversion in channel 1.
        var state: UInt64 = 7
        var floats: [Float] = (0..<(48000 * 2)).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return 1.3 * Float(Double(Int64(bitPattern: state) >> 11) / Double(1 << 52))
        }
        let edges: [Float] = [
            1, -1, 1.0000001, -1.0000001, 0.99999994, -0.99999994, 3, -3, .infinity, -.infinity, 0, -0.0,
            0x1p-31, -0x1p-31, 0x1p-32, -0x1p-32, 0x1.8p-31, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, 0.5, -0.5,
            0.75,
        ]
        for (k, v) in edges.enumerated() { floats[(1000 + k) * 2] = v }
        let rig = FileRig(bytes: floats.withUnsafeBytes { Data($0) }, floatDevice: true)
        let take = try rig.record("--channels", "2", "--rate", "48000", "--format", format, "--duration", "1")
        let got = try readInts(take, frames: 48000, channels: 2)
        // libsndfile reads every PCM width left-justified in 32 bits.
        let shift: Int32 = format == "S16_LE" ? 16 : format == "S32_LE" ? 0 : 8
        let expected = floats.map { (lfloatCode($0) >> shift) << shift }
        let wrong = zip(got, expected).enumerated().filter { $0.element.0 != $0.element.1 }
        #expect(
            wrong.isEmpty,
            "\(wrong.count) samples differ; the first: \(wrong.prefix(3).map { ($0.offset, $0.element) })"
        )
        // The take's header names the conversion the samples went through.
        let path = logLines(take.replacingOccurrences(of: ".wav", with: ".clips.jsonl")).first?["path"] as? [String]
        #expect(path == ["plug", "lfloat", "file", "null"])
    }

    @Test("clip events land on the exact frames; the log has SPEC's shape; cues and bext are in the WAV")
    func clipFramesCuesAndBext() throws {
        var m = Material(frames: 48000 * 3, channels: 2)
        m.clip(channel: 0, frame: 12345, length: 3)
        m.clip(channel: 1, frame: 60000, length: 7, negative: true)
        m.clip(channel: 0, frame: 100_000, length: 2)  // too short to count
        let rig = FileRig(bytes: m.bytes("S24_3LE"))
        let out = rig.directory + "/takes"
        let r = try headroom(
            "record",
            "--device",
            "testcap",
            "--duration",
            "3",
            "--dir",
            out,
            "--names",
            "Vox,Bass",
            environment: rig.environment
        )
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("CLIP: ch1 Vox"))
        #expect(r.stderr.contains("CLIP: ch2 Bass"))
        let take = try #require(files(in: out, ending: ".wav").first)
        let lines = logLines(take.replacingOccurrences(of: ".wav", with: ".clips.jsonl"))
        #expect(lines.first?["type"] as? String == "take")
        #expect(lines.first?["file"] as? String == URL(fileURLWithPath: take).lastPathComponent)
        #expect(lines.first?["device"] as? String == "testcap")
        #expect(lines.first?["format"] as? String == "S24_3LE")
        let clips = lines.filter { $0["type"] as? String == "clip" }
        #expect(clips.map { $0["channel"] as? Int } == [1, 2])
        #expect(clips.map { $0["start_frame"] as? Int } == [12345, 60000])
        #expect(clips.map { $0["end_frame"] as? Int } == [12348, 60007])
        #expect(clips.map { $0["name"] as? String } == ["Vox", "Bass"])
        let summary = try #require(lines.last)
        #expect(summary["type"] as? String == "summary")
        #expect(summary["complete"] as? Bool == true)
        #expect(summary["frames"] as? Int == 144_000)
        #expect(summary["xruns"] as? Int == 0)
        #expect(summary["dropped_frames"] as? Int == 0)

        var info = SF_INFO()
        let file = try #require(sf_open(take, Int32(SFM_READ), &info))
        defer { sf_close(file) }
        var cues = SF_CUES()
        #expect(sf_command(file, Int32(SFC_GET_CUE), &cues, Int32(MemoryLayout<SF_CUES>.size)) == Int32(SF_TRUE))
        // One cue per event line (the two clips, and the hot burst of the 2-sample run), in log order.
        let events = lines.filter { !["take", "summary", "gain"].contains($0["type"] as? String ?? "") }
        let expected = events.compactMap { ($0["start_frame"] ?? $0["frame"]) as? Int }
        #expect(Int(cues.cue_count) == expected.count)
        let positions = withUnsafeBytes(of: &cues.cue_points) { raw in
            raw.bindMemory(to: SF_CUE_POINT.self).prefix(Int(cues.cue_count)).map { Int($0.sample_offset) }
        }
        #expect(positions == expected)
        #expect(positions.contains(12345) && positions.contains(60000))
        var bext = SF_BROADCAST_INFO()
        #expect(
            sf_command(file, Int32(SFC_GET_BROADCAST_INFO), &bext, Int32(MemoryLayout<SF_BROADCAST_INFO>.size))
                == Int32(SF_TRUE)
        )
        let originator = withUnsafeBytes(of: &bext.originator) {
            String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
        }
        #expect(originator == "headroom")
        let date = withUnsafeBytes(of: &bext.origination_date) { String(decoding: $0.prefix(10), as: UTF8.self) }
        #expect(date.count == 10 && date.split(separator: "-").count == 3)
        #expect(UInt64(bext.time_reference_low) | UInt64(bext.time_reference_high) << 32 < 86400 * 48000)
    }

    @Test(
        "a channel that clips all evening: five lines, then one a minute that counts the rest; the log keeps every event"
    )
    func repeatedLines() throws {
        // 200 s at 8 kHz: Vox clips every 0.25 s for 100 s, then once at 190 s, after a
        // quiet minute; Kick runs hot (a short burst at 0.80 to 0.95) every 0.5 s for 100 s.
        let rate = 8000
        let frames = 200 * rate
        var samples = [Int16](repeating: 0, count: frames * 2)
        var state: UInt64 = 7
        for f in 0..<frames {
            samples[f * 2] = Int16(3000 * sin(Double(f) * 0.05))
            samples[f * 2 + 1] = Int16(2000 * sin(Double(f) * 0.031))
        }
        for f in stride(from: 100, to: 100 * rate, by: rate / 4) + [190 * rate] {
            for i in 0..<4 { samples[(f + i) * 2] = .max }
        }
        for f in stride(from: 300, to: 100 * rate, by: rate / 2) {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let peak = 0.80 + 0.15 * Double(state >> 11) / Double(1 << 53)
            for i in 0..<9 { samples[(f + i) * 2 + 1] = Int16(32767 * peak * sin(Double.pi * Double(i + 1) / 10)) }
        }
        let rig = FileRig(bytes: samples.withUnsafeBytes { Data($0) })
        let (r, log) = try rig.recordLog(
            into: "takes",
            "--rate",
            "8000",
            "--format",
            "S16_LE",
            "--duration",
            "200",
            "--names",
            "Vox,Kick"
        )
        let lines = r.stderr.split(separator: "\n").map(String.init)

        // Every clip and hot event is in the log.
        let clips = log.filter { $0["type"] as? String == "clip" && $0["channel"] as? Int == 1 }
        #expect(clips.count == 401)
        let hots = log.filter { $0["type"] as? String == "hot" && $0["channel"] as? Int == 2 }
        #expect(hots.count == 200)

        // Five lines, one that says the rest are counted, counts that add up to the log's.
        let voxLines = lines.filter { $0.hasPrefix("CLIP: ch1 Vox") || $0.hasPrefix("CLIP ch1 Vox") }
        #expect(voxLines.count < 20, "\(voxLines)")
        #expect(lines.filter { $0.hasPrefix("CLIP: ch1 Vox at ") }.count == 6)
        #expect(lines.contains("CLIP: ch1 Vox at 00:03:10.000"), "after a quiet minute, a clip has its line again")
        #expect(
            lines.contains(
                "CLIP: ch1 Vox clips again and again: from 00:00:01.263, one line a minute counts them (the take's log has each)"
            )
        )
        // Five shown, the counted ones, and the one at 190 s.
        let shown: Int = 5 + 1
        let counted: Int = try counts(in: lines, prefix: "CLIP: ch1 Vox clipped ").reduce(0, +)
        #expect(shown + counted == clips.count, "\(voxLines)")
        #expect(lines.contains { $0.hasPrefix("CLIP: ch1 Vox clipped ") && $0.contains(": proposal -") })

        let kickLines = lines.filter { $0.hasPrefix("HOT: ch2 Kick") }
        #expect(kickLines.count < 12, "\(kickLines)")
        let hotCounted: Int = try counts(in: lines, prefix: "HOT: ch2 Kick ran hot ").reduce(0, +)
        #expect(5 + hotCounted == hots.count, "\(kickLines)")
        // "up to" is the loudest of the events counted.
        let loudest = try #require(hots.dropFirst(5).compactMap { $0["true_peak_dbtp"] as? Double }.max())
        let said = kickLines.compactMap { line -> Double? in
            guard let at = line.range(of: ", up to ") else { return nil }
            return Double(line[at.upperBound...].prefix { $0 != " " })
        }
        #expect(said.max() == (loudest * 10).rounded() / 10, "\(kickLines)")
    }

    /// The counts in once-a-minute lines that start with `prefix` ("once more" is 1).
    private func counts(in lines: [String], prefix: String) throws -> [Int] {
        try lines.filter { $0.hasPrefix(prefix) }.map { line in
            let rest = line.dropFirst(prefix.count)
            if rest.hasPrefix("once more") { return 1 }
            return try #require(Int(rest.prefix { $0.isNumber }), "\(line)")
        }
    }

    @Test("a 24-bit converter in S32_LE: its largest code clips, live and in the log, as its smallest does")
    func twentyFourBitConverterInS32() throws {
        var m = Material(frames: 48000 * 2, channels: 2)
        m.clip(channel: 0, frame: 12345, length: 4)  // 0x7FFFFF00: under SPEC's 0x7FFFFFFF
        m.clip(channel: 1, frame: 60000, length: 5, negative: true)  // 0x80000000
        let rig = FileRig(bytes: m.bytes("S32_LE/24"))
        let (r, lines) = try rig.recordLog(
            into: "takes",
            "--format",
            "S32_LE",
            "--channels",
            "2",
            "--duration",
            "2",
            "--names",
            "Vox,Bass"
        )
        #expect(r.stderr.contains("CLIP: ch1 Vox"))
        #expect(r.stderr.contains("CLIP: ch2 Bass"))
        let clips = lines.filter { $0["type"] as? String == "clip" }
        #expect(clips.map { $0["start_frame"] as? Int } == [12345, 60000])
        #expect(clips.map { $0["clipped_samples"] as? Int } == [4, 5])
        let summary = try #require(lines.last?["channels"] as? [[String: Any]])
        #expect(summary.map { $0["clip_events"] as? Int } == [1, 1])
    }

    @Test(
        "a 16-bit card read through plug as S24_3LE, S32_LE or FLOAT_LE: its largest code clips, as its smallest does",
        arguments: ["S24_3LE", "S32_LE", "FLOAT_LE"]
    )
    func sixteenBitCardThroughPlug(format: String) throws {
        // Behind a plug that converts, the file plugin reads its infile ten periods for each
        // period it delivers (alsa-lib 1.2.8; arecord's takes skip the same way), so the
        // material repeats every period: whatever it skips, each period is the same.
        let period = 960
        var codes = [Int16]()
        for f in 0..<(period * 1000) {
            let i = f % period
            let tone = Int16(9000 * sin(2 * Double.pi * 4 * Double(i) / Double(period)))
            codes += [(100..<104).contains(i) ? .max : tone, (500..<505).contains(i) ? .min : tone / 2]
        }
        let rig = FileRig(bytes: codes.withUnsafeBytes { Data($0) }, deviceFormat: "S16_LE")
        let (r, lines) = try rig.recordLog(
            into: "takes",
            "--format",
            format,
            "--period-frames",
            "\(period)",
            "--duration",
            "2",
            "--names",
            "Vox,Bass"
        )
        let conversion = format == "FLOAT_LE" ? "lfloat" : "linear"
        #expect(lines.first?["path"] as? [String] == ["plug", conversion, "file", "null"])
        // 32767 arrives as 0x7FFF00 (S24_3LE), 0x7FFF0000 (S32_LE) or 0.99996948: the card's full scale.
        #expect(r.stderr.contains("CLIP: ch1 Vox"), "\(r.stderr)")
        let clips = lines.filter { $0["type"] as? String == "clip" }
        #expect(clips.map { $0["start_frame"] as? Int } == [100, 500])
        #expect(clips.map { $0["clipped_samples"] as? Int } == [400, 500])
        #expect(!lines.contains { $0["type"] as? String == "flat" })
    }

    @Test("a float device's 24-bit largest value clips alike recorded as FLOAT_LE and as S32_LE")
    func floatDeviceClipsAlike() throws {
        var floats = [Float](repeating: 0.25, count: 48000 * 2)
        func put(_ channel: Int, _ frames: Range<Int>, _ v: Float) { for f in frames { floats[f * 2 + channel] = v } }
        put(0, 5000..<5004, 0.99999988)  // 8388607 / 8388608: a 24-bit converter's largest code
        put(1, 20000..<20003, -1)
        put(0, 30000..<30005, 0.99999976)  // two 24-bit steps under: not clipped
        let rig = FileRig(bytes: floats.withUnsafeBytes { Data($0) }, floatDevice: true)
        var found: [String: [Int]] = [:]
        for format in ["FLOAT_LE", "S32_LE"] {
            let (_, lines) = try rig.recordLog(into: format, "--channels", "2", "--format", format, "--duration", "1")
            found[format] = lines.filter { $0["type"] as? String == "clip" }.compactMap { $0["start_frame"] as? Int }
        }
        #expect(found["FLOAT_LE"] == [5000, 20000])
        #expect(found["S32_LE"] == found["FLOAT_LE"])
    }

    @Test("names for eight inputs and the default two channels: record and calibrate say which are recorded")
    func moreNamesThanChannels() throws {
        let rig = FileRig(bytes: Material(frames: 48000, channels: 2).bytes("S24_3LE"))
        let names = "Kick,Snare,OH L,OH R,Bass,Gtr,Vox,Room"
        let (record, log) = try rig.recordLog(into: "takes", "--duration", "0.2", "--names", names)
        let note = "note: 8 channel names for 2 channels (Kick, Snare); to use all 8, add --channels 8"
        #expect(record.stderr.contains(note), "\(record.stderr)")
        #expect(log.first?["names"] as? [String] == ["Kick", "Snare"])
        let calibrate = try headroom(
            "calibrate",
            "--device",
            "testcap",
            "--seconds",
            "0.2",
            "--names",
            names,
            environment: rig.environment
        )
        #expect(calibrate.status == 0, "\(calibrate.stderr)")
        #expect(calibrate.stderr.contains(note), "\(calibrate.stderr)")
        // Names that all fit, or a trailing comma: no note.
        for (i, given) in ["Kick,Snare", "Kick,Snare,", "Kick"].enumerated() {
            let (r, _) = try rig.recordLog(into: "fit\(i)", "--duration", "0.1", "--names", given)
            #expect(!r.stderr.contains("channel names for"), "\(given): \(r.stderr)")
        }
    }

    @Test("--max-take-seconds parts concatenate to the input exactly")
    func parts() throws {
        let m = Material(frames: 48000 * 7 / 2, channels: 2, seed: 9)
        let rig = FileRig(bytes: m.bytes("S16_LE"))
        func record(seconds: String, into dir: String) throws -> RunResult {
            try headroom(
                "record",
                "--device",
                "testcap",
                "--format",
                "S16_LE",
                "--duration",
                seconds,
                "--max-take-seconds",
                "1",
                "--dir",
                dir,
                "--name",
                "set-%n",
                environment: rig.environment
            )
        }
        let out = rig.directory + "/takes"
        let r = try record(seconds: "3.5", into: out)
        #expect(r.status == 0, "\(r.stderr)")
        let takes = files(in: out, ending: ".wav")
        #expect(
            takes.map { URL(fileURLWithPath: $0).lastPathComponent } == [
                "set-001.wav", "set-002.wav", "set-003.wav", "set-004.wav",
            ]
        )
        var joined: [Int32] = []
        var lengths: [Int] = []
        for take in takes {
            let audio = try #require(readAudio(take))
            lengths.append(audio.samples.count / 2)
            joined += audio.samples
            let lines = logLines(take.replacingOccurrences(of: ".wav", with: ".clips.jsonl"))
            #expect(lines.last?["type"] as? String == "summary")
            #expect(lines.last?["frames"] as? Int == audio.samples.count / 2)
        }
        #expect(lengths == [48000, 48000, 48000, 24000])
        #expect(firstDifference(joined, m.expectedInts("S16_LE")) == nil)
        // A duration of whole parts ends with the last part: no empty take after it (there
        // was one, a file of 0 bytes that nothing could open, with a log).
        let whole = rig.directory + "/whole"
        let two = try record(seconds: "2", into: whole)
        #expect(two.status == 0, "\(two.stderr)")
        #expect(
            files(in: whole, ending: ".wav").map { URL(fileURLWithPath: $0).lastPathComponent } == [
                "set-001.wav", "set-002.wav",
            ]
        )
        #expect(files(in: whole, ending: ".clips.jsonl").count == 2)
    }

    @Test(
        "a recorder that splits takes day after day keeps its memory: from its 500th one-second take to its 2,500th, at most 5 KB more per take (it was about 21 KB)"
    )
    func memoryAcrossTakes() throws {
        // One second of a tone, 8 kHz mono (past its end, the null plugin's buffer).
        let rig = FileRig.tone().rig
        let out = rig.directory + "/takes"
        let recorder = try BackgroundRecorder(
            [
                "record", "--device", "testcap", "--rate", "8000", "--channels", "1", "--format", "S16_LE",
                "--max-take-seconds", "1", "--duration", "3000", "--headless", "--dir", out,
            ],
            environment: rig.environment,
            directory: rig.directory
        )
        // The recorder's resident memory once it has made `takes` takes (KB, /proc).
        func resident(after takes: Int) throws -> Int {
            #expect(waitForFiles(in: out, ending: ".wav", count: takes, timeout: 120))
            let status = try String(contentsOfFile: "/proc/\(recorder.pid)/status", encoding: .utf8)
            let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
            return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
        }
        let early = try resident(after: 500)
        let late = try resident(after: 2500)
        kill(recorder.pid, SIGTERM)
        #expect(recorder.wait(seconds: 60) == 0, "\(recorder.stderr.suffix(2000))")
        #expect((late - early) / 2000 <= 5, "\(early) KB at take 500, \(late) KB at take 2,500")
    }

    @Test(
        "with no meter each take is said as it closes, once; on a terminal the end lists the last 10 of many"
    )
    func takesSaidAsTheyClose() throws {
        let rig = FileRig.tone().rig
        let options = [
            "record", "--device", "testcap", "--rate", "8000", "--channels", "1", "--format", "S16_LE",
            "--max-take-seconds", "1",
        ]
        // A service's journal: the first takes are there while the recorder still runs.
        let out = rig.directory + "/takes"
        let recorder = try BackgroundRecorder(
            options + ["--duration", "100000", "--headless", "--dir", out],
            environment: rig.environment,
            directory: rig.directory
        )
        let first = "headroom: take \(out)/"
        let deadline = Date().addingTimeInterval(30)
        func saidSoFar() -> Int { recorder.stderr.components(separatedBy: first).count - 1 }
        while saidSoFar() < 20 && Date() < deadline { usleep(20_000) }
        #expect(saidSoFar() >= 20 && recorder.wait(seconds: 0) == nil, "\(recorder.stderr.suffix(2000))")
        kill(recorder.pid, SIGTERM)
        #expect(recorder.wait(seconds: 60) == 0, "\(recorder.stderr.suffix(2000))")
        let said = recorder.stderr.split(separator: "\n").filter { $0.hasPrefix(first) }
        let takes = files(in: out, ending: ".wav")
        #expect(takes.count > 20 && said.count == takes.count, "\(takes.count) takes, \(said.count) said")
        for take in takes {
            let log = take.replacingOccurrences(of: ".wav", with: ".clips.jsonl")
            #expect(said.filter { $0 == "headroom: take \(take) (log \(log))" }.count == 1, "\(take)")
        }
        // Its first line, as arecord's: what it records, and into which take.
        let opening = "headroom: recording testcap (1 ch, 8000 Hz, S16_LE) into \(takes[0])\n"
        #expect(recorder.stderr.hasPrefix(opening), "\(recorder.stderr.prefix(300))")

        // A terminal, 30 takes: after the meter, the first and last of the first 20, then the
        // last 10 named.
        let screen = try onTerminal(
            options + ["--duration", "30", "--dir", rig.directory + "/day"],
            in: rig.directory,
            environment: rig.environment,
            sourceLocation: #_sourceLocation
        )
        let day = files(in: rig.directory + "/day", ending: ".wav")
        try #require(day.count == 30)
        let named = screen.components(separatedBy: "\r\n").filter { $0.hasPrefix("headroom: take ") }
        #expect(named == day.suffix(10).map { "headroom: take \($0) (log \($0.dropLast(4)).clips.jsonl)" })
        #expect(!screen.contains("headroom: recording testcap"), "the meter says it: \(screen)")
        #expect(screen.contains("headroom: 20 takes from \(day[0]) to \(day[19]), and the last 10:\r\n"), "\(screen)")
    }

    @Test(
        "a take that cannot be created mid-recording (its --name folder cannot be made): the takes before it are finished, nothing is made after it, exit 74"
    )
    func takeNotCreated() throws {
        let (rig, tone) = FileRig.tone(seconds: 5)
        let out = rig.directory + "/takes"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        // A file where the second take's folder should go (as a full disk refuses a day's folder).
        #expect(FileManager.default.createFile(atPath: out + "/002", contents: Data()))
        let ran = rig.directory + "/ran"
        let r = try run(
            headroomBinary,
            [
                "record", "--device", "testcap", "--rate", "8000", "--channels", "1", "--format", "S16_LE",
                "--duration", "5", "--max-take-seconds", "1", "--dir", out, "--name", "%n/t", "--on-take-closed",
                "echo \"$1\" >> '\(ran)'",
            ],
            environment: rig.environment
        )
        // The writer went on closing takes it had never opened, and stopped the recorder
        // (an index past the registry's end: exit 132) before the first take was finished.
        #expect(r.status == 74, "\(r.stderr)")
        #expect(r.stderr.contains("DISK: cannot create \(out)/002/t.wav: \(out)/002: Not a directory\n"), "\(r.stderr)")
        #expect(r.stderr.contains("headroom: take \(out)/001/t.wav (log \(out)/001/t.clips.jsonl)\n"))
        #expect(try String(contentsOfFile: ran, encoding: .utf8) == "\(out)/001/t.wav\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == ["001", "002"])
        let audio = try #require(readAudio(out + "/001/t.wav"))
        #expect(firstDifference(audio.samples, tone.prefix(8000).map { Int32($0) << 16 }) == nil)
        #expect(logLines(out + "/001/t.clips.jsonl").last?["complete"] as? Bool == true)
    }

    @Test(
        "a folder whose files stop short (ulimit -f, as FAT's 4 GiB): takes split before the limit, every frame kept, exit 0"
    )
    func fileSizeLimit() throws {
        let m = Material(frames: 48000 * 10, channels: 2, seed: 12)
        let rig = FileRig(bytes: m.bytes("S24_3LE"))
        let out = rig.directory + "/takes"
        // The kernel's own limit on this process's files (RLIMIT_FSIZE): a write past it
        // fails with EFBIG, as one past 4 GiB does on FAT.
        let limit = 1_024_000
        let r = try run(
            "/usr/bin/prlimit",
            [
                "--fsize=\(limit)", "--", headroomBinary, "record", "--device", "testcap", "--duration", "10", "--dir",
                out, "--name", "part-%n",
            ],
            environment: rig.environment
        )
        #expect(r.status == 0, "\(r.stderr)")
        #expect(
            r.stderr.contains(
                "note: the file size limit (ulimit -f) is 1024000 bytes, so takes in \(out) split every 00:00:03.500, with no frame lost between them"
            ),
            "\(r.stderr)"
        )
        #expect(!r.stderr.contains("DISK"))
        let takes = files(in: out, ending: ".wav")
        #expect(takes.count == 3)
        var joined: [Int32] = []
        for take in takes {
            let size = try #require(try FileManager.default.attributesOfItem(atPath: take)[.size] as? Int)
            #expect(size < limit)
            let audio = try #require(readAudio(take))
            joined += audio.samples
            let lines = logLines(take.replacingOccurrences(of: ".wav", with: ".clips.jsonl"))
            #expect(lines.last?["type"] as? String == "summary")
            #expect(lines.last?["complete"] as? Bool == true)
            #expect(!lines.contains { $0["type"] as? String == "disk" })
        }
        #expect(firstDifference(joined, m.expectedInts("S24_3LE")) == nil)
    }

    @Test(
        "FLAC, W64 and CAF takes are bit-exact too; FLAC's and CAF's tags name the channels",
        arguments: ["flac", "w64", "caf"]
    )
    func otherContainers(container: String) throws {
        let m = Material(frames: 24000, channels: 2, seed: 4)
        let rig = FileRig(bytes: m.bytes("S24_3LE"))
        let out = rig.directory + "/takes"
        let r = try headroom(
            "record",
            "--device",
            "testcap",
            "--duration",
            "0.5",
            "--file-format",
            container,
            "--names",
            "Vox,Gtr",
            "--dir",
            out,
            environment: rig.environment
        )
        #expect(r.status == 0, "\(r.stderr)")
        let take = try #require(files(in: out, ending: "." + container).first)
        #expect(firstDifference(readAudio(take)?.samples, m.expectedInts("S24_3LE")) == nil)
        guard container != "w64" else { return }  // libsndfile writes no strings into W64
        var info = SF_INFO()
        let file = try #require(sf_open(take, Int32(SFM_READ), &info))
        defer { sf_close(file) }
        let tag = { (key: Int32) in sf_get_string(file, key).map { String(cString: $0) } ?? "" }
        #expect(tag(Int32(SF_STR_SOFTWARE)).hasPrefix("headroom"))
        #expect(tag(Int32(SF_STR_COMMENT)).contains("channels: 1 Vox, 2 Gtr"), "\(tag(Int32(SF_STR_COMMENT)))")
        #expect(tag(Int32(SF_STR_TITLE)) == URL(fileURLWithPath: take).deletingPathExtension().lastPathComponent)
    }

    @Test(
        "256 channels, a MADI or Dante card's worth: the take is bit-identical, a clip lands on its channel and frame, the log ends with every channel's summary"
    )
    func mostChannels() throws {
        let channels = 256
        var m = Material(frames: 12000, channels: channels)
        m.clip(channel: 250, frame: 6000, length: 5)
        let rig = FileRig(bytes: m.bytes("S24_3LE"))
        let (run, log) = try rig.recordLog(into: "takes", "--channels", "256", "--duration", "0.25")
        #expect(run.stderr.contains("CLIP: ch251 at 00:00:00.125"))
        let take = try #require(files(in: rig.directory + "/takes", ending: ".wav").first)
        #expect(
            firstDifference(try readInts(take, frames: 12000, channels: channels), m.expectedInts("S24_3LE")) == nil
        )
        let clip = try #require(log.first { $0["type"] as? String == "clip" })
        #expect(
            clip["channel"] as? Int == 251 && clip["start_frame"] as? Int == 6000 && clip["end_frame"] as? Int == 6005
        )
        let summary = try #require(log.last)
        #expect(summary["type"] as? String == "summary" && summary["complete"] as? Bool == true)
        #expect((summary["channels"] as? [[String: Any]])?.map { $0["channel"] as? Int } == (1...channels).map { $0 })
    }

    @Test("an existing take is never overwritten")
    func neverOverwrite() throws {
        let m = Material(frames: 4800, channels: 2)
        let rig = FileRig(bytes: m.bytes("S24_3LE"))
        let out = rig.directory + "/takes"
        // The second time as a shell's completion writes the folder: its takes are named
        // takes/fixed-2.wav all the same, not takes//fixed-2.wav.
        for (dir, take) in [(out, "fixed"), (out + "/", "fixed-2")] {
            let r = try headroom(
                "record",
                "--device",
                "testcap",
                "--duration",
                "0.1",
                "--dir",
                dir,
                "--name",
                "fixed",
                environment: rig.environment
            )
            #expect(r.status == 0)
            #expect(r.stderr.contains("headroom: take \(out)/\(take).wav (log \(out)/\(take).clips.jsonl)"))
        }
        #expect(
            files(in: out, ending: ".wav").map { URL(fileURLWithPath: $0).lastPathComponent } == [
                "fixed-2.wav", "fixed.wav",
            ]
        )
    }

    /// Records all of `m` through the file rig onto a disk of `size` (a tmpfs, mounted in a
    /// mount namespace of the recorder's own, gone with it, so nothing is left mounted) that
    /// fills: the result, the folder its contents were copied out to, and the disk's own path
    /// (the one the recorder names). (A file-size limit, ulimit -f, does not stand in: the
    /// recorder splits takes before one, as it does before FAT's 4 GiB.)
    private func recordOnFullDisk(_ m: Material, size: String, _ extra: [String]) throws -> (RunResult, String, String)
    {
        let rig = FileRig(bytes: m.bytes("S24_3LE"))
        let out = rig.directory + "/takes"
        let disk = rig.directory + "/disk"
        for dir in [out, disk] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        let record =
            (["record", "--device", "testcap", "--channels", "\(m.channels)"]
            + ["--duration", "\(Double(m.frames) / 48000)"] + extra).joined(separator: " ")
        let r = try run(
            "/usr/bin/unshare",
            [
                "--map-root-user", "--mount", "/bin/sh", "-c",
                "mount -t tmpfs -o size=\(size) tmpfs \"$1\" || exit 99; \"$0\" \(record) --dir \"$1\"; rc=$?; cp -a \"$1\"/. \"$2\"/; exit $rc",
                headroomBinary, disk, out,
            ],
            environment: rig.environment
        )
        return (r, out, disk)
    }

    @Test(
        "a full disk: the take is closed and valid, the log says disk, exit 74 (with 256 channels too, whose summary is 84 KB, and as FLAC)",
        arguments: [
            (2, "200k", "wav", 4.0), (256, "1m", "wav", 0.1), (2, "200k", "flac", 4.0), (2, "600k", "wav", 10.0),
        ]
    )
    func fullDisk(channels: Int, disk size: String, fileFormat: String, seconds: Double) throws {
        let m = Material(frames: Int(seconds * 48000), channels: channels)
        let (r, out, _) = try recordOnFullDisk(m, size: size, ["--file-format", fileFormat])
        #expect(r.status == 74, "\(r.stderr)")
        #expect(r.stderr.contains("No space left on device"))
        #expect(r.stderr.contains("DISK:"))
        // The capture stopped while it waited for room (this source is unpaced; with 10 s for
        // 600k the writer's ring is full when the disk fills): it reads no period it has no
        // room for, so nothing is dropped at the end.
        #expect(!r.stderr.contains("DROPPED"), "\(r.stderr)")
        let take = try #require(files(in: out, ending: "." + fileFormat).first)
        // The length in the header is what the file holds (a FLAC take's used to be left
        // unknown, read as 2^63 frames, with half a frame at its end).
        var info = SF_INFO()
        let file = try #require(sf_open(take, Int32(SFM_READ), &info))
        sf_close(file)
        let framesInHeader = Int(info.frames)
        try #require(framesInHeader < m.frames, "\(framesInHeader) frames")
        let audio = try #require(readAudio(take))
        #expect(audio.samples.count == framesInHeader * channels)
        #expect(audio.samples.count > 0)
        #expect(firstDifference(audio.samples, Array(m.expectedInts("S24_3LE").prefix(audio.samples.count))) == nil)
        // The log kept disk for its lines: its header, the disk line and the summary are there
        // though the take filled the disk (before, now and then none of them was; with 256
        // channels, the summary was missing while the log held 64 KiB whatever the channels).
        let lines = logLines(take.replacingOccurrences(of: "." + fileFormat, with: ".clips.jsonl"))
        #expect(lines.first?["type"] as? String == "take")
        let disk = try #require(lines.first { $0["type"] as? String == "disk" })
        #expect(disk["frame"] as? Int == audio.samples.count / channels)
        #expect(lines.last?["type"] as? String == "summary")
        #expect(lines.last?["complete"] as? Bool == false)
        #expect(lines.last?["frames"] as? Int == audio.samples.count / channels)
        #expect((lines.last?["channels"] as? [Any])?.count == channels)
        // The write the disk cut short ended inside a frame: those bytes are gone, so the
        // take's chunks still end where the file does, and its cue markers and iXML went in
        // where readers find them (they used to be appended after the half frame, out of reach).
        #expect(!r.stderr.contains("left as it is"), "\(r.stderr)")
        guard fileFormat == "wav" else { return }
        let chunks = try RIFFChunks(path: take)
        #expect(chunks.damage == nil)
        #expect(chunks.cuePoints > 0)
        #expect(chunks.offset(of: "iXML") != nil)
    }

    @Test(
        "a full disk with no room for the take's cue markers: the take is left whole without them and says so; review --cues adds them once there is room"
    )
    func fullDiskNoRoomForCues() throws {
        // Both channels clip every 200 frames and every over is an event of its own
        // (--clip-hold 0): over a thousand markers, more than the room the log's reserve
        // frees when it closes.
        var m = Material(frames: 6 * 48000, channels: 2)
        for frame in stride(from: 100, to: m.frames - 3, by: 200) {
            m.clip(channel: 0, frame: frame, length: 3)
            m.clip(channel: 1, frame: frame + 50, length: 3, negative: true)
        }
        let (r, out, small) = try recordOnFullDisk(m, size: "1m", ["--clip-hold", "0"])
        #expect(r.status == 74, "\(r.stderr)")
        #expect(r.stderr.contains("DISK:"), "\(r.stderr)")
        let take = try #require(files(in: out, ending: ".wav").first)
        #expect(
            r.stderr.contains(
                "\(take.replacingOccurrences(of: out, with: small)): cannot add its cue markers: No space left on device; the take is whole without them"
            ),
            "\(r.stderr)"
        )
        // The part of the cue chunk that fit was taken out again: the take's chunks end where
        // the file does (a chunk cut short at its end made ffprobe refuse the whole take).
        let chunks = try RIFFChunks(path: take)
        #expect(chunks.damage == nil, "\(String(describing: chunks.damage))")
        #expect(chunks.cuePoints == 0)
        let probe = try run(
            "/usr/bin/ffprobe",
            ["-v", "error", "-show_entries", "stream=channels", "-of", "csv=p=0", take]
        )
        #expect(
            probe.status == 0 && probe.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "2",
            "\(probe.stderr)"
        )
        // The log's last room went to its end, not to clip lines: the disk line and the
        // summary are there (it used to stop mid-line), and the events left out are said.
        let lines = logLines(take.replacingOccurrences(of: ".wav", with: ".clips.jsonl"))
        #expect(lines.contains { $0["type"] as? String == "disk" })
        let summary = try #require(lines.last, "an empty log")
        #expect(summary["type"] as? String == "summary")
        let counted = (summary["channels"] as? [[String: Any]] ?? []).reduce(0) {
            $0 + ($1["clip_events"] as? Int ?? 0)
        }
        let logged = lines.filter { $0["type"] as? String == "clip" }.count
        #expect(counted > 1000 && logged < counted, "\(logged) of \(counted)")
        #expect(
            r.stderr.contains("\(counted - logged) clip, flat and hot events not written, the disk being full"),
            "\(r.stderr)"
        )
        // With room again (the take copied off the full disk), review writes them all: the
        // events the log lacks come from the take's audio.
        let cues = try headroom("review", "--cues", take)
        #expect(cues.status == 0, "\(cues.stderr)")
        #expect(
            cues.stderr.contains("its log has \(logged) of the \(counted) clip, flat and hot events"),
            "\(cues.stderr)"
        )
        let written = try RIFFChunks(path: take)
        #expect(written.damage == nil)
        // One marker per over the take holds (the summary also counts the few the analyzer
        // saw past the take's last frame, in periods the disk had no room for) and one for
        // the disk's end.
        let held = try #require(readAudio(take)).samples.count / 2
        let overs = m.clipRuns.filter { $0.frame + $0.length <= held }.count
        #expect(overs > logged && overs <= counted)
        #expect(written.cuePoints == overs + 1, "\(cues.stdout)\(cues.stderr)")
    }

    @Test(
        "a folder a day: --name with a / makes the folder inside --dir; review finds its takes; --dir with % codes is refused"
    )
    func folderADay() throws {
        let m = Material(frames: 48000 * 3, channels: 2)
        let rig = FileRig(bytes: m.bytes("S24_3LE"))
        let out = rig.directory + "/takes"
        let record = ["record", "--device", "testcap", "--dir", out, "--name", "%Y-%m-%d/take-%n"]
        let r = try run(
            headroomBinary,
            record + ["--duration", "2.5", "--max-take-seconds", "1"],
            environment: rig.environment
        )
        #expect(r.status == 0, "\(r.stderr)")
        let days = try FileManager.default.contentsOfDirectory(atPath: out)
        #expect(days.count == 1, "\(days)")
        let day = try #require(days.first)
        // The folder is the day the take's log says it began.
        let started = try #require(logLines("\(out)/\(day)/take-001.clips.jsonl").first?["started"] as? String)
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let local = DateFormatter()
        local.dateFormat = "yyyy-MM-dd"
        #expect(try local.string(from: #require(iso.date(from: started))) == day)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: "\(out)/\(day)").sorted() == [
                "take-001.clips.jsonl", "take-001.wav", "take-002.clips.jsonl", "take-002.wav",
                "take-003.clips.jsonl", "take-003.wav",
            ]
        )
        #expect(r.stderr.contains("headroom: take \(out)/\(day)/take-003.wav"))
        let review = try headroom("review", "--json", out)
        #expect(review.status == 0, "\(review.stderr)")
        #expect(review.stdout.split(separator: "\n").count == 3)

        // Names that would leave --dir, make hidden or empty names, or codes in a --dir not made yet.
        let dated = rig.directory + "/new/%Y-%m-%d"
        for (dir, name, said) in [
            (out, "%Y/../../x", "would write outside --dir"),
            (out, "/%Y/take", "would write outside --dir"),
            (out, "%Y//take", "has an empty name between two slashes"),
            (out, "%Y/", "has an empty name after its last /"),
            (out, ".%Y/take", "would make hidden folders"),
            (
                dated, "take-%H%M",
                "is one folder, taken as written (it would be made with the % codes in its name); for dated folders, put the codes in --name: --dir '\(rig.directory)/new' --name \"%Y-%m-%d/take-%H%M\""
            ),
        ] {
            let refused = try headroom(
                "record",
                "--device",
                "testcap",
                "--dir",
                dir,
                "--name",
                name,
                environment: rig.environment
            )
            #expect(refused.status == 64, "\(name): \(refused.stderr)")
            #expect(refused.stderr.contains(said), "\(refused.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: rig.directory + "/new"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: out) == [day])
    }

    @Test("rates, levels and holds typed with their units (44.1k, -8dB, 50ms) are read as meant; text is refused")
    func valuesWithUnits() throws {
        let rig = FileRig(bytes: Material(frames: 4410, channels: 2).bytes("S24_3LE"))
        let (r, log) = try rig.recordLog(
            into: "takes",
            "--rate",
            "44.1k",
            "--duration",
            "0.1",
            "--target-peak",
            "-8dB",
            "--margin",
            "4 dB",
            "--signal-floor",
            "-60dBFS",
            "--clip-hold",
            "50ms"
        )
        #expect(!r.stderr.contains("runs at"), "\(r.stderr)")
        let header = try #require(log.first)
        #expect(header["rate"] as? Int == 44100)
        let settings = try #require(header["settings"] as? [String: Any])
        #expect(settings["target_peak"] as? Double == -8)
        #expect(settings["margin"] as? Double == 4)
        #expect(settings["signal_floor"] as? Double == -60)
        #expect(settings["clip_hold"] as? Double == 0.05)
        for (option, value, said) in [
            (
                "--rate", "fast",
                "headroom: the value 'fast' is invalid for '--rate <hz>': give Hz (48000) or kHz (48k, 44.1k)"
            ),
            (
                "--margin", "lots",
                "headroom: the value 'lots' is invalid for '--margin <dB>': give a number of dB (-6, -6dB, -6 dB)"
            ),
            (
                "--clip-hold", "a bit",
                "headroom: the value 'a bit' is invalid for '--clip-hold <seconds>': give seconds (0.1) or milliseconds (100ms)"
            ),
        ] {
            let refused = try headroom("record", "--device", "testcap", option, value, environment: rig.environment)
            #expect(refused.status == 64)
            #expect(refused.stderr.hasPrefix(said), "\(refused.stderr)")
        }
    }

    @Test("bad input: one clear line and SPEC's exit code")
    func badInput() throws {
        let rig = FileRig(bytes: Material(frames: 4800, channels: 2).bytes("S24_3LE"))
        let unknown = try headroom(
            "record",
            "--device",
            "hw:CARD=Nope",
            "--duration",
            "1",
            "--dir",
            rig.directory,
            environment: rig.environment
        )
        #expect(unknown.status == 69)
        #expect(unknown.stderr.hasPrefix("headroom: cannot open capture device hw:CARD=Nope:"))
        #expect(unknown.stderr.split(separator: "\n").count == 1)
        // What the error means, where ALSA's text alone does not say: a name ALSA has no PCM
        // for, and a sound server's PCM with no server behind it (an empty runtime folder).
        let typo = try headroom(
            "record",
            "--device",
            "headroom_no_such_pcm",
            "--duration",
            "1",
            "--dir",
            rig.directory,
            environment: rig.environment
        )
        #expect(typo.status == 69)
        #expect(
            typo.stderr
                == "headroom: cannot open capture device headroom_no_such_pcm: No such file or directory (no card or PCM by that name, or a plugin it needs is missing); `headroom devices` lists what is there\n"
        )
        let runtime = rig.directory + "/runtime"
        try FileManager.default.createDirectory(atPath: runtime, withIntermediateDirectories: true)
        var noServer = rig.environment
        noServer["XDG_RUNTIME_DIR"] = runtime
        noServer["PIPEWIRE_RUNTIME_DIR"] = runtime
        let server = try headroom(
            "record",
            "--device",
            "pipewire",
            "--duration",
            "1",
            "--dir",
            rig.directory,
            environment: noServer
        )
        #expect(server.status == 69)
        #expect(
            server.stderr.hasPrefix("headroom: cannot open capture device pipewire: ")
                && server.stderr.contains(
                    "(the sound server this PCM goes through is not running for this user; a desktop's runs in its own user's session, out of reach of sudo and other users)"
                ),
            "\(server.stderr)"
        )
        // A --dir that cannot be made: the system's reason, as `mkdir -p` gives it, and which
        // folder where it is not the last.
        func recordInto(_ dir: String, _ extra: String...) throws -> RunResult {
            try run(
                headroomBinary,
                ["record", "--device", "testcap", "--duration", "1", "--dir", dir] + extra,
                environment: rig.environment
            )
        }
        let dir = try recordInto("/proc/headroom-takes")
        #expect(dir.status == 73)
        #expect(dir.stderr == "headroom: cannot create --dir /proc/headroom-takes: No such file or directory\n")
        let file = rig.directory + "/a-file"
        #expect(FileManager.default.createFile(atPath: file, contents: Data()))
        let under = try recordInto(file + "/takes/new")
        #expect(under.status == 73)
        #expect(under.stderr == "headroom: cannot create --dir \(file)/takes/new: \(file)/takes: Not a directory\n")
        let empty = try recordInto("")
        #expect(empty.status == 64)
        #expect(
            empty.stderr == "headroom: --dir is empty: name a folder (. for this one); see 'headroom record --help'\n"
        )
        let escape = try headroom(
            "record",
            "--device",
            "testcap",
            "--dir",
            rig.directory,
            "--name",
            "../%Y/take",
            environment: rig.environment
        )
        #expect(escape.status == 64)
        #expect(escape.stderr.contains("would write outside --dir"))
        // A container asked for in the name is not a name part: song.flac.wav is never made.
        for (name, format, said) in [
            (
                "song.flac", "wav",
                "headroom: --name \"song.flac\" ends in .flac, but takes are wav (--file-format); for flac takes add --file-format flac, or leave .flac out; see 'headroom record --help'\n"
            ),
            (
                "%n.MP3", "flac",
                "headroom: --name \"%n.MP3\" ends in .mp3, but takes are flac (--file-format); headroom writes wav, rf64, w64, flac or caf: leave .mp3 out; see 'headroom record --help'\n"
            ),
        ] {
            let r = try recordInto(rig.directory, "--name", name, "--file-format", format)
            #expect(r.status == 64)
            #expect(r.stderr == said)
        }
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: rig.directory).allSatisfy {
                !$0.hasPrefix("song") && !$0.hasSuffix(".MP3.flac")
            }
        )
        let format = try headroom("record", "--device", "testcap", "--format", "S20_LE", environment: rig.environment)
        #expect(format.status == 64)
        #expect(format.stderr.contains("headroom: the value 'S20_LE' is invalid for '--format <format>'"))
        let flac = try headroom(
            "record",
            "--device",
            "testcap",
            "--format",
            "S32_LE",
            "--file-format",
            "flac",
            environment: rig.environment
        )
        #expect(flac.status == 64)
        #expect(flac.stderr.contains("flac stores at most 24 bits"))
        // FLAC's eight channels, before any device is opened (this one does not exist).
        let flacChannels = try headroom(
            "record",
            "--device",
            "hw:CARD=Nope",
            "--channels",
            "10",
            "--file-format",
            "flac",
            "--dir",
            rig.directory,
            environment: rig.environment
        )
        #expect(flacChannels.status == 64)
        #expect(
            flacChannels.stderr.hasPrefix(
                "headroom: --file-format flac holds at most 8 channels, not 10; use --file-format wav (or rf64, w64, caf)"
            ),
            "\(flacChannels.stderr)"
        )
        #expect(try headroom("record", "--channels", "0").status == 64)
        let tooMany = try headroom("record", "--channels", "257")
        #expect(tooMany.status == 64)
        #expect(tooMany.stderr.hasPrefix("headroom: --channels must be between 1 and 256; got 257"))
        let reference = try headroom(
            "record",
            "--device",
            "testcap",
            "--reference",
            rig.directory + "/in.raw",
            environment: rig.environment
        )
        #expect(reference.status == 66)
        #expect(reference.stderr.contains("not a calibration file"))
        // A calibration file not made yet, or a folder, is not one that is wrong inside.
        for (path, line) in [
            ("levels.json", "levels.json: no such file (--reference names a calibrate --save file)"),
            (rig.directory, "\(rig.directory): a folder, not a calibration file (--reference)"),
        ] {
            let r = try recordInto(rig.directory, "--reference", path)
            #expect(r.status == 66)
            #expect(r.stderr == "headroom: \(line)\n")
        }
    }
}

/// A take's `frames` x `channels` samples as libsndfile reads them as ints (every PCM width
/// left-justified in 32 bits); fewer when the take is shorter.
private func readInts(_ take: String, frames: Int, channels: Int) throws -> [Int32] {
    var info = SF_INFO()
    let file = try #require(sf_open(take, Int32(SFM_READ), &info))
    defer { sf_close(file) }
    #expect(info.frames == frames)
    #expect(Int(info.channels) == channels)
    var samples = [Int32](repeating: 0, count: frames * channels)
    let n = samples.withUnsafeMutableBufferPointer { sf_readf_int(file, $0.baseAddress!, sf_count_t(frames)) }
    return Array(samples.prefix(Int(n) * channels))
}
