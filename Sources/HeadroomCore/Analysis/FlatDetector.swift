import CHeadroomKernels
import Foundation

/// Per-channel detection of flat tops below the clip level (SPEC's `flat` event), with the
/// two rules of `design/clipping-beyond-full-scale.md` (A and B) and a third (C):
///
/// - **Rule A, plateau kink.** A *lobe* is a maximal run of samples of one sign, `P` its peak. Its
///   top region (samples >= 0.9 P around the peak) has width `w`; its edges fall from 0.9 P to
///   0.6 P with secant slopes whose harmonic mean is `s`; `K = s * w / (0.4 P)` is about 1.5 for a
///   smooth peak and 5 to 10 for a hard-clipped one. A lobe is flat when `K >= 3.3` (the study's
///   3.0 read a flute's crest as cut), `w >= 3` and its top, estimated as a clip run, was cut by
///   0.5 dB or more (``cutAtLeast``), unless it is a square wave's, flat by nature (`K > 100`, or
///   `K > 30` with edges within a sample: a synth's square reads 45 to 800, a sine cut 20 dB over
///   73); four flat lobes of one polarity within 0.5 s, their peaks within 0.25 dB and not falling
///   (or rising) lobe after lobe, raise an alarm, and so do five of the last eight within 3 s that
///   span a second or more (drum hits a beat apart, ``longMinimum``). (The study took `s` across
///   the 0.9 P crossing alone, one sample difference: under a little hiss that is mostly noise, and
///   a swelling tone raised an alarm every crest.)
/// - **Rule B, ceiling pile-up** (noise-like material and limiters, whose flat runs are too short
///   for rule A): every 0.25 s, over the lobe peaks of the last second, many peaks sit within
///   0.2 dB of the largest (16, or 6 all in one 0.05 dB bin: a digital ceiling), few just below it
///   (or, for those 6 in one bin, few that follow one at the ceiling), and the rest spread out
///   below, over at least ``spreadLevels`` levels and at least one for every ``ceilingPerSpread``
///   at the ceiling; and no level under the top holds as many as it, as a sampled tone's do
///   (``pileUp(polarity:top:atClipLevel:now:into:)``).
/// - **Rule C, a smeared ceiling** (noise clipped before a converter's decimation filter: a
///   snare clipped in the analog stage). The filter leaves the cut lobes one or two samples
///   wide, too narrow for rule A, and rings their peaks over about half a dB, too spread for
///   rule B. A *burst* is a run of loud lobes of one polarity (within 3 dB of the highest of
///   the last second) with no gap over 20 ms; one that lasts at most 100 ms, has 6 lobes or
///   more within 0.5 dB of its largest, at uneven intervals (spread at least 0.35 of their
///   mean, and not all near multiples of the shortest, as a tone's crests under hiss are),
///   and sits more than 0.5 dB under the clip level and within 1 dB of the polarity's
///   loudest lobe of the last second (a ceiling is where the loudest peaks are; steady
///   noise makes such bursts by chance 1 to 3 dB under its loudest), is found
///   (`hr_close_bursts`, in C); three found within 3 s, their levels within 0.3 dB, raise
///   an alarm. One within 1.5 dB of the clip level and a second from a clip run is the
///   clip's shoulder (``shoulder``).
///   Unclipped, a noise burst has one to four lobes that near its peak; clipped 6 dB over,
///   six to twenty. (Converter-like drum kits and mixes at +6 dB: none found by rules A and
///   B; 20 of 24 kits and 16 of 16 mixes with C; `docs/clipping-figures.md`.)
///
/// Alarms closer than 1 s merge into one event. Only lobes within 6 dB of the channel's
/// loudest sample of the last second are judged (a ceiling is where the loudest peaks are).
/// A lobe at the clip level is clip detection's when it holds a clip run. One that holds none
/// (a clipped signal resampled: tops that ripple under full scale and touch it a sample at a
/// time) goes to rule A, and its flat events are kept a second away from the others
/// (``clippedLobe(into:)``); rule B looks for a pile-up at the clip level too, and its alarms
/// there wait a second and count only with no clipped lobe within a second either side
/// (``HeldAlarm``: hard-clipped drums touch full scale a sample at a time between their
/// runs, a pile-up as well). Resampled clipped drum kits and mixes: none found by rule A,
/// all by rule B at the clip level (`docs/clipping-figures.md`). Fed by ``Analyzer``, which
/// tracks lobes for all channels at once in SIMD lanes and judges each loud lobe in C
/// (`hr_judge_lobes`: rule B's histogram, rule A's measurement; `burst_lobes`: rule C's
/// bursts); this type sees only the flat lobes, and every quarter second reads the
/// histograms and takes the bursts found. All storage is allocated in
/// `init`; nothing allocates afterwards.
struct FlatDetector {
    let channel: Int
    /// Lobes below this are not judged: max(-40 dBFS, 1024 LSB), linear, and at most full
    /// scale. (Quantization steps make a staircase of a low lobe's top. In a 12-bit file 1024
    /// LSB is -6 dBFS; in an 8-bit file it is over full scale, and no lobe is judged.)
    let floor: Float
    let halfSecond: Int
    /// Rule A's longer window (3 s, ``longMinimum``).
    let longWindow: Int
    let second: Int
    let quarter: Int

