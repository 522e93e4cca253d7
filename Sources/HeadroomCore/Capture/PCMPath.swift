/// What stands between the converter and headroom: the ALSA PCM chain of a capture device
/// (`["plug", "softvol", "hw"]`), and whether anything in it can change sample values and
/// so hide clipping at the converter (a volume, a resampler, a mixing matrix, a sound server).
public enum PCMPath {
    /// libasound's names for its PCM types in `snd_pcm_dump` (the first words of each line
    /// that describes a PCM), and the short names the log uses.
    static let names: [(prefix: String, name: String)] = [
        ("Hardware PCM", "hw"), ("Plug PCM", "plug"), ("Soft volume PCM", "softvol"),
        ("Rate conversion PCM", "rate"), ("Route conversion PCM", "route"),
        ("Linear Integer <-> Linear Float conversion PCM", "lfloat"), ("Linear conversion PCM", "linear"),
        ("Mu-Law conversion PCM", "mulaw"), ("A-Law conversion PCM", "alaw"),
        ("IMA-ADPCM conversion PCM", "adpcm"), ("Copy conversion PCM", "copy"), ("Direct Snoop PCM", "dsnoop"),
        ("Direct Stream Mixing PCM", "dmix"), ("Direct Sharing PCM", "dshare"), ("Multi PCM", "multi"),
        ("Share PCM", "share"), ("Hooks PCM", "hooks"), ("File PCM", "file"), ("Null PCM", "null"),
        ("Asym PCM", "asym"), ("LADSPA PCM", "ladspa"), ("IEC958 subframe conversion PCM", "iec958"),
        ("ALSA <-> PulseAudio PCM I/O Plugin", "pulse"), ("ALSA <-> PipeWire PCM I/O Plugin", "pipewire"),
        ("ALSA <-> JACK PCM I/O Plugin", "jack"), ("Empty PCM", "empty"),
    ]

    /// How `snd_pcm_dump` describes the PCM the log calls `name` ("lfloat": "Linear Integer
    /// <-> Linear Float conversion PCM").
    static func description(of name: String) -> String {
        names.first { $0.name == name }?.prefix ?? name
    }

    /// PCMs that can change sample values on the way in: gains, resamplers, mixing
    /// matrices, and the desktop sound servers (their stream volumes and resamplers). JACK
    /// passes the converter's samples through unchanged, so it is not among them.
    static let changesValues: Set<String> = [
        "softvol", "rate", "route", "ladspa", "pulse", "pipewire", "multi", "share",
    ]
    /// Sound servers, named in the warning.
    static let servers: [String: String] = ["pulse": "PulseAudio", "pipewire": "PipeWire", "jack": "JACK"]

    /// The chain described by a `snd_pcm_dump`, outermost first, each PCM once.
    public static func parse(dump: String) -> [String] {
        var out: [String] = []
        // "Plug PCM: Rate conversion PCM (44100, sformat=S16_LE)", then "Slave: Hardware PCM card 0 ...".
        for line in dump.split(separator: "\n") {
            for part in line.split(separator: ": ") {
                let text = part.trimmingPrefix(while: { $0 == " " || $0 == "\t" })
                if let match = names.first(where: { text.hasPrefix($0.prefix) }) { out.append(match.name) }
            }
        }
        return out
    }

    /// The card at the end of the chain a `snd_pcm_dump` describes ("Hardware PCM card 1
    /// 'USB Audio' ..."), or nil when it ends elsewhere (a sound server, a file).
    public static func card(dump: String) -> Int? {
        guard let line = dump.split(separator: "\n").last(where: { $0.contains("Hardware PCM card ") }),
            let range = line.range(of: "Hardware PCM card ")
        else { return nil }
        return Int(line[range.upperBound...].prefix(while: \.isNumber))
    }

    /// The significant bits of the innermost PCM a `snd_pcm_dump` describes (its last
    /// `msbits`: the card's, or a file's), when the path between changes no sample values
    /// and they are fewer than `outer`'s; nil otherwise. A 16-bit card read as S24_3LE
    /// through `plug` arrives with its largest code 0x7FFF00, which is its full scale.
    public static func converterBits(dump: String, path: [String], outer: Int) -> Int? {
        guard hiding(path).isEmpty else { return nil }
        guard
            let line = dump.split(separator: "\n").last(where: {
                $0.trimmingPrefix(while: \.isWhitespace).hasPrefix("msbits")
            }),
            let bits = Int(line.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? ""),
            (8..<outer).contains(bits)
        else { return nil }
        return bits
    }

    /// The PCMs of `path` that can hide clipping at the converter; empty for a plain path.
    public static func hiding(_ path: [String]) -> [String] {
        path.filter(changesValues.contains)
    }

    /// Whether one of the PCMs of `path` that can hide clipping is a sound server (which
    /// holds the card, and must let go of it before its `hw:` device opens).
    public static func throughServer(_ path: [String]) -> Bool {
        hiding(path).contains { servers[$0] != nil }
    }

    /// One line for the start of a take, or nil when the path is plain (or unknown):
    /// "PATH: default goes through plug > softvol > hw: softvol can change sample values, so
    /// clipping at the converter may not reach full scale here; flat-top detection only.
    /// Record from hw:CARD=PCH for exact overs (`headroom devices`)." `hardware` names the
    /// card's own device when it is known (the card under the chain, or the only card that
    /// captures); a sound server must let go of it first.
    public static func warning(_ path: [String], device: String, hardware: String? = nil) -> String? {
        let hiding = hiding(path)
        guard !hiding.isEmpty else { return nil }
        let what = hiding.map { servers[$0].map { "the \($0) server" } ?? $0 }.joined(separator: ", ")
        let exact =
            hardware.map { throughServer(path) ? "\($0) (once the server lets go of the card)" : $0 }
            ?? "the card's hw: device"
        return
            "PATH: \(device) goes through \(path.joined(separator: " > ")): \(what) can change sample values, so clipping at the converter may not reach full scale here; flat-top detection only. Record from \(exact) for exact overs (`headroom devices`)."
    }
}
