import CHeadroomKernels

/// Per-channel event detection: clip runs merged into clip events, and hot bursts.
///
/// It is fed one frame at a time, in order, with the frame's sample magnitude, its
/// true peak (the sample and the interpolated points that follow it) and whether the
/// sample is clipped; frames where nothing can happen are skipped in bulk with
/// ``skip(to:)``. All state is plain values: no allocation after init.
struct ClipDetector {
    // Settings, in frames and linear amplitude.
    let channel: Int
    let clipRun: Int
    let holdFrames: Int
    let burstHoldFrames: Int
    let hotThreshold: Float
    /// The clip level, linear (1 at 0 dBFS).
    let clipLevel: Float

    // The clip run in progress (`runStart < 0`: none).
    var runStart = -1
    var runLength = 0
    var runPeak: Float = 0
    var runTruePeak: Float = 0
    /// The run's polarity (+1, -1) and its level, and the two sides the overshoot estimate
    /// needs: set by the analyzer, which sees the samples around the run (``Overshoot``).
    var runSign: Float = 1
    var runLevel: Float = 1
    var runEntry: Overshoot.Side?
    var runExit: Overshoot.Side?
    /// The run ended on a ripple, not a side: ``Lane/resumes(after:sign:level:)``.
    var runGoesOn = false
    /// A top that earlier runs began and the ripple across it broke up, for the estimate its
    /// last run makes (nil: none open).
    var plateau: Plateau?

    struct Plateau {
        /// Its first frame and its entry side.
        var start: Int
        var entry: Overshoot.Side?
        /// The last frame its next piece can start on.
        var next = 0
        /// A piece of it qualified, so the event holds the top.
        var qualified = false
    }

    /// A converter's decimation filter ripples across the top of an overload: the top comes
    /// out at the maximum code with single samples a hair under it (0.0001 to 0.003 under
    /// full scale on a bass driven 10 dB past it through a 4x-oversampled clip and a 20 kHz
    /// filter), which break it into runs whose neighbours are the ripple, not the waveform's
    /// sides. A run whose next clipped frame, of its polarity, comes within this many frames,
    /// with every frame between within ``plateauDip`` of its level, is one piece of a wider
    /// top, and the top's estimate is made from the sides of its first and last piece.
    static let plateauGap = 2
    static let plateauDip = Float(Decibels.toAmplitude(-0.1))

    /// Overshoot estimates of the open event's runs, and of runs after its last qualifying
    /// one (they join the event only if another qualifying run follows within the hold).
    var eventOver = Overshoot.Tally()
    var pendingOver = Overshoot.Tally()
    /// The largest overshoot of the channel's closed events, dB, and whether it is a bound.
    var maxOverDB: Double?
    var maxOverBound = false

    // The clip event still open (it may absorb more runs within the hold).
    var eventOpen = false
    var event = ClipEvent(
        channel: 0,
        startFrame: 0,
        endFrame: 0,
        clippedSamples: 0,
        runs: 0,
        longestRun: 0,
        peakDBFS: 0,
        truePeakDBTP: 0
    )
    var eventPeak: Float = 0
    var eventTruePeak: Float = 0
    var peakSinceEventEnd: Float = 0
    var truePeakSinceEventEnd: Float = 0

    // The most recent qualifying run, to tell whether a hot burst contains one.
    var qualifiedRunStart = -1
    var qualifiedRunEnd = -1  // Int.max while it is still running

    // The hot burst still open.
    var burstOpen = false
    var burstStart = 0
    var burstLast = 0
    var burstTruePeak: Float = 0
    var burstHasClip = false

    // Totals.
    var clipEvents = 0
    var clippedSamples = 0
    var hotEvents = 0
    /// Qualifying runs seen; the live meter latches on a change.
    var qualifiedRuns = 0

    init(channel: Int, settings: AnalysisSettings, rate: Int) {
        self.channel = channel
        clipRun = settings.clipRunSamples
        holdFrames = settings.holdFrames(rate: rate)
        // Over-margin frames that touch always form one burst, even with a zero hold.
        burstHoldFrames = max(holdFrames, 1)
        hotThreshold = Float(Decibels.toAmplitude(-settings.marginDB))
        clipLevel = Float(Decibels.toAmplitude(settings.clipLevelDBFS))
        event.channel = channel
    }

