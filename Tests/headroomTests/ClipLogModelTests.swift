import Foundation
import Testing

@testable import HeadroomCore

@Suite("The clip log's typed model: written and read back by the same types")
struct ClipLogModelTests {
    static let names = ["Vox", "Bass"]

    /// One event of every type the log knows (levels with two decimals, as written).
    static let everyEvent: [Event] = [
        .clip(
            ClipEvent(
                channel: 0,
                startFrame: 123_456,
                endFrame: 123_470,
                clippedSamples: 9,
                runs: 2,
                longestRun: 5,
                peakDBFS: 0,
                truePeakDBTP: 1.2
            )
        ),
        .hot(HotEvent(channel: 1, startFrame: 200_000, endFrame: 200_480, truePeakDBTP: -1.4)),
        .gain(GainEvent(channel: 0, proposal: GainProposal(reason: .clipped, changeDB: -7.5), frame: 123_470)),
        .gain(GainEvent(channel: 1, proposal: GainProposal(reason: .noSignal, changeDB: nil), frame: 5)),
        .xrun(frame: 480_000, lostFrames: 1024),
        .gap(frame: 490_000, lostFrames: 7146),
        .dropped(frame: 495_000, lostFrames: 512),
        .analysisDropped(frame: 496_000, lostFrames: 256),
        .deviceLost(frame: 500_000, reason: "the device went away"),
        .disk(frame: 500_100, reason: "No space left on device"),
        .resumed(frame: 0, previous: "take-003.wav"),
        .marker(frame: 500_200, label: "chorus 2"),
        .marker(frame: 500_300, label: nil),
    ]

    @Test("every event type written, read back, equal")
    func roundTrip() throws {
        for event in Self.everyEvent {
            let text = ClipLog.eventLine(event, names: Self.names, rate: 48000).encoded()
            #expect(try ClipLogLine.decode(text) == .event(event), "\(text)")
        }
    }

    @Test("the take header and the summary read back as written: one type each, both ways")
    func headerAndSummary() throws {
        var settings = AnalysisSettings()
        settings.targetPeakDBTP = -8
        settings.clipRunSamples = 4
        settings.clipHoldSeconds = 0.25
        let header = ClipLog.Header(
            file: "take-001.wav",
            device: "hw:CARD=USB",
            rate: 48000,
            channels: 2,
            format: "S24_3LE",
            names: Self.names,
            started: Date(timeIntervalSince1970: 1_764_000_000.125),
            settings: settings
        )
        #expect(try ClipLogLine.decode(ClipLog.headerLine(header).encoded()) == .take(header))
        var trouble = ClipLog.Trouble()
        trouble.xruns = 1
        trouble.droppedFrames = 512
        let channels = [
            ChannelSummary(
                channel: 0,
                peakDBFS: 0,
                truePeakDBTP: 1.234,
                rmsDBFS: -18.31,
                clipEvents: 4,
                clippedSamples: 57,
                hotEvents: 2,
                proposal: GainProposal(reason: .clipped, changeDB: -7.5)
            ),
            ChannelSummary(
                channel: 1,
                peakDBFS: nil,
                truePeakDBTP: nil,
                rmsDBFS: nil,
                clipEvents: 0,
                clippedSamples: 0,
                hotEvents: 0,
                proposal: GainProposal(reason: .noSignal, changeDB: nil)
            ),
        ]
        for trouble in [trouble, nil] {
            let summary = SummaryLine(
                frames: 96000,
                rate: 48000,
                complete: true,
                channels: channels,
                names: Self.names,
                trouble: trouble
            )
            #expect(try ClipLogLine.decode(summary.json.encoded()) == .summary(summary))
        }
    }

    @Test("an unknown type and an unknown field read fine; a wrong type or a negative frame is named")
    func newerAndBroken() throws {
        #expect(try ClipLogLine.decode(#"{"type":"loudness","lufs":-23}"#) == .unknown(type: "loudness"))
        let extra = #"{"type":"gap","frame":10,"lost_frames":5,"time":0.0,"cause":"usb","detail":{"a":1}}"#
        #expect(try ClipLogLine.decode(extra) == .event(.gap(frame: 10, lostFrames: 5)))
        #expect(throws: ClipLogLine.Problem.self) {
            try ClipLogLine.decode(#"{"type":"gap","frame":"10","lost_frames":5}"#)
        }
        do {
            _ = try ClipLogLine.decode(#"{"type":"gap","frame":"10","lost_frames":5}"#)
        } catch {
            #expect(error.message == "gap line skipped: \"frame\" must be a whole number")
        }
        do {
            _ = try ClipLogLine.decode(#"{"type":"clip","channel":1,"start_frame":-3,"end_frame":4}"#)
        } catch {
            #expect(error.message == "clip line skipped: \"start_frame\" must be a whole number >= 0, not -3")
        }
    }
}
