import Foundation

/// Reads a clip log back, line by line, into the typed model (``ClipLogLine``), as
/// docs/clip-log.md promises it can be: a log cut short by a crash still reads up to its last complete
/// line; lines of types this version does not know are skipped (and counted); a line
/// that cannot be trusted (not JSON, a field of the wrong type, a negative frame) is
/// skipped and named by file and line.
public struct ClipLogReader {
    public var path: String
    public var header: ClipLog.Header?
    /// The events, in the order written.
    public var events: [Event] = []
    public var summary: SummaryLine?
    /// Types this version does not know, with how often they appeared.
    public var unknownTypes: [String: Int] = [:]
    /// Lines skipped or set aside: "file:line: why".
    public var problems: [String] = []
    /// True when the file ends in a partial line (written when the process died).
    public var endsInPartialLine = false

    public init(path: String) throws(HeadroomError) {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HeadroomError(.noInput, "\(path): cannot read the clip log")
        }
        let text = String(decoding: data, as: UTF8.self)
        // JSON Lines ends a line with "\n" or "\r\n" (a log that went through Windows).
        var lines = text.splitLines().map(String.init)
        if let last = lines.last, last.isEmpty {
            lines.removeLast()
        } else if !lines.isEmpty {
            endsInPartialLine = true  // no newline at the end: the last line was being written
        }
        var headerLine = 0
        var summaryLine = 0
        for (i, raw) in lines.enumerated() {
            let number = i + 1
            if raw.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            let line: ClipLogLine
            do {
                line = try ClipLogLine.decode(raw)
            } catch {
                if endsInPartialLine && i == lines.count - 1 { continue }  // cut off mid-line by a crash
                problems.append("\(path):\(number): \(error.message)")
                continue
            }
            switch line {
            case .take(let h):
                if header == nil {
                    (header, headerLine) = (h, number)
                } else {
                    problems.append("\(path):\(number): a second take header; the first (line \(headerLine)) is used")
                }
            case .summary(let s):
                if summary == nil {
                    (summary, summaryLine) = (s, number)
                } else {
                    problems.append("\(path):\(number): a second summary; the first (line \(summaryLine)) is used")
                }
            case .event(let e): events.append(e)
            case .unknown(let type): unknownTypes[type, default: 0] += 1
            }
        }
    }
}
