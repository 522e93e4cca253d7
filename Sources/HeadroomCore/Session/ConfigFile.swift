import Foundation
import TOMLKit

/// A headroom config file: TOML 1.0 (parsed by TOMLKit, toml++ underneath), with
/// top-level keys named like the command-line options (`target_peak` or `target-peak`)
/// and per-channel tables `[channel.3]` with `name` and `control`. (`[channels.3]`, the
/// first spelling, is read too; TOML cannot hold it beside `channels = 8`.)
///
/// Values are strings, numbers, booleans and arrays of strings. Anything else is refused
/// naming the file, the line and the key, so a typo never passes silently.
public struct ConfigFile: Sendable, Equatable {
    /// A value as written.
    public enum Value: Sendable, Equatable {
        case string(String)
        case number(Double)
        case bool(Bool)
        case strings([String])
        /// A TOML value headroom has no use for (a date, a table, an array of numbers):
        /// named as TOML names it, refused where a key is applied.
        case other(String)
    }

    /// Where a value came from, for error messages.
    public struct Entry: Sendable, Equatable {
        public var value: Value
        /// 1-based; 0 when the line could not be found.
        public var line: Int
    }

    public var path: String
    /// Top-level keys, normalized to snake_case.
    public var values: [String: Entry] = [:]
    /// `[channel.N]` (or `[channels.N]`) tables, N counted from 1.
    public var channels: [Int: [String: Entry]] = [:]

