import CSndFile
import Foundation
import FoundationXML
import HeadroomCore
import Testing

/// Takes that carry their own story once they leave the folder: iXML with the channel
/// names, channel mask 0, bext loudness, every event a labelled cue, review --cues that
/// changes nothing the second time, and --on-take-closed.
@Suite("What a take carries: iXML, bext loudness, cues, the closing hook")
struct TakeStoryTests {
    static let names = ["Kick", "Snare", "Bass", "Vox & Amp"]

    /// Four channels of sines at different levels, a clip on channel 1, a hot burst on 3.
    static func record(in dir: String, fileFormat: String = "wav", extra: [String] = []) throws -> String {
        var m = Material(frames: 48000 * 4, channels: 4)
        for i in 0..<m.frames {
            for c in 0..<4 {
                let level = [0.25, 0.1, 0.3, 0.2][c]
                m.values[i * 4 + c] = level * sin(2 * Double.pi * Double(110 * (c + 1)) * Double(i) / 48000)
            }
        }
        m.clip(channel: 0, frame: 48000, length: 6)
        for i in 96000..<96480 { m.values[i * 4 + 2] = 0.85 * sin(2 * Double.pi * 330 * Double(i) / 48000) }
        let rig = FileRig(bytes: m.bytes("S24_3LE"))
        let r = try run(
            headroomBinary,
            [
                "record", "-D", "testcap", "-c", "4", "--duration", "4", "--names", names.joined(separator: ","),
                "--dir", dir, "--name", "t", "--file-format", fileFormat,
            ] + extra,
            environment: rig.environment
        )
        #expect(r.status == 0, "\(r.stderr)")
        return dir + "/t." + fileFormat
    }

