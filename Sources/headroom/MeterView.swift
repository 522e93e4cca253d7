import Foundation
import HeadroomCore

/// The live meter on a terminal: a header line, one row per channel, the last warning,
/// and the keys. Redrawn in place.
struct MeterView {
    static let barCells = 48
    static let floorDB = -60.0
    static let holdSeconds = 3.0

    let settings: AnalysisSettings
    let directory: String
    let color: Bool
    var message = ""
    /// Soundcheck levels (dBTP) shown as a `¦` mark in each channel's bar.
    var references: [Int: Double] = [:]
    private var holds: [(value: Float, time: Double)] = []
    private var clipBase: [Int] = []
    private var lastClips: [Int] = []
    private var diskLeft = ""
    private var diskChecked = 0.0
    private var first = true

    init(settings: AnalysisSettings, directory: String) {
        self.settings = settings
        self.directory = directory
        color = ProcessInfo.processInfo.environment["NO_COLOR"] == nil
    }

    /// `r`: peak holds and clip latches start again.
    mutating func reset() {
        holds = holds.map { _ in (0, 0) }
        clipBase = lastClips
        message = "peak holds and clip indicators reset"
    }

    /// Draws the screen; false when the terminal has gone away (nothing more to draw).
    mutating func draw(_ s: MeterSnapshot) -> Bool {
        let now = CaptureClock.now()
        if holds.count != s.channels.count {
            holds = Array(repeating: (0, 0), count: s.channels.count)
            clipBase = Array(repeating: 0, count: s.channels.count)
        }
        lastClips = s.channels.map(\.clipRuns)
        if now - diskChecked >= 1 {
            diskChecked = now
            diskLeft = Self.diskTimeLeft(directory: directory, rate: s.rate, channels: s.channels.count)
        }
        var out = first ? "\u{1B}[2J\u{1B}[?25l" : ""
        first = false
        out += "\u{1B}[H"
        let elapsed = Self.clock(Double(s.takeFrames) / Double(s.rate))
        line(
            &out,
            paint("REC", "1;31")
                + "  \(DisplayText.escaped(s.takeName))  \(elapsed)  disk \(diskLeft) left  xruns \(s.xruns)  gaps \(s.gaps)  dropped \(s.droppedFrames)"
        )
        line(&out, " ch name         " + Self.scale() + "  hold  TP dBTP  headroom  clips    proposal")
        for (i, ch) in s.channels.enumerated() {
            let current = ch.truePeakSinceRead
            if current >= holds[i].value || now - holds[i].time > Self.holdSeconds { holds[i] = (current, now) }
            let clips = ch.clipRuns - clipBase[i]
            let name = (DisplayText.escaped(ch.name) + String(repeating: " ", count: 12)).prefix(12)
            let bar = bar(level: current, hold: holds[i].value, reference: references[i])
            let hold = Self.db(holds[i].value)
            let tp = Self.db(ch.takeTruePeak)
            let headroom =
                ch.takeTruePeak > 0 ? Self.pad(String(format: "%.1f", -Self.decibels(ch.takeTruePeak)), 8) : "       -"
            let clip = clips > 0 || ch.isClipping ? paint(Self.pad("CLIP \(clips)", -7), "1;37;41") : Self.pad("-", -7)
            let proposal = SummaryTable.proposalText(ch.proposal)
            line(
                &out,
                String(format: "%3d ", i + 1) + name + " " + bar + " " + Self.pad(hold, 5) + "  " + Self.pad(tp, 7)
                    + "  " + headroom + "  " + clip + "  " + proposal
            )
        }
        line(&out, "")
        line(&out, message.isEmpty ? "" : paint(String(DisplayText.escaped(message).prefix(200)), "33"))
        line(&out, "keys: r reset holds and clip indicators   n next take   q stop")
        out += "\u{1B}[J"
        return Terminal.draw(out)
    }

    /// Leaves the screen as it is, with the cursor below it.
    func finish() {
        _ = Terminal.draw("\u{1B}[?25h\n")
    }