    /// Reads and parses `path`; a missing file is ``HeadroomError/Code/noInput``, a
    /// malformed one ``HeadroomError/Code/usage``.
    public static func load(path: String) throws(HeadroomError) -> ConfigFile {
        let data: Data
        switch FilePaths.contents(of: path) {
        case .data(let read): data = read
        case .folder: throw HeadroomError(.noInput, "\(path): a folder, not a config file (a TOML file)")
        case .missing: throw HeadroomError(.noInput, "\(path): cannot read the config file: no such file")
        case .unreadable(let why): throw HeadroomError(.noInput, "\(path): cannot read the config file: \(why)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw HeadroomError(.usage, "\(path): not UTF-8 text; a config file is TOML, saved as UTF-8")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws(HeadroomError) -> ConfigFile {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            let at = "\(path):\(error.source.begin.line)"
            if error.description.contains("redefine existing"), error.description.contains("'channels.") {
                // toml++ points into the table; the header is what to rewrite.
                let header = Lines(text).lines.firstIndex {
                    $0.trimmingCharacters(in: .whitespaces).hasPrefix("[channels.")
                }
                throw HeadroomError(
                    .usage,
                    "\(header.map { "\(path):\($0 + 1)" } ?? at): a [channels.N] table cannot stand beside channels = N in TOML; write it as [channel.N]"
                )
            }
            // `device = hw:1`: text written without quotes, the likeliest slip in a TOML file.
            let line = Lines(text).lines.dropFirst(max(0, error.source.begin.line - 1)).first ?? ""
            if error.description.contains("could not determine value type"), let eq = line.firstIndex(of: "=") {
                let key = line[..<eq].trimmingCharacters(in: .whitespaces)
                var value = String(line[line.index(after: eq)...])
                if let comment = value.range(of: " #") { value = String(value[..<comment.lowerBound]) }
                value = value.trimmingCharacters(in: .whitespaces)
                let quoted =
                    value.hasPrefix("[") && value.hasSuffix("]")
                    ? "["
                        + value.dropFirst().dropLast().split(separator: ",").map {
                            "\"\($0.trimmingCharacters(in: .whitespaces))\""
                        }.joined(separator: ", ") + "]"
                    : "\"\(value)\""
                throw HeadroomError(
                    .usage,
                    "\(at): \(key) = \(value) is not a TOML value; text goes in quotes: \(key) = \(quoted)"
                )
            }
            throw HeadroomError(.usage, "\(at): \(error.description)")
        } catch {
            throw HeadroomError(.usage, "\(path): \(error)")
        }
        let lines = Lines(text)
        var config = ConfigFile(path: path)
        for key in table.keys {
            guard let value = table[key] else { continue }
            if key == "channel" || key == "channels", let channels = value.table {
                for number in channels.keys {
                    let at =
                        lines.header("\(key).\(number)") ?? lines.find(number, in: nil) ?? lines.find(key, in: nil) ?? 0
                    guard let n = Int(number), Analyzer.channelRange.contains(n), let entries = channels[number]?.table
                    else {
                        throw HeadroomError(
                            .usage,
                            "\(path):\(at): unknown table [\(key).\(number)]; tables are [channel.N] with N from 1 to \(Analyzer.channelRange.upperBound)"
                        )
                    }
                    for field in entries.keys {
                        guard let v = entries[field] else { continue }
                        let line = lines.find(field, in: "\(key).\(number)") ?? at
                        config.channels[n, default: [:]][field.replacingOccurrences(of: "-", with: "_")] = Entry(
                            value: Self.value(v),
                            line: line
                        )
                    }
                }
                continue
            }
            if value.table != nil {
                // `[record]` over `dir = ...`: one file serves every command, its keys at the top.
                let line = lines.header(key) ?? lines.find(key, in: nil) ?? 0
                let commands = ["record", "calibrate", "review", "analyze", "devices"]
                let top =
                    commands.contains(key)
                    ? "; every command reads the same keys, written at the top (before any table)" : ""
                throw HeadroomError(
                    .usage,
                    "\(path):\(line): unknown table [\(key)]; tables are [channel.N]\(top)"
                )
            }
            let line = lines.find(key, in: nil) ?? 0
            config.values[key.replacingOccurrences(of: "-", with: "_")] = Entry(value: Self.value(value), line: line)
        }
        return config
    }

    private static func value(_ v: TOMLValueConvertible) -> Value {
        switch v.type {
        case .string: return .string(v.string ?? "")
        case .int: return .number(Double(v.int ?? 0))
        case .double: return (v.double?.isFinite ?? false) ? .number(v.double!) : .other("a number that is not finite")
        case .bool: return .bool(v.bool ?? false)
        case .array:
            let items = v.array.map { Array($0) } ?? []
            let strings = items.compactMap { $0.type == .string ? $0.string : nil }
            return strings.count == items.count ? .strings(strings) : .other("an array of other things than strings")
        default: return .other("a TOML \(v.type)")
        }
    }

    /// Where each key was written, for messages: TOML parsers say where a syntax error
    /// is, not where a well-formed key lives.
    private struct Lines {
        let lines: [String]

        init(_ text: String) {
            lines = text.splitLines().map(String.init)
        }

        /// The 1-based line of the header `[name]`.
        func header(_ name: String) -> Int? {
            lines.firstIndex {
                $0.trimmingCharacters(in: .whitespaces).hasPrefix("[")
                    && $0.trimmingCharacters(in: CharacterSet(charactersIn: "[] \t")) == name
            }.map { $0 + 1 }
        }

        /// The 1-based line of `key = ...` inside `[table]` (nil: the top level).
        func find(_ key: String, in table: String?) -> Int? {
            var current: String? = nil
            for (i, raw) in lines.enumerated() {
                let line = raw.trimmingCharacters(in: .whitespaces)
                if line.hasPrefix("[") {
                    current = line.trimmingCharacters(in: CharacterSet(charactersIn: "[] "))
                    continue
                }
                // `[channel.3]` holds `name = ...`; a dotted `channel.3.name` or a bare `3` in [channel] also count.
                let here = current == table || (table == nil && current == nil)
                for spelling in [key, "\"\(key)\"", "'\(key)'"] where line.hasPrefix(spelling) {
                    let rest = line.dropFirst(spelling.count).drop { $0 == " " || $0 == "\t" }
                    if (rest.hasPrefix("=") || rest.hasPrefix(".")) && (here || table == nil) { return i + 1 }
                }
            }
            return nil
        }
    }
}
