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
}
