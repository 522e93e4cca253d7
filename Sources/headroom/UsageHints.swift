import ArgumentParser
import Foundation
import HeadroomCore

// Usage errors: what the parser found wrong with a command line, said in one line with what
// was probably meant (a command a letter off, another recorder's spelling of an option, a
// take file named as arecord takes one).

extension Headroom {
    /// ArgumentParser's own usage errors (an unknown option, a value it cannot read, a
    /// missing argument, a failed `validate()`) as one line, `headroom: ...`, as every other
    /// error is (SPEC: one clear line naming what is at fault), with where to read more;
    /// exit 64. Help, `--version` and exit codes go out as ArgumentParser gives them.
    static func exitReporting(_ error: Error) -> Never {
        guard exitCode(for: error) == .validationFailure, !(error is ExitCode) else { exit(withError: error) }
        if let word = CommandLine.arguments.dropFirst().first, let text = notACommand(word) {
            Terminal.error(text)
            exit(withError: ExitCode.validationFailure)
        }
        // "The value 'abc' is invalid for '--rate <hz>'" and its "Help:  --rate <hz>  ..." line.
        let text = message(for: error).split(separator: "\n").map {
            $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        }.filter { !$0.isEmpty }.joined(separator: "; ")
        var first = text.prefix(1).lowercased() + text.dropFirst()
        if first.hasSuffix(".") { first.removeLast() }
        // "unknown option '--chanels'; did you mean '--channels'? see ...", as for a command.
        first = first.replacingOccurrences(of: ". Did you mean ", with: "; did you mean ")
        if let hint = habitHint(first) { first += "; " + hint }
        Terminal.error(first + (first.hasSuffix("?") ? " " : "; ") + helpHint)
        exit(withError: ExitCode.validationFailure)
    }

    /// The error for a first word that is no command: a file or folder (`headroom take.wav`)
    /// says how to review it; a slip (`headroom recrod`) names the commands it may be meant
    /// for (a letter or two off, the start of one, or another form of the word: `recording`,
    /// `analysis`), and anything else lists them all. nil for a command, an option or `help`.
    /// (The parser's own sentence was "unexpected argument 'recrod'".)
    static func notACommand(_ word: String) -> String? {
        let names = configuration.subcommands.map { $0._commandName }
        guard !word.hasPrefix("-"), word != "help", !names.contains(word) else { return nil }
        let hint = "see 'headroom --help'"
        if FileManager.default.fileExists(atPath: word) {
            return "'\(word)' is not a command; to review it: headroom review \(shellWord(word)); \(hint)"
        }
        let typed = word.lowercased()
        let near = names.filter { name in
            let shared = zip(typed, name).prefix { $0 == $1 }.count
            return (typed.count >= 2 && name.hasPrefix(typed)) || shared >= 5
                || Settings.slips(typed, name) <= min(2, max(1, typed.count / 3))
        }
        guard !near.isEmpty else {
            return "'\(word)' is not a command (\(names.joined(separator: ", "))); \(hint)"
        }
        let guesses = near.map { "'\($0)'" }.joined(separator: " or ")
        return "'\(word)' is not a command; did you mean \(guesses)? \(hint)"
    }

    /// What someone used to another recorder meant, for the parser's "unknown option" and
    /// "unexpected argument" sentences (nil when there is nothing better to say than the
    /// parser's own guess): arecord's, sox's and ffmpeg's spellings of headroom's options
    /// (`-o`, `-t wav`, `--max-file-time`, `--period-size`), and a take file or a device
    /// named as arecord names them, after the options (`record -D hw:1 song.wav`,
    /// `record hw:1`).
    static func habitHint(_ sentence: String) -> String? {
        let words = Array(CommandLine.arguments.dropFirst())
        guard let command = words.first, sentence.range(of: "did you mean") == nil else { return nil }
        // `review --html takes/`: the one path went to --html as the report's name.
        if command == "review", sentence.hasPrefix("missing expected argument"),
            let given = value(of: "--html", in: words)
        {
            var st = stat()
            if stat(given, &st) == 0 {
                let what = st.st_mode & S_IFMT == S_IFDIR ? "a folder" : "a file that is there"
                return
                    "--html takes the report's file name, and \(shellWord(given)) is \(what): headroom review --html report.html \(shellWord(given))"
            }
        }
        if let option = quoted(after: "unknown option '", in: sentence) {
            guard let meant = otherSpellings[command]?[option] else { return nil }
            // `-o song.wav`: the value says more than the option.
            if command == "record", let given = value(of: option, in: words), let take = takeFileHint(given) {
                return take
            }
            return "did you mean '\(meant)'?"
        }
        let unexpected =
            quoted(after: "unexpected argument '", in: sentence)
            ?? quoted(after: "unexpected arguments: '", in: sentence)
        guard let word = unexpected else { return nil }
        if let joined = splitUnit(word, in: words) { return joined }
        if looksLikeDevice(word) && (command == "record" || command == "calibrate") {
            return "did you mean '--device \(word)'?"
        }
        switch command {
        case "record": return takeFileHint(word)
        case "calibrate" where audioExtension(of: word) != nil || FileManager.default.fileExists(atPath: word):
            return "calibrate listens to a device; for a file's levels: headroom analyze \(shellWord(word))"
        default: return nil
        }
    }

