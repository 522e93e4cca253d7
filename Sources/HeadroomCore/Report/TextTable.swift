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

    /// Whether the table's lines fit a terminal `columns` wide (nil: not a terminal, and
    /// anything fits: a pipe or a file keeps one row per line for the tools that read it).
    public func fits(_ columns: Int?) -> Bool {
        guard let columns else { return true }
        return lines().allSatisfy { DisplayText.cells($0) <= columns }
    }

    /// The rows as records, for a terminal too narrow for the table (psql's expanded
    /// display): a title (`titles`, one a row, or the first column's name and the row's cells
    /// in the first `titleColumns` columns: "take take-003.wav"), then one line per other
    /// column, its name and the cell, names aligned; a cell too long for the line goes on over
    /// more lines at word breaks, under its start. One array of lines a row.
    public func records(columns: Int, titleColumns: Int = 1, titles: [String]? = nil) -> [[String]] {
        let nameCells = header.dropFirst(titleColumns).map(DisplayText.cells).max() ?? 0
        let indent = 2 + nameCells + 2
        return rows.enumerated().map { r, row in
            let title = titles.map { DisplayText.escaped($0[r]) }
            var out = [title ?? ([header[0]] + row.prefix(titleColumns)).joined(separator: " ")]
            for (name, cell) in zip(header.dropFirst(titleColumns), row.dropFirst(titleColumns)) {
                let label = "  " + name + String(repeating: " ", count: nameCells - DisplayText.cells(name)) + "  "
                let wrapped = Self.wrap(cell, cells: max(columns - indent, 12))
                out.append(label + wrapped[0])
                out += wrapped.dropFirst().map { String(repeating: " ", count: indent) + $0 }
            }
            return out
        }
    }

    /// ``records(columns:titleColumns:titles:)`` as text, a blank line between records.
    public func renderRecords(columns: Int, titleColumns: Int = 1, titles: [String]? = nil) -> String {
        Self.text(records(columns: columns, titleColumns: titleColumns, titles: titles))
    }

    /// A paragraph for a terminal `columns` wide, broken at spaces short of the last column;
    /// as it is where there is no terminal (nil: a pipe, a file).
    public static func paragraph(_ text: String, columns: Int?) -> String {
        guard let columns, columns > 1 else { return text }
        return wrap(text, cells: columns - 1).joined(separator: "\n")
    }

    /// Records (arrays of lines) as text, a blank line between them.
    public static func text(_ records: [[String]]) -> String {
        records.map { $0.map { $0 + "\n" }.joined() }.joined(separator: "\n")
    }

    /// `text` in lines of at most `cells`, broken at spaces; a word longer than a line is
    /// cut where the line ends.
    public static func wrap(_ text: String, cells: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: false).map(String.init) {
            let next = line.isEmpty ? word : line + " " + word
            if DisplayText.cells(next) <= cells {
                line = next
                continue
            }
            if !line.isEmpty { lines.append(line) }
            line = word
            while DisplayText.cells(line) > cells {
                let head = DisplayText.prefix(line, cells: cells)
                lines.append(head)
                line = String(line.dropFirst(head.count))
            }
        }
        lines.append(line)
        return lines
    }
}