    // Rule A: the last flat lobes of each polarity (a ring of `recentCount` per polarity).
    struct FlatLobe {
        var start = 0
        var end = Int.min / 2
        var peak: Float = 0
        var ratio: Float?
    }
    static let recentCount = 8
    /// Rule A over 3 s: flat lobes of one polarity at one level, of the last ``recentCount``,
    /// that raise an alarm when the oldest of them ended a second or more before the newest.
    /// Drums clipped before a converter flatten a lobe or two a hit, at one level hit after
    /// hit, too few for four within half a second: sampled kits (FluidR3) converter-clipped
    /// 6 dB over at -1 to -12 dBFS raised no flat event. Closer together, they are the short
    /// window's to judge: a plucked string at 96 kHz put five at one level within 0.58 s,
    /// never four within half a second.
    static let longMinimum = 5
    private let recent: UnsafeMutablePointer<FlatLobe>
    private var recentNext = (0, 0)
    /// The end of the last lobe already counted into an event, per polarity.
    private var countedThrough = (Int.min, Int.min)

    // Rule B: lobe peaks per 0.05 dB bin from `floorDB` to 0 dBFS, in four quarter-second
    // histograms per polarity; `preceded` counts peaks whose previous lobe of the same
    // polarity sat within 0.2 dB, and `sums` adds up each bin's peaks. They live in `lane`,
    // which `hr_track_lobes` fills.
    static let binDB: Float = 0.05
    /// Rule B: peaks at the ceiling within the last second needed for an alarm.
    static let pileUpMinimum = 16
    /// Rule B: the same when they sit in one bin, with at most half as many in the 0.35 dB
    /// below it.
    static let sharpPileUpMinimum = 6
    /// Rule B: levels (0.05 dB bins) the peaks 1 to 6 dB under the ceiling spread over, counted
    /// as equally filled levels (``pileUp``). A steady tone of a few samples per cycle (17 kHz
    /// at 96 kHz, 20 kHz at 48 kHz) peaks at a few sampled values over and over: its top value
    /// piles up in one bin as a ceiling does, and the rest sit at a handful of levels, where
    /// music and noise spread over many. Counted as distinct bins, a tone faded in over 5 ms
    /// passed: the fade puts a peak or two in each level once, beside the tone's thousands at
    /// one (`gen.py`'s 0.45 fs channel raised a flat event in every take). Twelve, not the
    /// study's 8: a steady 14 kHz tone at 44.1 kHz peaks at 11 values, equally often, and was
    /// flagged for its whole length; the rule-B alarms on the clipped speech, drums and mixes
    /// of `bench/clipping-figures.py` spread over 18 levels or more (most over 30).
    static let spreadLevels = 12
    /// Rule B: peaks at the ceiling for each one 1 to 6 dB under it, at most. A steady tone at
    /// 3/8 of the rate (18 kHz at 48 kHz, 36 kHz at 96 kHz) faded in over 5 ms puts one
    /// sampled crest value in one bin 1,500 to 6,000 times a second while the only peaks
    /// under it are the fade's twenty, over as many levels: 74 to 314 at the ceiling for each.
    /// Clipped material cuts varied content, whose peaks spread under the ceiling too: over
    /// the 26,000 other rule-B alarms `bench/clipping-figures.py` raises (clipped speech, drums,
    /// bass, sines and mixes, and the clean material), at most 4.5.
    static let ceilingPerSpread = 16
    let floorDB: Float
    let bins: Int
    /// The first bin of peaks at the clip level (one under the clip level's own, which the
    /// kernel's logarithm may put a lobe at the level into).
    let clipBin: Int
    /// The histograms and the limits, shared with the C kernel.
    let lane: UnsafeMutablePointer<hr_flat_lane>
    private let counts: UnsafeMutablePointer<UInt16>
    private let preceded: UnsafeMutablePointer<UInt16>
    private let sums: UnsafeMutablePointer<Float>
    private var quarterIndex: Int { Int(lane.pointee.quarter) }
    private var quarterStart = 0
    /// The loudest sample of each of the last four quarters, for the 6 dB gate.
    private var quarterPeaks: SIMD4<Float> = .zero

    // Rule C: the bursts found lately, a ring of `burstCount`, and the end of the last one an
    // alarm counted. (The bursts themselves are followed in C, in `lane`.)
    struct Burst {
        var start = 0
        var end = Int.min / 2
        var level: Float = 0
        var lobes = 0
    }
    static let burstCount = 8
    /// Rule C: bursts at one level (within 0.3 dB) within 3 s that raise an alarm.
    static let burstMinimum = 3
    /// Rule C: bursts this close under the clip level (-1.5 dB) beside a clip run are the clip's.
    static let shoulder = Float(Decibels.toAmplitude(-1.5))
    private let bursts: UnsafeMutablePointer<Burst>
    private var burstNext = 0
    private var burstsCountedThrough = Int.min

    // Rule B at the clip level: its alarms are held until a second has passed after them,
    // and dropped if a lobe with a clip run ended within a second either side (a ceiling of
    // peaks at full scale is also what a hard clip that touches it a sample at a time between
    // its runs makes). A ring of `heldCount`; both polarities' alarms of a quarter share an
    // entry.
    struct HeldAlarm {
        /// Bit 0 positive, bit 1 negative.
        var polarities = 0
        var start = 0
        var end = 0
        /// The quarter's end where rule B raised it.
        var raised = 0
        var lobes = 0
    }
    /// Entries over a second and a quarter, and room to spare.
    static let heldCount = 8
    private let held: UnsafeMutablePointer<HeldAlarm>
    private var heldFirst = 0
    private var heldTotal = 0
    /// Where the last flat event ended: a held alarm starts no earlier.
    private var emittedThrough = 0

    /// A flat event built from alarms, not yet written.
    struct Building {
        var event: FlatEvent
        /// The ceiling's level, linear: the highest of its alarms', each read from lobe peaks
        /// (the plateaus' or bursts' mean, or a pile-up's mean in its median's bin).
        var level: Float
        /// Its alarms were all rule A's on lobes at the clip level.
        var atClipLevel: Bool
        var over: Overshoot.Tally
        /// Where its last alarm ended.
        var lastAlarm: Int
        /// Counting from 1 in the order events opened; an event joined to an earlier one is
        /// that one, and has its number.
        var number = 0

