import ArgumentParser
import Foundation
import HeadroomCore

struct Headroom: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "headroom",
        abstract:
            "A recording-input guard for ALSA capture: peak margin, clip warnings and gain proposals per channel.",
        discussion: """
            Exit codes: 0 success, 1 --fail-on-clip tripped, 64 usage or config error, 66 input missing \
            or unreadable, 69 device unavailable, 73 cannot create output, 74 I/O error.
            """,
        version: "0.1.0",
        subcommands: [
            RecordCommand.self, CalibrateCommand.self, ReviewCommand.self, AnalyzeCommand.self, DevicesCommand.self,
        ]
    )
}

/// Runs a command body, turning a ``HeadroomError`` into one line on stderr and SPEC's exit code.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as HeadroomError {
        // A usage error about an option on the command line says where to read more, as the
        // parser's own do; one about a config file names its file and line instead.
        let aboutAnOption = error.code == .usage && error.message.hasPrefix("-")
        Terminal.error(aboutAnOption ? "\(error.message); \(Headroom.helpHint)" : error.message)
        throw ExitCode(error.code.rawValue)
    }
}

extension Settings {
    /// `--duration`, `--max-take-seconds` and calibrate's `--seconds`: a length of time as
    /// ``Settings/seconds(_:)`` reads it, or the parser's error saying which forms it takes.
    static func parsedSeconds(_ text: String) throws -> Double {
        guard let value = seconds(text) else { throw ValidationError("give \(secondsForms)") }
        return value
    }

    /// `--max-step`: dB as ``Settings/decibels(_:)`` reads them.
    static func parsedDecibels(_ text: String) throws -> Double {
        guard let value = decibels(text) else { throw ValidationError("give a number of dB (12, 12dB)") }
        return value
    }

    /// `--rate`: Hz or kHz as ``Settings/hertz(_:)`` reads them.
    static func parsedRate(_ text: String) throws -> Int {
        guard let value = hertz(text) else { throw ValidationError("give Hz (48000) or kHz (48k, 44.1k)") }
        return value
    }
}