    /// Feeds frame `frame`: `magnitude` = |sample|, `truePeak` >= magnitude, both linear.
    /// The two commonest cases (nothing going on; a hot burst simply going on) return
    /// at once; everything else goes through ``feedSlow``.
    @inline(__always)
    mutating func feed(frame: Int, magnitude: Float, truePeak: Float, clipped: Bool, into events: inout [Event]) {
        if !clipped && runStart < 0 && !eventOpen {
            if truePeak > hotThreshold {
                if burstOpen && frame == burstLast + 1 {
                    burstLast = frame
                    if truePeak > burstTruePeak { burstTruePeak = truePeak }
                    return
                }
            } else if !burstOpen {
                return
            }
        }
        feedSlow(frame: frame, magnitude: magnitude, truePeak: truePeak, clipped: clipped, into: &events)
    }

    mutating func feedSlow(frame: Int, magnitude: Float, truePeak: Float, clipped: Bool, into events: inout [Event]) {
        if clipped {
            if runStart < 0 {
                runStart = frame
                runLength = 0
                runPeak = 0
                runTruePeak = 0
            }
            runLength += 1
            runPeak = max(runPeak, magnitude)
            runTruePeak = max(runTruePeak, truePeak)
            if runLength == clipRun { runQualified() }
        } else if runStart >= 0 {
            endRun(at: frame, into: &events)
        }
        if eventOpen {
            peakSinceEventEnd = max(peakSinceEventEnd, magnitude)
            truePeakSinceEventEnd = max(truePeakSinceEventEnd, truePeak)
        }
        if truePeak > hotThreshold { over(frame: frame, truePeak: truePeak, into: &events) }
        expire(next: frame + 1, into: &events)
    }

    /// Feeds frames `first..<first+count` when nothing can clip there: no sample near
    /// clipping, and no clip run or event open. Only hot bursts can change, and the result
    /// is what ``feed`` frame by frame would give; but inside a burst the frame loop has no
    /// branch on the signal, so material that hovers around the margin costs no
    /// mispredictions. `magnitudes[i * stride]` and `steps[i * stride]` belong to frame
    /// `first + i` (a sample, and the largest interpolated point after it).
    mutating func feedHot(
        first: Int,
        count: Int,
        samples x: UnsafePointer<Float>,
        steps s: UnsafePointer<Float>,
        stride: Int,
        into events: inout [Event]
    ) {
        var i = 0
        while i < count {
            if !burstOpen {
                while i < count && max(abs(x[i * stride]), s[i * stride]) <= hotThreshold { i += 1 }
                guard i < count else { return }
                over(frame: first + i, truePeak: max(abs(x[i * stride]), s[i * stride]), into: &events)
                i += 1
                continue
            }
            var last = burstLast
            var peak = burstTruePeak
            var closed = false
            while i < count {
                let f = first + i
                let truePeak = max(abs(x[i * stride]), s[i * stride])
                let isOver = truePeak > hotThreshold
                last = isOver ? f : last
                peak = isOver ? max(peak, truePeak) : peak
                i += 1
                if f - last >= burstHoldFrames {
                    closed = true
                    break
                }
            }
            burstLast = last
            burstTruePeak = peak
            if qualifiedRunStart >= 0 && qualifiedRunStart <= burstLast && qualifiedRunEnd > burstStart {
                burstHasClip = true
            }
            if closed { closeBurst(into: &events) }
        }
    }

    /// One lane of the analyzer's block, as the clip walk reads it: frame f's sample at
    /// `samples[(f - origin) * stride]` and the largest interpolated point after it at
    /// `steps[(f - origin) * stride]`; frames from `end` on do not exist yet. A sample is
    /// clipped when its magnitude reaches `candidate` and `threshold` and, for 32-bit PCM
    /// (whose codes a float cannot tell apart: `earlierCodes` not nil), its raw code reaches
    /// `exactCode`: the block's codes from `origin` on (`codes`), the frames before it from
    /// `earlierCodes`, both at `[(f - origin) * rowStride]`. Where the magnitude alone decides
    /// (`byMagnitude`), and for full groups of 32-bit PCM, the walk looks runs and gaps up in
    /// `stretches` (``Stretches``) instead of stepping through them.
    struct Lane {
        let samples: UnsafePointer<Float>
        let steps: UnsafePointer<Float>
        let stride: Int
        let origin: Int
        let end: Int
        let candidate: Float
        let threshold: Float
        let codes: UnsafePointer<Int32>?
        let earlierCodes: UnsafePointer<Int32>?
        let rowStride: Int
        let exactCode: Int64
        let stretches: Stretches?