        /// One alarm's event: flat tops from `start` to `end`.
        init(
            channel: Int,
            polarity: FlatEvent.Polarity,
            start: Int,
            end: Int,
            level: Float,
            lobes: Int,
            over: Overshoot.Tally,
            atClipLevel: Bool
        ) {
            event = FlatEvent(
                channel: channel,
                startFrame: start,
                endFrame: end,
                levelDBFS: 0,
                polarity: polarity,
                lobes: lobes,
                overDB: nil
            )
            (self.level, self.atClipLevel, self.over, lastAlarm) = (level, atClipLevel, over, end)
        }

        /// The ceiling's level in dBFS, to 0.01 dB. (Plus zero: a level a hair under full
        /// scale rounds to -0.0, which prints "-0.0 dBFS".)
        var levelDBFS: Double { ((Decibels.fromAmplitude(Double(level)) ?? 0) * 100).rounded() / 100 + 0 }

        /// Takes in a later event's alarms.
        mutating func merge(_ other: Building) {
            event.startFrame = min(event.startFrame, other.event.startFrame)
            event.endFrame = max(event.endFrame, other.event.endFrame)
            event.lobes += other.event.lobes
            if event.polarity != other.event.polarity { event.polarity = .both }
            level = max(level, other.level)
            atClipLevel = atClipLevel && other.atClipLevel
            over.merge(other.over)
            lastAlarm = max(lastAlarm, other.lastAlarm)
        }
    }

    /// The events not yet written, oldest first: the newest is open to the alarms that follow
    /// within a second, and each is kept while an alarm still to come could start within a
    /// second of its last alarm (``mayStillMerge(_:now:)``), which then joins it and those
    /// after it into one: an alarm that reaches back further than the ones that opened them
    /// (rule C's, 3 s). At most `keptCount`; when a new event would be one more, the oldest
    /// is written.
    private let kept: UnsafeMutablePointer<Building>
    private var keptTotal = 0
    static let keptCount = 4
    /// Events opened so far (the last one's number).
    private var eventsOpened = 0
    /// The newest event, kept or written: its number (0: none yet) and where it begins (the
    /// frame a live warning names). A new number is a new event (a live warning for each); a
    /// later alarm that joins it to an earlier one brings the earlier one's back.
    private(set) var newest = (number: 0, start: 0)

    // Totals.
    private(set) var flatEvents = 0
    /// The closed event with the highest estimated peak before its ceiling: its level and
    /// overshoot (dB), for the gain proposal.
    private(set) var worst: (level: Double, over: Double?)?

    init(channel: Int, rate: Int, bits: Int?, clipCandidate: Float) {
        self.channel = channel
        let lsb1024 = bits.map { Float(1024) / Float(Int64(1) << ($0 - 1)) } ?? 0
        floor = min(max(Float(Decibels.toAmplitude(-40)), lsb1024), 1)
        halfSecond = rate / 2
        longWindow = 3 * rate
        second = rate
        quarter = max(rate / 4, 1)
        floorDB = 20 * log10(floor)
        bins = Int((-floorDB / Self.binDB).rounded(.up)) + 1
        let ceilingBin = Int(((20 * log10(max(clipCandidate, floor)) - floorDB) / Self.binDB).rounded(.down))
        clipBin = min(max(ceilingBin - 1, 0), bins - 1)
        recent = .allocate(capacity: 2 * Self.recentCount)
        recent.initialize(repeating: FlatLobe(), count: 2 * Self.recentCount)
        // Interleaved: a peak's count and its `preceded` count share a cache line.
        counts = .allocate(capacity: 2 * 2 * 4 * bins)
        counts.initialize(repeating: 0, count: 2 * 2 * 4 * bins)
        preceded = counts + 1
        sums = .allocate(capacity: 2 * 4 * bins)
        sums.initialize(repeating: 0, count: 2 * 4 * bins)
        bursts = .allocate(capacity: Self.burstCount)
        bursts.initialize(repeating: Burst(), count: Self.burstCount)
        held = .allocate(capacity: Self.heldCount)
        held.initialize(repeating: HeldAlarm(), count: Self.heldCount)
        kept = .allocate(capacity: Self.keptCount)
        let open = UnsafeMutablePointer<hr_burst>.allocate(capacity: 2)
        open.initialize(repeating: hr_burst(), count: 2)
        let found = UnsafeMutablePointer<hr_burst_found>.allocate(capacity: Int(HR_BURSTS_FOUND))
        found.initialize(repeating: hr_burst_found(), count: Int(HR_BURSTS_FOUND))
        lane = .allocate(capacity: 1)
        lane.initialize(
            to: hr_flat_lane(
                counts: counts,
                sums: sums,
                bins: Int32(bins),
                quarter: 0,
                previous_bin: (-100, -100),
                top: (-1, -1, -1, -1, -1, -1, -1, -1),
                floor: floor,
                ceiling: clipCandidate,
                floor_db: floorDB,
                bursts: open,
                found: found,
                found_count: 0,
                burst_gap: Int32((Double(rate) * 0.02).rounded()),
                burst_length: Int32(rate / 10),
                last_clipped: 0,
                clip_window: Int64(rate)
            )
        )
        hr_bursts_init(lane)
    }

    func deallocate() {
        recent.deallocate()
        held.deallocate()
        kept.deinitialize(count: keptTotal)
        kept.deallocate()
        counts.deallocate()
        sums.deallocate()
        bursts.deallocate()
        lane.pointee.bursts.deallocate()
        lane.pointee.found.deallocate()
        lane.deallocate()
    }

