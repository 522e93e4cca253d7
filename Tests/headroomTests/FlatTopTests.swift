import CSndFile
import Foundation
import HeadroomCore
import Testing

/// Flat tops below full scale and overshoot, through the real rigs: what a person sees live
/// (warning lines, the meter's FLAT latch) and afterwards (log, review, labels, cues, HTML).
@Suite("Flat tops and overshoot through the rigs")
struct FlatTopTests {
    /// Channel 1: a 220 Hz sine driven 6 dB into a hard clip at -3 dBFS (a preamp clipping
    /// before the converter). Channel 2: a clean sine peaking at -8 dBFS.
    static func flatValues(frames: Int) -> [Double] {
        let ceiling = pow(10, -3.0 / 20)
        var values = [Double](repeating: 0, count: frames * 2)
        for i in 0..<frames {
            let s = sin(2 * Double.pi * 220 * Double(i) / 48000)
            values[i * 2] = max(-ceiling, min(ceiling, 2 * ceiling * s))
            values[i * 2 + 1] = pow(10, -8.0 / 20) * sin(2 * Double.pi * 331 * Double(i) / 48000)
        }
        return values
    }

    /// `record` of `material` (S24_3LE at `rate`, for `seconds`) through the file rig, as take
    /// `t` in `takes`.
    static func record(
        _ material: Material,
        rate: Int = 48000,
        seconds: String = "3",
        names: String,
        into takes: String
    ) throws -> RunResult {
        let rig = FileRig(bytes: material.bytes("S24_3LE"))
        return try headroom(
            "record",
            "--device",
            "testcap",
            "--rate",
            "\(rate)",
            "--channels",
            "\(material.channels)",
            "--format",
            "S24_3LE",
            "--duration",
            seconds,
            "--names",
            names,
            "--dir",
            takes,
            "--name",
            "t",
            environment: rig.environment
        )
    }

    /// `material` (48 kHz) written as a 24-bit WAV in `dir` and resampled by sox to 44.1 kHz:
    /// both files, and the resampled one's 24-bit codes (what the file rig plays back).
    static func resample(
        _ material: Material,
        in dir: String
    ) throws -> (clipped: String, resampled: String, codes: Material) {
        let clipped = dir + "/clipped.wav"
        let resampled = dir + "/resampled.wav"
        writeAudio(clipped, samples: material.expectedInts("S24_3LE"), channels: material.channels)
        let sox = try run("/usr/bin/sox", ["-D", clipped, "-r", "44100", resampled])
        #expect(sox.status == 0, "\(sox.stderr)")
        let audio = try #require(readAudio(resampled))
        var codes = Material(frames: audio.samples.count / audio.channels, channels: audio.channels)
        codes.values = audio.samples.map { Double($0 >> 8) / 8_388_607 }  // the same 24-bit codes
        return (clipped, resampled, codes)
    }

    @Test(
        "through the file rig: live FLAT line, a flat event at -3 dBFS, reason flat; review, labels, cues and HTML show it"
    )
    func fileRig() throws {
        let dir = scratchDirectory()
        var m = Material(frames: 48000 * 3, channels: 2)
        m.values = Self.flatValues(frames: m.frames)
        let takes = dir + "/takes"
        let r = try Self.record(m, names: "Bass,Keys", into: takes)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("FLAT: ch1 Bass flat tops at -3.0 dBFS: clipping before the converter?"))
        #expect(!r.stderr.contains("FLAT: ch2"))
        #expect(!r.stderr.contains("PATH:"), "the file plugin changes no sample values")
        let lines = logLines(takes + "/t.clips.jsonl")
        #expect(lines.first?["path"] as? [String] == ["file", "null"])
        let flats = lines.filter { $0["type"] as? String == "flat" }
        #expect(flats.count == 1)
        let flat = try #require(flats.first)
        #expect(flat["channel"] as? Int == 1 && flat["polarity"] as? String == "both")
        #expect(abs((flat["level_dbfs"] as? Double ?? 0) + 3) < 0.1)
        #expect(abs((flat["over_db"] as? Double ?? 0) - 6) < 1.5)
        #expect(!lines.contains { $0["type"] as? String == "clip" })
        let summary = try #require(lines.last?["channels"] as? [[String: Any]])
        #expect(summary[0]["flat_events"] as? Int == 1 && summary[0]["reason"] as? String == "flat")
        #expect(summary[1]["flat_events"] as? Int == 0 && summary[1]["reason"] as? String == "ok")

