import Glibc
import Synchronization

/// The capture loop: reads periods from a ``CaptureSource`` into two preallocated rings
/// (one for the writer, one for the analyzer, so a slow disk never delays a warning)
/// and notices what devices do not report.
///
/// Real-time safe: after `init` the loop never allocates, locks, logs or touches the
/// disk. It talks to the rest of the program only through the rings (loss stamps ride
/// on block headers, jack_capture style) and through atomics.
///
/// What it notices:
/// - xruns and suspends (`-EPIPE`, `-ESTRPIPE`): recovered, stamped with the frames lost;
/// - gaps: frames the clock says should have arrived but did not, with no error (ALSA's
///   jack plugin drops frames silently when the reader stalls): suspected past two
///   periods, confirmed after ``confirmSeconds`` while the blocks since are held back,
///   then stamped on the first of them;
/// - a device that stops delivering for ``stallSeconds`` (a hung USB interface, jackd
///   gone), or returns `-ENODEV`: the recording ends with ``EndReason/deviceLost``;
/// - a full ring: the frames are counted and stamped as `dropped` on the next block.
///   Except from an unpaced source (ALSA's `file` plugin, a test rig): one that runs
///   more than half a second ahead of the wall clock has no device clock behind it, so
///   nothing is lost by waiting for room, and the loop waits instead of dropping.
public final class CaptureThread: @unchecked Sendable {
    public let source: any CaptureSource
    public let writerRing: SPSCRing
    public let analyzerRing: SPSCRing
    /// Stop after this many frames (`--duration`); `nil`: until stopped.
    public let frameLimit: Int?
    /// Seconds without a frame before the device counts as lost.
    public let stallSeconds: Double

    /// Set by anyone to end the recording; `requestedEnd` says why.
    public let stopRequested = Atomic<Bool>(false)
    public let requestedEnd = Atomic<UInt8>(EndReason.stopped.rawValue)
    /// Set to close the take before the next block and start a new one.
    public let splitRequested = Atomic<Bool>(false)
    /// Frames handed on (the take's length so far, lost frames included).
    public let frameCount = Atomic<Int>(0)
    public let xruns = Atomic<Int>(0)
    public let gaps = Atomic<Int>(0)
    /// Frames the writer ring had no room for.
    public let writerDropped = Atomic<Int>(0)
    /// 1 once the loop runs with real-time priority, -1 when the system refused it.
    public let realtime = Atomic<Int>(0)
    /// 1 once the loop has ended.
    public let finished = Atomic<Bool>(false)

    private let scratch: UnsafeMutableRawPointer
    private let frameBytes: Int

    public init(
        source: any CaptureSource,
        writerRing: SPSCRing,
        analyzerRing: SPSCRing,
        frameLimit: Int?,
        stallSeconds: Double = 2
    ) {
        self.source = source
        self.writerRing = writerRing
        self.analyzerRing = analyzerRing
        self.frameLimit = frameLimit
        self.stallSeconds = stallSeconds
        frameBytes = source.channels * source.format.bytesPerSample
        scratch = .allocate(byteCount: source.periodFrames * frameBytes, alignment: 64)
        scratch.initializeMemory(as: UInt8.self, repeating: 0, count: source.periodFrames * frameBytes)
    }

    deinit { scratch.deallocate() }

    /// Asks the loop to end (from any thread, or a signal-handling loop).
    public func stop(_ reason: EndReason = .stopped) {
        requestedEnd.store(reason.rawValue, ordering: .relaxed)
        stopRequested.store(true, ordering: .releasing)
    }

