import CALSA
import CHeadroomKernels
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
    public private(set) var converterBits: Int?
    private var pcm: OpaquePointer?
    /// Where a float device's period lands before `read` converts it to `format` (nil:
    /// the device gives `format` itself). A period's worth, allocated here, never on the
    /// capture thread.
    private var floatScratch: UnsafeMutablePointer<Float>?

    /// What an error from `snd_pcm_open` most often means, where its text alone does not say.
    /// For a PCM from ALSA's own list (`listed`), whose name is known, ENOENT gets none: a
    /// missing plugin or card is all it can mean, and the list says so in its words; and a
    /// server out of reach is said shortly, since the list says it of each PCM through it.
    /// Where this user may not open the cards, ALSA's error (no such file or device, or
    /// permission denied) says so.
    public static func openHint(_ code: Int32, listed: Bool = false) -> String {
        if !listed && [ENOENT, ENODEV, EACCES, EPERM].contains(-code), let hint = DeviceList.permissionHint() {
            return " (\(hint))"
        }
        return switch -code {
        case EBUSY:
            " (another program has it: a sound server? see \"Recording on a PipeWire or PulseAudio desktop\" in the README; `fuser -v /dev/snd/*` names it)"
        // Not running, or not for this user: a desktop's PipeWire or PulseAudio runs in the
        // session of the user logged in at it, which root (sudo) and other users cannot reach.
        case EHOSTDOWN, ECONNREFUSED:
            listed
                ? " (its sound server is not running for this user)"
                : " (the sound server this PCM goes through is not running for this user; a desktop's runs in its own user's session, out of reach of sudo and other users)"
        case ENOENT where !listed: " (no card or PCM by that name, or a plugin it needs is missing)"
        default: ""
        }
    }

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
        let r = snd_pcm_open(&handle, device, SND_PCM_STREAM_CAPTURE, Int32(SND_PCM_NONBLOCK))
        guard r >= 0, let pcm = handle else {
            throw HeadroomError(
                .unavailable,
                "cannot open capture device \(device): \(ALSAError(rawValue: r))\(Self.openHint(r)); `headroom devices` lists what is there"
            )
        }
        self.pcm = pcm
        func setUp(_ format: SampleFormat, _ timing: Timing) throws(HeadroomError) -> Setup {
            do {
                return try Self.negotiate(pcm, device: device, format: format, channels: channels, rate: rate, timing)
            } catch {
                snd_pcm_close(pcm)
                throw error
            }
        }
        var setup = try setUp(
            format,
            Timing(
                periodMicroseconds: periodMicroseconds,
                bufferMicroseconds: bufferMicroseconds,
                periodFrames: wantedPeriod,
                bufferFrames: wantedBuffer
            )
        )
        var dump = Self.dump(pcm)
        path = PCMPath.parse(dump: dump)
        // A `plug` over a float device (JACK, a float card) converts to the integer format
        // asked for in alsa-lib's `lfloat`, one sample at a time: at 32 channels x 96 kHz
        // from JACK, half of the capture thread's time. Then the device is set up again for
        // floats, with the timing it agreed to, and `read` converts them to the same codes
        // (`hr_float_to_s32` and its kin, at vector speed). The path stays the one that
        // names the conversion: the samples go through it, only done here.
        if format != .float, path.count >= 3, path[0] == "plug", path[1] == "lfloat",
            !Self.pluggedConverters.contains(path[2]),
            dump.contains(PCMPath.description(of: "lfloat") + " (FLOAT_LE)")
        {
            let same = Timing(periodFrames: setup.period, bufferFrames: setup.buffer)
            snd_pcm_hw_free(pcm)
            let floats = try? Self.negotiate(pcm, device: device, format: .float, channels: channels, rate: rate, same)
            if floats == setup, PCMPath.parse(dump: Self.dump(pcm)) == [path[0]] + path[2...] {
                floatScratch = .allocate(capacity: setup.period * channels)
            } else {
                snd_pcm_hw_free(pcm)
                setup = try setUp(format, same)
                dump = Self.dump(pcm)
            }
        }
        converterBits = PCMPath.converterBits(dump: dump, path: path, outer: format.layout.bits ?? 24)
        self.rate = setup.rate
        periodFrames = setup.period
        bufferFrames = setup.buffer
        let period = snd_pcm_uframes_t(setup.period)
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

    deinit {
        close()
        floatScratch?.deallocate()
    }

    /// The timing asked for: a period and buffer in microseconds, or in frames.
    struct Timing {
        var periodMicroseconds = 20_000
        var bufferMicroseconds = 200_000
        var periodFrames: Int?
        var bufferFrames: Int?
    }

    /// What a device agreed to.
    struct Setup: Equatable {
        var rate: Int
        var period: Int
        var buffer: Int
    }

    /// The PCMs a `plug` inserts to change a stream's rate, channels or format.
    static let pluggedConverters: Set<String> = ["rate", "route", "linear", "lfloat", "mulaw", "alaw", "adpcm"]

    /// Sets `pcm`'s hardware parameters in aplay's order: access, format, channels, rate,
    /// then period and buffer. Throws what the device offers when it cannot (exit 69).
    private static func negotiate(
        _ pcm: OpaquePointer,
        device: String,
        format: SampleFormat,
        channels: Int,
        rate: Int,
        _ timing: Timing
    ) throws(HeadroomError) -> Setup {
        var hw: OpaquePointer?
        snd_pcm_hw_params_malloc(&hw)
        defer { snd_pcm_hw_params_free(hw) }
        func fail(_ message: String) -> HeadroomError { HeadroomError(.unavailable, message) }
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
        // Period, then buffer (aplay's order). A device that refuses the timing asked for
        // (ALSA's jack plugin ties periods to JACK's) gets its own choice instead.
        let chosen = Self.copyParams(hw)
        defer { snd_pcm_hw_params_free(chosen) }
        if let wantedPeriod = timing.periodFrames {
            var size = snd_pcm_uframes_t(wantedPeriod)
            snd_pcm_hw_params_set_period_size_near(pcm, hw, &size, &dir)
        } else {
            var periodTime = UInt32(timing.periodMicroseconds)
            snd_pcm_hw_params_set_period_time_near(pcm, hw, &periodTime, &dir)
        }
        if let wantedBuffer = timing.bufferFrames {
            var size = snd_pcm_uframes_t(wantedBuffer)
            snd_pcm_hw_params_set_buffer_size_near(pcm, hw, &size)
        } else {
            var bufferTime = UInt32(timing.bufferMicroseconds)
            snd_pcm_hw_params_set_buffer_time_near(pcm, hw, &bufferTime, &dir)
        }
        var r = snd_pcm_hw_params(pcm, hw)
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
        return Setup(rate: Int(actualRate), period: Int(period), buffer: Int(buffer))
    }

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
            let n: snd_pcm_sframes_t
            if let floatScratch {
                n = snd_pcm_readi(pcm, floatScratch, snd_pcm_uframes_t(min(frames, periodFrames)))
                if n > 0 { convert(floatScratch, into: buffer, count: Int(n) * channels) }
            } else {
                n = snd_pcm_readi(pcm, buffer, snd_pcm_uframes_t(frames))
            }
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

    /// `count` floats from a float device to `format`, as alsa-lib's `lfloat` would.
    private func convert(_ floats: UnsafeMutablePointer<Float>, into buffer: UnsafeMutableRawPointer, count: Int) {
        switch format {
        case .s32: hr_float_to_s32(floats, buffer.assumingMemoryBound(to: Int32.self), count)
        case .s24: hr_float_to_s24(floats, buffer.assumingMemoryBound(to: Int32.self), count)
        case .s16: hr_float_to_s16(floats, buffer.assumingMemoryBound(to: Int16.self), count)
        case .s24packed: hr_float_to_s24_3(floats, buffer.assumingMemoryBound(to: UInt8.self), count)
        case .float: preconditionFailure("a float take reads the device as it is, with no scratch")
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
