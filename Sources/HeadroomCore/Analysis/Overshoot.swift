/// SPEC's overshoot (`over_db`): how far above a ceiling the waveform would have gone, from
/// the shape of the samples on either side of a pinned run (the "slope-width parabola" of
/// `design/clipping-beyond-full-scale.md`).
///
/// Each side of the run gives a crossing of the ceiling and the waveform's slope there; a
/// parabola that leaves both crossings with those slopes peaks `slope * width / 4` above
/// the ceiling. O(1) per run, plain values, no allocation: it runs on the analyzer thread.
///
/// Two rules beyond the study. The sides' slopes are combined by a mean that reads
/// asymmetric crests better than the study's harmonic mean (``combined(_:_:)``). And a run
/// at least ``longRun`` samples wide is estimated only when the samples climb steadily into
/// it on both sides (two rising steps, neither more than twice the other). Such a run sits
/// on a slow arc, a tone's crest, whose edges climb smoothly; an edge that zigzags or jumps
/// is hiss, and its slope says nothing about the arc. Multiplied by a long run's width, that
/// slope read tones under hiss 20 dB down, clipped 6 or 10 dB over, 5 to 14 dB too high
/// (proposals that much too low), and pink noise 10 dB over as 17 dB
/// (`docs/clipping-figures.md` has the figures now). Short runs keep the study's estimate,
/// noisy edges and all: on a snare, that is what finds its peaks.
enum Overshoot {
    /// One side of a run: where the waveform crosses the ceiling, as a fraction of a sample
    /// from the nearest unpinned sample (`tau` in (0, 1]), and its slope there (level per
    /// sample, > 0).
    struct Side: Equatable {
        var slope: Float
        var tau: Float
        /// The samples climb steadily towards the run: `v3 < v2 < v1`, neither step more than
        /// twice the other (true when there is no `v3`).
        var rises = true
    }

    /// Runs at least this wide (samples between the crossings) need both sides to rise.
    static let longRun: Float = 8

    /// The side of a run at ceiling `level` whose nearest unpinned samples, going away from
    /// the run, are `v1`, `v2` and `v3` (signed so that the run is positive; `nil` where a
    /// sample is pinned or outside the stream). Nil when fewer than two samples are unpinned
    /// or the waveform does not rise towards the run.
    static func side(level c: Float, _ v1: Float, _ v2: Float?, _ v3: Float?) -> Side? {
        guard let v2, v1 < c else { return nil }
        let rises =
            v3.map { v3 in
                let (near, far) = (v1 - v2, v2 - v3)
                return far > 0 && near <= 2 * far && far <= 2 * near
            } ?? true
        if let v3 {
            // The parabola through the three samples, p(0) = v1, p(-1) = v2, p(-2) = v3.
            let c2 = (v1 - 2 * v2 + v3) / 2
            let d = (3 * v1 - 4 * v2 + v3) / 2
            if let tau = smallestRoot(a: c2, b: d, c: v1 - c) {
                let slope = d + 2 * c2 * tau
                if slope > 0 { return Side(slope: slope, tau: tau, rises: rises) }
            }
        }
        let slope = v1 - v2
        guard slope > 0 else { return nil }
        return Side(slope: slope, tau: min(1, (c - v1) / slope), rises: rises)
    }

    /// The side of a run at ceiling `level` read by `sample(k)`: the `k`-th sample away from
    /// the run (1...3), signed so that the run is positive, nil where it is pinned or outside
    /// the stream. (The clip walk's ``ClipDetector/Lane/edge(_:frame:starting:)`` reads its
    /// three samples itself: it runs at every run edge of fizzy clipping, and through this
    /// closure measured 0-25 % slower there, within the machine's noise but not ruled out.)
    @inline(__always)
    static func side(level c: Float, away sample: (Int) -> Float?) -> Side? {
        guard let v1 = sample(1) else { return nil }
        let v2 = sample(2)
        return side(level: c, v1, v2, v2 == nil ? nil : sample(3))
    }