    /// One non-terminal status line.
    static func statusLine(_ s: MeterSnapshot) -> String {
        let peaks = s.channels.map { "\($0.name) \(db($0.takeTruePeak))" }.joined(separator: ", ")
        let clips = s.channels.reduce(0) { $0 + $1.clipRuns }
        return
            "status: \(s.takeName) \(clock(Double(s.takeFrames) / Double(s.rate))), true peaks (dBTP) \(peaks); overs \(clips), xruns \(s.xruns), gaps \(s.gaps), dropped frames \(s.droppedFrames)"
    }

    // MARK: Drawing

    private func bar(level: Float, hold: Float, reference: Double?) -> String {
        let levelDB = Self.decibels(level)
        let holdDB = Self.decibels(hold)
        let band = settings.bandLowDBTP...(-settings.marginDB)
        var out = ""
        let step = -Self.floorDB / Double(Self.barCells)
        let holdCell = hold > 0 ? Int(((holdDB - Self.floorDB) / step).rounded(.down)) : -1
        let referenceCell = reference.map {
            min(Self.barCells - 1, max(0, Int((($0 - Self.floorDB) / step).rounded(.down))))
        }
        for i in 0..<Self.barCells {
            let low = Self.floorDB + Double(i) * step
            let mid = low + step / 2
            if i == referenceCell {
                out += paint("¦", "35")
            } else if i == min(holdCell, Self.barCells - 1) && holdDB > levelDB {
                out += paint("|", mid > -settings.marginDB ? "31" : "37")
            } else if levelDB >= low + step * 0.5 {
                let code = mid > -settings.marginDB ? "31" : band.contains(mid) ? "32" : "36"
                out += paint("█", code)
            } else if band.contains(mid) {
                out += paint("-", "2;32")
            } else if mid > -settings.marginDB {
                out += paint("·", "2;31")
            } else {
                out += " "
            }
        }
        return "[" + out + "]"
    }

    private func paint(_ text: String, _ code: String) -> String {
        color ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    private func line(_ out: inout String, _ text: String) {
        out += text + "\u{1B}[K\n"
    }

    /// Scale labels over the bar (-60 ... 0 dBFS).
    static func scale() -> String {
        var cells = Array(repeating: Character(" "), count: barCells + 2)
        for label in [-60, -48, -36, -24, -12, -6, 0] {
            let text = Array(String(label))
            var pos = 1 + Int((Double(label) - floorDB) / (-floorDB) * Double(barCells))
            pos = min(max(pos - text.count / 2, 0), cells.count - text.count)
            for (k, ch) in text.enumerated() { cells[pos + k] = ch }
        }
        return String(cells)
    }

    static func decibels(_ x: Float) -> Double { x > 0 ? 20 * log10(Double(x)) : -.infinity }

    static func db(_ x: Float) -> String { x > 0 ? String(format: "%.1f", decibels(x)) : "-inf" }

    static func pad(_ s: String, _ width: Int) -> String {
        let w = abs(width)
        guard s.count < w else { return s }
        let spaces = String(repeating: " ", count: w - s.count)
        return width < 0 ? s + spaces : spaces + s
    }

    static func clock(_ seconds: Double) -> String {
        let t = Int(seconds * 10)
        return String(format: "%02d:%02d:%02d.%d", t / 36000, t / 600 % 60, t / 10 % 60, t % 10)
    }

    /// "3h12m" of recording left on the folder's file system at this format.
    static func diskTimeLeft(directory: String, rate: Int, channels: Int) -> String {
        var fs = statvfs()
        guard statvfs(directory, &fs) == 0 else { return "?" }
        let bytes = Double(fs.f_bavail) * Double(fs.f_frsize)
        let perSecond = Double(rate * channels * 4)
        let seconds = Int(bytes / perSecond)
        if seconds >= 3600 { return "\(seconds / 3600)h\(String(format: "%02d", seconds / 60 % 60))m" }
        return "\(seconds / 60)m\(String(format: "%02d", seconds % 60))s"
    }
}
