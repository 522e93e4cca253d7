import CHeadroomKernels
import Foundation
import Synchronization

/// The per-channel analyzer of SPEC's *Definitions*, streaming: feed it interleaved
/// blocks of any size with ``process(_:frames:)``; state (filter delay lines, clip runs,
/// hot bursts, open events) carries across block boundaries. Events appear in
/// ``events`` as soon as they are final; call ``finish()`` at the end of the stream.
///
/// How a block is analyzed:
/// 1. Samples are converted to float lanes, channels in SIMD lanes (4, 8 or 16 wide), in one
///    pass over the block; then, per 64-frame chunk, each lane's peak and largest step
///    between frames are taken (and the block's sum of squares).
/// 2. The BS.1770-4 Annex 2 filter runs over the chunks where an interpolated point could
///    matter. ``TruePeakFilter/bound(peak:slope:)`` bounds every point of a chunk from
///    its peak and largest step; where that bound is below every lane's running true
///    peak and the hot threshold, the exact answer is already known and the chunk is
///    skipped. A block with a sample near clipping or an open clip event is filtered
///    whole; so is every block with `exactBlockPeaks` (live meters).
/// 3. Lanes where something happened (a sample near clipping, a true peak over the
///    margin) are walked run by run through their ``ClipDetector`` (``walk``, all such
///    lanes of a group together, 256 frames at a time: only run edges and an event's
///    expiry are fed frame by frame; a run's frames, the frames up to the next clip and, in
///    an open event and burst, the gaps between runs are looked up in a table that one
///    vector pass over the group makes, `hr_clip_stretches` in `clips.c`, and the rest of
///    ``ClipDetector/feedOpen`` is a branch-free frame loop); where nothing can
///    clip, a vector pass over the group (`hr_scan_hot`) summarizes the hot frames and
///    ``ClipDetector/feedHot(first:count:firstOver:lastOver:gap:peak:into:)`` takes the
///    summary. The others skip ahead in one step.
/// 4. Flat tops: lobes are tracked and judged in C (``trackLobes``).
///
/// With `threads: 2`, steps 2 to 4 are split between two threads, a group's flat-top
/// tracking (step 4) and the rest of its analysis (steps 2 and 3) each going to the thread
/// with less to do by the cost they had in the last blocks.
/// All buffers are allocated in `init`; `process` does not allocate (the `events` arrays
/// reserve room up front and only grow past 4096 pending events).
public final class Analyzer {
    public let channels: Int
    /// Frames per second; sets `clip_hold` in frames and event times.
    public let rate: Int
    public let layout: SampleLayout
    public let settings: AnalysisSettings
    /// The largest block handed to the filter at once; longer inputs are split.
    public let maxBlockFrames: Int
    /// Run the filter on every block so ``ChannelLevels/blockTruePeak`` is exact.
    public let exactBlockPeaks: Bool
    /// Lanes that cannot clip in a block go through ``ClipDetector/feedHot`` in bulk, and
    /// lanes that can are walked run by run; off, every walked frame goes through
    /// ``ClipDetector/feed`` (the reference: tests and `headroom-bench` compare the two).
    public var bulkHotWalk = true
    /// With a second thread (`threads: 2`), blocks of 256 frames or more are split across
    /// both. A recorder turns this off while it keeps up with real time (waking a thread
    /// every period costs more than it saves) and on when blocks queue up.
    public var splitsBlocks = true
    /// With blocks split across two threads, both convert each block to floats, half its rows
    /// each, and meet before their units; off, the calling thread converts it alone while the
    /// other waits. On where the two threads have the machine to themselves (`analyze`: the
    /// in-memory benchmark's two threads went from 1.22x one to 1.58x on session material,
    /// medians of six alternating runs); off in a recorder, whose capture and writer threads
    /// share the cores (with it, an unpaced `record` took 8 % longer and 9 % more CPU: the
    /// threads meet twice a block).
    public var splitsConversion = false
    /// Flat-top detection (``FlatDetector``) runs; `headroom-bench analyzer` turns it off to
    /// measure what it costs. Set before the first block.
    public var detectsFlatTops = true

    /// Events that became final, oldest first. The caller takes them and empties the array.
    public var events: [Event] = []
    /// Frames analyzed so far.
    public private(set) var frameCount = 0

    private let width: Int
    private let groups: Int
    private let groupStride: Int  // floats per group in `input`
    private let input: UnsafeMutablePointer<Float>
    private let steps: UnsafeMutablePointer<Float>
    /// 32-bit PCM only, for exact clip checks: the raw samples of the last 6 frames of the
    /// previous block (the current block is read where it lies, `currentBlock`).
    private let shadow: UnsafeMutablePointer<Int32>?
    private var currentBlock: UnsafePointer<Int32>?
    private let coefficients: UnsafeMutablePointer<Float>
    /// Working memory of the block pipeline: one for this thread, one for the second
    /// analyzer thread when there is one.
    private let scratch: [Scratch]
    /// A second thread that takes part of the work of each long block.
    private let helper: GroupWorker?
    /// A block's work comes in units: unit 2g is group g's flat-top tracking, 2g + 1 the rest
    /// of its analysis. Split across two threads, the units this thread and the second one
    /// run (bit u: unit u), and the events each found, `spans` saying which of them came from
    /// which unit ([start, end) per unit) so they go into `events` in the order one thread
    /// would make them.
    private var ownUnits: UInt64 = 0
    private var helperUnits: UInt64 = 0
    private var ownEvents: [Event] = []
    private var helperEvents: [Event] = []
    private let spans: UnsafeMutablePointer<Int>
    /// Every unit (at most 32 groups of 8 lanes, 64 units).
    private var allUnits: UInt64 { UInt64.max >> (64 - 2 * groups) }
    /// What each unit cost (seconds, smoothed over blocks), for the next split.
    private let unitCost: UnsafeMutablePointer<Double>
    /// What the caller's work beside a split block cost in the last blocks (seconds); 0 without
    /// any (a tie leaves the dearest unit on the calling thread: when that thread converted the
    /// whole block and had it in its cache, giving it to the second made `analyze` 15 % slower).
    private var alongsideCost = 0.0
    /// The block the second thread is working on: where its raw frames lie when the second
    /// half of their rows is that thread's to convert (nil: converted), and their count.
    private var helperBlockStart: UnsafeRawPointer?
    private var helperFrames = 0
    private let detectors: UnsafeMutablePointer<ClipDetector>
    private let flats: UnsafeMutablePointer<FlatDetector>
    private let state: UnsafeMutablePointer<ChannelLevels>
    /// Flat-top lobes, per group: sign, peak, peak frame and start frame of each lane's open
    /// lobe (frames relative to the block being analyzed), and the lane's gate: one row of
    /// `width` floats each.
    private let lobeState: UnsafeMutablePointer<Float>
    /// Per group, each lane's rule-B state (nil past the last channel).
    private let flatLanes: UnsafeMutablePointer<UnsafeMutablePointer<hr_flat_lane>?>
    /// Earlier frames of each group, lane by lane (frame f at `f & (ringFrames - 1)`), for
    /// rule A's measurement of lobes that began in earlier blocks: each block leaves there
    /// the frames from where its lanes' open lobes began (``trackLobes``), and
    /// `ringValid[g]` is the first frame the ring holds without a gap.
    private let ring: UnsafeMutablePointer<Float>
    private let ringFrames: Int
    private let ringValid: UnsafeMutablePointer<Int>

    private let clipThreshold: Float
    private let clipCandidate: Float
    private let exactClipCode: Int64
    private let hotThreshold: Float
    private let gainInterval: Int
    private var nextGainCheck = 0
    private var lastGain: [GainProposal]

    private static let history = TruePeakFilter.historyFrames
    private static let delay = TruePeakFilter.delayFrames
    /// A `handoffSpin` for two analyzer threads that have the machine to themselves: longer
    /// than the calling thread's work between two blocks (reading the next, converting it), so
    /// neither thread sleeps while a file is analyzed. `analyze` of a 30 s, 32-channel 96 kHz
    /// file took 0.39-0.41 s with it, 0.44-0.46 s with the default (five runs each, alternated).
    public static let idleHandoffSpin = 1e-3

    /// The channels an analyzer takes: a MADI card's 64 and up to four of them, a Dante
    /// card's 128, RME's MADI FX with its 194. (Two bits a group in ``allUnits``: 32 groups
    /// of 8 lanes at most.)
    public static let channelRange = 1...256

