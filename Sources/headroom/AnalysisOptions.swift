import ArgumentParser
import HeadroomCore

/// SPEC's analyzer options, shared by every command through `@OptionGroup`.
/// Unset options leave the config file's value (or the default) in place.
struct AnalysisOptions: ParsableArguments {
    @Option(
        name: .customLong("target-peak"),
        parsing: .unconditional,
        help: ArgumentHelp("Where peaks should sit, dBTP (default -6).", valueName: "dBTP")
    )
    var targetPeak: Double?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("How far below the target a peak may sit and still be ok, dB (default 6).", valueName: "dB")
    )
    var tolerance: Double?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Headroom to keep: a true peak above -margin is hot, dB (default 3).", valueName: "dB")
    )
    var margin: Double?

    @Option(
        name: .customLong("signal-floor"),
        parsing: .unconditional,
        help: ArgumentHelp("Below this a channel has no signal, dBFS (default -50).", valueName: "dBFS")
    )
    var signalFloor: Double?

    @Option(
        name: .customLong("clip-level"),
        parsing: .unconditional,
        help: ArgumentHelp("A sample at or above this is clipped, dBFS (default 0).", valueName: "dBFS")
    )
    var clipLevel: Double?

    @Option(
        name: .customLong("clip-run"),
        help: ArgumentHelp("Consecutive clipped samples that count as an over (default 3).", valueName: "samples")
    )
    var clipRun: Int?

    @Option(
        name: .customLong("clip-hold"),
        help: ArgumentHelp("Overs closer than this merge into one event, seconds (default 0.1).", valueName: "seconds")
    )
    var clipHold: Double?

    @Option(help: ArgumentHelp("Channel names, comma-separated, e.g. \"Kick,Snare,Vox\".", valueName: "names"))
    var names: String?

    @Option(
        help: ArgumentHelp(
            "Read settings from this TOML file instead of ./headroom.toml and ~/.config/headroom/headroom.toml.",
            valueName: "file"
        )
    )
    var config: String?

    /// Defaults, then the config file(s), then these flags; validated.
    func settings() throws(HeadroomError) -> Settings {
        var settings = Settings()
        let paths = config.map { [$0] } ?? Settings.defaultConfigPaths()
        for path in paths { try settings.apply(ConfigFile.load(path: path)) }
        if let targetPeak { settings.analysis.targetPeakDBTP = targetPeak }
        if let tolerance { settings.analysis.toleranceDB = tolerance }
        if let margin { settings.analysis.marginDB = margin }
        if let signalFloor { settings.analysis.signalFloorDBFS = signalFloor }
        if let clipLevel { settings.analysis.clipLevelDBFS = clipLevel }
        if let clipRun { settings.analysis.clipRunSamples = clipRun }
        if let clipHold { settings.analysis.clipHoldSeconds = clipHold }
        if let names { settings.names = Settings.splitNames(names) }
        do {
            try settings.analysis.validate()
        } catch {
            let source = config.map { " (after reading \($0))" } ?? ""
            throw HeadroomError(.usage, "--\(error.key) \(error.message)\(source)")
        }
        return settings
    }
}