    /// The chunks of a RIFF/RF64 file: id -> body (first of each).
    static func chunks(_ path: String) throws -> [String: Data] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        func u32(_ i: Int) -> Int { (0..<4).reduce(0) { $0 | Int(data[i + $1]) << (8 * $1) } }
        var out: [String: Data] = [:]
        var offset = 12
        var dataSize: Int? = nil
        while offset + 8 <= data.count {
            let id = String(decoding: data[offset..<(offset + 4)], as: UTF8.self)
            var size = u32(offset + 4)
            if id == "ds64" { dataSize = (0..<8).reduce(0) { $0 | Int(data[offset + 16 + $1]) << (8 * $1) } }
            if id == "data" && size == 0xFFFF_FFFF { size = dataSize ?? 0 }
            if out[id] == nil { out[id] = data[(offset + 8)..<min(offset + 8 + size, data.count)] }
            offset += 8 + size + size % 2
        }
        return out
    }

    /// The ids of a RIFF/RF64 file's chunks, in the order they stand.
    static func chunkOrder(_ path: String) throws -> [String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        func u32(_ i: Int) -> Int { (0..<4).reduce(0) { $0 | Int(data[i + $1]) << (8 * $1) } }
        var ids: [String] = []
        var offset = 12
        var dataSize = 0
        while offset + 8 <= data.count {
            let id = String(decoding: data[offset..<(offset + 4)], as: UTF8.self)
            var size = u32(offset + 4)
            if id == "ds64" { dataSize = (0..<8).reduce(0) { $0 | Int(data[offset + 16 + $1]) << (8 * $1) } }
            if id == "data" && size == 0xFFFF_FFFF { size = dataSize }
            ids.append(id)
            offset += 8 + size + size % 2
        }
        return ids
    }

    static func int16(_ d: Data, _ at: Int) -> Int {
        Int(Int16(bitPattern: UInt16(d[d.startIndex + at]) | UInt16(d[d.startIndex + at + 1]) << 8))
    }

    /// bext version 2's loudness words (hundredths) against review --json's programme figures
    /// for the same take: the live measurement and the file's agree to the last hundredth.
    static func expectBextLoudness(
        _ bext: Data,
        of take: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let line = try #require(try headroom("review", "--json", take).jsonLines.first, sourceLocation: sourceLocation)
        let programme = try #require(line["programme"] as? [String: Any], sourceLocation: sourceLocation)
        let keys = [
            "integrated_lufs", "loudness_range_lu", "max_true_peak_dbtp", "max_momentary_lufs", "max_short_term_lufs",
        ]
        for (i, key) in keys.enumerated() {
            let word = int16(bext, 412 + 2 * i)
            let measured = try #require(
                programme[key] as? Double,
                "\(key) in \(programme)",
                sourceLocation: sourceLocation
            )
            #expect(
                abs(Double(word) / 100 - measured) <= 0.0101,
                "\(key): bext \(word), review \(measured)",
                sourceLocation: sourceLocation
            )
        }
    }

    @Test(
        "24 channels faster than real time (the analysis split over two threads, the loudness measured beside it): bext's loudness is review's"
    )
    func splitLoudness() throws {
        let dir = scratchDirectory()
        let channels = 24
        var m = Material(frames: 48000 * 3, channels: channels)
        for i in 0..<m.frames where (i / 4800) % 3 == 0 {
            for c in 0..<channels { m.values[i * channels + c] *= 0.2 }  // loudness that moves
        }
        let r = try run(
            headroomBinary,
            ["record", "-D", "testcap", "-c", String(channels), "--duration", "3", "--dir", dir, "--name", "t"],
            environment: FileRig(bytes: m.bytes("S24_3LE")).environment
        )
        #expect(r.status == 0, "\(r.stderr)")
        let bext = try #require(try Self.chunks(dir + "/t.wav")["bext"])
        #expect(Self.int16(bext, 346) == 2)
        try Self.expectBextLoudness(bext, of: dir + "/t.wav")
    }

    @Test("iXML names the tracks, the mask is 0, bext v2 carries the loudness review measures, the reference is unique")
    func metadata() throws {
        let dir = scratchDirectory()
        let take = try Self.record(in: dir)
        let chunks = try Self.chunks(take)

        // iXML, parsed as XML: the TRACK_LIST names are the --names, in order.
        let ixml = try #require(chunks["iXML"])
        let doc = try XMLDocument(data: ixml)
        let names = try doc.nodes(forXPath: "/BWFXML/TRACK_LIST/TRACK/NAME").map { $0.stringValue ?? "" }
        #expect(names == Self.names)
        #expect(try doc.nodes(forXPath: "/BWFXML/TRACK_LIST/TRACK_COUNT").first?.stringValue == "4")
        #expect(try doc.nodes(forXPath: "/BWFXML/SPEED/FILE_SAMPLE_RATE").first?.stringValue == "48000")

        // One iXML, ahead of the audio: written with the first header, not again at the end.
        let order = try Self.chunkOrder(take)
        #expect(order.filter { $0 == "iXML" }.count == 1, "\(order)")
        #expect(order.firstIndex(of: "iXML")! < order.firstIndex(of: "data")!, "\(order)")

        // WAVE_FORMAT_EXTENSIBLE with no speaker positions.
        let fmt = try #require(chunks["fmt "])
        #expect(Self.int16(fmt, 0) == -2)  // 0xFFFE
        #expect(fmt[fmt.startIndex + 20..<fmt.startIndex + 24].allSatisfy { $0 == 0 })
        let probe = try run("/usr/bin/ffprobe", ["-v", "error", "-show_streams", "-of", "json", take])
        #expect(!probe.stdout.contains("\"quad\""), "\(probe.stdout)")

        // bext version 2: loudness words equal review --json's programme figures.
        let bext = try #require(chunks["bext"])
        #expect(Self.int16(bext, 346) == 2)
        let reference = String(decoding: bext[(bext.startIndex + 288)..<(bext.startIndex + 320)], as: UTF8.self)
            .trimmingCharacters(in: CharacterSet(charactersIn: "\0"))
        #expect(reference.count == 32 && reference.hasPrefix("ZZHDR"))
        #expect(try doc.nodes(forXPath: "/BWFXML/FILE_UID").first?.stringValue == reference)
        try Self.expectBextLoudness(bext, of: take)
        // sox reads the take as before.
        let sox = try run("/usr/bin/sox", ["--i", take])
        #expect(sox.status == 0 && sox.stdout.contains("Channels       : 4"))
    }

    @Test(
        "analyze names a take's channels as it carries them (iXML; a FLAC take's comment), where --names does not"
    )
    func analyzeReadsTheNames() throws {
        let dir = scratchDirectory()
        let take = try Self.record(in: dir)
        let json = try headroom("analyze", "--json", take)
        #expect(json.jsonLines.first?["names"] as? [String] == Self.names, "\(json.stdout)")
        let table = try headroom("analyze", take).stdout.split(separator: "\n").map(String.init)
        #expect(table.contains { $0.hasPrefix(" 4  Vox & Amp ") }, "\(table)")
        // --names wins where it names a channel; the take's names fill the rest.
        let given = try headroom("analyze", "--json", "--names", "BD,,Bass DI", take)
        #expect(given.jsonLines.first?["names"] as? [String] == ["BD", "Snare", "Bass DI", "Vox & Amp"])
        // A FLAC take, which has no iXML, names them in its comment; another program's FLAC
        // file with the same words is numbered.
        let flac = try Self.record(in: dir + "/f", fileFormat: "flac")
        #expect(try headroom("analyze", "--json", flac).jsonLines.first?["names"] as? [String] == Self.names)
        let other = dir + "/other.flac"
        let copied = try run(
            "/usr/bin/ffmpeg",
            ["-v", "error", "-i", flac, "-c", "copy", "-metadata", "software=", "-metadata", "encoder=", other]
        )
        #expect(copied.status == 0, "\(copied.stderr)")
        #expect(
            try headroom("analyze", "--json", other).jsonLines.first?["names"] as? [String] == ["1", "2", "3", "4"]
        )
    }

    @Test("--layout names a speaker layout: its mask goes into the take; one that does not fit is exit 64")
    func layout() throws {
        let dir = scratchDirectory()
        let take = try Self.record(in: dir, extra: ["--layout", "quad"])
        let fmt = try #require(try Self.chunks(take)["fmt "])
        #expect(Array(fmt[fmt.startIndex + 20..<fmt.startIndex + 24]) == [0x33, 0, 0, 0])
        let probe = try run("/usr/bin/ffprobe", ["-v", "error", "-show_streams", "-of", "json", take])
        #expect(probe.stdout.contains("\"quad\""))
        let wrong = try headroom("record", "-D", "testcap", "-c", "4", "--layout", "stereo", "--dir", dir + "/x")
        #expect(wrong.status == 64)
        #expect(wrong.stderr.contains("--layout stereo has 2 channels, not 4"))
    }

    @Test("review --cues twice changes nothing the second time, WAV and RF64", arguments: ["wav", "rf64"])
    func cuesIdempotent(fileFormat: String) throws {
        let dir = scratchDirectory()
        let take = try Self.record(in: dir, fileFormat: fileFormat)
        let labels = try run("/usr/bin/ffprobe", ["-v", "error", "-show_chapters", "-of", "json", take])
        #expect(labels.stdout.contains("clip ch1 Kick"), "\(labels.stdout)")
        #expect(labels.stdout.contains("hot ch3 Bass"))
        let before = try Data(contentsOf: URL(fileURLWithPath: take))
        for _ in 0..<2 {
            let r = try headroom("review", "--cues", take)
            #expect(r.status == 0)
            #expect(r.stderr.contains("already has"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: take)) == before)
        }
    }

    @Test(
        "a FLAC take carries a chapter per event and its loudness as ReplayGain tags (ffprobe reads them), written into room its comment kept: the audio is not moved; review --cues leaves it as it is"
    )
    func flacChaptersAndLoudness() throws {
        let dir = scratchDirectory()
        let take = try Self.record(in: dir, fileFormat: "flac")
        let probe = try run("/usr/bin/ffprobe", ["-v", "error", "-show_chapters", "-show_format", "-of", "json", take])
        let probed = try #require(try JSONSerialization.jsonObject(with: Data(probe.stdout.utf8)) as? [String: Any])
        let chapters = try #require(probed["chapters"] as? [[String: Any]], "\(probe.stdout)")
        let titles = chapters.compactMap { ($0["tags"] as? [String: Any])?["title"] as? String }
        #expect(titles.first?.hasPrefix("clip ch1 Kick") == true, "\(titles)")
        #expect(titles.contains { $0.hasPrefix("hot ch3 Bass") }, "\(titles)")
        #expect(chapters.first?["start_time"] as? String == "1.000000", "\(probe.stdout)")
        // The loudness review measures from the file, as ReplayGain 2.0 gives it (to -18 LUFS).
        let review = try #require(try headroom("review", "--json", take).jsonLines.first)
        let programme = try #require(review["programme"] as? [String: Any])
        let lufs = try #require(programme["integrated_lufs"] as? Double)
        let peak = try #require(programme["max_true_peak_dbtp"] as? Double)
        let tags = (probed["format"] as? [String: Any])?["tags"] as? [String: String] ?? [:]
        let gain = Double(tags["REPLAYGAIN_TRACK_GAIN"]?.dropLast(3) ?? "")
        #expect(abs((gain ?? 0) - (-18 - lufs)) <= 0.011, "\(tags)")
        #expect(abs(20 * log10(Double(tags["REPLAYGAIN_TRACK_PEAK"] ?? "") ?? 0) - peak) <= 0.011, "\(tags)")
        #expect(tags["REPLAYGAIN_REFERENCE_LOUDNESS"] == "-18.00 LUFS", "\(tags)")
        // The room is gone from the comment, and left as padding: the audio starts where it did.
        #expect(tags["comment"]?.hasSuffix("samples since midnight") == true, "\(tags)")
        let blocks = try Self.flacBlocks(take)
        #expect(blocks.map(\.type) == [0, 4, 1], "\(blocks)")
        #expect(blocks.count == 3 && blocks[1].size + 4 + blocks[2].size > 64 * 1024, "\(blocks)")
        let sox = try run("/usr/bin/sox", ["--i", "-s", take])
        #expect(sox.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "192000", "\(sox.stdout)\(sox.stderr)")
        let before = try Data(contentsOf: URL(fileURLWithPath: take))
        let r = try headroom("review", "--cues", take)
        #expect(r.stderr.contains("\(take): already has \(titles.count) chapter markers; left as it is"), "\(r.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: take)) == before)
        // A take with no events is finished too: --cues leaves it, its loudness tags kept
        // (they went, when a review that does not measure loudness wrote its tags again).
        let clean = try recordOnFileRig(
            Material(frames: 48000, channels: 2),
            seconds: 1,
            dir: dir + "/clean",
            extra: ["--name", "c", "--file-format", "flac"]
        )
        #expect(clean.status == 0, "\(clean.stderr)")
        let quiet = dir + "/clean/c.flac"
        let quietBefore = try Data(contentsOf: URL(fileURLWithPath: quiet))
        let again = try headroom("review", "--cues", quiet)
        #expect(again.stderr.contains("\(quiet): finished, with no events to mark; left as it is"), "\(again.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: quiet)) == quietBefore)
        let kept = try run("/usr/bin/ffprobe", ["-v", "error", "-show_entries", "format_tags", "-of", "json", quiet])
        #expect(kept.stdout.contains("REPLAYGAIN_TRACK_GAIN"), "\(kept.stdout)")
        // Another program's FLAC file with a clip (no log: analyzed) has no room for chapters,
        // and is told so, not "no events".
        let foreign = dir + "/foreign.flac"
        let made = try run(
            "/usr/bin/sox",
            ["-n", "-r", "48000", "-c", "1", "-b", "16", foreign, "synth", "1", "sine", "440", "gain", "+6"]
        )
        #expect(made.status == 0, "\(made.stderr)")
        let foreignBefore = try Data(contentsOf: URL(fileURLWithPath: foreign))
        let refused = try headroom("review", "--cues", foreign)
        #expect(
            refused.stderr.contains(
                "\(foreign): its tags keep no room for chapters (headroom's recorder did not write it); 1 chapter marker not added, the file left as it is"
            ),
            "\(refused.stderr)"
        )
        #expect(try Data(contentsOf: URL(fileURLWithPath: foreign)) == foreignBefore)
    }

    /// A FLAC file's metadata blocks: type and size, in order.
    static func flacBlocks(_ path: String) throws -> [(type: UInt8, size: Int)] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var blocks: [(type: UInt8, size: Int)] = []
        var at = 4
        while at + 4 <= data.count {
            let h = data[at]
            let size = Int(data[at + 1]) << 16 | Int(data[at + 2]) << 8 | Int(data[at + 3])
            blocks.append((h & 0x7F, size))
            at += 4 + size
            if h & 0x80 != 0 { break }
        }
        return blocks
    }

    @Test("cue markers are numbered as they stand in the take, where the log lists events as they end")
    func cuesInTakeOrder() throws {
        let dir = scratchDirectory()
        // ch1's clips at 0.10 s and 0.15 s are one event, which ends after ch2's at 0.12 s.
        var m = Material(frames: 48000, channels: 2)
        m.clip(channel: 0, frame: 4800, length: 4)
        m.clip(channel: 1, frame: 5760, length: 4)
        m.clip(channel: 0, frame: 7200, length: 4)
        let (take, log, r) = try recordFileTake(m, seconds: 1, dir: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let logged = String(decoding: bytes(log), as: UTF8.self).split(separator: "\n")
            .filter { $0.contains("\"type\":\"clip\"") }.map { $0.contains("\"channel\":2") ? 2 : 1 }
        #expect(logged == [2, 1], "the log lists ch2's clip first")
        let probe = try run("/usr/bin/ffprobe", ["-v", "error", "-show_chapters", "-of", "json", take])
        let chapters = try #require(
            (try JSONSerialization.jsonObject(with: Data(probe.stdout.utf8)) as? [String: Any])?["chapters"]
                as? [[String: Any]]
        )
        let titles = chapters.compactMap { ($0["tags"] as? [String: Any])?["title"] as? String }
        #expect(titles.count == 2 && titles[0].hasPrefix("clip ch1") && titles[1].hasPrefix("clip ch2"), "\(titles)")
        let starts = chapters.compactMap { ($0["start"] as? Int) }
        #expect(starts == [4800, 5760], "\(probe.stdout)")
    }

    @Test(
        "--on-take-closed runs after the take is finished, with take and log; a failing command is reported, not fatal"
    )
    func hook() throws {
        let dir = scratchDirectory()
        let script = dir + "/hook.sh"
        try """
        #!/bin/sh
        sha256sum "$1" > "$1.sha256"
        echo "$HEADROOM_COMPLETE $2" > "$1.hook"
        """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let take = try Self.record(in: dir + "/a", extra: ["--on-take-closed", script])
        // The checksum was taken of the finished file: cues and metadata already in it.
        let sum = try String(contentsOfFile: take + ".sha256", encoding: .utf8)
        let now = try run("/usr/bin/sha256sum", [take]).stdout
        #expect(sum == now)
        #expect(try String(contentsOfFile: take + ".hook", encoding: .utf8) == "1 \(dir)/a/t.clips.jsonl\n")

        let failing = try headroom(
            "record",
            "-D",
            "testcap",
            "--duration",
            "1",
            "--dir",
            dir + "/b",
            "--name",
            "t",
            "--on-take-closed",
            // A script written on Windows ends its lines with "\r\n": the last one is still the last.
            "printf 'connecting\\r\\ncannot reach the server\\r\\n' >&2; exit 3",
            environment: FileRig(bytes: Material(frames: 48000, channels: 2).bytes("S24_3LE")).environment
        )
        #expect(failing.status == 0)
        #expect(
            failing.stderr.contains("--on-take-closed exited 3 for t.wav: cannot reach the server\n"),
            "\(failing.stderr)"
        )
        #expect(FileManager.default.fileExists(atPath: dir + "/b/t.wav"))

        // A command that names the paths itself gets no copies of them appended: its last
        // command here would have appended the take's audio and the log again to all.jsonl.
        let inline = try Self.record(
            in: dir + "/c",
            extra: [
                "--on-take-closed", "printf '%s|' \"$@\" > '\(dir)/args'; cat \"$HEADROOM_LOG\" >> '\(dir)/all.jsonl'",
            ]
        )
        let log = inline.replacingOccurrences(of: ".wav", with: ".clips.jsonl")

        // An empty command is no hook: it turns off the one a config file set (run, "$@"
        // alone would have tried to execute the take).
        try "on_take_closed = \"touch '\(dir)/ran'\"\n".write(
            toFile: dir + "/h.toml",
            atomically: true,
            encoding: .utf8
        )
        for (i, extra) in [["--config", dir + "/h.toml", "--on-take-closed", ""], ["--on-take-closed", " "]]
            .enumerated()
        {
            let r = try run(
                headroomBinary,
                ["record", "-D", "testcap", "--duration", "1", "--dir", dir + "/d\(i)", "--name", "t"] + extra,
                environment: FileRig(bytes: Material(frames: 48000, channels: 2).bytes("S24_3LE")).environment
            )
            #expect(r.status == 0 && !r.stderr.contains("--on-take-closed"), "\(r.stderr)")
            #expect(FileManager.default.fileExists(atPath: dir + "/d\(i)/t.wav"))
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/ran"))
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: dir + "/all.jsonl"))
                == Data(contentsOf: URL(fileURLWithPath: log))
        )
        #expect(try String(contentsOfFile: dir + "/args", encoding: .utf8) == "\(inline)|\(log)|")
    }

    @Test(
        "a take whose recorder was killed still names its channels and itself (iXML in its first header) and has no speaker positions: analyze shows the names, and renamed, review pairs it with its log; WAV and RF64",
        .serialized,  // one JACK rig at a time: the cases of a test run in parallel otherwise
        arguments: ["wav", "rf64"]
    )
    func killedTakeCarriesNames(fileFormat: String) throws {
        let r = try RigRecording(
            "story-killed-\(fileFormat)",
            seconds: 4,
            arguments: ["--format", "FLOAT_LE", "--file-format", fileFormat, "--name", "t", "--names", "Boom,Lav 2"]
        )
        defer { r.stop() }
        #expect(waitForAudio(in: r.out, seconds: 1.5, ending: "." + fileFormat))
        kill(r.recorder.pid, SIGKILL)
        _ = r.recorder.wait(seconds: 10)
        let take = r.out + "/t." + fileFormat
        let order = try Self.chunkOrder(take)
        #expect(order.contains("iXML") && order.firstIndex(of: "iXML")! < order.firstIndex(of: "data")!, "\(order)")
        #expect(!order.contains("cue "), "\(order)")  // what only the end can give, it does not have
        // No speaker positions (libsndfile writes "stereo" into each header it writes).
        let fmt = try #require(try Self.chunks(take)["fmt "])
        #expect(Self.int16(fmt, 0) == -2 && fmt[fmt.startIndex + 20..<fmt.startIndex + 24].allSatisfy { $0 == 0 })
        let probe = try run("/usr/bin/ffprobe", ["-v", "error", "-show_entries", "stream=channel_layout", take])
        #expect(!probe.stdout.contains("stereo"), "\(probe.stdout)")
        // What a person sees: analyze, given no --names, names the channels from the take.
        let analyzed = try headroom("analyze", take)
        #expect(analyzed.status == 0, "\(analyzed.stderr)")
        for name in ["Boom", "Lav 2"] {
            #expect(analyzed.stdout.contains(name), "\(analyzed.stdout)")
        }
        // Renamed in a file manager after the session, it still finds its log by the name it
        // carries: one row, cut off, not a take without a log and a log without its take.
        let renamed = r.out + "/verse vox 3." + fileFormat
        #expect(rename(take, renamed) == 0)
        let reviewed = try headroom("review", "--json", r.out)
        let rows = reviewed.jsonLines
        #expect(rows.count == 1, "\(reviewed.stdout)\n\(reviewed.stderr)")
        #expect(rows.first?["file"] as? String == renamed, "\(rows)")
        #expect(rows.first?["log"] as? String == r.out + "/t.clips.jsonl", "\(rows)")
        #expect(rows.first?["log_state"] as? String == "cut_off", "\(rows)")
    }

    @Test(
        "takes are named and dated by the system's clock as each begins: a clock set while recording (NTP at boot, on a recorder with no clock of its own) names the takes after it by the right day, and their logs and bext say so"
    )
    func takesFollowTheClock() throws {
        // The recorder's clock starts three days behind, as a Raspberry Pi's does until NTP
        // sets it (libfaketime, which reads the file again at every call; the monotonic clock
        // is left alone).
        let clock = scratchDirectory() + "/clock"
        try "-3d\n".write(toFile: clock, atomically: true, encoding: .utf8)
        let r = try RigRecording(
            "story-clock",
            seconds: 4,
            arguments: ["--format", "FLOAT_LE", "--max-take-seconds", "1", "--name", "%Y-%m-%d/take-%H%M%S"],
            environment: [
                "LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                "FAKETIME_TIMESTAMP_FILE": clock,
                "FAKETIME_NO_CACHE": "1",
                "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            ],
            // Through a C program: started with libfaketime preloaded straight from this
            // process (or from python3, or a shell's `&`), the recorder saw no arguments and
            // printed the overview; through env (or timeout, or strace) it records.
            through: "/usr/bin/env"
        )
        defer { r.stop() }
        // libfaketime's shared clock, made in /dev/shm by the first process it is loaded in (env,
        // which becomes the recorder), is left there by the exec: removed once the recorder has
        // ended (stopped by its pid if an expectation failed first).
        defer {
            if r.recorder.wait(seconds: 0) == nil { kill(r.recorder.pid, SIGKILL) }
            if r.recorder.wait(seconds: 10) != nil {
                for name in ["faketime_shm_", "sem.faketime_sem_"] { unlink("/dev/shm/\(name)\(r.recorder.pid)") }
            }
        }
        let day = DateFormatter()
        day.dateFormat = "yyyy-MM-dd"
        day.timeZone = .current
        let behind = r.out + "/" + day.string(from: Date().addingTimeInterval(-3 * 86400))
        let today = r.out + "/" + day.string(from: Date())
        #expect(waitForFiles(in: behind, ending: ".wav", count: 1), "\(r.recorder.stderr)")
        // NTP sets the clock.
        try "+0\n".write(toFile: clock, atomically: true, encoding: .utf8)
        #expect(waitForFiles(in: today, ending: ".wav", count: 2), "\(r.recorder.stderr)")
        kill(r.recorder.pid, SIGTERM)
        #expect(r.recorder.wait(seconds: 20) == 0, "\(r.recorder.stderr)")
        let stamps = ISO8601DateFormatter()
        stamps.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let taken = files(in: today, ending: ".wav")
        #expect(taken.count >= 2)
        for take in taken {
            let header = try #require(logLines(take.replacingOccurrences(of: ".wav", with: ".clips.jsonl")).first)
            let stamp = try #require(header["started"] as? String)
            let started = try #require(stamps.date(from: stamp))
            #expect(abs(started.timeIntervalSinceNow) < 60, "\(take): started \(started)")
            var info = SF_INFO()
            let file = try #require(sf_open(take, Int32(SFM_READ), &info))
            defer { sf_close(file) }
            var bext = SF_BROADCAST_INFO()
            _ = sf_command(file, Int32(SFC_GET_BROADCAST_INFO), &bext, Int32(MemoryLayout<SF_BROADCAST_INFO>.size))
            let date = withUnsafeBytes(of: &bext.origination_date) { String(decoding: $0.prefix(10), as: UTF8.self) }
            #expect(date == (today as NSString).lastPathComponent, "\(take)")
        }
    }

    @Test(
        "a recorder started where a killed one recorded finishes the take it left (its last second counted in, its cue markers and bext loudness, --on-take-closed with HEADROOM_COMPLETE=0), once, in --name's dated folders, and never a take another recorder is recording"
    )
    func recorderFinishesKilledTake() throws {
        // Channel 1 clips every 0.25 s: events for the cue markers. Takes go a folder a day.
        let named = ["--name", "%Y-%m-%d/t"]
        let r = try RigRecording(
            "story-finish-killed",
            seconds: 4,
            clipEvery: 12000,
            arguments: ["--format", "FLOAT_LE"] + named
        )
        defer { r.stop() }
        let hooks = r.dir + "/hooks.txt"
        let hook = ["--on-take-closed", "echo \"$HEADROOM_TAKE $HEADROOM_COMPLETE\" >> \(hooks)"]
        func takes() -> [String] {
            (FileManager.default.enumerator(atPath: r.out)?.allObjects as? [String] ?? []).filter {
                $0.hasSuffix(".wav")
            }.sorted().map { r.out + "/" + $0 }
        }
        var waited = Date().addingTimeInterval(20)
        while takes().isEmpty && Date() < waited { usleep(50_000) }
        let killed = try #require(takes().first)
        #expect(waitForAudio(in: (killed as NSString).deletingLastPathComponent, seconds: 1.5))
        // Killed once its file holds at least 0.1 s past what its header counts.
        let found = stopLeavingUncounted(r.recorder.pid, take: killed, frames: 4800)
        kill(r.recorder.pid, SIGKILL)
        _ = r.recorder.wait(seconds: 10)
        let uncounted = try #require(found)
        let total = uncounted.countedFrames + uncounted.frames
        let folder = (killed as NSString).deletingLastPathComponent
        let shown = (folder as NSString).lastPathComponent + "/t.wav"

        // The service restarts: a recorder in the same folder finishes the killed take while it
        // records its own, and its hook ships it, saying it is not complete.
        let cwd = r.dir + "/restarted"
        try FileManager.default.createDirectory(atPath: cwd, withIntermediateDirectories: true)
        let restarted = try BackgroundRecorder(
            ["record", "--device", "testlive", "--channels", "2", "--dir", r.out, "--format", "FLOAT_LE"]
                + ["--name", "%Y-%m-%d/live"] + hook,
            environment: r.rig.environment,
            directory: cwd
        )
        waited = Date().addingTimeInterval(20)
        while !((try? String(contentsOfFile: hooks, encoding: .utf8)) ?? "").contains(killed) && Date() < waited {
            usleep(50_000)
        }
        #expect(try String(contentsOfFile: hooks, encoding: .utf8) == "\(killed) 0\n")
        var info = SF_INFO()
        if let file = sf_open(killed, Int32(SFM_READ), &info) { sf_close(file) }
        #expect(Int(info.frames) == total, "\(info.frames) frames read, \(total) written")
        let order = try Self.chunkOrder(killed)
        #expect(order.firstIndex(of: "data")! < (order.firstIndex(of: "cue ") ?? -1), "\(order)")
        let cues = try RIFFChunks(path: killed).cuePoints
        #expect(cues > 0)
        // bext version 2 with the loudness review measures, as a take its recorder closed.
        let bext = try #require(try Self.chunks(killed)["bext"])
        #expect(Self.int16(bext, 346) == 2)
        try Self.expectBextLoudness(bext, of: killed)

        // Stopped with audio past its header's count, the live take looks like a killed one
        // but for its lock: a third recorder started now (on a device of its own: the JACK
        // server waits for the stopped one) leaves it as it is, and does not finish the
        // killed take again.
        let live = try #require(takes().first { $0.hasSuffix("/live.wav") })
        #expect(stopLeavingUncounted(restarted.pid, take: live, frames: 480) != nil)
        let before = try Data(contentsOf: URL(fileURLWithPath: live))
        let killedBefore = try Data(contentsOf: URL(fileURLWithPath: killed))
        let device = FileRig(bytes: Material(frames: 48000, channels: 2).bytes("S24_3LE"))
        let third = try run(
            headroomBinary,
            ["record", "--device", "testcap", "--channels", "2", "--dir", r.out, "--headless", "--duration", "0.5"]
                + named + hook,
            environment: device.environment
        )
        #expect(third.status == 0, "\(third.stderr)")
        let after = try Data(contentsOf: URL(fileURLWithPath: live))
        #expect(after == before, "the live take is untouched: \(before.count) bytes before, \(after.count) after")
        #expect(try Data(contentsOf: URL(fileURLWithPath: killed)) == killedBefore)
        #expect(!third.stderr.contains("killed"), "\(third.stderr)")
        kill(restarted.pid, SIGCONT)
        kill(restarted.pid, SIGINT)
        #expect(restarted.wait(seconds: 20) == 0, "\(restarted.stderr)")
        let integrated = try #require(
            (try headroom("review", "--json", killed).jsonLines.first?["programme"] as? [String: Any])?[
                "integrated_lufs"
            ] as? Double
        )
        let said = String(
            format:
                "%@: left cut off by a recorder that was killed; counted in the %.3f s written after its header was last brought up to date (it holds %@), wrote %@ and its loudness into bext (%.1f LUFS)\n",
            shown,
            Double(uncounted.frames) / 48000,
            EventText.timecode(seconds: Double(total) / 48000),
            KilledTakes.cueMarkers(cues),
            integrated
        )
        #expect(restarted.stderr.contains(said), "\(restarted.stderr)")
        // Each take's hook ran once: the killed one's as not complete, the third recorder's
        // as complete, the live one's when its own recorder closed it.
        let ran = try String(contentsOfFile: hooks, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(ran.count == 3, "\(ran)")
        #expect(Set(ran.map { $0.dropLast(2) }) == ["\(killed)", "\(folder)/live.wav", "\(folder)/t-2.wav"], "\(ran)")
        #expect(ran.contains("\(killed) 0") && ran.contains("\(folder)/t-2.wav 1"), "\(ran)")
        #expect(
            logLines(live.replacingOccurrences(of: ".wav", with: ".clips.jsonl")).last?["type"] as? String == "summary"
        )
    }

    @Test(
        "a hook that hangs (an rsync to a server gone) never keeps the recorder: it says it waits, Ctrl-C leaves it running, SIGTERM stops it, it holds none of the recorder's files"
    )
    func hangingHook() throws {
        let rig = FileRig(bytes: Material(frames: 48000, channels: 2).bytes("S24_3LE"))
        let recorder = try BackgroundRecorder(
            [
                "record", "-D", "testcap", "--duration", "1", "--dir", rig.directory + "/takes", "--name", "t",
                "--on-take-closed", "exec sleep 600 # $1",
            ],
            environment: rig.environment,
            directory: rig.directory
        )
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline && !recorder.stderr.contains("waiting for --on-take-closed") { usleep(50_000) }
        #expect(
            recorder.stderr.contains("waiting for --on-take-closed to finish (Ctrl-C leaves it running)\n"),
            "\(recorder.stderr)"
        )
        kill(recorder.pid, SIGINT)
        #expect(recorder.wait(seconds: 10) == 0, "\(recorder.stderr)")
        // The hook is left running, named with its pid; it is this test's to stop.
        let said = "headroom: left --on-take-closed running for t.wav (pid "
        let pid = try #require(pidNamed(in: recorder.stderr, lineStartingWith: said), "\(recorder.stderr)")
        #expect(kill(pid, 0) == 0, "the hook still runs")
        // It holds stdin, stdout and stderr only: not the take, its log or their locks, the
        // device, nor the descriptor this test's Process watches to see the recorder end.
        let held = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").sorted()
        #expect(held == ["0", "1", "2"], "\(held)")
        // SIGTERM stops it (systemd's stop, a hook's own `timeout`): the recorder's blocked and
        // ignored signals are not the hook's.
        kill(pid, SIGTERM)
        func gone() -> Bool {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
            return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
        }
        let stopBy = Date().addingTimeInterval(5)
        while !gone() && Date() < stopBy { usleep(20_000) }
        #expect(gone(), "SIGTERM stops the hook")
        if !gone() { kill(pid, SIGKILL) }
        #expect(recorder.stderr.contains("\(said)\(pid)); what it ends with is not reported\n"))
        #expect(recorder.stderr.contains("headroom: take \(rig.directory)/takes/t.wav (log "))
        let log = logLines(rig.directory + "/takes/t.clips.jsonl")
        #expect(log.last?["type"] as? String == "summary" && log.last?["complete"] as? Bool == true)
    }

    @Test(
        "hooks run one at a time, in the order the takes closed: one that hangs holds only those after it and says so, never the recorder's descriptors; at the end those still waiting are named"
    )
    func hooksInTurn() throws {
        let rig = FileRig.tone().rig
        let ran = rig.directory + "/ran"
        // The hooks that sleep write their pids here, to be stopped whatever the test finds.
        let sleepers = rig.directory + "/sleepers"
        defer {
            let pids = (try? String(contentsOfFile: sleepers, encoding: .utf8)) ?? ""
            for pid in pids.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
        }
        let options = [
            "record", "-D", "testcap", "--rate", "8000", "-c", "1", "--format", "S16_LE", "--max-take-seconds", "1",
            "--name", "t-%n",
        ]
        // The first take's upload hangs (a server gone); the others say they ran.
        let recorder = try BackgroundRecorder(
            options + [
                "--duration", "15", "--dir", rig.directory + "/a", "--on-take-closed",
                "case \"$1\" in *t-001.wav) echo $$ >> '\(sleepers)'; exec sleep 600;; esac; echo \"$1\" >> '\(ran)'",
            ],
            environment: rig.environment,
            directory: rig.directory
        )
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline && !recorder.stderr.contains("10 takes wait for it") { usleep(20_000) }
        let said = "--on-take-closed has not finished for t-001.wav (pid "
        let hung = try #require(pidNamed(in: recorder.stderr, lineStartingWith: said), "\(recorder.stderr)")
        #expect(recorder.stderr.contains("\(said)\(hung)): 10 takes wait for it (one command runs at a time)\n"))
        // One command at a time: the hung one is the recorder's only child, and none after it ran.
        let children = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(recorder.pid)/task").flatMap {
            try String(contentsOfFile: "/proc/\(recorder.pid)/task/\($0)/children", encoding: .utf8).split(
                separator: " "
            )
        }
        #expect(children == ["\(hung)"], "\(children)")
        #expect(!FileManager.default.fileExists(atPath: ran))
        // Stopped (by hand, or its own timeout), the rest run in order and the recorder ends.
        kill(hung, SIGTERM)
        #expect(recorder.wait(seconds: 30) == 0, "\(recorder.stderr)")
        #expect(
            recorder.stderr.contains("--on-take-closed was killed by signal 15 for t-001.wav\n"),
            "\(recorder.stderr)"
        )
        let order = try String(contentsOfFile: ran, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(order == files(in: rig.directory + "/a", ending: ".wav").dropFirst().map { $0 }, "\(order)")
        #expect(order.count == 14)

        // Told to end while takes wait their turn: the one running is left running, the
        // others are named, never run.
        let out = rig.directory + "/b"
        let ending = try BackgroundRecorder(
            options + [
                "--duration", "5", "--dir", out, "--on-take-closed", "echo $$ >> '\(sleepers)'; exec sleep 600 # $1",
            ],
            environment: rig.environment,
            directory: rig.directory
        )
        let waitBy = Date().addingTimeInterval(20)
        while Date() < waitBy && !ending.stderr.contains("waiting for --on-take-closed") { usleep(20_000) }
        kill(ending.pid, SIGINT)
        #expect(ending.wait(seconds: 10) == 0, "\(ending.stderr)")
        let left = "headroom: left --on-take-closed running for t-001.wav (pid "
        #expect(pidNamed(in: ending.stderr, lineStartingWith: left) != nil, "\(ending.stderr)")
        for n in 2...5 {
            #expect(
                ending.stderr.contains(
                    "headroom: --on-take-closed not run for \(out)/t-00\(n).wav: it waited its turn when the recorder was told to end\n"
                ),
                "\(ending.stderr)"
            )
        }
    }
}