        /// `hr_clip_stretches` for this lane over frames `first..<first+count`: for frame
        /// f, at `[(f - first) * stride]`, where its stretch of frames clipped as it is ends,
        /// relative to `first` (stored as ~end where f is clipped), the stretch's largest
        /// magnitude and true peak and its last frame over the margin (relative, -1: none).
        struct Stretches {
            let end: UnsafePointer<Int32>
            let peak: UnsafePointer<Float>
            let truePeak: UnsafePointer<Float>
            let lastHot: UnsafePointer<Int32>
            let first: Int
            let count: Int

            /// Lane `l`'s column of `table`, which holds `frames`.
            init(_ table: hr_stretches, lane l: Int, frames: Range<Int>) {
                end = UnsafePointer(table.end + l)
                peak = UnsafePointer(table.peak + l)
                truePeak = UnsafePointer(table.true_peak + l)
                lastHot = UnsafePointer(table.last_hot + l)
                (first, count) = (frames.lowerBound, frames.count)
            }
        }

        /// The stretch from frame `f` to the first frame not clipped as it is, as the tables
        /// give it: whether it is clipped, where it ends, its largest magnitude and true peak,
        /// and its last frame over the margin (nil: none). Nil where there are no tables or
        /// they do not hold `f`.
        @inline(__always)
        func stretch(at f: Int) -> (clipped: Bool, end: Int, peak: Float, truePeak: Float, lastHot: Int?)? {
            guard let t = stretches, f >= t.first, f < t.first &+ t.count else { return nil }
            let k = (f &- t.first) &* stride
            let end = Int(t.end[k])  // ~end where the frame is clipped
            let last = Int(t.lastHot[k])
            return (
                end < 0, t.first &+ (end < 0 ? ~end : end), t.peak[k], t.truePeak[k], last < 0 ? nil : t.first &+ last
            )
        }

        var byMagnitude: Bool { earlierCodes == nil }
        /// The magnitude from which a sample may be clipped: where that alone decides
        /// (`byMagnitude`), from which it is.
        var clipLevel: Float { byMagnitude ? max(candidate, threshold) : candidate }

        @inline(__always) func sample(_ f: Int) -> UnsafePointer<Float> { samples + (f &- origin) &* stride }
        @inline(__always) func step(_ f: Int) -> UnsafePointer<Float> { steps + (f &- origin) &* stride }
        @inline(__always) func magnitude(_ f: Int) -> Float { abs(sample(f).pointee) }

        /// Whether frame `f`, of magnitude `x`, is clipped.
        @inline(__always)
        func isClipped(_ f: Int, _ x: Float) -> Bool {
            guard x >= candidate else { return false }
            guard let earlierCodes else { return x >= threshold }
            let raw: Int32
            if f >= origin, let codes {
                raw = codes[(f &- origin) &* rowStride]
            } else {
                raw = earlierCodes[(f &- origin) &* rowStride]
            }
            return abs(Int64(raw)) >= exactCode
        }

        /// Where a clip run starts (`starting`) or ends at frame `f`, hands `detector` the
        /// run's side for the overshoot estimate: the nearest three unpinned samples away
        /// from the run. Frames before 0 or from `end` on do not exist.
        func edge(_ detector: inout ClipDetector, frame f: Int, starting: Bool) {
            @inline(__always) func unpinned(_ k: Int, _ sign: Float) -> Float? {
                guard f + k >= 0, f + k < end else { return nil }
                let v = sample(f + k).pointee
                return abs(v) >= candidate ? nil : v * sign
            }
            if starting {
                if let top = detector.plateau {
                    // The next piece of a top the last run left open: its entry is the top's.
                    if f <= top.next {
                        detector.runEntry = top.entry
                        return
                    }
                    detector.plateau = nil
                }
                let x = sample(f).pointee
                let sign: Float = x < 0 ? -1 : 1
                detector.runSign = sign
                detector.runLevel = abs(x)
                var side: Overshoot.Side?
                if let v1 = unpinned(-1, sign) {
                    let v2 = unpinned(-2, sign)
                    side = Overshoot.side(level: abs(x), v1, v2, v2 == nil ? nil : unpinned(-3, sign))
                }
                detector.runEntry = side
            } else {
                let sign = detector.runSign
                var side: Overshoot.Side?
                if let v1 = unpinned(0, sign) {
                    let v2 = unpinned(1, sign)
                    side = Overshoot.side(level: detector.runLevel, v1, v2, v2 == nil ? nil : unpinned(2, sign))
                }
                detector.runExit = side
                detector.runGoesOn = side == nil && resumes(after: f, sign: sign, level: detector.runLevel)
            }
        }