    /// - Parameters:
    ///   - channels: 1 to 256 (``channelRange``).
    ///   - rate: frames per second, 8000 to 384000.
    ///   - layout: how samples sit in the blocks passed to ``process(_:frames:)``.
    ///   - maxBlockFrames: the filter's working block, frames.
    ///   - exactBlockPeaks: run the filter on every block (for meters).
    ///   - threads: 2 to split the work of each long block with a second thread (only with
    ///     two groups or more: more than 16 channels on AVX, 8 else).
    ///   - converterBits: the converter's significant bits when they are fewer than the
    ///     layout's (``CaptureSource/converterBits``): samples clip at its full scale.
    ///   - largestCode: a codec's largest magnitude in the layout's codes when it is under
    ///     the layout's full scale (``AudioFileReader/largestCode``: G.711's μ-law, 32124 of
    ///     32768): samples clip there.
    ///   - handoffSpin: with two threads, the seconds each spins waiting for the other before
    ///     it sleeps. A sleeper's wake-up costs tens of microseconds on a virtual machine, about
    ///     what a block's share of session material does. The default leaves the cores to a
    ///     recorder's capture and writer threads; with nothing else to run (`analyze` of one
    ///     file), ``idleHandoffSpin`` keeps both threads awake between blocks.
    public init(
        channels: Int,
        rate: Int,
        layout: SampleLayout,
        settings: AnalysisSettings,
        maxBlockFrames: Int = 2048,
        exactBlockPeaks: Bool = false,
        threads: Int = 1,
        converterBits: Int? = nil,
        largestCode: Int? = nil,
        handoffSpin: Double = 30e-6
    ) {
        precondition(Self.channelRange.contains(channels), "channels must be in \(Self.channelRange)")
        precondition((8000...384_000).contains(rate), "rate must be 8000...384000")
        self.channels = channels
        self.rate = rate
        self.layout = layout
        self.settings = settings
        self.maxBlockFrames = max(maxBlockFrames, 16)
        self.exactBlockPeaks = exactBlockPeaks
        width = Self.laneWidth(channels: channels)
        groups = (channels + width - 1) / width
        groupStride = (Self.history + self.maxBlockFrames) * width
        input = Self.allocate(Float.self, count: groups * groupStride)
        steps = Self.allocate(Float.self, count: groups * self.maxBlockFrames * width)
        if layout == .int32(bits: 32) {
            shadow = Self.allocate(Int32.self, count: Self.delay * channels)
        } else {
            shadow = nil
        }
        coefficients = Self.allocate(Float.self, count: TruePeakFilter.folded.count)
        let chunks = (self.maxBlockFrames + Self.chunkFrames - 1) / Self.chunkFrames
        let threads = groups >= 2 ? min(max(threads, 1), 2) : 1
        let lanes = width
        scratch = (0..<threads).map { _ in Scratch(width: lanes, chunks: chunks) }
        helper = threads > 1 ? GroupWorker(spin: handoffSpin) : nil
        spans = .allocate(capacity: 2 * 2 * groups)
        spans.initialize(repeating: 0, count: 2 * 2 * groups)
        unitCost = .allocate(capacity: 2 * groups)
        unitCost.initialize(repeating: 0, count: 2 * groups)
        for (i, c) in TruePeakFilter.folded.enumerated() { coefficients[i] = c }
        let clip = Decibels.toAmplitude(settings.clipLevelDBFS)
        // A converter of fewer bits than the layout's (a 16-bit card read as S24_3LE): its
        // full scale is SPEC's, its largest code moved up into the layout's.
        let significant = layout.bits.map { min(converterBits ?? $0, $0) } ?? converterBits.map { min($0, 24) }
        if let bits = layout.bits, let significant {
            // SPEC: the maximum code at 0 dBFS. Words wider than 24 bits clip within one
            // 24-bit step of it, as floats do: a 24-bit converter's codes in S32_LE (the
            // only format many USB interfaces offer), and a sound server's 0.99999988 made
            // into S32, top out at 0x7FFFFF00, and SPEC's literal 0x7FFFFFFF never came. A
            // codec's largest code is its maximum (μ-law's 32124).
            let maxCode =
                if let largestCode, significant == bits {
                    Double(largestCode)
                } else if significant > 24 {
                    Double((Int64(1) << (significant - 1)) - (Int64(1) << (significant - 24)))
                } else {
                    Double((Int64(1) << (significant - 1)) - 1)
                }
            let code =
                (clip * maxCode).rounded(.toNearestOrAwayFromZero) * Double(Int64(1) << (bits - significant))
            let fullScale = Double(Int64(1) << (bits - 1))
            clipThreshold = Float(code / fullScale)  // exact for bits <= 24, and at 0 dBFS
            exactClipCode = Int64(code) << (32 - bits)
            clipCandidate = bits > 24 ? Float(code / fullScale * (1 - 1e-6)) : clipThreshold
        } else {
            // Float: within one 24-bit step of the level, so a 24-bit converter's largest
            // code (0.99999988) counts as full scale; within one step of a narrower
            // converter's (a 16-bit card's 0.99996948).
            let step = 1.0 / Double(Int64(1) << ((significant ?? 24) - 1))
            clipThreshold = Float(clip * (1 - step))
            clipCandidate = clipThreshold
            exactClipCode = 0
        }
        detectors = .allocate(capacity: channels)
        flats = .allocate(capacity: channels)
        state = .allocate(capacity: channels)
        for c in 0..<channels {
            (detectors + c).initialize(to: ClipDetector(channel: c, settings: settings, rate: rate))
            (flats + c).initialize(
                to: FlatDetector(channel: c, rate: rate, bits: significant, clipCandidate: clipCandidate)
            )
            (state + c).initialize(to: ChannelLevels())
        }
        lobeState = Self.allocate(Float.self, count: groups * 5 * width)
        for g in 0..<groups {
            (lobeState + g * 5 * width).update(repeating: 1, count: width)
            (lobeState + g * 5 * width + 4 * width).update(repeating: .infinity, count: width)
        }
        flatLanes = .allocate(capacity: groups * width)
        flatLanes.initialize(repeating: nil, count: groups * width)
        for c in 0..<channels { flatLanes[c] = flats[c].lane }
        var frames = Self.lobeLookback  // a power of two
        while frames < 2 * self.maxBlockFrames { frames *= 2 }
        ringFrames = frames
        ring = Self.allocate(Float.self, count: groups * frames * width)
        ringValid = Self.allocate(Int.self, count: groups)
        ringValid.update(repeating: Int.min / 2, count: groups)
        hotThreshold = Float(Decibels.toAmplitude(-settings.marginDB))
        gainInterval = max(rate / 2, 1)
        lastGain = Array(repeating: GainProposal(reason: .noSignal, changeDB: nil), count: channels)
        events.reserveCapacity(4096)
        ownEvents.reserveCapacity(4096)
        helperEvents.reserveCapacity(4096)
        helper?.start(self)
    }

    deinit {
        input.deallocate()
        steps.deallocate()
        shadow?.deallocate()
        coefficients.deallocate()
        helper?.stop()
        spans.deallocate()
        unitCost.deallocate()
        for area in scratch { area.deallocate() }
        detectors.deinitialize(count: channels).deallocate()
        for c in 0..<channels { flats[c].deallocate() }
        flats.deinitialize(count: channels).deallocate()
        state.deinitialize(count: channels).deallocate()
        lobeState.deallocate()
        flatLanes.deallocate()
        ring.deallocate()
        ringValid.deallocate()
    }

    /// Channels per SIMD group: 4 for up to 4 channels, else 8; on x86-64 with AVX, 16
    /// where that adds no empty lanes (9 to 16 channels, 25 to 32, ...). Sixteen lanes run
    /// the filter as two independent AVX2 chains or one AVX-512 one: on the 32-channel
    /// benchmark, 1.2x (AVX2) to 2.2x (AVX-512) the throughput of eight.
    static func laneWidth(channels: Int) -> Int {
        if channels <= 4 { return 4 }
        #if arch(x86_64) && !HEADROOM_SSE_ONLY
        let lanes8 = (channels + 7) / 8 * 8
        let lanes16 = (channels + 15) / 16 * 16
        if channels > 8 && lanes16 <= lanes8 { return 16 }
        #endif
        return 8
    }

