/// The analyzer's thresholds, as SPEC's *Definitions* name them.
///
/// Levels are in dBFS or dBTP, spans in dB, `clipHoldSeconds` in seconds.
/// Values are validated by ``validate()``; the command line and the config file
/// both go through it, so a bad value is refused with the same sentence everywhere.
public struct AnalysisSettings: Sendable, Equatable {
    /// Where peaks should sit, dBTP. Default -6.
    public var targetPeakDBTP: Double = -6
    /// How far below the target a peak may sit and still be "ok", dB. Default 6.
    public var toleranceDB: Double = 6
    /// Headroom to keep below 0 dBTP; a true peak above `-margin` is "hot", dB. Default 3.
    public var marginDB: Double = 3
    /// A channel whose loudest true peak stays below this has no signal, dBFS. Default -50.
    public var signalFloorDBFS: Double = -50
    /// A sample at or above this magnitude is clipped, dBFS. Default 0 (the full-scale codes).
    public var clipLevelDBFS: Double = 0
    /// Consecutive clipped samples that make an "over", samples. Default 3.
    public var clipRunSamples: Int = 3
    /// Runs (and hot bursts) closer than this merge into one event, seconds. Default 0.1.
    public var clipHoldSeconds: Double = 0.1

    public init() {}

    /// The hold in frames at `rate`: `round(clip_hold * rate)`.
    public func holdFrames(rate: Int) -> Int {
        Int((clipHoldSeconds * Double(rate)).rounded(.toNearestOrAwayFromZero))
    }

    /// The lowest true peak (dBTP) that still counts as within the target band.
    public var bandLowDBTP: Double { targetPeakDBTP - toleranceDB }

    /// Checks every value against its declaration (``AnalysisSetting``); the error names
    /// the option and what is allowed.
    public func validate() throws(SettingsError) {
        func check(_ ok: Bool, _ key: String, _ allowed: String) throws(SettingsError) {
            if !ok { throw SettingsError(key: key, message: "must be \(allowed)") }
        }
        // Each range check also refuses NaN and infinities, naming the option at fault.
        for setting in AnalysisSetting.all {
            let value = setting.get(self)
            try check(setting.admits(value), setting.flag, "\(setting.allowed); got \(String(format: "%g", value))")
        }
        try check(
            targetPeakDBTP <= -marginDB,
            "target-peak",
            "at or below -margin (\(-marginDB) dBTP): a target inside the margin would always read hot"
        )
        try check(
            signalFloorDBFS < bandLowDBTP,
            "signal-floor",
            "below the bottom of the target band (target-peak minus tolerance, \(bandLowDBTP) dBTP)"
        )
    }
}

/// One analyzer setting, declared once: its name (the flag `--target-peak`, the config
/// key and the clip log's `settings` field `target_peak`), unit, range, default and help.
/// The command line, the config file, validation and the log all read this table.
public struct AnalysisSetting: Sendable {
    /// The config key and log field (`target_peak`).
    public let key: String
    /// The unit, shown as the flag's value name (`dBTP`).
    public let unit: String
    /// What the setting does, for help.
    public let summary: String
    public let range: ClosedRange<Double>
    /// What the range reads as in an error ("between -60 and 0 dBTP").
    public let allowed: String
    /// A whole number (clip_run).
    public let whole: Bool
    /// Decimals in the log's `settings` object.
    public let decimals: Int
    public let get: @Sendable (AnalysisSettings) -> Double
    public let set: @Sendable (inout AnalysisSettings, Double) -> Void

    /// The flag's name without dashes (`target-peak`).
    public var flag: String { key.replacingOccurrences(of: "_", with: "-") }

    /// Whether `value` is in range (and whole, where it must be); NaN and infinities are not.
    public func admits(_ value: Double) -> Bool {
        range.contains(value) && (!whole || value == value.rounded())
    }

