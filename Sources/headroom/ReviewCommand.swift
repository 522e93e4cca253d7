import ArgumentParser
import Foundation
import HeadroomCore

struct ReviewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review",
        abstract: "Summarize takes and their clip logs (table, events, JSON, Audacity labels, HTML).",
        discussion: """
            Takes files and folders (searched recursively) and pairs each take with its \
            <take>.clips.jsonl (a take renamed since it was recorded, with the log of the name it \
            carries). Takes with problems sort first, then in recording order. A take without a log is analyzed afresh.
            """
    )

    @OptionGroup var analysis: AnalysisOptions

    @Flag(
        name: .customLong("only-problems"),
        help: "Show only takes that clipped, had flat tops, lost frames, or ended badly."
    )
    var onlyProblems = false

    @Flag(help: "List each take's events with timecodes (hh:mm:ss.mmm) and frames.")
    var events = false

    @Flag(help: "JSON Lines: one take_review line per take; with --events, the take's log lines as they are.")
    var json = false

    @Flag(help: "Write <take>.labels.txt beside each take: an Audacity label track, one label per event.")
    var labels = false

    @Flag(
        help:
            "Write the cue markers (one per event: clips, flat tops, hot events, losses, marks) into WAV takes that have none, and as chapters into FLAC takes their recorder did not finish."
    )
    var cues = false

    @Flag(
        help:
            "Finish takes whose recorder was killed: count the audio written after their header was last brought up to date, and add a WAV take's cue markers and loudness (bext)."
    )
    var repair = false

    @Flag(help: "Replace an existing report or labels file (never an audio file, a clip log or an input).")
    var force = false

    @OptionGroup var failOnClip: FailOnClipOption

    @Option(
        help: ArgumentHelp(
            "Write a self-contained HTML report (level overview, clip, flat-top and hot marks, summary) to this file.",
            valueName: "file"
        ),
        transform: Settings.expandingHome
    )
    var html: String?

    @OptionGroup var jobs: JobsOption

    @Argument(help: ArgumentHelp("Takes, clip logs, or folders of takes.", valueName: "path"))
    var paths: [String]

    func validate() throws {
        if paths.contains(AudioFileReader.standardInput) {
            throw ValidationError(
                "review reads takes from files and folders, not standard input; `headroom analyze -` reads a stream"
            )
        }
        try Headroom.validateFiles(paths)
    }

    func run() throws {
        try reportingErrors {
            let settings = try analysis.settings()
            var reviews: [TakeReview] = []
            var failure: HeadroomError.Code? = nil
            let takes = try TakeReview.takes(in: paths) { Terminal.error("note: \($0)") }
            // Outputs are checked before any work: a report named after a take (a glob after
            // --html) is refused, and nothing is written.
            let inputs = paths + takes.map(\.file) + takes.map(\.log)
            if let html { try TextFile.check(html, option: "--html", inputs: inputs, force: force) }
            // Killed takes are finished first, so that what follows reviews all of their audio.
            // Those that take markers (WAV and RF64 cues, FLAC chapters) get them after.
            var repairedMarked: Set<String> = []
            for take in repair ? takes : [] {
                do throws(HeadroomError) {
                    if try Self.repair(take) { repairedMarked.insert(take.file) }
                } catch {
                    Terminal.error(error.message)
                    failure = failure ?? error.code
                }
            }
            // Takes are read (and those without a log analyzed) several at once.
            let loudness = json || html != nil
            let repaired = repairedMarked
            // One take on a terminal: where its analysis (without a log) and its loudness pass
            // have got to.
            let position = takes.count == 1 ? FilePosition() : nil
            ManyFiles.run(takes, jobs: jobs.count, progress: "takes") { take -> Result<TakeReview, HeadroomError> in
                Result { () throws(HeadroomError) in
                    defer { position?.clear() }
                    var review = try TakeReview.load(
                        file: take.file,
                        log: take.log,
                        settings: settings,
                        // A repaired take's loudness goes into its bext (or its FLAC tags).
                        measuringLoudness: loudness || repaired.contains(take.file)
                    ) {
                        position?.show(done: $0, total: $1, rate: $2)
                    }
                    // A take analyzed afresh was measured as it was read (a pipe can be read
                    // only once); one with a log is read for it now.
                    if (loudness || repaired.contains(take.file)) && review.programme == nil {
                        review.measureLoudness {
                            position?.show(done: $0, total: $1, rate: $2, doing: "measured for loudness")
                        }
                    }
                    return review
                }
            } deliver: { _, loaded in
                switch loaded {
                case .success(let review):
                    for note in review.notes { Terminal.error("note: \(note)") }
                    reviews.append(review)
                case .failure(let error):
                    Terminal.error(error.message)
                    failure = failure ?? error.code
                }
            }
            // Problems first, then in recording order.
            reviews = reviews.enumerated().sorted { a, b in
                a.element.hasProblems != b.element.hasProblems ? a.element.hasProblems : a.offset < b.offset
            }.map(\.element)
            let reviewed = reviews.count
            if onlyProblems { reviews = reviews.filter(\.hasProblems) }

            if events {
                for (i, r) in reviews.enumerated() {
                    if json {
                        // The log's lines as they are (a fresh analysis's, when there is no log).
                        // (Lines a copy through Windows ended with "\r\n" end with "\n" again.)
                        if let log = r.log,
                            let text = try? String(contentsOfFile: log, encoding: .utf8).splitLines()
                                .joined(separator: "\n")
                        {
                            Terminal.out(text.hasSuffix("\n") || text.isEmpty ? text : text + "\n")
                        } else {
                            for e in r.events {
                                Terminal.out(ClipLog.eventLine(e, names: r.names, rate: r.rate).encoded() + "\n")
                            }
                        }
                        continue
                    }
                    if i > 0 { Terminal.out("\n") }
                    // Each line's text escaped on its own: a line feed in a name must not start a line.
                    let heading = "\(r.file) (\(r.log == nil ? "no log: analyzed afresh" : "log \(r.log!)"))"
                    Terminal.out(DisplayText.escaped(heading) + "\n")
                    let lines = r.events.compactMap { e in EventText.span(e, rate: r.rate).map { (e, $0.start) } }
                        .sorted { $0.1 < $1.1 }
                    if lines.isEmpty { Terminal.out("  no events\n") }
                    for (e, start) in lines {
                        let text =
                            "  \(EventText.timecode(seconds: start))  frame \(e.frame)  \(EventText.describe(e, names: r.names))"
                        Terminal.out(DisplayText.escaped(text) + "\n")
                    }
                }
            } else if json {
                for r in reviews { Terminal.out(r.jsonLine.encoded() + "\n") }
            } else {
                // "(no takes)" would say there were none to review.
                let none = reviewed > 0 ? "(no problems in \(reviewed) take\(reviewed == 1 ? "" : "s"))" : "(no takes)"
                Terminal.out(Self.table(reviews, columns: Terminal.stdoutColumns, none: none))
            }
            if labels {
                for r in reviews {
                    let path = (r.file as NSString).deletingPathExtension + ".labels.txt"
                    // Labels of a take half recorded would, once it closes, differ from its
                    // log, and be refused as a file a person edited.
                    if r.logState == .recording {
                        Terminal.error("\(r.file): still being recorded; its labels are written once its take closes")
                        continue
                    }
                    do throws(HeadroomError) {
                        // A second run over the same takes: what headroom wrote, untouched since,
                        // is left as it is (a file a person edited still needs --force).
                        let wrote = try TextFile.write(
                            EventText.audacityLabels(r.events, names: r.names, rate: r.rate),
                            to: path,
                            option: "--labels",
                            inputs: inputs,
                            force: force
                        )
                        Terminal.error(wrote ? "wrote \(path)" : "\(path) is up to date")
                    } catch {
                        Terminal.error(error.message)
                        failure = failure ?? error.code
                    }
                }
            }
            if cues || repair {
                for r in reviews where cues || repairedMarked.contains(r.file) {
                    Terminal.error(try KilledTakes.writeCues(r))
                    if repairedMarked.contains(r.file), let said = try KilledTakes.writeLoudness(r) {
                        Terminal.error(said)
                    }
                }
            }
            if let html {
                try TextFile.write(
                    TextFile.sealed(HTMLReport.render(reviews, settings: settings.analysis)),
                    to: html,
                    option: "--html",
                    inputs: inputs,
                    force: force
                )
                Terminal.error("wrote \(html)")
            }
            if let failure { throw ExitCode(failure.rawValue) }
            try failOnClip.check(clipped: reviews.contains { $0.clipEvents > 0 })
        }
    }

    /// A channel in the table: its name, or "ch3" for one nobody named.
    static func who(_ c: TakeReview.Channel) -> String {
        ClipLog.isNumberOnly(c.name, channel: c.channel - 1) ? "ch\(c.channel)" : c.name
    }

    /// One row per take; on a terminal `columns` wide too narrow for that, one record per take;
    /// `none` where there is no take to show.
    static func table(_ reviews: [TakeReview], columns: Int? = nil, none: String = "(no takes)") -> String {
        var table = TextTable(
            header: [
                "take", "duration", "started", "clipped", "flat tops", "worst TP", "hot", "xruns/gaps/dropped", "ended",
            ],
            alignments: Array(repeating: .left, count: 9)
        )
        let names = TakeReview.shownNames(reviews.map(\.file))
        for (r, name) in zip(reviews, names) {
            // "Vox x2 +4.0 dB": how often, and how far over (">=" where only a bound is known).
            let clipped = r.channels.filter { $0.clipEvents > 0 }.map { c in
                "\(Self.who(c)) x\(c.clipEvents)"
                    + (c.overDB.map { String(format: " %@%+.1f dB", c.overBound ? ">=" : "", $0) } ?? "")
            }.joined(separator: ", ")
            let flat = r.channels.filter { $0.flatEvents > 0 }.map { c in
                "\(Self.who(c)) x\(c.flatEvents)" + (c.flatLevelDBFS.map { " at \(Decibels.text($0)) dBFS" } ?? "")
            }.joined(separator: ", ")
            let ended =
                if let e = r.ending {
                    e
                } else {
                    switch r.logState {
                    case .cutOff: "cut off (log has no summary)"
                    case .recording: "recording (so far)"
                    case .missing: "no log (analyzed)"
                    case .complete: r.complete ? "complete" : "stopped"
                    }
                }
            table.add([
                name, EventText.timecode(seconds: r.seconds),
                r.started.map { EventText.localTime($0) } ?? "-",
                clipped.isEmpty ? "-" : clipped, flat.isEmpty ? "-" : flat,
                // Without a summary only the events' true peaks are known: none is not silence.
                r.worstTruePeakDBTP == nil && !r.logState.isWhole ? "-" : SummaryTable.db(r.worstTruePeakDBTP),
                String(r.hotEvents),
                "\(r.xruns)/\(r.gaps)/\(r.droppedFrames)", ended,
            ])
        }
        if let columns, !table.fits(columns) {
            return reviews.isEmpty ? none + "\n" : table.renderRecords(columns: columns)
        }
        return table.render() + (reviews.isEmpty ? none + "\n" : "")
    }

    /// Counts into its header the audio a killed recorder wrote into a WAV, RF64, W64 or FLAC take
    /// after it last brought the header up to date (``KilledTakes/countIn(file:log:)``); true
    /// when there was audio to count and the take takes cue markers.
    static func repair(_ take: TakeReview.Listed) throws(HeadroomError) -> Bool {
        switch try KilledTakes.countIn(file: take.file, log: take.log) {
        case nil:
            return false
        case .beingRecorded:
            Terminal.error("\(take.file): still being recorded; left as it is")
            return false
        case .counted(let seconds, let holds, let takesMarkers):
            Terminal.error(
                String(
                    format:
                        "%@: counted %.3f s of audio written after its header was last brought up to date; it holds %@",
                    take.file,
                    seconds,
                    EventText.timecode(seconds: holds)
                )
            )
            return takesMarkers
        }
    }
}