    private static func allocate<T>(_: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<T>.stride, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1) * MemoryLayout<T>.stride)
        return raw.assumingMemoryBound(to: T.self)
    }

    // MARK: - Feeding

    /// Analyzes `frames` interleaved frames at `samples`, laid out as ``layout`` says.
    /// `samples` must be aligned for the sample type (2 or 4 bytes; any for 24-bit packed).
    public func process(_ samples: UnsafeRawPointer, frames: Int) {
        blocks(samples, frames: frames, alongside: nil)
    }

    /// ``process(_:frames:)``, handing `alongside` each block (its frames and their count) on
    /// the calling thread, in order: while the second thread analyzes its share of the block
    /// when the block is split, which then gives that thread more to do; after the block
    /// otherwise. (A recorder measures the take's loudness there.)
    public func process(
        _ samples: UnsafeRawPointer,
        frames: Int,
        alongside: (_ block: UnsafeRawPointer, _ frames: Int) -> Void
    ) {
        withoutActuallyEscaping(alongside) { blocks(samples, frames: frames, alongside: $0) }
    }

    private func blocks(
        _ samples: UnsafeRawPointer,
        frames: Int,
        alongside: ((_ block: UnsafeRawPointer, _ frames: Int) -> Void)?
    ) {
        let frameBytes = channels * layout.bytesPerSample
        var done = 0
        while done < frames {
            let n = min(maxBlockFrames, frames - done)
            processBlock(samples + done * frameBytes, frames: n, alongside: alongside)
            done += n
        }
    }

    /// Loads `frames` frames (at most 11 are kept) into the filter's delay line without
    /// analyzing them, so the stream does not start from silence. SPEC's true peak starts
    /// from a zero delay line (what `analyze` and the takes' logs use); a soundcheck that
    /// starts listening mid-signal primes the filter instead, so the step from silence to
    /// its first sample does not read as an intersample peak. Call before ``process``.
    public func prime(_ samples: UnsafeRawPointer, frames: Int) {
        precondition(frameCount == 0, "prime before the first block")
        let n = min(frames, maxBlockFrames)
        guard n > 0 else { return }
        convert(samples, rows: 0..<n)
        for g in 0..<groups {
            let base = input + g * groupStride
            base.update(from: base + n * width, count: Self.history * width)
        }
    }

    /// Ends the stream: the last frames are judged, open runs, events and bursts close.
    /// Call once; the analyzer then only answers questions.
    public func finish() {
        let end = frameCount
        for c in 0..<channels {
            let first = max(end - Self.delay, 0)
            let lane = clipLane(channel: c, blockStart: end, frames: 0)
            // The last frames have no interpolated points: the filter needs samples after them.
            for f in first..<end { feed(channel: c, lane: lane, frame: f, into: &events) }
            detectors[c].finish(at: end, into: &events)
            flats[c].finish(at: end, into: &events)
        }
        checkGain(force: true, since: events.count)
    }

    // MARK: - Results

    /// The true peak of channel `c`'s last block (``ChannelLevels/blockTruePeak``), without
    /// building the rest of its levels: the recorder keeps it for the meter after every block.
    public func blockTruePeak(channel c: Int) -> Float { state[c].blockTruePeak }

    /// Levels and counts of channel `c` (0-based) so far.
    public func levels(channel c: Int) -> ChannelLevels {
        var levels = state[c]
        let d = detectors[c]
        levels.clipEvents = d.clipEvents + (d.eventOpen ? 1 : 0)
        levels.closedClipEvents = d.clipEvents
        levels.clippedSamples = d.clippedSamples + d.openClippedSamples
        levels.openClippedSamples = d.openClippedSamples
        levels.hotEvents = d.hotEvents
        levels.qualifiedRuns = d.qualifiedRuns
        levels.clippingSince = d.clippingSince
        levels.isClipping = d.isClipping
        if d.burstOpen && !d.burstHasClip {
            levels.hotSince = d.burstStart
            levels.hotTruePeak = d.burstTruePeak
        }
        let flat = flats[c].figures
        levels.flatEvents = flat.events
        let newest = flats[c].newest
        levels.newestFlatEvent = newest.number
        levels.flatStartFrame = newest.number > 0 ? newest.start : nil
        levels.flatLevelDBFS = flat.level
        levels.flatOverDB = flat.over
        let over = d.overshoot
        levels.overDB = over.db
        levels.overBound = over.bound
        return levels
    }

    /// The summary of channel `c` (0-based) so far, with its gain proposal.
    public func summary(channel c: Int) -> ChannelSummary {
        let l = levels(channel: c)
        let truePeak = Decibels.fromAmplitude(Double(max(l.truePeak, l.samplePeak)))
        let rms = frameCount > 0 ? Decibels.fromAmplitude((l.sumSquares / Double(frameCount)).squareRoot()) : nil
        let overs = Overs(
            clipOverDB: l.overDB,
            clipOverBound: l.overBound,
            flatLevelDBFS: l.flatLevelDBFS,
            flatOverDB: l.flatOverDB
        )
        let proposal = GainAdvisor.propose(
            truePeakDBTP: truePeak,
            clipped: l.clipEvents > 0,
            flat: l.flatEvents > 0,
            overs: overs,
            settings: settings
        )
        return ChannelSummary(
            channel: c,
            peakDBFS: Decibels.fromAmplitude(Double(l.samplePeak)),
            truePeakDBTP: truePeak,
            rmsDBFS: rms,
            clipEvents: l.clipEvents,
            clippedSamples: l.clippedSamples,
            hotEvents: l.hotEvents,
            flatEvents: l.flatEvents,
            overs: overs,
            clipLevelDBFS: settings.clipLevelDBFS,
            proposal: proposal
        )
    }

    // MARK: - The block pipeline

    private func processBlock(
        _ src: UnsafeRawPointer,
        frames n: Int,
        alongside: ((_ block: UnsafeRawPointer, _ frames: Int) -> Void)?
    ) {
        let firstEvent = events.count
        // 32-bit PCM: the clip walk reads this block's raw codes where they lie.
        if shadow != nil { currentBlock = UnsafePointer(src.assumingMemoryBound(to: Int32.self)) }
        if helper != nil && splitsBlocks && n >= 256 {
            // The block converted (half its rows by each thread, which then wait for each
            // other, with `splitsConversion`), the units run in parallel on both threads;
            // then their events go out in the order one thread finds them.
            assignUnits()
            (helperBlockStart, helperFrames) = (splitsConversion ? src : nil, n)
            if splitsConversion {
                helper!.begin()
                convert(src, rows: 0..<n / 2)
                helper!.meet(helper: false)
            } else {
                convert(src, rows: 0..<n)
                helper!.begin()
            }
            analyzeUnits(ownUnits, frames: n, scratch: scratch[0], into: &ownEvents, timed: true)
            if let alongside {
                let start = MonotonicClock.now()
                alongside(src, n)
                alongsideCost = 0.75 * alongsideCost + 0.25 * (MonotonicClock.now() - start)
            }
            helper!.wait()
            for u in 0..<2 * groups {
                let from = ownUnits & (1 << u) != 0 ? ownEvents : helperEvents
                events.append(contentsOf: from[spans[2 * u]..<spans[2 * u + 1]])
            }
            ownEvents.removeAll(keepingCapacity: true)
            helperEvents.removeAll(keepingCapacity: true)
        } else {
            convert(src, rows: 0..<n)
            analyzeUnits(allUnits, frames: n, scratch: scratch[0], into: &events, timed: false)
            alongside?(src, n)
        }
        frameCount += n
        // Keep the last 11 frames as the next block's history.
        for g in 0..<groups {
            let base = input + g * groupStride
            (base).update(from: base + n * width, count: Self.history * width)
        }
        if let shadow, let block = currentBlock {
            // The last 6 frames of (history ++ block) become the history.
            let keep = Self.delay * channels
            if n >= Self.delay {
                shadow.update(from: block + (n - Self.delay) * channels, count: keep)
            } else {
                shadow.update(from: shadow + n * channels, count: keep - n * channels)
                (shadow + keep - n * channels).update(from: block, count: n * channels)
            }
        }
        currentBlock = nil
        checkGain(force: false, since: firstEvent)
    }

    /// The second thread's share of the block being processed.
    fileprivate func helperBlock() {
        if let block = helperBlockStart {
            convert(block, rows: helperFrames / 2..<helperFrames)
            helper!.meet(helper: true)
        }
        analyzeUnits(helperUnits, frames: helperFrames, scratch: scratch[1], into: &helperEvents, timed: true)
    }

    /// Splits the units between the two threads so that each has about as much to do, by
    /// what the units cost in the last blocks, the calling thread's work `alongside` counted
    /// as its own: the dearest first, each to the thread with less so far (before any block
    /// is timed: the upper half of the groups to the second thread).
    private func assignUnits() {
        let count = 2 * groups
        var own: UInt64 = 0
        var helper: UInt64 = 0
        if unitCost[count - 1] == 0 {
            for u in 0..<count { if u < count / 2 { own |= 1 << u } else { helper |= 1 << u } }
        } else {
            var loads = (alongsideCost, 0.0)
            var left = allUnits
            while left != 0 {
                var dearest = -1
                for u in 0..<count where left & (1 << u) != 0 {
                    if dearest < 0 || unitCost[u] > unitCost[dearest] { dearest = u }
                }
                left &= ~(1 << dearest)
                if loads.0 <= loads.1 {
                    own |= 1 << dearest
                    loads.0 += unitCost[dearest]
                } else {
                    helper |= 1 << dearest
                    loads.1 += unitCost[dearest]
                }
            }
        }
        (ownUnits, helperUnits) = (own, helper)
    }

    /// Runs the units of `mask` in order into `events`, noting each one's span of events and,
    /// with `timed`, its cost.
    private func analyzeUnits(
        _ mask: UInt64,
        frames n: Int,
        scratch: Scratch,
        into events: inout [Event],
        timed: Bool
    ) {
        for u in 0..<2 * groups where mask & (1 << u) != 0 {
            let start = timed ? MonotonicClock.now() : 0
            spans[2 * u] = events.count
            let g = u / 2
            if u % 2 == 0 {
                if detectsFlatTops {
                    trackLobes(
                        group: g,
                        lanes: min(width, channels - g * width),
                        frames: n,
                        scratch: scratch,
                        into: &events
                    )
                }
            } else {
                analyzeGroup(g, frames: n, scratch: scratch, into: &events)
            }
            spans[2 * u + 1] = events.count
            if timed { unitCost[u] = 0.75 * unitCost[u] + 0.25 * max(MonotonicClock.now() - start, 1e-9) }
        }
    }

    private func analyzeGroup(_ g: Int, frames n: Int, scratch: Scratch, into events: inout [Event]) {
        if width == 4 {
            analyzeGroup(SIMD4<Float>.self, g, frames: n, scratch: scratch, into: &events)
        } else if width == 8 {
            analyzeGroup(SIMD8<Float>.self, g, frames: n, scratch: scratch, into: &events)
        } else {
            analyzeGroup(SIMD16<Float>.self, g, frames: n, scratch: scratch, into: &events)
        }
    }

    /// Frames `rows` of the raw interleaved block at `block` to float lanes:
    /// `input[g][history + i][l]` for frame i (two threads can share a block by its rows:
    /// `splitsConversion`). Full groups go in one pass over the rows, a vector load, convert
    /// and store each (the block arrives from another core: each cache line is fetched once);
    /// a last, partial group goes lane by lane, and packed 24-bit samples group by group, four
    /// to a byte shuffle (`hr_unpack24`).
    private func convert(_ block: UnsafeRawPointer, rows: Range<Int>) {
        let src = block + rows.lowerBound * channels * layout.bytesPerSample
        let n = rows.count
        let out = input + (Self.history + rows.lowerBound) * width
        let full = channels / width
        var done = full
        let s32: Float = 1.0 / 2_147_483_648
        let s16: Float = 1.0 / 32768
        switch (layout, width) {
        case (.int32, 16):
            convertRows(src, out, frames: n, groups: full) { (v: SIMD16<Int32>) in SIMD16<Float>(v) * s32 }
        case (.int24InInt32, 16):
            convertRows(src, out, frames: n, groups: full) { (v: SIMD16<Int32>) in SIMD16<Float>(v &<< 8) * s32 }
        case (.int16, 16):
            convertRows(src, out, frames: n, groups: full) { (v: SIMD16<Int16>) in SIMD16<Float>(v) * s16 }
        case (.float32, 16): convertRows(src, out, frames: n, groups: full) { (v: SIMD16<Float>) in Self.finite(v) }
        case (.int32, 8): convertRows(src, out, frames: n, groups: full) { (v: SIMD8<Int32>) in SIMD8<Float>(v) * s32 }
        case (.int32, _): convertRows(src, out, frames: n, groups: full) { (v: SIMD4<Int32>) in SIMD4<Float>(v) * s32 }
        case (.int24InInt32, 8):
            convertRows(src, out, frames: n, groups: full) { (v: SIMD8<Int32>) in SIMD8<Float>(v &<< 8) * s32 }
        case (.int24InInt32, _):
            convertRows(src, out, frames: n, groups: full) { (v: SIMD4<Int32>) in SIMD4<Float>(v &<< 8) * s32 }
        case (.int16, 8): convertRows(src, out, frames: n, groups: full) { (v: SIMD8<Int16>) in SIMD8<Float>(v) * s16 }
        case (.int16, _): convertRows(src, out, frames: n, groups: full) { (v: SIMD4<Int16>) in SIMD4<Float>(v) * s16 }
        case (.float32, 8): convertRows(src, out, frames: n, groups: full) { (v: SIMD8<Float>) in Self.finite(v) }
        case (.float32, _): convertRows(src, out, frames: n, groups: full) { (v: SIMD4<Float>) in Self.finite(v) }
        case (.int24Packed, _): done = 0  // every group in convertGroup, four samples a shuffle
        }
        for g in done..<groups {
            convertGroup(
                src,
                out + g * groupStride,
                frames: n,
                first: g * width,
                lanes: min(width, channels - g * width)
            )
        }
    }

    @inline(__always)
    private func convertRows<I: SIMD, V: SIMD>(
        _ src: UnsafeRawPointer,
        _ first: UnsafeMutablePointer<Float>,
        frames n: Int,
        groups full: Int,
        _ toFloat: (I) -> V
    ) where V.Scalar == Float {
        let rowBytes = channels * MemoryLayout<I.Scalar>.stride
        let groupBytes = MemoryLayout<I>.size
        let outStride = groupStride * MemoryLayout<Float>.stride
        let out = UnsafeMutableRawPointer(first)
        for i in 0..<n {
            let row = src + i * rowBytes
            let o = out + i * MemoryLayout<V>.stride
            for g in 0..<full {
                let v = row.loadUnaligned(fromByteOffset: g * groupBytes, as: I.self)
                (o + g * outStride).storeBytes(of: toFloat(v), as: V.self)
            }
        }
    }

    @inline(__always)
    private func convertGroup(
        _ src: UnsafeRawPointer,
        _ dst: UnsafeMutablePointer<Float>,
        frames n: Int,
        first: Int,
        lanes: Int
    ) {
        let c = channels
        let w = width
        switch layout {
        case .int16:
            let s = src.assumingMemoryBound(to: Int16.self)
            let scale: Float = 1.0 / 32768
            for i in 0..<n {
                let row = s + i * c + first
                let out = dst + i * w
                for l in 0..<lanes { out[l] = Float(row[l]) * scale }
            }
        case .int24Packed:
            hr_unpack24(src.assumingMemoryBound(to: UInt8.self) + first * 3, c * 3, n, lanes, dst, w)
        case .int24InInt32:
            let s = src.assumingMemoryBound(to: Int32.self)
            let scale: Float = 1.0 / 2_147_483_648
            for i in 0..<n {
                let row = s + i * c + first
                let out = dst + i * w
                for l in 0..<lanes { out[l] = Float(row[l] << 8) * scale }
            }
        case .int32:
            let s = src.assumingMemoryBound(to: Int32.self)
            let scale: Float = 1.0 / 2_147_483_648
            for i in 0..<n {
                let row = s + i * c + first
                let out = dst + i * w
                for l in 0..<lanes { out[l] = Float(row[l]) * scale }
            }
        case .float32:
            let s = src.assumingMemoryBound(to: Float.self)
            for i in 0..<n {
                let row = s + i * c + first
                let out = dst + i * w
                for l in 0..<lanes { out[l] = row[l].isFinite ? row[l] : (row[l] < 0 ? -1 : 1) }
            }
        }
    }

    /// Float samples that are NaN or infinite (a broken stream or a plugin's bug) count
    /// as full scale, so they read as clipped and never turn a level or a proposal into
    /// NaN or -inf.
    @inline(__always)
    static func finite<V: SIMD>(_ v: V) -> V where V.Scalar == Float {
        let bad = .!(TruePeakFilter.magnitude(v) .<= V(repeating: .greatestFiniteMagnitude))
        var out = v
        out.replace(with: 1, where: bad)
        out.replace(with: -1, where: bad .& (v .< 0))
        return out
    }

    /// Frames the walking lanes of a group take at a time (``walk``): their samples and steps
    /// stay in the L1 cache from one lane to the next (64 KB for 16 lanes).
    static let walkFrames = 256

    /// Frames per chunk: the filter runs chunk by chunk, only where an interpolated point
    /// could matter.
    static let chunkFrames = 64

    /// Steps 2 and 3 for group `g`: its levels, the filter where it can matter, and its clip
    /// and hot detectors (flat tops are the group's other unit, ``trackLobes``).
    @_specialize(where V == SIMD4<Float>)
    @_specialize(where V == SIMD8<Float>)
    @_specialize(where V == SIMD16<Float>)
    private func analyzeGroup<V: SIMD>(
        _: V.Type,
        _ g: Int,
        frames n: Int,
        scratch: Scratch,
        into events: inout [Event]
    ) where V.Scalar == Float {
        let blockStart = frameCount
        let chunk = Self.chunkFrames
        let chunkCount = (n + chunk - 1) / chunk
        let peaks = UnsafeMutableRawPointer(scratch.chunkPeaks).assumingMemoryBound(to: V.self)
        let slopes = UnsafeMutableRawPointer(scratch.chunkSlopes).assumingMemoryBound(to: V.self)
        let chunkFiltered = scratch.chunkFiltered
        let base = UnsafeMutableRawPointer(input + g * groupStride).assumingMemoryBound(to: V.self)
        let out = UnsafeMutableRawPointer(steps + g * maxBlockFrames * width).assumingMemoryBound(to: V.self)
        // The history (the filter's window reaches 11 frames back): its peak, the peak
        // of its last 6 frames (not yet judged), its largest step between frames.
        var historyPeak = V(repeating: 0)
        var historySlope = V(repeating: 0)
        var tailPeak = V(repeating: 0)
        for i in 0..<Self.history {
            let x = TruePeakFilter.magnitude(base[i])
            historyPeak = TruePeakFilter.maximum(historyPeak, x)
            if i > 0 {
                historySlope = TruePeakFilter.maximum(historySlope, TruePeakFilter.magnitude(base[i] - base[i - 1]))
            }
            if i >= Self.history - Self.delay { tailPeak = TruePeakFilter.maximum(tailPeak, x) }
        }
        // The block, chunk by chunk: peaks and largest steps; the sum of squares.
        var peak = V(repeating: 0)
        var slope = V(repeating: 0)
        var squares = V(repeating: 0)
        var previous = base[Self.history - 1]
        for j in 0..<chunkCount {
            var p = V(repeating: 0)
            var d = V(repeating: 0)
            for i in (j * chunk)..<min(n, j * chunk + chunk) {
                let v = base[Self.history + i]
                p = TruePeakFilter.maximum(p, TruePeakFilter.magnitude(v))
                d = TruePeakFilter.maximum(d, TruePeakFilter.magnitude(v - previous))
                squares += v * v
                previous = v
            }
            peaks[j] = p
            slopes[j] = d
            peak = TruePeakFilter.maximum(peak, p)
            slope = TruePeakFilter.maximum(slope, d)
        }
        let lanes = min(width, channels - g * width)
        // A chunk is skipped when no interpolated point in it can reach a lane's running
        // true peak or the hot threshold. The whole block is filtered when a sample is
        // near clipping or a clip event is open (both record true peaks), or for meters.
        var forced = exactBlockPeaks
        var ceiling = V(repeating: .infinity)
        for l in 0..<lanes {
            let c = g * width + l
            if max(peak[l], tailPeak[l]) >= clipCandidate || detectors[c].eventOpen { forced = true }
            ceiling[l] = min(hotThreshold, state[c].truePeak)
        }
        var filterPeak = V(repeating: 0)
        var filtered = 0
        var j = 0
        while j < chunkCount {
            var k = j
            while k < chunkCount {
                let window = k == 0 ? historyPeak : peaks[k - 1]
                let windowSlope = k == 0 ? historySlope : slopes[k - 1]
                let bound = TruePeakFilter.bound(
                    peak: TruePeakFilter.maximum(peaks[k], window),
                    slope: TruePeakFilter.maximum(slopes[k], windowSlope)
                )
                let needed = forced || any(bound .> ceiling)
                chunkFiltered[k] = needed
                if !needed { break }
                k += 1
            }
            if k > j {
                let first = j * chunk
                let frames = min(n, k * chunk) - first
                let runPeak = TruePeakFilter.run(
                    input: UnsafePointer(base + first),
                    output: out + first,
                    frames: frames,
                    coefficients: coefficients
                )
                filterPeak = TruePeakFilter.maximum(filterPeak, runPeak)
                filtered += frames
            }
            j = k + 1
        }
        let blockBound = TruePeakFilter.bound(
            peak: TruePeakFilter.maximum(peak, historyPeak),
            slope: TruePeakFilter.maximum(slope, historySlope)
        )
        var stepsReady = filtered == n
        var hotScanned = false
        // A lane is active where it may clip or run hot. An active lane that cannot clip in
        // this block, with no clip run or event open, only moves hot bursts (``scanHot``); the
        // others walk their frames.
        @inline(__always) func active(_ l: Int) -> Bool {
            max(peak[l], tailPeak[l]) >= clipCandidate || max(peak[l], tailPeak[l]) > hotThreshold
                || filterPeak[l] > hotThreshold
        }
        @inline(__always) func onlyHot(_ l: Int) -> Bool {
            let c = g * width + l
            return bulkHotWalk && blockStart >= Self.delay && max(peak[l], tailPeak[l]) < clipCandidate
                && detectors[c].runStart < 0 && !detectors[c].eventOpen
        }
        @inline(__always) func readySteps() {
            guard !stepsReady else { return }
            // Skipped chunks' points are under every threshold a walk compares them with, so
            // zero stands in for them.
            for k in 0..<chunkCount where !chunkFiltered[k] {
                let first = k * chunk
                (out + first).update(repeating: V(repeating: 0), count: min(n, first + chunk) - first)
            }
            stepsReady = true
        }
        // The walking lanes go over the block together, a stretch of ``walkFrames`` at a time
        // (a lane's samples and steps are one cache line a frame: walked lane by lane over the
        // whole block, each lane read the group's block again from L2), each into its own list
        // of events, which goes into `events` in lane order below, as if each had walked alone.
        var walkers: UInt32 = 0
        for l in 0..<lanes where active(l) && !onlyHot(l) { walkers |= 1 << l }
        if walkers != 0 {
            readySteps()
            let last = blockStart + n - Self.delay
            var from = blockStart - Self.delay
            // The group's stretches, read through its first lane. (For 32-bit PCM the kernel
            // reads a row of raw codes a frame: a full group's.)
            let group = clipLane(channel: g * width, blockStart: blockStart, frames: n)
            let tabled = group.byMagnitude || (lanes == width && group.codes != nil)
            while from < last {
                let to = min(last, from + Self.walkFrames)
                // Every lane's stretches of the frames, at once, for the walks to look up.
                var tables = scratch.stretches
                if tabled {
                    hr_clip_stretches(
                        group.sample(from),
                        group.step(from),
                        to - from,
                        width,
                        group.clipLevel,
                        hotThreshold,
                        group.codes,
                        group.earlierCodes,
                        from - blockStart,
                        channels,
                        Int32(clamping: exactClipCode),
                        &tables
                    )
                }
                var lanesLeft = walkers
                while lanesLeft != 0 {
                    let l = lanesLeft.trailingZeroBitCount
                    lanesLeft &= lanesLeft - 1
                    walk(
                        channel: g * width + l,
                        blockStart: blockStart,
                        frames: n,
                        from: from,
                        to: to,
                        stretches: tabled ? tables : nil,
                        into: &scratch.laneEvents[l]
                    )
                }
                from = to
            }
        }
        for l in 0..<lanes {
            let c = g * width + l
            let s = state + c
            s.pointee.samplePeak = max(s.pointee.samplePeak, peak[l])
            s.pointee.truePeak = max(s.pointee.truePeak, filterPeak[l])
            s.pointee.sumSquares += Double(squares[l])
            s.pointee.blockPeak = peak[l]
            s.pointee.blockTruePeak = filtered > 0 ? max(peak[l], filterPeak[l]) : peak[l]
            if walkers & (1 << l) != 0 {
                events.append(contentsOf: scratch.laneEvents[l])
                scratch.laneEvents[l].removeAll(keepingCapacity: true)
            } else if active(l) {
                readySteps()
                // Nothing can clip here: only hot bursts can change. One vector pass
                // summarizes the block for every lane of the group; a lane walks its
                // frames only where a burst closes and another opens inside the block.
                let first = blockStart - Self.delay
                if !hotScanned {
                    scanHot(group: g, lanes: lanes, frames: n, scratch: scratch)
                    hotScanned = true
                }
                let done = detectors[c].feedHot(
                    first: first,
                    count: n,
                    firstOver: scratch.hotFirst[l],
                    lastOver: scratch.hotLast[l],
                    gap: scratch.hotGap[l],
                    peak: scratch.hotPeak[l],
                    into: &events
                )
                if !done {
                    detectors[c].feedHot(
                        first: first,
                        count: n,
                        samples: input + g * groupStride + (Self.history - Self.delay) * width + l,
                        steps: steps + g * maxBlockFrames * width + l,
                        stride: width,
                        into: &events
                    )
                }
            } else {
                let first = max(blockStart - Self.delay, 0)
                if detectors[c].runStart >= 0 {
                    clipLane(channel: c, blockStart: blockStart, frames: n)
                        .edge(&detectors[c], frame: first, starting: false)
                }
                detectors[c].skip(
                    from: first,
                    to: max(blockStart + n - Self.delay, 0),
                    truePeakBound: forced ? max(peak[l], filterPeak[l]) : blockBound[l],
                    into: &events
                )
            }
        }
    }

    /// `hr_scan_hot` over frames `[blockStart-6, blockStart+n-6)` of group `g`: for each lane,
    /// the first and last frame over the margin, the largest gap and the largest value.
    private func scanHot(group g: Int, lanes: Int, frames n: Int, scratch: Scratch) {
        let first = frameCount - Self.delay
        for l in 0..<width {
            let c = g * width + l
            scratch.hotLast[l] =
                l < lanes && detectors[c].burstOpen ? Float(detectors[c].burstLast - first) : .infinity
        }
        hr_scan_hot(
            input + g * groupStride + (Self.history - Self.delay) * width,
            steps + g * maxBlockFrames * width,
            n,
            width,
            hotThreshold,
            scratch.hotLast,
            scratch.hotFirst,
            scratch.hotGap,
            scratch.hotPeak
        )
    }

    /// Judges frames `from..<to` (within `[blockStart-6, blockStart+n-6)`, the block of `n`
    /// frames that starts at `blockStart`) of one channel where it may clip. With
    /// ``bulkHotWalk`` (the default) it goes run by run: the frames inside a qualified clip
    /// run only lengthen it (``ClipDetector/extendRun``), and the frames between runs only
    /// move hot bursts (``ClipDetector/feedHot(first:count:samples:steps:stride:into:)``) and
    /// the open event's maxima, up to the frame where that event expires. Run starts and
    /// ends, the first frames of a run, and the expiry frame go through ``ClipDetector/feed``
    /// one at a time, as every frame does without ``bulkHotWalk`` (the reference the tests
    /// compare with). While a clip event and a hot burst are both open (fizzy clipping: runs
    /// and gaps of a few frames), ``ClipDetector/feedOpen`` takes the frames instead, with
    /// only what can happen before the event could expire or the burst close.
    private func walk(
        channel c: Int,
        blockStart: Int,
        frames n: Int,
        from: Int,
        to: Int,
        stretches: hr_stretches? = nil,
        into events: inout [Event]
    ) {
        let lane = clipLane(
            channel: c,
            blockStart: blockStart,
            frames: n,
            stretches: stretches.map { .init($0, lane: c % width, frames: from..<to) }
        )
        @inline(__always) func frame(_ f: Int) {
            let step = lane.step(f).pointee
            if f < 0 {
                state[c].leadTruePeak = max(state[c].leadTruePeak, step)
                return
            }
            feed(channel: c, lane: lane, frame: f, step: step, into: &events)
        }
        let end = to
        var f = from
        guard bulkHotWalk else {
            while f < end {
                frame(f)
                f += 1
            }
            return
        }
        // Every frame of a run is over the margin only when the clip level is.
        let runsAreHot = clipCandidate > hotThreshold
        while f < end {
            if f <= 0 {
                frame(f)
                f += 1
                continue
            }
            if runsAreHot && detectors[c].eventOpen && detectors[c].burstOpen {
                // Fizzy clipping (runs and gaps of a few frames inside one event): frame by
                // frame, but with only what can happen before the event could expire or the
                // burst close.
                let stop = detectors[c].feedOpen(
                    first: f,
                    end: end,
                    lane: lane,
                    into: &events
                )
                if stop > f {
                    f = stop
                    continue
                }
            }
            let clipped = lane.isClipped(f, lane.magnitude(f))
            if detectors[c].runStart >= 0 {
                guard clipped && runsAreHot && detectors[c].runLength >= detectors[c].clipRun else {
                    frame(f)
                    f += 1
                    continue
                }
                // Inside a qualified run: up to its end, frames only lengthen it.
                let run = lane.clippedStretch(from: f, to: end)
                detectors[c].extendRun(count: run.end - f, peak: run.peak, truePeak: run.truePeak)
                f = run.end
                continue
            }
            if clipped {
                frame(f)
                f += 1
                continue
            }
            // Up to the next clipped frame: hot bursts, and the open event's maxima until the
            // frame where it expires, which goes through `feed` (its emission comes before a
            // burst's that closes on the same frame).
            var next = f + 1
            if let s = lane.stretch(at: next) {
                next = s.clipped ? next : s.end
            }
            while next < end {
                next += hr_first_at_least(lane.sample(next), lane.stride, end - next, clipCandidate)
                guard next < end, !lane.isClipped(next, lane.magnitude(next)) else { break }
                next += 1
            }
            while f < next {
                var stop = next
                if detectors[c].eventOpen {
                    stop = min(max(detectors[c].event.endFrame + detectors[c].holdFrames - 1, f), next)
                }
                if stop > f {
                    if detectors[c].eventOpen {
                        var peak: Float = 0
                        var truePeak: Float = 0
                        hr_lane_maxima(lane.sample(f), lane.step(f), lane.stride, stop - f, &peak, &truePeak)
                        detectors[c].peakSinceEventEnd = max(detectors[c].peakSinceEventEnd, peak)
                        detectors[c].truePeakSinceEventEnd = max(detectors[c].truePeakSinceEventEnd, truePeak)
                    }
                    detectors[c].feedHot(
                        first: f,
                        count: stop - f,
                        samples: lane.sample(f),
                        steps: lane.step(f),
                        stride: lane.stride,
                        into: &events
                    )
                    f = stop
                }
                if f < next {
                    frame(f)
                    f += 1
                }
            }
        }
    }

    /// Feeds frame `f` of channel `c`, read from `lane`, to its detector, `step` being the
    /// largest interpolated point after it. Where a clip run starts or ends there, the
    /// detector first gets the run's side for the overshoot estimate.
    @inline(__always)
    private func feed(
        channel c: Int,
        lane: ClipDetector.Lane,
        frame f: Int,
        step: Float = 0,
        into events: inout [Event]
    ) {
        let x = lane.magnitude(f)
        var truePeak = max(x, step)
        if f == 0 { truePeak = max(truePeak, state[c].leadTruePeak) }
        let clipped = lane.isClipped(f, x)
        if clipped != (detectors[c].runStart >= 0) {
            lane.edge(&detectors[c], frame: f, starting: clipped)
        }
        detectors[c].feed(frame: f, magnitude: x, truePeak: truePeak, clipped: clipped, into: &events)
    }

    /// Channel `c`'s lane of the block of `n` frames that starts at `blockStart`, as the clip
    /// walk reads it (for ``finish()``, `n` is 0 and only frames before `blockStart` exist).
    @inline(__always)
    private func clipLane(
        channel c: Int,
        blockStart: Int,
        frames n: Int,
        stretches: ClipDetector.Lane.Stretches? = nil
    ) -> ClipDetector.Lane {
        let (g, l) = (c / width, c % width)
        return ClipDetector.Lane(
            samples: input + (g &* groupStride &+ Self.history &* width &+ l),
            steps: steps + (g &* maxBlockFrames &* width &+ Self.delay &* width &+ l),
            stride: width,
            origin: blockStart,
            end: blockStart + n,
            candidate: clipCandidate,
            threshold: clipThreshold,
            codes: shadow == nil ? nil : currentBlock.map { $0 + c },
            earlierCodes: shadow.map { UnsafePointer($0 + (Self.delay * channels + c)) },
            rowStride: channels,
            exactCode: exactClipCode,
            stretches: stretches
        )
    }

    /// Flat tops (``FlatDetector``): follows each lane's lobes (runs of one sign) through
    /// the block in the C kernel (`hr_track_lobes`), which files every lobe that ends at or
    /// above its channel's gate in the rule-B histograms and hands back those long enough
    /// for rule A (``judgeLobes(group:count:frames:scratch:into:)``). The block is taken in
    /// pieces that end where quarter seconds end, and each channel's quarter (rule B) is
    /// judged there, so what is found does not depend on where blocks end. A piece where no
    /// lane reaches its gate costs a pass for the lanes' peaks and a look at the last lobe.
    private func trackLobes(group g: Int, lanes: Int, frames n: Int, scratch: Scratch, into events: inout [Event]) {
        let blockStart = frameCount
        let w = width
        let src = input + g * groupStride + Self.history * w
        let sign = lobeState + g * 5 * w
        let peak = sign + w
        let peakAt = peak + w
        let startAt = peakAt + w
        let gate = startAt + w  // +infinity in lanes past the last channel
        let piecePeak = scratch.piecePeaks
        var from = 0
        while from < n {
            let quarterEnd = flats[g * w].quarterEnd
            let to = min(n, quarterEnd - blockStart)
            // Each lane's peak in the piece (this runs apart from the rest of the group's
            // analysis, which finds the block's peaks, perhaps on another thread).
            piecePeak.update(repeating: 0, count: w)
            hr_peaks(src + from * w, to - from, w, piecePeak)
            // The gate as the piece begins; the kernel raises it frame by frame.
            var loud = false
            for l in 0..<lanes {
                gate[l] = flats[g * w + l].gate
                if piecePeak[l] >= gate[l] || peak[l] >= gate[l] { loud = true }
                flats[g * w + l].notePeak(piecePeak[l])
            }
            if loud {
                var at = from
                while at < to {
                    var stopped = 0
                    let count = hr_track_lobes(
                        src,
                        Int64(blockStart),
                        at,
                        to,
                        w,
                        sign,
                        peak,
                        peakAt,
                        startAt,
                        gate,
                        flatLanes + g * w,
                        scratch.lobes,
                        &stopped
                    )
                    judgeLobes(group: g, count: count, frames: n, scratch: scratch, into: &events)
                    at = stopped
                }
            } else {
                // No lobe ending here reaches its gate (every sample and every open lobe is
                // under it): only where each lane's last lobe stands matters.
                for l in 0..<lanes where piecePeak[l] > 0 {
                    followQuietly(src + l, stride: w, from: from, to: to, peak: piecePeak[l], lane: l, state: sign)
                }
            }
            if blockStart + to == quarterEnd {
                for l in 0..<lanes { flats[g * w + l].endQuarter(into: &events) }
            }
            from = to
        }
        // What the ring keeps of this block for the next ones: from where the lanes' open
        // lobes began, less the samples a measurement reads before a lobe (one for rule A's
        // edge, three for a top's side). A lobe is measured only inside itself, so the frames
        // before the earliest open lobe are never read again. (Copying every block cost a
        // quarter of the analyzer on session material: 256 KB a block per group, into a ring
        // twice that, out of the cache.)
        // A lane whose open lobe is only zeros so far (digital silence, a spare input) holds
        // nothing a measurement reads: the lobe's first nonzero sample comes in a later block,
        // and the frames read before it lie within the last 4 of this one. (It held the whole
        // block in the ring, block after block: on `gen.py`'s mixed material, a silent channel
        // copied its group's every block.)
        var earliest = Float(n)
        for l in 0..<lanes where peak[l] > 0 { earliest = min(earliest, startAt[l]) }
        let keepFrom = max(0, Int(earliest) - 4)
        // Into the ring; it then holds frames without a gap from ringValid[g] (at most the
        // ring's length) to the end of this block.
        let ringBase = ring + g * ringFrames * w
        var done = keepFrom
        while done < n {
            let at = (blockStart + done) & (ringFrames - 1)
            let count = min(n - done, ringFrames - at)
            (ringBase + at * w).update(from: src + done * w, count: count * w)
            done += count
        }
        if keepFrom > 0 { ringValid[g] = blockStart + keepFrom }
        for l in 0..<w {
            peakAt[l] -= Float(n)
            startAt[l] -= Float(n)
        }
    }

    /// Lane `l`'s open lobe after frames `from..<to` of the block at `x` (every `stride`
    /// floats; `piece` their largest magnitude), none of which ends a lobe at its gate: what
    /// the kernel would leave in `state` (rows of sign, peak, peak frame and start frame),
    /// found from the piece's end. A lobe begins where a sample's sign differs from the
    /// lobe's (zeros belong to the lobe they are in); its peak is its first largest
    /// magnitude.
    private func followQuietly(
        _ x: UnsafePointer<Float>,
        stride w: Int,
        from: Int,
        to: Int,
        peak piece: Float,
        lane l: Int,
        state sign: UnsafeMutablePointer<Float>
    ) {
        let (peak, peakAt, startAt) = (sign + w, sign + 2 * w, sign + 3 * w)
        var k = to - 1
        while k >= from && x[k * w] == 0 { k -= 1 }
        guard k >= from else { return }  // only zeros: nothing moves
        let last: Float = x[k * w] < 0 ? -1 : 1
        var j = k
        while j >= from && x[j * w] * last >= 0 { j -= 1 }
        var first = from
        if j >= from || last != sign[l] {
            // A new lobe began at the first nonzero sample after frame j.
            first = j + 1
            while x[first * w] == 0 { first += 1 }
            sign[l] = last
            peak[l] = abs(x[first * w])
            peakAt[l] = Float(first)
            startAt[l] = Float(first)
            first += 1
        } else if piece <= peak[l] {
            return  // the lobe goes on, no higher
        }
        for i in first..<to where abs(x[i * w]) > peak[l] {
            peak[l] = abs(x[i * w])
            peakAt[l] = Float(i)
            if peak[l] == piece { break }  // none higher follows
        }
    }

    /// Loud lobes of group `g` ended (`count` of them 3 samples or longer, listed in
    /// `scratch.lobes`, all already in their channels' rule-B histograms): the C kernel
    /// measures those lobes' tops in the block and the ring; the flat ones go to their channels'
    /// ``FlatDetector``.
    private func judgeLobes(group g: Int, count: Int, frames n: Int, scratch: Scratch, into events: inout [Event]) {
        let blockStart = frameCount
        let found = hr_judge_lobes(
            scratch.lobes,
            count,
            ring + g * ringFrames * width,
            ringFrames - 1,
            input + g * groupStride + Self.history * width,
            width,
            Int64(blockStart),
            Int64(ringValid[g]),
            Int64(Self.lobeLookback),
            Int64(blockStart + n - 1),
            clipCandidate,
            Int64(settings.clipRunSamples),
            flatLanes + g * width,
            scratch.flatLobes
        )
        for k in 0..<found {
            let f = scratch.flatLobes[k]
            if f.polarity & 2 != 0 {
                // A lobe at the clip level with a clip run, the first for a second: clip
                // detection's.
                flats[g * width + Int(f.lane)].clippedLobe(into: &events)
                continue
            }
            let samples = laneFrames(
                group: g,
                lane: Int(f.lane),
                frames: max(ringValid[g], blockStart + Int(f.end_at) - Self.lobeLookback)...(blockStart + n - 1)
            )
            let lobe = Self.nonzero((start: blockStart + Int(f.start_at), end: blockStart + Int(f.end_at)), in: samples)
            let ratio = Self.plateauOvershoot(sign: f.polarity == 0 ? 1 : -1, peak: f.peak, lobe: lobe, in: samples)
            flats[g * width + Int(f.lane)].flatLobe(
                polarity: Int(f.polarity),
                start: lobe.start,
                end: lobe.end,
                peak: f.peak,
                ratio: ratio,
                atClipLevel: f.peak >= clipCandidate,
                into: &events
            )
        }
    }

    /// One lane's frames that the block and the ring hold (`frames`), as a flat lobe's
    /// measurements read them.
    private struct LaneFrames {
        let ring: UnsafePointer<Float>
        let mask: Int
        let block: UnsafePointer<Float>
        let blockStart: Int
        let width: Int
        let frames: ClosedRange<Int>

        /// Frame `f`'s sample, nil where it is not held.
        @inline(__always) func value(_ f: Int) -> Float? {
            guard frames.contains(f) else { return nil }
            return hr_sample(ring, mask, block, Int64(blockStart), width, Int64(f))
        }
    }

    /// Lane `l` of group `g`: `frames` of it, which must lie in the ring and this block.
    private func laneFrames(group g: Int, lane l: Int, frames: ClosedRange<Int>) -> LaneFrames {
        LaneFrames(
            ring: ring + g * ringFrames * width + l,
            mask: ringFrames - 1,
            block: input + g * groupStride + Self.history * width + l,
            blockStart: frameCount,
            width: width,
            frames: frames
        )
    }

    /// A lobe's frames `lobe.start..<lobe.end` without the zeros it began or ended with: a
    /// zero belongs to the lobe it is in, so the first after digital silence began with the
    /// silence, and a flat event of a tone cut at -6 dBFS after a second of it started at 0 s.
    /// Where the zeros reach past what `samples` hold, the lobe's own start or end stays.
    private static func nonzero(_ lobe: (start: Int, end: Int), in samples: LaneFrames) -> (start: Int, end: Int) {
        let held = samples.frames
        var (start, end) = lobe
        if start >= held.lowerBound || samples.value(held.lowerBound) == 0 {
            start = max(start, held.lowerBound)
            while start < end - 1 && samples.value(start) == 0 { start += 1 }
        }
        while end - 1 > start && samples.value(end - 1) == 0 { end -= 1 }
        return (start, end)
    }

    /// How far over its flat top a flat lobe would have gone, as a ratio of its peak `peak`,
    /// by the estimate a clip run gets (``Overshoot``): the top is the lobe's samples within
    /// ``plateauTolerance`` of the peak, the run's sides the samples either side of them.
    /// Polarity `sign`, frames `lobe.start..<lobe.end` of `samples`. Nil when the top's sides
    /// cannot be read.
    ///
    /// Rule A's own measure of the top, the secant across 0.9 P, reads the clipped sample on
    /// the plateau as one end of the slope: hard-clipped drums 10 dB over a ceiling read
    /// 4.5 dB low (`docs/clipping-figures.md`).
    private static func plateauOvershoot(
        sign: Float,
        peak: Float,
        lobe: (start: Int, end: Int),
        in samples: LaneFrames
    )
        -> Float?
    {
        let level = peak * Self.plateauTolerance
        @inline(__always) func value(_ f: Int) -> Float? { samples.value(f).map { $0 * sign } }
        @inline(__always) func unpinned(_ f: Int) -> Float? { value(f).flatMap { $0 < level ? $0 : nil } }
        var first = -1
        var last = -1
        for f in max(lobe.start, samples.frames.lowerBound)..<lobe.end where (value(f) ?? 0) >= level {
            if first < 0 { first = f }
            last = f
        }
        guard first >= 0,
            let entry = Overshoot.side(level: peak, away: { unpinned(first - $0) }),
            let exit = Overshoot.side(level: peak, away: { unpinned(last + $0) }),
            min(entry.slope, exit.slope) >= Self.sidesAgreement * max(entry.slope, exit.slope)
        else { return nil }
        return Overshoot.ratio(level: peak, length: last - first + 1, entry: entry, exit: exit)
    }

    /// A flat top's samples: within 0.1 dB of the lobe's peak. A top flattened by a digital
    /// stage is one value; a converter's decimation filter leaves a ripple on it, and a
    /// wider tolerance counts the ripple's troughs into the top and reads some mixes 9 dB
    /// high (0.25 dB).
    static let plateauTolerance = Float(Decibels.toAmplitude(-0.1))

    /// A flat top whose one side climbs more than 20 times as steeply as the other has no
    /// estimate: the gentle side's sample sits on the top itself, on a converter's ripple
    /// just under the tolerance. (A 5 kHz sine clipped 6 dB over before a 20 kHz filter, at
    /// 48 kHz: a top of two samples 0.2 dB apart, sides 1.1 and 0.02 of full scale a sample;
    /// it read 0.2 dB over, and now takes the 6 dB a top without an estimate is assumed.)
    static let sidesAgreement: Float = 0.05

    /// How far back from its end a lobe's top is measured (rule A), whatever the block size:
    /// 4096 frames, a half-wave of 12 Hz at 48 kHz. The ring holds at least that much.
    static let lobeLookback = 4096

    /// Emits a `gain` event where a channel's proposal changed: its reason, or its
    /// figure by 1 dB or more. Checked every half second of audio and whenever a clip
    /// event closes, so the log does not chatter while a level settles.
    private func checkGain(force: Bool, since first: Int) {
        // A clip event this block closed (not one an earlier block left for the caller to take:
        // when gain events come must not depend on how often the caller takes the events).
        let clipClosed = events[first...].contains { if case .clip = $0 { true } else { false } }
        guard force || clipClosed || frameCount >= nextGainCheck else { return }
        nextGainCheck = frameCount + gainInterval
        for c in 0..<channels {
            let proposal = summary(channel: c).proposal
            let last = lastGain[c]
            var changed = proposal.reason != last.reason
            if let a = proposal.changeDB, let b = last.changeDB, abs(a - b) >= 1 { changed = true }
            if changed {
                lastGain[c] = proposal
                events.append(.gain(GainEvent(channel: c, proposal: proposal, frame: frameCount)))
            }
        }
    }
}

