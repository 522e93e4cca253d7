import Foundation
import HeadroomCore

/// The live meter on a terminal: a header line, one row per channel, the last warning,
/// and the keys. Redrawn in place, fitted to the terminal's width (read on every frame,
/// so a resized window is redrawn within one frame): a channel is always one row. As the
/// width shrinks the hold column goes first, then the proposal, then the bar shortens.
struct MeterView {
    static let fullBarCells = 48
    static let shortestBar = 12
    /// The bar under 46 columns (a phone's terminal, a split pane).
    static let narrowestBar = 6
    static let floorDB = -60.0
    static let holdSeconds = 3.0

    /// What the meter is watching: a recording (its take, the disk left, the recorder's
    /// keys) or calibrate's soundcheck (how long it listens, `q` to end it early).
    enum Mode {
        case record
        case soundcheck(seconds: Double)
    }

    let settings: AnalysisSettings
    let mode: Mode
    /// Seconds of recording the disk has room for, as the recorder last measured them (nil:
    /// it could not tell).
    var diskSecondsLeft: Double?
    let color: Bool
    var message = ""
    /// A marker label being typed (the `m` key), shown on the message line in place of the
    /// message, with its end (where the typing is) always in view.
    var labelDraft: String?
    /// Soundcheck levels (dBTP) shown as a `¦` mark in each channel's bar.
    var references: [Int: Double] = [:]
    private var holds: [(value: Float, time: Double)] = []
    private var clipBase: [Int] = []
    private var lastClips: [Int] = []
    private var flatBase: [Int] = []
    private var lastFlats: [Int] = []
    private var first = true
    private var lastWidth = 0
    private var lastHeight = 0

    init(settings: AnalysisSettings, mode: Mode) {
        self.settings = settings
        self.mode = mode
        color = ProcessInfo.processInfo.environment["NO_COLOR"] == nil
    }

    /// `r`: peak holds and clip latches start again.
    mutating func reset() {
        holds = holds.map { _ in (0, 0) }
        clipBase = lastClips
        flatBase = lastFlats
        message = "peak holds and clip indicators reset"
    }

    /// Which columns a row has at a width, and how many cells its bar and its name.
    struct Layout: Equatable {
        var barCells: Int
        var hold: Bool
        var proposal: Bool
        var headroom = true
        var nameCells = 12
        var truePeak = true

        /// Widths: "  1 " + name + " " + [bar] + hold + TP + headroom + clip + proposal.
        static let fixed = 4 + 12 + 1 + 2 + truePeakWidth + headroomWidth + 2 + clipWidth
        static let truePeakWidth = 9
        /// "CLIP 9999", "FLAT 12k".
        static let clipWidth = 9
        static let holdWidth = 6
        static let headroomWidth = 10
        static let proposalWidth = 20
        static let shortestName = 6

        var width: Int {
            Self.fixed - (12 - nameCells) + barCells + (hold ? Self.holdWidth : 0)
                - (headroom ? 0 : Self.headroomWidth) + (proposal ? Self.proposalWidth : 0)
                - (truePeak ? 0 : Self.truePeakWidth)
        }

        /// The widest layout that fits `columns` (one column spare, so no row touches the
        /// edge): the hold column goes first; the proposal stays while the bar keeps at
        /// least 24 cells beside it; then the bar shortens to ``shortestBar``; then the
        /// headroom column goes (it is the true peak's negative), then names shorten to
        /// ``shortestName``. A channel stays one row down to 46 columns; under that the bar
        /// shortens to ``narrowestBar`` and then the names go (the number stays), so a row
        /// fits down to 34 columns; under that the true peak goes too, and the number, a bar
        /// and the CLIP or FLAT latch fit down to 25 (what is still wider is cut at the edge).
        static func fitting(_ columns: Int) -> Layout {
            let room = columns - 1
            let full = Layout(barCells: fullBarCells, hold: true, proposal: true)
            if full.width <= room { return full }
            let withProposal = room - (fixed + proposalWidth)
            if withProposal >= 24 {
                return Layout(barCells: min(fullBarCells, withProposal), hold: false, proposal: true)
            }
            if room - fixed >= shortestBar {
                return Layout(barCells: min(fullBarCells, room - fixed), hold: false, proposal: false)
            }
            var narrow = Layout(barCells: shortestBar, hold: false, proposal: false, headroom: false)
            narrow.barCells = max(shortestBar, room - (narrow.width - shortestBar))
            if narrow.barCells == shortestBar { narrow.nameCells = max(shortestName, 12 - (narrow.width - room)) }
            if narrow.width > room { narrow.barCells = max(narrowestBar, shortestBar - (narrow.width - room)) }
            if narrow.width > room { narrow.nameCells = max(0, narrow.nameCells - (narrow.width - room)) }
            if narrow.width > room {
                narrow.truePeak = false
                narrow.barCells = min(shortestBar, narrow.barCells + room - narrow.width)
            }
            return narrow
        }
    }

