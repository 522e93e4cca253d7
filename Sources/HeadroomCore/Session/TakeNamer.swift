import Foundation

/// Turns `--name` (strftime codes plus `%n`, a take counter) into take file names inside
/// `--dir`, never overwriting an existing take and never leaving the folder.
public struct TakeNamer: Sendable {
    public let directory: String
    public let template: String
    public let fileFormat: TakeFileFormat
    private var counter = 0

    /// Checks the template; a name with `/` (or `..`) would escape `--dir` and is refused.
    public init(directory: String, template: String, fileFormat: TakeFileFormat) throws(HeadroomError) {
        self.directory = directory
        self.template = template
        self.fileFormat = fileFormat
        let sample = Self.expand(template, date: Date(), counter: 1)
        guard !template.isEmpty, !sample.isEmpty else {
            throw HeadroomError(.usage, "--name must not be empty")
        }
        guard !sample.contains("/"), sample != ".", sample != "..", !sample.hasPrefix(".") else {
            throw HeadroomError(
                .usage,
                "--name \"\(template)\" would write outside --dir (\(sample)); use --dir for the folder and --name for the file name"
            )
        }
    }

    /// The next take's path without extension (`dir/take-20261124-153000`), free of existing files.
    public mutating func next(date: Date = Date()) -> String {
        let usesCounter = template.contains("%n")
        while true {
            counter += 1
            let base = directory + "/" + Self.expand(template, date: date, counter: counter)
            if usesCounter {
                if !exists(base) { return base }
                continue
            }
            if !exists(base) { return base }
            var suffix = 2
            while exists(base + "-\(suffix)") { suffix += 1 }
            return base + "-\(suffix)"
        }
    }

    /// The take file and its clip log both count: neither may be overwritten.
    private func exists(_ base: String) -> Bool {
        FileManager.default.fileExists(atPath: base + "." + fileFormat.fileExtension)
            || FileManager.default.fileExists(atPath: base + ".clips.jsonl")
    }

    /// strftime in local time, with `%n` as a 3-digit counter (not strftime's newline).
    public static func expand(_ template: String, date: Date, counter: Int) -> String {
        let marker = "\u{1}N\u{1}"
        let protected = template.replacingOccurrences(of: "%n", with: marker)
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        localtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 1024)
        let n = strftime(&buffer, buffer.count, protected, &parts)
        let expanded =
            n > 0 ? String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self) : protected
        return expanded.replacingOccurrences(of: marker, with: String(format: "%03d", counter))
    }
}