/// Running levels of one channel, linear amplitude (1.0 = full scale).
public struct ChannelLevels: Sendable, Equatable {
    /// Largest sample magnitude so far.
    public var samplePeak: Float = 0
    /// Largest interpolated magnitude so far (the true peak is the larger of this and `samplePeak`).
    public var truePeak: Float = 0
    /// Sum of squared samples, for RMS.
    public var sumSquares: Double = 0
    /// Sample peak of the last block (for meters).
    public var blockPeak: Float = 0
    /// True peak of the last block (exact only with `exactBlockPeaks`).
    public var blockTruePeak: Float = 0
    /// Interpolated points that precede frame 0 (the filter's lead-in), folded into frame 0.
    var leadTruePeak: Float = 0
    /// Clip events, counting one still open.
    public var clipEvents = 0
    /// Clip events already closed (and so in ``Analyzer/events``).
    public var closedClipEvents = 0
    public var clippedSamples = 0
    /// Clipped samples not yet in a closed event (the open event's, a qualifying run's going
    /// on): what a live counter adds to the closed events' samples while a channel clips.
    public var openClippedSamples = 0
    public var hotEvents = 0
    /// Qualifying clip runs seen: a live meter latches when this changes.
    public var qualifiedRuns = 0
    /// Where the clipping began: the open clip event's first frame, else the last qualifying
    /// run's (nil: none yet).
    public var clippingSince: Int?
    /// A clip run or event is in progress.
    public var isClipping = false
    /// The hot burst going on that holds no clip: its first frame (nil: none), and its
    /// largest true peak so far, linear.
    public var hotSince: Int?
    public var hotTruePeak: Float = 0
    /// Flat events, counting one still open (never ahead of the log, never going back).
    public var flatEvents = 0
    /// The newest flat event, numbered from 1 as events open (0: none yet). A higher number
    /// is a new event (a warning line for each); an alarm that joins it to an earlier one
    /// brings back the earlier one's.
    public var newestFlatEvent = 0
    /// The newest flat event's first frame (nil: none yet; an alarm that comes later, a
    /// rule-B pile-up a second after the tops it counts, can move it earlier).
    public var flatStartFrame: Int?
    /// The flat ceiling with the highest estimated peak, dBFS, and the overshoot above it.
    public var flatLevelDBFS: Double?
    public var flatOverDB: Double?
    /// The largest clip overshoot, dB, and whether it is only a lower bound.
    public var overDB: Double?
    public var overBound = false

