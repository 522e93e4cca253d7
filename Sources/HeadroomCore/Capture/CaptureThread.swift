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
///   jack plugin drops frames silently when the reader stalls), found by a
///   ``LossDetector``: suspected past two periods, confirmed after
///   ``LossDetector/confirmSeconds`` while the blocks since are held back, then stamped
///   on the held block that starts nearest the end of what the device held at the last
///   reading on time (the frames from before a stall come back first);
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
    /// Frames handed on (the recording's length so far, lost frames included): where a
    /// marker asked for now lands.
    public let frameCount = Atomic<Int>(0)
    /// 1 once the loop runs with real-time priority, -1 when the system refused it.
    public let realtime = Atomic<Int>(0)
    /// True once the source is known to run ahead of the clock (ALSA's `file` plugin, a
    /// test rig): its frames are then its only time.
    public let unpaced = Atomic<Bool>(false)
    /// True once the source's close has returned, after the loop ended. A device that went
    /// away is closed aside (see `publishEnd`), and is not to be opened again before: libjack
    /// shares its state between a client's close and the next client's open, and a driver
    /// keeps an exclusive device busy until it is closed.
    public let sourceClosed = Atomic<Bool>(false)

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

    // Blocks filled into each ring while a loss is suspected, not yet published.
    private var heldWriter = 0
    private var heldAnalyzer = 0

    /// The loop. Call on a dedicated thread; returns when the recording ends. Each turn:
    /// read a period, ask the ``LossDetector`` what the clock says, then publish the block
    /// (or hold it while a loss is suspected).
    public func run() {
        raisePriority()
        var end = EndReason.stopped
        var writerLoss = PendingLoss()
        var analyzerLoss = PendingLoss()
        var frameIndex = 0
        var split = false
        var detector = LossDetector(rate: source.rate, periodFrames: source.periodFrames, start: MonotonicClock.now())
        defer {
            let lost = detector.lossAtEnd(deviceGone: end == .deviceLost || end == .deviceError)
            publishHeld(lost: lost.frames, after: lost.after, writerLoss: &writerLoss, analyzerLoss: &analyzerLoss)
            publishEnd(end, frameIndex: frameIndex + lost.frames, writerLoss: writerLoss, analyzerLoss: analyzerLoss)
        }
        do {
            try source.start()
        } catch {
            end = error == .noDevice ? .deviceLost : .deviceError
            return
        }
        let maxHeld = max(1, min(writerRing.slotCount, analyzerRing.slotCount) / 2)
        var lastData = MonotonicClock.now()

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
            var want = source.periodFrames
            if let limit = frameLimit { want = min(want, limit - frameIndex) }
            if detector.unpaced {
                waitForRoom()
                // Stopped while it waited: not one more period with no room for it.
                if stopRequested.load(ordering: .acquiring) { continue }
            }
            let slot = writerRing.reserve(ahead: heldWriter)
            let target = slot?.payload ?? scratch
            switch source.read(into: target, frames: want, timeoutMilliseconds: 100) {
            case .frames(let n):
                // The clock is read on both sides of `available`: a reading interrupted in
                // between (the thread preempted) says nothing about the device's clock.
                let t = MonotonicClock.now()
                lastData = t
                let waiting = source.available()
                let settled = MonotonicClock.now() - t < 0.001
                if let lost = detector.reading(frames: n, at: t, waiting: waiting, settled: settled) {
                    writerLoss.add(lost, .xrun)
                    analyzerLoss.add(lost, .xrun)
                    frameIndex += lost
                }
                if detector.unpaced && !unpaced.load(ordering: .relaxed) { unpaced.store(true, ordering: .relaxed) }
                publish(
                    n,
                    slot: slot,
                    from: target,
                    frameIndex: frameIndex,
                    split: split,
                    hold: detector.suspected,
                    writerLoss: &writerLoss,
                    analyzerLoss: &analyzerLoss
                )
                split = false
                frameIndex += n
                let full = slot == nil || heldWriter >= maxHeld || heldAnalyzer >= maxHeld
                switch detector.decide(at: t, mustDecide: full) {
                case .none, .hold: break
                case .release: publishHeld(lost: 0, writerLoss: &writerLoss, analyzerLoss: &analyzerLoss)
                case .lost(let lost, let after):
                    publishHeld(lost: lost, after: after, writerLoss: &writerLoss, analyzerLoss: &analyzerLoss)
                    frameIndex += lost
                }
                frameCount.store(frameIndex, ordering: .relaxed)
            case .timeout:
                if MonotonicClock.now() - lastData >= stallSeconds {
                    end = .deviceLost
                    return
                }
            case .error(let error):
                // The device has its own word now; what was held goes out as it is.
                if detector.deviceSpoke() { publishHeld(lost: 0, writerLoss: &writerLoss, analyzerLoss: &analyzerLoss) }
                if error == .xrun || error == .suspended {
                    detector.xrunReported()
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

    /// Stamps the block just read into both rings (a copy for the analyzer) and commits
    /// it, or holds it while a loss is suspected. A ring with no room counts the frames as
    /// dropped, stamped on its next block.
    @inline(__always)
    private func publish(
        _ n: Int,
        slot: (header: UnsafeMutablePointer<AudioBlock>, payload: UnsafeMutableRawPointer)?,
        from target: UnsafeMutableRawPointer,
        frameIndex: Int,
        split: Bool,
        hold: Bool,
        writerLoss: inout PendingLoss,
        analyzerLoss: inout PendingLoss
    ) {
        // Writer ring: the frames are already in its slot.
        if let slot {
            stamp(slot.header, frameIndex: frameIndex, frames: n, loss: &writerLoss, split: split)
            if hold { heldWriter += 1 } else { writerRing.commit() }
        } else {
            writerLoss.add(n, .dropped)
        }
        if let a = analyzerRing.reserve(ahead: heldAnalyzer) {
            a.payload.copyMemory(from: target, byteCount: n * frameBytes)
            stamp(a.header, frameIndex: frameIndex, frames: n, loss: &analyzerLoss, split: split)
            a.header.pointee.missingFromTake = slot == nil
            if hold { heldAnalyzer += 1 } else { analyzerRing.commit() }
        } else {
            analyzerLoss.add(n, .dropped)
        }
    }

    /// Publishes the blocks held back while a loss was suspected; with `lost` frames, the
    /// loss is stamped on the one that starts nearest `after` frames in (or, past the last,
    /// on the ring's next block), and that block and the ones after it move that many
    /// frames later.
    private func publishHeld(
        lost: Int,
        after: Int = 0,
        writerLoss: inout PendingLoss,
        analyzerLoss: inout PendingLoss
    ) {
        if lost > 0 {
            restamp(writerRing, count: heldWriter, lost: lost, after: after, pending: &writerLoss)
            restamp(analyzerRing, count: heldAnalyzer, lost: lost, after: after, pending: &analyzerLoss)
        }
        writerRing.commit(count: heldWriter)
        analyzerRing.commit(count: heldAnalyzer)
        heldWriter = 0
        heldAnalyzer = 0
    }

    private func restamp(_ ring: SPSCRing, count: Int, lost: Int, after: Int, pending: inout PendingLoss) {
        var offset = 0  // frames of the held blocks before block i
        var stamped = false
        for i in 0..<count {
            guard let header = ring.reserve(ahead: i)?.header else { break }
            defer { offset += header.pointee.frames }
            // Block i starts nearer `after` than block i + 1 does.
            guard offset + header.pointee.frames / 2 >= after else { continue }
            header.pointee.frameIndex += lost
            if !stamped {
                // (Should a drop be stamped here already, the block carries both as one loss.)
                header.pointee.lostFrames += lost
                if header.pointee.loss == .none { header.pointee.loss = .gap }
                stamped = true
            }
        }
        if !stamped { pending.add(lost, .gap) }
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

    /// Hands both rings a last, empty block that says why the recording ended, carrying
    /// each ring's loss still unstamped (frames dropped while its ring was full to the end):
    /// the writer puts silence in their place and the analyzer logs them, as for a loss
    /// inside the take. Capture is over here, so waiting for room is allowed.
    ///
    /// A device that went away is closed after that, on a thread of its own that nobody
    /// waits for: closing can hang there (libjack deadlocks in `jack_client_close` now
    /// and then once jackd has died), and the take must close and the recording end
    /// regardless.
    private func publishEnd(_ reason: EndReason, frameIndex: Int, writerLoss: PendingLoss, analyzerLoss: PendingLoss) {
        let lost = reason == .deviceLost || reason == .deviceError
        if !lost {
            source.close()
            sourceClosed.store(true, ordering: .releasing)
        }
        defer {
            if lost { closeSourceDetached() }
        }
        // The end reaches each thread as soon as its ring has room, however long that takes:
        // a writer held up by a stalled disk (an SD card collecting its garbage, a network
        // share) drains its ring once the disk answers, and then ends the take. (Giving up
        // after 10 s, as this once did, left it waiting for blocks that never came, and the
        // recording never ended.) Nothing is captured any more, so nothing waits on this.
        var writerEnded = false
        var analyzerEnded = false
        while !(writerEnded && analyzerEnded) {
            if !writerEnded { writerEnded = Self.publishLast(writerRing, reason, frameIndex, writerLoss) }
            if !analyzerEnded { analyzerEnded = Self.publishLast(analyzerRing, reason, frameIndex, analyzerLoss) }
            if !(writerEnded && analyzerEnded) { usleep(1000) }
        }
    }

    /// Commits the last block (no frames, `isLast`, the ring's pending loss) when `ring` has
    /// a free slot; false when not.
    private static func publishLast(
        _ ring: SPSCRing,
        _ reason: EndReason,
        _ frameIndex: Int,
        _ loss: PendingLoss
    ) -> Bool {
        guard let slot = ring.reserve() else { return false }
        slot.header.pointee = AudioBlock()
        slot.header.pointee.frameIndex = frameIndex
        slot.header.pointee.lostFrames = loss.frames
        slot.header.pointee.loss = loss.kind
        slot.header.pointee.isLast = true
        slot.header.pointee.endReason = reason
        ring.commit()
        return true
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
                let capture = Unmanaged<CaptureThread>.fromOpaque(context!).takeRetainedValue()
                capture.source.close()
                capture.sourceClosed.store(true, ordering: .releasing)
                return nil
            },
            retained.toOpaque()
        )
        if started == 0 {
            pthread_detach(thread)
        } else {
            retained.release()
            source.close()
            sourceClosed.store(true, ordering: .releasing)
        }
    }
}