    // MARK: - Feeding

    /// The level below which a lobe is not judged: 6 dB under the loudest sample of this
    /// quarter second so far and the three before it, and never below the floor. (The
    /// analyzer raises it sample by sample within a piece of a block, and tells this type
    /// each piece's peak afterwards, ``notePeak(_:)``.)
    var gate: Float { max(floor, quarterPeaks.max() * 0.5) }

    /// The loudest sample of a piece of this quarter second.
    mutating func notePeak(_ peak: Float) {
        quarterPeaks[quarterIndex] = max(quarterPeaks[quarterIndex], peak)
    }

    /// The frame where the current quarter second ends: the analyzer cuts its blocks there
    /// and calls ``endQuarter(into:)``.
    var quarterEnd: Int { quarterStart + quarter }

    /// Rule A counts a flat lobe only when its top, estimated as a clip run from the samples
    /// either side of it (``Overshoot``), would have gone at least 0.5 dB higher: a crest the
    /// sides say was barely cut is a rounded top on steep sides, which the kink alone takes
    /// for a flattened one. A plucked string (Karplus-Strong) repeats such a top every period
    /// at nearly one level (0.1 to 0.6 dB): 12 false flat events in 10 minutes before this
    /// test, none after; no clipped take of the figures lost its event. A top whose sides
    /// cannot be read counts.
    static let cutAtLeast = Float(Decibels.toAmplitude(0.5))

    /// Rule A raises an alarm only for flat lobes within this many dB of the loudest lobe of
    /// their polarity in the last second (under the clip level: `hr_near_top`), where a
    /// ceiling is. Plucked strings (Karplus-Strong, other seeds than the clean table's) repeat
    /// steep-sided, nearly flat tops every period 2 dB or more under their loudest: 30, 24 and
    /// 12 false flat events in 90 minutes at 44.1, 48 and 96 kHz (`bench/clipping-figures.py`),
    /// none with this test; the clipped takes of the figures kept every event and every figure
    /// at 2 dB (at 1 dB, six converter-like takes at +10 dB lost their rule-A estimate).
    static let underTopAtMost = 2.0

    /// A lobe of `polarity` (0 positive, 1 negative) with a flat top ended: frames
    /// `start..<end`, peak `peak` (linear, from the floor; `atClipLevel`: at the clip level,
    /// with no clip run), `ratio` its top's estimated peak over `peak` (the analyzer's, as for
    /// a clip run; nil when its sides cannot be read). Four within half a second at one level
    /// raise an alarm (rule A).
    mutating func flatLobe(
        polarity: Int,
        start: Int,
        end: Int,
        peak: Float,
        ratio: Float?,
        atClipLevel: Bool,
        into events: inout [Event]
    ) {
        guard ratio.map({ $0 >= Self.cutAtLeast }) ?? true else { return }
        let next = polarity == 0 ? recentNext.0 : recentNext.1
        recent[polarity * Self.recentCount + next] = FlatLobe(start: start, end: end, peak: peak, ratio: ratio)
        if polarity == 0 {
            recentNext.0 = (next + 1) % Self.recentCount
        } else {
            recentNext.1 = (next + 1) % Self.recentCount
        }
        let low = peak * 0.971_627  // -0.25 dB
        let high = peak * 1.029_201  // +0.25 dB
        // Four flat lobes at this level within half a second, or, where hits come a beat
        // apart, five of the last eight within 3 s, over a second or more (``longMinimum``).
        if ruleA(
            polarity: polarity,
            end: end,
            low: low,
            high: high,
            window: halfSecond,
            minimum: 4,
            spanning: 0,
            atClipLevel: atClipLevel,
            into: &events
        ) {
            return
        }
        _ = ruleA(
            polarity: polarity,
            end: end,
            low: low,
            high: high,
            window: longWindow,
            minimum: Self.longMinimum,
            spanning: second,
            atClipLevel: atClipLevel,
            into: &events
        )
    }

    /// Rule A's alarm over `window` frames before `end`: `minimum` flat lobes of `polarity`
    /// (the newest, ending at `end`, among them) peaking between `low` and `high`, the
    /// oldest ending `spanning` frames or more before the newest, not gliding, near the top.
    /// Whether it raised one.
    private mutating func ruleA(
        polarity: Int,
        end: Int,
        low: Float,
        high: Float,
        window: Int,
        minimum: Int,
        spanning: Int,
        atClipLevel: Bool,
        into events: inout [Event]
    ) -> Bool {
        let base = recent + polarity * Self.recentCount
        let newest = ((polarity == 0 ? recentNext.0 : recentNext.1) + Self.recentCount - 1) % Self.recentCount
        // The flat lobes of the window at this level; those not yet counted into an event are
        // what an alarm adds.
        let counted = polarity == 0 ? countedThrough.0 : countedThrough.1
        var matching = 0
        var first = end
        var oldestEnd = end
        var newLobes = 0
        var levelSum: Float = 0
        var tally = Overshoot.Tally()
        for k in 0..<Self.recentCount {
            let l = base[k]
            guard end - l.end < window && l.peak >= low && l.peak <= high else { continue }
            matching += 1
            first = min(first, l.start)
            oldestEnd = min(oldestEnd, l.end)
            levelSum += l.peak
            if l.end > counted {
                newLobes += 1
                tally.add(l.ratio)
            }
        }
        guard
            matching >= minimum && end - oldestEnd >= spanning
                && !Self.glides(base, newest: newest, end: end, window: window, low: low, high: high)
        else { return false }
        let level = levelSum / Float(matching)
        guard atClipLevel || hr_near_top(lane, Int32(polarity), Double(level), Self.underTopAtMost) != 0 else {
            return false
        }
        if polarity == 0 { countedThrough.0 = end } else { countedThrough.1 = end }
        alarm(
            polarity: polarity,
            start: first,
            end: end,
            level: level,
            lobes: newLobes,
            over: tally,
            atClipLevel: atClipLevel,
            into: &events
        )
        return true
    }

