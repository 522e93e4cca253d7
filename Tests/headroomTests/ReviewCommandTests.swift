import CSndFile
import Foundation
import HeadroomCore
import Testing

@Suite("headroom review", .serialized)
struct ReviewCommandTests {
    @Test("a take's start in the table and the report is local time, as the take's name has it, not the log's UTC")
    func localStart() throws {
        let dir = scratchDirectory()
        let berlin = ["TZ": "Europe/Berlin"]
        let rig = FileRig(bytes: Material(frames: 4800, channels: 2).bytes("S24_3LE"))
        let record = ["record", "--device", "testcap", "--duration", "0.1", "--dir", dir + "/takes"]
        let r = try run(headroomBinary, record, environment: rig.environment.merging(berlin) { $1 })
        #expect(r.status == 0, "\(r.stderr)")
        let take = try #require(files(in: dir + "/takes", ending: ".wav").first)
        let started = try #require(logLines(TakeLog.path(take)).first?["started"] as? String)
        #expect(started.hasSuffix("Z"))  // the log keeps SPEC's UTC
        // What Foundation makes of the log's time in Berlin.
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let date = try #require(iso.date(from: started))
        let local = DateFormatter()
        local.locale = Locale(identifier: "en_US_POSIX")
        local.timeZone = TimeZone(identifier: "Europe/Berlin")
        local.dateFormat = "yyyy-MM-dd HH:mm:ss"
        let expected = local.string(from: date)
        let table = try headroom("review", dir + "/takes", environment: berlin)
        #expect(table.stdout.contains("  \(expected)  "), "\(table.stdout)")
        _ = try headroom("review", "--html", dir + "/report.html", dir + "/takes", environment: berlin)
        let page = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        // With the zone as tzdata abbreviates it: CET, or CEST in summer.
        #expect(page.contains("started \(expected) CE"), "\(expected)")
    }

