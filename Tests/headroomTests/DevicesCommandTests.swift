import Foundation
import Testing

@Suite("headroom devices")
struct DevicesCommandTests {
    @Test("with no sound card it says so and still lists the plugin PCMs with what they accept")
    func noCard() throws {
        let r = try headroom("devices")
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines[0] == "Sound cards:")
        #expect(lines[1] == "  none found (no sound card is connected, or ALSA has no driver for it)")
        let null = try #require(lines.firstIndex { $0.hasPrefix("  null  ") })
        #expect(
            lines[null + 1] == "    formats S16_LE S24_3LE S24_LE S32_LE FLOAT_LE; rates 1-768000 Hz; channels 1-256"
        )
        #expect(r.stderr.isEmpty)  // plugins whose servers are down stay quiet
        // Plugins with nothing to reach here share one line at the end; each PCM once.
        let absent = String(cString: strerror(ENOENT))
        #expect(!lines.contains("    cannot open for capture now: \(absent)"), "\(r.stdout)")
        let shared = lines.filter { $0.hasPrefix("  cannot open for capture now (\(absent)): ") }
        #expect(shared.count <= 1 && (shared.isEmpty || lines.last == shared[0]), "\(r.stdout)")
        let named = shared.first.map { $0.split(separator: ": ").last!.split(separator: ", ").map(String.init) } ?? []
        for name in named { #expect(!lines.contains { $0.hasPrefix("  \(name)  ") || $0 == "  \(name)" }, "\(name)") }
    }
}