    /// A lobe at the clip level that holds a clip run ended, the first for a second: clip
    /// detection has it. Flat tops at the clip level are flat events only a second or more
    /// away from such lobes (SPEC: clip events are not also flat events; `hr_judge_lobes`
    /// passes on none within a second of one), so an open event of them is written here, with
    /// the events kept before it.
    mutating func clippedLobe(into events: inout [Event]) {
        if keptTotal > 0 && kept[keptTotal - 1].atClipLevel { emitKept(keptTotal, into: &events) }
    }

    /// Whether the flat lobes of `recent` (a ring whose newest entry is at `newest`) that end
    /// within `window` frames of `end` and peak between `low` and `high` fall, or rise, lobe
    /// after lobe. A ceiling holds its lobes at one level; a note that repeats a steep-sided,
    /// nearly flat top every period while it decays (a plucked string: each period a copy of
    /// the last, a little lower) lines four of them up within 0.25 dB too, but each lower than
    /// the one before. Plucked strings raised 51 false flat events in 10 minutes without
    /// this test, 12 with it; no clipped take of the figures lost its event. (A flattened
    /// tone under a fade falls lobe after lobe too, and is not flagged while it falls.)
    private static func glides(
        _ recent: UnsafeMutablePointer<FlatLobe>,
        newest: Int,
        end: Int,
        window: Int,
        low: Float,
        high: Float
    ) -> Bool {
        var previous: Float?
        var falling = true
        var rising = true
        for k in 1...recentCount {
            let l = recent[(newest + k) % recentCount]  // oldest first
            guard end - l.end < window && l.peak >= low && l.peak <= high else { continue }
            if let previous {
                falling = falling && l.peak < previous
                rising = rising && l.peak > previous
            }
            previous = l.peak
        }
        return falling || rising
    }

    /// Called where each quarter second ends (``quarterEnd``), by the analyzer, which cuts its
    /// blocks there: rule B judges the quarter, an event no alarm has extended for a second
    /// closes, and the next quarter begins. (At quarter seconds, not at blocks' ends, so that
    /// where blocks end changes nothing.)
    mutating func endQuarter(into events: inout [Event]) {
        let end = quarterEnd
        for polarity in 0..<2 { pileUp(polarity: polarity, now: end, into: &events) }
        releaseHeld(now: end, into: &events)
        hr_close_bursts(lane, Int64(end))
        takeBursts(into: &events)
        var done = 0
        while done < keptTotal && !mayStillMerge(kept[done], now: end) { done += 1 }
        emitKept(done, into: &events)
        quarterStart = end
        lane.pointee.quarter = Int32((quarterIndex + 1) % 4)
        quarterPeaks[quarterIndex] = 0
        for polarity in 0..<2 {
            let at = (polarity * 4 + quarterIndex) * bins
            (counts + 2 * at).update(repeating: 0, count: 2 * bins)
            (sums + at).update(repeating: 0, count: bins)
            withUnsafeMutableBytes(of: &lane.pointee.top) {
                $0.storeBytes(of: -1, toByteOffset: (polarity * 4 + quarterIndex) * 4, as: Int32.self)
            }
        }
    }

    /// Whether an alarm still to come, judged after `now` (a quarter's end), could start within a
    /// second of event `b`'s last alarm and so extend it (SPEC: flat events merge within 1 s). The
    /// event stays unwritten until none can. Alarms reach back: rule B's a second from the quarter
    /// it judges (the next is a quarter on), rule A's 3 s of flat lobes, a held alarm at the clip
    /// level a second more, and rule C's 3 s of bursts, to the first of three at one level, which
    /// may be one found already. (Closed a second after its last alarm, an event was followed by
    /// one that began where it ended, or half a second after: 90 such pairs in the 2,172 takes of
    /// `bench/clipping-figures.py`, and six seconds of clipped snare hits whose levels matched only
    /// now and then were two events.)
    private func mayStillMerge(_ b: Building, now: Int) -> Bool {
        let last = lastAlarmCountingHeld(after: b.lastAlarm)
        if now - last < (b.atClipLevel ? 2 * second + quarter : 2 * second - quarter) { return true }
        // A flat lobe that starts within a second of the last alarm, and that a rule-A alarm
        // still to come could reach back to (3 s).
        for k in 0..<2 * Self.recentCount where recent[k].start - last < second && now - recent[k].end < longWindow {
            return true
        }
        // A burst found that starts within a second of the last alarm and that a burst still to
        // come (ending after now less the gap that closes one) could lie within 3 s of.
        let reach = now - Int(lane.pointee.burst_gap) - 3 * second
        for k in 0..<Self.burstCount where bursts[k].start - last < second && bursts[k].end > reach {
            return true
        }
        return false
    }

    /// Ends the stream: the last quarter is judged and the events kept are written.
    mutating func finish(at end: Int, into events: inout [Event]) {
        if end > quarterStart {
            for polarity in 0..<2 { pileUp(polarity: polarity, now: end, into: &events) }
        }
        releaseHeld(now: Int.max / 2, into: &events)
        hr_close_bursts(lane, Int64.max / 2)
        takeBursts(into: &events)
        emitKept(keptTotal, into: &events)
    }

