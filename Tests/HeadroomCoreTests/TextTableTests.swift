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
}
