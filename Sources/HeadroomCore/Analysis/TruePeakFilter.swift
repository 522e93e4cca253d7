/// The ITU-R BS.1770-4 Annex 2 interpolation filter: 4x oversampling, 48 taps in
/// 4 phases of 12, applied as `y_p[n] = Σ_k h_p[k]·x[n-k]` with a delay line that
/// starts at zero.
///
/// Phase 3 is phase 0 reversed and phase 2 is phase 1 reversed. With
/// `s_k = x[n-k] + x[n-11+k]` and `d_k = x[n-k] - x[n-11+k]` (k < 6), one pair of
/// phases needs only 12 multiplies:
/// `max(|y0|, |y3|) = |Σ (h0[k]+h0[11-k])/2·s_k| + |Σ (h0[k]-h0[11-k])/2·d_k|`,
/// because `max(|a+b|, |a-b|) = |a| + |b|`. The kernel computes, per input frame, the
/// largest magnitude among the four interpolated points that lie between frames
/// `n-6` and `n-5`; that is all a peak meter needs.
public enum TruePeakFilter {
    /// Taps per phase.
    public static let tapsPerPhase = 12
    /// Frames of history the filter needs (`tapsPerPhase - 1`).
    public static let historyFrames = 11
    /// Frames between an input frame and the step whose interpolated points follow it.
    public static let delayFrames = 6

    /// The four phases of Table 2 of BS.1770-4 Annex 2, `phases[p][k]` = `h_p[k]`.
    public static let phases: [[Double]] = [
        [
            0.0017089843750, 0.0109863281250, -0.0196533203125, 0.0332031250000, -0.0594482421875, 0.1373291015625,
            0.9721679687500, -0.1022949218750, 0.0476074218750, -0.0266113281250, 0.0148925781250, -0.0083007812500,
        ],
        [
            -0.0291748046875, 0.0292968750000, -0.0517578125000, 0.0891113281250, -0.1665039062500, 0.4650878906250,
            0.7797851562500, -0.2003173828125, 0.1015625000000, -0.0582275390625, 0.0330810546875, -0.0189208984375,
        ],
        [
            -0.0189208984375, 0.0330810546875, -0.0582275390625, 0.1015625000000, -0.2003173828125, 0.7797851562500,
            0.4650878906250, -0.1665039062500, 0.0891113281250, -0.0517578125000, 0.0292968750000, -0.0291748046875,
        ],
        [
            -0.0083007812500, 0.0148925781250, -0.0266113281250, 0.0476074218750, -0.1022949218750, 0.9721679687500,
            0.1373291015625, -0.0594482421875, 0.0332031250000, -0.0196533203125, 0.0109863281250, 0.0017089843750,
        ],
    ]

    /// The largest sum of absolute taps of any phase (about 2.023): no interpolated
    /// point can exceed this times the largest input magnitude in its 12-frame window.
    /// Rounded up a little so float rounding can never make the bound too small.
    public static let maximumGain: Float = {
        let worst = phases.map { $0.reduce(0) { $0 + abs($1) } }.max()!
        return Float(worst) * 1.001
    }()

    /// The largest `|Σ_k h_p[k]|` of any phase (its gain at DC, about 1.0016), rounded up.
    public static let dcGain: Float = {
        Float(phases.map { abs($0.reduce(0, +)) }.max()!) * 1.001
    }()

    /// The slope term of ``bound(peak:slope:)`` (about 0.861), rounded up. Each output is
    /// `H_p·x[n-c] + Σ_j g_j·(x[j] - x[j-1])` with `g_j` the partial sums of the taps
    /// outward from `c`; the partial sums of these alternating taps nearly cancel, so
    /// `Σ|g_j|` is small. Taken per phase at its best `c`, then the largest of the four.
    public static let slopeGain: Float = {
        let worst = phases.map { h in
            (0..<tapsPerPhase).map { c in
                let left = (0..<c).map { j in abs(h[...j].reduce(0, +)) }
                let right = ((c + 1)..<tapsPerPhase).map { j in abs(h[j...].reduce(0, +)) }
                return (left + right).reduce(0, +)
            }.min()!
        }.max()!
        return Float(worst) * 1.001
    }()

    /// An upper bound on every interpolated magnitude of a 12-frame window whose samples
    /// are at most `peak` in magnitude and whose consecutive samples differ by at most
    /// `slope`: the smaller of ``maximumGain``·peak (any signal) and
    /// ``dcGain``·peak + ``slopeGain``·slope (tight for the low and mid frequencies that
    /// carry most of a session's level: 1.12 x peak for a 1 kHz tone at 48 kHz).
    @inlinable @inline(__always)
    static func bound<V: SIMD>(peak: V, slope: V) -> V where V.Scalar == Float {
        let general = peak * maximumGain
        let smooth = peak * dcGain + slope * slopeGain
        var r = general
        for i in r.indices { r[i] = smooth[i] < general[i] ? smooth[i] : general[i] }
        return r
    }

