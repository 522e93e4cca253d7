import CSndFile
import Foundation
import Glibc
import Synchronization
import Testing

@testable import HeadroomCore

/// A device that plays a script, for faults the ALSA rigs cannot make (an overrun the
/// driver reports, an unplugged interface, a suspend, a loss no one reports). It paces
/// itself like hardware: a period every period's worth of wall time; an overrun swallows
/// `lost` frames of time before it is reported, as a real one does; a silent loss
/// swallows them and says nothing, as ALSA's jack plugin does when its buffer laps (the
/// reader stalls meanwhile; the periods the device already showed come first, then the
/// hole); a device that falls behind shows its frames late and then catches up, losing
/// none (a sound server's plugin under load); a late reader wakes that much after its
/// period, to find more waiting.
///
/// Sample `s` of frame `f` holds `f * channels + s + 1` (16 bits, wrapping), counted over
/// the frames the device's clock went through: a hole shows in the take as a jump.
final class ScriptedSource: CaptureSource, @unchecked Sendable {
    enum Step {
        case periods(Int)
        case xrun(lostFrames: Int)
        case silentLoss(frames: Int)
        case behind(frames: Int)
        case lateReader(frames: Int)
        case suspend
        case unplug
        /// One period at full scale on every channel: a clip.
        case clip
    }

    let rate = 48000
    let channels = 2
    let format = SampleFormat.s16
    let periodFrames = 480
    let bufferFrames = 1920
    private var steps: [Step]
    private var remaining = 0
    private var next = 0.0
    /// How far the frames the device shows trail its clock, seconds.
    private var lag = 0.0
    private var sample: Int16 = 0
    private var fullScale = false
    /// A silent loss behind periods already shown: (periods still to read first, the
    /// frames lost after them).
    private var holeAhead: (periods: Int, frames: Int)?
    private var readerDelay = 0.0
    private(set) var recoveries: [ALSAError] = []

    /// When set, `close` waits on it: a device whose close hangs.
    let closeGate: DispatchSemaphore?
    private(set) var closed = false

    init(_ steps: [Step], closeGate: DispatchSemaphore? = nil) {
        self.steps = steps
        self.closeGate = closeGate
    }

    func start() throws(ALSAError) { next = MonotonicClock.now() }

    func read(into buffer: UnsafeMutableRawPointer, frames: Int, timeoutMilliseconds: Int32) -> CaptureRead {
        while remaining == 0 {
            guard !steps.isEmpty else { return .timeout }
            switch steps.removeFirst() {
            case .periods(let n): remaining = n
            case .xrun(let lost):
                next += Double(lost) / Double(rate)  // the device ran on without us
                wait()
                return .error(.xrun)
            case .silentLoss(let lost):
                // The reader stalls that long and the device drops what comes meanwhile:
                // the periods it already shows are read first, then the hole.
                holeAhead = (available() / periodFrames, lost)
                // (The reader wakes when the hole ends: when it reads, the device drops no more.)
                let shown = holeAhead!.periods
                if shown > 0 { readerDelay = Double(shown) * periodSeconds + Double(lost) / Double(rate) }
            case .lateReader(let frames):
                readerDelay = Double(frames) / Double(rate)
            case .behind(let frames):
                lag = Double(frames) / Double(rate)
            case .suspend: return .error(.suspended)
            case .unplug: return .error(.noDevice)
            case .clip:
                remaining = 1
                fullScale = true
            }
        }
        if let hole = holeAhead, hole.periods == 0 {
            next += Double(hole.frames) / Double(rate)
            sample &+= Int16(truncatingIfNeeded: hole.frames * channels)
            holeAhead = nil
        }
        wait()
        holeAhead?.periods -= 1
        next += periodSeconds
        lag = max(0, lag - 0.75 * periodSeconds)  // catching up at four times the rate
        remaining -= 1
        let out = buffer.assumingMemoryBound(to: Int16.self)
        let n = min(frames, periodFrames)
        for i in 0..<(n * channels) {
            sample &+= 1
            out[i] = fullScale ? Int16.max : sample
        }
        fullScale = false
        return .frames(n)
    }

