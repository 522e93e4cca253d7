import Foundation
import Testing

@testable import HeadroomCore

/// The schema that ships in `docs/`, held to what headroom really writes: every line of a
/// recording's log, of `analyze --json` and of `review --json` is validated against it by
/// a real JSON Schema validator (Debian's python3-jsonschema, draft 2020-12).
@Suite("docs/clip-log.schema.json validates what headroom writes")
struct ClipLogSchemaTests {
    static let schema = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../docs/clip-log.schema.json").standardized.path

    /// Validates JSON Lines; the validator's complaints, one per bad line ("N: why").
    static func validate(_ lines: [String]) throws -> [String] {
        let file = scratchDirectory() + "/lines.jsonl"
        try (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let script = """
            import json, sys
            from jsonschema import Draft202012Validator
            v = Draft202012Validator(json.load(open(sys.argv[1])))
            for n, line in enumerate(open(sys.argv[2]), 1):
                for e in v.iter_errors(json.loads(line)):
                    print(f"{n}: {e.message} at {list(e.absolute_path)}")
            """
        let r = try run("/usr/bin/python3", ["-c", script, schema, file])
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdout.split(separator: "\n").map(String.init)
    }

    @Test("record, analyze and review: every line is valid; unknown types and fields are allowed")
    func producedLines() throws {
        let dir = scratchDirectory()
        var m = Material(frames: 96000, channels: 2)
        m.clip(channel: 0, frame: 1000, length: 4)
        for f in stride(from: 20000, to: 30000, by: 50) { m.values[f * 2 + 1] = 0.9 }  // hot on ch2
        let (take, log, r) = try recordFileTake(m, seconds: 2, dir: dir, extra: ["--names", "Vox,Bass"])
        #expect(r.status == 0)
        var lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(
            Set(lines.compactMap { $0.split(separator: "\"")[safe: 3] }).isSuperset(of: [
                "take", "clip", "hot", "gain", "summary",
            ])
        )
        lines += try headroom("analyze", "--json", take).stdout.split(separator: "\n").map(String.init)
        lines += try headroom("review", "--json", dir).stdout.split(separator: "\n").map(String.init)
        lines += ClipLogModelTests.everyEvent.map {
            ClipLog.eventLine($0, names: ["Vox", "Bass"], rate: 48000).encoded()
        }
        lines.append(#"{"type":"loudness","lufs":-23.1}"#)
        lines.append(#"{"type":"gap","frame":10,"lost_frames":5,"time":0.0,"cause":"usb"}"#)
        #expect(try Self.validate(lines) == [])
    }

    @Test("the examples in docs/clip-log.md are valid, one per line type")
    func documentedExamples() throws {
        let doc = try String(
            contentsOfFile: Self.schema.replacingOccurrences(of: ".schema.json", with: ".md"),
            encoding: .utf8
        )
        var examples: [String] = []
        var inBlock = false
        for line in doc.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                inBlock = line == "```json"
                continue
            }
            if inBlock && line.hasPrefix("{") { examples.append(String(line)) }
        }
        let types = Set(examples.compactMap { $0.split(separator: "\"")[safe: 3].map(String.init) })
        #expect(
            types == [
                "take", "clip", "hot", "gain", "xrun", "gap", "dropped", "device_lost", "disk", "resumed", "marker",
                "flat", "summary", "take_review",
            ]
        )
        #expect(try Self.validate(examples) == [])
        // What this version reads back from them, it reads without a problem.
        for line in examples where !line.contains("take_review") {
            #expect(throws: Never.self) { try ClipLogLine.decode(line) }
        }
    }

    @Test(
        "the schema refuses what readers refuse: a frame as a string, a negative count, a missing field, numbers no take has"
    )
    func refuses() throws {
        let settings = #""settings":{"target_peak":-6,"tolerance":6,"margin":3,"clip_level":0,"clip_hold":0.1"#
        let bad = [
            #"{"type":"gap","frame":"10","lost_frames":5,"time":0.0}"#,
            #"{"type":"xrun","frame":10,"lost_frames":-5,"time":0.0}"#,
            #"{"type":"clip","channel":1,"name":"L","start_frame":3,"end_frame":9,"time":0.0}"#,
            #"{"type":"marker","frame":9007199254740993,"time":0.0}"#,
            #"{"type":"take","version":1,"file":"t.wav","rate":0,"channels":2,"#
                + settings + #","clip_run":3}}"#,
            #"{"type":"take","version":1,"file":"t.wav","rate":48000,"channels":2,"#
                + settings + #","clip_run":1000000}}"#,
            #"{"type":"summary","frames":48000,"seconds":1e300,"complete":true,"channels":[]}"#,
            #"{"type":"summary","frames":48000,"seconds":1.0,"complete":true,"channels":[{"channel":-9223372036854775808,"clip_events":0}]}"#,
        ]
        let complaints = try Self.validate(bad)
        #expect(
            Set(complaints.map { String($0.prefix { $0 != ":" }) }) == Set((1...bad.count).map(String.init)),
            "\(complaints)"
        )
        // And the reader refuses each of them but the clip without its counts, which it reads
        // with them as 0: the schema asks more of a writer than the reader of a log.
        for (i, line) in bad.enumerated() where i != 2 {
            #expect(throws: ClipLogLine.Problem.self, "\(line)") { try ClipLogLine.decode(line) }
        }
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
