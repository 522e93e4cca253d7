// The flat-top detector's per-frame and per-lobe work, in C: the per-frame loop vectorized
// across lanes (the same loops in Swift over pointers or SIMD types compiled to scalar code
// with a branch per lane), the per-lobe judgement without Swift's call and bounds overhead.
#include "CHeadroomKernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// One kernel per lane width, on the compiler's vector types, with the lobe state in vector
// registers for the whole block (as plain arrays the compiler reloaded and stored it every
// frame). Per frame: which lanes changed sign, which of those end a loud lobe (a bit mask,
// usually empty on music), then the open lobes' peaks, peak frames and starts.
typedef float vf4 __attribute__((vector_size(16)));
typedef int32_t vi4 __attribute__((vector_size(16)));
typedef float vf8 __attribute__((vector_size(32)));
typedef int32_t vi8 __attribute__((vector_size(32)));
typedef float vf16 __attribute__((vector_size(64)));
typedef int32_t vi16 __attribute__((vector_size(64)));

// A lane mask (-1 or 0 per lane) as one bit per lane: movemask where there is one (the
// compiler's own version of the generic loop costs more than the rest of the frame).
#if defined(__AVX__)
#include <immintrin.h>
static inline uint32_t bits4(vi4 m) { return (uint32_t)_mm_movemask_ps((__m128)m); }
static inline uint32_t bits8(vi8 m) { return (uint32_t)_mm256_movemask_ps((__m256)m); }
static inline uint32_t bits16(vi16 m) {
    vi8 lo, hi;
    memcpy(&lo, &m, sizeof lo);
    memcpy(&hi, (const char *)&m + sizeof lo, sizeof hi);
    return bits8(lo) | bits8(hi) << 8;
}
#else
#define HR_BITS(W)                                                                                               \
    static inline uint32_t bits##W(vi##W m) {                                                                    \
        uint32_t b = 0;                                                                                          \
        for (int l = 0; l < W; l++) b |= ((uint32_t)m[l] & 1u) << l;                                             \
        return b;                                                                                                \
    }
HR_BITS(4)
HR_BITS(8)
HR_BITS(16)
#endif

