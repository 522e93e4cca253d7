import ArgumentParser
import Foundation
import HeadroomCore

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List capture PCMs and cards with the formats, rates and channel counts each accepts."
    )

    func run() throws {
        let cards = DeviceList.cards()
        var out = "Sound cards:\n"
        if cards.isEmpty {
            if let hint = DeviceList.permissionHint() {
                out += "  \(hint)\n"
            } else {
                out += "  none found (no sound card is connected, or ALSA has no driver for it)\n"
            }
        }
        for card in cards {
            out += "  card \(card.index): \(card.id) (\(card.name))\n"
            if card.pcms.isEmpty { out += "    no capture devices\n" }
            for pcm in card.pcms { out += Self.describe(pcm, indent: "    ") }
        }
        out += "\nCapture PCMs from ALSA's configuration (use the name with --device):\n"
        let configured = DeviceList.configuredPCMs()
        if configured.isEmpty { out += "  none\n" }
        // Plugins with nothing to reach here (a rate converter whose library is missing, a
        // server-less jack, oss without /dev/dsp) in one line, after those that can be used or
        // say why not.
        func isAbsent(_ pcm: DeviceList.PCM) -> Bool { pcm.capabilities == nil && pcm.problem == Self.absent }
        let absent = configured.filter(isAbsent)
        for pcm in configured where !isAbsent(pcm) { out += Self.describe(pcm, indent: "  ") }
        if !absent.isEmpty {
            out += "  cannot open for capture now (\(Self.absent)): "
            out += absent.map(\.name).joined(separator: ", ") + "\n"
        }
        Terminal.out(out)
    }

    static let absent = String(cString: strerror(ENOENT))

    static func describe(_ pcm: DeviceList.PCM, indent: String) -> String {
        var text = "\(indent)\(pcm.name)"
        if !pcm.description.isEmpty { text += "  \(pcm.description)" }
        text += "\n"
        if let c = pcm.capabilities {
            let formats = c.formats.isEmpty ? "none headroom records" : c.formats.joined(separator: " ")
            let rates = c.minRate == c.maxRate ? "\(c.minRate) Hz" : "\(c.minRate)-\(min(c.maxRate, 768_000)) Hz"
            let channels =
                c.minChannels == c.maxChannels
                ? "\(c.minChannels)" : "\(c.minChannels)-\(min(c.maxChannels, Analyzer.channelRange.upperBound))"
            text += "\(indent)  formats \(formats); rates \(rates); channels \(channels)\n"
        } else if let problem = pcm.problem {
            text += "\(indent)  cannot open for capture now: \(problem)\n"
        }
        return text
    }
}
