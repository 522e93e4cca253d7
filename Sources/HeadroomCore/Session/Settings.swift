import Foundation

/// Everything a command runs with, after defaults, config files and flags are merged
/// (flags win over `--config FILE`, which wins over `./headroom.toml`, which wins over
/// `~/.config/headroom/headroom.toml`).
public struct Settings: Sendable, Equatable {
    public var analysis = AnalysisSettings()
    /// Channel names as given (`--names`, `names = [...]`, `[channel.N] name`); may be short.
    public var names: [String] = []
    /// ALSA capture controls named per channel (`[channel.N] control`), 0-based keys.
    public var controls: [Int: String] = [:]

    // Capture.
    public var device = "default"
    public var rate = 48000
    public var channels = 2
    public var format = "S24_3LE"
    /// ALSA period and buffer, frames; nil: 20 ms and 200 ms worth (aplay's habit).
    public var periodFrames: Int? = nil
    public var bufferFrames: Int? = nil

    // Record.
    public var directory = "."
    public var nameTemplate = "take-%Y%m%d-%H%M%S"
    public var fileFormat = "wav"
    public var durationSeconds: Double? = nil
    public var maxTakeSeconds: Double? = nil
    /// A `calibrate --save` file whose levels the meter shows as reference marks.
    public var referenceFile: String? = nil
    /// No terminal meter (`--headless`).
    public var headless = false
    /// Wait for a missing device, go on after it comes back (`--wait-device`).
    public var waitDevice = false
    /// A shell command run with each take and its log once both are closed (`--on-take-closed`).
    public var onTakeClosed: String? = nil
    /// `--layout`: `multitrack` (channel mask 0) or a speaker layout.
    public var layout = "multitrack"
    /// `--listen`: serve metrics, status and the live page here.
    public var listen: String? = nil
    /// `--metrics-file`: node_exporter textfile collector output.
    public var metricsFile: String? = nil

    public init() {}

    /// The config files read when no `--config` is given, lowest priority first.
    public static func defaultConfigPaths() -> [String] {
        configSearchPaths(environment: ProcessInfo.processInfo.environment).filter {
            FileManager.default.fileExists(atPath: $0)
        }
    }

    /// Where config files are looked for, lowest priority first (each one read overrides
    /// the ones before it): `/etc/headroom/headroom.toml`, then each of `$XDG_CONFIG_DIRS`
    /// (default `/etc/xdg`; the first listed wins), then `$XDG_CONFIG_HOME` (default
    /// `~/.config`), then `./headroom.toml`. `--config FILE` replaces the search.
    public static func configSearchPaths(environment: [String: String]) -> [String] {
        func nonEmpty(_ key: String) -> String? { environment[key].flatMap { $0.isEmpty ? nil : $0 } }
        var paths = ["/etc/headroom/headroom.toml"]
        let dirs = (nonEmpty("XDG_CONFIG_DIRS") ?? "/etc/xdg").split(separator: ":").map(String.init)
        paths += dirs.reversed().filter { $0.hasPrefix("/") }.map { $0 + "/headroom/headroom.toml" }
        if let home = nonEmpty("XDG_CONFIG_HOME") ?? nonEmpty("HOME").map({ $0 + "/.config" }), home.hasPrefix("/") {
            paths.append(home + "/headroom/headroom.toml")
        }
        paths.append("headroom.toml")
        return paths
    }

