import Foundation
import Testing

@Suite("Help text")
struct HelpTests {
    @Test("the root help lists only the commands that work, and the exit codes, word for word")
    func rootHelp() throws {
        let r = try headroom("--help")
        #expect(r.status == 0)
        #expect(
            r.stdout == """
                OVERVIEW: A recording-input guard for ALSA capture: peak margin, clip warnings
                and gain proposals per channel.

                Exit codes: 0 success, 1 --fail-on-clip tripped, 64 usage or config error, 66
                input missing or unreadable, 69 device unavailable, 73 cannot create output, 74
                I/O error.

                USAGE: headroom <subcommand>

                OPTIONS:
                  --version               Show the version.
                  -h, --help              Show help information.

                SUBCOMMANDS:
                  record                  Record takes from an ALSA capture device with live
                                          meters, clip warnings and a clip log per take.
                  calibrate               Listen during soundcheck and propose how many dB to
                                          turn each preamp up or down.
                  review                  Summarize takes and their clip logs (table, events,
                                          JSON, Audacity labels, HTML).
                  analyze                 Run the analyzer over audio files (anything
                                          libsndfile reads).
                  devices                 List capture PCMs and cards with the formats, rates
                                          and channel counts each accepts.

                  See 'headroom help <subcommand>' for detailed help.

                """
        )
    }

    @Test("arecord's short options work; --format and --file-format are checked by the parser, which lists the values")
    func arecordHabits() throws {
        var m = Material(frames: 96000, channels: 4)
        m.clip(channel: 3, frame: 5000, length: 3)
        let rig = FileRig(bytes: m.bytes("S24_3LE"))
        let out = rig.directory + "/takes"
        let r = try headroom(
            "record",
            "-D",
            "testcap",
            "-c",
            "4",
            "-r",
            "48000",
            "-f",
            "S24_3LE",
            "-d",
            "2",
            "--dir",
            out,
            environment: rig.environment
        )
        #expect(r.status == 0, "\(r.stderr)")
        let take = try #require(files(in: out, ending: ".wav").first)
        #expect(firstDifference(readAudio(take)?.samples, m.expectedInts("S24_3LE")) == nil)
        let format = try headroom("record", "--format", "S23")
        #expect(format.status == 64)
        #expect(
            format.stderr.contains(
                "Please provide one of 'S16_LE', 'S24_3LE', 'S24_LE', 'S32_LE' or 'FLOAT_LE'"
            )
        )
        let container = try headroom("record", "--file-format", "ogg")
        #expect(container.status == 64)
        #expect(container.stderr.contains("'wav', 'rf64', 'w64', 'flac' or 'caf'"))
        // Completion offers the values.
        let bash = try headroom("--generate-completion-script", "bash")
        #expect(bash.stdout.contains("S24_3LE") && bash.stdout.contains("rf64"))
    }

    @Test("config files: XDG_CONFIG_DIRS, then XDG_CONFIG_HOME, then ./headroom.toml, each over the last; flags win")
    func configPrecedence() throws {
        let dir = scratchDirectory()
        for (folder, text) in [
            ("/site/headroom", "target_peak = -10\nmargin = 4\nclip_run = 5\n"),
            ("/home/headroom", "target_peak = -8\n"), ("/work", "margin = 5\n"),
        ] {
            try FileManager.default.createDirectory(atPath: dir + folder, withIntermediateDirectories: true)
            try text.write(toFile: dir + folder + "/headroom.toml", atomically: true, encoding: .utf8)
        }
        writeAudio(dir + "/a.wav", samples: [Int32](repeating: 0, count: 4800), channels: 2)
        let env = ["XDG_CONFIG_DIRS": dir + "/site", "XDG_CONFIG_HOME": dir + "/home"]
        let r = try headroom(
            "analyze",
            "--json",
            "--clip-run",
            "6",
            dir + "/a.wav",
            cwd: dir + "/work",
            environment: env
        )
        let settings = try #require(r.jsonLines.first?["settings"] as? [String: Any])
        #expect(settings["target_peak"] as? Double == -8)
        #expect(settings["margin"] as? Double == 5)
        #expect(settings["clip_run"] as? Int == 6)
        try "margin = 3\nclip_lvl = 2\n".write(toFile: dir + "/work/headroom.toml", atomically: true, encoding: .utf8)
        let bad = try headroom("analyze", dir + "/a.wav", cwd: dir + "/work", environment: env)
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("headroom.toml:2: unknown key \"clip_lvl\""), "\(bad.stderr)")
    }

    @Test(
        "every usage error is one line on stderr, as SPEC asks of every error: the parser's, validate()'s and headroom's own"
    )
    func oneLineUsageErrors() throws {
        let cases: [([String], String)] = [
            (["record", "--bogus"], "headroom: unknown option '--bogus'; see 'headroom record --help'"),
            (
                ["record", "--rate", "abc"],
                "headroom: the value 'abc' is invalid for '--rate <hz>': give Hz (48000) or kHz (48k, 44.1k); see 'headroom record --help'"
            ),
            (["analyze"], "headroom: missing expected argument '<file> ...'; see 'headroom analyze --help'"),
            (
                ["review", "--jobs", "0", "x"],
                "headroom: --jobs must be 1 or more (got 0); see 'headroom review --help'"
            ),
            (
                ["calibrate", "--seconds", "0"],
                "headroom: --seconds must be more than 0 and at most 86400 (a day); got 0; see 'headroom calibrate --help'"
            ),
            (
                ["bogus"],
                "headroom: 'bogus' is not a command (record, calibrate, review, analyze, devices); see 'headroom --help'"
            ),
            // A slip of the keyboard, the start of a command, another form of its word.
            (
                ["recrod", "--duration", "5"],
                "headroom: 'recrod' is not a command; did you mean 'record'? see 'headroom --help'"
            ),
            (["re"], "headroom: 're' is not a command; did you mean 'record' or 'review'? see 'headroom --help'"),
            (
                ["analyse", "x.wav"],
                "headroom: 'analyse' is not a command; did you mean 'analyze'? see 'headroom --help'"
            ),
            (
                ["calibration"],
                "headroom: 'calibration' is not a command; did you mean 'calibrate'? see 'headroom --help'"
            ),
            (["Devices"], "headroom: 'Devices' is not a command; did you mean 'devices'? see 'headroom --help'"),
            (["help", "recrod"], "headroom: 'recrod' is not a command; did you mean 'record'? see 'headroom --help'"),
            // An option a letter off: the parser's guess, in the same sentence.
            (
                ["record", "--chanels", "3"],
                "headroom: unknown option '--chanels'; did you mean '--channels'? see 'headroom record --help'"
            ),
            // A file named like a command is not the command the hint names.
            (
                ["analyze", "--jobs", "x", "record"],
                "headroom: the value 'x' is invalid for '--jobs <n>'; see 'headroom analyze --help'"
            ),
            (
                ["record", "--rate", "4800"],
                "headroom: --rate must be between 8000 and 384000 Hz; got 4800; see 'headroom record --help'"
            ),
            // A negative number is a value out of range, not a missing one.
            (
                ["record", "--rate", "-48000"],
                "headroom: --rate must be between 8000 and 384000 Hz; got -48000; see 'headroom record --help'"
            ),
            (
                ["record", "--duration", "-5"],
                "headroom: --duration must be more than 0 seconds and at most 31622400 (366 days); got -5; see 'headroom record --help'"
            ),
            (
                ["analyze", "--clip-hold", "-1", "x.wav"],
                "headroom: --clip-hold must be between 0 and 60 seconds; got -1; see 'headroom analyze --help'"
            ),
            (
                ["review", "-j", "-2", "x"],
                "headroom: --jobs must be 1 or more (got -2); see 'headroom review --help'"
            ),
            // The parser's own sentence ends in a full stop; the hint follows it without one.
            (
                ["record", "--format", "S8"],
                "headroom: the value 'S8' is invalid for '--format <format>'. Please provide one of 'S16_LE', 'S24_3LE', 'S24_LE', 'S32_LE' or 'FLOAT_LE'; see 'headroom record --help'"
            ),
        ]
        // A take or a folder of them given with no command: review's.
        let dir = scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let take = dir + "/take 1.wav"
        #expect(FileManager.default.createFile(atPath: take, contents: Data()))
        let named: [([String], String)] = [
            (
                [take],
                "headroom: '\(take)' is not a command; to review it: headroom review '\(take)'; see 'headroom --help'"
            ),
            ([dir], "headroom: '\(dir)' is not a command; to review it: headroom review \(dir); see 'headroom --help'"),
        ]
        for (arguments, line) in cases + named {
            let r = try run(headroomBinary, arguments)
            #expect(r.status == 64, "\(arguments)")
            #expect(r.stderr == line + "\n", "\(arguments)")
            #expect(r.stdout.isEmpty, "\(arguments)")
        }
        // Help and --version are not errors: stdout, exit 0.
        let help = try headroom("record", "--help")
        #expect(help.status == 0 && help.stdout.hasPrefix("OVERVIEW: Record takes") && help.stderr.isEmpty)
        let helpReview = try headroom("help", "review")
        #expect(helpReview.status == 0 && helpReview.stdout.hasPrefix("OVERVIEW: Summarize takes"))
        let version = try headroom("--version")
        #expect(version.status == 0 && version.stdout == "0.1.0\n")
    }

    @Test(
        "arecord's, sox's and ffmpeg's habits get headroom's words: -o, -t, --max-file-time, a take file or a device named after the options"
    )
    func otherRecordersHabits() throws {
        let cases: [([String], String)] = [
            (["record", "-o", "x"], "unknown option '-o'; did you mean '--dir'?"),
            (["record", "--output", "takes"], "unknown option '--output'; did you mean '--dir'?"),
            (["record", "-t", "wav"], "unknown option '-t'; did you mean '--file-format'?"),
            (
                ["record", "--max-file-time", "60"],
                "unknown option '--max-file-time'; did you mean '--max-take-seconds'?"
            ),
            (["record", "--period-size", "256"], "unknown option '--period-size'; did you mean '--period-frames'?"),
            (["record", "--sample-rate", "44100"], "unknown option '--sample-rate'; did you mean '--rate'?"),
            (["record", "-q"], "unknown option '-q'; did you mean '--headless'?"),
            (["record", "--seconds", "5"], "unknown option '--seconds'; did you mean '--duration'?"),
            // The same word means the other command's option where it has its own.
            (["calibrate", "--duration", "20"], "unknown option '--duration'; did you mean '--seconds'?"),
            // A unit typed as a word of its own.
            (
                ["record", "--margin", "3", "dB"],
                "unexpected argument 'dB'; a unit goes against its number: --margin 3dB"
            ),
            (
                ["calibrate", "--target-peak", "-6", "dB", "FS"],
                "2 unexpected arguments: 'dB', 'FS'; a unit goes against its number: --target-peak -6dBFS"
            ),
            (
                ["record", "--rate", "44.1", "kHz"],
                "unexpected argument 'kHz'; a unit goes against its number: --rate 44.1kHz"
            ),
            // Where files are the arguments, the unit is taken for one, and is not.
            (
                ["analyze", "--margin", "3", "dB", "mix.wav"],
                "dB is not a file: a unit goes against its number: --margin 3dB"
            ),
            (
                ["review", "--target-peak", "-6", "dB", "TP", "takes"],
                "dB is not a file: a unit goes against its number: --target-peak -6dBTP"
            ),
            // arecord's file argument, and ffmpeg's -o with one: the options that name takes.
            (
                ["record", "-D", "hw:1", "song.wav"],
                "unexpected argument 'song.wav'; record names its takes itself: --name song"
            ),
            (
                ["record", "/mnt/card/Day 2/verse.flac"],
                "unexpected argument '/mnt/card/Day 2/verse.flac'; record names its takes itself: --dir '/mnt/card/Day 2' --name verse --file-format flac"
            ),
            (
                ["record", "-o", "takes/song.caf"],
                "unknown option '-o'; record names its takes itself: --dir takes --name song --file-format caf"
            ),
            (
                ["record", "song.mp3"],
                "unexpected argument 'song.mp3'; record names its takes itself (--dir, --name) and writes wav, rf64, w64, flac or caf"
            ),
            // A device named without -D.
            (["record", "hw:1"], "unexpected argument 'hw:1'; did you mean '--device hw:1'?"),
            (
                ["calibrate", "plughw:CARD=USB,DEV=0"],
                "unexpected argument 'plughw:CARD=USB,DEV=0'; did you mean '--device plughw:CARD=USB,DEV=0'?"
            ),
            (["record", "pipewire"], "unexpected argument 'pipewire'; did you mean '--device pipewire'?"),
            // A file given to calibrate: analyze reads files.
            (
                ["calibrate", "soundcheck.wav"],
                "unexpected argument 'soundcheck.wav'; calibrate listens to a device; for a file's levels: headroom analyze soundcheck.wav"
            ),
            // Nothing better to say than the parser: its sentence alone.
            (["record", "foo"], "unexpected argument 'foo'"),
            (["review", "--output", "x"], "unknown option '--output'"),
        ]
        // review's one folder taken by --html as the report's name.
        let dir = scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let folder = [
            (
                ["review", "--html", dir],
                "missing expected argument '<path> ...'; --html takes the report's file name, and \(dir) is a folder: headroom review --html report.html \(dir)"
            )
        ]
        for (arguments, sentence) in cases + folder {
            let r = try run(headroomBinary, arguments)
            let command = arguments[0]
            let line = "headroom: \(sentence)\(sentence.hasSuffix("?") ? " " : "; ")see 'headroom \(command) --help'\n"
            #expect(r.status == 64, "\(arguments)")
            #expect(r.stderr == line, "\(arguments)")
        }
    }

    @Test("each analyzer flag's help comes from its one declaration, and a bad value names the flag")
    func analyzerFlags() throws {
        let help = try headroom("analyze", "--help").stdout.replacingOccurrences(of: "\n", with: " ")
            .split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        #expect(help.contains("--target-peak <dBTP> Where peaks should sit (default -6 dBTP)."), "\(help)")
        #expect(
            help.contains("--clip-hold <seconds> Overs closer than this merge into one event (default 0.1 seconds).")
        )
        let bad = try headroom("analyze", "--clip-hold", "61", "x.wav")
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("--clip-hold must be between 0 and 60 seconds"))
    }

    static let root = repositoryRoot

    @Test("every option a command's --help lists is in docs/guide.md, so the guide keeps up with the commands")
    func guideCoversEveryOption() throws {
        let guide = try String(contentsOfFile: Self.root + "/docs/guide.md", encoding: .utf8)
        for command in ["record", "calibrate", "review", "analyze", "devices"] {
            let help = try headroom(command, "--help").stdout
            let options = help.split(separator: "\n").compactMap { line -> String? in
                let words = line.split(separator: " ").map(String.init)
                // "  --margin <dB>  ..." or "  -D, --device <pcm>  ...": the long name.
                guard let long = words.first(where: { $0.hasPrefix("--") }), line.hasPrefix("  -") else { return nil }
                return long.trimmingCharacters(in: CharacterSet(charactersIn: ","))
            }
            #expect(options.count > 1, "\(command)")
            for option in options where option != "--help" && option != "--version" {
                #expect(guide.contains("`\(option)`") || guide.contains("`\(option) "), "\(command) \(option)")
            }
        }
    }

    @Test("the README's and docs' links lead to files that are there, and to headings those files have")
    func documentLinks() throws {
        let documents =
            ["README.md"]
            + (try FileManager.default.contentsOfDirectory(atPath: Self.root + "/docs")).filter { $0.hasSuffix(".md") }
            .map { "docs/" + $0 }
        let link = /\]\(([^)\s]+)\)/
        var checked = 0
        for document in documents {
            let text = try String(contentsOfFile: Self.root + "/" + document, encoding: .utf8)
            let folder = (document as NSString).deletingLastPathComponent
            for match in text.matches(of: link) {
                let target = String(match.1)
                if target.hasPrefix("http://") || target.hasPrefix("https://") { continue }
                let parts = target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).map(
                    String.init
                )
                let file = parts[0].isEmpty ? document : (folder.isEmpty ? parts[0] : folder + "/" + parts[0])
                let path = (Self.root + "/" + file as NSString).standardizingPath
                #expect(FileManager.default.fileExists(atPath: path), "\(document): \(target)")
                if parts.count == 2, let linked = try? String(contentsOfFile: path, encoding: .utf8) {
                    #expect(Self.anchors(linked).contains(parts[1]), "\(document): \(target)")
                }
                checked += 1
            }
        }
        #expect(checked > 20)
    }

    /// The anchors GitHub gives a Markdown file's headings: lower case, spaces to hyphens,
    /// punctuation other than hyphens dropped.
    static func anchors(_ markdown: String) -> Set<String> {
        var inCode = false
        var result = Set<String>()
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") { inCode.toggle() }
            guard !inCode, line.hasPrefix("#") else { continue }
            let title = line.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces).lowercased()
            result.insert(
                String(
                    title.compactMap { c -> Character? in
                        c == " " ? "-" : (c.isLetter || c.isNumber || c == "-" || c == "_") ? c : nil
                    }
                )
            )
        }
        return result
    }
}
