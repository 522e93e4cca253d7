import Foundation
import Testing

@testable import HeadroomCore

/// Every event type of a take becomes a labelled cue marker in the WAV (SPEC: `gap 0.15 s`,
/// `marker chorus 2`...), with spans as regions; faults through the scripted source.
@Suite("Every event a labelled cue", .serialized)
struct EventCueTests {
    /// `labl` texts and `ltxt` region lengths of a WAV's `LIST adtl`, by cue id.
    static func labels(_ path: String) throws -> (labels: [String], regions: [Int: Int]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        func u32(_ i: Int) -> Int { (0..<4).reduce(0) { $0 | Int(data[i + $1]) << (8 * $1) } }
        var labels: [String] = []
        var regions: [Int: Int] = [:]
        var offset = 12
        while offset + 8 <= data.count {
            let id = String(decoding: data[offset..<(offset + 4)], as: UTF8.self)
            let size = u32(offset + 4)
            if id == "LIST" && String(decoding: data[(offset + 8)..<(offset + 12)], as: UTF8.self) == "adtl" {
                var p = offset + 12
                while p < offset + 8 + size {
                    let sub = String(decoding: data[p..<(p + 4)], as: UTF8.self)
                    let n = u32(p + 4)
                    if sub == "labl" {
                        let text = data[(p + 12)..<(p + 8 + n)].prefix { $0 != 0 }
                        labels.append(String(decoding: text, as: UTF8.self))
                    } else if sub == "ltxt" {
                        regions[u32(p + 8)] = u32(p + 12)
                    }
                    p += 8 + n + n % 2
                }
            }
            offset += 8 + size + size % 2
        }
        return (labels, regions)
    }

    @Test("a channel nobody named is ch3 in lines, labels and cues, not ch3 3; a named one is ch3 Vox")
    func unnamedChannels() {
        let names = ClipLog.channelNames(["", "", "Vox"], channels: 4)
        let hot = Event.hot(HotEvent(channel: 1, startFrame: 0, endFrame: 480, truePeakDBTP: -1.5))
        #expect(EventText.describe(hot, names: names) == "HOT ch2: -1.5 dBTP")
        #expect(EventText.cueLabel(hot, names: names, rate: 48000) == "hot ch2 -1.5 dBTP")
        #expect(EventText.channel(2, names: names) == "ch3 Vox")
        #expect(EventText.channel(1, names: ["L", "R"]) == "ch2 R")
        #expect(EventText.channel(5, names: names) == "ch6")
    }

