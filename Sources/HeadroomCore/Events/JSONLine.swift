import Foundation

/// A JSON value that keeps object keys in the order they were written, so log lines
/// read the way SPEC prints them.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    /// Written with at most `decimals` digits after the point (dB values use 2).
    case number(Double, decimals: Int)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool { a.encoded() == b.encoded() }

    /// A dB figure rounded to 0.01, or `null`.
    public static func decibels(_ value: Double?) -> JSONValue {
        guard let value, value.isFinite else { return .null }
        return .number(value, decimals: 2)
    }

    /// Seconds rounded to 1 ms.
    public static func seconds(_ value: Double) -> JSONValue { .number(value, decimals: 3) }

    /// The compact one-line encoding.
    public func encoded() -> String {
        var out = ""
        write(to: &out)
        return out
    }

    func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .number(let d, let decimals): out += Self.format(d, decimals: decimals)
        case .string(let s): Self.quote(s, into: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let pairs):
            out += "{"
            for (i, (key, value)) in pairs.enumerated() {
                if i > 0 { out += "," }
                Self.quote(key, into: &out)
                out += ":"
                value.write(to: &out)
            }
            out += "}"
        }
    }

    /// `-7.5`, `0.0`, `1.25`: rounded, trailing zeros dropped, at least one decimal.
    static func format(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return "null" }
        let scale = pow(10, Double(decimals))
        var rounded = (value * scale).rounded(.toNearestOrAwayFromZero) / scale
        if rounded == 0 { rounded = 0 }  // no "-0.0"
        var text = String(format: "%.\(decimals)f", rounded)
        while text.hasSuffix("0"), let dot = text.firstIndex(of: "."),
            text.index(after: dot) < text.index(before: text.endIndex)
        {
            text.removeLast()
        }
        return text
    }

    static func quote(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
