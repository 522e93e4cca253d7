import Foundation
import Synchronization
import Testing

@testable import HeadroomCore

@Suite("Config file and settings")
struct ConfigTests {
    @Test("keys use the option names, with - or _; [channel.N] sets names and controls")
    func parse() throws {
        let text = """
            # soundcheck for the Tuesday session
            target-peak = -8
            clip_run = 4
            names = ["Kick", "Snare"]   # the rest stay numbered
            device = "hw:CARD=USB"

            [channel.3]
            name = "Vox"
            control = "Mic 3"
            """
        var settings = Settings()
        try settings.apply(ConfigFile.parse(text, path: "headroom.toml"))
        #expect(settings.analysis.targetPeakDBTP == -8)
        #expect(settings.analysis.clipRunSamples == 4)
        #expect(settings.names == ["Kick", "Snare", "Vox"])
        #expect(settings.controls == [2: "Mic 3"])
        #expect(settings.device == "hw:CARD=USB")
    }

    @Test(
        "[channel.N] stands beside channels = N; [channels.N] is still read, and beside channels = N is told how to write it"
    )
    func channelTables() throws {
        let text = """
            channels = 4
            names = ["Kick"]

            [channel.3]
            name = "Vox"
            control = "Mic 3"

            [channel.4]
            bogus = "x"
            """
        #expect(
            throws: HeadroomError(
                .usage,
                "t.toml:9: unknown key \"bogus\" in [channel.4]; a channel takes name and control"
            )
        ) {
            var settings = Settings()
            try settings.apply(ConfigFile.parse(text, path: "t.toml"))
        }
        // A setting written under a channel is said to be one for every channel, whatever its
        // value (it was "must be a quoted string" for a number); a name must be text.
        #expect(
            throws: HeadroomError(
                .usage,
                "t.toml:9: unknown key \"target_peak\" in [channel.4]; a channel takes name and control; target_peak applies to every channel: write it at the top, before any table"
            )
        ) {
            var settings = Settings()
            try settings.apply(
                ConfigFile.parse(
                    text.replacingOccurrences(of: "bogus = \"x\"", with: "target_peak = -3"),
                    path: "t.toml"
                )
            )
        }
        #expect(throws: HeadroomError(.usage, "t.toml:9: channel.4.name must be a quoted string, not a number")) {
            var settings = Settings()
            try settings.apply(
                ConfigFile.parse(text.replacingOccurrences(of: "bogus = \"x\"", with: "name = 3"), path: "t.toml")
            )
        }
        var settings = Settings()
        try settings.apply(ConfigFile.parse(text.replacingOccurrences(of: "bogus", with: "name"), path: "t.toml"))
        #expect(settings.channels == 4)
        #expect(settings.names == ["Kick", "", "Vox", "x"])
        #expect(settings.controls == [2: "Mic 3"])

        var old = Settings()
        try old.apply(ConfigFile.parse("[channels.2]\ncontrol = \"Mic 2\"\n", path: "o.toml"))
        #expect(old.controls == [1: "Mic 2"])

        #expect(
            throws: HeadroomError(
                .usage,
                "c.toml:3: a [channels.N] table cannot stand beside channels = N in TOML; write it as [channel.N]"
            )
        ) {
            _ = try ConfigFile.parse("channels = 2\n\n[channels.1]\nname = \"L\"\n", path: "c.toml")
        }
    }

    @Test("names past the channels recorded are said: counted where they run on, by channel where a config leaves gaps")
    func namesPastTheChannels() throws {
        var settings = Settings()
        settings.names = ["Kick", "Snare", "Vox"]
        #expect(
            settings.unusedNamesNote
                == "note: 3 channel names for 2 channels (Kick, Snare); to use all 3, add --channels 3"
        )
        settings.names = ["Kick", "Snare", ""]
        #expect(settings.unusedNamesNote == nil)
        try settings.apply(
            ConfigFile.parse("[channel.1]\nname = \"Vox\"\n[channel.9]\nname = \"Room\"", path: "a.toml")
        )
        #expect(
            settings.unusedNamesNote
                == "note: a name for channel 9 (Room), with 2 channels (Vox, Snare); to use it, add --channels 9"
        )
        settings.names = ["Vox", "", "", "", "Amb L", "Amb R"]
        settings.channels = 4
        #expect(
            settings.unusedNamesNote
                == "note: names for channels 5 and 6 (Amb L, Amb R), with 4 channels (Vox, 2, 3, 4); to use them, add --channels 6"
        )
        settings.channels = 6
        #expect(settings.unusedNamesNote == nil)
    }

    @Test("an unknown key is refused with the file, line and key")
    func unknownKey() {
        #expect(
            throws: HeadroomError(
                .usage,
                "a.toml:2: unknown key \"clip_lvl\"; did you mean clip_level? keys are the long option names, e.g. target_peak, clip_run, names, device"
            )
        ) {
            var settings = Settings()
            try settings.apply(ConfigFile.parse("margin = 3\nclip_lvl = -1\n", path: "a.toml"))
        }
    }

    @Test(
        "an unknown key that is a key in capitals (Target_Peak) or a letter or two off one (chanels) is named as the key meant"
    )
    func nearestKey() throws {
        for (typed, meant) in [
            ("Target_Peak", "target_peak"), ("Clip-Run", "clip_run"), ("chanels", "channels"),
            ("max_take_secs", nil), ("clip_lvl", "clip_level"), ("nmes", "names"), ("rat", "rate"), ("bogus", nil),
        ] as [(String, String?)] {
            #expect(Settings.nearestKey(typed) == meant, "\(typed)")
            var settings = Settings()
            let error = #expect(throws: HeadroomError.self) {
                try settings.apply(ConfigFile.parse("\(typed) = 1\n", path: "a.toml"))
            }
            #expect(
                error?.message.contains(meant.map { "did you mean \($0)? " } ?? "; keys are") == true,
                "\(error?.message ?? "")"
            )
        }
        #expect(
            Settings.slips("", "abc") == 3 && Settings.slips("kitten", "sitting") == 3
                && Settings.slips("recrod", "record") == 1
        )
        // Every key the list suggests is one the file takes: a wrong value is refused for its
        // value, never as an unknown key.
        for key in Settings.configKeys {
            var settings = Settings()
            do {
                try settings.apply(ConfigFile.parse("\(key) = [1, 2]\n", path: "k.toml"))
            } catch {
                #expect(!error.message.contains("unknown key"), "\(key): \(error.message)")
            }
        }
    }

    @Test(
        "the names a file carries in iXML, each at its INTERLEAVE_INDEX (else CHANNEL_INDEX), as field recorders write them; none from a track list that does not parse"
    )
    func carriedNames() {
        let soundDevices = """
            <?xml version="1.0" encoding="UTF-8"?>
            <BWFXML><IXML_VERSION>1.61</IXML_VERSION><PROJECT>Day 3</PROJECT>
            <TRACK_LIST><TRACK_COUNT>4</TRACK_COUNT>
            <TRACK><CHANNEL_INDEX>2</CHANNEL_INDEX><INTERLEAVE_INDEX>2</INTERLEAVE_INDEX><NAME>Boom</NAME></TRACK>
            <TRACK><CHANNEL_INDEX>1</CHANNEL_INDEX><INTERLEAVE_INDEX>1</INTERLEAVE_INDEX><NAME> Mix L </NAME></TRACK>
            <TRACK><CHANNEL_INDEX>3</CHANNEL_INDEX><NAME>Lav &amp; Talent</NAME></TRACK>
            <TRACK><CHANNEL_INDEX>4</CHANNEL_INDEX><NAME></NAME></TRACK>
            <TRACK><CHANNEL_INDEX>9</CHANNEL_INDEX><NAME>Beyond</NAME></TRACK>
            </TRACK_LIST><NOTE><NAME>not a track</NAME></NOTE></BWFXML>
            """
        #expect(
            CarriedNames.tracks(Data(soundDevices.utf8), channels: 4) == [0: "Mix L", 1: "Boom", 2: "Lav & Talent"]
        )
        // A recorder with tracks 3, 4, 7 and 8 armed writes a poly file of four channels, each
        // track at its interleave index, and a mono file of each track, at interleave index 1.
        let armed = """
            <BWFXML><TRACK_LIST><TRACK_COUNT>4</TRACK_COUNT>
            <TRACK><CHANNEL_INDEX>3</CHANNEL_INDEX><INTERLEAVE_INDEX>1</INTERLEAVE_INDEX><NAME>Boom</NAME></TRACK>
            <TRACK><CHANNEL_INDEX>4</CHANNEL_INDEX><INTERLEAVE_INDEX>2</INTERLEAVE_INDEX><NAME>Lav 1</NAME></TRACK>
            <TRACK><CHANNEL_INDEX>7</CHANNEL_INDEX><INTERLEAVE_INDEX>3</INTERLEAVE_INDEX><NAME>Lav 2</NAME></TRACK>
            <TRACK><CHANNEL_INDEX>8</CHANNEL_INDEX><INTERLEAVE_INDEX>4</INTERLEAVE_INDEX><NAME>Plant</NAME></TRACK>
            </TRACK_LIST></BWFXML>
            """
        #expect(
            CarriedNames.tracks(Data(armed.utf8), channels: 4) == [0: "Boom", 1: "Lav 1", 2: "Lav 2", 3: "Plant"]
        )
        let mono = """
            <BWFXML><TRACK_LIST><TRACK_COUNT>1</TRACK_COUNT><TRACK><CHANNEL_INDEX>7</CHANNEL_INDEX>
            <INTERLEAVE_INDEX>1</INTERLEAVE_INDEX><NAME>Lav 2</NAME></TRACK></TRACK_LIST></BWFXML>
            """
        #expect(CarriedNames.tracks(Data(mono.utf8), channels: 1) == [0: "Lav 2"])
        // A take's own track list, whatever its names hold (markup, a control character,
        // which XML does not allow: escaped as the terminal shows it).
        let written = TakeMetadata(
            names: ["Vox\u{1}", "A&B <DI>"],
            rate: 48000,
            bitDepth: 24,
            project: "Day\u{7}",
            takeName: "take-1",
            takeNumber: 1,
            timeReference: 0,
            fileUID: "X",
            loudness: nil,
            maxTruePeakDBTP: nil
        ).ixml
        #expect(CarriedNames.tracks(Data(written.utf8), channels: 2) == [0: "Vox\\x01", 1: "A&B <DI>"])
        #expect(CarriedNames.tracks(Data("<BWFXML><TRACK_LIST><TRACK>".utf8), channels: 2).isEmpty)
        #expect(CarriedNames.tracks(Data(), channels: 2).isEmpty)
        #expect(CarriedNames.read(path: "/nonexistent.wav", channels: 2).isEmpty)
    }

    @Test("a malformed value names the line")
    func malformed() {
        #expect(throws: HeadroomError.self) { try ConfigFile.parse("margin = three\n", path: "b.toml") }
        do {
            _ = try ConfigFile.parse("\n\nnames = [Kick]\n", path: "b.toml")
        } catch {
            #expect(error.code == .usage)
            #expect(error.message.hasPrefix("b.toml:3: "), "\(error.message)")
        }
    }

    @Test("a wrong type is refused with the key")
    func wrongType() {
        #expect(throws: HeadroomError(.usage, "c.toml:1: clip_run must be a whole number")) {
            var settings = Settings()
            try settings.apply(ConfigFile.parse("clip_run = 2.5", path: "c.toml"))
        }
    }

    @Test("full TOML: multi-line arrays, CRLF line ends, quoted commas, headless and wait_device")
    func fullTOML() throws {
        let text = [
            "# written on Windows", "names = [", "  \"Kick, in\",", "  'Snare',  # a literal string",
            "  \"Vox\",", "]", "margin = 4.5", "headless = true", "wait_device = true", "[channels.2]",
            "control = \"Mic 2\"",
        ].joined(separator: "\r\n")
        var settings = Settings()
        try settings.apply(ConfigFile.parse(text, path: "crlf.toml"))
        #expect(settings.names == ["Kick, in", "Snare", "Vox"])
        #expect(settings.analysis.marginDB == 4.5)
        #expect(settings.headless && settings.waitDevice)
        #expect(settings.controls == [1: "Mic 2"])
    }

    @Test("a wrong type names the file, the line, the key and what was found")
    func wrongTypeNamed() {
        #expect(throws: HeadroomError(.usage, "d.toml:3: device must be a quoted string, not a number")) {
            var settings = Settings()
            try settings.apply(ConfigFile.parse("margin = 3\n\ndevice = 7\n", path: "d.toml"))
        }
        #expect(throws: HeadroomError(.usage, "e.toml:2: headless must be true or false, not text")) {
            var settings = Settings()
            try settings.apply(ConfigFile.parse("\nheadless = \"yes\"\n", path: "e.toml"))
        }
    }

    @Test("the search order: /etc, then XDG_CONFIG_DIRS (first listed wins), XDG_CONFIG_HOME, ./headroom.toml")
    func searchOrder() {
        let paths = Settings.configSearchPaths(environment: [
            "HOME": "/home/ann", "XDG_CONFIG_DIRS": "/opt/site:/etc/xdg", "XDG_CONFIG_HOME": "/home/ann/.cfg",
        ])
        #expect(
            paths == [
                "/etc/headroom/headroom.toml", "/etc/xdg/headroom/headroom.toml", "/opt/site/headroom/headroom.toml",
                "/home/ann/.cfg/headroom/headroom.toml", "headroom.toml",
            ]
        )
        #expect(
            Settings.configSearchPaths(environment: ["HOME": "/home/ann"]) == [
                "/etc/headroom/headroom.toml", "/etc/xdg/headroom/headroom.toml",
                "/home/ann/.config/headroom/headroom.toml", "headroom.toml",
            ]
        )
    }

    @Test("one declaration per analyzer setting: config key, validation, log field and default agree")
    func oneDeclaration() throws {
        guard case .object(let fields) = ClipLog.settingsObject(AnalysisSettings()) else {
            Issue.record("settings is not an object")
            return
        }
        #expect(fields.map(\.0) == AnalysisSetting.all.map(\.key))
        for setting in AnalysisSetting.all {
            // The config file takes the key, and refuses a value past the range with its file
            // and line; validation (of what the flags set) names the flag.
            var settings = Settings()
            let inside = setting.range.upperBound
            try settings.apply(ConfigFile.parse("\(setting.key) = \(Int(inside))\n", path: "x.toml"))
            #expect(setting.get(settings.analysis) == inside)
            let outside = Int(setting.range.upperBound + 1)
            #expect(
                throws: HeadroomError(.usage, "x.toml:2: \(setting.key) must be \(setting.allowed); got \(outside)")
            ) {
                try settings.apply(ConfigFile.parse("\n\(setting.key) = \(outside)\n", path: "x.toml"))
            }
            setting.set(&settings.analysis, Double(outside))
            #expect(throws: SettingsError(key: setting.flag, message: "must be \(setting.allowed); got \(outside)")) {
                try settings.analysis.validate()
            }
        }
    }

    @Test(
        "a capture or record value out of range, or not one it takes, names the file, the line, what is allowed and the value"
    )
    func captureRanges() {
        let cases = [
            ("rate = 0", "rate must be between 8000 and 384000 Hz; got 0"),
            ("channels = 257", "channels must be between 1 and 256; got 257"),
            ("period_frames = 8", "period_frames must be between 16 and 65536 frames; got 8"),
            ("buffer_frames = 2000000", "buffer_frames must be between 64 and 1048576 frames; got 2000000"),
            ("duration = 0", "duration must be more than 0 seconds and at most 31622400 (366 days); got 0"),
            ("max_take_seconds = 0.5", "max_take_seconds must be between 1 and 31622400 seconds (366 days); got 0.5"),
            ("format = \"S8\"", "format must be one of S16_LE, S24_3LE, S24_LE, S32_LE, FLOAT_LE; got \"S8\""),
            ("file_format = \"mp3\"", "file_format must be one of wav, rf64, w64, flac, caf; got \"mp3\""),
            (
                "layout = \"surround\"",
                "layout must be one of multitrack, mono, stereo, quad, 5.1, 7.1; got \"surround\""
            ),
        ]
        for (line, message) in cases {
            #expect(throws: HeadroomError(.usage, "h.toml:2: \(message)")) {
                var settings = Settings()
                try settings.apply(ConfigFile.parse("device = \"hw:0\"\n\(line)\n", path: "h.toml"))
            }
        }
        var settings = Settings()
        #expect(throws: Never.self) {
            try settings.apply(
                ConfigFile.parse(
                    "rate = 8000\nchannels = 64\nduration = 0.5\nmax_take_seconds = 1\nfile_format = \"FLAC\"\nlayout = \"Stereo\"\n",
                    path: "h.toml"
                )
            )
        }
        #expect(settings.rate == 8000 && settings.channels == 64 && settings.durationSeconds == 0.5)
        #expect(settings.fileFormat == "flac" && settings.layout == "stereo")
    }

    @Test(
        "the slips people make in TOML: text without quotes, a channel table numbered from 0 or one per command, a ~ path, a folder or Latin-1 text for a file"
    )
    func slips() throws {
        let cases = [
            (
                "margin = 3\ndevice = hw:1 # the USB one\n",
                "h.toml:2: device = hw:1 is not a TOML value; text goes in quotes: device = \"hw:1\""
            ),
            (
                "names = [Kick, Snare]\n",
                "h.toml:1: names = [Kick, Snare] is not a TOML value; text goes in quotes: names = [\"Kick\", \"Snare\"]"
            ),
            (
                "margin = 3\n\n[channel.0]\ncontrol = \"Mic 1\"\n",
                "h.toml:3: unknown table [channel.0]; tables are [channel.N] with N from 1 to 256"
            ),
            // A section per command, as other tools' files have: the line of its header.
            (
                "# the USB recorder\n\n[record]\ndir = \"/srv/takes\"\n",
                "h.toml:3: unknown table [record]; tables are [channel.N]; every command reads the same keys, written at the top (before any table)"
            ),
            ("margin = 3\n[meters]\nstyle = \"bar\"\n", "h.toml:2: unknown table [meters]; tables are [channel.N]"),
        ]
        for (text, message) in cases {
            #expect(throws: HeadroomError(.usage, message)) {
                var settings = Settings()
                try settings.apply(ConfigFile.parse(text, path: "h.toml"))
            }
        }
        // A file that cannot be a config file says why: a folder, text that is not UTF-8.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("headroom-config-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir + "/folder.toml", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: HeadroomError(.noInput, "\(dir)/folder.toml: a folder, not a config file (a TOML file)")) {
            try ConfigFile.load(path: dir + "/folder.toml")
        }
        // "Aufnahmen für" saved as Latin-1: ü is the byte FC.
        let latin1 = Data("dir = \"/srv/Aufnahmen f".utf8) + Data([0xFC]) + Data("r\"\n".utf8)
        #expect(FileManager.default.createFile(atPath: dir + "/latin1.toml", contents: latin1))
        #expect(
            throws: HeadroomError(.usage, "\(dir)/latin1.toml: not UTF-8 text; a config file is TOML, saved as UTF-8")
        ) {
            try ConfigFile.load(path: dir + "/latin1.toml")
        }
        #expect(throws: HeadroomError(.noInput, "\(dir)/none.toml: cannot read the config file: no such file")) {
            try ConfigFile.load(path: dir + "/none.toml")
        }
        // A TOML string meets no shell: ~ is the home folder, not a folder named ~.
        var settings = Settings()
        try settings.apply(
            ConfigFile.parse("dir = \"~/takes\"\nreference = \"~\"\nmetrics_file = \"/var/~x\"\n", path: "h.toml")
        )
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        #expect(settings.directory == home + "/takes")
        #expect(settings.referenceFile == home)
        #expect(settings.metricsFile == "/var/~x")
    }

    @Test("a length of time as people write one: seconds, a clock, or units; in flags and in the file")
    func lengthsOfTime() throws {
        let read: [(String, Double)] = [
            ("90", 90), ("1.5", 1.5), ("1:30", 90), ("90:00", 5400), ("1:30:00", 5400), ("0:00:02.5", 2.5),
            ("90s", 90), ("15m", 900), ("15min", 900), ("2h", 7200), ("1h30m", 5400), ("1h 30min", 5400),
            (" 2H ", 7200), ("0.5 s", 0.5),
        ]
        for (text, seconds) in read { #expect(Settings.seconds(text) == seconds, "\(text)") }
        // Not a length of time: a unit alone, milliseconds, minutes or seconds past 59 in a
        // clock, a clock with a hole, words.
        for text in ["", "s", "2x", "15ms", "1:75", "1:60:00", ":30", "1::30", "1:2:3:4", "an hour", "inf", "nan"] {
            #expect(Settings.seconds(text) == nil, "\(text)")
        }
        var settings = Settings()
        try settings.apply(ConfigFile.parse("duration = \"2h\"\nmax_take_seconds = \"0:15:00\"\n", path: "h.toml"))
        #expect(settings.durationSeconds == 7200 && settings.maxTakeSeconds == 900)
        try settings.apply(ConfigFile.parse("duration = 60\n", path: "h.toml"))
        #expect(settings.durationSeconds == 60)
        #expect(
            throws: HeadroomError(
                .usage,
                "h.toml:1: duration must be \(Settings.secondsForms); got \"a while\""
            )
        ) {
            try settings.apply(ConfigFile.parse("duration = \"a while\"\n", path: "h.toml"))
        }
        #expect(throws: HeadroomError.self) {
            try settings.apply(ConfigFile.parse("max_take_seconds = \"0:00:00.5\"\n", path: "h.toml"))
        }
    }

    @Test("levels, rates and holds as people write them, with their units; in the file as in the flags")
    func withUnits() throws {
        let levels: [(String, Double)] = [
            ("-6", -6), ("-6dB", -6), ("-6 dBFS", -6), ("-1 dBTP", -1), ("+3 dB", 3), ("3DB", 3), (" -0.5dbfs ", -0.5),
        ]
        for (text, dB) in levels { #expect(Settings.decibels(text) == dB, "\(text)") }
        for text in ["", "dB", "six", "-6 dBu", "inf dB", "nan", "0x10"] {
            #expect(Settings.decibels(text) == nil, "\(text)")
        }
        let rates: [(String, Int)] = [
            ("48000", 48000), ("48000Hz", 48000), ("48k", 48000), ("44.1k", 44100), ("44.1 kHz", 44100),
            ("22.05k", 22050), ("88.2K", 88200), ("48", 48000), ("44.1", 44100), ("96", 96000), ("-1", -1), ("0", 0),
        ]
        for (text, hz) in rates { #expect(Settings.hertz(text) == hz, "\(text)") }
        for text in ["", "k", "fast", "48kk", "44.1005k", "44100.5", "1e9k"] {
            #expect(Settings.hertz(text) == nil, "\(text)")
        }
        #expect(AnalysisSetting.clipHold.value(of: "100ms") == 0.1)
        #expect(AnalysisSetting.clipHold.value(of: "0.25") == 0.25)
        #expect(AnalysisSetting.clipRun.value(of: "3") == 3)
        #expect(AnalysisSetting.clipRun.value(of: "3.5") == nil)

        var settings = Settings()
        let file = "rate = \"44.1k\"\ntarget_peak = \"-8 dBTP\"\nmargin = \"4dB\"\nclip_hold = \"50ms\"\n"
        try settings.apply(ConfigFile.parse(file, path: "u.toml"))
        #expect(settings.rate == 44100)
        #expect(settings.analysis.targetPeakDBTP == -8 && settings.analysis.marginDB == 4)
        #expect(settings.analysis.clipHoldSeconds == 0.05)
        try settings.apply(ConfigFile.parse("rate = 96\n", path: "u.toml"))
        #expect(settings.rate == 96000)
        #expect(
            throws: HeadroomError(
                .usage,
                "u.toml:1: rate must be a rate in Hz (48000) or kHz (48, \"44.1k\"); got \"fast\""
            )
        ) {
            try settings.apply(ConfigFile.parse("rate = \"fast\"\n", path: "u.toml"))
        }
        #expect(
            throws: HeadroomError(
                .usage,
                "u.toml:1: rate must be a rate in Hz (48000) or kHz (48, \"44.1k\"); got 48000.5"
            )
        ) {
            try settings.apply(ConfigFile.parse("rate = 48000.5\n", path: "u.toml"))
        }
        #expect(
            throws: HeadroomError(.usage, "u.toml:1: margin must be a number of dB (-6, -6dB, -6 dB); got \"lots\"")
        ) {
            try settings.apply(ConfigFile.parse("margin = \"lots\"\n", path: "u.toml"))
        }
    }

    @Test("out-of-range settings say what is allowed")
    func validation() {
        var s = AnalysisSettings()
        s.clipRunSamples = 0
        #expect(
            throws: SettingsError(key: "clip-run", message: "must be a whole number of samples from 1 to 100000; got 0")
        ) {
            try s.validate()
        }
        s = AnalysisSettings()
        s.marginDB = -1
        #expect(throws: SettingsError.self) { try s.validate() }
        #expect(throws: Never.self) { try AnalysisSettings().validate() }
    }
}