    /// Applies a config file's values on top of these settings.
    public mutating func apply(_ config: ConfigFile) throws(HeadroomError) {
        for (key, entry) in config.values.sorted(by: { $0.value.line < $1.value.line }) {
            let at = "\(config.path):\(entry.line): \(key)"
            func number() throws(HeadroomError) -> Double {
                guard case .number(let d) = entry.value else {
                    throw HeadroomError(.usage, "\(at) must be a number\(Self.found(entry.value))")
                }
                return d
            }
            // A length of time: a number of seconds, or text as ``seconds(_:)`` reads it.
            func time() throws(HeadroomError) -> Double {
                if case .string(let text) = entry.value {
                    guard let value = Self.seconds(text) else {
                        throw HeadroomError(
                            .usage,
                            "\(at) must be \(Self.secondsForms); got \"\(DisplayText.escaped(text))\""
                        )
                    }
                    return value
                }
                return try number()
            }
            func flag() throws(HeadroomError) -> Bool {
                guard case .bool(let b) = entry.value else {
                    throw HeadroomError(.usage, "\(at) must be true or false\(Self.found(entry.value))")
                }
                return b
            }
            func integer() throws(HeadroomError) -> Int {
                let d = try number()
                guard d == d.rounded(), abs(d) < 1e9 else {
                    throw HeadroomError(.usage, "\(at) must be a whole number")
                }
                return Int(d)
            }
            func string() throws(HeadroomError) -> String {
                guard case .string(let s) = entry.value else {
                    throw HeadroomError(.usage, "\(at) must be a quoted string\(Self.found(entry.value))")
                }
                return s
            }
            // Ranges are checked here, where the file and line are known; the flags are
            // checked after they are applied, so an error names the one at fault.
            func oneOf(_ names: [String], _ admits: (String) -> Bool) throws(HeadroomError) -> String {
                let value = try string()
                guard admits(value) else {
                    throw HeadroomError(
                        .usage,
                        "\(at) must be one of \(names.joined(separator: ", ")); got \"\(DisplayText.escaped(value))\""
                    )
                }
                return value
            }
            if let setting = AnalysisSetting.all.first(where: { $0.key == key }) {
                // A number, or text with its unit ("-6 dBTP", "100ms"), as the flags take them.
                var value: Double
                if case .string(let text) = entry.value {
                    guard let parsed = setting.value(of: text) else {
                        throw HeadroomError(
                            .usage,
                            "\(at) must be \(setting.forms); got \"\(DisplayText.escaped(text))\""
                        )
                    }
                    value = parsed
                } else {
                    value = setting.whole ? Double(try integer()) : try number()
                }
                guard setting.admits(value) else {
                    throw HeadroomError(.usage, "\(at) must be \(setting.allowed); got \(Self.shown(value))")
                }
                setting.set(&analysis, value)
                continue
            }
            switch key {
            case "names":
                switch entry.value {
                case .strings(let list): names = list
                case .string(let s): names = Self.splitNames(s)
                default: throw HeadroomError(.usage, "\(at) must be a list of strings")
                }
            case "device": device = try string()
            case "rate":
                // 48000, 48, "48k", "44.1 kHz": as the flag takes them.
                let given: Int? =
                    switch entry.value {
                    case .string(let text): Self.hertz(text)
                    case .number(let d): Self.hertz(d)
                    default: nil
                    }
                guard let hz = given else {
                    let got =
                        switch entry.value {
                        case .string(let text): "; got \"\(DisplayText.escaped(text))\""
                        case .number(let d): "; got \(Self.shown(d))"
                        default: Self.found(entry.value)
                        }
                    throw HeadroomError(.usage, "\(at) must be a rate in Hz (48000) or kHz (48, \"44.1k\")\(got)")
                }
                rate = try Self.rateLimit.checked(hz, at)
            case "channels": channels = try Self.channelLimit.checked(integer(), at)
            case "format": format = try oneOf(SampleFormat.allCases.map(\.rawValue)) { SampleFormat(name: $0) != nil }
            case "period_frames": periodFrames = try Self.periodLimit.checked(integer(), at)
            case "buffer_frames": bufferFrames = try Self.bufferLimit.checked(integer(), at)
            case "dir": directory = Self.expandingHome(try string())
            case "name": nameTemplate = try string()
            case "file_format":
                fileFormat = try oneOf(TakeFileFormat.allCases.map(\.rawValue)) {
                    TakeFileFormat(rawValue: $0.lowercased()) != nil
                }
                .lowercased()
            case "duration": durationSeconds = try Self.durationLimit.checked(time(), at)
            case "max_take_seconds": maxTakeSeconds = try Self.takeLimit.checked(time(), at)
            case "reference": referenceFile = Self.expandingHome(try string())
            case "headless": headless = try flag()
            case "wait_device": waitDevice = try flag()
            case "on_take_closed": onTakeClosed = try string()
            case "layout":
                layout = try oneOf(ChannelLayout.allCases.map(\.rawValue)) {
                    ChannelLayout(rawValue: $0.lowercased()) != nil
                }
                .lowercased()
            case "listen": listen = try string()
            case "metrics_file": metricsFile = Self.expandingHome(try string())
            default:
                let hint = Self.nearestKey(key).map { "did you mean \($0)? " } ?? ""
                throw HeadroomError(
                    .usage,
                    "\(config.path):\(entry.line): unknown key \"\(DisplayText.escaped(key))\"; \(hint)keys are the long option names, e.g. target_peak, clip_run, names, device"
                )
            }
        }
        for (channel, table) in config.channels {
            for (key, entry) in table {
                // The key first: `target_peak = -3` under a channel is a setting in the wrong
                // place, not a name that should have been quoted.
                guard key == "name" || key == "control" else {
                    let top =
                        Self.configKeys.contains(key)
                        ? "; \(key) applies to every channel: write it at the top, before any table" : ""
                    throw HeadroomError(
                        .usage,
                        "\(config.path):\(entry.line): unknown key \"\(DisplayText.escaped(key))\" in [channel.\(channel)]; a channel takes name and control\(top)"
                    )
                }
                guard case .string(let s) = entry.value else {
                    throw HeadroomError(
                        .usage,
                        "\(config.path):\(entry.line): channel.\(channel).\(key) must be a quoted string\(Self.found(entry.value))"
                    )
                }
                if key == "name" {
                    while names.count < channel { names.append("") }
                    names[channel - 1] = s
                } else {
                    controls[channel - 1] = s
                }
            }
        }
    }

