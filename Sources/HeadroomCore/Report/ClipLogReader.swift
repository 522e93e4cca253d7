import Foundation

/// Reads a clip log back, line by line, as SPEC promises it can be: a log cut short by a
/// crash still parses up to its last complete line; lines of types this version does not
/// know are skipped (and counted); a malformed line is reported with its file and line.
public struct ClipLogReader {
    /// One parsed line and where it was.
    public struct Line: @unchecked Sendable {
        public var number: Int
        public var object: [String: Any]
        public var text: String
        public var type: String { object["type"] as? String ?? "" }
    }

    public var path: String
    public var header: Line?
    public var events: [Line] = []
    public var summary: Line?
    /// Types this version does not know, with how often they appeared.
    public var unknownTypes: [String: Int] = [:]
    /// Malformed lines: "file:line: why".
    public var problems: [String] = []
    /// True when the file ends in a partial line (written when the process died).
    public var endsInPartialLine = false

    /// The event types this version reads.
    public static let knownTypes: Set<String> = [
        "take", "clip", "hot", "gain", "xrun", "gap", "dropped", "device_lost", "disk", "resumed", "marker",
        "summary",
    ]

    public init(path: String) throws(HeadroomError) {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HeadroomError(.noInput, "\(path): cannot read the clip log")
        }
        let text = String(decoding: data, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if let last = lines.last, last.isEmpty {
            lines.removeLast()
        } else if !lines.isEmpty {
            endsInPartialLine = true  // no newline at the end: the last line was being written
        }
        for (i, raw) in lines.enumerated() {
            let number = i + 1
            if raw.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(raw.utf8))) as? [String: Any],
                let type = object["type"] as? String
            else {
                if endsInPartialLine && i == lines.count - 1 { continue }  // cut off mid-line by a crash
                problems.append("\(path):\(number): not a clip-log line (expected one JSON object with a \"type\")")
                continue
            }
            let line = Line(number: number, object: object, text: raw)
            if let wrong = Self.malformedField(object) {
                problems.append("\(path):\(number): \(type) line skipped: \(wrong)")
                continue
            }
            switch type {
            case "take":
                if header == nil {
                    header = line
                } else {
                    problems.append(
                        "\(path):\(number): a second take header; the first (line \(header!.number)) is used"
                    )
                }
            case "summary":
                if let first = summary {
                    problems.append("\(path):\(number): a second summary; the first (line \(first.number)) is used")
                } else {
                    summary = line
                }
            case _ where Self.knownTypes.contains(type): events.append(line)
            default: unknownTypes[type, default: 0] += 1
            }
        }
    }

    /// Fields that must be whole numbers of frames (or counts) where they appear.
    static let countFields = [
        "frame", "start_frame", "end_frame", "lost_frames", "frames", "channel", "rate", "channels",
        "clipped_samples", "runs", "longest_run", "xruns", "gaps", "dropped_frames",
    ]
    /// Fields that must be numbers (or null) where they appear.
    static let numberFields = [
        "time", "seconds", "peak_dbfs", "true_peak_dbtp", "proposal_db", "rms_dbfs", "headroom_db", "gain_proposal_db",
    ]

    /// Why a known line cannot be trusted (a count that is not a whole number >= 0, a
    /// level that is not a number), or nil. Unknown fields are left alone.
    static func malformedField(_ object: [String: Any]) -> String? {
        for key in countFields {
            // `channels` is a count in the take header and a list in the summary.
            guard let value = object[key], !(value is [Any]) else { continue }
            guard !(value is String), let number = value as? Double else {
                return "\"\(key)\" must be a whole number, not \(Self.describe(value))"
            }
            guard number >= 0, number == number.rounded() else {
                return "\"\(key)\" must be a whole number >= 0, not \(number)"
            }
        }
        for key in numberFields {
            guard let value = object[key], !(value is NSNull) else { continue }
            guard !(value is String), value as? Double != nil else {
                return "\"\(key)\" must be a number, not \(Self.describe(value))"
            }
        }
        return nil
    }

    private static func describe(_ value: Any) -> String {
        if let s = value as? String { return "the string \"\(s.prefix(20))\"" }
        if value is NSNull { return "null" }
        return "\(value)"
    }

    /// `complete` when the log ends with its summary, `cut_off` when it does not.
    public var state: String { summary == nil ? "cut_off" : "complete" }
}