@Suite("Clip log lines (SPEC: the clip log)")
struct ClipLogTests {
    @Test("numbers: dB to 0.01 without trailing zeros, no negative zero")
    func numbers() {
        #expect(JSONValue.decibels(-7.5).encoded() == "-7.5")
        #expect(JSONValue.decibels(0).encoded() == "0.0")
        #expect(JSONValue.decibels(-0.001).encoded() == "0.0")
        #expect(JSONValue.decibels(1.234).encoded() == "1.23")
        #expect(JSONValue.decibels(nil).encoded() == "null")
        #expect(JSONValue.string("a\"b\n").encoded() == "\"a\\\"b\\n\"")
    }

    @Test("a clip line has SPEC's fields in SPEC's order, channels counted from 1")
    func clipLine() {
        let event = Event.clip(
            ClipEvent(
                channel: 0,
                startFrame: 123456,
                endFrame: 123470,
                clippedSamples: 9,
                runs: 2,
                longestRun: 5,
                peakDBFS: 0,
                truePeakDBTP: 1.2,
                overDB: 1.5,
                overBound: false
            )
        )
        #expect(
            ClipLog.eventLine(event, names: ["L", "R"], rate: 48000).encoded()
                == #"{"type":"clip","channel":1,"name":"L","start_frame":123456,"end_frame":123470,"clipped_samples":9,"runs":2,"longest_run":5,"peak_dbfs":0.0,"true_peak_dbtp":1.2,"over_db":1.5,"over_bound":false,"time":2.572}"#
        )
    }

    @Test("the header's timestamp is UTC with milliseconds")
    func timestamp() {
        #expect(ClipLog.timestamp(Date(timeIntervalSince1970: 1_795_534_200.25)) == "2026-11-24T15:30:00.250Z")
    }

    @Test("default names: L and R for stereo, numbers otherwise; given names win")
    func names() {
        #expect(ClipLog.channelNames([], channels: 2) == ["L", "R"])
        #expect(ClipLog.channelNames(["Kick"], channels: 3) == ["Kick", "2", "3"])
    }
}