    private var periodSeconds: Double { Double(periodFrames) / Double(rate) }

    /// Periods the device shows but that have not been read.
    func available() -> Int {
        let now = MonotonicClock.now()
        var k = 0
        func ready(_ k: Int) -> Double {
            let hole = holeAhead.map { k >= $0.periods ? Double($0.frames) / Double(rate) : 0 } ?? 0
            return next + Double(k) * periodSeconds + hole + max(0, lag - 0.75 * periodSeconds * Double(k))
        }
        while k < 10_000 && ready(k) <= now { k += 1 }
        return k * periodFrames
    }

    private func wait() {
        let delay = next + lag + readerDelay - MonotonicClock.now()
        readerDelay = 0
        if delay > 0 { usleep(useconds_t(delay * 1e6)) }  // the device's own clock
    }

    func recover(from error: ALSAError) -> Bool {
        recoveries.append(error)
        return true
    }

    func close() {
        closeGate?.wait()
        closed = true
    }
}

extension ScriptedSource {
    /// A recording from this source (channels L and R, WAV) into a fresh scratch folder,
    /// lost after half a second without frames. Not started.
    func session() throws -> RecordingSession {
        var config = configuration(directory: NSTemporaryDirectory() + "headroom-scripted-" + UUID().uuidString)
        config.stallSeconds = 0.5
        return try RecordingSession(source: self, configuration: config)
    }

    /// A recording's configuration from this source (channels L and R, WAV) into `directory`,
    /// ending after `periods` periods when given.
    func configuration(directory: String, periods: Int? = nil) -> RecordingSession.Configuration {
        var settings = Settings()
        settings.directory = directory
        var config = RecordingSession.Configuration(
            settings: settings,
            fileFormat: .wav,
            names: ["L", "R"],
            deviceName: "scripted"
        )
        config.frameLimit = periods.map { $0 * periodFrames }
        return config
    }
}

extension RecordingSession {
    /// Waits for the started recording to end and says how it went. Bounded: a recording
    /// that cannot end fails the test instead of hanging the suite.
    func outcomeAtEnd(waitingAtMost seconds: Double = 20) throws -> Outcome {
        try #require(wait(seconds: seconds), "the recording did not end")
        return outcome()
    }
}

/// True the first time it is asked, false after: a test hook that acts once.
final class FirstCall: Sendable {
    private let called = Mutex(false)
    func claim() -> Bool {
        called.withLock { called in
            defer { called = true }
            return !called
        }
    }
}

