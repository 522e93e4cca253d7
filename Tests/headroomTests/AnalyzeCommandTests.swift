import CSndFile
import Foundation
import Testing

@Suite("headroom analyze")
struct AnalyzeCommandTests {
    /// `analyze --json` output without its `started` stamps, to compare two runs.
    static func unstamped(_ text: String) -> String {
        text.replacingOccurrences(of: #""started":"[^"]*""#, with: "", options: .regularExpression)
    }

    /// Stereo, 2 s: L a -20 dBFS sine with one 5-sample clip at frame 48000; R at -8 dBFS.
    static func takeWithClip(
        in dir: String,
        name: String = "take.wav",
        format: Int32 = Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_24)
    ) -> String {
        let path = dir + "/" + name
        var s = [Int32](repeating: 0, count: 96000 * 2)
        for i in 0..<96000 {
            let phase = 2 * Double.pi * 440 * Double(i) / 48000
            s[2 * i] = Int32(0.1 * sin(phase) * 8_388_607) << 8
            s[2 * i + 1] = Int32(0.398 * sin(phase) * 8_388_607) << 8
        }
        for i in 48000..<48005 { s[2 * i] = max24 }
        writeAudio(path, samples: s, channels: 2, format: format)
        return path
    }

    @Test("the table shows each channel, the clip, and the proposals")
    func table() throws {
        let dir = scratchDirectory()
        let path = Self.takeWithClip(in: dir)
        let r = try headroom("analyze", "--names", "Vox,Gtr", path)
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines[0] == "\(path): WAV, PCM_24, 48000 Hz, 2 ch, 2.000 s")
        #expect(
            lines[1].hasPrefix(
                "ch  name  peak dBFS  true peak dBTP  RMS dBFS  headroom dB  clips  clipped  flat  hot  proposal"
            )
        )
        let vox = lines[2].split(separator: " ", omittingEmptySubsequences: true)
        #expect(vox[0] == "1" && vox[1] == "Vox")
        #expect(vox[6] == "1" && vox[7] == "5")  // 1 clip event, 5 clipped samples
        // The clipped edge overshoots to +0.96 dBTP: -6 - 0.96, rounded down to 0.5 dB.
        #expect(lines[2].contains("-7.0 dB (at least)"))
        #expect(vox[2] == "0.00")
        #expect(lines[2].hasSuffix("<< CLIPPED"))
        let gtr = lines[3].split(separator: " ", omittingEmptySubsequences: true)
        #expect(gtr[1] == "Gtr")
        #expect(gtr[2] == "-8.00")
        #expect(lines[3].hasSuffix("ok"))
        #expect(r.stderr.isEmpty, "\(r.stderr)")

        // More names than the file has channels: the rest are said to be unused, not dropped unsaid.
        let more = try headroom("analyze", "--names", "Vox,Gtr,Bass", path)
        #expect(more.stdout == r.stdout)
        #expect(
            more.stderr == "headroom: note: \(path): 3 channel names for 2 channels (Vox, Gtr); the rest are not used\n"
        )
    }

    @Test("--json writes SPEC's lines: take header, the clip event, summary")
    func json() throws {
        let dir = scratchDirectory()
        let path = Self.takeWithClip(in: dir)
        let r = try headroom("analyze", "--json", path)
        #expect(r.status == 0)
        let lines = r.jsonLines
        #expect(lines.count == r.stdout.split(separator: "\n").count)  // every line parses
        #expect(lines.first?["type"] as? String == "take")
        #expect(lines.first?["device"] is NSNull)
        #expect(lines.first?["names"] as? [String] == ["L", "R"])
        let clip = try #require(lines.first { $0["type"] as? String == "clip" })
        #expect(clip["channel"] as? Int == 1)
        #expect(clip["start_frame"] as? Int == 48000)
        #expect(clip["end_frame"] as? Int == 48005)
        #expect(clip["clipped_samples"] as? Int == 5)
        #expect(clip["time"] as? Double == 1.0)
        let summary = try #require(lines.last)
        #expect(summary["type"] as? String == "summary")
        #expect(summary["frames"] as? Int == 96000)
        #expect(summary["complete"] as? Bool == true)
        let channels = try #require(summary["channels"] as? [[String: Any]])
        #expect(channels[0]["clip_events"] as? Int == 1)
        #expect(channels[0]["gain_proposal_db"] as? Double == -7.0)
        #expect(channels[1]["clip_events"] as? Int == 0)
        #expect(channels[1]["gain_proposal_db"] as? Double == 0.0)
    }

    @Test("many files at once: -j 4 prints what -j 1 prints, in the order given, errors in place")
    func manyFiles() throws {
        let dir = scratchDirectory()
        // Longest first, so with four workers the later files finish first: output in
        // completion order would differ. One name in the middle does not exist.
        var paths: [String] = []
        for k in 0..<9 {
            let frames = 48000 * (9 - k) / 3
            var s = [Int32](repeating: 0, count: frames * 2)
            for i in 0..<frames {
                let x = sin(2 * Double.pi * Double(220 + 40 * k) * Double(i) / 48000)
                s[2 * i] = Int32((0.05 + 0.1 * Double(k)) * x * 8_388_607) << 8
                s[2 * i + 1] = Int32(0.3 * x * 8_388_607) << 8
            }
            for i in (frames / 2)..<(frames / 2 + k) { s[2 * i] = max24 }  // k-sample clips
            let path = dir + "/file\(k).wav"
            writeAudio(path, samples: s, channels: 2)
            paths.append(path)
        }
        paths.insert(dir + "/missing.wav", at: 4)
        for extra in [["--json"], []] {
            let one = try run(headroomBinary, ["analyze"] + extra + ["-j", "1"] + paths)
            let four = try run(headroomBinary, ["analyze"] + extra + ["--jobs", "4"] + paths)
            #expect(one.status == 66 && four.status == 66)
            #expect(Self.unstamped(four.stdout) == Self.unstamped(one.stdout))
            #expect(four.stderr == one.stderr)
            #expect(four.stderr.contains("missing.wav"))
            // Every file is there, in the order given.
            let order = paths.filter { !$0.hasSuffix("missing.wav") }.map { one.stdout.range(of: $0)!.lowerBound }
            #expect(order == order.sorted())
        }
        // Joined, as make and xargs take it.
        let json = try headroom("analyze", "--json", "-j3", paths[0], paths[1], paths[2])
        let takes = json.jsonLines.filter { $0["type"] as? String == "take" }.compactMap { $0["file"] as? String }
        #expect(takes == Array(paths[0...2]))
        let bad = try headroom("analyze", "-j", "0", paths[0])
        #expect(bad.status == 64 && bad.stderr.contains("--jobs must be 1 or more"))
    }

    @Test(
        "a phone call's μ-law or A-law at its codec's largest code is clipped there, not a flat top under it",
        arguments: [(Int32(SF_FORMAT_ULAW), -0.17), (Int32(SF_FORMAT_ALAW), -0.14)]
    )
    func companded(codec: Int32, ceiling: Double) throws {
        let dir = scratchDirectory()
        // A tone driven 6 dB past full scale, which the encoder holds at its largest code, and
        // one at -20 dBFS.
        func tone(_ gain: Double) -> [Int32] {
            (0..<8000).map { i in
                Int32(max(-1, min(1, gain * sin(2 * Double.pi * 440 * Double(i) / 8000))) * 2_147_483_647)
            }
        }
        let (hot, quiet) = (dir + "/call.wav", dir + "/quiet.wav")
        writeAudio(hot, samples: tone(2), channels: 1, rate: 8000, format: Int32(SF_FORMAT_WAV) | codec)
        writeAudio(quiet, samples: tone(0.1), channels: 1, rate: 8000, format: Int32(SF_FORMAT_WAV) | codec)
        let r = try headroom("analyze", "--json", hot)
        let summary = r.jsonLines.last?["channels"] as? [[String: Any]]
        #expect(summary?.first?["peak_dbfs"] as? Double == ceiling)
        #expect(summary?.first?["clip_events"] as? Int == 1)
        #expect(summary?.first?["flat_events"] as? Int == 0)
        #expect(summary?.first?["reason"] as? String == "clipped")
        let clean = try headroom("analyze", "--json", quiet).jsonLines.last?["channels"] as? [[String: Any]]
        #expect(clean?.first?["clip_events"] as? Int == 0 && clean?.first?["flat_events"] as? Int == 0)
        #expect(clean?.first?["reason"] as? String == "quiet")
    }

    @Test(
        "FLAC, W64, 16-bit and 8-bit files read the same events",
        arguments: [
            Int32(SF_FORMAT_FLAC | SF_FORMAT_PCM_24), Int32(SF_FORMAT_W64 | SF_FORMAT_PCM_24),
            Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_16), Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_U8),
            Int32(SF_FORMAT_AIFF | SF_FORMAT_PCM_S8),
        ]
    )
    func formats(format: Int32) throws {
        let dir = scratchDirectory()
        let path = Self.takeWithClip(in: dir, name: "take.audio", format: format)
        let r = try headroom("analyze", "--json", path)
        #expect(r.status == 0)
        let clip = r.jsonLines.first { $0["type"] as? String == "clip" }
        #expect(clip?["start_frame"] as? Int == 48000)
        #expect(clip?["clipped_samples"] as? Int == 5)
    }

    @Test("one file on two threads: the next block is read while this one is analyzed, and nothing moves")
    func readAhead() throws {
        // 24 channels of 32-bit PCM (clips judged on the exact codes, which the analyzer reads
        // from the block it was handed while its second thread works), 2 s: a clip run
        // across each 4096-frame block boundary, on its own channel, 3 to 8 samples long.
        let (channels, frames) = (24, 96000)
        var s = [Int32](repeating: 0, count: frames * channels)
        var seed: UInt64 = 1770
        for i in 0..<s.count {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            s[i] = Int32(truncatingIfNeeded: Int64(bitPattern: seed) >> 36)  // about -20 dBFS
        }
        var truth: [(channel: Int, start: Int, length: Int)] = []
        for k in 1...(frames / 4096) {
            let (channel, length, start) = (k % channels, 3 + k % 6, 4096 * k - 2)
            for f in start..<(start + length) { s[f * channels + channel] = k % 2 == 0 ? .max : .min }
            truth.append((channel, start, length))
        }
        let path = scratchDirectory() + "/wide.wav"
        writeAudio(path, samples: s, channels: channels, format: Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_32))
        let one = try headroom("analyze", "--json", "-j", "1", path)
        let two = try headroom("analyze", "--json", "-j", "2", path)
        #expect(one.status == 0 && two.status == 0)
        let clips = two.jsonLines.filter { $0["type"] as? String == "clip" }
        let found = clips.map {
            ($0["channel"] as? Int ?? 0, $0["start_frame"] as? Int ?? 0, $0["clipped_samples"] as? Int ?? 0)
        }
        #expect(found.count == truth.count)
        for (got, want) in zip(found.sorted { $0.1 < $1.1 }, truth) {
            #expect(got == (want.channel + 1, want.start, want.length))
        }
        #expect(Self.unstamped(two.stdout) == Self.unstamped(one.stdout))
    }

    @Test("digital silence: levels -inf, headroom - (as on the meter, not -inf), no signal; null in the JSON")
    func silence() throws {
        let path = scratchDirectory() + "/silence.wav"
        writeAudio(path, samples: [Int32](repeating: 0, count: 48000 * 2), channels: 2)
        let r = try headroom("analyze", "--names", "Vox,Gtr", path)
        #expect(r.status == 0)
        let row = r.stdout.split(separator: "\n").map(String.init).first { $0.hasPrefix(" 1  Vox") }
        let cells = row?.split(separator: " ").map(String.init) ?? []
        // ch, name, peak, true peak, RMS, headroom, clips, clipped, flat, hot, proposal
        #expect(Array(cells.prefix(6)) == ["1", "Vox", "-inf", "-inf", "-inf", "-"])
        #expect(row?.hasSuffix("no signal") == true)
        let json = try headroom("analyze", "--json", path)
        let channels = json.jsonLines.last?["channels"] as? [[String: Any]]
        #expect(channels?.first?["headroom_db"] is NSNull)
        #expect(channels?.first?["peak_dbfs"] is NSNull)
    }

    @Test("--fail-on-clip exits 1 on a clipped file and 0 on a clean one")
    func failOnClip() throws {
        let dir = scratchDirectory()
        let clipped = Self.takeWithClip(in: dir)
        #expect(try headroom("analyze", "--fail-on-clip", clipped).status == 1)
        let clean = dir + "/clean.wav"
        writeAudio(clean, samples: (0..<4800).map { Int32(($0 % 100) * 1000) << 8 }, channels: 1)
        #expect(try headroom("analyze", "--fail-on-clip", clean).status == 0)
        // With clip_run raised above the clip's length there is nothing to fail on.
        #expect(try headroom("analyze", "--fail-on-clip", "--clip-run", "6", clipped).status == 0)
    }

    @Test("a clipped file after lossy coding: the clips, and a note that how far over can read low; none for PCM")
    func lossyNote() throws {
        let dir = scratchDirectory()
        // A tone driven 6 dB past full scale and cut there, as PCM and as Ogg Vorbis.
        let samples = (0..<48000).map { i in
            Int32(max(-1, min(1, 2 * sin(2 * Double.pi * 440 * Double(i) / 48000))) * 8_388_607) << 8
        }
        let (wav, ogg) = (dir + "/cut.wav", dir + "/cut.ogg")
        writeAudio(wav, samples: samples, channels: 1)
        writeAudio(ogg, samples: samples, channels: 1, format: Int32(SF_FORMAT_OGG | SF_FORMAT_VORBIS))
        let note = "is lossy (Vorbis): its clips are found, but how far over they went can read low"
        let coded = try headroom("analyze", ogg)
        #expect(coded.status == 0 && coded.stdout.contains("<< CLIPPED"), "\(coded.stdout)")
        #expect(
            coded.stderr
                == "headroom: note: \(ogg) \(note) (the codec rebuilds cut tops with a ripple just over full scale); analyze the file from before it was coded for that\n"
        )
        let json = try headroom("analyze", "--json", ogg)
        #expect(json.stderr.contains(note) && !json.stdout.contains("lossy"))
        #expect(try headroom("review", ogg).stderr.contains("headroom: note: \(ogg) \(note)"))
        let pcm = try headroom("analyze", wav)
        #expect(pcm.stdout.contains("<< CLIPPED") && pcm.stderr.isEmpty, "\(pcm.stderr)")
    }

    @Test(
        "a 256-channel file is analyzed, its last channel's clip included; one of 257 is refused, naming the file, exit 66"
    )
    func mostChannels() throws {
        let dir = scratchDirectory()
        func file(_ channels: Int) -> String {
            let path = dir + "/ch\(channels).wav"
            // sf_writef_int's codes fill 32 bits: a 24-bit file keeps the top three bytes.
            var samples = [Int32](repeating: 1 << 28, count: 4800 * channels)
            for f in 2000..<2004 { samples[f * channels + channels - 1] = .max }
            writeAudio(path, samples: samples, channels: channels)
            return path
        }
        let most = try headroom("analyze", "--json", file(256))
        #expect(most.status == 0, "\(most.stderr)")
        let lines = most.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let clip = try #require(lines.first { $0["type"] as? String == "clip" })
        #expect(clip["channel"] as? Int == 256 && clip["start_frame"] as? Int == 2000)
        #expect((lines.last?["channels"] as? [Any])?.count == 256)
        let tooMany = file(257)
        let refused = try headroom("analyze", tooMany)
        #expect(refused.status == 66)
        #expect(refused.stderr == "headroom: \(tooMany): 257 channels; headroom analyzes 1 to 256\n")
    }

    @Test("a missing or non-audio file: one line naming it, exit 66, the other files still analyzed")
    func missingFile() throws {
        let dir = scratchDirectory()
        let good = Self.takeWithClip(in: dir)
        let text = dir + "/notes.txt"
        try "not audio".write(toFile: text, atomically: true, encoding: .utf8)
        let r = try headroom("analyze", dir + "/nope.wav", good, text)
        #expect(r.status == 66)
        let errors = r.stderr.split(separator: "\n")
        #expect(errors.count == 2)
        #expect(errors[0] == "headroom: \(dir)/nope.wav: no such file")
        #expect(errors[1].hasPrefix("headroom: \(text): not an audio file libsndfile can read"))
        #expect(r.stdout.contains("\(good): WAV, PCM_24"))
        // A folder: analyze reads files, and says what reads a folder's takes.
        let folder = try headroom("analyze", dir)
        #expect(folder.status == 66)
        #expect(
            folder.stderr
                == "headroom: \(dir): is a folder, not an audio file; `headroom review \(dir)` reads the takes in a folder\n"
        )
    }

    @Test(
        "- reads standard input through a pipe: the same lines as the file, for WAV, AIFF and Ogg; FLAC, CAF and a terminal refused"
    )
    func standardInput() throws {
        let dir = scratchDirectory()
        let wav = Self.takeWithClip(in: dir)
        let aiff = Self.takeWithClip(in: dir, name: "take.aiff", format: Int32(SF_FORMAT_AIFF | SF_FORMAT_PCM_24))
        let ogg = Self.takeWithClip(in: dir, name: "take.ogg", format: Int32(SF_FORMAT_OGG | SF_FORMAT_VORBIS))
        func piped(_ file: String, _ arguments: String = "--json") throws -> RunResult {
            // `cat` makes it a pipe, not a file that can be seeked.
            try run("/bin/sh", ["-c", "cat '\(file)' | '\(headroomBinary)' analyze \(arguments) -"])
        }
        for file in [wav, aiff, ogg] {
            let direct = try headroom("analyze", "--json", file)
            let r = try piped(file)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.jsonLines.first?["file"] as? String == "-")
            #expect(
                Self.unstamped(r.stdout).split(separator: "\n").dropFirst()
                    == Self.unstamped(direct.stdout).split(separator: "\n").dropFirst(),
                "\(file)"
            )
        }
        // The table's length is what was read, not what a stream's header says.
        let table = try piped(wav, "")
        #expect(table.stdout.hasPrefix("-: WAV, PCM_24, 48000 Hz, 2 ch, 2.000 s\n"))
        // Containers libsndfile does not read to the end through a pipe: refused, not "no signal".
        let flac = Self.takeWithClip(in: dir, name: "take.flac", format: Int32(SF_FORMAT_FLAC | SF_FORMAT_PCM_24))
        let caf = Self.takeWithClip(in: dir, name: "take.caf", format: Int32(SF_FORMAT_CAF | SF_FORMAT_PCM_24))
        let refusedFLAC = try piped(flac)
        #expect(refusedFLAC.status == 66 && refusedFLAC.stdout.isEmpty)
        #expect(refusedFLAC.stderr.hasPrefix("headroom: -: not audio libsndfile can read through a pipe"))
        let refusedCAF = try piped(caf)
        #expect(refusedCAF.status == 66 && refusedCAF.stdout.isEmpty)
        #expect(
            refusedCAF.stderr
                == "headroom: -: CAF cannot be read through a pipe, only WAV, AIFF, AU and Ogg; give it as a file\n"
        )
        // Redirected from a file, standard input can be seeked: any container.
        let redirected = try run("/bin/sh", ["-c", "'\(headroomBinary)' analyze - < '\(flac)'"])
        #expect(redirected.status == 0 && redirected.stdout.hasPrefix("-: FLAC, PCM_24, 48000 Hz, 2 ch, 2.000 s"))
        // A terminal is not a stream of audio; - once only.
        let typescript = dir + "/typescript"
        let tty = try run("/usr/bin/script", ["-qec", "'\(headroomBinary)' analyze -", typescript])
        #expect(tty.status == 66)
        #expect(try String(contentsOfFile: typescript, encoding: .utf8).contains("-: standard input is a terminal"))
        let twice = try headroom("analyze", "-", "-")
        #expect(twice.status == 64 && twice.stderr.hasPrefix("headroom: - (standard input) can be given once"))
    }

    @Test("a named pipe and a shell's <(...) given by name: read once, to the end, as the file (analyze and review)")
    func namedPipe() throws {
        let dir = scratchDirectory()
        let wav = Self.takeWithClip(in: dir)
        let fifo = dir + "/stream.wav"
        #expect(mkfifo(fifo, 0o600) == 0)
        let direct = try headroom("analyze", "--json", wav)
        // A deadline on both sides (SIGKILL: children inherit the test process's blocked
        // SIGTERM): the old build read the pipe to its end and then opened it again (for a
        // cut-short WAV's note; review, for a second pass measuring loudness), and waited for
        // a writer that had gone.
        func fed(_ command: String) throws -> RunResult {
            try run(
                "/bin/bash",
                [
                    "-c",
                    "timeout -s KILL 30 cat '\(wav)' > '\(fifo)' & timeout -s KILL 30 '\(headroomBinary)' \(command)",
                ]
            )
        }
        let analyzed = try fed("analyze --json '\(fifo)'")
        #expect(analyzed.status == 0, "\(analyzed.stderr)")
        #expect(
            Self.unstamped(analyzed.stdout).split(separator: "\n").dropFirst()
                == Self.unstamped(direct.stdout).split(separator: "\n").dropFirst()
        )
        // Review reads it once too: its events and its loudness, measured in the same pass.
        let reviewed = try fed("review --json '\(fifo)'")
        #expect(reviewed.status == 0 && reviewed.stderr.isEmpty, "\(reviewed.stderr)")
        let review = try headroom("review", "--json", wav).stdout
        #expect(review.contains("\"integrated_lufs\":-"), "\(review)")
        #expect(reviewed.stdout.replacingOccurrences(of: fifo, with: wav) == review)
        // `-` is analyze's; review says so, where it said "-: no such file or folder".
        let dash = try headroom("review", "--json", "-")
        #expect(dash.status == 64)
        #expect(dash.stderr.hasPrefix("headroom: review reads takes from files and folders, not standard input"))
        let substituted = try run(
            "/bin/bash",
            ["-c", "timeout -s KILL 30 '\(headroomBinary)' analyze --json <(cat '\(wav)')"]
        )
        #expect(substituted.status == 0, "\(substituted.stderr)")
        #expect(
            Self.unstamped(substituted.stdout).split(separator: "\n").dropFirst()
                == Self.unstamped(direct.stdout).split(separator: "\n").dropFirst()
        )
    }

    @Test("a WAV copy cut short: analyzed to where it ends, and a note says its data chunk runs past it")
    func cutShortCopy() throws {
        let dir = scratchDirectory()
        let whole = Self.takeWithClip(in: dir)
        let cut = dir + "/copy.wav"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: whole))
        try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: cut))
        let r = try headroom("analyze", whole, cut)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\(cut): WAV, PCM_24, 48000 Hz, 2 ch, 0.66"), "\(r.stdout)")
        #expect(
            r.stderr.hasPrefix(
                "headroom: note: \(cut): its data chunk runs past the end of the file (a copy cut short?); analyzed the 0.66"
            ),
            "\(r.stderr)"
        )
        // The whole file, its source, has nothing to say.
        #expect(r.stderr.split(separator: "\n").count == 1 && !r.stderr.contains(whole + ":"))
    }

    @Test("a phone's M4A or raw PCM, which libsndfile cannot read: the error gives the pipe that reads it, and it does")
    func undecodableContainer() throws {
        let dir = scratchDirectory()
        let wav = Self.takeWithClip(in: dir)
        let memo = dir + "/Voice memo 'take 2'.m4a"
        let ffmpeg = try run("/usr/bin/ffmpeg", ["-loglevel", "error", "-i", wav, "-c:a", "aac", memo])
        #expect(ffmpeg.status == 0, "\(ffmpeg.stderr)")
        let r = try headroom("analyze", memo)
        #expect(r.status == 66 && r.stdout.isEmpty)
        let prefix = "headroom: \(memo): not an audio file libsndfile can read ("
        #expect(r.stderr.hasPrefix(prefix), "\(r.stderr)")
        let hint = "; decode it first: "
        let line = r.stderr.trimmingCharacters(in: .newlines)
        let command = try #require(line.range(of: hint).map { String(line[$0.upperBound...]) })
        #expect(command.hasSuffix(" -c:a pcm_f32le -f wav - | headroom analyze -"))
        // The command as printed, pasted into a shell (the name's quote and spaces survive it).
        let pasted = try run(
            "/bin/sh",
            ["-c", command.replacingOccurrences(of: "| headroom ", with: "| '\(headroomBinary)' ") + " 2>&1"],
            cwd: dir
        )
        #expect(pasted.status == 0, "\(pasted.stdout)")
        #expect(pasted.stdout.hasPrefix("-: WAV, FLOAT, 48000 Hz, 2 ch"), "\(pasted.stdout)")
        // A file that only claims to be WAV gets no such advice: it is not a container question.
        let junk = dir + "/notes.wav"
        try "not audio".write(toFile: junk, atomically: true, encoding: .utf8)
        let plain = try headroom("analyze", junk)
        #expect(plain.status == 66 && !plain.stderr.contains("ffmpeg"))
        // arecord -t raw's samples: the sox line that gives them a header, pasted, reads them.
        let raw = dir + "/take.raw"
        let sox = try run("/usr/bin/sox", [wav, "-t", "raw", "-e", "signed", "-b", "24", raw])
        #expect(sox.status == 0, "\(sox.stderr)")
        let bare = try headroom("analyze", raw)
        #expect(bare.status == 66)
        let give = "raw PCM has no header to say its rate, channels and format: give it one, e.g. "
        let rawLine = bare.stderr.trimmingCharacters(in: .newlines)
        let soxLine = try #require(rawLine.range(of: give).map { String(rawLine[$0.upperBound...]) })
        let fromRaw = try run(
            "/bin/sh",
            ["-c", soxLine.replacingOccurrences(of: "| headroom ", with: "| '\(headroomBinary)' ") + " 2>&1"],
            cwd: dir
        )
        #expect(fromRaw.stdout.hasPrefix("-: WAV, PCM_24, 48000 Hz, 2 ch, 2.000 s"), "\(fromRaw.stdout)")
        #expect(fromRaw.status == 0 && fromRaw.stdout.contains("<< CLIPPED"), "\(fromRaw.stdout)")
        // `analyze takes/*` takes in the clip logs beside the takes: review reads those.
        let log = dir + "/take 3.clips.jsonl"
        try #"{"type":"take","version":1}"#.write(toFile: log, atomically: true, encoding: .utf8)
        let logged = try headroom("analyze", wav, log)
        #expect(logged.status == 66 && logged.stdout.contains("<< CLIPPED"))
        #expect(
            logged.stderr.hasSuffix("; it is a clip log: `headroom review '\(log)'` reads it with its take\n"),
            "\(logged.stderr)"
        )
    }

    @Test("a bad option value: exit 64 and a sentence that says what is allowed")
    func badOption() throws {
        let r = try headroom("analyze", "--clip-run", "0", "x.wav")
        #expect(r.status == 64)
        #expect(
            r.stderr
                == "headroom: --clip-run must be a whole number of samples from 1 to 100000; got 0; see 'headroom analyze --help'\n"
        )
        let margin = try headroom("analyze", "--margin=-2", "x.wav")
        #expect(margin.status == 64)
        #expect(margin.stderr.contains("--margin must be between 0 and 60 dB; got -2"))
    }

    @Test("--config applies its keys; flags win over it; a bad key is exit 64 with file and line")
    func configFile() throws {
        let dir = scratchDirectory()
        let path = Self.takeWithClip(in: dir)
        try "clip_run = 6\nnames = [\"Kick\", \"Snare\"]\n".write(
            toFile: dir + "/h.toml",
            atomically: true,
            encoding: .utf8
        )
        let r = try headroom("analyze", "--json", "--config", dir + "/h.toml", path)
        #expect(r.jsonLines.first?["names"] as? [String] == ["Kick", "Snare"])
        #expect(!r.jsonLines.contains { $0["type"] as? String == "clip" })
        let flags = try headroom("analyze", "--json", "--config", dir + "/h.toml", "--clip-run", "3", path)
        #expect(flags.jsonLines.contains { $0["type"] as? String == "clip" })
        // ./headroom.toml is read when present.
        try "clip_run = 6\n".write(toFile: dir + "/headroom.toml", atomically: true, encoding: .utf8)
        let local = try headroom("analyze", "--json", path, cwd: dir)
        #expect(!local.jsonLines.contains { $0["type"] as? String == "clip" })
        try "clip_run = 6\nbogus = 1\n".write(toFile: dir + "/bad.toml", atomically: true, encoding: .utf8)
        let bad = try headroom("analyze", "--config", dir + "/bad.toml", path)
        #expect(bad.status == 64)
        #expect(bad.stderr.hasPrefix("headroom: \(dir)/bad.toml:2: unknown key \"bogus\""))
    }

    @Test("one long file on a terminal: where the analysis has got to, on stderr, cleared before the table")
    func position() throws {
        let dir = scratchDirectory()
        let path = dir + "/long.wav"
        writeTone(path)
        // Not a terminal: nothing but the table, whose title comes on screen right after the
        // last status line is erased.
        let (screen, piped) = try expectStatusLine("0:00 of 0:10 analyzed (0 %)", "analyze", path, in: dir)
        #expect(screen.contains("\r\u{1B}[K\(path): WAV, PCM_24, 48000 Hz, 1 ch, 10.000 s"), "\(screen)")
        #expect(!piped.stdout.contains("analyzed"))
    }

    @Test("many files on a terminal: how many are done, on stderr, cleared before each file's table")
    func filesDone() throws {
        let dir = scratchDirectory()
        // Two short files and a long one: the count is on screen while the long one runs.
        let paths = (1...3).map { dir + "/take-\($0).wav" }
        for (n, path) in paths.enumerated() {
            let frames = n == 2 ? 48000 * 10 : 4800
            let samples = (0..<frames).map { Int32(0.1 * Double(n + 1) * sin(Double($0) / 10) * 8_388_607) << 8 }
            writeAudio(path, samples: samples, channels: 1)
        }
        let screen = try onTerminal("analyze", "-j", "2", paths[0], paths[1], paths[2], in: dir)
        #expect(screen.contains("\r\u{1B}[K2/3 files done\r\u{1B}[K\r\n\(paths[2]): WAV"), "\(screen)")
        #expect(!screen.contains("3/3"))
        // Without the status lines, the screen shows what a pipe gets, and a pipe gets no count.
        var plain = screen.replacingOccurrences(of: "\r\n", with: "\n")
        for done in 1...2 { plain = plain.replacingOccurrences(of: "\r\u{1B}[K\(done)/3 files done", with: "") }
        plain = plain.replacingOccurrences(of: "\r\u{1B}[K", with: "")
        let piped = try headroom("analyze", "-j", "2", paths[0], paths[1], paths[2])
        #expect(piped.status == 0 && piped.stderr.isEmpty)
        #expect(plain.contains(piped.stdout), "\(plain)")
    }
}