    /// A folder of takes made by headroom record: two through the file plugin (one clipped,
    /// one clean), one killed with SIGKILL on the JACK rig (its log cut off), and a copy of
    /// the clipped take without its log.
    static func session() throws -> String {
        let dir = scratchDirectory()
        let takes = dir + "/takes"
        var clipped = Material(frames: 48000 * 2, channels: 2)
        clipped.clip(channel: 1, frame: 20000, length: 4)
        clipped.clip(channel: 1, frame: 70000, length: 3)
        for (name, m) in [("a-clipped", clipped), ("b-clean", Material(frames: 48000, channels: 2, seed: 5))] {
            let rig = FileRig(bytes: m.bytes("S24_3LE"))
            let r = try headroom(
                "record",
                "--device",
                "testcap",
                "--duration",
                String(Double(m.frames) / 48000),
                "--dir",
                takes,
                "--name",
                name,
                "--names",
                "Vox,Gtr",
                environment: rig.environment
            )
            guard r.status == 0 else { throw RigError(r.stderr) }
        }
        let input = dir + "/in.wav"
        _ = writeNoiseWav(input, seconds: 2, clipEvery: 24000)
        let rig = try JackRig(name: "review", wav: input)
        defer { rig.stop() }
        let rec = try BackgroundRecorder(
            ["record", "--device", "testlive", "--format", "FLOAT_LE", "--dir", takes, "--name", "c-killed"],
            environment: rig.environment,
            directory: dir
        )
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if let size = try? FileManager.default.attributesOfItem(atPath: takes + "/c-killed.wav")[.size] as? Int,
                size > 48000 * 8 * 2
            {
                break
            }
            usleep(50_000)
        }
        kill(rec.pid, SIGKILL)
        _ = rec.wait(seconds: 5)
        try FileManager.default.createDirectory(atPath: takes + "/nolog", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: takes + "/a-clipped.wav", toPath: takes + "/nolog/d-nolog.wav")
        return takes
    }

    @Test(
        "a take a recorder still has open is 'recording (so far)', not cut off, its unknown true peak not -inf, its labels not yet written; ended, as it ended"
    )
    func takeInProgress() throws {
        let r = try RigRecording("review-live", seconds: 3, arguments: ["--format", "FLOAT_LE", "--name", "t"])
        defer { r.stop() }
        #expect(waitForAudio(in: r.out, seconds: 0.5))
        let during = try headroom("review", r.out)
        #expect(during.status == 0, "\(during.stderr)")
        let row = try #require(during.stdout.split(separator: "\n").first { $0.hasPrefix("t.wav") })
        #expect(row.hasSuffix("recording (so far)") && !row.contains("-inf"), "\(row)")
        let json = try #require(try headroom("review", "--json", r.out).jsonLines.first)
        #expect(json["log_state"] as? String == "recording" && json["complete"] as? Bool == false, "\(json)")
        // Its labels wait for it to close (written now, the finished take's would be refused).
        let early = try headroom("review", "--labels", r.out)
        #expect(early.stderr.contains("t.wav: still being recorded; its labels are written once its take closes"))
        #expect(!FileManager.default.fileExists(atPath: r.out + "/t.labels.txt"))
        kill(r.recorder.pid, SIGINT)
        #expect(r.recorder.wait(seconds: 10) == 0, "\(r.recorder.stderr)")
        let after = try headroom("review", "--labels", r.out)
        let ended = try #require(after.stdout.split(separator: "\n").first { $0.hasPrefix("t.wav") })
        #expect(ended.hasSuffix("stopped"), "\(ended)")
        #expect(after.status == 0 && FileManager.default.fileExists(atPath: r.out + "/t.labels.txt"), "\(after.stderr)")
    }

    @Test(
        "a FLAC take whose recorder was killed has a length in its header, all but about the last second of what it holds (as a killed WAV does), in libsndfile, the table, --json and the HTML report; the clip event still open when it was killed is found in its audio"
    )
    func killedFLAC() throws {
        // Channel 1 clips every 50 ms: one clip event, open until the take ends.
        let r = try RigRecording(
            "review-flac",
            seconds: 4,
            clipEvery: 2400,
            arguments: ["--format", "S24_3LE", "--file-format", "flac", "--name", "t"]
        )
        defer { r.stop() }
        // Noise at -8 dBFS barely compresses: 6 bytes a frame stand for about 1.5 s of it.
        #expect(waitForAudio(in: r.out, seconds: 1.5, bytesPerFrame: 6, ending: ".flac"))
        kill(r.recorder.pid, SIGKILL)
        _ = r.recorder.wait(seconds: 10)
        let take = r.out + "/t.flac"
        // libsndfile reads the length its header gives (libFLAC writes one only when it
        // finishes: it used to be none, 2^63 frames to libsndfile, which soundfile cannot read).
        var info = SF_INFO()
        let file = try #require(sf_open(take, Int32(SFM_READ), &info))
        var block = [Int32](repeating: 0, count: 4096 * Int(info.channels))
        var frames = 0
        while case let n = Int(sf_readf_int(file, &block, 4096)), n > 0 { frames += n }
        sf_close(file)
        #expect(info.frames != Int64.max && frames == Int(info.frames), "\(info.frames) frames, \(frames) read")
        // ffmpeg decodes every whole frame the file holds, whatever the header says: the
        // header lags it by at most a second (its update) and a FLAC frame (4,096 frames).
        let decoded = r.dir + "/decoded.raw"
        let ffmpeg = try run("/usr/bin/ffmpeg", ["-v", "error", "-i", take, "-f", "s32le", decoded])
        let decodedFrames = ((try? FileManager.default.attributesOfItem(atPath: decoded)[.size] as? Int) ?? 0) / (4 * 2)
        #expect(
            frames >= 24000 && decodedFrames >= frames && decodedFrames - frames <= 48000 + 4096,
            "\(frames) in the header, \(decodedFrames) held; \(ffmpeg.stderr)"
        )
        let seconds = Double(frames) / 48000

        // The log, cut off, never got the clip event; the review finds it in the audio.
        #expect(!logLines(r.out + "/t.clips.jsonl").contains { $0["type"] as? String == "clip" })
        let reviewed = try headroom("review", "--json", "--fail-on-clip", r.out)
        #expect(reviewed.status == 1 && reviewed.stderr.contains("t.flac: its log stops without a summary"))
        let json = try #require(reviewed.jsonLines.first)
        #expect(json["log_state"] as? String == "cut_off", "\(json)")
        let clips = (json["channels"] as? [[String: Any]])?.map { $0["clip_events"] as? Int }
        #expect(clips == [1, 0], "\(json)")
        let (logged, held) = (try #require(json["seconds"] as? Double), try #require(json["audio_seconds"] as? Double))
        #expect(abs(logged - seconds) < 0.001 && abs(held - seconds) < 0.001, "\(json); read \(seconds) s")
        let table = try headroom("review", r.out)
        let row = try #require(table.stdout.split(separator: "\n").first { $0.hasPrefix("t.flac") })
        #expect(
            row.contains(EventText.timecode(seconds: logged)) && row.hasSuffix("cut off (log has no summary)"),
            "\(row)"
        )
        let analyzed = try headroom("analyze", take)
        #expect(analyzed.stdout.contains(String(format: "%.3f s", seconds)), "\(analyzed.stdout)")
        // The report's overview spans the take, and a true peak its cut-off log never gave is
        // unknown ("-"), not silence.
        let report = r.dir + "/report.html"
        #expect(try headroom("review", "--html", report, r.out).status == 0)
        let html = try String(contentsOfFile: report, encoding: .utf8)
        #expect(html.contains(EventText.timecode(seconds: logged)) && !html.contains(">-inf<"))
    }

    @Test(
        "review --repair finishes a take whose recorder was killed: the audio written after its header was last brought up to date is counted in, bit for bit, as libsndfile, sox and review read it, and a WAV's cue markers and bext loudness added; plain review says that audio is there; a second run changes nothing; WAV, RF64, W64 and FLAC",
        arguments: ["wav", "rf64", "w64", "flac"]
    )
    func repairKilled(fileFormat: String) throws {
        let flac = fileFormat == "flac"
        let cued = fileFormat == "wav" || fileFormat == "rf64"  // the containers that take cue markers
        // Channel 1 clips every 0.25 s: events for the cue markers.
        let r = try RigRecording(
            "review-repair-\(fileFormat)",
            seconds: 4,
            clipEvery: 12000,
            arguments: ["--format", flac ? "S24_3LE" : "FLOAT_LE", "--file-format", fileFormat, "--name", "t"]
        )
        defer { r.stop() }
        let take = r.out + "/t." + fileFormat
        #expect(waitForAudio(in: r.out, seconds: 1.5, bytesPerFrame: flac ? 5 : 8, ending: "." + fileFormat))
        // Killed once the file holds at least 0.1 s past what its header counts.
        let found = stopLeavingUncounted(r.recorder.pid, take: take, frames: 4800)
        kill(r.recorder.pid, SIGKILL)
        _ = r.recorder.wait(seconds: 10)
        let uncounted = try #require(found)
        let before = try Data(contentsOf: URL(fileURLWithPath: take))
        let total = uncounted.countedFrames + uncounted.frames
        // What the file holds, as ffmpeg decodes it (FLAC: every whole frame, whatever the
        // header says; WAV: the bytes after the data chunk's start).
        var held: [Int32] = []
        if flac {
            let decoded = r.dir + "/decoded.raw"
            _ = try run("/usr/bin/ffmpeg", ["-v", "error", "-i", take, "-f", "s32le", decoded])
            held = try Data(contentsOf: URL(fileURLWithPath: decoded)).withUnsafeBytes {
                Array($0.bindMemory(to: Int32.self))
            }
        } else {
            // W64's data chunk: "data" and the rest of its GUID, a 64-bit size, then the audio.
            let w64Data =
                Data("data".utf8) + Data([0xF3, 0xAC, 0xD3, 0x11, 0x8C, 0xD1, 0x00, 0xC0, 0x4F, 0x8E, 0xDB, 0x8A])
            let dataOffset =
                fileFormat == "w64"
                ? try #require(before.range(of: w64Data)).lowerBound + 24
                : Int(try #require(try RIFFChunks(path: take).offset(of: "data")))
            held = before[dataOffset..<min(dataOffset + total * 8, before.count)].withUnsafeBytes {
                Array($0.bindMemory(to: Int32.self))
            }
        }
        #expect(held.count == total * 2, "\(held.count / 2) frames held, \(total) found")

        // Plain review: the row is the header's length, and a note says what is past it.
        let plain = try headroom("review", r.out)
        #expect(plain.status == 0, "\(plain.stderr)")
        let note = String(
            format:
                "note: %@: %.3f s of audio its recorder wrote after it last brought the header up to date (it was killed) is in the file but not counted: libsndfile, sox and this review leave it out; `headroom review --repair` counts it in",
            take,
            Double(uncounted.frames) / 48000
        )
        #expect(plain.stderr.contains(note), "\(plain.stderr)")
        // analyze says so too, of the take it reads.
        let analyzed = try headroom("analyze", take)
        #expect(analyzed.status == 0, "\(analyzed.stderr)")
        #expect(
            analyzed.stderr.contains(note.replacingOccurrences(of: "this review", with: "this analysis")),
            "\(analyzed.stderr)"
        )
        // The report says it too, read where no terminal is (a phone).
        #expect(try headroom("review", "--html", r.dir + "/report.html", r.out).status == 0)
        let page = try String(contentsOfFile: r.dir + "/report.html", encoding: .utf8)
        #expect(page.contains("<p class=\"note\">" + note.dropFirst("note: \(take): ".count) + "</p>"), "\(page)")
        if cued || flac {
            // --cues alone leaves it as it is, and says what would.
            let cues = try headroom("review", "--cues", r.out)
            #expect(
                cues.stderr.contains(
                    flac
                        ? "(`headroom review --repair` counts its last audio in and adds them)"
                        : "(`headroom review --repair` counts that audio in and adds them)"
                ),
                "\(cues.stderr)"
            )
            #expect(try Data(contentsOf: URL(fileURLWithPath: take)) == before)
        }

        // Someone who may read the take but not write it (the recorder's service user owns it)
        // is told so, and the exit says it: not passed over in silence.
        let refused = try run(
            "/usr/bin/setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", headroomBinary, "review", "--repair", r.out]
        )
        #expect(refused.status == 74, "\(refused.stderr)")
        #expect(
            refused.stderr.contains("headroom: \(take): cannot open it to count its audio in: Permission denied"),
            "\(refused.stderr)"
        )
        #expect(try Data(contentsOf: URL(fileURLWithPath: take)) == before)

        let repaired = try headroom("review", "--repair", "--json", r.out)
        #expect(repaired.status == 0, "\(repaired.stderr)")
        let said = String(
            format:
                "headroom: %@: counted %.3f s of audio written after its header was last brought up to date; it holds %@",
            take,
            Double(uncounted.frames) / 48000,
            EventText.timecode(seconds: Double(total) / 48000)
        )
        #expect(repaired.stderr.contains(said), "\(repaired.stderr)")
        // A WAV gets its cue markers, a FLAC take its chapters and loudness in its tags; a W64
        // take, which has none, no complaint about them.
        #expect(repaired.stderr.contains("headroom: \(take): wrote ") == (cued || flac), "\(repaired.stderr)")
        #expect(!repaired.stderr.contains("not counted") && !repaired.stderr.contains("skipped"), "\(repaired.stderr)")
        let row = try #require(repaired.jsonLines.first)
        #expect(row["log_state"] as? String == "cut_off", "\(row)")
        let seconds = try #require(row["audio_seconds"] as? Double)  // to the millisecond
        #expect(abs(seconds - Double(total) / 48000) < 0.0005, "\(row)")

        // libsndfile reads every frame, each what the recorder wrote.
        var info = SF_INFO()
        let file = try #require(sf_open(take, Int32(SFM_READ), &info))
        var samples = [Int32](repeating: 0, count: total * 2)
        let read =
            flac
            ? Int(sf_readf_int(file, &samples, sf_count_t(total)))
            : Int(sf_read_raw(file, &samples, sf_count_t(total * 8))) / 8
        sf_close(file)
        #expect(Int(info.frames) == total && read == total, "\(info.frames) frames, \(read) read, \(total) written")
        #expect(samples == held, "the frames are those written")
        let sox = try run("/usr/bin/soxi", ["-s", take])
        #expect(
            sox.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == String(total),
            "\(sox.stdout)\(sox.stderr)"
        )
        if cued {
            let order = try TakeStoryTests.chunkOrder(take)
            #expect(order.contains("cue "), "\(order)")
            #expect(order.firstIndex(of: "data")! < order.firstIndex(of: "cue ")!, "\(order)")
            // bext version 2 with the loudness review measures, as a take its recorder closed.
            let bext = try #require(try TakeStoryTests.chunks(take)["bext"])
            #expect(TakeStoryTests.int16(bext, 346) == 2)
            try TakeStoryTests.expectBextLoudness(bext, of: take)
            #expect(repaired.stderr.contains("headroom: \(take): wrote its loudness into bext ("), "\(repaired.stderr)")
        }
        if flac {
            // A chapter per event of the review, as ffprobe reads them, and the loudness it
            // measured as ReplayGain tags.
            let events = try #require(repaired.jsonLines.first?["channels"] as? [[String: Any]])
                .compactMap { $0["clip_events"] as? Int }.reduce(0, +)
            let lufs = try #require((row["programme"] as? [String: Any])?["integrated_lufs"] as? Double)
            #expect(events > 0)
            let wrote = "headroom: \(take): wrote \(events) chapter markers and its loudness ("
            let said = try #require(repaired.stderr.components(separatedBy: "\n").first { $0.hasPrefix(wrote) })
            #expect(said.hasSuffix(" LUFS) into its tags"), "\(said)")
            #expect(abs((Double(said.dropFirst(wrote.count).prefix { $0 != " " }) ?? 0) - lufs) <= 0.051, "\(said)")
            let probe = try run(
                "/usr/bin/ffprobe",
                ["-v", "error", "-show_chapters", "-show_format", "-of", "json", take]
            )
            let probed = try #require(try JSONSerialization.jsonObject(with: Data(probe.stdout.utf8)) as? [String: Any])
            let titles = (probed["chapters"] as? [[String: Any]])?.compactMap {
                ($0["tags"] as? [String: String])?["title"]
            }
            #expect(
                titles?.count == events && titles?.allSatisfy { $0.hasPrefix("clip ch1 ") } == true,
                "\(probe.stdout)"
            )
            let tags = (probed["format"] as? [String: Any])?["tags"] as? [String: String] ?? [:]
            let gain = Double(tags["REPLAYGAIN_TRACK_GAIN"]?.dropLast(3) ?? "")
            #expect(abs((gain ?? 0) - (-18 - lufs)) <= 0.011, "\(tags)")
            #expect(tags["comment"]?.hasSuffix("samples since midnight") == true, "\(tags)")
        }

        #expect(!(try headroom("analyze", take).stderr.contains("not counted")))

        // Once finished, there is nothing more to count or mark.
        let after = try Data(contentsOf: URL(fileURLWithPath: take))
        let again = try headroom("review", "--repair", r.out)
        #expect(again.status == 0 && !again.stderr.contains("counted"), "\(again.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: take)) == after)
    }

    @Test(
        "a cut-off log's clip event past the end of its take's audio (a killed WAV's header lags by up to a second) is kept and counted beside the audio's own"
    )
    func cutOffEventPastTheAudio() throws {
        let dir = scratchDirectory()
        // One second of audio with one clip run in channel 2; the log, cut off, has that
        // event and one a second past the audio's end, on channel 1.
        let m = Material.stereoSecond(clips: [(1, 20000, 4)])
        writeAudio(dir + "/t.wav", samples: m.expectedInts("S24_3LE"), channels: 2)
        let header = ClipLog.Header(
            file: "t.wav",
            device: "hw:0",
            rate: 48000,
            channels: 2,
            format: "S24_3LE",
            names: ["Vox", "Gtr"],
            started: Date(),
            settings: AnalysisSettings()
        )
        // Clip lines as docs/clip-log.md gives them (channels counted from 1).
        func clip(_ channel: Int, at frame: Int) -> String {
            #"{"type":"clip","channel":\#(channel),"name":"\#(header.names[channel - 1])","start_frame":\#(frame),"#
                + #""end_frame":\#(frame + 4),"clipped_samples":4,"runs":1,"longest_run":4,"peak_dbfs":0.0,"#
                + #""true_peak_dbtp":1.5,"over_db":2.0,"over_bound":false,"time":\#(Double(frame) / 48000)}"#
        }
        // A proposal past the end is not an event to keep: the analysis makes its own.
        let gain =
            #"{"type":"gain","channel":1,"name":"Vox","proposal_db":-9.5,"reason":"clipped","frame":96004,"time":2.0}"#
        let lines = [ClipLog.headerLine(header).encoded(), clip(2, at: 20000), clip(1, at: 96000), gain]
        try (lines.joined(separator: "\n") + "\n").write(
            toFile: dir + "/t.clips.jsonl",
            atomically: true,
            encoding: .utf8
        )
        let r = try headroom("review", "--json", dir)
        #expect(r.status == 0 && r.stderr.contains("and the 1 its log has past the audio's end"), "\(r.stderr)")
        let json = try #require(r.jsonLines.first)
        let channels = try #require(json["channels"] as? [[String: Any]])
        #expect(channels.map { $0["clip_events"] as? Int } == [1, 1], "\(json)")
        #expect(channels[0]["true_peak_dbtp"] as? Double == 1.5 && channels[0]["over_db"] as? Double == 2.0)
        let events = try headroom("review", "--events", dir).stdout
        #expect(
            events.contains("frame 20000  CLIP ch2 Gtr") && events.contains("frame 96000  CLIP ch1 Vox"),
            "\(events)"
        )
        // The report marks it at the right edge of channel 1's overview (900 wide), inside the picture.
        #expect(try headroom("review", "--html", dir + "/report.html", dir).status == 0)
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        #expect(html.contains(#"<rect class="clip" data-frame="96000" x="898.0""#), "\(html)")
    }

    @Test(
        "a take whose name is not UTF-8 (Latin-1 from an old card) is named as such, not as missing, by review and analyze"
    )
    func nameNotUTF8() throws {
        let dir = scratchDirectory()
        writeTone(dir + "/ok.wav", seconds: 1)
        writeTone(dir + "/x.wav", seconds: 1)
        // "café.wav" in Latin-1: é is the one byte 0xE9.
        let latin1: [UInt8] = Array((dir + "/caf").utf8) + [0xE9] + Array(".wav".utf8) + [0]
        #expect(
            latin1.withUnsafeBufferPointer {
                rename(dir + "/x.wav", UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self))
            } == 0
        )
        let why =
            "by that name (a name that is not UTF-8 reaches headroom with \u{FFFD} in place of its bytes: rename it to UTF-8"
        let review = try headroom("review", dir)
        #expect(review.status == 66 && review.stdout.contains("ok.wav"), "\(review.stdout)")
        #expect(review.stderr.contains("caf\u{FFFD}.wav: no such file " + why), "\(review.stderr)")
        // Given on the command line, the shell passes the byte itself.
        let analyze = try run(
            "/bin/sh",
            ["-c", "exec \"$0\" analyze \"$(printf 'caf\\351.wav')\"", headroomBinary],
            cwd: dir
        )
        #expect(
            analyze.status == 66 && analyze.stderr.contains("caf\u{FFFD}.wav: no such file " + why),
            "\(analyze.stderr)"
        )
    }

    @Test(
        "a folder's walk reads files only: a named pipe called pipe.wav is passed over, a folder called sub.wav walked, a link to nothing passed over with a note"
    )
    func folderWalkFilesOnly() throws {
        let dir = scratchDirectory()
        writeTone(dir + "/take.wav", seconds: 1)
        #expect(mkfifo(dir + "/pipe.wav", 0o600) == 0)
        try FileManager.default.createDirectory(atPath: dir + "/sub.wav", withIntermediateDirectories: true)
        writeTone(dir + "/sub.wav/inner.wav", seconds: 1)
        // A link to a take that is gone (an external disk not mounted): passed over with a note.
        #expect(symlink("/media/card/take-9.wav", dir + "/linked.wav") == 0)
        // SIGKILL at 30 s: children inherit the test process's blocked SIGTERM. The old build
        // opened the pipe to analyze it, and waited for a writer for good.
        let review = try run("/usr/bin/timeout", ["-s", "KILL", "30", headroomBinary, "review", "--json", dir])
        #expect(review.status == 0, "\(review.stderr)")
        let files = review.jsonLines.compactMap { $0["file"] as? String }.sorted()
        #expect(files == [dir + "/sub.wav/inner.wav", dir + "/take.wav"], "\(files)")
        #expect(
            review.stderr
                == "headroom: note: \(dir)/linked.wav: a link to /media/card/take-9.wav, which is not there; passed over\n"
        )
    }

    @Test(
        "a damaged log's impossible lengths and frames (a summary of 1e300 s, a clip at frame 10^18) are named or shown, never a crash"
    )
    func impossibleNumbers() throws {
        let dir = scratchDirectory()
        let (take, log, _) = try recordFileTake(Material.stereoSecond(clips: [(1, 20000, 4)]), seconds: 1, dir: dir)
        let original = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        let lines = original.map { line -> String in
            var s = line
            if s.contains(#""type":"summary""#) {
                s = s.replacingOccurrences(of: #""seconds":1.0"#, with: #""seconds":1e300"#)
            }
            if s.contains(#""type":"clip""#) {
                s = s.replacingOccurrences(of: #""start_frame":20000"#, with: #""start_frame":1000000000000000000"#)
                    .replacingOccurrences(of: #""end_frame":20004"#, with: #""end_frame":1000000000000000004"#)
            }
            return s
        }
        #expect(lines.contains { $0.contains("1e300") } && lines.contains { $0.contains("1000000000000000000") })
        try (lines.joined(separator: "\n") + "\n").write(toFile: log, atomically: true, encoding: .utf8)
        let table = try headroom("review", dir)
        #expect(table.status == 0 && table.stderr.contains("summary line skipped"), "\(table.stderr)")
        let events = try headroom("review", "--events", dir)
        #expect(events.status == 0, "\(events.stderr)")
        #expect(
            events.stderr.contains(#"clip line skipped: "start_frame" must be at most 2^53, not 1000000000000000000"#),
            "\(events.stderr)"
        )
        // The largest frame a log may give has a time code.
        #expect(EventText.timecode(seconds: 9_007_199_254_740_992 / 48000) == "52124995:41:13.771")
        #expect(try headroom("review", "--html", dir + "/r.html", "--labels", dir).status == 0)

        // A header at 0 Hz, its take gone: every time in the log would divide by it.
        let alone = scratchDirectory()
        let header = try #require(lines.first).replacingOccurrences(of: #""rate":48000"#, with: #""rate":0"#)
        #expect(header.contains(#""rate":0"#))
        try ([header] + lines.dropFirst()).joined(separator: "\n").write(
            toFile: alone + "/t.clips.jsonl",
            atomically: true,
            encoding: .utf8
        )
        let report = try headroom("review", "--html", alone + "/r.html", alone)
        #expect(report.status == 66, "\(report.stderr)")
        #expect(
            report.stderr.contains(
                "t.clips.jsonl: no take header (\(alone)/t.clips.jsonl:1: take line skipped: \"rate\" must be 1 to 10000000 Hz"
            ) && report.stderr.contains("and its take \(alone)/t.wav is not there: nothing to review"),
            "\(report.stderr)"
        )

        // A setting no recorder writes (clip_run 1e300 trapped as a whole number) and a summary
        // channel of Int.min (trapped counting from 1): named, the take analyzed afresh.
        let damaged = scratchDirectory()
        try FileManager.default.copyItem(atPath: take, toPath: damaged + "/t.wav")
        let settings = try #require(original.first).replacingOccurrences(
            of: #""clip_run":3"#,
            with: #""clip_run":1e300"#
        )
        let summary = try #require(original.last { $0.contains(#""type":"summary""#) })
            .replacingOccurrences(of: #"{"channel":2,"#, with: #"{"channel":-9223372036854775808,"#)
        #expect(settings.contains("1e300") && summary.contains("-9223372036854775808"))
        for (i, line) in [settings, summary].enumerated() {
            let folder = damaged + "/\(i)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: take, toPath: folder + "/t.wav")
            let rest: [String] = i == 0 ? Array(original.dropFirst()) : Array(original.dropLast())
            let log = (i == 0 ? [line] + rest : rest + [line]).joined(separator: "\n") + "\n"
            try log.write(toFile: folder + "/t.clips.jsonl", atomically: true, encoding: .utf8)
            let r = try headroom("review", "--html", folder + "/r.html", folder)
            let why =
                i == 0
                ? #"take line skipped: settings "clip_run" must be a whole number of samples from 1 to 100000, not 1e+300"#
                : #"summary line skipped: a channel's "channel" must be 1 to 1024"#
            #expect(r.status == 0 && r.stderr.contains(why), "\(r.stderr)")
        }
    }

    @Test("a take so new that its log has no header yet, locked as a recorder locks it: recording, not analyzed afresh")
    func takeJustStarted() throws {
        let dir = scratchDirectory()
        let take = dir + "/t.wav"
        writeAudio(take, samples: [Int32](repeating: 1 << 20, count: 9600), channels: 2)
        #expect(FileManager.default.createFile(atPath: dir + "/t.clips.jsonl", contents: Data()))
        // The recorder's lock (TakeRegistry): exclusive, on a descriptor of the take's own.
        let lock = open(take, O_RDONLY)
        #expect(lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) == 0)
        defer { close(lock) }
        let r = try headroom("review", "--json", dir)
        #expect(r.status == 0, "\(r.stderr)")
        let line = try #require(r.jsonLines.first)
        #expect(line["log_state"] as? String == "recording", "\(line)")
        #expect(!r.stderr.contains("afresh"), "\(r.stderr)")
    }

    @Test("table, --events, --json and --labels agree with the logs; a cut-off log is reported as such")
    func folder() throws {
        let takes = try Self.session()
        let table = try headroom("review", takes)
        #expect(table.status == 0, "\(table.stderr)")
        let rows = table.stdout.split(separator: "\n").map(String.init)
        #expect(rows[0].hasPrefix("take") && rows[0].contains("clipped") && rows[0].contains("ended"))
        // Problems first: the clipped, the killed and the re-analyzed clipped take; then the clean one.
        #expect(rows.last?.hasPrefix("b-clean.wav") == true)
        let a = try #require(rows.first { $0.hasPrefix("a-clipped.wav") })
        #expect(a.contains("Gtr x2"))
        #expect(a.contains("00:00:02.000"))
        let c = try #require(rows.first { $0.hasPrefix("c-killed.wav") })
        #expect(c.contains("cut off (log has no summary)"))
        let d = try #require(rows.first { $0.hasPrefix("d-nolog.wav") })
        // No log: the names the take carries (its iXML).
        #expect(d.contains("no log (analyzed)") && d.contains("Gtr x2"), "\(d)")

        let problems = try headroom("review", "--only-problems", takes)
        #expect(!problems.stdout.contains("b-clean.wav"))
        // A clean take alone: none of its problems, not "no takes".
        let none = try headroom("review", "--only-problems", takes + "/b-clean.wav")
        #expect(none.status == 0 && none.stdout.hasSuffix("\n(no problems in 1 take)\n"), "\(none.stdout)")

        // SPEC's --fail-on-clip, as analyze has it: exit 1 after the same output, where a take clipped.
        let failing = try headroom("review", "--fail-on-clip", takes)
        #expect(failing.status == 1)
        #expect(failing.stdout == table.stdout)
        let clean = try headroom("review", "--fail-on-clip", takes + "/b-clean.wav")
        #expect(clean.status == 0, "\(clean.stderr)")

        let json = try headroom("review", "--json", takes)
        let reviews = json.jsonLines
        #expect(reviews.count == 4)
        #expect(reviews.allSatisfy { $0["type"] as? String == "take_review" })
        let ja = try #require(reviews.first { ($0["file"] as? String)?.hasSuffix("a-clipped.wav") == true })
        #expect(ja["log_state"] as? String == "complete")
        #expect(ja["complete"] as? Bool == true)
        let channels = try #require(ja["channels"] as? [[String: Any]])
        #expect(channels.map { $0["clip_events"] as? Int } == [0, 2])
        let jc = try #require(reviews.first { ($0["file"] as? String)?.hasSuffix("c-killed.wav") == true })
        #expect(jc["log_state"] as? String == "cut_off")
        #expect((jc["seconds"] as? Double ?? 0) > 0.9)
        let jd = try #require(reviews.first { ($0["file"] as? String)?.hasSuffix("d-nolog.wav") == true })
        #expect(jd["log_state"] as? String == "missing")
        #expect(jd["log"] is NSNull)

        let events = try headroom("review", "--events", takes + "/a-clipped.wav")
        let lines = events.stdout.split(separator: "\n").map(String.init)
        #expect(
            lines.contains { $0.hasPrefix("  00:00:00.417  frame 20000  CLIP ch2 Gtr") && $0.contains(": 4 samples") }
        )
        #expect(
            lines.contains { $0.hasPrefix("  00:00:01.458  frame 70000  CLIP ch2 Gtr") && $0.contains(": 3 samples") }
        )

        let raw = try headroom("review", "--events", "--json", takes + "/a-clipped.wav")
        #expect(raw.stdout == (try String(contentsOfFile: takes + "/a-clipped.clips.jsonl", encoding: .utf8)))

        let labels = try headroom("review", "--labels", takes + "/a-clipped.wav")
        #expect(labels.status == 0)
        let track = try String(contentsOfFile: takes + "/a-clipped.labels.txt", encoding: .utf8)
        let fields = track.split(separator: "\n").filter { $0.contains("CLIP") }.map {
            $0.split(separator: "\t").map(String.init)
        }
        #expect(fields.count == 2)
        #expect(fields[0][0] == "0.416667" && fields[0][1] == "0.416750")  // frames 20000..<20004 at 48 kHz
        #expect(fields[0][2].hasPrefix("[error] CLIP ch2 Gtr"))
    }

    @Test(
        "a newer log's unknown lines are skipped with a note; a malformed line is named by file and line; a missing path is exit 66"
    )
    func badLogs() throws {
        let dir = scratchDirectory()
        let m = Material(frames: 4800, channels: 2)
        let rig = FileRig(bytes: m.bytes("S24_3LE"))
        #expect(
            try headroom(
                "record",
                "--device",
                "testcap",
                "--duration",
                "0.1",
                "--dir",
                dir,
                "--name",
                "t",
                environment: rig.environment
            ).status == 0
        )
        var lines = try String(contentsOfFile: dir + "/t.clips.jsonl", encoding: .utf8).split(separator: "\n").map(
            String.init
        )
        lines.insert(#"{"type":"loudness_marker","frame":100,"lufs":-23.0}"#, at: 1)
        lines.insert("this is not json", at: 2)
        try (lines.joined(separator: "\n") + "\n").write(
            toFile: dir + "/t.clips.jsonl",
            atomically: true,
            encoding: .utf8
        )
        let r = try headroom("review", dir)
        #expect(r.status == 0)
        #expect(r.stderr.contains("note: \(dir)/t.clips.jsonl:3: not a clip-log line"))
        #expect(r.stderr.contains("skipped 1 line of type \"loudness_marker\""))
        #expect(r.stdout.contains("t.wav"))
        let missing = try headroom("review", dir + "/nope")
        #expect(missing.status == 66)
        #expect(missing.stderr == "headroom: \(dir)/nope: no such file or folder\n")
    }

    @Test(
        "a take renamed after recording (WAV, FLAC), or moved to another folder reviewed, keeps its log, named as a file, in its folder or by its log; a copy, and a take whose length the log does not match, do not"
    )
    func renamedTakes() throws {
        let dir = scratchDirectory()
        // A clip of two samples, an over only by --clip-run 2: the log has it, and an analysis
        // afresh (three samples by default) does not.
        let m = Material.stereoSecond(clips: [(1, 1000, 2)])
        for (name, format) in [("a", "wav"), ("b", "flac"), ("c", "wav"), ("d", "wav"), ("take-x", "wav")] {
            let r = try recordOnFileRig(
                m,
                seconds: 1,
                dir: dir,
                extra: ["--name", name, "--file-format", format, "--clip-run", "2"]
            )
            #expect(r.status == 0, "\(r.stderr)")
        }
        let longer = try recordOnFileRig(
            Material(frames: 96000, channels: 2),
            seconds: 2,
            dir: dir,
            extra: ["--name", "take-y"]
        )
        #expect(longer.status == 0, "\(longer.stderr)")
        let fm = FileManager.default
        try fm.moveItem(atPath: dir + "/a.wav", toPath: dir + "/Verse vox 3.wav")
        try fm.moveItem(atPath: dir + "/b.flac", toPath: dir + "/bass.flac")
        try fm.copyItem(atPath: dir + "/c.wav", toPath: dir + "/c copy.wav")
        // Moved to another folder of those reviewed, and renamed.
        try fm.createDirectory(atPath: dir + "/keepers", withIntermediateDirectories: false)
        try fm.moveItem(atPath: dir + "/d.wav", toPath: dir + "/keepers/d final.wav")
        // take-y's audio says it is take-x, whose take is gone: but the log's length is not
        // its length.
        try fm.removeItem(atPath: dir + "/take-x.wav")
        var y = bytes(dir + "/take-y.wav")
        let scene = try #require(y.range(of: Data("<SCENE>take-y</SCENE>".utf8)))
        y.replaceSubrange(scene, with: Data("<SCENE>take-x</SCENE>".utf8))
        try y.write(to: URL(fileURLWithPath: dir + "/z.wav"))
        try fm.removeItem(atPath: dir + "/take-y.wav")
        try fm.removeItem(atPath: dir + "/take-y.clips.jsonl")

        let r = try headroom("review", dir)
        #expect(r.status == 0, "\(r.stderr)")
        let rows = r.stdout.split(separator: "\n").map(String.init)
        func row(_ file: String) -> String? { rows.first { $0.hasPrefix(file + " ") } }
        for file in ["Verse vox 3.wav", "bass.flac", "c.wav", "d final.wav"] {
            #expect(row(file)?.hasSuffix("complete") == true && row(file)?.contains("x1") == true, "\(rows)")
        }
        #expect(row("c copy.wav")?.hasSuffix("no log (analyzed)") == true, "\(rows)")
        #expect(row("z.wav")?.hasSuffix("no log (analyzed)") == true, "\(rows)")
        #expect(row("take-x.wav")?.hasSuffix("audio missing") == true, "\(rows)")
        // No row for the renamed takes' old names.
        #expect(row("a.wav") == nil && row("b.wav") == nil && row("d.wav") == nil && rows.count == 8, "\(rows)")

        // Named as a file, or by its log: the same pair.
        for path in [dir + "/Verse vox 3.wav", dir + "/a.clips.jsonl"] {
            let json = try headroom("review", "--json", path).jsonLines
            #expect(json.count == 1)
            #expect(json.first?["file"] as? String == dir + "/Verse vox 3.wav")
            #expect(json.first?["log"] as? String == dir + "/a.clips.jsonl")
            #expect(json.first?["log_state"] as? String == "complete")
        }
        let labels = try headroom("review", "--labels", dir + "/bass.flac")
        #expect(labels.status == 0, "\(labels.stderr)")
        #expect(String(decoding: bytes(dir + "/bass.labels.txt"), as: UTF8.self).contains("CLIP ch2 R: 2 samples"))
    }

    @Test("takes of one name in two days' folders are told apart by their folder, in the table and the HTML report")
    func sameNameTwoDays() throws {
        let dir = scratchDirectory()
        let m = Material.stereoSecond(clips: [])
        for name in ["2026-12-05/take-%n", "2026-12-06/take-%n", "solo"] {
            let r = try recordOnFileRig(m, seconds: 1, dir: dir, extra: ["--name", name])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let r = try headroom("review", dir)
        #expect(r.status == 0, "\(r.stderr)")
        let names = r.stdout.split(separator: "\n").dropFirst().map { String($0.prefix { $0 != " " }) }
        #expect(names.sorted() == ["2026-12-05/take-001.wav", "2026-12-06/take-001.wav", "solo.wav"], "\(r.stdout)")
        let html = try headroom("review", "--html", dir + "/report.html", dir)
        #expect(html.status == 0, "\(html.stderr)")
        let page = String(decoding: bytes(dir + "/report.html"), as: UTF8.self)
        for name in ["2026-12-05/take-001.wav", "2026-12-06/take-001.wav", "solo.wav"] {
            #expect(page.contains("data-file=\"\(name)\""), "\(name)")
        }
        #expect(
            TakeReview.shownNames(["a/x.wav", "b/x.wav", "y.wav", "c/d/z.wav", "e/d/z.wav"]) == [
                "a/x.wav", "b/x.wav", "y.wav", "c/d/z.wav", "e/d/z.wav",
            ]
        )
        #expect(TakeReview.shownNames(["t/a/x.wav", "t/b/y.wav"]) == ["x.wav", "y.wav"])
    }

    @Test(
        "a folder's takes come in recording order: t-999 before t-1000 (past 999 takes of %n), a take before the one that follows on from it after a reconnect"
    )
    func recordingOrder() throws {
        let dir = scratchDirectory()
        let m = Material.stereoSecond(clips: [])
        for name in ["t-1000-2", "t-999", "t-1000", "t-998"] {
            let r = try recordOnFileRig(m, seconds: 1, dir: dir, extra: ["--name", name])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let r = try headroom("review", "--json", dir)
        #expect(r.status == 0, "\(r.stderr)")
        let order = r.jsonLines.compactMap { ($0["file"] as? String).map { ($0 as NSString).lastPathComponent } }
        #expect(order == ["t-998.wav", "t-999.wav", "t-1000.wav", "t-1000-2.wav"], "\(r.stdout)")
        #expect(FilePaths.recordedBefore("2026-12-05/take-001.wav", "2026-12-06/take-001.wav"))
        #expect(!FilePaths.recordedBefore("take-20261206-162931-2.wav", "take-20261206-162931.wav"))
    }

    @Test(
        "a log whose take is gone: listed from the log as 'audio missing', with a note; in --json too; a take named in capitals is there"
    )
    func audioMissing() throws {
        let dir = scratchDirectory()
        let m = Material.stereoSecond(clips: [(1, 1000, 4)])
        for name in ["a-here", "b-gone"] {
            let (_, _, r) = try recordFileTake(m, seconds: 1, dir: dir, extra: ["--name", name])
            #expect(r.status == 0, "\(r.stderr)")
        }
        try FileManager.default.removeItem(atPath: dir + "/b-gone.wav")
        let r = try headroom("review", dir)
        #expect(r.status == 0)
        let rows = r.stdout.split(separator: "\n").map(String.init)
        // Both have something to look at (a clip each, one of them without its audio), so
        // they keep their names' order.
        let gone = rows.first { $0.hasPrefix("b-gone.wav") }
        #expect(rows.count == 3 && rows[1].hasPrefix("a-here.wav") && rows[2].hasPrefix("b-gone.wav"), "\(rows)")
        #expect(gone?.hasSuffix("audio missing") == true)
        // Its clip, from the log.
        #expect(gone?.contains(" x1") == true, "\(rows)")
        #expect(r.stderr.contains("note: \(dir)/b-gone.wav: no such file (moved or deleted?); shown from its log"))
        let json = try headroom("review", "--json", dir)
        let files = json.jsonLines.compactMap { $0["file"] as? String }
        #expect(files.sorted() == ["\(dir)/a-here.wav", "\(dir)/b-gone.wav"])
        let named = try headroom("review", dir + "/b-gone.clips.jsonl")
        #expect(named.stdout.contains("audio missing"))
        // A take whose extension is in capitals is there, not missing, named or in its folder.
        try FileManager.default.moveItem(atPath: dir + "/a-here.wav", toPath: dir + "/a-here.WAV")
        let upper = try headroom("review", dir)
        #expect(upper.stdout.split(separator: "\n").filter { $0.hasPrefix("a-here.") }.count == 1, "\(upper.stdout)")
        #expect(!upper.stdout.contains("a-here.wav"))
        let upperNamed = try headroom("review", dir + "/a-here.clips.jsonl")
        #expect(upperNamed.stdout.contains("a-here.WAV") && !upperNamed.stdout.contains("audio missing"))
    }

    @Test(
        "a copy cut short, or one libsndfile cannot open: review says so from its log, with a note; --cues leaves it be"
    )
    func damagedCopies() throws {
        let dir = scratchDirectory()
        let m = Material.stereoSecond(clips: [(1, 40000, 4)])
        var takes: [String: String] = [:]
        for (name, format) in [
            ("a-whole", "wav"), ("b-cut", "wav"), ("c-cut", "w64"), ("d-broken", "caf"), ("e-cut", "flac"),
        ] {
            let (_, _, r) = try recordFileTake(
                m,
                seconds: 1,
                dir: dir,
                extra: ["--name", name, "--file-format", format]
            )
            #expect(r.status == 0, "\(r.stderr)")
            takes[name] = "\(dir)/\(name).\(format)"
        }
        // Copies that stopped a quarter of the way: about 0.25 s of audio survives in each, not the clip.
        // (A FLAC take's audio starts after the room its tags keep: a quarter of its frames.)
        for name in ["b-cut", "c-cut", "d-broken", "e-cut"] {
            let path = takes[name]!
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let audio = name == "e-cut" ? try TakeStoryTests.flacBlocks(path).reduce(4) { $0 + 4 + $1.size } : 0
            try data.prefix(audio + (data.count - audio) / 4).write(to: URL(fileURLWithPath: path))
        }
        let r = try headroom("review", dir)
        #expect(r.status == 0, "\(r.stderr)")
        let rows = r.stdout.split(separator: "\n").map(String.init)
        func row(_ name: String) -> String? { rows.first { $0.hasPrefix(name + ".") } }
        #expect(row("a-whole")?.hasSuffix("complete") == true, "\(rows)")
        #expect(row("b-cut")?.hasSuffix("audio cut short") == true, "\(rows)")
        #expect(row("c-cut")?.hasSuffix("audio cut short") == true, "\(rows)")
        #expect(row("d-broken")?.hasSuffix("audio unreadable") == true, "\(rows)")
        // A FLAC file's header says how long it was meant to be: the last frame it can reach counts.
        #expect(row("e-cut")?.hasSuffix("audio cut short") == true, "\(rows)")
        // The log still speaks for the take: its duration and its clip.
        #expect(row("b-cut")?.contains("00:00:01.000") == true && row("b-cut")?.contains(" x1") == true)
        let cutNote = try #require(r.stderr.split(separator: "\n").first { $0.contains("b-cut.wav: holds ") })
        let held = cutNote.split(separator: " ")[4]  // "note: PATH: holds 00:00:00.2xx of ..."
        #expect(held.hasPrefix("00:00:00.2"), "\(cutNote)")
        #expect(
            cutNote.hasSuffix(
                "of the 00:00:01.000 its log records (a copy cut short?); the log's events after \(held) are not in the audio"
            ),
            "\(cutNote)"
        )
        #expect(r.stderr.contains("note: \(takes["d-broken"]!): libsndfile cannot read it ("))
        // In --json, the seconds of audio there are beside the seconds the log records.
        let json = try headroom("review", "--json", dir)
        let lines = Dictionary(
            uniqueKeysWithValues: json.jsonLines.map { (($0["file"] as? String) ?? "", $0) }
        )
        #expect(lines[takes["a-whole"]!]?["audio_seconds"] as? Double == 1.0)
        let heldSeconds = try #require(lines[takes["b-cut"]!]?["audio_seconds"] as? Double)
        #expect(heldSeconds > 0.2 && heldSeconds < 0.3, "\(heldSeconds)")
        #expect(lines[takes["b-cut"]!]?["seconds"] as? Double == 1.0)
        #expect(lines[takes["d-broken"]!]?["audio_seconds"] is NSNull)
        let flac = try #require(lines[takes["e-cut"]!]?["audio_seconds"] as? Double)
        #expect(flac > 0.1 && flac < 0.4, "\(flac)")
        // --cues leaves a copy cut short as it is: a chunk appended after its data would be read
        // as audio (its data chunk still claims the bytes that follow), and no editor would see it.
        // So too a take whose recorder was killed: audio past what its header last counted.
        let killed = dir + "/f-killed.wav"
        // (Its chunks up to the audio, as the header last had them: no cues, no iXML yet.)
        let whole = [UInt8](try Data(contentsOf: URL(fileURLWithPath: takes["a-whole"]!)))
        let data = try #require((0..<4096).first { Array(whole[$0..<$0 + 4]) == Array("data".utf8) })
        let audioEnd = data + 8 + (0..<4).reduce(0) { $0 | Int(whole[data + 4 + $1]) << (8 * $1) }
        let tail = Data((0..<6000).map { UInt8(0x80 | ($0 & 0x7F)) })
        try (Data(whole[..<audioEnd]) + tail).write(to: URL(fileURLWithPath: killed))
        try FileManager.default.copyItem(atPath: dir + "/a-whole.clips.jsonl", toPath: dir + "/f-killed.clips.jsonl")
        let cut = try Data(contentsOf: URL(fileURLWithPath: takes["b-cut"]!))
        let cues = try headroom("review", "--cues", dir)
        #expect(cues.status == 0, "\(cues.stderr)")
        #expect(
            cues.stderr.contains(
                "headroom: \(takes["b-cut"]!): its data chunk runs past the end of the file (a copy cut short?); no cue markers added, the file left as it is"
            ),
            "\(cues.stderr)"
        )
        #expect(try Data(contentsOf: URL(fileURLWithPath: takes["b-cut"]!)) == cut)
        #expect(
            cues.stderr.contains(
                "headroom: \(killed): bytes past its last chunk that are not a chunk (audio written after its header was last brought up to date, by a recorder that was killed?); no cue markers added, the file left as it is"
            ),
            "\(cues.stderr)"
        )
        #expect(try Data(contentsOf: URL(fileURLWithPath: killed)).count == audioEnd + 6000)
    }

    @Test(
        "a take without a log starts when its bext says (a field recorder's WAV, written here by ffmpeg; a headroom take whose log is gone), on the recorder's clock; none without a bext"
    )
    func startedFromBext() throws {
        let dir = scratchDirectory()
        let plain = dir + "/plain.wav"
        writeTone(plain, seconds: 1)
        // EBU Tech 3285 lets the separators vary: "2026:11:20" and "14.05.33" are the same time.
        // A date that is no date is none.
        let cases: [(String, String, String, String?)] = [
            ("zoom", "2026-11-20", "14:05:33", "2026-11-20T14:05:33"),
            ("colons", "2026:11:20", "14.05.33", "2026-11-20T14:05:33"),
            ("blank", "", "", nil),
            ("nonsense", "2026-13-40", "25:61:00", nil),
        ]
        for (name, date, time, _) in cases {
            let r = try run(
                "/usr/bin/ffmpeg",
                [
                    "-loglevel", "error", "-i", plain, "-c:a", "copy", "-write_bext", "1", "-metadata",
                    "originator=ZOOM F8n", "-metadata", "origination_date=\(date)", "-metadata",
                    "origination_time=\(time)", dir + "/\(name).wav",
                ]
            )
            #expect(r.status == 0, "\(r.stderr)")
        }
        let review = try headroom("review", "--json", dir)
        #expect(review.status == 0, "\(review.stderr)")
        var started: [String: Any] = [:]
        for line in review.jsonLines {
            let file = ((line["file"] as? String ?? "") as NSString).lastPathComponent
            started[file] = line["started"]
        }
        for (name, _, _, expected) in cases {
            #expect(started["\(name).wav"] as? String == expected, "\(name): \(started)")
            if expected == nil { #expect(started["\(name).wav"] is NSNull, "\(name): \(started)") }
        }
        #expect(started["plain.wav"] is NSNull, "\(started)")
        let table = try headroom("review", dir + "/zoom.wav")
        #expect(table.stdout.contains("  2026-11-20 14:05:33  "), "\(table.stdout)")
        // A headroom take whose log is gone: its own bext, the local time its recorder began.
        let (take, log, recorded) = try recordFileTake(
            Material.stereoSecond(clips: []),
            seconds: 1,
            dir: dir + "/takes"
        )
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let logged = try #require(try headroom("review", "--json", take).jsonLines.first?["started"] as? String)
        try FileManager.default.removeItem(atPath: log)
        let alone = try #require(try headroom("review", "--json", take).jsonLines.first?["started"] as? String)
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let utc = try #require(iso.date(from: logged))
        let local = DateFormatter()
        local.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        local.timeZone = .current
        #expect(alone == local.string(from: utc), "the log's \(logged), the bext's \(alone)")
    }

    @Test("a log that went through Windows (its lines end in CRLF) reads as it was written")
    func crlfLog() throws {
        let dir = scratchDirectory()
        let (take, log, recorded) = try recordFileTake(
            Material.stereoSecond(clips: [(1, 1000, 4)]),
            seconds: 1,
            dir: dir
        )
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let before = try headroom("review", "--json", take)
        let lf = try String(contentsOfFile: log, encoding: .utf8)
        try lf.replacingOccurrences(of: "\n", with: "\r\n").write(toFile: log, atomically: true, encoding: .utf8)
        let after = try headroom("review", "--json", take)
        #expect(after.status == 0 && after.stderr.isEmpty, "\(after.stderr)")
        #expect(after.jsonLines.first?["log_state"] as? String == "complete")
        #expect(after.stdout == before.stdout)
        // Its lines as they are, each a JSON object, ending as JSON Lines lines do.
        let events = try headroom("review", "--events", "--json", take)
        #expect(events.stdout == lf)
    }

    @Test("one long take without a log, on a terminal: where its analysis has got to, cleared before the table")
    func position() throws {
        let dir = scratchDirectory()
        let take = dir + "/field.wav"
        writeTone(take)
        // Erased before the table, which is what a pipe gets.
        let piped = try expectStatusLine("0:00 of 0:10 analyzed (0 %)", "review", take, in: dir).piped
        #expect(!piped.stdout.contains("analyzed ("))
    }

    @Test("review --json of one long take with its log, on a terminal: where the loudness pass has got to, cleared")
    func loudnessPosition() throws {
        let dir = scratchDirectory()
        let (take, _, recorded) = try recordFileTake(Material(frames: 480_000, channels: 2), seconds: 10, dir: dir)
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let (screen, piped) = try expectStatusLine(
            "0:00 of 0:10 measured for loudness (1 %)",
            "review",
            "--json",
            take,
            in: dir
        )
        #expect(!screen.contains("analyzed ("), "the log speaks for the take: \(screen)")
        #expect(!piped.stdout.contains("loudness ("))
    }
}