    /// The channel's flat figures so far. The events are those written and one for any not
    /// yet written: a later alarm can still join those into one, and a count that is shown
    /// (the meter's, a Prometheus counter) must never run ahead of the log or go back. The
    /// level and overshoot count every event.
    var figures: (events: Int, level: Double?, over: Double?) {
        var best = worst
        for k in 0..<keptTotal {
            let figure = (level: kept[k].levelDBFS, over: kept[k].over.overDB)
            if best == nil || Self.estimate(figure) > Self.estimate(best!) { best = figure }
        }
        return (flatEvents + min(keptTotal, 1), best?.level, best?.over)
    }

    private static func estimate(_ f: (level: Double, over: Double?)) -> Double {
        f.level + (f.over ?? GainAdvisor.unestimatedFlatOverDB)
    }

    // MARK: - Rules

    /// Rule B for one polarity over the four quarters: at the highest bin of the peaks under
    /// the clip level, then at the highest of those at it (lobes at the clip level with no
    /// clip run: a clipped signal resampled, whose tops touch full scale a sample at a time
    /// and ripple under it).
    private mutating func pileUp(polarity: Int, now: Int, into events: inout [Event]) {
        let tops = lane.pointee.top
        let below = max(
            max(polarity == 0 ? tops.0 : tops.4, polarity == 0 ? tops.1 : tops.5),
            max(polarity == 0 ? tops.2 : tops.6, polarity == 0 ? tops.3 : tops.7)
        )
        if below >= 0 { pileUp(polarity: polarity, top: Int(below), atClipLevel: false, now: now, into: &events) }
        var atClip = -1
        for q in 0..<4 {
            let row = counts + 2 * (polarity * 4 + q) * bins
            var b = bins - 1
            while b > max(clipBin - 1, atClip) && row[2 * b] == 0 { b -= 1 }
            if b >= clipBin && b > atClip { atClip = b }
        }
        if atClip > Int(below) {
            pileUp(polarity: polarity, top: atClip, atClipLevel: true, now: now, into: &events)
        }
    }

    /// Rule B at `top`, the highest bin of a polarity's peaks over the four quarters.
    private mutating func pileUp(polarity: Int, top: Int, atClipLevel: Bool, now: Int, into events: inout [Event]) {
        let bins = bins
        func total(_ table: UnsafeMutablePointer<UInt16>, _ lo: Int, _ hi: Int) -> Int {
            let (a, b) = (max(lo, 0), min(hi, bins - 1))
            guard a <= b else { return 0 }
            var sum = 0
            for q in 0..<4 {
                let row = table + 2 * (polarity * 4 + q) * bins
                for i in a...b { sum += Int(row[2 * i]) }
            }
            return sum
        }
        /// The squared counts of the bins from `lo` to `hi`, summed: with the counts' sum `s`,
        /// s^2 over this is how many levels (0.05 dB bins) the peaks spread over as equally
        /// filled ones, the levels holding peaks when each holds as many, fewer when a few hold
        /// most.
        func squaredCounts(_ lo: Int, _ hi: Int) -> Int {
            var squares = 0
            for i in stride(from: max(lo, 0), through: min(hi, bins - 1), by: 1) {
                let n = total(counts, i, i)
                squares += n * n
            }
            return squares
        }
        let band = Int((0.2 / Self.binDB).rounded())  // 4 bins
        let ceiling = total(counts, top - band, top)
        let topBin = total(counts, top, top)
        /// Whether the peaks under the top bin sit as a sampled tone's do, not as a ceiling's. A
        /// tone of a few samples per cycle peaks at a handful of sampled values: its top bin
        /// holds the crests that fell on a sample, and each value under it, a crest that fell
        /// between samples, as many or more. A fade a second long or more, as a tone generator
        /// or sox makes, fills the levels between them, and the other tests pass (on 27 of 504
        /// tones of 2 to 17 kHz at 44.1, 48 and 96 kHz faded in and out with sox, for the
        /// second where the fade meets the steady tone; 10 of 66 normalized to 0 dBFS, whose
        /// top crests sit at the maximum code with no clip run). A ceiling is where peaks pile
        /// up most: a tone, when some bin 0.25 to 6 dB under the top holds as many peaks as
        /// it, or two within 1 dB of it half as many each.
        func sampledTone() -> Bool {
            var halfFull = 0
            for b in stride(from: max(top - Int(6 / Self.binDB), 0), to: top - band, by: 1) {
                let n = total(counts, b, b)
                if n >= topBin { return true }
                if b >= top - Int(1 / Self.binDB) && 2 * n >= topBin { halfFull += 1 }
            }
            return halfFull >= 2
        }
        // The study asked for 6; on espeak speech and synthetic bass that let through about 10
        // false alarms an hour (one pitch period's peaks lining up). A clipped noise-like source
        // piles up far more than 16 peaks a second.
        // A digital ceiling (a clip after a gain stage, a limiter) puts its peaks into one
        // 0.05 dB bin, with at most half as many in the 0.35 dB under it (lobes that peaked
        // just short of it); a snare hit clipped that way gives 6 to 15 such peaks a second
        // per polarity, which the 16 would miss.
        let sharp = topBin >= Self.sharpPileUpMinimum && 2 * total(counts, top - 2 * band, top - 1) <= topBin
        guard ceiling >= Self.pileUpMinimum || sharp else { return }
        // Few peaks just short of the ceiling (0.2 to 0.4 dB under it): at most a quarter as
        // many. A sharp pile-up may have more, as a mix whose loudest hits a stage cuts by under
        // a dB has (some hits cut, a few that peaked just short): sampled band mixes (FluidR3)
        // cut 6 dB over gave 7 in the bin and 2 just under, and raised no flat event. Then at
        // most a quarter of its peaks may follow one at the ceiling: a vowel's pitch periods
        // put equal crests in a row, and a few a hair under them (espeak speech: 6 in the bin,
        // 1 under, 3 following one; the band's hits, 1).
        let near = total(counts, top - 2 * band, top - band - 1)
        let following = total(preceded, top - band, top)
        guard ceiling >= 4 * (near + 1) || (sharp && 4 * following <= ceiling) else { return }
        // The peaks 1 to 6 dB under the ceiling: enough of them, over enough levels.
        let (low, high) = (top - Int(6 / Self.binDB), top - Int(1 / Self.binDB))
        let spread = total(counts, low, high)
        guard spread >= 6 else { return }
        guard spread * spread >= Self.spreadLevels * squaredCounts(low, high) else { return }
        guard ceiling <= Self.ceilingPerSpread * spread else { return }
        guard following * 2 <= ceiling else { return }
        guard !sampledTone() else { return }
        // The oldest quarter holding ceiling peaks starts the alarm, and the newest ends it (the
        // window is a second: ended where it was judged, an alarm ran on for up to three
        // quarters past the last flattened peak, and so did its event).
        func holdsCeilingPeaks(quartersBack back: Int) -> Bool {
            let row = counts + 2 * (polarity * 4 + (quarterIndex + 4 - back) % 4) * bins
            for b in max(top - band, 0)...top where row[2 * b] > 0 { return true }
            return false
        }
        var oldest = 3
        while oldest > 0 && !holdsCeilingPeaks(quartersBack: oldest) { oldest -= 1 }
        var newest = 0
        while newest < oldest && !holdsCeilingPeaks(quartersBack: newest) { newest += 1 }
        let start = max(quarterStart - oldest * quarter, 0)
        let end = newest == 0 ? now : quarterStart - (newest - 1) * quarter
        // Joining an event, the alarm adds this quarter's peaks; the others are in it already.
        let joining = keptTotal > 0 && joins(kept[keptTotal - 1], start: max(start, emittedThrough))
        let newPeaks = joining ? ceiling / 4 : ceiling
        guard atClipLevel else {
            // The ceiling's level: the mean of the peaks in the bin its peaks' median falls in
            // (the study's median of the alarming lobes; a digital ceiling's peaks are all
            // one value). The band's middle read a ceiling at -1.00 dBFS as -1.08, and the
            // bin's middle as -0.97 or -0.98 (-1.00 is a bin's lower edge).
            var median = top
            var above = total(counts, top, top)
            while 2 * above < ceiling && median > top - band {
                median -= 1
                above += total(counts, median, median)
            }
            // (`top` holds peaks, and the walk stops only where one more bin's peaks tip the
            // count: the median's bin is never empty.)
            let sum = (0..<4).reduce(Float(0)) { $0 + sums[(polarity * 4 + $1) * bins + median] }
            let level = sum / Float(total(counts, median, median))
            alarm(
                polarity: polarity,
                start: start,
                end: end,
                level: level,
                lobes: newPeaks,
                over: nil,
                into: &events
            )
            return
        }
        // At the clip level, a pile-up within a second of a clipped lobe is clip detection's:
        // one before it drops the alarm now, one after it when the alarm is released.
        guard lane.pointee.last_clipped < start - second else { return }
        hold(polarity: polarity, start: start, end: end, raised: now, lobes: newPeaks, into: &events)
    }