    /// The terminal's width and height (TIOCGWINSZ on stdout), or 80 x 24 when it cannot say.
    static func terminalSize() -> (columns: Int, rows: Int) {
        guard let size = Terminal.stdoutSize, size.columns > 0, size.rows > 0 else { return (80, 24) }
        return size
    }

    /// Which channels get a row when the window is too short for all of them (`room` rows):
    /// those whose CLIP or FLAT indicator is lit first, then the rest in order, shown in
    /// channel order; and those left out. One row says what is left out.
    static func rows(
        channels: Int,
        room: Int,
        latched: (Int) -> Int
    ) -> (shown: [Int], hidden: [Int]) {
        guard channels > room else { return (Array(0..<channels), []) }
        let slots = max(1, room - 1)
        let ranked = (0..<channels).sorted { (latched($0), $0) < (latched($1), $1) }
        return (ranked.prefix(slots).sorted(), ranked.dropFirst(slots).sorted())
    }

    /// "ch5, ch9-12, ch17-32" (`channels` counted from 0, in order).
    static func ranges(_ channels: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        while i < channels.count {
            var j = i
            while j + 1 < channels.count && channels[j + 1] == channels[j] + 1 { j += 1 }
            parts.append(j == i ? "ch\(channels[i] + 1)" : "ch\(channels[i] + 1)-\(channels[j] + 1)")
            i = j + 1
        }
        return parts.joined(separator: ", ")
    }