    public init() {}
}

/// A channel's figures at the end of a take or file (SPEC's `summary.channels[]`).
public struct ChannelSummary: Sendable, Equatable {
    /// 0-based channel index.
    public var channel: Int
    /// `nil` for a silent channel.
    public var peakDBFS: Double?
    public var truePeakDBTP: Double?
    public var rmsDBFS: Double?
    public var clipEvents: Int
    public var clippedSamples: Int
    public var hotEvents: Int
    public var flatEvents: Int = 0
    /// How far the channel went over (clip overshoot; flat ceiling and its overshoot).
    public var overs = Overs()
    /// The clip level the figures are measured against, dBFS.
    public var clipLevelDBFS = 0.0
    public var proposal: GainProposal

    /// `-true_peak`, dB (negative when it went over).
    public var headroomDB: Double? { truePeakDBTP.map { -$0 } }

    /// The overshoot the summary reports: for a clipped channel the one its proposal takes
    /// (``Overs/clipped(flat:clipLevelDBFS:)``), for a channel with flat tops and no clip the
    /// one above its ceiling; `bound` only for a clip estimate that is a lower bound.
    public var reportedOver: (db: Double?, bound: Bool) {
        if clipEvents > 0 { return overs.clipped(flat: flatEvents > 0, clipLevelDBFS: clipLevelDBFS) }
        return (flatEvents > 0 ? overs.flatOverDB : nil, false)
    }
}

