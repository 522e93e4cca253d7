import ArgumentParser
import Foundation
import HeadroomCore

struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Run the analyzer over audio files (anything libsndfile reads).",
        discussion: """
            Prints one table per file: each channel's peak, true peak (BS.1770-4, 4x), RMS, headroom, \
            clip and hot events, and the gain proposal. --json writes the clip-log lines instead.
            """
    )

    @OptionGroup var analysis: AnalysisOptions

    @Flag(help: "Write the clip-log JSON Lines (take header, events, summary per file) to stdout.")
    var json = false

    @Flag(name: .customLong("fail-on-clip"), help: "Exit 1 when any clip event was found.")
    var failOnClip = false

    @Argument(help: ArgumentHelp("Audio files to analyze.", valueName: "file"))
    var files: [String]

    func run() throws {
        try reportingErrors {
            let settings = try analysis.settings()
            var failure: HeadroomError.Code? = nil
            var clipped = false
            let table = SummaryTable(color: Terminal.stdoutColor)
            for (index, path) in files.enumerated() {
                do {
                    let result = try FileAnalysis.run(path: path, settings: settings) { line in
                        if json { Terminal.out(line.encoded() + "\n") }
                    }
                    if let error = result.readError { Terminal.error("\(path): read stopped early: \(error)") }
                    if result.clipEvents > 0 { clipped = true }
                    if !json {
                        if index > 0 { Terminal.out("\n") }
                        let seconds = Double(result.frames) / Double(result.header.rate)
                        Terminal.out(
                            "\(path): \(result.containerName), \(result.encodingName), \(result.header.rate) Hz, "
                                + "\(result.header.channels) ch, \(String(format: "%.3f", seconds)) s\n"
                        )
                        Terminal.out(table.render(result.summaries, names: result.header.names), raw: true)
                    }
                } catch let error as HeadroomError {
                    Terminal.error(error.message)
                    failure = failure ?? error.code
                }
            }
            if let failure { throw ExitCode(failure.rawValue) }
            if failOnClip && clipped { throw ExitCode(HeadroomError.Code.clipped.rawValue) }
        }
    }
}