        /// Whether the run that ended at frame `f` (its first frame not clipped) is a piece of a
        /// wider top: a frame of its polarity clipped within ``ClipDetector/plateauGap`` frames
        /// after it, every frame before that within ``ClipDetector/plateauDip`` of the run's
        /// level. Reads at most that many frames ahead, which every block's walk has (it stops
        /// 6 frames short of the block's end), so where blocks end does not change the answer.
        @inline(__always)
        func resumes(after f: Int, sign: Float, level: Float) -> Bool {
            let floor = level * ClipDetector.plateauDip
            for k in 0...ClipDetector.plateauGap {
                guard f &+ k < end else { return false }
                let v = sample(f &+ k).pointee * sign
                if k > 0 && v > 0 && isClipped(f &+ k, v) { return true }
                guard v >= floor else { return false }
            }
            return false
        }

        /// The clipped frames from `first` on, before `end`: the first frame that is not (or
        /// `end`), and the largest magnitude and true peak among them. What ``extendRun``
        /// takes. From the table where it holds the whole run, else frame by frame (an event
        /// that may expire inside the run, a partial group of 32-bit PCM).
        @inline(__always)
        func clippedStretch(from first: Int, to end: Int) -> (end: Int, peak: Float, truePeak: Float) {
            var peak: Float = 0
            var truePeak: Float = 0
            guard first < end else { return (first, peak, truePeak) }
            if let s = stretch(at: first), !s.clipped || s.end <= end {
                return s.clipped ? (s.end, s.peak, s.truePeak) : (first, peak, truePeak)
            }
            var e = first
            while e < end {
                let x = magnitude(e)
                guard isClipped(e, x) else { break }
                peak = max(peak, x)
                truePeak = max(truePeak, max(x, step(e).pointee))
                e &+= 1
            }
            return (e, peak, truePeak)
        }
    }

    /// Frames that continue a qualified clip run, all over the margin: what ``feed`` would
    /// do for each of them, at once. `peak` and `truePeak` are their largest values.
    mutating func extendRun(count: Int, peak: Float, truePeak: Float) {
        runLength += count
        runPeak = max(runPeak, peak)
        runTruePeak = max(runTruePeak, truePeak)
        if eventOpen {
            peakSinceEventEnd = max(peakSinceEventEnd, peak)
            truePeakSinceEventEnd = max(truePeakSinceEventEnd, truePeak)
        }
        // The burst the run's first frames opened or joined goes on; it holds a clip.
        burstLast += count
        burstTruePeak = max(burstTruePeak, truePeak)
        burstHasClip = true
    }