@Suite("A clip log whose disk does not answer (ClipLogFile)")
struct ClipLogFileTests {
    @Test(
        "lines wait for a write that does not return, in order, up to 16 MiB; past that they are counted, and said once the disk answers (here, as the log closes)"
    )
    func waitingLines() throws {
        // A pipe nobody reads stands for the disk: once its 64 KiB are full, a write waits.
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        let log = ClipLogFile(fd: ends[1], path: "t.clips.jsonl", channels: 2)
        let padding = String(repeating: "x", count: 1000)
        let lines = 20_000  // 20 MB
        for i in 0..<lines { log.append(.object([("n", .int(i)), ("pad", .string(padding))])) }
        // The disk answers: everything that waited comes out, in order.
        let reader = FileHandle(fileDescriptor: ends[0], closeOnDealloc: true)
        let drained = Mutex(Data())
        let done = DispatchSemaphore(value: 0)
        Thread {
            drained.withLock { $0 = reader.readDataToEndOfFile() }
            done.signal()
        }.start()
        log.close()  // the end of the pipe: the reader reaches it
        #expect(done.wait(timeout: .now() + 30) == .success)
        let written = drained.withLock { $0 }.split(separator: UInt8(ascii: "\n")).map { line in
            (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any]
        }
        let numbers = written.compactMap { $0?["n"] as? Int }
        #expect(numbers.count == written.count && numbers == Array(0..<numbers.count))
        #expect(numbers.count * 1020 >= ClipLogFile.waitingLimit && numbers.count < lines)
        #expect(
            log.takeNotes() == [
                "LOG: t.clips.jsonl: \(lines - numbers.count) lines not written while the disk did not answer (16 MiB of them waited); the summary counts every event"
            ]
        )
    }
}