/// Working memory of the analyzer's block pipeline, one per thread that runs it.
private struct Scratch {
    /// Per chunk of the group being analyzed: its peak and largest step (one vector each),
    /// and whether the filter ran over it.
    let chunkPeaks: UnsafeMutablePointer<Float>
    let chunkSlopes: UnsafeMutablePointer<Float>
    let chunkFiltered: UnsafeMutablePointer<Bool>
    /// The group's hot-burst summary (`hr_scan_hot`), a row of `width` each.
    let hotLast: UnsafeMutablePointer<Float>
    let hotFirst: UnsafeMutablePointer<Float>
    let hotGap: UnsafeMutablePointer<Float>
    let hotPeak: UnsafeMutablePointer<Float>
    /// The loud lobes that ended (from `hr_track_lobes`) and the flat ones among them.
    let lobes: UnsafeMutablePointer<hr_lobes>
    /// Each lane's peak in a piece of the block, as flat-top tracking finds it.
    let piecePeaks: UnsafeMutablePointer<Float>
    let flatLobes: UnsafeMutablePointer<hr_flat_lobe>
    /// Each walking lane's events of the block being analyzed, until they go into `events`
    /// in lane order.
    let laneEvents: UnsafeMutablePointer<[Event]>
    let width: Int
    /// The walking lanes' stretches over the frames being walked (`hr_clip_stretches`),
    /// ``Analyzer/walkFrames`` rows of `width`.
    let stretches: hr_stretches