    /// The keys a config file's top level takes: the long option names, `_` for `-`.
    static let configKeys =
        AnalysisSetting.all.map(\.key) + [
            "names", "device", "rate", "channels", "format", "period_frames", "buffer_frames", "dir", "name",
            "file_format", "duration", "max_take_seconds", "reference", "headless", "wait_device", "on_take_closed",
            "layout", "listen", "metrics_file",
        ]

    /// The key an unknown `key` was most likely meant to be: a key in other letters' case
    /// (`Target_Peak`), or a key at most two letters away (one for short keys), when only
    /// one is that near. (`-` for `_` is taken as it is: `target-peak` is `target_peak`.)
    static func nearestKey(_ key: String) -> String? {
        let spelled = key.lowercased().replacingOccurrences(of: "-", with: "_")
        if configKeys.contains(spelled) { return spelled }
        let most = spelled.count <= 4 ? 1 : 2
        let near = configKeys.map { ($0, slips(spelled, $0)) }.filter { $0.1 <= most }
        guard let best = near.map(\.1).min(), near.filter({ $0.1 == best }).count == 1 else { return nil }
        return near.first { $0.1 == best }?.0
    }

    /// Typing slips between `a` and `b`: letters left out, added, changed, or two swapped
    /// (optimal string alignment distance), for guesses at what a mistyped key, option or
    /// command was meant to be.
    public static func slips(_ a: String, _ b: String) -> Int {
        let (x, y) = (Array(a), Array(b))
        guard !x.isEmpty, !y.isEmpty else { return max(x.count, y.count) }
        var d = [[Int]](repeating: [Int](repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in 0...x.count { d[i][0] = i }
        for j in 0...y.count { d[0][j] = j }
        for i in 1...x.count {
            for j in 1...y.count {
                let change = x[i - 1] == y[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + change)
                if i > 1 && j > 1 && x[i - 1] == y[j - 2] && x[i - 2] == y[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[x.count][y.count]
    }

    /// The typical loud peak per channel (dBTP, 0-based) from a `calibrate --save` file.
    public static func referenceLevels(path: String) throws(HeadroomError) -> [Int: Double] {
        let data: Data
        switch FilePaths.contents(of: path) {
        case .data(let read): data = read
        case .missing:
            throw HeadroomError(.noInput, FilePaths.notFound(path) + " (--reference names a calibrate --save file)")
        case .folder: throw HeadroomError(.noInput, "\(path): a folder, not a calibration file (--reference)")
        case .unreadable(let why): throw HeadroomError(.noInput, "\(path): cannot read it: \(why)")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            object["type"] as? String == "calibration", let channels = object["channels"] as? [[String: Any]]
        else {
            throw HeadroomError(
                .noInput,
                "\(path): not a calibration file (write one with headroom calibrate --save FILE)"
            )
        }
        var out: [Int: Double] = [:]
        for c in channels {
            guard let n = c["channel"] as? Int, ClipLog.channelNumbers.contains(n) else { continue }
            if let level = (c["typical_peak_dbtp"] as? Double) ?? (c["true_peak_dbtp"] as? Double) {
                out[n - 1] = level
            }
        }
        return out
    }

    /// A whole-number setting's limits, and how an error reads them.
    public struct Limit: Sendable {
        public let range: ClosedRange<Int>
        public let allowed: String

        /// `value`, or the usage error naming `setting` (a flag, or a config file's
        /// file:line: key) with what is allowed and the value given.
        public func checked(_ value: Int, _ setting: String) throws(HeadroomError) -> Int {
            guard range.contains(value) else {
                throw HeadroomError(.usage, "\(setting) must be \(allowed); got \(value)")
            }
            return value
        }
    }
    public static let rateLimit = Limit(range: 8000...384_000, allowed: "between 8000 and 384000 Hz")
    /// Channels headroom records and analyzes: ``Analyzer/channelRange``.
    public static let channelLimit = Limit(
        range: Analyzer.channelRange,
        allowed: "between 1 and \(Analyzer.channelRange.upperBound)"
    )
    public static let periodLimit = Limit(range: 16...65536, allowed: "between 16 and 65536 frames")
    public static let bufferLimit = Limit(range: 64...1_048_576, allowed: "between 64 and 1048576 frames")
    /// What a length in seconds may be (up to 366 days), and how an error reads it; NaN
    /// and infinities are never in.
    public struct SecondsLimit: Sendable {
        /// Its least: the value itself allowed (1 or more), or only above it (more than 0).
        public let least: Double
        public let leastAllowed: Bool
        public static let most: Double = 366 * 86400

        public func admits(_ value: Double) -> Bool {
            (leastAllowed ? value >= least : value > least) && value <= Self.most
        }
        public var allowed: String {
            leastAllowed
                ? "between \(shown(least)) and \(Int(Self.most)) seconds (366 days)"
                : "more than \(shown(least)) seconds and at most \(Int(Self.most)) (366 days)"
        }
        /// `value`, or the usage error naming `setting`, as ``Limit/checked(_:_:)``.
        public func checked(_ value: Double, _ setting: String) throws(HeadroomError) -> Double {
            guard admits(value) else {
                throw HeadroomError(.usage, "\(setting) must be \(allowed); got \(shown(value))")
            }
            return value
        }
    }
    /// `duration` and `max_take_seconds`.
    public static let durationLimit = SecondsLimit(least: 0, leastAllowed: false)
    public static let takeLimit = SecondsLimit(least: 1, leastAllowed: true)

    /// A level or a gain as people write it: `-6`, `-6dB`, `-6 dBFS`, `-1 dBTP`, `+3 dB`.
    public static func decibels(_ text: String) -> Double? {
        var t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if let unit = ["dbfs", "dbtp", "db"].first(where: { t.hasSuffix($0) }) {
            t = String(t.dropLast(unit.count)).trimmingCharacters(in: .whitespaces)
        }
        // A decimal number (not "inf", "nan" or hex, which Double also reads).
        guard !t.isEmpty, t.allSatisfy({ "0123456789.+-e".contains($0) }) else { return nil }
        return Double(t)
    }

    /// A sample rate as people write it: `48000`, `48000Hz`, `48k`, `44.1k`, `44.1 kHz`
    /// (sox's way), and a number under 1000 as kHz (`48`, `44.1`, `96`: aplay's way, where
    /// no rate is that low). A rate that is not a whole number of Hz (`44.15k`), or text,
    /// is nil; a negative or zero one is left to the range check.
    public static func hertz(_ text: String) -> Int? {
        var t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t.hasSuffix("hz") { t = String(t.dropLast(2)).trimmingCharacters(in: .whitespaces) }
        let kilo = t.hasSuffix("k")
        if kilo { t = String(t.dropLast()).trimmingCharacters(in: .whitespaces) }
        guard !t.isEmpty, t.allSatisfy({ "0123456789.-".contains($0) }), let value = Double(t) else { return nil }
        return hertz(value, kilo: kilo)
    }

    /// `value` Hz, or kHz (`kilo`, or under 1000); nil when not a whole number of Hz.
    static func hertz(_ value: Double, kilo: Bool = false) -> Int? {
        let hz = kilo || (value > 0 && value < 1000) ? value * 1000 : value
        let whole = hz.rounded()
        guard abs(hz - whole) < 1e-6, abs(whole) < 1e9 else { return nil }
        return Int(whole)
    }

    /// A length of time as a person types it: seconds (`90`, `1.5`), a clock (`1:30`,
    /// `1:30:00`, `0:00:02.5`, as sox and ffmpeg read one), or numbers with units (`90s`,
    /// `15m` or `15min`, `2h`, `1h30m`, `1h 30min`, as systemd does); nil for anything else.
    /// The range is checked by the caller.
    public static func seconds(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        // A decimal number (not "inf", "nan" or hex, which Double also reads; 1e400 is left to
        // the range check, which names the largest allowed).
        if t.allSatisfy({ "0123456789.+-e".contains($0) }), let plain = Double(t) { return plain }
        if t.contains(":") {
            let parts = t.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 3, let last = Double(parts.last!), last >= 0, last < 60 || parts.count == 1 else {
                return nil
            }
            var total = last
            for (k, part) in parts.dropLast().reversed().enumerated() {
                guard let whole = Int(part), whole >= 0, k == parts.count - 2 || whole < 60 else { return nil }
                total += Double(whole) * (k == 0 ? 60 : 3600)
            }
            return total
        }
        let units: [(String, Double)] = [("min", 60), ("h", 3600), ("m", 60), ("s", 1)]
        var rest = Substring(t)
        var total = 0.0
        var any = false
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " }
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            guard !digits.isEmpty, let n = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count).drop { $0 == " " }
            guard let (unit, scale) = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.count)
            total += n * scale
            any = true
        }
        return any ? total : nil
    }

    /// What ``seconds(_:)`` reads, for messages and help.
    public static let secondsForms = "seconds (90), a clock (1:30:00) or units (90s, 15m, 2h, 1h30m)"

    /// A number as a person typed it: 48000, 0.5, -2 (and nan, inf).
    public static func shown(_ value: Double) -> String { String(format: "%g", value) }

    /// ", not text" and the like: what a wrongly typed value was.
    static func found(_ value: ConfigFile.Value) -> String {
        switch value {
        case .string: ", not text"
        case .number: ", not a number"
        case .bool: ", not true or false"
        case .strings: ", not a list"
        case .other(let what): ", not \(what)"
        }
    }

    /// `~/takes` as the home folder's `takes` (and `~ana/takes` as ana's): a path in a config
    /// file, or in `--dir=~/takes`, never meets a shell that would expand it, and a folder
    /// named `~` in the working folder is never what was meant.
    public static func expandingHome(_ path: String) -> String {
        guard path.hasPrefix("~") else { return path }
        // `$HOME` first, as the shell reads it (`sudo -E`, a unit's Environment=).
        if path == "~" || path.hasPrefix("~/"), let home = ProcessInfo.processInfo.environment["HOME"], !home.isEmpty {
            return home + path.dropFirst()
        }
        return NSString(string: path).expandingTildeInPath
    }

    /// A note when more channel names are given than channels are recorded, as when
    /// `--channels` is forgotten (eight names, the default two channels: six inputs would go
    /// unrecorded without a word); nil when every name given is used.
    public var unusedNamesNote: String? {
        Self.namesBeyond(names, channels: channels).map {
            "note: \($0.text); to use \($0.sparse ? $0.them : "all \($0.given)"), add --channels \($0.given)"
        }
    }

    /// Names given for channels past the ones recorded (``namesBeyond(_:channels:)``).
    public struct NamesBeyond: Sendable, Equatable {
        /// "3 channel names for 2 channels (Kick, Snare)", or where a config names channels
        /// with gaps between ([channel.1] and [channel.9]) "a name for channel 9 (Room), with
        /// 2 channels (Vox, R)".
        public var text: String
        /// How many channels the names reach.
        public var given: Int
        /// Whether there are gaps: the names past the channels are not simply "the rest".
        public var sparse: Bool
        /// The names past the channels, as a pronoun: "it" or "them".
        public var them: String
        /// "the rest are", "it is" or "they are" (not used).
        public var are: String { !sparse ? "the rest are" : them == "it" ? "it is" : "they are" }
    }

    /// What ``NamesBeyond`` says of `names` against `channels` (a trailing empty name counts
    /// for none); nil when every name is used.
    public static func namesBeyond(_ names: [String], channels: Int) -> NamesBeyond? {
        let given = (names.lastIndex { !$0.isEmpty } ?? -1) + 1
        guard given > channels else { return nil }
        let used = DisplayText.escaped(ClipLog.channelNames(names, channels: channels).joined(separator: ", "))
        let plural = channels == 1 ? "" : "s"
        let beyond = (channels..<given).filter { !names[$0].isEmpty }
        let them = beyond.count == 1 ? "it" : "them"
        guard names[..<given].contains(where: \.isEmpty) else {
            return NamesBeyond(
                text: "\(given) channel names for \(channels) channel\(plural) (\(used))",
                given: given,
                sparse: false,
                them: them
            )
        }
        let numbers = beyond.map { String($0 + 1) }
        let which =
            beyond.count == 1
            ? "a name for channel \(numbers[0])"
            : "names for channels \(numbers.dropLast().joined(separator: ", ")) and \(numbers.last!)"
        let unused = DisplayText.escaped(beyond.map { names[$0] }.joined(separator: ", "))
        return NamesBeyond(
            text: "\(which) (\(unused)), with \(channels) channel\(plural) (\(used))",
            given: given,
            sparse: true,
            them: them
        )
    }

    /// `"Kick, Snare,Vox"` to `["Kick", "Snare", "Vox"]`.
    public static func splitNames(_ text: String) -> [String] {
        text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    }
}
