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
        "take", "clip", "hot", "gain", "xrun", "gap", "dropped", "device_lost", "disk", "resumed", "summary",
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
            switch type {
            case "take": if header == nil { header = line }
            case "summary": summary = line
            case _ where Self.knownTypes.contains(type): events.append(line)
            default: unknownTypes[type, default: 0] += 1
            }
        }
    }

    /// `complete` when the log ends with its summary, `cut_off` when it does not.
    public var state: String { summary == nil ? "cut_off" : "complete" }
}
