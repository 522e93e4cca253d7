import Foundation
import Synchronization

/// A soundcheck: capture for a while, analyze, keep each channel's 400 ms true peaks,
/// and propose gain changes. Uses the same capture thread and analyzer as `record`;
/// nothing is written to disk.
public final class CalibrationSession: @unchecked Sendable {
    /// One channel's soundcheck.
    public struct Result: Sendable {
        public var channel: Int
        public var name: String
        /// Loudest true peak heard, dBTP (nil: silence).
        public var truePeakDBTP: Double?
        /// The 95th percentile of the 400 ms true peaks above the signal floor: one stray
        /// spike does not decide it. dBTP, nil without signal.
        public var typicalPeakDBTP: Double?
        public var clipEvents: Int
        public var hotEvents: Int
        public var proposal: GainProposal
    }

    /// What the soundcheck lost: overruns the device reported, gaps it did not, blocks the
    /// analysis had no room for, and their frames. The waveform jumps across a loss, and the
    /// true-peak filter rings on the jump: a steady tone read 2 dB high after an overrun on
    /// a loaded test machine (the JACK rig's calibrate test).
    public struct Losses: Sendable, Equatable {
        public var xruns = 0
        public var gaps = 0
        public var dropped = 0
        public var frames = 0

        public init() {}

        /// What to tell the person at the desk, or nil when nothing was lost: a warning line
        /// named like `record`'s for its first kind of loss (XRUN, GAP, DROPPED).
        public func warning(rate: Int) -> String? {
            let kinds = [
                (xruns, "xrun", "XRUN"), (gaps, "gap", "GAP"), (dropped, "block the analysis dropped", "DROPPED"),
            ]
            .filter { $0.0 > 0 }
            guard let first = kinds.first else { return nil }
            let counts = kinds.map { "\($0.0) \($0.1)\($0.0 == 1 ? "" : "s")" }.joined(separator: ", ")
            let seconds = String(format: "%.3f", Double(frames) / Double(rate))
            return "\(first.2): the soundcheck lost \(frames) frames (\(seconds) s) to \(counts): "
                + "peaks beside a loss can read high; run calibrate again for levels to trust"
        }
    }

    public let capture: CaptureThread
    public let names: [String]
    private let settings: AnalysisSettings
    private let source: any CaptureSource
    private let results = Mutex<[Result]?>(nil)
    private let lost = Mutex(Losses())
    private let levels: Mutex<MeterSnapshot>
    private let done = DispatchGroup()

    /// Window for the "typical loud peak", seconds.
    public static let windowSeconds = 0.4

    public init(source: any CaptureSource, settings: AnalysisSettings, names: [String], seconds: Double) {
        self.source = source
        self.settings = settings
        self.names = names
        let bytes = source.periodFrames * source.channels * source.format.bytesPerSample
        let slots = Int(2 * Double(source.rate) / Double(source.periodFrames)) + 8
        capture = CaptureThread(
            source: source,
            writerRing: SPSCRing(slots: 8, slotBytes: bytes),
            analyzerRing: SPSCRing(slots: slots, slotBytes: bytes),
            frameLimit: Int(seconds * Double(source.rate))
        )
        levels = Mutex(MeterSnapshot(channels: names.map { MeterSnapshot.Channel(name: $0) }, rate: source.rate))
    }

    public func start() {
        done.enter()
        let capture = self.capture
        Thread { capture.run() }.start()
        Thread {
            // Nothing is recorded: the writer's ring is only emptied.
            while let (h, _) = capture.writerRing.next(timeoutMilliseconds: 250) {
                capture.writerRing.release()
                if h.isLast { break }
            }
        }.start()
        Thread { [self] in
            analyze()
            done.leave()
        }.start()
    }

    public func stop() { capture.stop(.stopped) }
    public var isFinished: Bool { done.wait(timeout: .now()) == .success }

    /// Waits for the end; the per-channel results and how capture ended.
    public func finish() -> (results: [Result], reason: EndReason) {
        done.wait()
        let reason = EndReason(rawValue: capture.requestedEnd.load(ordering: .relaxed)) ?? .stopped
        return (results.withLock { $0 } ?? [], lastReason ?? reason)
    }

    private var lastReason: EndReason?

    /// What the soundcheck lost so far (``Losses``).
    public var losses: Losses { lost.withLock { $0 } }

    /// The live levels (for the meter while listening).
    public func snapshot() -> MeterSnapshot {
        levels.withLock { s in
            let copy = s
            for c in s.channels.indices { s.channels[c].truePeakSinceRead = 0 }
            return copy
        }
    }