@Suite("Device faults through a scripted CaptureSource", .serialized)
struct ScriptedCaptureTests {
    func record(
        _ steps: [ScriptedSource.Step],
        closeGate: DispatchSemaphore? = nil
    ) throws -> (RecordingSession.Outcome, [[String: Any]], ScriptedSource) {
        let source = ScriptedSource(steps, closeGate: closeGate)
        let session = try source.session()
        session.start()
        let outcome = try session.outcomeAtEnd()
        let text = try String(contentsOfFile: try #require(outcome.logs.first), encoding: .utf8)
        let lines = text.split(separator: "\n").map {
            try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        return (outcome, lines, source)
    }

    @Test(
        "a loss is logged once with about the frames it lost, and silence stands in for them: an overrun the driver reports (recovered), three periods no one reports (a gap)",
        arguments: [("xrun", 4800, 960), ("gap", 1440, 480)]
    )
    func loss(type: String, frames: Int, tolerance: Int) throws {
        let fault: ScriptedSource.Step = type == "xrun" ? .xrun(lostFrames: frames) : .silentLoss(frames: frames)
        let (outcome, lines, source) = try record([.periods(40), fault, .periods(40), .unplug])
        #expect(source.recoveries == (type == "xrun" ? [.xrun] : []))
        let events = lines.filter { $0["type"] as? String == type }
        #expect(events.count == 1, "\(events)")
        let event = try #require(events.first)
        #expect(event["frame"] as? Int == 40 * 480)
        let lost = try #require(event["lost_frames"] as? Int)
        #expect(abs(lost - frames) <= tolerance, "lost \(lost)")
        let summary = try #require(lines.last)
        #expect(summary[type + "s"] as? Int == 1)
        #expect(summary["frames"] as? Int == 80 * 480 + lost)
        #expect(outcome.reason == .deviceLost)
    }

    @Test(
        "a reader late by two periods, then stalled while the device dropped 4,800 frames: the silence lands at the hole, after the periods that were waiting"
    )
    func lateReaderThenLoss() throws {
        let (outcome, lines, _) = try record([
            .periods(40), .lateReader(frames: 960), .periods(1), .silentLoss(frames: 4800), .periods(40), .unplug,
        ])
        let gap = try #require(lines.first { $0["type"] as? String == "gap" })
        let at = try #require(gap["frame"] as? Int)
        let lost = try #require(gap["lost_frames"] as? Int)
        #expect(abs(lost - 4800) <= 480, "lost \(lost)")
        // The two periods waiting when the reader was last on time come before the silence.
        #expect(at == 43 * 480, "the silence starts at frame \(at)")
        // In the take, the count jumps by the frames lost exactly across the silence.
        var take: [Int16] = []  // (16-bit codes read as floats: exact, code / 2^15)
        try #require(
            AudioFile.forEachFloatBlock(try #require(outcome.takes.first)) { block, _ in
                take += block.map { Int16($0 * 32768) }
            } != nil
        )
        #expect(take[at * 2..<(at + lost) * 2].allSatisfy { $0 == 0 })
        let before = Int(UInt16(bitPattern: take[(at - 1) * 2]))
        let after = Int(UInt16(bitPattern: take[(at + lost) * 2]))
        #expect((after - before + 65536) % 65536 == (4800 + 1) * 2)
    }

    @Test(
        "a take's loudness is measured while it is recorded, to the last bit what the file gives, an overrun's silence included"
    )
    func liveLoudness() throws {
        let source = ScriptedSource([.periods(60), .xrun(lostFrames: 4800), .periods(60), .unplug])
        let session = try source.session()
        session.start()
        let take = try #require(try session.outcomeAtEnd().takes.first)
        let live = try #require(session.takeMetadata.first??.loudness, "measured while recording")
        #expect(live.integratedLUFS != nil)
        #expect(live == ProgrammeLoudness.measure(path: take))
    }

    @Test("a clip wakes whoever waits for attention, long before the recording ends")
    func clipWakesTheTerminal() throws {
        let session = try ScriptedSource([.periods(20), .clip, .periods(100)]).session()
        session.start()
        // The clip comes 0.2 s in and the recording ends 1 s later. Woken by the warning,
        // the wait ends with the CLIP line waiting and the recording still going; with no
        // wake-up, it would sleep until the end of the recording woke it.
        var warnings: [String] = []
        while warnings.isEmpty && !session.isFinished {
            #expect(session.waitForAttention(seconds: 10))
            warnings = session.takeWarnings()
        }
        let woken = session.currentFrame
        #expect(warnings.contains { $0.hasPrefix("CLIP: ch1 L at 00:00:00.2") })
        #expect(woken < 48000 * 7 / 10, "woken at frame \(woken): by the end, not the clip")
        #expect(try session.outcomeAtEnd().clipEvents == 2)
    }

    @Test("a device that falls 50 ms behind and catches up loses nothing, and no gap is logged")
    func behindAndCaughtUp() throws {
        let (_, lines, _) = try record([.periods(40), .behind(frames: 2400), .periods(60), .unplug])
        #expect(!lines.contains { $0["type"] as? String == "gap" })
        #expect(lines.last?["frames"] as? Int == 100 * 480)
    }

    @Test("a device that falls behind and then goes away is lost, with no gap (jackd stopped)")
    func behindThenLost() throws {
        let (outcome, lines, _) = try record([.periods(40), .behind(frames: 4800), .periods(2)])
        #expect(outcome.reason == .deviceLost)
        #expect(!lines.contains { $0["type"] as? String == "gap" }, "\(lines)")
        #expect(lines.last?["gaps"] as? Int == 0)
        #expect(lines.last?["frames"] as? Int == 42 * 480)
    }

    @Test("a device that delivers every frame on time shows no gap")
    func noFalseGap() throws {
        let (_, lines, _) = try record([.periods(300), .unplug])
        #expect(!lines.contains { $0["type"] as? String == "gap" })
        #expect(lines.last?["frames"] as? Int == 300 * 480)
    }

    @Test("-ENODEV (unplugged) closes the take with device_lost and exit 74")
    func unplugged() throws {
        let (outcome, lines, _) = try record([.periods(10), .unplug])
        #expect(outcome.exitCode == 74)
        let lost = try #require(lines.first { $0["type"] as? String == "device_lost" })
        #expect(lost["frame"] as? Int == 10 * 480)
        #expect(lines.last?["complete"] as? Bool == false)
        let take = try #require(outcome.takes.first)
        #expect(TakeFrames.read(take) == 10 * 480)
    }

    @Test("a lost device whose close hangs (libjack after jackd died) does not hold up the end of the take")
    func closeHangs() throws {
        let gate = DispatchSemaphore(value: 0)
        defer { gate.signal() }  // let the stuck close finish when the test is done
        let (outcome, lines, source) = try record([.periods(10), .unplug], closeGate: gate)
        #expect(outcome.reason == .deviceLost)
        #expect(lines.contains { $0["type"] as? String == "device_lost" })
        #expect(lines.last?["type"] as? String == "summary")
        #expect(TakeFrames.read(try #require(outcome.takes.first)) == 10 * 480)
        #expect(!source.closed)  // still stuck, and the recording ended anyway
    }

    @Test(
        "a lost device counts as closed once its close has returned, not before (the recorder opens it again only then); one stopped is closed as the recording ends"
    )
    func closedWhenClosed() throws {
        let gate = DispatchSemaphore(value: 0)
        let source = ScriptedSource([.periods(10), .unplug], closeGate: gate)
        let session = try source.session()
        session.start()
        #expect(try session.outcomeAtEnd().reason == .deviceLost)
        let capture = session.capture
        func closed() -> Bool { capture.sourceClosed.load(ordering: .acquiring) }
        #expect(!closed())
        gate.signal()
        let deadline = Date().addingTimeInterval(5)
        while !closed() && Date() < deadline { usleep(1000) }
        #expect(closed() && source.closed)

        let stopped = ScriptedSource([.periods(10)])
        let ended = try stopped.session()
        ended.start()
        ended.stop()
        _ = try ended.outcomeAtEnd()
        let stoppedClosed = ended.capture.sourceClosed.load(ordering: .acquiring)
        #expect(stoppedClosed && stopped.closed)
    }

    @Test("a suspend is resumed and counted as an xrun")
    func suspend() throws {
        let (_, lines, source) = try record([.periods(5), .suspend, .periods(5), .unplug])
        #expect(source.recoveries == [.suspended])
        #expect(lines.contains { $0["type"] as? String == "xrun" })
    }

    @Test("a device that stops delivering is lost after the stall time, not hung")
    func stall() throws {
        let start = Date()
        let (outcome, lines, _) = try record([.periods(5)])  // then nothing, no error
        #expect(outcome.reason == .deviceLost)
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(lines.contains { $0["type"] as? String == "device_lost" })
    }

    @Test(
        "a soundcheck that loses frames says so (an overrun of 4,800 frames, a gap of 1,440); one that loses none says nothing"
    )
    func soundcheckLosses() throws {
        // The tone jumps across a loss and the true-peak filter rings on the jump: the levels
        // beside it can read high, and calibrate would otherwise not say why.
        func soundcheck(_ steps: [ScriptedSource.Step], seconds: Double) throws -> CalibrationSession.Losses {
            let session = CalibrationSession(
                source: ScriptedSource(steps),
                settings: AnalysisSettings(),
                names: ["L", "R"],
                seconds: seconds
            )
            session.start()
            _ = session.finish()
            return session.losses
        }
        let xrun = try soundcheck([.periods(20), .xrun(lostFrames: 4800), .periods(20), .unplug], seconds: 10)
        #expect(xrun.xruns == 1 && xrun.gaps == 0 && xrun.dropped == 0)
        #expect(abs(xrun.frames - 4800) <= 960, "lost \(xrun.frames)")
        let warning = try #require(xrun.warning(rate: 48000))
        #expect(
            warning.hasPrefix("XRUN: the soundcheck lost \(xrun.frames) frames (") && warning.contains("s) to 1 xrun: ")
        )
        #expect(Systemd.priority(of: warning) == 4, "a warning in the journal, as record's loss lines are")
        let gap = try soundcheck([.periods(20), .silentLoss(frames: 1440), .periods(20), .unplug], seconds: 10)
        #expect(gap.gaps == 1 && gap.xruns == 0 && abs(gap.frames - 1440) <= 480, "\(gap)")
        #expect(gap.warning(rate: 48000)?.hasPrefix("GAP: the soundcheck lost") == true)
        let clean = try soundcheck([.periods(20)], seconds: 0.2)
        #expect(clean == CalibrationSession.Losses() && clean.warning(rate: 48000) == nil)
    }
}