    /// The estimated unclipped peak over the ceiling, as a ratio (>= 1), for a run of
    /// `length` pinned samples between `entry` and `exit`; nil for a long run with a side
    /// that does not climb steadily into it (hiss, not the arc).
    static func ratio(level c: Float, length: Int, entry: Side, exit: Side) -> Float? {
        // Crossings at (first - 1 + tau_in) and (last + 1 - tau_out).
        let width = Float(length + 1) - entry.tau - exit.tau
        if width >= longRun && !(entry.rises && exit.rises) { return nil }
        let slope = combined(entry.slope, exit.slope)
        return max(1, (c + slope * max(width, 0) / 4) / c)
    }

    /// The slope of a crest entered with slope `a` and left with `b`: their power mean of
    /// exponent -1/2, `4ab / (sqrt(a) + sqrt(b))^2`. The study took the harmonic mean, the
    /// slope of two half-parabolas that meet at one peak; that mean is ruled by the smaller
    /// slope, and an asymmetric crest (a slow rise and a steep fall: a saw-like bass, a
    /// synth) reads low, a bass line 10 dB over as 7 dB, outside the window in which the
    /// proposal lands the peak in the band. The geometric mean reads those right but tones
    /// under hiss, whose one noisy edge is steep, 6 dB too high. This one lies between, and
    /// both equal the slope itself when the sides agree (sines read as before).
    /// `docs/clipping-figures.md` has the figures, on held-out material too.
    static func combined(_ a: Float, _ b: Float) -> Float {
        let roots = a.squareRoot() + b.squareRoot()
        return 4 * a * b / (roots * roots)
    }

    /// The smallest root of `a t^2 + b t + c` in (0, 1], if any.
    private static func smallestRoot(a: Float, b: Float, c: Float) -> Float? {
        if abs(a) < 1e-12 {
            guard b != 0 else { return nil }
            let t = -c / b
            return t > 0 && t <= 1 ? t : nil
        }
        let disc = b * b - 4 * a * c
        guard disc >= 0 else { return nil }
        let r = disc.squareRoot()
        let t1 = (-b - r) / (2 * a)
        let t2 = (-b + r) / (2 * a)
        let (lo, hi) = t1 < t2 ? (t1, t2) : (t2, t1)
        if lo > 0 && lo <= 1 { return lo }
        if hi > 0 && hi <= 1 { return hi }
        return nil
    }

    /// The overshoot figures of a group of runs (a clip event, or a flat event's lobes): the
    /// median of the three largest estimates, and whether fewer than half of the runs could
    /// be estimated (then the figure is only a lower bound).
    struct Tally: Equatable {
        /// The three largest ratios, largest first (0: none).
        var top: (Float, Float, Float) = (0, 0, 0)
        var estimated = 0
        var total = 0

        static func == (a: Tally, b: Tally) -> Bool {
            a.top == b.top && a.estimated == b.estimated && a.total == b.total
        }

        mutating func add(_ ratio: Float?) {
            total += 1
            guard let r = ratio else { return }
            estimated += 1
            if r > top.0 {
                top = (r, top.0, top.1)
            } else if r > top.1 {
                top = (top.0, r, top.1)
            } else if r > top.2 {
                top.2 = r
            }
        }

        mutating func merge(_ other: Tally) {
            let (estimated, total) = (self.estimated + other.estimated, self.total + other.total)
            if other.top.0 > 0 { add(other.top.0) }
            if other.top.1 > 0 { add(other.top.1) }
            if other.top.2 > 0 { add(other.top.2) }
            (self.estimated, self.total) = (estimated, total)
        }

        /// dB over the ceiling; nil when nothing could be estimated.
        var overDB: Double? {
            let ratio: Float
            switch min(estimated, 3) {
            case 0: return nil
            case 1: ratio = top.0
            case 2: ratio = (top.0 * top.1).squareRoot()  // the median of two, in dB
            default: ratio = top.1
            }
            return Decibels.fromAmplitude(Double(ratio)).map { max($0, 0) }
        }

        var isBound: Bool { estimated * 2 < total }
    }
}
