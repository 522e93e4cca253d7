import Foundation

/// A headroom config file: the TOML that people write for it. Top-level `key = value`
/// pairs with the same names as the command-line options (`target_peak` or
/// `target-peak`), and per-channel tables `[channels.3]` with `name` and `control`.
///
/// Values are strings, numbers, booleans and arrays of strings. Anything else is
/// refused with the file and line, so a typo never passes silently.
public struct ConfigFile: Sendable, Equatable {
    /// A value as written.
    public enum Value: Sendable, Equatable {
        case string(String)
        case number(Double)
        case bool(Bool)
        case strings([String])
    }

    /// Where a value came from, for error messages.
    public struct Entry: Sendable, Equatable {
        public var value: Value
        public var line: Int
    }

    public var path: String
    /// Top-level keys, normalized to snake_case.
    public var values: [String: Entry] = [:]
    /// `[channels.N]` tables, N counted from 1.
    public var channels: [Int: [String: Entry]] = [:]

    /// Reads and parses `path`; a missing file is ``HeadroomError/Code/noInput``, a
    /// malformed one ``HeadroomError/Code/usage``.
    public static func load(path: String) throws(HeadroomError) -> ConfigFile {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw HeadroomError(.noInput, "\(path): cannot read the config file")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws(HeadroomError) -> ConfigFile {
        var config = ConfigFile(path: path)
        var table: Int? = nil
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            func fail(_ why: String) -> HeadroomError { HeadroomError(.usage, "\(path):\(number): \(why)") }
            let line = stripComment(String(rawLine)).trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw fail("a table header must end with ]") }
                let name = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                let parts = name.split(separator: ".")
                guard parts.count == 2, parts[0] == "channels", let n = Int(parts[1]), (1...64).contains(n) else {
                    throw fail("unknown table [\(name)]; tables are [channels.N] with N from 1 to 64")
                }
                table = n
                if config.channels[n] == nil { config.channels[n] = [:] }
                continue
            }
            guard let eq = line.firstIndex(of: "=") else { throw fail("expected key = value") }
            var key = line[..<eq].trimmingCharacters(in: .whitespaces)
            if key.hasPrefix("\""), key.hasSuffix("\""), key.count >= 2 { key = String(key.dropFirst().dropLast()) }
            key = key.replacingOccurrences(of: "-", with: "_")
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw fail("\"\(key)\" is not a valid key")
            }
            let rawValue = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            guard let value = parseValue(rawValue) else {
                throw fail("the value of \(key) must be a number, a quoted string, true/false or [\"a\", \"b\"]")
            }
            let entry = Entry(value: value, line: number)
            if let n = table {
                guard config.channels[n]![key] == nil else { throw fail("\(key) is set twice in [channels.\(n)]") }
                config.channels[n]![key] = entry
            } else {
                guard config.values[key] == nil else { throw fail("\(key) is set twice") }
                config.values[key] = entry
            }
        }
        return config
    }

    private static func stripComment(_ line: String) -> String {
        var inString = false
        var previous: Character = " "
        for (i, ch) in zip(line.indices, line) {
            if ch == "\"" && previous != "\\" { inString.toggle() }
            if ch == "#" && !inString { return String(line[..<i]) }
            previous = ch
        }
        return line
    }

    private static func parseValue(_ text: String) -> Value? {
        if text == "true" { return .bool(true) }
        if text == "false" { return .bool(false) }
        if let s = parseString(text) { return .string(s) }
        if text.hasPrefix("[") && text.hasSuffix("]") {
            let inner = text.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
            if inner.isEmpty { return .strings([]) }
            var items: [String] = []
            for part in splitArray(inner) {
                guard let s = parseString(part.trimmingCharacters(in: .whitespaces)) else { return nil }
                items.append(s)
            }
            return .strings(items)
        }
        if let d = Double(text.replacingOccurrences(of: "_", with: "")), d.isFinite { return .number(d) }
        return nil
    }

    private static func parseString(_ text: String) -> String? {
        guard text.count >= 2, text.first == text.last, text.first == "\"" || text.first == "'" else { return nil }
        let body = String(text.dropFirst().dropLast())
        guard text.first == "\"" else { return body }
        var out = ""
        var escaped = false
        for ch in body {
            if escaped {
                switch ch {
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: out.append(ch)
                }
                escaped = false
            } else if ch == "\\" {
                escaped = true
            } else if ch == "\"" {
                return nil
            } else {
                out.append(ch)
            }
        }
        return escaped ? nil : out
    }

    private static func splitArray(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var inString = false
        for ch in text {
            if ch == "\"" { inString.toggle() }
            if ch == "," && !inString {
                parts.append(current)
                current = ""
            } else {
                current.append(ch)
            }
        }
        if !current.trimmingCharacters(in: .whitespaces).isEmpty { parts.append(current) }
        return parts
    }
}