    /// Frames from `first` while a clip event and a hot burst are open and every clipped frame
    /// is over the margin (fizzy clipping: short runs and gaps, one long event): what ``feed``
    /// does frame by frame, without its checks for what cannot happen here. The event cannot
    /// expire before the frame `holdFrames - 1` after its end, nor the burst close before the
    /// frame `burstHoldFrames` after its last, so a run that ends merges into the event and an
    /// over frame extends the burst. Returns the first frame not fed: that frame (or `end`),
    /// which goes through ``feed``. `lane` holds the frames.
    @inline(__always)
    mutating func feedOpen(
        first: Int,
        end: Int,
        lane: Lane,
        into events: inout [Event]
    ) -> Int {
        // The state that changes every frame lives in locals; it goes back into the fields
        // around what reads them (a run's edges, its qualification and its end). After
        // endRun and runQualified only the locals they change are read back: a full load()
        // there cost a quarter of the fizzy material's speed (runs of a few frames each).
        var f = first
        var expiry = event.endFrame &+ holdFrames &- 1
        var close = burstLast &+ burstHoldFrames
        var length = runLength
        var peak = runPeak
        var truePeakOfRun = runTruePeak
        var since = peakSinceEventEnd
        var trueSince = truePeakSinceEventEnd
        var last = burstLast
        var burstPeak = burstTruePeak
        var hasClip = burstHasClip
        @inline(__always) func store() {
            runLength = length
            runPeak = peak
            runTruePeak = truePeakOfRun
            peakSinceEventEnd = since
            truePeakSinceEventEnd = trueSince
            burstLast = last
            burstTruePeak = burstPeak
            burstHasClip = hasClip
        }
        @inline(__always) func load() {
            (length, peak, truePeakOfRun) = (runLength, runPeak, runTruePeak)
            (since, trueSince) = (peakSinceEventEnd, truePeakSinceEventEnd)
            (last, burstPeak, hasClip) = (burstLast, burstTruePeak, burstHasClip)
            close = last &+ burstHoldFrames
        }
        var inRun = runStart >= 0
        // Only a run's start and end branch on the signal; what every frame does is selects,
        // so fizzy material (a coin toss per frame) costs no mispredictions there.
        while f < end && f < expiry && f < close {
            if !inRun, let s = lane.stretch(at: f), s.end <= min(end, expiry),
                s.clipped || s.end <= last &+ burstHoldFrames
            {
                // A run, or a gap between runs, that ends before the event could expire (a gap:
                // before the burst could close), from the tables. A run's frames are all over
                // the margin: its last one is the burst's last, and once it qualifies the
                // burst holds a clip (the check below). Its end, the frame after it, goes
                // through the frames below. (The burst's peak is over the margin, so a frame
                // that is not cannot raise it.)
                if s.clipped {
                    lane.edge(&self, frame: f, starting: true)
                    (runStart, inRun) = (f, true)
                    (length, peak, truePeakOfRun) = (s.end &- f, s.peak, s.truePeak)
                    if length >= clipRun { runQualified() }
                }
                since = max(since, s.peak)
                trueSince = max(trueSince, s.truePeak)
                burstPeak = max(burstPeak, s.truePeak)
                if let hot = s.lastHot {
                    last = hot
                    close = last &+ burstHoldFrames
                    if !hasClip && qualifiedRunStart >= 0 && qualifiedRunStart <= last && qualifiedRunEnd > burstStart {
                        hasClip = true
                    }
                }
                f = s.end
                continue
            }
            if inRun && length >= clipRun {
                // Inside a qualified run, up to its end: the frames only lengthen it, and
                // every one is over the margin.
                let run = lane.clippedStretch(from: f, to: min(end, expiry))
                if run.end > f {
                    store()
                    extendRun(count: run.end &- f, peak: run.peak, truePeak: run.truePeak)
                    load()
                    f = run.end
                    continue
                }
            }
            let x = lane.magnitude(f)
            let truePeak = max(x, lane.step(f).pointee)
            let clipped = lane.isClipped(f, x)
            if clipped != inRun {
                inRun = clipped
                if clipped {
                    lane.edge(&self, frame: f, starting: true)
                    runStart = f
                    (length, peak, truePeakOfRun) = (0, 0, 0)
                } else {
                    lane.edge(&self, frame: f, starting: false)
                    store()
                    endRun(at: f, into: &events)
                    // A qualified run's end starts the maxima since the event's end afresh.
                    (length, since, trueSince) = (runLength, peakSinceEventEnd, truePeakSinceEventEnd)
                    expiry = event.endFrame &+ holdFrames &- 1
                }
            }
            length &+= clipped ? 1 : 0
            peak = clipped ? max(peak, x) : peak
            truePeakOfRun = clipped ? max(truePeakOfRun, truePeak) : truePeakOfRun
            if length == clipRun && clipped {
                store()
                runQualified()
                hasClip = burstHasClip
            }
            since = max(since, x)
            trueSince = max(trueSince, truePeak)
            let hot = truePeak > hotThreshold
            last = hot ? f : last
            close = hot ? f &+ burstHoldFrames : close
            burstPeak = hot ? max(burstPeak, truePeak) : burstPeak
            if !hasClip && hot && qualifiedRunStart >= 0 && qualifiedRunStart <= f && qualifiedRunEnd > burstStart {
                hasClip = true
            }
            f &+= 1
        }
        store()
        return f
    }