    private func analyze() {
        let ring = capture.analyzerRing
        let channels = source.channels
        let analyzer = Analyzer(
            channels: channels,
            rate: source.rate,
            layout: source.format.layout,
            settings: settings,
            maxBlockFrames: 2048,
            exactBlockPeaks: true,
            converterBits: source.converterBits
        )
        let windowFrames = Int(Self.windowSeconds * Double(source.rate))
        var windowPeaks = Array(repeating: [Float](), count: channels)
        var current = [Float](repeating: 0, count: channels)
        var inWindow = 0
        var primed = false
        let frameBytes = channels * source.format.bytesPerSample
        while true {
            guard let (h, block) = ring.next(timeoutMilliseconds: 250) else { continue }
            if h.lostFrames > 0 || h.loss != .none {
                lost.withLock {
                    switch h.loss {
                    case .xrun: $0.xruns += 1
                    case .dropped: $0.dropped += 1
                    case .gap, .none: $0.gaps += 1
                    }
                    $0.frames += h.lostFrames
                }
            }
            var payload = block
            var frames = h.frames
            if !primed && frames > TruePeakFilter.tapsPerPhase {
                // Listening starts mid-signal: prime the filter with the first frames.
                analyzer.prime(payload, frames: TruePeakFilter.tapsPerPhase)
                payload += TruePeakFilter.tapsPerPhase * frameBytes
                frames -= TruePeakFilter.tapsPerPhase
                primed = true
            }
            if frames > 0 {
                analyzer.process(payload, frames: frames)
                analyzer.events.removeAll(keepingCapacity: true)
                levels.withLock { s in
                    s.takeFrames = analyzer.frameCount
                    for c in 0..<channels {
                        let l = analyzer.levels(channel: c)
                        current[c] = max(current[c], l.blockTruePeak)
                        s.channels[c].truePeakSinceRead = max(s.channels[c].truePeakSinceRead, l.blockTruePeak)
                        s.channels[c].takeTruePeak = max(l.truePeak, l.samplePeak)
                        s.channels[c].clipRuns = l.qualifiedRuns
                        s.channels[c].clipEvents = l.closedClipEvents
                        s.channels[c].isClipping = l.isClipping
                        s.channels[c].proposal = analyzer.summary(channel: c).proposal
                    }
                }
                inWindow += frames
                if inWindow >= windowFrames {
                    for c in 0..<channels { windowPeaks[c].append(current[c]) }
                    current = current.map { _ in 0 }
                    inWindow = 0
                }
            }
            ring.release()
            if h.isLast {
                lastReason = h.endReason
                break
            }
        }
        analyzer.finish()
        if inWindow > windowFrames / 2 { for c in 0..<channels { windowPeaks[c].append(current[c]) } }
        let floor = Float(Decibels.toAmplitude(settings.signalFloorDBFS))
        var out: [Result] = []
        for c in 0..<channels {
            let s = analyzer.summary(channel: c)
            let loud = windowPeaks[c].filter { $0 >= floor }.sorted()
            let typical =
                loud.isEmpty
                ? nil : Decibels.fromAmplitude(Double(loud[min(loud.count - 1, Int(Double(loud.count) * 0.95))]))
            out.append(
                Result(
                    channel: c,
                    name: c < names.count ? names[c] : String(c + 1),
                    truePeakDBTP: s.truePeakDBTP,
                    typicalPeakDBTP: typical,
                    clipEvents: s.clipEvents,
                    hotEvents: s.hotEvents,
                    proposal: s.proposal
                )
            )
        }
        results.withLock { $0 = out }
    }

    /// What a person reads in the table: "clipped 3x: lower by at least 6 dB, then run calibrate again".
    /// Flat tops under the target are lowered as far as they went over, which leaves the
    /// channel under the target: the rest is made up after the stage that clips ("..., then
    /// raise 5.5 dB after that stage", ``GainProposal/makeUpDB``), where it does not clip again.
    public static func advice(_ r: Result) -> String {
        let db = r.proposal.changeDB.map { String(format: "%.1f", abs($0)) } ?? ""
        switch r.proposal.reason {
        case .clipped:
            // "clipped 2x, by about 4.0 dB: lower 10.0 dB"; without an estimate, "lower by at least".
            let lower = r.proposal.overDB == nil ? "lower by at least" : "lower"
            return
                "clipped \(r.clipEvents)x\(SummaryTable.overText(r.proposal)): \(lower) \(db) dB, then run calibrate again"
        case .flat:
            let level = r.proposal.flatLevelDBFS.map(Decibels.text) ?? "?"
            let makeUp = r.proposal.makeUpDB.map { String(format: ", then raise %.1f dB after that stage", $0) } ?? ""
            let cause = GainAdvisor.flatCause(levelDBFS: r.proposal.flatLevelDBFS)
            return "flat tops at \(level) dBFS\(SummaryTable.overText(r.proposal)): lower \(db) dB (\(cause))" + makeUp
        case .hot: return "hot: lower \(db) dB"
        case .ok: return "ok"
        case .quiet: return "too quiet: raise \(db) dB"
        case .noSignal: return "no signal: is it plugged in?"
        }
    }
}