    /// Draws the screen; false when the terminal has gone away (nothing more to draw).
    mutating func draw(_ s: MeterSnapshot) -> Bool {
        let now = MonotonicClock.now()
        let (columns, rows) = Self.terminalSize()
        let layout = Layout.fitting(columns)
        if holds.count != s.channels.count {
            holds = Array(repeating: (0, 0), count: s.channels.count)
            clipBase = Array(repeating: 0, count: s.channels.count)
            flatBase = Array(repeating: 0, count: s.channels.count)
        }
        lastClips = s.channels.map(\.latchedClips)
        lastFlats = s.channels.map(\.flatEvents)
        // A resized window is cleared, so nothing of the old layout stays on screen.
        let clears = first || columns != lastWidth || rows != lastHeight
        var out = clears ? "\u{1B}[2J\u{1B}[?25l" : ""
        first = false
        lastWidth = columns
        lastHeight = rows
        out += "\u{1B}[H"
        let elapsed = Self.clock(Double(s.takeFrames) / Double(s.rate))
        // What a narrow window keeps of the status line: the state and the time first, then
        // losses that happened, the take's name, the disk, and the counts that are still 0.
        let losses = [("xruns", s.xruns), ("gaps", s.gaps), ("dropped", s.droppedFrames)].map { name, count in
            ("\(name) \(count)", count > 0 ? 2 : 5)
        }
        switch mode {
        case .record:
            let status = Self.fit(
                [("REC", 0), (DisplayText.escaped(s.takeName), 3), (elapsed, 1)]
                    + [("disk \(Self.diskTimeLeft(diskSecondsLeft)) left", 4)] + losses,
                columns: columns
            )
            line(&out, paint("REC", "1;31") + status.dropFirst(3))
        case .soundcheck(let seconds):
            // "00:00:04.1 of 00:00:30.0", or the time alone where that does not fit.
            let whole = elapsed + " of " + Self.clock(seconds)
            let time = DisplayText.cells("SOUNDCHECK  " + whole) <= columns - 1 ? whole : elapsed
            let status = Self.fit([("SOUNDCHECK", 0), (time, 1)] + losses, columns: columns)
            line(&out, paint("SOUNDCHECK", "1;33") + status.dropFirst(10))
        }
        var heading =
            " ch " + Self.pad(DisplayText.prefix("name", cells: layout.nameCells), -layout.nameCells) + " "
            + Self.scale(cells: layout.barCells)
        if layout.hold { heading += "  hold" }
        heading +=
            (layout.truePeak ? "  TP dBTP" : "") + (layout.headroom ? "  headroom" : "") + "  "
            + Self.pad("clips", -Layout.clipWidth)
        if layout.proposal { heading += "  proposal" }
        line(&out, heading)
        for (i, ch) in s.channels.enumerated() {
            let current = ch.truePeakSinceRead
            if current >= holds[i].value || now - holds[i].time > Self.holdSeconds { holds[i] = (current, now) }
        }
        // Every line ends in a line feed, and one on the last row would scroll the header away:
        // the channels get the rows left by the header, the heading, the blank line, the
        // message, the keys and that last row.
        let (clipBase, flatBase) = (self.clipBase, self.flatBase)
        let clipLit = { (i: Int) in s.channels[i].latchedClips > clipBase[i] || s.channels[i].isClipping }
        let flatLit = { (i: Int) in s.channels[i].flatEvents > flatBase[i] }
        let (shown, hidden) = Self.rows(channels: s.channels.count, room: rows - 6) { i in
            clipLit(i) ? 0 : flatLit(i) ? 1 : 2
        }
        for i in shown {
            let ch = s.channels[i]
            let current = ch.truePeakSinceRead
            let clips = ch.latchedClips - clipBase[i]
            // A channel nobody named is its number, which the row already shows.
            let label = ClipLog.isNumberOnly(ch.name, channel: i) ? "" : DisplayText.escaped(ch.name)
            let name = Self.pad(DisplayText.prefix(label, cells: layout.nameCells), -layout.nameCells)
            let bar = bar(level: current, hold: holds[i].value, reference: references[i], cells: layout.barCells)
            var row = String(format: "%3d ", i + 1) + name + " " + bar
            if layout.hold { row += " " + Self.pad(Self.db(holds[i].value), 5) }
            let headroom =
                ch.takeTruePeak > 0 ? Self.pad(Decibels.text(-Self.decibels(ch.takeTruePeak)), 8) : "       -"
            // The latch: CLIP (white on red) wins over FLAT (flat tops below full scale, white on magenta).
            let flats = ch.flatEvents - flatBase[i]
            let width = -Layout.clipWidth
            let clip =
                clipLit(i)
                ? paint(Self.pad(Self.latch("CLIP", clips), width), "1;37;41")
                : flatLit(i) ? paint(Self.pad(Self.latch("FLAT", flats), width), "1;37;45") : Self.pad("-", width)
            if layout.truePeak { row += "  " + Self.pad(Self.db(ch.takeTruePeak), 7) }
            row += (layout.headroom ? "  " + headroom : "") + "  " + clip
            if layout.proposal {
                row += "  " + Self.proposal(ch.proposal, room: columns - 1 - (layout.width - Layout.proposalWidth) - 2)
            }
            line(&out, row)
        }
        if !hidden.isEmpty {
            // Lit channels have rows first, so only more of them than rows leaves one out.
            let clips = hidden.filter(clipLit)
            let flats = hidden.filter { !clipLit($0) && flatLit($0) }
            let lit =
                (clips.isEmpty ? [] : ["CLIP on \(Self.ranges(clips))"])
                + (flats.isEmpty ? [] : ["FLAT on \(Self.ranges(flats))"])
            let note =
                "\(Self.ranges(hidden)) not shown (a taller window shows them): "
                + (lit.isEmpty ? "no clips or flat tops there" : lit.joined(separator: ", "))
            line(
                &out,
                lit.isEmpty ? Self.words(note, columns: columns) : paint(Self.words(note, columns: columns), "1;31")
            )
        }
        line(&out, "")
        if let labelDraft {
            line(&out, paint(Self.labelPrompt(DisplayText.escaped(labelDraft), columns: columns), "33"))
        } else {
            line(&out, message.isEmpty ? "" : paint(Self.words(DisplayText.escaped(message), columns: columns), "33"))
        }
        switch mode {
        case .record:
            line(&out, Self.keys(Self.recordKeys, columns: columns))
        case .soundcheck:
            line(&out, Self.keys(Self.soundcheckKeys, columns: columns))
        }
        out += "\u{1B}[J"
        // Every frame redraws all it shows: one the terminal has no room for yet can be left
        // out, but not one that clears the screen.
        return Terminal.draw(out, skippable: !clears)
    }

    /// "CLIP 3", "CLIP 12k" (at most ``Layout/clipWidth`` characters), or "CLIP" alone while
    /// a channel clips that was reset during the event.
    static func latch(_ word: String, _ count: Int) -> String {
        count <= 0 ? word : count <= 9999 ? "\(word) \(count)" : "\(word) \(min(count / 1000, 999))k"
    }

