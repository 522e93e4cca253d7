import CALSA
import Foundation

/// The capture devices ALSA knows: sound cards with their capture PCMs, and the PCMs
/// that ALSA's configuration defines (plugins), each with what it accepts.
public enum DeviceList {
    /// What a capture PCM accepts.
    public struct Capabilities: Sendable, Equatable {
        /// The formats headroom records that it offers.
        public var formats: [String]
        public var minRate: Int
        public var maxRate: Int
        public var minChannels: Int
        public var maxChannels: Int
    }

    /// One capture PCM.
    public struct PCM: Sendable {
        /// The name to pass to `--device`.
        public var name: String
        public var description: String
        /// `nil` with `problem` set when it could not be opened.
        public var capabilities: Capabilities?
        public var problem: String?
    }

    /// One sound card.
    public struct Card: Sendable {
        public var index: Int
        public var id: String
        public var name: String
        public var pcms: [PCM]
    }

    /// The sound cards' control devices in `dir` that this user may not open. ALSA then
    /// sees no card at all, as if none were plugged in: `arecord -l` says "no soundcards
    /// found", and `hw:0` is "No such file or directory". The usual cause: a user not in the
    /// `audio` group, logged in without a seat (ssh, a service, a script run by cron).
    private static func forbiddenCards(in dir: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        return names.filter { $0.hasPrefix("controlC") }.sorted().filter { name in
            access(dir + "/" + name, R_OK) != 0 && (errno == EACCES || errno == EPERM)
        }
    }