@Suite("A disk that fills behind the analyzer", .serialized)
struct WriterBehindTests {
    @Test(
        "the writer fails after the analyzer is done with the take (after the last frame, or after a split): its log says disk at the frames the file holds, not complete, the recording ends as a disk failure, and a take the writer never reached is not left behind empty",
        arguments: [false, true]
    )
    func diskFillsBehindTheAnalyzer(split: Bool) throws {
        // A 128 KiB tmpfs: the log holds 64 KiB of it, the take gets about 60 KiB (some 32
        // periods) of the 80 captured, 40 to a take when split.
        let mount = try scratchFolder("behind")
        func sh(_ arguments: [String]) throws -> Int32 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: arguments[0])
            p.arguments = Array(arguments.dropFirst())
            try p.run()
            p.waitUntilExit()
            return p.terminationStatus
        }
        try #require(try sh(["/bin/mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", mount]) == 0)
        defer {
            _ = try? sh(["/bin/umount", mount])
            try? FileManager.default.removeItem(atPath: mount)
        }
        let source = ScriptedSource([.periods(80)])
        var config = source.configuration(directory: mount, periods: 80)
        if split { config.maxTakeFrames = 40 * source.periodFrames }
        // The writer waits before its first block until the first take's log has its summary,
        // or 1.5 s: so it writes, and fills the disk, only after the analyzer has closed the
        // take (which it used to, writing "complete" for frames the file never got) or has
        // waited for the writer as long as that (which it now does).
        let first = FirstCall()
        config.beforeWrite = {
            guard first.claim() else { return }
            let deadline = MonotonicClock.now() + 1.5
            while MonotonicClock.now() < deadline {
                let logs = (try? FileManager.default.contentsOfDirectory(atPath: mount))?.filter {
                    $0.hasSuffix(".clips.jsonl")
                }.sorted()
                if let first = logs?.first,
                    let text = try? String(contentsOfFile: mount + "/" + first, encoding: .utf8),
                    text.contains("\"type\":\"summary\"")
                {
                    return
                }
                usleep(5000)
            }
        }
        let session = try RecordingSession(source: source, configuration: config)
        session.start()
        let outcome = try session.outcomeAtEnd()
        #expect(outcome.reason == .disk)
        #expect(outcome.exitCode == 74)
        // The second take, begun by the analyzer after the disk was full, never got a byte
        // (not a file anything can open): it is removed with its log, and said so.
        #expect(outcome.takes.count == 1)
        let left = try FileManager.default.contentsOfDirectory(atPath: mount).sorted()
        let kept = (outcome.takes + outcome.logs).map { URL(fileURLWithPath: $0).lastPathComponent }
        #expect(left == kept.sorted(), "\(left)")
        let removed = session.takeWarnings().filter { $0.contains("removed") }
        #expect(removed.count == (split ? 1 : 0), "\(removed)")
        for (k, take) in outcome.takes.enumerated() {
            let held = TakeFrames.read(take)
            #expect(held > 0 && held < 40 * source.periodFrames, "the take holds \(held) frames")
            let lines = try String(contentsOfFile: outcome.logs[k], encoding: .utf8).split(separator: "\n").map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
            let disk = try #require(lines.first { $0["type"] as? String == "disk" }, "take \(k + 1)")
            #expect(disk["frame"] as? Int == held)
            #expect(lines.last?["type"] as? String == "summary")
            #expect(lines.last?["complete"] as? Bool == false)
            #expect(lines.last?["frames"] as? Int == held)
        }
    }
}

