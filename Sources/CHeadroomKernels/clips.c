// The clip walk's loops over one lane of a group (Analyzer.walk): a lane's samples sit
// `stride` floats apart, so these are scalar, but without Swift's overflow checks on every
// index and with two chains of maxima instead of one. (In Swift, the walk along a clip run
// of the `clipped` benchmark material took a third of the analyzer's time: four checked
// index computations and two 4-cycle max chains a frame.)
#include "CHeadroomKernels.h"

static inline float mag(float v) { return v < 0.0f ? -v : v; }
static inline float larger(float a, float b) { return a > b ? a : b; }

size_t hr_clip_stretch(const float *restrict x, const float *restrict steps, size_t stride, size_t count,
                       float threshold, float *restrict peak, float *restrict true_peak) {
    float p0 = *peak, p1 = p0, t0 = *true_peak, t1 = t0;
    size_t i = 0;
    for (; i + 2 <= count; i += 2) {
        const float a = mag(x[i * stride]), b = mag(x[(i + 1) * stride]);
        if (!(a >= threshold) || !(b >= threshold)) break;
        p0 = larger(p0, a);
        p1 = larger(p1, b);
        t0 = larger(t0, larger(a, steps[i * stride]));
        t1 = larger(t1, larger(b, steps[(i + 1) * stride]));
    }
    for (; i < count; i++) {
        const float a = mag(x[i * stride]);
        if (!(a >= threshold)) break;
        p0 = larger(p0, a);
        t0 = larger(t0, larger(a, steps[i * stride]));
    }
    *peak = larger(p0, p1);
    *true_peak = larger(t0, t1);
    return i;
}

size_t hr_first_at_least(const float *x, size_t stride, size_t count, float threshold) {
    size_t i = 0;
    // Four frames a test: on material that clips now and then, most stretches between clips
    // are long.
    for (; i + 4 <= count; i += 4) {
        const float m = larger(larger(mag(x[i * stride]), mag(x[(i + 1) * stride])),
                               larger(mag(x[(i + 2) * stride]), mag(x[(i + 3) * stride])));
        if (m >= threshold) break;
    }
    for (; i < count; i++)
        if (mag(x[i * stride]) >= threshold) return i;
    return count;
}

size_t hr_open_gap(const float *restrict x, const float *restrict steps, size_t stride, size_t count, float clip,
                   float hot, int64_t hold, int64_t *restrict last_, float *restrict since_,
                   float *restrict true_since_, float *restrict burst_peak_) {
    int64_t last = *last_;
    float since = *since_, true_since = *true_since_, burst_peak = *burst_peak_;
    size_t i = 0;
    for (; i < count; i++) {
        if ((int64_t)i >= last + hold) break;
        const float a = mag(x[i * stride]);
        if (a >= clip) break;
        const float t = larger(a, steps[i * stride]);
        since = larger(since, a);
        true_since = larger(true_since, t);
        const int over = t > hot;
        last = over ? (int64_t)i : last;
        burst_peak = over && t > burst_peak ? t : burst_peak;
    }
    *last_ = last;
    *since_ = since;
    *true_since_ = true_since;
    *burst_peak_ = burst_peak;
    return i;
}