    /// What to do when this user may not open the sound cards (``forbiddenCards(in:)``);
    /// nil when it may, or there are none.
    public static func permissionHint(in dir: String = "/dev/snd") -> String? {
        let forbidden = forbiddenCards(in: dir)
        guard let first = forbidden.first else { return nil }
        let user = getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) } ?? "$USER"
        let cards = forbidden.count == 1 ? "the sound card" : "\(forbidden.count) sound cards"
        return
            "this user may not open \(cards) (\(dir)/\(first): permission denied): add it to the audio group, sudo usermod -aG audio \(user), and log in again"
    }

    /// The sound cards, in ALSA's order.
    public static func cards() -> [Card] {
        var cards: [Card] = []
        eachCard { index, ctl, id, name in
            let pcms = captureDevices(ctl).map { device, description in
                let pcmName = "hw:CARD=\(id),DEV=\(device)"
                let (caps, problem) = probe(pcmName)
                return PCM(name: pcmName, description: description, capabilities: caps, problem: problem)
            }
            cards.append(Card(index: Int(index), id: id, name: name, pcms: pcms))
        }
        return cards
    }

    /// The ids of the cards with a capture device, without opening any PCM (a sound server
    /// may hold them).
    public static func captureCardIDs() -> [String] {
        var ids: [String] = []
        eachCard { _, ctl, id, _ in
            if !captureDevices(ctl).isEmpty { ids.append(id) }
        }
        return ids
    }

    /// Card `index`'s ALSA id ("PCH", "USB"), as `hw:CARD=` takes it.
    public static func cardID(_ index: Int) -> String? {
        var ctl: OpaquePointer?
        guard snd_ctl_open(&ctl, "hw:\(index)", 0) >= 0, let ctl else { return nil }
        defer { snd_ctl_close(ctl) }
        return identity(ctl)?.id
    }

    /// Calls `body` with each card's index, its control handle (open for the call only), id
    /// and name, in ALSA's order.
    private static func eachCard(_ body: (Int32, OpaquePointer, _ id: String, _ name: String) -> Void) {
        ALSACapture.silenceLibraryErrors()
        var index: Int32 = -1
        while snd_card_next(&index) == 0 && index >= 0 {
            var ctl: OpaquePointer?
            guard snd_ctl_open(&ctl, "hw:\(index)", 0) >= 0, let ctl else { continue }
            defer { snd_ctl_close(ctl) }
            guard let (id, name) = identity(ctl) else { continue }
            body(index, ctl, id, name)
        }
    }

    /// A card's id and name, from its control handle.
    private static func identity(_ ctl: OpaquePointer) -> (id: String, name: String)? {
        var info: OpaquePointer?
        snd_ctl_card_info_malloc(&info)
        defer { snd_ctl_card_info_free(info) }
        guard snd_ctl_card_info(ctl, info) >= 0 else { return nil }
        return (String(cString: snd_ctl_card_info_get_id(info)), String(cString: snd_ctl_card_info_get_name(info)))
    }

    /// A card's devices that capture, with their descriptions.
    private static func captureDevices(_ ctl: OpaquePointer) -> [(device: Int32, description: String)] {
        var devices: [(device: Int32, description: String)] = []
        var device: Int32 = -1
        while snd_ctl_pcm_next_device(ctl, &device) == 0 && device >= 0 {
            var pcmInfo: OpaquePointer?
            snd_pcm_info_malloc(&pcmInfo)
            defer { snd_pcm_info_free(pcmInfo) }
            snd_pcm_info_set_device(pcmInfo, UInt32(device))
            snd_pcm_info_set_subdevice(pcmInfo, 0)
            snd_pcm_info_set_stream(pcmInfo, SND_PCM_STREAM_CAPTURE)
            guard snd_ctl_pcm_info(ctl, pcmInfo) >= 0 else { continue }  // no capture on this device
            devices.append((device, String(cString: snd_pcm_info_get_name(pcmInfo))))
        }
        return devices
    }

    /// The PCMs ALSA's configuration defines that can capture (its "hints").
    public static func configuredPCMs() -> [PCM] {
        ALSACapture.silenceLibraryErrors()
        var hints: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
        guard snd_device_name_hint(-1, "pcm", &hints) >= 0, let hints else { return [] }
        defer { snd_device_name_free_hint(hints) }
        var out: [PCM] = []
        var i = 0
        while let hint = hints[i] {
            i += 1
            func field(_ key: String) -> String? {
                guard let p = snd_device_name_get_hint(hint, key) else { return nil }
                defer { free(p) }
                return String(cString: p)
            }
            guard let name = field("NAME") else { continue }
            if let io = field("IOID"), io != "Input" { continue }
            let description = (field("DESC") ?? "").split(separator: "\n").joined(separator: "; ")
            let (caps, problem) = probe(name)
            out.append(PCM(name: name, description: description, capabilities: caps, problem: problem))
        }
        return out
    }

    /// Opens `name` for capture (non-blocking) and reads what it accepts. Plugins that
    /// talk to servers (JACK, PulseAudio) print to stderr when theirs is not running:
    /// that is kept off the user's screen.
    public static func probe(_ name: String) -> (Capabilities?, String?) {
        withStderrSilenced { probeQuietly(name) }
    }

    /// Runs `body` with file descriptor 2 on /dev/null: for plugin libraries (libjack,
    /// libpulse) that print their own errors when their server is not there.
    public static func withStderrSilenced<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        let saved = dup(STDERR_FILENO)
        let null = open("/dev/null", O_WRONLY)
        dup2(null, STDERR_FILENO)
        defer {
            dup2(saved, STDERR_FILENO)
            close(saved)
            close(null)
        }
        return try body()
    }

    private static func probeQuietly(_ name: String) -> (Capabilities?, String?) {
        var pcm: OpaquePointer?
        let r = snd_pcm_open(&pcm, name, SND_PCM_STREAM_CAPTURE, Int32(SND_PCM_NONBLOCK))
        guard r >= 0, let pcm else {
            return (nil, ALSAError(rawValue: r).description + ALSACapture.openHint(r, listed: true))
        }
        defer { snd_pcm_close(pcm) }
        var hw: OpaquePointer?
        snd_pcm_hw_params_malloc(&hw)
        defer { snd_pcm_hw_params_free(hw) }
        guard snd_pcm_hw_params_any(pcm, hw) >= 0 else { return (nil, "no usable configuration") }
        let formats = SampleFormat.allCases.filter { snd_pcm_hw_params_test_format(pcm, hw, $0.alsa) >= 0 }.map(
            \.rawValue
        )
        var minRate: UInt32 = 0
        var maxRate: UInt32 = 0
        var dir: Int32 = 0
        snd_pcm_hw_params_get_rate_min(hw, &minRate, &dir)
        snd_pcm_hw_params_get_rate_max(hw, &maxRate, &dir)
        var minCh: UInt32 = 0
        var maxCh: UInt32 = 0
        snd_pcm_hw_params_get_channels_min(hw, &minCh)
        snd_pcm_hw_params_get_channels_max(hw, &maxCh)
        return (
            Capabilities(
                formats: formats,
                minRate: Int(minRate),
                maxRate: Int(maxRate),
                minChannels: Int(minCh),
                maxChannels: Int(maxCh)
            ), nil
        )
    }
}
