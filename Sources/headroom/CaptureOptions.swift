import ArgumentParser
import HeadroomCore

/// SPEC's capture options (`record`, `calibrate`). Unset options keep the config file's
/// value or the default.
struct CaptureOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp("ALSA capture PCM, e.g. hw:CARD=USB,DEV=0, plughw:1 (default: default).", valueName: "pcm")
    )
    var device: String?

    @Option(help: ArgumentHelp("Sample rate, Hz (default 48000).", valueName: "hz"))
    var rate: Int?

    @Option(help: ArgumentHelp("Channels to capture (default 2).", valueName: "n"))
    var channels: Int?

    @Option(help: ArgumentHelp("S16_LE, S24_3LE, S24_LE, S32_LE or FLOAT_LE (default S24_3LE).", valueName: "format"))
    var format: String?

    /// Applies these flags over `settings` and checks them.
    func apply(to settings: inout Settings) throws(HeadroomError) {
        if let device { settings.device = device }
        if let rate { settings.rate = rate }
        if let channels { settings.channels = channels }
        if let format { settings.format = format }
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
        guard !settings.device.isEmpty else { throw HeadroomError(.usage, "--device must name an ALSA PCM") }
    }
}