    /// A value as people write it, with or without its unit: `-6`, `-6dB`, `-6 dBTP` for
    /// levels and gains, `0.1`, `100ms` for `clip_hold`, `3` for `clip_run`; nil for anything
    /// else. The range is checked apart (``admits(_:)``), so `-60dB` is out of range, not
    /// unreadable.
    public func value(of text: String) -> Double? {
        if unit.hasPrefix("dB") { return Settings.decibels(text) }
        if unit == "seconds" {
            // Milliseconds here, where a hold is a fraction of a second (not for --duration,
            // where 15ms is more likely a slip for 15m).
            let t = text.trimmingCharacters(in: .whitespaces).lowercased()
            if t.hasSuffix("ms") {
                return Settings.seconds(String(t.dropLast(2))).map { $0 / 1000 }
            }
            return Settings.seconds(text)
        }
        return Int(text.trimmingCharacters(in: .whitespaces)).map(Double.init)
    }

    /// The forms ``value(of:)`` reads, for its error.
    public var forms: String {
        if unit.hasPrefix("dB") { return "a number of dB (-6, -6dB, -6 \(unit))" }
        if unit == "seconds" { return "seconds (0.1) or milliseconds (100ms)" }
        return "a whole number of \(unit)"
    }

    /// "Where peaks should sit (default -6 dBTP)."
    public var help: String {
        let value = get(AnalysisSettings())
        let text = whole || value == value.rounded() ? String(Int(value)) : String(value)
        return "\(summary) (default \(text) \(unit))."
    }

    public static let targetPeak = AnalysisSetting(
        key: "target_peak",
        unit: "dBTP",
        summary: "Where peaks should sit",
        range: -60...0,
        allowed: "between -60 and 0 dBTP",
        whole: false,
        decimals: 2,
        get: { $0.targetPeakDBTP },
        set: { $0.targetPeakDBTP = $1 }
    )
    public static let tolerance = AnalysisSetting(
        key: "tolerance",
        unit: "dB",
        summary: "How far below the target a peak may sit and still be ok",
        range: 0...60,
        allowed: "between 0 and 60 dB",
        whole: false,
        decimals: 2,
        get: { $0.toleranceDB },
        set: { $0.toleranceDB = $1 }
    )
    public static let margin = AnalysisSetting(
        key: "margin",
        unit: "dB",
        summary: "Headroom to keep: a true peak above -margin is hot",
        range: 0...60,
        allowed: "between 0 and 60 dB",
        whole: false,
        decimals: 2,
        get: { $0.marginDB },
        set: { $0.marginDB = $1 }
    )
    public static let signalFloor = AnalysisSetting(
        key: "signal_floor",
        unit: "dBFS",
        summary: "Below this a channel has no signal",
        range: -150 ... -1,
        allowed: "between -150 and -1 dBFS",
        whole: false,
        decimals: 2,
        get: { $0.signalFloorDBFS },
        set: { $0.signalFloorDBFS = $1 }
    )
    public static let clipLevel = AnalysisSetting(
        key: "clip_level",
        unit: "dBFS",
        summary: "A sample at or above this is clipped",
        range: -40...0,
        allowed: "between -40 and 0 dBFS",
        whole: false,
        decimals: 2,
        get: { $0.clipLevelDBFS },
        set: { $0.clipLevelDBFS = $1 }
    )
    public static let clipRun = AnalysisSetting(
        key: "clip_run",
        unit: "samples",
        summary: "Consecutive clipped samples that count as an over",
        range: 1...100_000,
        allowed: "a whole number of samples from 1 to 100000",
        whole: true,
        decimals: 0,
        get: { Double($0.clipRunSamples) },
        set: { $0.clipRunSamples = Int($1) }
    )
    public static let clipHold = AnalysisSetting(
        key: "clip_hold",
        unit: "seconds",
        summary: "Overs closer than this merge into one event",
        range: 0...60,
        allowed: "between 0 and 60 seconds",
        whole: false,
        decimals: 4,
        get: { $0.clipHoldSeconds },
        set: { $0.clipHoldSeconds = $1 }
    )

    /// Every analyzer setting, in the order the log's `settings` object lists them.
    public static let all = [targetPeak, tolerance, margin, signalFloor, clipLevel, clipRun, clipHold]
}

/// A setting that is out of range or malformed; `key` is the option or config key at fault.
public struct SettingsError: Error, Equatable, CustomStringConvertible {
    public var key: String
    public var message: String
    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }
    public var description: String { "\(key) \(message)" }
}
