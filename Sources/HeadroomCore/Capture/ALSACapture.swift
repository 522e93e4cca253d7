import CALSA
import Glibc

/// An ALSA capture PCM, opened by name (`hw:CARD=USB,DEV=0`, `plughw:1`, `default`, a
/// plugin from `.asoundrc`) and negotiated in aplay's order: access, format, channels,
/// rate, then buffer and period. It is opened non-blocking and waited on with a
/// timeout, so a device that stops delivering cannot hang the recorder.
public final class ALSACapture: CaptureSource {
    public let device: String
    public let rate: Int
    public let channels: Int
    public let format: SampleFormat
    public let periodFrames: Int
    public let bufferFrames: Int
    /// The PCMs the samples pass through, outermost first (`["plug", "softvol", "hw"]`).
    public private(set) var path: [String] = []
    /// The card's own capture device, `hw:CARD=id`, when the path can hide clipping and ends
    /// at a card, or at a sound server while only one card captures: where exact overs are read.
    public private(set) var hardware: String?
    private var pcm: OpaquePointer?

    /// Opens and configures `device`. Throws a ``HeadroomError`` that says what the
    /// device offers when it cannot do what was asked (exit 69).
    public init(
        device: String,
        rate: Int,
        channels: Int,
        format: SampleFormat,
        periodMicroseconds: Int = 20_000,
        bufferMicroseconds: Int = 200_000,
        periodFrames wantedPeriod: Int? = nil,
        bufferFrames wantedBuffer: Int? = nil
    ) throws(HeadroomError) {
        self.device = device
        self.format = format
        self.channels = channels
        ALSACapture.silenceLibraryErrors()
        var handle: OpaquePointer?
        var r = snd_pcm_open(&handle, device, SND_PCM_STREAM_CAPTURE, Int32(SND_PCM_NONBLOCK))
        guard r >= 0, let pcm = handle else {
            let why = ALSAError(rawValue: r)
            throw HeadroomError(
                .unavailable,
                "cannot open capture device \(device): \(why); `headroom devices` lists what is there"
            )
        }
        self.pcm = pcm
        var hw: OpaquePointer?
        snd_pcm_hw_params_malloc(&hw)
        defer { snd_pcm_hw_params_free(hw) }
        func fail(_ message: String) -> HeadroomError {
            snd_pcm_close(pcm)
            return HeadroomError(.unavailable, message)
        }
        guard snd_pcm_hw_params_any(pcm, hw) >= 0 else { throw fail("\(device) has no usable configuration") }
        guard snd_pcm_hw_params_set_access(pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED) >= 0 else {
            throw fail("\(device) does not offer interleaved read access")
        }
        if snd_pcm_hw_params_test_format(pcm, hw, format.alsa) < 0 {
            let offered = Self.formats(pcm, hw)
            let hint = offered.first.map { "; use --format \($0)" } ?? ""
            let list =
                offered.isEmpty
                ? "no format headroom records" : offered.joined(separator: ", ") + (offered.count == 1 ? " only" : "")
            throw fail("\(device) does not offer \(format.rawValue): it offers \(list)\(hint)")
        }
        snd_pcm_hw_params_set_format(pcm, hw, format.alsa)
        if snd_pcm_hw_params_test_channels(pcm, hw, UInt32(channels)) < 0 {
            var lo: UInt32 = 0
            var hi: UInt32 = 0
            snd_pcm_hw_params_get_channels_min(hw, &lo)
            snd_pcm_hw_params_get_channels_max(hw, &hi)
            let range = lo == hi ? "\(lo)" : "\(lo) to \(min(hi, 64))"
            throw fail(
                "\(device) cannot capture \(channels) channels in \(format.rawValue): it offers \(range); use --channels \(lo)"
            )
        }
        snd_pcm_hw_params_set_channels(pcm, hw, UInt32(channels))
        var actualRate = UInt32(rate)
        var dir: Int32 = 0
        if snd_pcm_hw_params_set_rate_near(pcm, hw, &actualRate, &dir) < 0 {
            throw fail("\(device) cannot capture at \(rate) Hz")
        }
        if Int(actualRate) != rate {
            let rel = abs(Double(Int(actualRate) - rate)) / Double(rate)
            if rel > 0.05 {
                throw fail(
                    "\(device) cannot capture at \(rate) Hz (nearest it offers: \(actualRate) Hz); use --rate \(actualRate)"
                )
            }
        }
        self.rate = Int(actualRate)
        // Period, then buffer (aplay's order). A device that refuses the timing asked for
        // (ALSA's jack plugin ties periods to JACK's) gets its own choice instead.
        let chosen = Self.copyParams(hw)
        defer { snd_pcm_hw_params_free(chosen) }
        if let wantedPeriod {
            var size = snd_pcm_uframes_t(wantedPeriod)
            snd_pcm_hw_params_set_period_size_near(pcm, hw, &size, &dir)
        } else {
            var periodTime = UInt32(periodMicroseconds)
            snd_pcm_hw_params_set_period_time_near(pcm, hw, &periodTime, &dir)
        }
        if let wantedBuffer {
            var size = snd_pcm_uframes_t(wantedBuffer)
            snd_pcm_hw_params_set_buffer_size_near(pcm, hw, &size)
        } else {
            var bufferTime = UInt32(bufferMicroseconds)
            snd_pcm_hw_params_set_buffer_time_near(pcm, hw, &bufferTime, &dir)
        }
        r = snd_pcm_hw_params(pcm, hw)
        if r < 0 {
            snd_pcm_hw_params_copy(hw, chosen)
            r = snd_pcm_hw_params(pcm, hw)
        }
        guard r >= 0 else { throw fail("\(device) refused the configuration: \(ALSAError(rawValue: r))") }
        var period: snd_pcm_uframes_t = 0
        var buffer: snd_pcm_uframes_t = 0
        snd_pcm_hw_params_get_period_size(hw, &period, &dir)
        snd_pcm_hw_params_get_buffer_size(hw, &buffer)
        guard period > 0, period < buffer else {
            throw fail(
                "\(device) offers a period (\(period) frames) as long as its buffer (\(buffer)); cannot capture safely"
            )
        }
        periodFrames = Int(period)
        bufferFrames = Int(buffer)
        let dump = Self.dump(pcm)
        path = PCMPath.parse(dump: dump)
        // Only a path that can hide clipping is warned about, naming the card's own device.
        if !PCMPath.hiding(path).isEmpty {
            if let card = PCMPath.card(dump: dump) {
                hardware = DeviceList.cardID(card).map { "hw:CARD=\($0)" }
            } else if PCMPath.throughServer(path) {
                let cards = DeviceList.captureCardIDs()
                hardware = cards.count == 1 ? "hw:CARD=\(cards[0])" : nil
            }
        }
        // Software parameters: wake the reader when a period is ready.
        var sw: OpaquePointer?
        snd_pcm_sw_params_malloc(&sw)
        defer { snd_pcm_sw_params_free(sw) }
        snd_pcm_sw_params_current(pcm, sw)
        snd_pcm_sw_params_set_avail_min(pcm, sw, period)
        snd_pcm_sw_params_set_start_threshold(pcm, sw, 1)
        snd_pcm_sw_params_set_tstamp_mode(pcm, sw, SND_PCM_TSTAMP_ENABLE)
        snd_pcm_sw_params(pcm, sw)
    }

