import CHeadroomKernels

/// Text that came from outside (channel names, device and file names, clip-log fields)
/// made safe to print: a terminal or the journal sees every control character as `\xNN`,
/// so a name cannot clear the screen, retitle the terminal or forge a second log line.
public enum DisplayText {
    /// `text` with C0 and C1 control characters and DEL shown as `\x1b`-style escapes
    /// (line feeds kept when `keepNewlines`, for text that is made of lines).
    public static func escaped(_ text: String, keepNewlines: Bool = false) -> String {
        guard text.unicodeScalars.contains(where: { isControl($0, keepNewlines: keepNewlines) }) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isControl(scalar, keepNewlines: keepNewlines) {
                let hex = String(scalar.value, radix: 16)
                out.append(contentsOf: ("\\x" + (hex.count < 2 ? "0" + hex : hex)).unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// `text` as the character data or attribute value of HTML or XML: `&`, `<`, `>` and `"`
    /// as entities (the HTML report, the live page, a take's iXML).
    public static func markup(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// The terminal columns `text` takes, as terminals count them (glibc's `wcwidth` in the
    /// C.UTF-8 locale, whatever the process's locale): two for each East Asian wide or
    /// fullwidth character and emoji (`ボーカル` is 8), none for combining marks, one for the
    /// rest. Meant for text already ``escaped(_:keepNewlines:)``.
    public static func cells(_ text: String) -> Int {
        var total = 0
        for character in text { total += cells(character) }
        return total
    }

    /// The longest start of `text` that takes at most `cells` columns (whole characters).
    public static func prefix(_ text: String, cells room: Int) -> String {
        var used = 0
        var end = text.startIndex
        for character in text {
            let width = cells(character)
            if used + width > room { break }
            used += width
            end = text.index(after: end)
        }
        return String(text[..<end])
    }

    /// A character (a grapheme cluster: a letter and its marks, an emoji sequence) takes the
    /// widest of its scalars, at most two; every character one where C.UTF-8 is missing.
    static func cells(_ character: Character) -> Int {
        let scalars = character.unicodeScalars
        if scalars.count == 1, let only = scalars.first, only.value >= 0x20, only.value < 0x7F { return 1 }
        var widest = 0
        for scalar in scalars {
            let width = hr_cell_width(scalar.value)
            if width == -2 { return 1 }
            widest = max(widest, Int(width))
        }
        return min(widest, 2)
    }

    private static func isControl(_ s: Unicode.Scalar, keepNewlines: Bool) -> Bool {
        if keepNewlines && s == "\n" { return false }
        return s.value < 0x20 || (0x7F...0x9F).contains(s.value)
    }
}
