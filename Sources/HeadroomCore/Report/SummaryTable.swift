import Foundation

/// The per-channel table a person reads at a glance (`analyze`, and the end of a take).
public struct SummaryTable {
    /// Colour clipped rows red and hot ones yellow (only on a terminal).
    public var color: Bool

    public init(color: Bool) { self.color = color }

    /// One row per channel: name, peak, true peak, RMS, headroom, clips, hot events, proposal.
    public func render(_ summaries: [ChannelSummary], names: [String]) -> String {
        let head = [
            "ch", "name", "peak dBFS", "true peak dBTP", "RMS dBFS", "headroom dB", "clips", "clipped", "hot",
            "proposal",
        ]
        var rows: [[String]] = []
        for s in summaries {
            let name = s.channel < names.count ? names[s.channel] : String(s.channel + 1)
            rows.append([
                String(s.channel + 1), name, Self.db(s.peakDBFS), Self.db(s.truePeakDBTP), Self.db(s.rmsDBFS),
                Self.db(s.headroomDB), String(s.clipEvents), String(s.clippedSamples), String(s.hotEvents),
                Self.proposalText(s.proposal),
            ])
        }
        var widths = head.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        let leftAligned: Set<Int> = [1, 9]
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return leftAligned.contains(i) ? cell + pad : pad + cell
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
        var out = line(head) + "\n"
        for (row, s) in zip(rows, summaries) {
            var text = line(row)
            if s.clipEvents > 0 {
                text = color ? "\u{1B}[1;31m\(text)  << CLIPPED\u{1B}[0m" : text + "  << CLIPPED"
            } else if s.proposal.reason == .hot, color {
                text = "\u{1B}[33m\(text)\u{1B}[0m"
            }
            out += text + "\n"
        }
        return out
    }

    /// "-7.5 dB", "+3.0 dB", "ok", "no signal".
    public static func proposalText(_ p: GainProposal) -> String {
        switch p.reason {
        case .noSignal: return "no signal"
        case .ok: return "ok"
        default:
            guard let db = p.changeDB else { return "no signal" }
            let text = String(format: "%+.1f dB", db)
            return p.reason == .clipped ? text + " (at least)" : text
        }
    }

    /// "-6.02", or "-inf" for silence.
    public static func db(_ value: Double?) -> String {
        guard let value else { return "-inf" }
        let text = String(format: "%.2f", value)
        return text == "-0.00" ? "0.00" : text
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