    /// The proposal as it fits the `room` left at the end of the row (at least 18 columns):
    /// the whole sentence where it fits ("-10.0 dB (clipped by about 3.9 dB)"), else a short
    /// form ("-10.0 dB, 3.9 over", "-5.0 dB, flat -3.1"), else the figure alone. The row never
    /// wraps.
    static func proposal(_ p: GainProposal, room: Int) -> String {
        let whole = SummaryTable.proposalText(p)
        guard whole.count > room, let db = p.changeDB else { return whole }
        let figure = String(format: "%+.1f dB", db)
        var short: String?
        switch p.reason {
        case .clipped:
            switch SummaryTable.OverReading(over: p.overDB, bound: p.overBound) {
            case nil: short = p.overDB == nil ? figure + " (at least)" : nil
            case .underATenth: short = figure + ", <0.1 over"
            case .about(let over): short = String(format: "%@, %.1f over", figure, over)
            case .atLeast(let over): short = String(format: "%@, ≥%.1f over", figure, over)
            }
        case .flat:
            short = p.flatLevelDBFS.map { "\(figure), flat \(Decibels.text($0))" }
        default: break
        }
        if let short, short.count <= room { return short }
        return figure
    }

    /// The keys line in words, and shorter for narrower windows (q first, so stopping is always shown).
    static let recordKeys = [
        ["keys: r reset holds and clip indicators", " m marker", " n next take", " q stop"],
        ["keys: q stop", "r reset", "m marker", "n next"],
    ]
    static let soundcheckKeys = [
        ["keys: q end the soundcheck now and show the proposals"], ["keys: q end the soundcheck"], ["keys: q end"],
    ]

    /// The first of `choices` whose parts all fit, else as much of the last as fits.
    static func keys(_ choices: [[String]], columns: Int) -> String {
        for parts in choices {
            let line = fit(parts, columns: columns)
            if line == parts.joined(separator: "  ") { return line }
        }
        return fit(choices.last ?? [], columns: columns)
    }

    /// Parts joined by two spaces, as many as fit in `columns - 1` (whole parts only).
    static func fit(_ parts: [String], columns: Int) -> String {
        var out = ""
        for part in parts {
            let next = out.isEmpty ? part : out + "  " + part
            if DisplayText.cells(next) > columns - 1 { break }
            out = next
        }
        return out
    }

    /// The parts that fit in `columns - 1`, joined by two spaces in their order: the lowest
    /// rank first, and a part that does not fit leaves room for one of a later rank that does.
    static func fit(_ parts: [(text: String, rank: Int)], columns: Int) -> String {
        var kept = Set<Int>()
        var full = Set<Int>()
        var used = -2
        for (i, part) in parts.enumerated().sorted(by: { ($0.element.rank, $0.offset) < ($1.element.rank, $1.offset) })
        {
            let width = DisplayText.cells(part.text) + 2
            // Parts of one rank are kept as a run from their first ("xruns 0  gaps 0", not
            // "gaps 0" alone).
            if full.contains(part.rank) || used + width > columns - 1 {
                full.insert(part.rank)
                continue
            }
            used += width
            kept.insert(i)
        }
        return parts.indices.filter(kept.contains).map { parts[$0].text }.joined(separator: "  ")
    }

    /// `text` cut to `cells` columns, its escape sequences (colours) kept and not counted: the
    /// last resort for a window narrower than any layout, where a wrapped line would scroll
    /// the header away.
    static func cut(_ text: String, cells room: Int) -> String {
        guard DisplayText.cells(text) > room || text.contains("\u{1B}") else { return text }
        var out = ""
        var used = 0
        var escape = false
        var cut = false
        for character in text {
            if escape {
                out.append(character)
                // A CSI sequence ends at its final byte, @ to ~ (after ESC and [).
                if character != "[", let ascii = character.asciiValue, (0x40...0x7E).contains(ascii) { escape = false }
            } else if character == "\u{1B}" {
                out.append(character)
                escape = true
            } else if !cut {
                let width = DisplayText.cells(String(character))
                if used + width > room {
                    cut = true
                } else {
                    used += width
                    out.append(character)
                }
            }
        }
        return out
    }

    /// `text` cut to `columns - 1` at a word boundary, with "..." when cut.
    static func words(_ text: String, columns: Int) -> String {
        guard DisplayText.cells(text) > columns - 1 else { return text }
        var out = ""
        for word in text.split(separator: " ") {
            let next = out.isEmpty ? String(word) : out + " " + word
            if DisplayText.cells(next) > columns - 4 { break }
            out = next
        }
        return out + "..."
    }