    /// ``feedHot(first:count:samples:steps:stride:into:)`` from a summary of the block that
    /// `hr_scan_hot` made for all lanes at once: relative to `first`, the first and last
    /// frame over the margin (`firstOver` infinite: none) and the largest distance between
    /// over frames, counted from the open burst's last frame; `peak` the largest over value.
    /// Returns false, having changed nothing, where a gap inside the block is long enough to
    /// close one burst and open another: only then does the caller walk the frames.
    mutating func feedHot(
        first: Int,
        count: Int,
        firstOver: Float,
        lastOver: Float,
        gap: Float,
        peak: Float,
        into events: inout [Event]
    ) -> Bool {
        let end = first + count
        if firstOver.isFinite {
            guard gap <= Float(burstHoldFrames) else { return false }
            if !burstOpen { over(frame: first + Int(firstOver), truePeak: peak, into: &events) }
            burstLast = first + Int(lastOver)
            burstTruePeak = max(burstTruePeak, peak)
        } else if !burstOpen {
            return true
        }
        if qualifiedRunStart >= 0 && qualifiedRunStart <= burstLast && qualifiedRunEnd > burstStart {
            burstHasClip = true
        }
        if end - 1 - burstLast >= burstHoldFrames { closeBurst(into: &events) }
        return true
    }

    /// Frames up to `next` (exclusive) had no clipped sample and no true peak over the margin.
    /// `truePeakBound` bounds their true peak (it only matters for an open clip event).
    mutating func skip(from first: Int, to next: Int, truePeakBound: Float, into events: inout [Event]) {
        guard next > first else { return }
        if runStart >= 0 { endRun(at: first, into: &events) }
        if eventOpen {
            truePeakSinceEventEnd = max(truePeakSinceEventEnd, truePeakBound)
        }
        expire(next: next, into: &events)
    }

    /// Ends the stream at `end` (exclusive): closes the run, the event and the burst.
    mutating func finish(at end: Int, into events: inout [Event]) {
        if runStart >= 0 { endRun(at: end, into: &events) }
        if eventOpen { emitClip(into: &events) }
        if burstOpen { closeBurst(into: &events) }
    }

    /// The channel's largest overshoot so far, counting the open event.
    var overshoot: (db: Double?, bound: Bool) {
        guard eventOpen else { return (maxOverDB, maxOverBound) }
        let open = openOver
        guard let db = open.db, db > (maxOverDB ?? -1) else { return (maxOverDB, maxOverBound) }
        return open
    }

    /// The open event's overshoot: its runs' estimate or, where its samples themselves stand
    /// above the clip level (float PCM past full scale, which keeps what an integer stream
    /// would cut off; a clip level under full scale), its true peak's height above the level,
    /// which is measured, not estimated (the runs' estimate read a float take 5.1 dB over as
    /// 4.8). Samples that stop at full scale (within a 16-bit step) stopped where the
    /// converter did: there the waveform went at least that far, and as far as the estimate
    /// says if that is further.
    private var openOver: (db: Double?, bound: Bool) {
        let estimate = eventOver.overDB
        guard eventPeak > clipLevel,
            let measured = Decibels.fromAmplitude(Double(max(eventTruePeak, eventPeak) / clipLevel))
        else { return (estimate, estimate != nil && eventOver.isBound) }
        guard abs(eventPeak - 1) <= 1.0 / 32768 else { return (measured, false) }
        if let estimate, estimate > measured { return (estimate, eventOver.isBound) }
        return (measured, true)
    }

    /// True while a clip event is open or a clip run is in progress.
    var isClipping: Bool { eventOpen || runLength >= clipRun }

    /// Clipped samples not yet in a closed event: the open event's, and a qualifying run's
    /// still going on. Added to the closed events' count it only grows, and once the event
    /// closes it is that event's `clipped_samples`.
    var openClippedSamples: Int { (eventOpen ? event.clippedSamples : 0) + (runLength >= clipRun ? runLength : 0) }

    /// Where the clipping began: the open event's first frame, else the last qualifying run's
    /// (nil: none yet).
    var clippingSince: Int? { eventOpen ? event.startFrame : qualifiedRunStart >= 0 ? qualifiedRunStart : nil }

    // MARK: - Rules

    private mutating func runQualified() {
        qualifiedRuns += 1
        qualifiedRunStart = runStart
        qualifiedRunEnd = Int.max
        if burstOpen && burstLast + 1 > runStart { burstHasClip = true }
    }