    init(width: Int, chunks: Int) {
        self.width = width
        let rows = Analyzer.walkFrames * width
        stretches = hr_stretches(
            end: .allocate(capacity: rows),
            peak: .allocate(capacity: rows),
            true_peak: .allocate(capacity: rows),
            last_hot: .allocate(capacity: rows)
        )
        chunkPeaks = .allocate(capacity: chunks * width)
        chunkSlopes = .allocate(capacity: chunks * width)
        chunkFiltered = .allocate(capacity: chunks)
        hotLast = .allocate(capacity: 4 * width)
        hotFirst = hotLast + width
        hotGap = hotFirst + width
        hotPeak = hotGap + width
        lobes = .allocate(capacity: 1)
        piecePeaks = .allocate(capacity: width)
        flatLobes = .allocate(capacity: Int(HR_LOBE_CAPACITY))
        laneEvents = .allocate(capacity: width)
        for l in 0..<width {
            var list: [Event] = []
            list.reserveCapacity(256)
            (laneEvents + l).initialize(to: list)
        }
    }

    func deallocate() {
        chunkPeaks.deallocate()
        chunkSlopes.deallocate()
        chunkFiltered.deallocate()
        hotLast.deallocate()
        lobes.deallocate()
        piecePeaks.deallocate()
        flatLobes.deallocate()
        laneEvents.deinitialize(count: width)
        laneEvents.deallocate()
        stretches.end.deallocate()
        stretches.peak.deallocate()
        stretches.true_peak.deallocate()
        stretches.last_hot.deallocate()
    }
}