@Suite("A writer held up at the end")
struct WriterStalledTests {
    @Test(
        "a disk that stalls the writer for longer than 10 s as the recording ends: the recording still ends once the disk answers, the take holds every frame (the ones its ring could not hold as logged silence)"
    )
    func stalledPastTheEnd() throws {
        let directory = try scratchFolder("stalled")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = ScriptedSource([.periods(30)])
        var config = source.configuration(directory: directory, periods: 30)
        // A ring of a few periods, full long before the end: the capture then had to leave
        // the writer's end in the ring, and gave up after 10 s.
        config.writerRingSeconds = 0.05
        let first = FirstCall()
        config.beforeWrite = {
            guard first.claim() else { return }
            usleep(10_500_000)
        }
        let session = try RecordingSession(source: source, configuration: config)
        session.start()
        let outcome = try session.outcomeAtEnd(waitingAtMost: 30)
        #expect(outcome.reason == .duration)
        #expect(outcome.exitCode == 0)
        let take = try #require(outcome.takes.first)
        #expect(TakeFrames.read(take) == 30 * source.periodFrames)
        let lines = try String(contentsOfFile: outcome.logs[0], encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let dropped = try #require(lines.first { $0["type"] as? String == "dropped" })
        let from = try #require(dropped["frame"] as? Int)
        let count = try #require(dropped["lost_frames"] as? Int)
        #expect(from > 0 && from + count == 30 * source.periodFrames, "dropped to the end")
        #expect(lines.last?["complete"] as? Bool == true)
        // What the ring could not hold is silence in the take, where the log says.
        var info = SF_INFO()
        let file = try #require(sf_open(take, Int32(SFM_READ), &info))
        defer { sf_close(file) }
        var samples = [Int16](repeating: 1, count: 30 * source.periodFrames * 2)
        #expect(
            sf_readf_short(file, &samples, sf_count_t(30 * source.periodFrames)) == sf_count_t(30 * source.periodFrames)
        )
        #expect(samples[(from * 2)...].allSatisfy { $0 == 0 })
        #expect(samples[..<(from * 2)].contains { $0 != 0 })
    }
}

/// Frames in a take, as libsndfile reads its header.
enum TakeFrames {
    static func read(_ path: String) -> Int {
        var info = SF_INFO()
        guard let f = sf_open(path, Int32(SFM_READ), &info) else { return -1 }
        sf_close(f)
        return Int(info.frames)
    }
}