@Suite("Where a take file must stop (FileSizeLimit)")
struct FileSizeLimitTests {
    @Test(
        "FAT's 4 GiB is planned for; ext4, tmpfs, exFAT and a failed statfs are not; the frames leave room for metadata"
    )
    func limits() {
        let fat = FileSizeLimit.forFileSystem(type: 0x4d44)
        #expect(fat?.bytes == 4_294_967_295)
        for other in [0xEF53, 0x0102_1994, 0x2011_BAB0, -1] { #expect(FileSizeLimit.forFileSystem(type: other) == nil) }
        // 8 channels of 24 bits at 48 kHz: 16 MiB short of 4 GiB, in whole frames (1:01:53).
        let frames = fat!.frames(bytesPerFrame: 8 * 3)
        #expect(frames == (4_294_967_295 - 16 * 1_048_576) / 24)
        #expect(frames / 48000 == 3713)
        #expect(FileSizeLimit(bytes: 6400, reason: "").frames(bytesPerFrame: 6) == (6400 - 100) / 6)
        #expect(SampleFormat.s24.fileBytesPerSample == 3 && SampleFormat.float.fileBytesPerSample == 4)
        // This folder (the test's own, on no FAT and with no ulimit -f) has none.
        #expect(FileSizeLimit.of(directory: NSTemporaryDirectory()) == nil)
    }
}

@Suite("A path's folder (FilePaths)")
struct FilePathsTests {
    @Test(
        "the folder NSString.deletingLastPathComponent gives, one-character paths included",
        arguments: [
            ("o", ""), ("o/", ""), (".", ""), ("", ""), ("/", "/"), ("/o", "/"), ("//o", "/"), ("a/b", "a"),
            ("a/b/", "a"), ("a//b", "a"), ("./o", "."), ("/a/b/c.wav", "/a/b"), ("takes/", ""),
        ]
    )
    func folder(path: String, expected: String) {
        #expect(FilePaths.folder(of: path) == expected)
        if !["o", "o/", "."].contains(path) {  // Foundation's own answer, where it does not trap
            #expect((path as NSString).deletingLastPathComponent == expected)
        }
    }
}
