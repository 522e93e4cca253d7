// The clip walk's loops (Analyzer.walk). hr_clip_stretches finds, for all lanes of a group at
// once and every frame of the stretch of frames being walked, where that frame's run or gap
// ends and its maxima: the walk looks a run or a gap up instead of stepping through it. The two
// loops over one lane are for what the table does not answer (an open event's maxima up to
// where it may expire; the next clip in a partial group of 32-bit PCM): a lane's samples sit
// `stride` floats apart, so they are scalar, but without Swift's overflow checks on every index
// and with two chains of maxima instead of one.
#include "CHeadroomKernels.h"

#include <stddef.h>
#include <string.h>

#include "vectors.h"

static inline float mag(float v) { return v < 0.0f ? -v : v; }
static inline float larger(float a, float b) { return a > b ? a : b; }

void hr_lane_maxima(const float *restrict x, const float *restrict steps, size_t stride, size_t count,
                    float *restrict peak, float *restrict true_peak) {
    float p0 = *peak, p1 = p0, t0 = *true_peak, t1 = t0;
    size_t i = 0;
    for (; i + 2 <= count; i += 2) {
        const float a = mag(x[i * stride]), b = mag(x[(i + 1) * stride]);
        p0 = larger(p0, a);
        p1 = larger(p1, b);
        t0 = larger(t0, larger(a, steps[i * stride]));
        t1 = larger(t1, larger(b, steps[(i + 1) * stride]));
    }
    for (; i < count; i++) {
        const float a = mag(x[i * stride]);
        p0 = larger(p0, a);
        t0 = larger(t0, larger(a, steps[i * stride]));
    }
    *peak = larger(p0, p1);
    *true_peak = larger(t0, t1);
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

// The stretches of every lane of a group at once, from the last frame back: a frame's stretch
// goes on while the frames after it are clipped as it is, so each frame's row holds what the
// loops above would find from there, for all lanes, with vector compares and no branch.

#define HR_STRETCHES(W)                                                                                          \
    static void stretches##W(const float *restrict x, const float *restrict steps, size_t count, float clip,     \
                             float hot, const int32_t *codes, const int32_t *earlier_codes, ptrdiff_t first,     \
                             size_t code_stride, int32_t exact, hr_stretches *restrict out) {                    \
        vi##W end_next = (vi##W){} + (int32_t)count, last_next = (vi##W){} - 1, clipped_next = (vi##W){};        \
        vi##W has_next = (vi##W){};                                                                              \
        vf##W peak_next = (vf##W){}, true_next = (vf##W){};                                                      \
        const vi##W abs_mask = (vi##W){} + 0x7fffffff;                                                           \
        for (size_t k = count; k-- > 0;) {                                                                       \
            vf##W v, s;                                                                                          \
            memcpy(&v, x + k * W, sizeof v);                                                                     \
            memcpy(&s, steps + k * W, sizeof s);                                                                 \
            const vf##W m = (vf##W)((vi##W)v & abs_mask);                                                        \
            const vf##W t = SEL(W, m > s, m, s);                                                                 \
            vi##W clipped = m >= clip;                                                                           \
            if (codes) {                                                                                         \
                const ptrdiff_t at = first + (ptrdiff_t)k;                                                       \
                vi##W raw;                                                                                       \
                memcpy(&raw, (at >= 0 ? codes : earlier_codes) + at * (ptrdiff_t)code_stride, sizeof raw);       \
                clipped &= (raw >= exact) | (raw <= -exact);                                                     \
            }                                                                                                    \
            const vi##W same = has_next & ~(clipped ^ clipped_next);                                             \
            const vi##W here = (vi##W){} + (int32_t)k;                                                           \
            const vi##W end = SELI(W, same, end_next, here + 1);                                                 \
            const vf##W peak = SEL(W, same & (peak_next > m), peak_next, m);                                     \
            const vf##W truer = SEL(W, same & (true_next > t), true_next, t);                                    \
            const vi##W carried = SELI(W, same, last_next, (vi##W){} - 1);                                       \
            const vi##W last = SELI(W, t > hot, SELI(W, carried >= 0, carried, here), carried);                  \
            const vi##W end_out = SELI(W, clipped, ~end, end);                                                   \
            memcpy(out->end + k * W, &end_out, sizeof end_out);                                                  \
            memcpy(out->peak + k * W, &peak, sizeof peak);                                                       \
            memcpy(out->true_peak + k * W, &truer, sizeof truer);                                                \
            memcpy(out->last_hot + k * W, &last, sizeof last);                                                   \
            end_next = end, last_next = last, clipped_next = clipped, has_next = (vi##W){} - 1;                  \
            peak_next = peak, true_next = truer;                                                                 \
        }                                                                                                        \
    }

HR_STRETCHES(4)
HR_STRETCHES(8)
HR_STRETCHES(16)

void hr_clip_stretches(const float *x, const float *steps, size_t count, size_t width, float clip, float hot,
                       const int32_t *codes, const int32_t *earlier_codes, ptrdiff_t first, size_t code_stride,
                       int32_t exact, hr_stretches *out) {
    switch (width) {
    case 4: stretches4(x, steps, count, clip, hot, codes, earlier_codes, first, code_stride, exact, out); break;
    case 8: stretches8(x, steps, count, clip, hot, codes, earlier_codes, first, code_stride, exact, out); break;
    default: stretches16(x, steps, count, clip, hot, codes, earlier_codes, first, code_stride, exact, out); break;
    }
}