    @Test("an Audacity label track has one line per event, whatever a name or a label holds")
    func labelLines() {
        let events: [Event] = [
            .hot(HotEvent(channel: 0, startFrame: 4800, endFrame: 9600, truePeakDBTP: -1.5)),
            .marker(frame: 48000, label: "verse\n2\tout"),
        ]
        let track = EventText.audacityLabels(events, names: ["Vox\nDI"], rate: 48000)
        #expect(
            track == "0.100000\t0.200000\t[warning] HOT ch1 Vox\\x0aDI: -1.5 dBTP\n"
                + "1.000000\t1.000000\t[info] MARKER verse\\x0a2\\x09out\n"
        )
    }

    @Test("a flat top at -0.01 dBFS reads 0.0 dBFS in lines and labels, never -0.0")
    func levelAtZero() {
        let flat = Event.flat(
            FlatEvent(
                channel: 0,
                startFrame: 50,
                endFrame: 4800,
                levelDBFS: -0.01,
                polarity: .both,
                lobes: 23,
                overDB: 3
            )
        )
        #expect(EventText.describe(flat, names: ["L"]) == "FLAT ch1 L 0.0 dBFS +3.0 dB: 23 flat-topped lobes (both)")
        #expect(EventText.cueLabel(flat, names: ["L"], rate: 48000) == "flat ch1 L 0.0 dBFS")
        #expect(Decibels.text(-0.04) == "0.0" && Decibels.text(-0.05) == "-0.1" && Decibels.text(0.04) == "0.0")
    }

    @Test("xrun, gap, marker, hot and device lost are cues with SPEC's labels; the hot burst is a region")
    func scriptedTake() throws {
        // The scripted source plays a 16-bit ramp: it runs hot near the top of each cycle.
        let source = ScriptedSource([
            .periods(40), .xrun(lostFrames: 960), .periods(40), .silentLoss(frames: 9600), .periods(60), .unplug,
        ])
        let session = try source.session()
        session.start()
        session.mark(label: "chorus 2")
        let outcome = try session.outcomeAtEnd()
        let take = try #require(outcome.takes.first)
        let (labels, regions) = try Self.labels(take)
        #expect(labels.contains("xrun 0.02 s"), "\(labels)")
        #expect(labels.contains { $0.hasPrefix("gap 0.") }, "\(labels)")
        #expect(labels.contains("marker chorus 2"))
        #expect(labels.contains("device lost"))
        let hot = try #require(labels.firstIndex { $0.hasPrefix("hot ch") }, "\(labels)")
        #expect((regions[hot + 1] ?? 0) > 0, "the hot burst is a region")
        // The log and the cues agree: one cue per event that has a label.
        let log = try String(contentsOfFile: try #require(outcome.logs.first), encoding: .utf8)
        let events = log.split(separator: "\n").filter { !$0.contains("\"type\":\"gain\"") }.count - 2
        #expect(labels.count == events)
    }

    @Test(
        "markers at a take's last frame and at the recording's end, where a take ends, go into that take's log and cues, not the next take's or nowhere"
    )
    func markersWhereTakesEnd() throws {
        let (session, takeFrames, directory) = try Self.splitRecording(periods: 80)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Asked for before the start, at frames the recording reaches later: the `m` key
        // pressed at those moments.
        session.mark(label: "take 1 end", at: takeFrames - 1)
        session.mark(label: "the end", at: 2 * takeFrames)
        session.start()
        let outcome = try session.outcomeAtEnd()
        try #require(outcome.takes.count == 2 && outcome.logs.count == 2)
        #expect(try Self.markers(outcome.logs[0]) == [.marker(frame: takeFrames - 1, label: "take 1 end")])
        #expect(try Self.markers(outcome.logs[1]) == [.marker(frame: takeFrames, label: "the end")])
        #expect(try Self.markerCues(outcome.takes[0]) == ["marker take 1 end"])
        #expect(try Self.markerCues(outcome.takes[1]) == ["marker the end"])
    }

    /// A recording from the scripted source, `periods` long, split every 40 periods.
    static func splitRecording(periods: Int) throws -> (RecordingSession, takeFrames: Int, directory: String) {
        let source = ScriptedSource([.periods(periods)])
        let directory = NSTemporaryDirectory() + "headroom-scripted-" + UUID().uuidString
        var config = source.configuration(directory: directory, periods: periods)
        config.maxTakeFrames = 40 * source.periodFrames
        return (try RecordingSession(source: source, configuration: config), 40 * source.periodFrames, directory)
    }

    /// The labels of a take's marker cues.
    static func markerCues(_ take: String) throws -> [String] {
        try labels(take).labels.filter { $0.hasPrefix("marker") }
    }

    /// The marker events in a clip log.
    static func markers(_ log: String) throws -> [Event] {
        try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").compactMap {
            guard case .event(let event) = try ClipLogLine.decode(String($0)), case .marker = event else {
                return nil
            }
            return event
        }
    }

    @Test(
        "a marker whose label is still being typed when its take is split off goes into that take, at its moment, once the label is done"
    )
    func markerTypedAcrossASplit() throws {
        let (session, takeFrames, directory) = try Self.splitRecording(periods: 400)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // `m` pressed 100 frames before the first split; the label is typed until two more
        // takes have been split off.
        session.beginMarker(at: takeFrames - 100)
        session.labelMarker("verse")
        session.start()
        while !session.isFinished && session.snapshot().takeIndex < 2 { session.waitForAttention(seconds: 0.1) }
        try #require(!session.isFinished, "the recording outlasts the label")
        session.labelMarker("verse 2")
        session.commitMarker()
        let outcome = try session.outcomeAtEnd()
        try #require(outcome.takes.count == 10 && outcome.logs.count == 10)
        #expect(try Self.markers(outcome.logs[0]) == [.marker(frame: takeFrames - 100, label: "verse 2")])
        #expect(try Self.markerCues(outcome.takes[0]) == ["marker verse 2"])
        for log in outcome.logs.dropFirst() { #expect(try Self.markers(log).isEmpty, "\(log)") }
        // The takes held back meanwhile were all finished, each with its summary.
        for log in outcome.logs {
            #expect(try String(contentsOfFile: log, encoding: .utf8).contains("\"type\":\"summary\""), "\(log)")
        }
    }

    @Test("a marker for a take already finished goes at the start of the take being recorded, and its line says so")
    func markerForAFinishedTake() throws {
        let (session, _, directory) = try Self.splitRecording(periods: 400)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        session.start()
        var lines: [String] = []
        while !session.isFinished && session.snapshot().takeIndex < 2 {
            session.waitForAttention(seconds: 0.1)
            lines += session.takeWarnings()
        }
        try #require(!session.isFinished, "the recording outlasts the marker")
        // The first take's frame 100: that take was finished (nothing held it) long since.
        session.mark(label: "late", at: 100)
        let outcome = try session.outcomeAtEnd()
        lines += session.takeWarnings()
        #expect(try Self.markers(outcome.logs[0]).isEmpty)
        let landed = try #require(outcome.logs.firstIndex { (try? Self.markers($0).isEmpty) == false })
        #expect(landed >= 2 && (try Self.markers(outcome.logs[landed])) == [.marker(frame: 0, label: "late")])
        #expect(
            lines.contains {
                $0.hasPrefix("MARKER late at 00:00:00.000 (the start of this take: the take it marked was finished")
            },
            "\(lines)"
        )
    }

    @Test(
        "a marker whose label is still being typed when the recording ends is logged with what was typed, not lost"
    )
    func markerTypedAtTheEnd() throws {
        for (typed, label) in [("outro", "outro" as String?), ("", nil)] {
            let (session, takeFrames, directory) = try Self.splitRecording(periods: 80)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            // In the first take, and never finished with Enter: the recording ends first.
            session.beginMarker(at: takeFrames - 1)
            session.labelMarker(typed)
            session.start()
            let outcome = try session.outcomeAtEnd()
            try #require(outcome.takes.count == 2 && outcome.logs.count == 2)
            #expect(try Self.markers(outcome.logs[0]) == [.marker(frame: takeFrames - 1, label: label)])
            #expect(try Self.markers(outcome.logs[1]).isEmpty)
            #expect(
                try Self.markerCues(outcome.takes[0]) == [
                    label.map { "marker \($0)" } ?? "marker"
                ]
            )
        }
    }

    static func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }

    /// A 16-bit mono WAV's bytes after its RIFF header: "WAVE", `fmt ` and `data`.
    static func monoWAVBody(rate: Int, samples: [UInt8]) -> [UInt8] {
        let fmt: [UInt8] = [1, 0, 1, 0] + le32(rate) + le32(2 * rate) + [2, 0, 16, 0]
        let data: [UInt8] = samples.flatMap { (sample: UInt8) -> [UInt8] in [sample, 0] }
        let head: [UInt8] = Array("WAVE".utf8) + Array("fmt ".utf8) + le32(16) + fmt
        return head + Array("data".utf8) + le32(data.count) + data
    }

    @Test(
        "a cue's position is 32 bits: markers past frame 2^32 - 1 (a take of more than 6 h at 192 kHz) are left out, not wrapped, and a region ends there"
    )
    func markersPastACuesReach() throws {
        let path = NSTemporaryDirectory() + "headroom-reach-\(UUID().uuidString).wav"
        defer { unlink(path) }
        let body = Self.monoWAVBody(rate: 192000, samples: [1, 2])
        try Data(Array("RIFF".utf8) + Self.le32(body.count) + body).write(to: URL(fileURLWithPath: path))
        let last = Int(UInt32.max)
        let markers = [
            CueMarkers.Marker(frame: last + 1, label: "clip ch1 past"),
            CueMarkers.Marker(frame: 100, label: "clip ch1 early", length: 10),
            CueMarkers.Marker(frame: last - 5, label: "hot ch2 last", length: 1000),
            CueMarkers.Marker(frame: 1 << 33, label: "marker far"),
        ]
        #expect(try CueMarkers.append(markers, to: path) == 2)
        #expect(try RIFFChunks(path: path).cuePoints == 2)
        let (labels, regions) = try Self.labels(path)
        #expect(labels == ["clip ch1 early", "hot ch2 last"])
        #expect(regions == [1: 10, 2: 5])
        // The positions as written: 100 and 2^32 - 6, not the frames the others wrapped to.
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let cue = try #require(data.range(of: Data("cue ".utf8))).lowerBound
        func u32(_ i: Int) -> Int { (0..<4).reduce(0) { $0 | Int(data[i + $1]) << (8 * $1) } }
        let positions: [Int] = [u32(cue + 16), u32(cue + 40)]
        #expect(positions == [100, last - 5])
        #expect(CueMarkers.outOfReach(2, rate: 192000).hasPrefix("2 of its markers lie past 6 h 12 min at 192000 Hz"))
    }

    @Test(
        "a WAV with a few stray bytes after its last chunk (part of a frame) takes no cues: they would start out of every reader's reach"
    )
    func strayBytesAfterTheLastChunk() throws {
        let path = NSTemporaryDirectory() + "headroom-stray-\(UUID().uuidString).wav"
        defer { unlink(path) }
        // RIFF, fmt (16-bit mono, 48 kHz) and a data chunk of 4 frames, then 2 stray bytes.
        let body = Self.monoWAVBody(rate: 48000, samples: [1, 2, 3, 4])
        for stray in [[], [0x12, 0x34], [0, 0]] as [[UInt8]] {
            let bytes = Array("RIFF".utf8) + Self.le32(body.count + stray.count) + body + stray
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let chunks = try RIFFChunks(path: path)
            #expect(chunks.damage == (stray.isEmpty ? nil : .tail), "\(stray)")
            let marker = CueMarkers.Marker(frame: 1, label: "marker")
            if stray.isEmpty {
                try CueMarkers.append([marker], to: path)
                #expect(try RIFFChunks(path: path).cuePoints == 1)
            } else {
                #expect(throws: HeadroomError.self) { try CueMarkers.append([marker], to: path) }
                #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(bytes), "left as it was")
            }
        }
    }
}