    /// The message line while a marker label is typed: the whole prompt where it fits, else a
    /// short one and as much of the label's end as fits, after a `…` where its start is cut.
    static func labelPrompt(_ label: String, columns: Int) -> String {
        let full = "marker label (Enter: mark, Esc: cancel): " + label
        guard DisplayText.cells(full) > columns - 1 else { return full }
        let prefix = "label: "
        var tail = ""
        for character in label.reversed() {
            let next = String(character) + tail
            if DisplayText.cells(prefix + "…" + next) > columns - 1 { break }
            tail = next
        }
        return prefix + (tail.count < label.count ? "…" : "") + tail
    }

    /// Leaves the screen as it is, with the cursor below it.
    func finish() {
        _ = Terminal.draw("\u{1B}[?25h\n")
    }

    /// One non-terminal status line.
    static func statusLine(_ s: MeterSnapshot) -> String {
        let peaks = s.channels.map { "\($0.name) \(db($0.takeTruePeak))" }.joined(separator: ", ")
        // Clip events as the meter's latch, the log and review count them, and the overs in them.
        let clips = s.channels.reduce(0) { $0 + $1.latchedClips }
        let overs = s.channels.reduce(0) { $0 + $1.clipRuns }
        let flats = s.channels.reduce(0) { $0 + $1.flatEvents }
        return
            "status: \(s.takeName) \(clock(Double(s.takeFrames) / Double(s.rate))), true peaks (dBTP) \(peaks); clips \(clips) (\(overs) overs), flat tops \(flats), xruns \(s.xruns), gaps \(s.gaps), dropped frames \(s.droppedFrames)"
    }

    // MARK: Drawing

    private func bar(level: Float, hold: Float, reference: Double?, cells: Int) -> String {
        let levelDB = Self.decibels(level)
        let holdDB = Self.decibels(hold)
        let band = settings.bandLowDBTP...(-settings.marginDB)
        var out = ""
        let step = -Self.floorDB / Double(cells)
        let holdCell = hold > 0 ? Int(min(Double(cells), ((holdDB - Self.floorDB) / step).rounded(.down))) : -1
        // Clamped before it becomes a cell: a reference file edited by hand can say anything.
        let referenceCell = reference.map {
            Int(min(Double(cells - 1), max(0, (($0 - Self.floorDB) / step).rounded(.down))))
        }
        for i in 0..<cells {
            let low = Self.floorDB + Double(i) * step
            let mid = low + step / 2
            if i == referenceCell {
                out += paint("¦", "35")
            } else if i == min(holdCell, cells - 1) && holdDB > levelDB {
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

    /// One line of the screen, never wider than the window less a column.
    private func line(_ out: inout String, _ text: String) {
        out += Self.cut(text, cells: lastWidth - 1) + "\u{1B}[K\n"
    }

    /// Scale labels over a bar of `barCells` (-60 ... 0 dBFS); short bars get fewer labels.
    static func scale(cells barCells: Int) -> String {
        var cells = Array(repeating: Character(" "), count: barCells + 2)
        let labels =
            barCells >= 40 ? [-60, -48, -36, -24, -12, -6, 0] : barCells >= 24 ? [-60, -40, -20, 0] : [-60, 0]
        for label in labels {
            let text = Array(String(label))
            var pos = 1 + Int((Double(label) - floorDB) / (-floorDB) * Double(barCells))
            pos = min(max(pos - text.count / 2, 0), cells.count - text.count)
            for (k, ch) in text.enumerated() { cells[pos + k] = ch }
        }
        return String(cells)
    }

    static func decibels(_ x: Float) -> Double { x > 0 ? 20 * log10(Double(x)) : -.infinity }

    static func db(_ x: Float) -> String { x > 0 ? Decibels.text(decibels(x)) : "-inf" }

    /// `s` padded with spaces to `abs(width)` terminal columns: on the right when `width` is
    /// negative, else on the left.
    static func pad(_ s: String, _ width: Int) -> String {
        let w = abs(width)
        let used = DisplayText.cells(s)
        guard used < w else { return s }
        let spaces = String(repeating: " ", count: w - used)
        return width < 0 ? s + spaces : spaces + s
    }

    static func clock(_ seconds: Double) -> String {
        let t = Int(seconds * 10)
        return String(format: "%02d:%02d:%02d.%d", t / 36000, t / 600 % 60, t / 10 % 60, t % 10)
    }

    /// "3h12m" of recording left ("?": unknown).
    static func diskTimeLeft(_ left: Double?) -> String {
        guard let left else { return "?" }
        let seconds = Int(left)
        if seconds >= 3600 { return "\(seconds / 3600)h\(String(format: "%02d", seconds / 60 % 60))m" }
        return "\(seconds / 60)m\(String(format: "%02d", seconds % 60))s"
    }
}
