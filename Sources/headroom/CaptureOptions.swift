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
/// the default.
struct CaptureOptions: ParsableArguments {
    @Option(
        name: [.customShort("D"), .long],
        help: ArgumentHelp("ALSA capture PCM, e.g. hw:CARD=USB,DEV=0, plughw:1 (default: default).", valueName: "pcm")
    )
    var device: String?

    @Option(name: [.customShort("r"), .long], help: ArgumentHelp("Sample rate, Hz (default 48000).", valueName: "hz"))
    var rate: Int?

    @Option(name: [.customShort("c"), .long], help: ArgumentHelp("Channels to capture (default 2).", valueName: "n"))
    var channels: Int?

    @Option(
        name: [.customShort("f"), .long],
        help: ArgumentHelp("Sample format (default S24_3LE).", valueName: "format")
    )
    var format: SampleFormat?

    @Option(
        name: .customLong("period-frames"),
        help: ArgumentHelp("ALSA period, frames (default: 20 ms worth).", valueName: "frames")
    )
    var periodFrames: Int?

    @Option(
        name: .customLong("buffer-frames"),
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
        guard (8000...384_000).contains(settings.rate) else {
            throw HeadroomError(.usage, "--rate must be between 8000 and 384000 Hz")
        }
        guard (1...64).contains(settings.channels) else {
            throw HeadroomError(.usage, "--channels must be between 1 and 64")
        }
        guard SampleFormat(name: settings.format) != nil else {
            throw HeadroomError(
                .usage,
                "--format \(settings.format) is not one headroom records; use one of \(SampleFormat.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        if let p = settings.periodFrames, !(16...65536).contains(p) {
            throw HeadroomError(.usage, "--period-frames must be between 16 and 65536")
        }
        if let b = settings.bufferFrames, !(64...1_048_576).contains(b) || b < 2 * (settings.periodFrames ?? 16) {
            throw HeadroomError(.usage, "--buffer-frames must be between 64 and 1048576 and at least two periods")
        }
        guard !settings.device.isEmpty else { throw HeadroomError(.usage, "--device must name an ALSA PCM") }
    }
}