    /// `--margin 3 dB`, `--rate 44.1 kHz`: the space made the unit a word of its own, which the
    /// parser then takes for an argument. The hint joins them; nil where `word` is not such a
    /// unit after an option's number.
    static func splitUnit(_ word: String, in words: [String]) -> String? {
        guard let i = words.firstIndex(of: word), i >= 2, words[i - 2].hasPrefix("-"), Double(words[i - 1]) != nil
        else { return nil }
        let unit = words[i...].prefix { unitWords.contains($0.lowercased()) }
        return unit.isEmpty ? nil : "a unit goes against its number: \(words[i - 2]) \(words[i - 1])\(unit.joined())"
    }

    /// `analyze --margin 3 dB mix.wav`: `dB` is taken for a file to read, and is not one. The
    /// commands that take files ask this before they read any.
    static func validateFiles(_ files: [String]) throws {
        let words = Array(CommandLine.arguments.dropFirst())
        for file in files where !FileManager.default.fileExists(atPath: file) {
            // The number before it went to an option (`--json 3 dB` reads two files).
            guard let hint = splitUnit(file, in: words), let i = words.firstIndex(of: file),
                !files.contains(words[i - 1])
            else { continue }
            throw ValidationError("\(file) is not a file: \(hint)")
        }
    }

    /// Units typed as words of their own after an option's value (`-6 dB FS`).
    static let unitWords: Set<String> = ["db", "dbfs", "dbtp", "fs", "tp", "hz", "khz", "k", "ms", "s", "min", "h"]

    /// Options other recorders spell differently, by the command they were given to.
    static let otherSpellings: [String: [String: String]] = {
        let capture = [
            "--sample-rate": "--rate", "--samplerate": "--rate", "--srate": "--rate",
            "--period-size": "--period-frames", "--period-time": "--period-frames",
            "--buffer-size": "--buffer-frames", "--buffer-time": "--buffer-frames",
            "--channel-names": "--names",
        ]
        let record = [
            "-o": "--dir", "--output": "--dir", "--out": "--dir", "--outdir": "--dir", "--output-dir": "--dir",
            "--directory": "--dir", "--folder": "--dir",
            "-t": "--file-format", "--file-type": "--file-format", "--type": "--file-format",
            "--container": "--file-format",
            "--max-file-time": "--max-take-seconds", "--split": "--max-take-seconds",
            "--seconds": "--duration", "--time": "--duration", "--length": "--duration",
            "-q": "--headless", "--quiet": "--headless",
        ]
        let calibrate = ["--duration": "--seconds", "--time": "--seconds", "--length": "--seconds"]
        return [
            "record": capture.merging(record) { a, _ in a },
            "calibrate": capture.merging(calibrate) { a, _ in a },
        ]
    }()

    /// For a take file named on record's command line, the options that name takes:
    /// `/mnt/card/song.flac` -> `--dir /mnt/card --name song --file-format flac`.
    static func takeFileHint(_ word: String) -> String? {
        guard let ext = audioExtension(of: word) else { return nil }
        let path = word as NSString
        let folder = path.deletingLastPathComponent
        let stem = (path.lastPathComponent as NSString).deletingPathExtension
        guard !stem.isEmpty else { return nil }
        var options: [String] = []
        if !folder.isEmpty { options += ["--dir", shellWord(folder)] }
        options += ["--name", shellWord(stem)]
        if let format = TakeFileFormat(rawValue: ext), format != .wav {
            options += ["--file-format", format.rawValue]
        } else if TakeFileFormat(rawValue: ext) == nil {
            return "record names its takes itself (--dir, --name) and writes \(TakeFileFormat.spelledOut)"
        }
        return "record names its takes itself: \(options.joined(separator: " "))"
    }

    /// The lower-cased extension of a name that is an audio file's, nil otherwise.
    static func audioExtension(of word: String) -> String? {
        let ext = (word as NSString).pathExtension.lowercased()
        return TakeFileFormat.audioFileExtensions.contains(ext) ? ext : nil
    }

    /// An ALSA PCM as people type one: `hw:1`, `plughw:CARD=USB,DEV=0`, `default`, `pipewire`.
    static func looksLikeDevice(_ word: String) -> Bool {
        if ["default", "sysdefault", "pipewire", "pulse", "jack", "dsnoop", "hw", "plughw"].contains(word) {
            return true
        }
        guard let colon = word.firstIndex(of: ":"), colon != word.startIndex else { return false }
        return !word.contains("/") && word[..<colon].allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
    }

    /// A word as a shell takes it back: quoted only when it has to be.
    static func shellWord(_ word: String) -> String {
        word.allSatisfy { $0.isLetter || $0.isNumber || "._-/+,:@%".contains($0) } ? word : FilePaths.shellQuoted(word)
    }

    /// The value given to `option` (`--html r.html` or `--html=r.html`; the last of several).
    private static func value(of option: String, in words: [String]) -> String? {
        var value: String? = nil
        for (i, word) in words.enumerated() {
            if word == option && i + 1 < words.count { value = words[i + 1] }
            if word.hasPrefix(option + "=") { value = String(word.dropFirst(option.count + 1)) }
        }
        return value
    }

    /// The text between `prefix` and the next `'`: `unknown option '-o'` -> `-o`.
    private static func quoted(after prefix: String, in sentence: String) -> String? {
        guard let start = sentence.range(of: prefix)?.upperBound,
            let end = sentence[start...].firstIndex(of: "'")
        else { return nil }
        return String(sentence[start..<end])
    }

    /// Where to read more about the command line just given: `see 'headroom record --help'`.
    /// The subcommand is the first argument (a later one that reads like one is a value).
    static var helpHint: String {
        let names = configuration.subcommands.map { $0._commandName }
        let sub = CommandLine.arguments.dropFirst().first.flatMap { names.contains($0) ? $0 : nil }
        return "see 'headroom\(sub.map { " \($0)" } ?? "") --help'"
    }
}