    private mutating func endRun(at end: Int, into events: inout [Event]) {
        // A run that is a piece of a wider top adds no estimate of its own: the top's last
        // piece makes the top's, from the first piece's entry to its own exit.
        let goesOn = runGoesOn
        let topQualified = runLength >= clipRun || plateau?.qualified == true
        var ratio: Float?
        if goesOn {
            var top = plateau ?? Plateau(start: runStart, entry: runEntry)
            (top.next, top.qualified) = (end + Self.plateauGap, topQualified)
            plateau = top
        } else {
            let length = plateau.map { end - $0.start } ?? runLength
            if let entry = runEntry, let exit = runExit {
                ratio = Overshoot.ratio(level: runLevel, length: length, entry: entry, exit: exit)
            }
            plateau = nil
        }
        defer {
            runStart = -1
            runLength = 0
            runEntry = nil
            runExit = nil
            runGoesOn = false
        }
        guard runLength >= clipRun else {
            // The last piece of a top that qualified belongs to the event with the top.
            if eventOpen && !goesOn {
                if topQualified { eventOver.add(ratio) } else { pendingOver.add(ratio) }
            }
            return
        }
        qualifiedRunEnd = end
        if eventOpen && runStart - event.endFrame < holdFrames {
            eventOver.merge(pendingOver)
            if !goesOn { eventOver.add(ratio) }
            pendingOver = Overshoot.Tally()
            event.endFrame = end
            event.clippedSamples += runLength
            event.runs += 1
            event.longestRun = max(event.longestRun, runLength)
            eventPeak = max(eventPeak, max(peakSinceEventEnd, runPeak))
            eventTruePeak = max(eventTruePeak, max(truePeakSinceEventEnd, runTruePeak))
        } else {
            if eventOpen { emitClip(into: &events) }
            eventOpen = true
            eventOver = Overshoot.Tally()
            if !goesOn { eventOver.add(ratio) }
            pendingOver = Overshoot.Tally()
            event.startFrame = runStart
            event.endFrame = end
            event.clippedSamples = runLength
            event.runs = 1
            event.longestRun = runLength
            eventPeak = runPeak
            eventTruePeak = runTruePeak
        }
        peakSinceEventEnd = 0
        truePeakSinceEventEnd = 0
    }

    private mutating func over(frame: Int, truePeak: Float, into events: inout [Event]) {
        if burstOpen && frame - (burstLast + 1) < burstHoldFrames {
            burstLast = frame
            burstTruePeak = max(burstTruePeak, truePeak)
        } else {
            if burstOpen { closeBurst(into: &events) }
            burstOpen = true
            burstStart = frame
            burstLast = frame
            burstTruePeak = truePeak
            burstHasClip = false
        }
        if qualifiedRunStart >= 0 && qualifiedRunStart <= frame && qualifiedRunEnd > burstStart {
            burstHasClip = true
        }
    }

    /// Closes what no future frame can extend, given that frames before `next` are done.
    private mutating func expire(next: Int, into events: inout [Event]) {
        if eventOpen && next - event.endFrame >= holdFrames
            && (runStart < 0 || runStart - event.endFrame >= holdFrames)
        {
            emitClip(into: &events)
        }
        if burstOpen && next - (burstLast + 1) >= burstHoldFrames {
            closeBurst(into: &events)
        }
    }

    private mutating func emitClip(into events: inout [Event]) {
        eventOpen = false
        event.peakDBFS = Decibels.fromAmplitude(Double(eventPeak)) ?? 0
        event.truePeakDBTP = Decibels.fromAmplitude(Double(max(eventTruePeak, eventPeak))) ?? 0
        let over = openOver
        event.overDB = over.db.map { ($0 * 100).rounded() / 100 }
        event.overBound = over.bound
        if let over = event.overDB, over > (maxOverDB ?? -1) {
            maxOverDB = over
            maxOverBound = event.overBound
        }
        clipEvents += 1
        clippedSamples += event.clippedSamples
        events.append(.clip(event))
    }

    private mutating func closeBurst(into events: inout [Event]) {
        burstOpen = false
        guard !burstHasClip else { return }
        hotEvents += 1
        events.append(
            .hot(
                HotEvent(
                    channel: channel,
                    startFrame: burstStart,
                    endFrame: burstLast + 1,
                    truePeakDBTP: Decibels.fromAmplitude(Double(burstTruePeak)) ?? 0
                )
            )
        )
    }
}
