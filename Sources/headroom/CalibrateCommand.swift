import ArgumentParser
import Foundation
import HeadroomCore

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Listen during soundcheck and propose how many dB to turn each preamp up or down.",
        discussion: """
            Listens for --seconds (q or Ctrl-C ends it early) with the live meters, then prints one \
            row per channel: loudest and typical true peak (95th percentile of 400 ms peaks), clips, \
            flat tops, hot events, and the proposal. Where the card has capture controls with dB ranges, the \
            proposal is also given in the control's terms; --apply sets them (at most --max-step dB at once).
            """
    )

    @OptionGroup var capture: CaptureOptions
    @OptionGroup var analysis: AnalysisOptions

    @Option(
        name: [.customShort("d"), .customLong("seconds")],
        parsing: .unconditional,
        help: ArgumentHelp("How long to listen (default 30; also 1:30 or 2m).", valueName: "seconds"),
        transform: Settings.parsedSeconds
    )
    var secondsGiven: Double?
    /// Optional above so that the help gives the default once, in the other options' style.
    var seconds: Double { secondsGiven ?? 30 }

    @Flag(help: "Write the result as one JSON object.")
    var json = false

    @Option(
        help: ArgumentHelp("Also store the result (JSON) in this file.", valueName: "file"),
        transform: Settings.expandingHome
    )
    var save: String?

    @Flag(help: "With --save: replace a file headroom did not save, or one edited since (never audio or a clip log).")
    var force = false

    @Flag(help: "Set the mapped capture controls to the proposal.")
    var apply = false

    @Option(
        name: .customLong("max-step"),
        parsing: .unconditional,
        help: ArgumentHelp("With --apply: change no control by more than this at once (default 12).", valueName: "dB"),
        transform: Settings.parsedDecibels
    )
    var maxStepGiven: Double?
    var maxStep: Double { maxStepGiven ?? 12 }

    @Flag(help: "With --apply: do not ask for confirmation.")
    var yes = false

    func validate() throws {
        guard seconds > 0, seconds <= 86400 else {
            throw ValidationError(
                "--seconds must be more than 0 and at most 86400 (a day); got \(Settings.shown(seconds))"
            )
        }
        guard maxStep > 0, maxStep <= 60 else {
            throw ValidationError("--max-step must be more than 0 and at most 60 dB; got \(Settings.shown(maxStep))")
        }
    }

    func run() throws {
        // A terminal or journal that stops taking output must not hold the live loop.
        Terminal.writeAside()
        try reportingErrors {
            var settings = try analysis.settings()
            try capture.apply(to: &settings)
            let format = SampleFormat(name: settings.format)!
            // Before listening: a soundcheck is not thrown away for a file that cannot be saved.
            if let save { try TextFile.check(save, option: "--save", force: force) }
            if let note = LiveRecording.takeOverSignals() { Terminal.error(note) }
            let source = try ALSACapture(
                device: settings.device,
                rate: settings.rate,
                channels: settings.channels,
                format: format,
                periodFrames: settings.periodFrames,
                bufferFrames: settings.bufferFrames
            )
            let pathWarning = PCMPath.warning(source.path, device: settings.device, hardware: source.hardware)
            if let pathWarning { Terminal.error(pathWarning) }
            let namesNote = settings.unusedNamesNote
            if let namesNote { Terminal.error(namesNote) }
            let names = ClipLog.channelNames(settings.names, channels: settings.channels)
            let session = CalibrationSession(
                source: source,
                settings: settings.analysis,
                names: names,
                seconds: seconds
            )
            // A background job (`&`) leaves the terminal to the shell: the plain lines; `fg`
            // brings up the soundcheck meter and `q` (as `record` does), and a terminal that
            // hung up never does again.
            let terminal = Terminal.drawable(STDOUT_FILENO) && isatty(STDIN_FILENO) == 1 && !json
            var meter: MeterView? = nil
            var keyboard: RawKeyboard? = nil
            var hungUp = false
            var drew = false
            var suspendedUntil = 0.0
            func takeTerminal() {
                meter = MeterView(settings: settings.analysis, mode: .soundcheck(seconds: seconds))
                keyboard = RawKeyboard()
                drew = true
            }
            if terminal && Terminal.inForeground { takeTerminal() }
            if meter == nil { Terminal.error("listening to \(settings.device) for \(String(format: "%g", seconds)) s") }
            session.start()
            while !session.isFinished {
                if terminal && !hungUp {
                    Terminal.followForeground(holding: keyboard != nil, take: takeTerminal) {
                        keyboard?.restore()
                        meter?.finish()
                        (keyboard, meter) = (nil, nil)
                    }
                }
                switch keyboard?.read(timeoutMilliseconds: 66) {
                case .key("q"), .key("Q"): session.stop()
                case .gone:
                    keyboard = nil
                    meter = nil
                    hungUp = true
                default: break
                }
                switch LiveRecording.nextSignal(seconds: keyboard == nil ? 0.1 : 0) {
                case .end: session.stop()
                case .suspend:
                    // Ctrl-Z: a soundcheck stopped midway would miss the loudest moment.
                    if meter != nil {
                        suspendedUntil = MonotonicClock.now() + 4
                    } else {
                        Terminal.line("SIGTSTP: no pausing the soundcheck; SIGINT ends it early, with its results")
                    }
                default: break
                }
                if var m = meter {
                    let snap = session.snapshot()
                    m.message =
                        MonotonicClock.now() < suspendedUntil
                        ? "Ctrl-Z: no pausing the soundcheck; q ends it early, with its results"
                        : "listening: play as loud as the session will get"
                    meter = m.draw(snap) ? m : nil
                }
            }
            meter?.finish()
            keyboard?.restore()
            // The meter's first draw cleared the screen: the notes from before go beside the results.
            if drew { for note in [pathWarning, namesNote].compactMap({ $0 }) { Terminal.line(note) } }
            let (results, reason) = session.finish()
            if reason == .deviceLost || reason == .deviceError {
                throw HeadroomError(.io, "\(settings.device) stopped delivering frames during the soundcheck")
            }
            if let warning = session.losses.warning(rate: source.rate) { Terminal.line(warning) }
            let mixer = ALSAMixer(device: settings.device)
            let controls = mixer?.captureControls() ?? []
            let mapping = Self.mapping(results: results, controls: controls, configured: settings.controls)
            let object = Self.json(
                results: results,
                seconds: seconds,
                device: settings.device,
                settings: settings.analysis,
                mapping: mapping,
                maxStep: maxStep
            )
            if json {
                Terminal.out(object.encoded() + "\n")
            } else {
                Terminal.out(Self.table(results, mapping: mapping, maxStep: maxStep, columns: Terminal.stdoutColumns))
                // Beside the table, as wide as the terminal is (no word broken at its edge).
                let columns = Terminal.stdoutColumns
                if controls.isEmpty {
                    let note =
                        "\(settings.device): no capture controls with dB information; set the gains on the interface itself."
                    Terminal.out("\n" + TextTable.paragraph(note, columns: columns) + "\n")
                } else if mapping.allSatisfy({ $0 == nil }) {
                    let list = controls.map { "\"\($0.name)\"" }.joined(separator: ", ")
                    let note =
                        "Capture controls on \(mixer!.card): \(list). Map them with [channel.N] control = \"...\" in the config."
                    Terminal.out("\n" + TextTable.paragraph(note, columns: columns) + "\n")
                }
            }
            // The result is on screen before it is saved: a save that fails loses nothing.
            if let save { try TextFile.write(TextFile.sealed(json: object), to: save, option: "--save", force: force) }
            if apply { try applyProposals(results: results, mapping: mapping, mixer: mixer, device: settings.device) }
        }
    }

    /// Channel -> control: the config's `[channel.N] control` wins; otherwise, when the card
    /// has exactly one capture control per channel, they pair up in order.
    static func mapping(
        results: [CalibrationSession.Result],
        controls: [ALSAMixer.Control],
        configured: [Int: String]
    )
        -> [ALSAMixer.Control?]
    {
        results.map { r in
            if let name = configured[r.channel] { return controls.first { $0.name == name } }
            if controls.count == results.count { return controls[r.channel] }
            return nil
        }
    }

    static func json(
        results: [CalibrationSession.Result],
        seconds: Double,
        device: String,
        settings: AnalysisSettings,
        mapping: [ALSAMixer.Control?],
        maxStep: Double
    ) -> JSONValue {
        .object([
            ("type", .string("calibration")), ("seconds", .seconds(seconds)), ("device", .string(device)),
            ("settings", ClipLog.settingsObject(settings)),
            (
                "channels",
                .array(
                    results.map { r in
                        var control = JSONValue.null
                        if let c = mapping[r.channel], let change = r.proposal.changeDB,
                            let t = GainStep.target(c, changeDB: change, maxStepDB: maxStep)
                        {
                            control = .object([
                                ("name", .string(c.name)), ("from", .int(c.value)), ("to", .int(t.value)),
                                ("from_db", .decibels(c.valueDB)), ("to_db", .decibels(t.db)),
                            ])
                        }
                        return .object([
                            ("channel", .int(r.channel + 1)), ("name", .string(r.name)),
                            ("true_peak_dbtp", .decibels(r.truePeakDBTP)),
                            ("typical_peak_dbtp", .decibels(r.typicalPeakDBTP)),
                            ("clip_events", .int(r.clipEvents)), ("hot_events", .int(r.hotEvents)),
                            ("reason", .string(r.proposal.reason.rawValue)),
                            ("proposal_db", .decibels(r.proposal.changeDB)),
                            ("over_db", .decibels(r.proposal.overDB)),
                            ("flat_level_dbfs", .decibels(r.proposal.flatLevelDBFS)),
                            ("control", control),
                        ])
                    }
                )
            ),
        ])
    }

    /// One row per channel; on a terminal `columns` wide too narrow for that, one record per channel.
    static func table(
        _ results: [CalibrationSession.Result],
        mapping: [ALSAMixer.Control?],
        maxStep: Double,
        columns: Int? = nil
    ) -> String {
        var table = TextTable(
            header: ["ch", "name", "true peak dBTP", "typical dBTP", "clips", "hot", "proposal"],
            alignments: [.right, .left, .right, .right, .right, .right, .left]
        )
        for r in results {
            var advice = CalibrationSession.advice(r)
            if let c = mapping[r.channel], let change = r.proposal.changeDB, change != 0,
                let t = GainStep.target(c, changeDB: change, maxStepDB: maxStep)
            {
                advice += String(
                    format: "  (%@ Capture: %d -> %d, %+.1f dB)",
                    c.name,
                    c.value,
                    t.value,
                    t.db - (c.valueDB ?? t.db)
                )
            }
            table.add([
                String(r.channel + 1), r.name, SummaryTable.db(r.truePeakDBTP), SummaryTable.db(r.typicalPeakDBTP),
                String(r.clipEvents), String(r.hotEvents), advice,
            ])
        }
        if let columns, !table.fits(columns) {
            let titles = results.map { SummaryTable.title($0.channel, name: $0.name) }
            return table.renderRecords(columns: columns, titleColumns: 2, titles: titles)
        }
        return table.render()
    }

    func applyProposals(
        results: [CalibrationSession.Result],
        mapping: [ALSAMixer.Control?],
        mixer: ALSAMixer?,
        device: String
    )
        throws(HeadroomError)
    {
        let changes = results.compactMap {
            r -> (CalibrationSession.Result, ALSAMixer.Control, (value: Int, db: Double))? in
            guard let c = mapping[r.channel], let change = r.proposal.changeDB, change != 0,
                let t = GainStep.target(c, changeDB: change, maxStepDB: maxStep), t.value != c.value
            else { return nil }
            return (r, c, t)
        }
        guard let mixer, !mapping.allSatisfy({ $0 == nil }) else {
            throw HeadroomError(
                .unavailable,
                "--apply: \(device) has no capture controls headroom can set (none with dB information mapped to a channel); nothing changed"
            )
        }
        if changes.isEmpty {
            Terminal.error("--apply: nothing to change")
            return
        }
        if !yes {
            guard isatty(STDIN_FILENO) == 1 else {
                throw HeadroomError(
                    .usage,
                    "--apply asks for confirmation on a terminal; add --yes to apply without asking"
                )
            }
            Terminal.out("Apply \(changes.count) change(s) to \(mixer.card)? [y/N] ")
            guard let answer = readLine(), answer.lowercased().hasPrefix("y") else {
                Terminal.error("nothing changed")
                return
            }
        }
        for (r, c, t) in changes {
            try mixer.set(c, value: t.value)
            Terminal.error(
                String(
                    format: "ch%d %@: %@ Capture %d -> %d (%@ -> %.1f dB)",
                    r.channel + 1,
                    r.name,
                    c.name,
                    c.value,
                    t.value,
                    c.valueDB.map { String(format: "%.1f", $0) } ?? "?",
                    t.db
                )
            )
        }
    }
}