        let table = try headroom("review", takes)
        #expect(table.stdout.contains("Bass x1 at -3.0 dBFS"), "\(table.stdout)")
        let labels = try headroom("review", "--labels", takes + "/t.wav")
        #expect(labels.status == 0)
        let labelText = try String(contentsOfFile: takes + "/t.labels.txt", encoding: .utf8)
        #expect(labelText.contains("[warning] FLAT ch1 Bass -3.0 dBFS"))
        // The recorder wrote the cue when the take closed; review --cues finds it there.
        let cues = try run("/usr/bin/ffprobe", ["-v", "error", "-show_chapters", "-of", "json", takes + "/t.wav"])
        #expect(cues.stdout.contains("flat ch1 Bass -3.0 dBFS"), "\(cues.stdout)")

        let page = dir + "/report.html"
        #expect(try headroom("review", "--html", page, takes).status == 0)
        let dom = try run(
            "/usr/bin/chromium",
            ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://" + page]
        )
        let marks = dom.stdout.matches(of: #/<rect class="flat" data-frame="(\d+)"/#).map { Int($0.1)! }
        #expect(marks == [flat["start_frame"] as? Int ?? -1])
        #expect(dom.stdout.contains("flat tops</span>"))
    }

    @Test("through the file rig: a clip's second live line says how far over, and the proposal that follows")
    func overshootLine() throws {
        // Channel 1: a 220 Hz sine driven 6 dB past full scale from 1.0 to 1.5 s, at -12 dBFS
        // elsewhere; channel 2 stays clean.
        var m = Material(frames: 48000 * 3, channels: 2)
        for i in 0..<m.frames {
            let s = sin(2 * Double.pi * 220 * Double(i) / 48000)
            let gain = (48000..<72000).contains(i) ? 2.0 : 0.25
            m.values[i * 2] = max(-1, min(1, gain * s))
            m.values[i * 2 + 1] = 0.25 * s
        }
        let takes = scratchDirectory() + "/takes"
        let r = try Self.record(m, names: "Vox,Gtr", into: takes)
        #expect(r.status == 0, "\(r.stderr)")
        // First the moment it qualifies, then, when the event closes, how far over and what to do.
        #expect(r.stderr.contains("CLIP: ch1 Vox at 00:00:01.0"), "\(r.stderr)")
        let line = try #require(
            r.stderr.firstMatch(
                of:
                    #/CLIP ch1 Vox \+(\d+\.\d) dB over at 00:00:01\.0\d\d: proposal (-\d+\.\d) dB \(clipped by about (\d+\.\d) dB\)/#
            ),
            "\(r.stderr)"
        )
        #expect(line.3 == line.1)
        #expect(!r.stderr.contains("ch2 Gtr"))
        let clip = try #require(logLines(takes + "/t.clips.jsonl").first { $0["type"] as? String == "clip" })
        // The first line names where the clipping began: the event's first run.
        let began = EventText.timecode(seconds: Double(clip["start_frame"] as? Int ?? -48000) / 48000)
        #expect(r.stderr.contains("CLIP: ch1 Vox at \(began)\n"), "\(r.stderr)")
        let over = try #require(clip["over_db"] as? Double)
        #expect(abs(over - 6) < 1, "\(clip)")
        #expect(String(format: "%.1f", over) == line.1)
        // SPEC: target_peak - (clip_level + over_db), rounded to 0.5 dB.
        #expect(Double(line.2) == ((-6 - over) * 2).rounded() / 2, "\(line.0)")
    }

    @Test(
        "clipped 6 dB past full scale, then resampled by sox to 44.1 kHz: flat tops at 0.0 dBFS where no clip run is left, and the proposal from how far over"
    )
    func resampledClip() throws {
        // A 220 Hz tone on channel 1 and a 997 Hz tone on channel 2, both driven 6 dB past full
        // scale at 48 kHz. Resampled, a clipped top ripples just under full scale and touches
        // it a sample at a time: the 220 Hz tone keeps no clip run at all, and its tops are
        // flat at the clip level; the 997 Hz tone keeps a few clip runs, and its flat tops,
        // away from them, say how far over the runs could not.
        let dir = scratchDirectory()
        var tones = Material(frames: 48000 * 3, channels: 2)
        tones.values = tones.values.indices.map { i in
            max(-1, min(1, 2 * sin(2 * Double.pi * [220.0, 997.0][i % 2] * Double(i / 2) / 48000)))
        }
        let (clipped, resampled, codes) = try Self.resample(tones, in: dir)

        let r = try headroom("analyze", "--json", resampled)
        let lines = r.jsonLines
        let summary = try #require(lines.last?["channels"] as? [[String: Any]])
        // Channel 1: no clip event, a flat event at full scale, proposed from its overshoot.
        #expect(!lines.contains { $0["type"] as? String == "clip" && $0["channel"] as? Int == 1 })
        let flat = try #require(lines.first { $0["type"] as? String == "flat" && $0["channel"] as? Int == 1 })
        #expect(abs(flat["level_dbfs"] as? Double ?? -9) < 0.05, "\(flat)")
        let over = try #require(flat["over_db"] as? Double)
        #expect(over >= 3 && over <= 12, "6 dB over, read as \(over)")
        #expect(summary[0]["reason"] as? String == "flat")
        #expect(summary[0]["gain_proposal_db"] as? Double == ((-6 - over) * 2).rounded() / 2)
        // Channel 2: its clip events, and no flat event beside one; the proposal from the
        // tops' estimate, which its clip runs' sides could not give.
        let clips = lines.filter { $0["type"] as? String == "clip" && $0["channel"] as? Int == 2 }
        #expect(!clips.isEmpty)
        for f in lines where f["type"] as? String == "flat" && f["channel"] as? Int == 2 {
            let (start, end) = (f["start_frame"] as? Int ?? 0, f["end_frame"] as? Int ?? 0)
            for c in clips {
                let (cs, ce) = (c["start_frame"] as? Int ?? 0, c["end_frame"] as? Int ?? 0)
                #expect(end <= cs || ce <= start, "flat \(start)..<\(end) beside clip \(cs)..<\(ce)")
            }
        }
        #expect(summary[1]["reason"] as? String == "clipped")
        #expect((summary[1]["gain_proposal_db"] as? Double ?? 0) <= -9, "\(summary[1])")

        // Not resampled: clip events on both channels, and no flat event.
        let plain = try headroom("analyze", "--json", clipped).jsonLines
        #expect(Set(plain.filter { $0["type"] as? String == "clip" }.compactMap { $0["channel"] as? Int }) == [1, 2])
        #expect(!plain.contains { $0["type"] as? String == "flat" })
        let table = try headroom("analyze", resampled)
        #expect(table.stdout.contains("flat at 0.0 dBFS"), "\(table.stdout)")

        // Recorded live from the resampled samples (S24_3LE through the file rig at 44.1 kHz):
        // the warning names the likelier cause of flat tops at full scale.
        let live = try Self.record(codes, rate: 44100, seconds: "2.5", names: "Low,High", into: dir + "/takes")
        #expect(live.status == 0, "\(live.stderr)")
        #expect(live.stderr.contains("FLAT: ch1 Low flat tops at 0.0 dBFS: clipped, then resampled?"), "\(live.stderr)")
    }

    /// A drum kit at 48 kHz, `seconds` long: a kick with a falling pitch and a snare (a tone
    /// and a noise burst, smoothed as a mic's is) in turn every half second, each hit 0 to 3 dB
    /// under the loudest, with a hat between; normalized, then driven 6 dB past full scale and
    /// clipped there.
    static func clippedDrums(seconds: Int, seed: UInt64) -> [Double] {
        let rate = 48000.0
        var x = [Double](repeating: 0, count: seconds * 48000)
        var state = seed
        func uniform() -> Double {  // -1..<1
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(Int64(bitPattern: state) >> 11) / Double(1 << 52)
        }
        func noise() -> Double { (uniform() + uniform() + uniform() + uniform()) / 2 }
        for (n, start) in stride(from: 0, to: x.count, by: 24000).enumerated() {
            let gain = 0.85 + 0.15 * uniform()
            var phase = 0.0
            var smooth = 0.0
            for i in 0..<min(19200, x.count - start) {
                let t = Double(i) / rate
                if n % 2 == 0 {
                    phase += 2 * Double.pi * (50 + 120 * exp(-t * 30)) / rate
                    x[start + i] += gain * exp(-t * 12) * sin(phase)
                } else {
                    smooth += 0.5 * (noise() - smooth)
                    x[start + i] += gain * (1.2 * exp(-t * 25) * smooth + 0.4 * exp(-t * 18) * sin(2 * .pi * 190 * t))
                }
                if i >= 12000 && i < 14400 { x[start + i] += 0.1 * exp(-Double(i - 12000) / rate * 80) * noise() }
            }
        }
        let drive = 2 / (x.map(abs).max() ?? 1)
        return x.map { max(-1, min(1, drive * $0)) }
    }

    @Test(
        "drums cut at -1 to -6 dBFS, recorded: headroom_flat_events_total is the log's flat events, and no two FLAT lines name one event"
    )
    func flatCounterIsTheLog() throws {
        // A later alarm can join flat events already opened into one (SPEC: they merge within
        // 1 s), and a counter cannot go back: it counts an event once its line is written, and
        // at once only the first still open (for the FLAT latch). It counted the events opened:
        // here 2 on three channels whose logs have 1, and gave two FLAT lines naming the same
        // start. Six kits, each clipped 6 dB over and brought down to -1, -3 and -6 dBFS (a
        // digital stage that clipped): 18 channels.
        let dir = scratchDirectory()
        let seeds = 0..<6 as Range<UInt64>
        let levels = [-1.0, -3.0, -6.0]
        var kits = Material(frames: 48000 * 10, channels: seeds.count * levels.count)
        for (k, seed) in seeds.enumerated() {
            let drums = Self.clippedDrums(seconds: 10, seed: seed)
            for (l, level) in levels.enumerated() {
                let c = k * levels.count + l
                for i in 0..<kits.frames { kits.values[i * kits.channels + c] = pow(10, level / 20) * drums[i] }
            }
        }
        let names = (1...kits.channels).map { "k\($0)" }.joined(separator: ",")
        let rig = FileRig(bytes: kits.bytes("S24_3LE"))
        let metrics = dir + "/headroom.prom"
        let r = try headroom(
            "record",
            "--device",
            "testcap",
            "--channels",
            "\(kits.channels)",
            "--format",
            "S24_3LE",
            "--duration",
            "10",
            "--names",
            names,
            "--dir",
            dir + "/takes",
            "--name",
            "t",
            "--metrics-file",
            metrics,
            environment: rig.environment
        )
        #expect(r.status == 0, "\(r.stderr)")
        let log = logLines(dir + "/takes/t.clips.jsonl")
        let summary = try #require(log.last?["channels"] as? [[String: Any]])
        let exposition = try String(contentsOfFile: metrics, encoding: .utf8)
        for c in 1...kits.channels {
            let written = log.filter { $0["type"] as? String == "flat" && $0["channel"] as? Int == c }.count
            let counted = metricValue(exposition, "headroom_flat_events_total", channel: c)
            #expect(counted == Double(written), "channel \(c): counter \(counted ?? -1), log \(written)")
            #expect(summary[c - 1]["flat_events"] as? Int == written)
            // A line for each event, and never two naming the same start: an event opened and
            // joined to an earlier one before its line was due is that one.
            let times = r.stderr.split(separator: "\n").filter { $0.hasPrefix("FLAT: ch\(c) ") }.map {
                $0.split(separator: " ").last ?? ""
            }
            #expect(times.count >= min(written, 1) && Set(times).count == times.count, "channel \(c): \(times)")
        }
    }

    @Test(
        "clipped drums: clip events and no flat event as recorded; resampled, flat tops at 0.0 dBFS away from any clip"
    )
    func resampledDrums() throws {
        // Hard-clipped drums touch full scale mostly a sample or two at a time, with a clip run
        // now and then: as recorded, the runs are clip events, and the peaks piled up at full
        // scale between them are theirs, not a flat event as well. Resampled, no run is left
        // where the hits pile up at full scale (rule B at the clip level).
        let dir = scratchDirectory()
        var kit = Material(frames: 48000 * 8, channels: 1)
        kit.values = Self.clippedDrums(seconds: 8, seed: 9)
        let (clipped, resampled, codes) = try Self.resample(kit, in: dir)

        let plain = try headroom("analyze", "--json", clipped).jsonLines
        #expect(plain.contains { $0["type"] as? String == "clip" })
        #expect(
            !plain.contains { $0["type"] as? String == "flat" },
            "\(plain.filter { $0["type"] as? String == "flat" })"
        )

        let lines = try headroom("analyze", "--json", resampled).jsonLines
        let flats = lines.filter { $0["type"] as? String == "flat" }
        #expect(!flats.isEmpty)
        for f in flats { #expect(abs(f["level_dbfs"] as? Double ?? -9) < 0.05, "\(f)") }
        for c in lines where c["type"] as? String == "clip" {
            let (cs, ce) = (c["start_frame"] as? Int ?? 0, c["end_frame"] as? Int ?? 0)
            for f in flats {
                let (start, end) = (f["start_frame"] as? Int ?? 0, f["end_frame"] as? Int ?? 0)
                #expect(end + 44100 <= cs || ce + 44100 <= start, "flat \(start)..<\(end) beside clip \(cs)..<\(ce)")
            }
        }
        let summary = try #require(lines.last?["channels"] as? [[String: Any]])
        #expect((summary[0]["flat_events"] as? Int ?? 0) == flats.count)

        // Held a second, at quarter seconds: the same events whatever the block size.
        func flatEvents(blocks: Int) throws -> [FlatEvent] {
            try FileAnalysis.run(path: resampled, settings: Settings(), blockFrames: blocks).events.compactMap {
                if case .flat(let f) = $0 { return f } else { return nil }
            }
        }
        let reference = try flatEvents(blocks: 4096)
        #expect(reference.count == flats.count)
        for blocks in [64, 1000, 8192] { #expect(try flatEvents(blocks: blocks) == reference, "blocks of \(blocks)") }

        // Recorded live from the same 24-bit codes: the warning, and the same events in the log.
        let takes = dir + "/takes"
        let live = try Self.record(codes, rate: 44100, seconds: "8", names: "Kit", into: takes)
        #expect(live.status == 0, "\(live.stderr)")
        #expect(live.stderr.contains("FLAT: ch1 Kit flat tops at 0.0 dBFS: clipped, then resampled?"), "\(live.stderr)")
        let logged = logLines(takes + "/t.clips.jsonl").filter { $0["type"] as? String == "flat" }
        #expect(logged.map { $0["start_frame"] as? Int } == flats.map { $0["start_frame"] as? Int })
        // The line names when the tops began, the event's start, not when rule B judged them
        // (a second or more later).
        let began = EventText.timecode(seconds: Double(logged.first?["start_frame"] as? Int ?? -44100) / 44100)
        #expect(live.stderr.contains("clipped, then resampled? at \(began)\n"), "\(live.stderr)")
        #expect(logged.map { $0["end_frame"] as? Int } == flats.map { $0["end_frame"] as? Int })
    }

    @Test(
        "through the JACK rig in a terminal: the FLAT latch and the live line; a clip shows how far over; the m key marks"
    )
    func jackMeter() throws {
        let dir = scratchDirectory()
        let frames = 48000 * 4
        var samples = Self.flatValues(frames: frames).map(Float.init)
        // One burst on channel 2 driven 6 dB over full scale, 3.25 s in: a clip with an
        // overshoot. The meter's message line shows the latest warning only, so the FLAT line
        // has three seconds on screen before the CLIP line takes its place (a loaded machine's
        // screen reads can be a second apart).
        for i in 156_000..<156_480 {
            samples[i * 2 + 1] = max(-1, min(1, 2 * Float(sin(2 * Double.pi * 331 * Double(i) / 48000))))
        }
        writeFloatWav(dir + "/in.wav", samples: samples, channels: 2)
        let rig = try JackRig(name: "flat", wav: dir + "/in.wav")
        defer { rig.stop() }
        let tmux = try MeterTerminalTests.Tmux(
            command: "\(headroomBinary) record --device testlive --names Bass,Keys --dir \(dir)/takes --name t",
            environment: rig.environment.merging(["NO_COLOR": "1"]) { $1 },
            name: "flat"
        )
        defer { tmux.stop() }
        // The live line comes first (the flat tops start at once; the clip 3.25 s in).
        #expect(tmux.waitFor { $0.contains("FLAT: ch1 Bass flat tops at -3.0 dBFS") } != nil)
        let screen = try #require(tmux.waitFor { $0.contains("FLAT 1") && $0.contains("CLIP 1") })
        let rows = screen.split(separator: "\n").map(String.init)
        let bass = try #require(rows.first { $0.hasPrefix("  1 Bass") })
        #expect(bass.contains("FLAT 1"))
        #expect(bass.contains("(flat at -3.0 dBFS"))
        let keys = try #require(rows.first { $0.hasPrefix("  2 Keys") })
        #expect(keys.contains("CLIP 1"))
        // Once the clip event closes, its row's proposal says how far over it went.
        let over = tmux.waitFor { screen in
            screen.split(separator: "\n").contains { $0.hasPrefix("  2 Keys") && $0.contains("(clipped by about") }
        }
        #expect(over != nil)
        // The m key: the moment is marked, the label typed while the meter runs, Enter logs it.
        tmux.keys("m")
        #expect(tmux.waitFor { $0.contains("marker label (Enter: mark, Esc: cancel):") } != nil)
        tmux.keys("chorus 2")
        #expect(tmux.waitFor { $0.contains("Esc: cancel): chorus 2") && $0.contains("REC") } != nil)
        tmux.keys("Enter")
        // The log has the marker as soon as it is logged (the message line may already show a later warning).
        let marked = eventually {
            logLines(dir + "/takes/t.clips.jsonl").contains {
                $0["type"] as? String == "marker" && $0["label"] as? String == "chorus 2"
            }
        }
        #expect(marked)
        // A label still being typed when the recording is stopped (Ctrl-C: q would be
        // typed into the label) is logged with what was typed.
        tmux.keys("m")
        tmux.keys("outro")
        #expect(tmux.waitFor { $0.contains("Esc: cancel): outro") && $0.contains("REC") } != nil)
        tmux.keys("C-c")
        let end = try #require(tmux.waitFor { $0.contains("EXIT=0") })
        #expect(!end.contains("Esc: cancel)"), "the prompt gives way to the latest line: \(end)")
        let log = logLines(dir + "/takes/t.clips.jsonl")
        #expect(log.contains { $0["type"] as? String == "marker" && $0["label"] as? String == "outro" })
        let chapters = try run(
            "/usr/bin/ffprobe",
            ["-v", "error", "-show_chapters", "-of", "json", dir + "/takes/t.wav"]
        )
        #expect(chapters.stdout.contains("marker chorus 2"))
        #expect(chapters.stdout.contains("marker outro"))
        let clip = try #require(log.first { $0["type"] as? String == "clip" })
        #expect(clip["channel"] as? Int == 2)
        #expect(abs((clip["over_db"] as? Double ?? 0) - 6) < 1.5, "\(clip)")
        #expect(log.contains { $0["type"] as? String == "flat" && $0["channel"] as? Int == 1 })
        let path = try #require(log.first?["path"] as? [String])
        #expect(path.first == "plug" && path.last == "jack", "\(path)")
    }
}
