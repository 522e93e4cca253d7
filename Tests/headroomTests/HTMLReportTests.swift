import Foundation
import Testing

@Suite("review --html, rendered in headless Chromium")
struct HTMLReportTests {
    @Test("the page is self-contained, and its clip marks sit where the log's events are")
    func report() throws {
        let dir = scratchDirectory()
        var m = Material(frames: 48000 * 4, channels: 2)
        m.clip(channel: 0, frame: 24000, length: 5)
        m.clip(channel: 1, frame: 150_000, length: 3)
        let rig = FileRig(bytes: m.bytes("S24_3LE"))
        let takes = dir + "/takes"
        #expect(
            try headroom(
                "record",
                "--device",
                "testcap",
                "--duration",
                "4",
                "--dir",
                takes,
                "--name",
                "t",
                environment: rig.environment
            ).status == 0
        )
        let page = dir + "/report.html"
        let r = try headroom("review", "--html", page, takes)
        #expect(r.status == 0, "\(r.stderr)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        #expect(!html.contains("<script"))
        #expect(!html.contains("src=") && !html.contains("href=\"http"))

        // Chromium parses and lays out the page; the marks in its DOM are checked against the log.
        let dom = try run(
            "/usr/bin/chromium",
            ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://" + page]
        )
        #expect(dom.status == 0)
        let marks = dom.stdout.matches(of: #/<rect class="clip" data-frame="(\d+)" x="([\d.]+)"/#).map {
            (Int($0.1)!, Double($0.2)!)
        }
        let clips = logLines(takes + "/t.clips.jsonl").filter { $0["type"] as? String == "clip" }
        #expect(marks.count == clips.count)
        #expect(Set(marks.map(\.0)) == Set(clips.compactMap { $0["start_frame"] as? Int }))
        for (frame, x) in marks {
            #expect(abs(x - Double(frame) / 192_000 * 900) < 0.11, "mark for frame \(frame) at x \(x)")
        }
        #expect(dom.stdout.contains("<svg class=\"channel\" data-channel=\"1\""))
        #expect(dom.stdout.contains("class=\"band\""))

        let shot = try run(
            "/usr/bin/chromium",
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1100,800",
                "--screenshot=\(dir)/report.png", "file://" + page,
            ]
        )
        #expect(shot.status == 0)
        let png = try Data(contentsOf: URL(fileURLWithPath: dir + "/report.png"))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(png.count > 10_000)

        // On a phone the page is as wide as the screen: the overviews shrink, and each
        // channel's row of the summary table becomes a block of labelled figures, none of them
        // off the screen (before, the table scrolled sideways in its own box, its clip counts
        // and overs out of sight). A copy of the page with a probe that puts the page's
        // laid-out width, the window's and the widest table's in its title.
        let probe = dir + "/probe.html"
        try html.replacingOccurrences(
            of: "</body>",
            with: """
                <script>document.title = document.documentElement.scrollWidth + 'x' + innerWidth + 'x' +
                Math.max(...[...document.querySelectorAll('table')].map(t => t.scrollWidth))</script></body>
                """
        ).write(toFile: probe, atomically: true, encoding: .utf8)
        let phone = try run(
            "/usr/bin/chromium",
            ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=390,800", "--dump-dom", "file://" + probe]
        )
        let sizes = try #require(
            phone.stdout.firstMatch(of: #/<title>(\d+)x(\d+)x(\d+)</title>/#),
            "\(phone.stdout.prefix(300))"
        )
        #expect(Int(sizes.1)! <= Int(sizes.2)!, "the page is \(sizes.1) px wide in a \(sizes.2) px window")
        #expect(Int(sizes.3)! <= Int(sizes.2)! - 24, "a table is \(sizes.3) px wide in a \(sizes.2) px window")
        #expect(html.contains("<td data-l=\"over\" data-u=\"dB\">"))
    }

    @Test("each take's heading says how it went: needs a look, ran hot (true peaks in the margin), or clean")
    func verdicts() throws {
        let dir = scratchDirectory()
        func sine(_ name: String, _ amplitude: Double) {
            let samples = (0..<48000).map {
                let x = amplitude * sin(2 * Double.pi * 441 * Double($0) / 48000)
                return Int32((max(-1, min(1, x)) * 8_388_607).rounded()) << 8
            }
            writeAudio(dir + "/" + name, samples: samples, channels: 1)
        }
        sine("a-clipped.wav", 2)
        sine("b-hot.wav", pow(10, -1.0 / 20))
        sine("c-fine.wav", pow(10, -8.0 / 20))
        let r = try headroom("review", "--html", dir + "/report.html", dir)
        #expect(r.status == 0, "\(r.stderr)")
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        for (take, verdict) in [
            ("a-clipped.wav", "<span class=\"bad\">needs a look</span>"),
            ("b-hot.wav", "<span class=\"warn\">ran hot</span>"), ("c-fine.wav", "<span class=\"ok\">clean</span>"),
        ] {
            #expect(html.contains("<h2>\(take) — \(verdict)</h2>"), "\(take)")
        }
        // The headroom is the true peak's negative, to the same 0.01 dB: a clipped sine's
        // true peak just over 0 dBTP is a headroom under 0, not "0.0".
        let cells = html.matches(
            of: #/<td data-l="true peak" data-u="dBTP">([-\d.]+)</td><td data-l="headroom" data-u="dB">([-\d.]+)</td>/#
        )
        #expect(cells.count == 3)
        for c in cells { #expect(Double(c.2)! == -Double(c.1)!, "true peak \(c.1), headroom \(c.2)") }
        #expect(cells.contains { Double($0.1)! > 0 && Double($0.2)! < 0 })
        // A channel nobody named is its number, not "1 1".
        #expect(html.contains("<div class=\"lane\"><span>1</span>") && !html.contains("<span>1 1</span>"))
    }

    @Test("loudness by libebur128: a -20 dBFS 997 Hz sine in one channel reads -23 LUFS")
    func loudness() throws {
        let dir = scratchDirectory()
        let path = dir + "/sine.wav"
        let samples = (0..<(48000 * 10)).map {
            Int32((0.1 * sin(2 * Double.pi * 997 * Double($0) / 48000) * 8_388_607).rounded()) << 8
        }
        writeAudio(path, samples: samples, channels: 1)
        let r = try headroom("review", "--json", path)
        let channel = try #require((r.jsonLines.first?["channels"] as? [[String: Any]])?.first)
        let lufs = try #require(channel["integrated_lufs"] as? Double)
        #expect(abs(lufs - -23.0) < 0.2)
        #expect((channel["loudness_range_lu"] as? Double ?? 99) < 0.5)
    }
}