#define HR_TRACK(W)                                                                                              \
    static size_t track##W(const float *restrict x, size_t first, size_t frames, float *restrict sign_,          \
                           float *restrict peak_, float *restrict peak_at_, float *restrict start_at_,            \
                           const float *restrict gate_, hr_lobe_end *restrict ends, size_t capacity,              \
                           size_t *restrict stopped) {                                                            \
        vf##W sign, peak, peak_at, start_at, gate;                                                               \
        memcpy(&sign, sign_, sizeof sign);                                                                       \
        memcpy(&peak, peak_, sizeof peak);                                                                       \
        memcpy(&peak_at, peak_at_, sizeof peak_at);                                                              \
        memcpy(&start_at, start_at_, sizeof start_at);                                                           \
        memcpy(&gate, gate_, sizeof gate);                                                                       \
        const vi##W abs_mask = (vi##W){} + 0x7fffffff;                                                          \
        size_t count = 0;                                                                                        \
        size_t i = first;                                                                                        \
        for (; i < frames; i++) {                                                                                \
            vf##W v;                                                                                             \
            memcpy(&v, x + i * W, sizeof v);                                                                     \
            const vi##W flip = (v * sign) < 0.0f;                                                                \
            const vi##W loud = flip & (peak >= gate);                                                            \
            uint32_t bits = bits##W(loud);                                                                       \
            if (bits) {                                                                                          \
                if (count + W > capacity) break;                                                                 \
                do {                                                                                             \
                    const uint32_t l = (uint32_t)__builtin_ctz(bits);                                            \
                    bits &= bits - 1;                                                                            \
                    hr_lobe_end e = {(uint32_t)i, l, sign[l], peak[l], peak_at[l], start_at[l]};                 \
                    ends[count++] = e;                                                                           \
                } while (bits);                                                                                  \
            }                                                                                                    \
            const vf##W here = (vf##W){} + (float)i;                                                             \
            const vf##W m = (vf##W)((vi##W)v & abs_mask);                                                        \
            const vi##W take = flip | (m > peak);                                                                \
            peak = (vf##W)(((vi##W)m & take) | ((vi##W)peak & ~take));                                           \
            peak_at = (vf##W)(((vi##W)here & take) | ((vi##W)peak_at & ~take));                                 \
            start_at = (vf##W)(((vi##W)here & flip) | ((vi##W)start_at & ~flip));                                \
            sign = (vf##W)((vi##W)sign ^ (flip & (vi##W){} + (int32_t)0x80000000));                             \
        }                                                                                                        \
        memcpy(sign_, &sign, sizeof sign);                                                                       \
        memcpy(peak_, &peak, sizeof peak);                                                                       \
        memcpy(peak_at_, &peak_at, sizeof peak_at);                                                              \
        memcpy(start_at_, &start_at, sizeof start_at);                                                           \
        *stopped = i;                                                                                            \
        return count;                                                                                            \
    }

HR_TRACK(4)
HR_TRACK(8)
HR_TRACK(16)

size_t hr_track_lobes(const float *x, size_t first, size_t frames, size_t width, float *sign, float *peak,
                      float *peak_at, float *start_at, const float *gate, hr_lobe_end *ends, size_t capacity,
                      size_t *stopped) {
    switch (width) {
    case 4: return track4(x, first, frames, sign, peak, peak_at, start_at, gate, ends, capacity, stopped);
    case 8: return track8(x, first, frames, sign, peak, peak_at, start_at, gate, ends, capacity, stopped);
    default: return track16(x, first, frames, sign, peak, peak_at, start_at, gate, ends, capacity, stopped);
    }
}

// Rule A's measurement of a lobe's top region (FlatDetector's documentation): the two
// crossings of 0.9 P around the peak, interpolated, their slopes, and from them the width,
// the kink K and the parabola's peak over P. Returns 0 when the region reaches past the
// frames the ring holds or a crossing has no slope.
static inline int plateau(const float *ring, size_t mask, size_t width, float sign, float peak, int64_t at,
                          int64_t oldest, int64_t newest, float *width_out, float *kink, float *ratio) {
#define V(frame) (ring[((size_t)(frame) & mask) * width] * sign)
    const float t = 0.9f * peak;
    int64_t j = at - 1;
    while (j >= oldest && V(j) >= t) j--;
    int64_t k = at + 1;
    while (k <= newest && V(k) >= t) k++;
    if (j < oldest || k > newest) return 0;
    const float a0 = V(j), a1 = V(j + 1); // a0 < t <= a1
    const float b0 = V(k - 1), b1 = V(k); // b1 < t <= b0
#undef V
    const float s0 = a1 - a0, s1 = b0 - b1;
    if (!(s0 > 0.0f) || !(s1 > 0.0f)) return 0;
    const float left = (float)(j - at) + (t - a0) / s0;
    const float right = (float)(k - 1 - at) + (b0 - t) / s1;
    const float w = right - left;
    const float slope = 2.0f * s0 * s1 / (s0 + s1);
    *width_out = w;
    *kink = slope * w / (0.4f * peak);
    *ratio = (t + slope * w / 4.0f) / peak;
    return 1;
}

size_t hr_judge_lobes(const hr_lobe_end *ends, size_t count, hr_flat_lane *const *lanes, const float *ring,
                      size_t mask, size_t width, int64_t block_start, int64_t oldest, int64_t newest,
                      hr_flat_lobe *flat) {
    size_t found = 0;
    for (size_t n = 0; n < count; n++) {
        const hr_lobe_end e = ends[n];
        hr_flat_lane *lane = lanes[e.lane];
        if (!(e.peak < lane->ceiling) || !(e.peak >= lane->floor)) continue;
        // Rule B's histogram: 0.05 dB bins from the floor.
        const uint32_t polarity = e.sign > 0.0f ? 0 : 1;
        int32_t bin = (int32_t)((20.0f * log10f(e.peak) - lane->floor_db) / 0.05f);
        bin = bin < 0 ? 0 : (bin > lane->bins - 1 ? lane->bins - 1 : bin);
        const size_t slot = ((size_t)polarity * 4 + (size_t)lane->quarter) * (size_t)lane->bins + (size_t)bin;
        lane->counts[slot]++;
        int32_t *top = &lane->top[polarity * 4 + (size_t)lane->quarter];
        if (bin > *top) *top = bin;
        const int32_t before = lane->previous_bin[polarity];
        if (abs(bin - before) <= 4) lane->preceded[slot]++;
        lane->previous_bin[polarity] = bin;
        // Rule A: a top at least three samples wide with a kink.
        float w, kink, ratio;
        const int64_t at = block_start + (int64_t)e.peak_at;
        if (!plateau(ring + e.lane, mask, width, e.sign, e.peak, at, oldest, newest, &w, &kink, &ratio)) continue;
        if (!(kink >= 3.0f) || !(w >= 3.0f)) continue;
        hr_flat_lobe f = {e.lane, polarity, e.peak, ratio, (int32_t)e.start_at, (int32_t)e.frame};
        flat[found++] = f;
    }
    return found;
}
