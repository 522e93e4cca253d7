import Foundation

/// The per-channel table a person reads at a glance (`analyze`, and the end of a take).
public struct SummaryTable {
    /// Colour clipped rows red and hot ones yellow (only on a terminal).
    public var color: Bool

    public init(color: Bool) { self.color = color }

    /// One row per channel: name, peak, true peak, RMS, headroom, clips, hot events, proposal.
    /// On a terminal `columns` wide that is too narrow for the table, one record per channel
    /// instead (``TextTable/records(columns:titleColumns:titles:)``), its title marked as the
    /// row would be.
    public func render(_ summaries: [ChannelSummary], names: [String], columns: Int? = nil) -> String {
        var table = TextTable(
            header: [
                "ch", "name", "peak dBFS", "true peak dBTP", "RMS dBFS", "headroom dB", "clips", "clipped", "flat",
                "hot", "proposal",
            ],
            alignments: [.right, .left, .right, .right, .right, .right, .right, .right, .right, .right, .left]
        )
        for s in summaries {
            let name = s.channel < names.count ? names[s.channel] : String(s.channel + 1)
            table.add([
                String(s.channel + 1), name, Self.db(s.peakDBFS), Self.db(s.truePeakDBTP), Self.db(s.rmsDBFS),
                Self.db(s.headroomDB, silence: "-"), String(s.clipEvents), String(s.clippedSamples),
                String(s.flatEvents),
                String(s.hotEvents),
                Self.proposalText(s.proposal),
            ])
        }
        // A flagged row is longer by its flag.
        let flags = summaries.contains { $0.clipEvents > 0 || $0.flatEvents > 0 } ? "  << FLAT TOPS".count : 0
        if let columns, !table.fits(columns - flags) {
            let titles = summaries.map {
                Self.title($0.channel, name: $0.channel < names.count ? names[$0.channel] : "")
            }
            let records = table.records(columns: columns, titleColumns: 2, titles: titles)
            return TextTable.text(
                zip(records, summaries).map { record, s in [mark(record[0], s)] + record.dropFirst() }
            )
        }
        let lines = table.lines()
        var out = lines[0] + "\n"
        for (text, s) in zip(lines.dropFirst(), summaries) { out += mark(text, s) + "\n" }
        return out
    }

    /// A channel's record title: "ch 3 Vox", or "ch 3" for one nobody named (0-based `channel`).
    public static func title(_ channel: Int, name: String) -> String {
        "ch \(channel + 1)" + (ClipLog.isNumberOnly(name, channel: channel) ? "" : " " + name)
    }

    /// A channel's row (or record title) as it should catch the eye: clipped and flat-topped
    /// ones flagged, and coloured on a terminal with hot ones.
    private func mark(_ text: String, _ s: ChannelSummary) -> String {
        if s.clipEvents > 0 {
            return color ? "\u{1B}[1;31m\(text)  << CLIPPED\u{1B}[0m" : text + "  << CLIPPED"
        } else if s.flatEvents > 0 {
            return color ? "\u{1B}[1;35m\(text)  << FLAT TOPS\u{1B}[0m" : text + "  << FLAT TOPS"
        } else if s.proposal.reason == .hot, color {
            return "\u{1B}[33m\(text)\u{1B}[0m"
        }
        return text
    }

    /// "-7.5 dB", "+3.0 dB", "ok", "no signal"; for a clip, how far over it went
    /// ("-10.0 dB (over by about 4.0)"), or "(at least)" when that is unknown.
    public static func proposalText(_ p: GainProposal) -> String {
        switch p.reason {
        case .noSignal: return "no signal"
        case .ok: return "ok"
        default:
            guard let db = p.changeDB else { return "no signal" }
            let text = String(format: "%+.1f dB", db)
            switch p.reason {
            case .clipped where p.overDB == nil: return text + " (at least)"
            case .clipped: return text + " (clipped" + overText(p).dropFirst(1) + ")"
            case .flat:
                let level = p.flatLevelDBFS.map(Decibels.text) ?? "?"
                return text + " (flat at \(level) dBFS" + overText(p) + ")"
            default: return text
            }
        }
    }

    /// ", by about 4.0 dB", ", by at least 4.0 dB", ", by under 0.1 dB", or "" when the
    /// overshoot is unknown (``OverReading``).
    public static func overText(_ p: GainProposal) -> String {
        switch OverReading(over: p.overDB, bound: p.overBound) {
        case nil: p.reason == .flat ? ", over unknown" : ""
        case .underATenth: ", by under 0.1 dB"
        case .about(let over): String(format: ", by about %.1f dB", over)
        case .atLeast(let over): String(format: ", by at least %.1f dB", over)
        }
    }

    /// How an overshoot reads wherever it is put in words (the proposal, the meter, the live
    /// CLIP line): about or at least a figure, or under a tenth of a dB where it rounds to 0.0.
    /// nil when there is none, or when it is a bound that rounds to 0.0, which says nothing.
    public enum OverReading: Equatable {
        case underATenth
        case about(Double)
        case atLeast(Double)

        public init?(over: Double?, bound: Bool) {
            guard let over else { return nil }
            if over < 0.05 {
                guard !bound else { return nil }
                self = .underATenth
            } else {
                self = bound ? .atLeast(over) : .about(over)
            }
        }
    }

    /// "-6.02", or `silence` where there is no level: "-inf" for a level, "-" for the headroom
    /// (as the meter shows it: there is no peak to measure it from).
    public static func db(_ value: Double?, silence: String = "-inf") -> String {
        guard let value else { return silence }
        return Decibels.text(value, decimals: 2)
    }
}