    /// A rule-B alarm at the clip level, judged at `raised`, held (``HeldAlarm``).
    private mutating func hold(polarity: Int, start: Int, end: Int, raised: Int, lobes: Int, into events: inout [Event])
    {
        if heldTotal > 0 {
            let newest = held + (heldFirst + heldTotal - 1) % Self.heldCount
            if newest.pointee.raised == raised {
                newest.pointee.polarities |= 1 << polarity
                newest.pointee.start = min(newest.pointee.start, start)
                newest.pointee.end = max(newest.pointee.end, end)
                newest.pointee.lobes += lobes
                return
            }
        }
        if heldTotal == Self.heldCount { releaseHeld(now: raised, into: &events) }
        held[(heldFirst + heldTotal) % Self.heldCount] = HeldAlarm(
            polarities: 1 << polarity,
            start: start,
            end: end,
            raised: raised,
            lobes: lobes
        )
        heldTotal += 1
    }

    /// An event's last alarm, `lastAlarm`, counting the held alarms that will extend it when
    /// they are released (those that start within a second of it, one after another, and that a clip
    /// run has not dropped so far). Alarms merge by where they lie, not by when they are
    /// raised: closed, or ended by a later alarm more than a second on, while such an alarm
    /// waited, an event was cut in two (a ceiling at -3 dBFS and tops touching full scale a
    /// sample at a time, one right after the other, were two events, the second one taking the
    /// held alarm's start and level).
    private func lastAlarmCountingHeld(after lastAlarm: Int) -> Int {
        var last = lastAlarm
        for k in 0..<heldTotal {
            let a = held[(heldFirst + k) % Self.heldCount]
            if let start = releasedStart(a), start - last < second { last = max(last, a.end) }
        }
        return last
    }

    /// Where held alarm `a` starts when it is released, as far as is known now (no earlier than
    /// the last event written ended); nil when it would be dropped: a lobe with a clip run ended
    /// within a second before it or since, or the last event written already covers it.
    private func releasedStart(_ a: HeldAlarm) -> Int? {
        let start = max(a.start, emittedThrough)
        return lane.pointee.last_clipped < a.start - second && start < a.end ? start : nil
    }