    /// The 24 folded coefficients, in the order the kernel uses them:
    /// `[p03s0..5, p03d0..5, p12s0..5, p12d0..5]`.
    static let folded: [Float] = {
        var out: [Float] = []
        for pair in [0, 1] {
            let h = phases[pair]
            out += (0..<6).map { Float((h[$0] + h[11 - $0]) / 2) }
            out += (0..<6).map { Float((h[$0] - h[11 - $0]) / 2) }
        }
        return out
    }()

    /// Runs the filter over `frames` steps of one lane group.
    ///
    /// - Parameters:
    ///   - input: `historyFrames + frames` vectors; `input[historyFrames + n]` is frame n
    ///     of the block, the first 11 vectors are the frames before it.
    ///   - output: receives, per step n, the largest interpolated magnitude (linear).
    ///     May be `nil` when only the running maximum is wanted.
    ///   - frames: steps to run.
    /// - Returns: the largest interpolated magnitude of the block, per lane.
    @inlinable
    @_specialize(where V == SIMD4<Float>)
    @_specialize(where V == SIMD8<Float>)
    @_specialize(where V == SIMD16<Float>)
    static func run<V: SIMD>(
        input: UnsafePointer<V>,
        output: UnsafeMutablePointer<V>?,
        frames: Int,
        coefficients c: UnsafePointer<Float>
    ) -> V where V.Scalar == Float {
        let a0 = V(repeating: c[0])
        let a1 = V(repeating: c[1])
        let a2 = V(repeating: c[2])
        let a3 = V(repeating: c[3])
        let a4 = V(repeating: c[4])
        let a5 = V(repeating: c[5])
        let b0 = V(repeating: c[6])
        let b1 = V(repeating: c[7])
        let b2 = V(repeating: c[8])
        let b3 = V(repeating: c[9])
        let b4 = V(repeating: c[10])
        let b5 = V(repeating: c[11])
        let e0 = V(repeating: c[12])
        let e1 = V(repeating: c[13])
        let e2 = V(repeating: c[14])
        let e3 = V(repeating: c[15])
        let e4 = V(repeating: c[16])
        let e5 = V(repeating: c[17])
        let f0 = V(repeating: c[18])
        let f1 = V(repeating: c[19])
        let f2 = V(repeating: c[20])
        let f3 = V(repeating: c[21])
        let f4 = V(repeating: c[22])
        let f5 = V(repeating: c[23])
        var blockMax = V(repeating: 0)
        for n in 0..<frames {
            // x[n-k] is input[n + 11 - k].
            let w = input + n
            let x0 = w[11]
            let x1 = w[10]
            let x2 = w[9]
            let x3 = w[8]
            let x4 = w[7]
            let x5 = w[6]
            let x6 = w[5]
            let x7 = w[4]
            let x8 = w[3]
            let x9 = w[2]
            let x10 = w[1]
            let x11 = w[0]
            let s0 = x0 + x11
            let s1 = x1 + x10
            let s2 = x2 + x9
            let s3 = x3 + x8
            let s4 = x4 + x7
            let s5 = x5 + x6
            let d0 = x0 - x11
            let d1 = x1 - x10
            let d2 = x2 - x9
            let d3 = x3 - x8
            let d4 = x4 - x7
            let d5 = x5 - x6
            var p03 = s0 * a0
            p03 += s1 * a1
            p03 += s2 * a2
            p03 += s3 * a3
            p03 += s4 * a4
            p03 += s5 * a5
            var q03 = d0 * b0
            q03 += d1 * b1
            q03 += d2 * b2
            q03 += d3 * b3
            q03 += d4 * b4
            q03 += d5 * b5
            var p12 = s0 * e0
            p12 += s1 * e1
            p12 += s2 * e2
            p12 += s3 * e3
            p12 += s4 * e4
            p12 += s5 * e5
            var q12 = d0 * f0
            q12 += d1 * f1
            q12 += d2 * f2
            q12 += d3 * f3
            q12 += d4 * f4
            q12 += d5 * f5
            let m03 = magnitude(p03) + magnitude(q03)
            let m12 = magnitude(p12) + magnitude(q12)
            let m = maximum(m03, m12)
            output?[n] = m
            blockMax = maximum(blockMax, m)
        }
        return blockMax
    }

    /// The larger of `a` and `b` per lane (a per-lane select, which compiles to `maxps`;
    /// `replacing(with:where:)` does not vectorize).
    @inlinable @inline(__always)
    static func maximum<V: SIMD>(_ a: V, _ b: V) -> V where V.Scalar == Float {
        var r = a
        for i in r.indices { r[i] = a[i] > b[i] ? a[i] : b[i] }
        return r
    }

    /// `|v|` per lane, by clearing the sign bit.
    @inlinable @inline(__always)
    static func magnitude<V: SIMD>(_ v: V) -> V where V.Scalar == Float {
        var r = v
        for i in r.indices { r[i] = Float(bitPattern: v[i].bitPattern & 0x7FFF_FFFF) }
        return r
    }
}
