/// Columns aligned for a terminal: each column as wide as its widest cell, two spaces
/// between columns, no trailing spaces. `analyze`, the end of a take, `review` and
/// `calibrate` all print through it.
public struct TextTable {
    public enum Alignment: Sendable { case left, right }

    public let header: [String]
    public let alignments: [Alignment]
    public private(set) var rows: [[String]] = []

    /// - Parameters:
    ///   - header: the column titles.
    ///   - alignments: one per column; numbers read best right-aligned, names left.
    public init(header: [String], alignments: [Alignment]) {
        precondition(header.count == alignments.count, "one alignment per column")
        self.header = header
        self.alignments = alignments
    }

    public mutating func add(_ row: [String]) {
        precondition(row.count == header.count, "one cell per column")
        // Cells carry names from outside (channels, files): never a raw control character.
        rows.append(row.map { DisplayText.escaped($0) })
    }

    /// The header line, then one line per row.
    public func lines() -> [String] {
        // In terminal columns: a name in Japanese takes two a character.
        let all = [header] + rows
        let used = all.map { $0.map(DisplayText.cells) }
        var widths = used[0]
        for row in used.dropFirst() { for (i, n) in row.enumerated() { widths[i] = max(widths[i], n) } }
        return all.indices.map { r in
            var line = all[r].enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - used[r][i])
                return alignments[i] == .left ? cell + pad : pad + cell
            }.joined(separator: "  ")
            while line.last == " " { line.removeLast() }
            return line
        }
    }

    /// ``lines()``, each ended by a newline.
    public func render() -> String { lines().map { $0 + "\n" }.joined() }
}
