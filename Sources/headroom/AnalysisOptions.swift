import ArgumentParser
import HeadroomCore

/// SPEC's analyzer options, shared by every command through `@OptionGroup`.
/// Unset options leave the config file's value (or the default) in place.
struct AnalysisOptions: ParsableArguments {
    // Names, help and units come from HeadroomCore's one table of analyzer settings
    // (`AnalysisSetting`), which the config file, validation and the log read too. Every
    // number is taken as it comes (`.unconditional`), as in the other commands: levels in
    // dBFS are negative, and a negative value where none is allowed gets the range error,
    // not "missing value".
    @Option(
        name: .customLong(AnalysisSetting.targetPeak.flag),
        parsing: .unconditional,
        help: .of(.targetPeak),
        transform: AnalysisSetting.targetPeak.parsed
    )
    var targetPeak: Double?

    @Option(
        name: .customLong(AnalysisSetting.tolerance.flag),
        parsing: .unconditional,
        help: .of(.tolerance),
        transform: AnalysisSetting.tolerance.parsed
    )
    var tolerance: Double?

    @Option(
        name: .customLong(AnalysisSetting.margin.flag),
        parsing: .unconditional,
        help: .of(.margin),
        transform: AnalysisSetting.margin.parsed
    )
    var margin: Double?

    @Option(
        name: .customLong(AnalysisSetting.signalFloor.flag),
        parsing: .unconditional,
        help: .of(.signalFloor),
        transform: AnalysisSetting.signalFloor.parsed
    )
    var signalFloor: Double?

    @Option(
        name: .customLong(AnalysisSetting.clipLevel.flag),
        parsing: .unconditional,
        help: .of(.clipLevel),
        transform: AnalysisSetting.clipLevel.parsed
    )
    var clipLevel: Double?

    @Option(name: .customLong(AnalysisSetting.clipRun.flag), parsing: .unconditional, help: .of(.clipRun))
    var clipRun: Int?

    @Option(
        name: .customLong(AnalysisSetting.clipHold.flag),
        parsing: .unconditional,
        help: .of(.clipHold),
        transform: AnalysisSetting.clipHold.parsed
    )
    var clipHold: Double?

    @Option(help: ArgumentHelp("Channel names, comma-separated, e.g. \"Kick,Snare,Vox\".", valueName: "names"))
    var names: String?

    @Option(
        help: ArgumentHelp(
            "Read settings from this TOML file instead of /etc/headroom/headroom.toml, the XDG config folders' headroom/headroom.toml and ./headroom.toml.",
            valueName: "file"
        ),
        transform: Settings.expandingHome
    )
    var config: String?

    /// Defaults, then the config file(s), then these flags; validated.
    func settings() throws(HeadroomError) -> Settings {
        var settings = Settings()
        let paths = config.map { [$0] } ?? Settings.defaultConfigPaths()
        for path in paths { try settings.apply(ConfigFile.load(path: path)) }
        let given: [(AnalysisSetting, Double?)] = [
            (.targetPeak, targetPeak), (.tolerance, tolerance), (.margin, margin), (.signalFloor, signalFloor),
            (.clipLevel, clipLevel), (.clipRun, clipRun.map(Double.init)), (.clipHold, clipHold),
        ]
        for case (let setting, let value?) in given { setting.set(&settings.analysis, value) }
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

extension AnalysisSetting {
    /// The flag's value as ``value(of:)`` reads it, or the parser's error saying which forms it takes.
    @Sendable func parsed(_ text: String) throws -> Double {
        guard let value = value(of: text) else { throw ValidationError("give \(forms)") }
        return value
    }
}

extension ArgumentHelp {
    /// A setting's help, as its declaration says it.
    static func of(_ setting: AnalysisSetting) -> ArgumentHelp {
        ArgumentHelp(setting.help, valueName: setting.unit)
    }
}

/// `--fail-on-clip` (SPEC: `analyze` and `review`): exit 1 once the output is out when a
/// clip event was found; flat tops alone do not trip it.
struct FailOnClipOption: ParsableArguments {
    @Flag(
        name: .customLong("fail-on-clip"),
        help: "Exit 1, after the output, when any clip event was found (flat tops alone do not trip it)."
    )
    var enabled = false

    /// Throws exit 1 when enabled and `clipped`.
    func check(clipped: Bool) throws {
        if enabled && clipped { throw ExitCode(HeadroomError.Code.clipped.rawValue) }
    }
}