    /// Tries for SCHED_FIFO; records whether the system allowed it.
    private func raisePriority() {
        var param = sched_param()
        param.sched_priority = 70
        let r = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param)
        realtime.store(r == 0 ? 1 : -1, ordering: .relaxed)
    }

    // Per-ring loss waiting to be stamped on that ring's next block.
    private struct PendingLoss {
        var frames = 0
        var kind = AudioBlock.Loss.none
        mutating func add(_ n: Int, _ k: AudioBlock.Loss) {
            frames += n
            if kind == .none { kind = k }
        }
    }

    /// A loss the clock suggests, not yet confirmed: since when, and the smallest excess
    /// of drift over its allowance seen since.
    private struct Suspicion {
        var since: Double
        var least: Double
    }

    // Blocks filled into each ring while a loss is suspected, not yet published.
    private var heldWriter = 0
    private var heldAnalyzer = 0

    /// The loop. Call on a dedicated thread; returns when the recording ends.
    public func run() {
        raisePriority()
        var end = EndReason.stopped
        var writerLoss = PendingLoss()
        var analyzerLoss = PendingLoss()
        var frameIndex = 0
        var split = false
        var suspicion: Suspicion?
        let period = source.periodFrames
        let threshold = Double(2 * period)
        defer {
            // A loss still unconfirmed when the take is stopped counts if it never went
            // away. Not when the device went quiet or away: its frames stopped, none went
            // missing in between (jackd stopped delivers late, then nothing), and the take
            // ends at the last frame it delivered.
            let deviceGone = end == .deviceLost || end == .deviceError
            let lost = deviceGone ? 0 : suspicion.map { $0.least > threshold ? Int($0.least.rounded()) : 0 } ?? 0
            if lost > 0 { gaps.add(1, ordering: .relaxed) }
            publishHeld(lost: lost, writerLoss: &writerLoss, analyzerLoss: &analyzerLoss)
            publishEnd(end, frameIndex: frameIndex + lost)
            finished.store(true, ordering: .releasing)
        }
        do {
            try source.start()
        } catch {
            end = error == .noDevice ? .deviceLost : .deviceError
            return
        }
        let rate = Double(source.rate)
        // Gap detection. Where the device's clock stands is the frames read plus the frames
        // it holds (`available`); `drift` is what the monotonic clock says should have
        // arrived by now minus that (and minus losses already logged). Its low envelope,
        // `baseline`, may rise only as fast as two clocks can disagree (crystal tolerance
        // plus NTP slew, `Self.clockTolerance`). Drift more than two periods above it is a
        // suspected loss: the blocks read from then on are held back (filled into the
        // rings, not published) until the excess either falls back (a device that
        // delivers in bursts, a late reading) or stays up for `Self.confirmSeconds`; then
        // the smallest excess seen is the loss, stamped on the first held block, so the
        // silence that stands in for it lands where the frames went missing.
        let allowance = Self.clockTolerance * rate
        let maxHeld = max(1, min(writerRing.slotCount, analyzerRing.slotCount) / 2)
        let start = Self.rawNow()
        var lastData = start
        var lastJudged = start
        var received = 0.0
        var accountedLoss = 0.0
        var baseline = Double.nan
        var pendingXrun = false
        var unpaced = false

        while true {
            if stopRequested.load(ordering: .acquiring) {
                end = EndReason(rawValue: requestedEnd.load(ordering: .relaxed)) ?? .stopped
                break
            }
            if let limit = frameLimit, frameIndex >= limit {
                end = .duration
                break
            }
            if splitRequested.exchange(false, ordering: .relaxed) { split = true }
            var want = period
            if let limit = frameLimit { want = min(want, limit - frameIndex) }
            if unpaced { waitForRoom() }
            let slot = writerRing.reserve(ahead: heldWriter)
            let target = slot?.payload ?? scratch
            switch source.read(into: target, frames: want, timeoutMilliseconds: 100) {
            case .frames(let n):
                received += Double(n)
                // The clock is read on both sides of `available`: a reading interrupted in
                // between (the thread preempted) says nothing and is left out.
                let t = Self.rawNow()
                lastData = t
                let waiting = Double(source.available())
                let settled = Self.rawNow() - t < 0.001
                let drift = (t - start) * rate - received - waiting - accountedLoss
                if baseline.isNaN { baseline = drift }
                let allowed = baseline + allowance * (t - lastJudged)
                if pendingXrun {
                    // The device reported the loss; the clock says how much it was.
                    let lost = max(0, Int((drift - allowed).rounded()))
                    pendingXrun = false
                    writerLoss.add(lost, .xrun)
                    analyzerLoss.add(lost, .xrun)
                    accountedLoss += Double(lost)
                    frameIndex += lost
                    baseline = min(allowed, drift - Double(lost))
                    lastJudged = t
                } else if settled && !unpaced {
                    if suspicion != nil {
                        suspicion!.least = min(suspicion!.least, drift - allowed)
                    } else if drift - allowed > threshold {
                        suspicion = Suspicion(since: t, least: drift - allowed)
                    } else {
                        baseline = min(allowed, drift)
                        lastJudged = t
                        // A source far ahead of the clock has no clock behind it.
                        if drift < -(threshold + rate / 2) { unpaced = true }
                    }
                }
                let holding = suspicion != nil
                // Writer ring: the frames are already in its slot.
                if let slot {
                    stamp(slot.header, frameIndex: frameIndex, frames: n, loss: &writerLoss, split: split)
                    if holding { heldWriter += 1 } else { writerRing.commit() }
                } else {
                    writerDropped.add(n, ordering: .relaxed)
                    writerLoss.add(n, .dropped)
                }
                // Analyzer ring: a copy.
                if let a = analyzerRing.reserve(ahead: heldAnalyzer) {
                    a.payload.copyMemory(from: target, byteCount: n * frameBytes)
                    stamp(a.header, frameIndex: frameIndex, frames: n, loss: &analyzerLoss, split: split)
                    a.header.pointee.missingFromTake = slot == nil
                    if holding { heldAnalyzer += 1 } else { analyzerRing.commit() }
                } else {
                    analyzerLoss.add(n, .dropped)
                }
                split = false
                frameIndex += n
                if let s = suspicion {
                    let full = slot == nil || heldWriter >= maxHeld || heldAnalyzer >= maxHeld
                    if s.least <= threshold {
                        // It went away: a burst, a late reading. Nothing was lost.
                        suspicion = nil
                        publishHeld(lost: 0, writerLoss: &writerLoss, analyzerLoss: &analyzerLoss)
                        baseline = min(allowed, drift)
                        lastJudged = t
                    } else if t - s.since >= Self.confirmSeconds || full {
                        let lost = Int(s.least.rounded())
                        suspicion = nil
                        gaps.add(1, ordering: .relaxed)
                        publishHeld(lost: lost, writerLoss: &writerLoss, analyzerLoss: &analyzerLoss)
                        accountedLoss += Double(lost)
                        frameIndex += lost
                        baseline = allowed
                        lastJudged = t
                    }
                }
                frameCount.store(frameIndex, ordering: .relaxed)
            case .timeout:
                if Self.rawNow() - lastData >= stallSeconds {
                    end = .deviceLost
                    return
                }
            case .error(let error):
                if suspicion != nil {
                    // The device has its own word now; what was held goes out as it is.
                    suspicion = nil
                    publishHeld(lost: 0, writerLoss: &writerLoss, analyzerLoss: &analyzerLoss)
                }
                if error == .xrun || error == .suspended {
                    xruns.add(1, ordering: .relaxed)
                    pendingXrun = true
                    if !source.recover(from: error) {
                        end = .deviceLost
                        return
                    }
                } else if error == .noDevice || error == .badState {
                    end = .deviceLost
                    return
                } else {
                    end = .deviceError
                    return
                }
            }
        }
    }

    /// Publishes the blocks held back while a loss was suspected; with `lost` frames, the
    /// loss is stamped on the first of them (or, if a ring holds none, on its next block)
    /// and every held block moves that many frames later.
    private func publishHeld(lost: Int, writerLoss: inout PendingLoss, analyzerLoss: inout PendingLoss) {
        if lost > 0 {
            restamp(writerRing, count: heldWriter, lost: lost, pending: &writerLoss)
            restamp(analyzerRing, count: heldAnalyzer, lost: lost, pending: &analyzerLoss)
        }
        writerRing.commit(count: heldWriter)
        analyzerRing.commit(count: heldAnalyzer)
        heldWriter = 0
        heldAnalyzer = 0
    }

    private func restamp(_ ring: SPSCRing, count: Int, lost: Int, pending: inout PendingLoss) {
        guard count > 0 else {
            pending.add(lost, .gap)
            return
        }
        for i in 0..<count {
            guard let header = ring.reserve(ahead: i)?.header else { break }
            header.pointee.frameIndex += lost
            if i == 0 {
                // (Should a drop be stamped here already, the block carries both as one loss.)
                header.pointee.lostFrames += lost
                if header.pointee.loss == .none { header.pointee.loss = .gap }
            }
        }
    }

    /// Unpaced sources only: waits until both rings have a free slot.
    private func waitForRoom() {
        while (writerRing.fill >= writerRing.slotCount || analyzerRing.fill >= analyzerRing.slotCount)
            && !stopRequested.load(ordering: .relaxed)
        {
            usleep(200)
        }
    }

    @inline(__always)
    private func stamp(
        _ header: UnsafeMutablePointer<AudioBlock>,
        frameIndex: Int,
        frames: Int,
        loss: inout PendingLoss,
        split: Bool
    ) {
        header.pointee.frameIndex = frameIndex
        header.pointee.frames = frames
        header.pointee.lostFrames = loss.frames
        header.pointee.loss = loss.kind
        header.pointee.splitBefore = split
        header.pointee.isLast = false
        header.pointee.missingFromTake = false
        loss = PendingLoss()
    }

    /// Hands both rings a last, empty block that says why the recording ended. Capture
    /// is over here, so waiting for room is allowed (bounded, in case a consumer died).
    ///
    /// A device that went away is closed after that, on a thread of its own that nobody
    /// waits for: closing can hang there (libjack deadlocks in `jack_client_close` now
    /// and then once jackd has died), and the take must close and the recording end
    /// regardless.
    private func publishEnd(_ reason: EndReason, frameIndex: Int) {
        let lost = reason == .deviceLost || reason == .deviceError
        if !lost { source.close() }
        defer {
            if lost { closeSourceDetached() }
        }
        for ring in [writerRing, analyzerRing] {
            var waited = 0
            while ring.reserve() == nil && waited < 10_000 {
                usleep(1000)
                waited += 1
            }
            guard let slot = ring.reserve() else { continue }
            slot.header.pointee = AudioBlock()
            slot.header.pointee.frameIndex = frameIndex
            slot.header.pointee.isLast = true
            slot.header.pointee.endReason = reason
            ring.commit()
        }
    }

    /// Closes the source on a detached thread of its own (which keeps this object alive
    /// until the close returns, if it ever does).
    private func closeSourceDetached() {
        let retained = Unmanaged.passRetained(self)
        var thread = pthread_t()
        let started = pthread_create(
            &thread,
            nil,
            { context in
                Unmanaged<CaptureThread>.fromOpaque(context!).takeRetainedValue().source.close()
                return nil
            },
            retained.toOpaque()
        )
        if started == 0 {
            pthread_detach(thread)
        } else {
            retained.release()
            source.close()
        }
    }

    /// How long drift must stay above its allowance before it counts as a loss: longer
    /// than a bursty device (a sound server's plugin) takes between deliveries.
    static let confirmSeconds = 0.25

    /// How far a device's clock and the monotonic clock may drift apart, as a fraction of
    /// the rate: 100 ppm for the crystal, with room for a slewing system clock.
    static let clockTolerance = 0.001

    /// The monotonic clock without NTP's slewing: what a device's crystal is compared with.
    @inline(__always)
    static func rawNow() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC_RAW, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    @inline(__always)
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