    deinit { close() }

    /// libasound prints its own error lines unless told not to; set HEADROOM_ALSA_DEBUG=1 to keep them.
    public static func silenceLibraryErrors() {
        if getenv("HEADROOM_ALSA_DEBUG") == nil { CALSA_silence_errors() }
    }

    public func start() throws(ALSAError) {
        guard let pcm else { throw .badState }
        try alsaCall { snd_pcm_prepare(pcm) }
        try alsaCall { snd_pcm_start(pcm) }
    }

    public func read(into buffer: UnsafeMutableRawPointer, frames: Int, timeoutMilliseconds: Int32) -> CaptureRead {
        guard let pcm else { return .error(.badState) }
        var waited = false
        while true {
            let n = snd_pcm_readi(pcm, buffer, snd_pcm_uframes_t(frames))
            if n > 0 { return .frames(Int(n)) }
            if Int32(n) == -EINTR { continue }
            guard n == 0 || Int32(n) == ALSAError.again.rawValue else { return .error(ALSAError(rawValue: Int32(n))) }
            // Nothing ready: wait once for up to the timeout. A PCM that wakes the wait
            // without data (some plugins do) is not read again in a spin.
            if waited { return .timeout }
            waited = true
            let w = snd_pcm_wait(pcm, timeoutMilliseconds)
            if w == 0 { return .timeout }
            if w < 0 && w != -EINTR { return .error(ALSAError(rawValue: w)) }
        }
    }

    public func available() -> Int {
        guard let pcm else { return 0 }
        let n = snd_pcm_avail(pcm)  // syncs the hardware pointer first
        return n > 0 ? Int(n) : 0
    }

    public func recover(from error: ALSAError) -> Bool {
        guard let pcm else { return false }
        if error == .suspended {
            var r = snd_pcm_resume(pcm)
            while r == -EAGAIN {
                usleep(10_000)  // the driver asks us to retry; aplay does the same
                r = snd_pcm_resume(pcm)
            }
            if r >= 0 { return true }
        }
        guard error == .xrun || error == .suspended else { return false }
        return snd_pcm_prepare(pcm) >= 0 && snd_pcm_start(pcm) >= 0
    }

    public func close() {
        if let pcm {
            snd_pcm_drop(pcm)
            snd_pcm_close(pcm)
        }
        pcm = nil
    }

    /// libasound's own description of a configured `pcm` (`snd_pcm_dump`: one "... PCM"
    /// line per plugin, down to the hardware), for ``PCMPath``.
    static func dump(_ pcm: OpaquePointer) -> String {
        var output: OpaquePointer?
        guard snd_output_buffer_open(&output) >= 0, let output else { return "" }
        defer { snd_output_close(output) }
        snd_pcm_dump(pcm, output)
        var text: UnsafeMutablePointer<CChar>?
        let length = snd_output_buffer_string(output, &text)
        guard length > 0, let text else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self)
    }

    /// A copy of hardware parameters (freed by the caller).
    private static func copyParams(_ hw: OpaquePointer?) -> OpaquePointer? {
        var copy: OpaquePointer?
        snd_pcm_hw_params_malloc(&copy)
        snd_pcm_hw_params_copy(copy, hw)
        return copy
    }

    /// The formats headroom records that the device offers.
    private static func formats(_ pcm: OpaquePointer, _ hw: OpaquePointer?) -> [String] {
        SampleFormat.allCases.filter { snd_pcm_hw_params_test_format(pcm, hw, $0.alsa) >= 0 }.map(\.rawValue)
    }
}