/// The analyzer's second thread: waits for a block, analyzes its share, says so. The
/// analyzer's thread waits for it before the block's events are read, so the two never
/// touch the same channel at once. With `splitsConversion` each first converts half the
/// block's rows and they meet (``meet(helper:)``) before either reads the other's rows.
///
/// Each side spins on an atomic count (for the analyzer's `handoffSpin`) before it sleeps on
/// a semaphore: a block of session material takes a fraction of a millisecond, and two futex
/// wake-ups per block (one each way) cost about as much on a loaded virtual machine, which
/// made the second thread slower than none. A sleeper announces itself before its last look
/// at the count, and the other side wakes it only when it did, so no wake-up is lost; a
/// wake-up that finds nothing new sends it back to waiting.
private final class GroupWorker: @unchecked Sendable {
    private let posted = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    /// Arrivals at ``meet(helper:)``, two a block, and each side's flag and semaphore for
    /// sleeping there.
    private let arrivals = Atomic<Int>(0)
    private let helperMeeting = Atomic<Bool>(false)
    private let callerMeeting = Atomic<Bool>(false)
    private let helperMet = DispatchSemaphore(value: 0)
    private let callerMet = DispatchSemaphore(value: 0)
    private let helperSleeping = Atomic<Bool>(false)
    private let callerSleeping = Atomic<Bool>(false)
    private let go = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    /// Set before the last post; read after it is seen.
    private var quit = false
    /// Unowned: the analyzer stops the thread in its deinit.
    private unowned(unsafe) var analyzer: Analyzer?
    /// Seconds spent looking before sleeping.
    private let spin: Double

    init(spin: Double) { self.spin = spin }

    /// Waits until `count` reaches `target`: spins for `spin` seconds (a pause instruction
    /// takes 15 ns on one processor, 140 on another: the clock is read every 32), then sleeps
    /// on `semaphore`.
    private static func wait(
        for target: Int,
        on count: borrowing Atomic<Int>,
        sleeping: borrowing Atomic<Bool>,
        semaphore: DispatchSemaphore,
        spin: Double
    ) {
        guard count.load(ordering: .acquiring) < target else { return }
        var looks = 0
        var since = MonotonicClock.now()
        while count.load(ordering: .acquiring) < target {
            if looks & 31 != 31 || MonotonicClock.now() - since < spin {
                looks += 1
                hr_spin_pause()
                continue
            }
            sleeping.store(true, ordering: .sequentiallyConsistent)
            if count.load(ordering: .sequentiallyConsistent) >= target {
                sleeping.store(false, ordering: .sequentiallyConsistent)
                break
            }
            semaphore.wait()
            looks = 0
            since = MonotonicClock.now()
        }
    }

    /// Counts `count` up and wakes the other side if it said it sleeps.
    private static func post(
        _ count: borrowing Atomic<Int>,
        sleeping: borrowing Atomic<Bool>,
        semaphore: DispatchSemaphore
    ) {
        count.add(1, ordering: .sequentiallyConsistent)
        if sleeping.exchange(false, ordering: .sequentiallyConsistent) { semaphore.signal() }
    }

    func start(_ analyzer: Analyzer) {
        self.analyzer = analyzer
        let thread = Thread { [self] in
            RecordingSession.nameThisThread("hr-analyzer-2")
            var seen = 0
            while true {
                seen += 1
                Self.wait(for: seen, on: posted, sleeping: helperSleeping, semaphore: go, spin: spin)
                if quit { break }
                self.analyzer!.helperBlock()
                Self.post(finished, sleeping: callerSleeping, semaphore: done)
            }
            Self.post(finished, sleeping: callerSleeping, semaphore: done)
        }
        thread.start()
    }

    func begin() { Self.post(posted, sleeping: helperSleeping, semaphore: go) }

    /// Both threads call this once a block, once they have converted their half of its rows
    /// (`helper`: the second thread), and it returns when both have: each then reads rows the
    /// other wrote. The first to arrive waits as ``wait()`` does, spinning `spin` seconds and
    /// then sleeping, and the second wakes it if it sleeps. (Spinning and yielding instead, the
    /// barrier cost an unpaced `record` that converted in halves 11 % of its time: its capture
    /// and writer threads wanted the processor.)
    func meet(helper: Bool) {
        let mine = arrivals.add(1, ordering: .sequentiallyConsistent).newValue
        let both = (mine + 1) & ~1  // the block's second arrival
        if mine == both {
            if helper {
                if callerMeeting.exchange(false, ordering: .sequentiallyConsistent) { callerMet.signal() }
            } else {
                if helperMeeting.exchange(false, ordering: .sequentiallyConsistent) { helperMet.signal() }
            }
        } else if helper {
            Self.wait(for: both, on: arrivals, sleeping: helperMeeting, semaphore: helperMet, spin: spin)
        } else {
            Self.wait(for: both, on: arrivals, sleeping: callerMeeting, semaphore: callerMet, spin: spin)
        }
    }

    func wait() {
        Self.wait(
            for: posted.load(ordering: .relaxed),
            on: finished,
            sleeping: callerSleeping,
            semaphore: done,
            spin: spin
        )
    }

    func stop() {
        quit = true
        begin()
        wait()
    }
}
