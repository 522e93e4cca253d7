import ArgumentParser
import Foundation
import HeadroomCore

struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Run the analyzer over audio files (anything libsndfile reads).",
        discussion: """
            Prints one table per file: each channel's peak, true peak (BS.1770-4, 4x), RMS, headroom, \
            clip, flat-top and hot events, and the gain proposal. --json writes the clip-log lines instead.
            """
    )

    @OptionGroup var analysis: AnalysisOptions

    @Flag(help: "Write the clip-log JSON Lines (take header, events, summary per file) to stdout.")
    var json = false

    @OptionGroup var failOnClip: FailOnClipOption

    @Argument(help: ArgumentHelp("Audio files to analyze; - reads standard input.", valueName: "file"))
    var files: [String]

    @OptionGroup var jobs: JobsOption

    func validate() throws {
        if files.filter({ $0 == AudioFileReader.standardInput }).count > 1 {
            throw ValidationError("- (standard input) can be given once")
        }
        try Headroom.validateFiles(files)
    }

    func run() throws {
        try reportingErrors {
            let settings = try analysis.settings()
            let (json, color) = (json, Terminal.stdoutColor)
            // One file, or one at a time: --json streams each line as soon as it is final.
            // Otherwise each file's output is held until the files before it are out.
            let streaming = files.count == 1 || jobs.count == 1
            var failure: HeadroomError.Code? = nil
            var clipped = false
            // One file: its channels are split over two threads instead.
            let threads = files.count == 1 ? min(jobs.count, 2) : 1
            // One file on a terminal: where it has got to, on stderr (a long take takes a while).
            let position = files.count == 1 ? FilePosition() : nil
            ManyFiles.run(files, jobs: jobs.count, progress: streaming ? nil : "files") { path in
                Self.analyze(
                    path,
                    settings: settings,
                    json: json,
                    color: color,
                    streaming: streaming,
                    threads: threads,
                    position: position
                )
            } deliver: { index, outcome in
                if !json && outcome.table != nil && index > 0 { Terminal.out("\n") }
                Terminal.out(outcome.text, raw: true)
                for message in outcome.errors { Terminal.error(message) }
                if let table = outcome.table { Terminal.out(table, raw: true) }
                for note in outcome.notes { Terminal.error(note) }
                if outcome.clipped { clipped = true }
                if let code = outcome.failure { failure = failure ?? code }
            }
            if let failure { throw ExitCode(failure.rawValue) }
            try failOnClip.check(clipped: clipped)
        }
    }

    /// What one file gives: its stdout text (JSON lines, or the table's title line) and
    /// table, its error lines, and whether it clipped.
    struct Outcome: Sendable {
        var text = ""
        var table: String?
        var errors: [String] = []
        /// Said on stderr after the file's output.
        var notes: [String] = []
        var clipped = false
        var failure: HeadroomError.Code?
    }

    static func analyze(
        _ path: String,
        settings: Settings,
        json: Bool,
        color: Bool,
        streaming: Bool,
        threads: Int,
        position: FilePosition? = nil
    ) -> Outcome {
        var outcome = Outcome()
        defer { position?.clear() }
        do {
            let result = try FileAnalysis.run(
                path: path,
                settings: settings,
                threads: threads,
                onProgress: { position?.show(done: $0, total: $1, rate: $2) },
                onLine: { line in
                    guard json else { return }
                    if streaming {
                        position?.clear()
                        Terminal.out(line.encoded() + "\n")
                    } else {
                        outcome.text += DisplayText.escaped(line.encoded() + "\n", keepNewlines: true)
                    }
                }
            )
            if let error = result.readError { outcome.errors.append("\(path): read stopped early: \(error)") }
            // A WAV copy cut short reads to its end with no error: what it lacks, only its chunks say.
            if path != AudioFileReader.standardInput, let damage = try? RIFFChunks(path: path).damage,
                case .cutShort = damage
            {
                let seconds = String(format: "%.3f", Double(result.frames) / Double(result.header.rate))
                outcome.notes.append(
                    "note: \(DisplayText.escaped(path)): \(damage); analyzed the \(seconds) s it holds"
                )
            }
            // A take whose recorder was killed: what is on disk past its header's count.
            if path != AudioFileReader.standardInput, let uncounted = KilledTakes.uncounted(path) {
                let seconds = Double(uncounted.frames) / Double(result.header.rate)
                let note = KilledTakes.notCounted(path, seconds: seconds, leftOutBy: "this analysis")
                outcome.notes.append("note: " + DisplayText.escaped(note))
            }
            if let beyond = Settings.namesBeyond(settings.names, channels: result.header.channels) {
                outcome.notes.append("note: \(DisplayText.escaped(path)): \(beyond.text); \(beyond.are) not used")
            }
            outcome.clipped = result.clipEvents > 0
            if let note = result.lossyNote(path: path) { outcome.notes.append("note: " + note) }
            if !json {
                let seconds = Double(result.frames) / Double(result.header.rate)
                // The file's name escaped on its own: a line feed in it must not start a line.
                outcome.table =
                    "\(DisplayText.escaped(path)): \(result.containerName), \(result.encodingName), "
                    + "\(result.header.rate) Hz, \(result.header.channels) ch, \(String(format: "%.3f", seconds)) s\n"
                    + SummaryTable(color: color).render(
                        result.summaries,
                        names: result.header.names,
                        columns: Terminal.stdoutColumns
                    )
            }
        } catch {
            outcome.errors.append(error.message)
            outcome.failure = error.code
        }
        return outcome
    }
}
