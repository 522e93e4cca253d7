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

    /// Checks every value; the error names the option and what is allowed.
    public func validate() throws(SettingsError) {
        func check(_ ok: Bool, _ key: String, _ allowed: String) throws(SettingsError) {
            if !ok { throw SettingsError(key: key, message: "must be \(allowed)") }
        }
        // Each range check also refuses NaN and infinities, naming the option at fault.
        try check((-60.0...0).contains(targetPeakDBTP), "target-peak", "between -60 and 0 dBTP")
        try check((0.0...60).contains(toleranceDB), "tolerance", "between 0 and 60 dB")
        try check((0.0...60).contains(marginDB), "margin", "between 0 and 60 dB")
        try check((-150.0 ... -1).contains(signalFloorDBFS), "signal-floor", "between -150 and -1 dBFS")
        try check((-40.0...0).contains(clipLevelDBFS), "clip-level", "between -40 and 0 dBFS")
        try check((1...100_000).contains(clipRunSamples), "clip-run", "a whole number of samples from 1 to 100000")
        try check((0.0...60).contains(clipHoldSeconds), "clip-hold", "between 0 and 60 seconds")
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
