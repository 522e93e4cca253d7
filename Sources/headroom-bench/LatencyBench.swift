import Foundation
import HeadroomCore
import Synchronization

/// How long a clip takes to reach the person: from the moment the period holding its first
/// clipped sample reaches the capture thread to the moment the terminal loop has its
/// `CLIP:` line and its meter latch in hand. The source is a paced script (a period every
/// period's worth of wall time, like hardware) that notes when it hands each clip over; the
/// loop is `headroom record`'s: it sleeps on the session's attention descriptor, then takes
/// the warnings and the meter snapshot, as `LiveRecording` does before it draws them.
enum LatencyBench {
    /// A device that plays a quiet tone with a clipped burst every quarter second.
    final class ClipSource: CaptureSource, @unchecked Sendable {
        let rate = 48000
        let channels = 2
        let format = SampleFormat.s16
        let periodFrames: Int
        let bufferFrames: Int
        let clips: Int
        let spacing: Int
        /// Wall time at which each clip's period was handed to the capture thread.
        let handedOver = Mutex<[Double]>([])
        private var frame = 0
        private var next = 0.0
        private var seed: UInt64 = 7

        init(periodFrames: Int, clips: Int) {
            self.periodFrames = periodFrames
            bufferFrames = periodFrames * 4
            self.clips = clips
            spacing = rate / 4
        }

        /// Where clip `k` starts: a quarter second apart, at a varying place in its period.
        private func clipStart(_ k: Int) -> Int {
            (k + 1) * spacing + (k * 97) % periodFrames
        }

        func start() throws(ALSAError) { next = MonotonicClock.now() }

        func read(into buffer: UnsafeMutableRawPointer, frames: Int, timeoutMilliseconds: Int32) -> CaptureRead {
            guard frame < clipStart(clips - 1) + rate / 2 else { return .timeout }
            let wait = next - MonotonicClock.now()
            if wait > 0 { usleep(UInt32(wait * 1e6)) }
            next += Double(periodFrames) / Double(rate)
            let n = min(frames, periodFrames)
            let out = buffer.assumingMemoryBound(to: Int16.self)
            var clipHere = false
            for i in 0..<n {
                let f = frame + i
                let k = max(0, (f - (rate / 4)) / spacing)
                let start = clipStart(min(k, clips - 1))
                let clipped = f >= start && f < start + 8
                if f == start { clipHere = true }
                seed = seed &* 6_364_136_223_846_793_005 &+ 1
                let quiet = Int16(truncatingIfNeeded: Int64(seed >> 52) - 2048)
                let tone = Int16(3000 * sin(2 * Double.pi * 440 * Double(f) / Double(rate)))
                for c in 0..<channels { out[i * channels + c] = clipped ? Int16.max : tone &+ quiet }
            }
            frame += n
            if clipHere {
                let t = MonotonicClock.now()
                handedOver.withLock { $0.append(t) }
            }
            return .frames(n)
        }

        func available() -> Int { 0 }
        func recover(from error: ALSAError) -> Bool { false }
        func close() {}
    }

    /// `timer`: the loop wakes every 66 ms instead (how `record` waited before it slept on
    /// the attention descriptor), for comparison.
    static func run(periodFrames: Int = 256, clips: Int = 160, timer: Bool = false) {
        let source = ClipSource(periodFrames: periodFrames, clips: clips)
        var settings = Settings()
        settings.directory = NSTemporaryDirectory() + "headroom-latency-\(getpid())"
        try? FileManager.default.createDirectory(atPath: settings.directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: settings.directory) }
        var config = RecordingSession.Configuration(
            settings: settings,
            fileFormat: .wav,
            names: ["L", "R"],
            deviceName: "scripted"
        )
        // A clip every quarter second: each one's line is timed, none held to one a minute.
        config.everyLine = true
        let session: RecordingSession
        do {
            session = try RecordingSession(source: source, configuration: config)
        } catch {
            print("cannot record: \(error.message)")
            return
        }
        print(
            "warning latency: \(clips) clips, a quarter second apart, 2 ch x 48 kHz, \(periodFrames)-frame periods (\(String(format: "%.1f", Double(periodFrames) / 48)) ms)\(timer ? ", terminal loop on a 66 ms timer" : "")"
        )
        session.start()
        var lineSeen: [Double] = []
        var latchSeen: [Double] = []
        var runs = 0
        while !session.isFinished {
            if timer { usleep(66_000) } else { session.waitForAttention(seconds: 0.066) }
            let now = MonotonicClock.now()
            for line in session.takeWarnings() where line.hasPrefix("CLIP: ch1 ") { lineSeen.append(now) }
            let latched = session.snapshot().channels[0].latchedClips
            if latched > runs {
                latchSeen.append(now)
                runs = latched
            }
        }
        let handed = source.handedOver.withLock { $0 }
        func report(_ name: String, _ seen: [Double]) {
            let n = min(seen.count, handed.count)
            guard n > 0 else {
                print("  \(name): none seen")
                return
            }
            let ms = (0..<n).map { (seen[$0] - handed[$0]) * 1000 }.sorted()
            func pct(_ p: Double) -> Double { ms[min(n - 1, Int(Double(n - 1) * p + 0.5))] }
            print(
                String(
                    format: "  %@ %3d of %3d clips   p50 %5.1f ms   p99 %5.1f ms   max %5.1f ms",
                    name.padding(toLength: 22, withPad: " ", startingAt: 0),
                    seen.count,
                    handed.count,
                    pct(0.5),
                    pct(0.99),
                    ms.last!
                )
            )
        }
        report("CLIP: warning line", lineSeen)
        report("meter latch", latchSeen)
        _ = session.outcome()
    }
}