    /// Raises the held alarms that ended a second or more before `now` (and the oldest when
    /// the ring is full), oldest first, except those within a second of a lobe with a clip
    /// run. (The last such lobe may have ended after that second, up to a quarter later: an
    /// alarm is dropped then too, the safer way.) An alarm starts no earlier than the last
    /// event ended, which rule A may have raised meanwhile.
    private mutating func releaseHeld(now: Int, into events: inout [Event]) {
        while heldTotal > 0 && (now - held[heldFirst].end >= second || heldTotal == Self.heldCount) {
            let a = held[heldFirst]
            heldFirst = (heldFirst + 1) % Self.heldCount
            heldTotal -= 1
            guard let start = releasedStart(a) else { continue }
            for polarity in 0..<2 where a.polarities & (1 << polarity) != 0 {
                let first = polarity == 0 || a.polarities == 2
                alarm(
                    polarity: polarity,
                    start: start,
                    end: a.end,
                    level: lane.pointee.ceiling,
                    lobes: first ? a.lobes : 0,
                    over: nil,
                    atClipLevel: true,
                    into: &events
                )
            }
        }
    }

    /// Rule C for the bursts the kernel found since the last call: three at one level (within
    /// 0.3 dB) within 3 s raise an alarm.
    private mutating func takeBursts(into events: inout [Event]) {
        let found = lane.pointee.found!
        for i in 0..<Int(lane.pointee.found_count) {
            let f = found[i]
            // A burst within 1.5 dB of the clip level with a lobe holding a clip run a second
            // before it or since (up to this quarter's end) is the clip's shoulder: clip
            // detection's. (A kick clipped the same way every hit, whose tops that fall just
            // short of full scale come back at one level, made one at -0.7 dBFS.)
            let shoulder = f.level >= Self.shoulder * lane.pointee.ceiling
            guard !shoulder || lane.pointee.last_clipped < Int64(f.start) - Int64(second) else { continue }
            let burst = Burst(start: Int(f.start), end: Int(f.end), level: f.level, lobes: Int(f.lobes))
            bursts[burstNext] = burst
            burstNext = (burstNext + 1) % Self.burstCount
            let (low, high) = (burst.level * 0.966_051, burst.level * 1.035_142)  // -0.3, +0.3 dB
            var matching = 0
            var first = burst.start
            var levelSum: Float = 0
            var newLobes = 0
            for k in 0..<Self.burstCount {
                let b = bursts[k]
                guard burst.end - b.end <= 3 * second && b.level >= low && b.level <= high else { continue }
                matching += 1
                first = min(first, b.start)
                levelSum += b.level
                if b.end > burstsCountedThrough { newLobes += b.lobes }
            }
            guard matching >= Self.burstMinimum else { continue }
            burstsCountedThrough = burst.end
            alarm(
                polarity: Int(f.polarity),
                start: first,
                end: burst.end,
                level: levelSum / Float(matching),
                lobes: newLobes,
                over: nil,
                into: &events
            )
        }
        lane.pointee.found_count = 0
    }

    private mutating func alarm(
        polarity: Int,
        start: Int,
        end: Int,
        level: Float,
        lobes: Int,
        over: Overshoot.Tally?,
        atClipLevel: Bool = false,
        into events: inout [Event]
    ) {
        // Events never overlap: an alarm that reaches back past the last event written (which
        // ``mayStillMerge(_:now:)`` keeps unwritten while one can: a lobe a quarter second long
        // may still) starts where that one ended. (The events kept began after it ended, so
        // this changes no decision to merge.)
        let start = max(start, emittedThrough)
        let raised = Building(
            channel: channel,
            polarity: polarity == 0 ? .positive : .negative,
            start: start,
            end: end,
            level: level,
            lobes: lobes,
            over: over ?? Overshoot.Tally(),
            atClipLevel: atClipLevel
        )
        // The oldest event kept that the alarm joins: it, the events after it and the alarm
        // are one. (Their last alarms come later and later: the alarm joins theirs too.)
        var first = 0
        while first < keptTotal && !joins(kept[first], start: start) { first += 1 }
        if first < keptTotal {
            for k in (first + 1)..<keptTotal { kept[first].merge(kept[k]) }
            kept[first].merge(raised)
            (kept + first + 1).deinitialize(count: keptTotal - first - 1)
            keptTotal = first + 1
        } else {
            guard start < end else { return }  // wholly inside the last event written: nothing new
            if keptTotal == Self.keptCount { emitKept(1, into: &events) }
            eventsOpened += 1
            (kept + keptTotal).initialize(to: raised)
            kept[keptTotal].number = eventsOpened
            keptTotal += 1
        }
        newest = (kept[keptTotal - 1].number, kept[keptTotal - 1].event.startFrame)
    }

    /// Whether an alarm from `start` (no earlier than the last event written) joins event `b`:
    /// it starts within a second of `b`'s last alarm, held alarms that will join `b` counted.
    private func joins(_ b: Building, start: Int) -> Bool {
        start - lastAlarmCountingHeld(after: b.lastAlarm) < second
    }

    /// Writes the oldest `count` events kept.
    private mutating func emitKept(_ count: Int, into events: inout [Event]) {
        guard count > 0 else { return }
        for k in 0..<count { emit(kept[k], into: &events) }
        kept.deinitialize(count: count)
        kept.moveInitialize(from: kept + count, count: keptTotal - count)
        keptTotal -= count
    }

    private mutating func emit(_ b: Building, into events: inout [Event]) {
        var event = b.event
        event.levelDBFS = b.levelDBFS
        event.overDB = b.over.overDB.map { ($0 * 100).rounded() / 100 }
        emittedThrough = event.endFrame
        let figure = (level: event.levelDBFS, over: event.overDB)
        if worst == nil || Self.estimate(figure) > Self.estimate(worst!) { worst = figure }
        flatEvents += 1
        events.append(.flat(event))
    }
}
