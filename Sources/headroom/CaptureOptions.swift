import ArgumentParser
import HeadroomCore

/// `--format` takes exactly the formats headroom records: the parser checks it, help and
/// shell completion list them.
extension SampleFormat: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public var defaultValueDescription: String { rawValue }
    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

/// `--file-format`: the containers headroom writes.
extension TakeFileFormat: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}

/// `--layout`: multitrack (mask 0) or a speaker layout.
extension ChannelLayout: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}

/// SPEC's capture options (`record`, `calibrate`), with arecord's short names where they
/// mean the same (`-D`, `-r`, `-c`, `-f`). Unset options keep the config file's value or
/// the default. Numbers are taken as they come (`.unconditional`), so `--rate -1` gets the
/// range error rather than "missing value".
struct CaptureOptions: ParsableArguments {
    @Option(
        name: [.customShort("D"), .long],
        help: ArgumentHelp("ALSA capture PCM, e.g. hw:CARD=USB,DEV=0, plughw:1 (default: default).", valueName: "pcm")
    )
    var device: String?

    @Option(
        name: [.customShort("r"), .long],
        parsing: .unconditional,
        help: ArgumentHelp("Sample rate, Hz or kHz: 48000, 48k, 44.1k (default 48000).", valueName: "hz"),
        transform: Settings.parsedRate
    )
    var rate: Int?

    @Option(
        name: [.customShort("c"), .long],
        parsing: .unconditional,
        help: ArgumentHelp("Channels to capture (default 2).", valueName: "n")
    )
    var channels: Int?

    @Option(
        name: [.customShort("f"), .long],
        help: ArgumentHelp("Sample format (default S24_3LE).", valueName: "format")
    )
    var format: SampleFormat?

    @Option(
        name: .customLong("period-frames"),
        parsing: .unconditional,
        help: ArgumentHelp("ALSA period, frames (default: 20 ms worth).", valueName: "frames")
    )
    var periodFrames: Int?

    @Option(
        name: .customLong("buffer-frames"),
        parsing: .unconditional,
        help: ArgumentHelp("ALSA buffer, frames (default: 200 ms worth).", valueName: "frames")
    )
    var bufferFrames: Int?

    /// Applies these flags over `settings` and checks them.
    func apply(to settings: inout Settings) throws(HeadroomError) {
        if let device { settings.device = device }
        if let rate { settings.rate = rate }
        if let channels { settings.channels = channels }
        if let format { settings.format = format.rawValue }
        if let periodFrames { settings.periodFrames = periodFrames }
        if let bufferFrames { settings.bufferFrames = bufferFrames }
        // A config file's values were checked as it was read, so a value out of range here
        // is a flag's.
        func check(_ value: Int?, _ limit: Settings.Limit, _ flag: String) throws(HeadroomError) {
            if let value { _ = try limit.checked(value, "--" + flag) }
        }
        try check(settings.rate, Settings.rateLimit, "rate")
        try check(settings.channels, Settings.channelLimit, "channels")
        guard SampleFormat(name: settings.format) != nil else {
            throw HeadroomError(
                .usage,
                "--format \(settings.format) is not one headroom records; use one of \(SampleFormat.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        try check(settings.periodFrames, Settings.periodLimit, "period-frames")
        try check(settings.bufferFrames, Settings.bufferLimit, "buffer-frames")
        if let b = settings.bufferFrames, b < 2 * (settings.periodFrames ?? 16) {
            throw HeadroomError(
                .usage,
                "--buffer-frames must be at least two periods (2 x \(settings.periodFrames ?? 16) frames); got \(b)"
            )
        }
        guard !settings.device.isEmpty else { throw HeadroomError(.usage, "--device must name an ALSA PCM") }
    }
}
