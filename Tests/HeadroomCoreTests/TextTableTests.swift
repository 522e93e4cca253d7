import Testing

@testable import HeadroomCore

@Suite("Text tables")
struct TextTableTests {
    @Test("columns as wide as their widest cell, numbers right, names left, no trailing spaces")
    func alignment() {
        var table = TextTable(header: ["ch", "name", "peak dBFS"], alignments: [.right, .left, .right])
        table.add(["1", "Kick", "-6.02"])
        table.add(["12", "Overhead L", "-inf"])
        #expect(
            table.lines() == [
                "ch  name        peak dBFS",
                " 1  Kick            -6.02",
                "12  Overhead L       -inf",
            ]
        )
        var last = TextTable(header: ["ch", "proposal"], alignments: [.right, .left])
        last.add(["1", "ok"])
        #expect(last.render() == "ch  proposal\n 1  ok\n")
    }

    @Test("names in wide characters (Japanese, Chinese, Korean, emoji) are measured in terminal columns")
    func wideNames() {
        #expect(DisplayText.cells("Vox") == 3)
        #expect(DisplayText.cells("ボーカル") == 8)
        #expect(DisplayText.cells("贝斯") == 4)
        #expect(DisplayText.cells("보컬 2") == 6)
        #expect(DisplayText.cells("Vox 🎤") == 6)
        #expect(DisplayText.cells("Cafe\u{301}") == 4)  // a combining accent takes no column
        #expect(DisplayText.cells("Gtr ¦ █") == 7)
        #expect(DisplayText.prefix("ボーカル", cells: 5) == "ボー")
        #expect(DisplayText.prefix("Vox 🎤", cells: 5) == "Vox ")
        var table = TextTable(header: ["ch", "name", "peak dBFS"], alignments: [.right, .left, .right])
        table.add(["1", "ボーカル", "-6.02"])
        table.add(["2", "Bass DI", "-12.00"])
        #expect(
            table.lines() == [
                "ch  name      peak dBFS",
                " 1  ボーカル      -6.02",
                " 2  Bass DI      -12.00",
            ]
        )
    }

    @Test(
        "too wide for the terminal: records, titled, names aligned, long cells broken at spaces under their start, no line wider than the terminal"
    )
    func records() {
        var table = TextTable(header: ["ch", "name", "clips", "proposal"], alignments: [.right, .left, .right, .left])
        table.add(["1", "Vox", "5", "clipped 3x, by about 4.0 dB: lower 10.0 dB, then run calibrate again"])
        table.add(["2", "ベース", "0", "ok"])
        #expect(table.fits(nil) && table.fits(90) && !table.fits(60))
        #expect(
            table.records(columns: 40, titleColumns: 2) == [
                [
                    "ch 1 Vox",
                    "  clips     5",
                    "  proposal  clipped 3x, by about 4.0 dB:",
                    "            lower 10.0 dB, then run",
                    "            calibrate again",
                ],
                ["ch 2 ベース", "  clips     0", "  proposal  ok"],
            ]
        )
        #expect(table.renderRecords(columns: 40).hasPrefix("ch 1\n  name      Vox\n"))
        // Titles of the caller's own, escaped as cells are.
        #expect(
            table.records(columns: 40, titleColumns: 2, titles: ["ch 1 Vox", "ch 2 \u{1B}[2J"]).map(\.[0]) == [
                "ch 1 Vox", "ch 2 \\x1b[2J",
            ]
        )
        #expect(SummaryTable.title(0, name: "Vox") == "ch 1 Vox" && SummaryTable.title(2, name: "3") == "ch 3")
        #expect(table.renderRecords(columns: 40).contains("calibrate again\n\nch 2\n"), "a blank line between records")
        for columns in 20...80 {
            for line in table.records(columns: columns).joined() {
                #expect(DisplayText.cells(line) <= max(columns, 24), "\(columns): \(line)")
            }
        }
        // A word longer than the line is cut where the line ends, wide characters whole.
        #expect(TextTable.wrap("take-20261205-113452-with-a-long-name.wav", cells: 16).allSatisfy { $0.count <= 16 })
        #expect(TextTable.wrap("ボーカルボーカル", cells: 5) == ["ボー", "カル", "ボー", "カル"])
        #expect(TextTable.wrap("", cells: 5) == [""])
    }
}
