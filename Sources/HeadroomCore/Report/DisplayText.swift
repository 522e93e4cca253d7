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

    private static func isControl(_ s: Unicode.Scalar, keepNewlines: Bool) -> Bool {
        if keepNewlines && s == "\n" { return false }
        return s.value < 0x20 || (0x7F...0x9F).contains(s.value)
    }
}
