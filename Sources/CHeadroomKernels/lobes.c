// The analyzer's per-frame kernels beyond the true-peak filter, in C on the compiler's vector
// types: lobe tracking and rule B's histograms for flat tops, rule A's plateau measurement,
// and the hot-burst summary. The same loops in Swift, over pointers or SIMD types, compiled
// to scalar code with a branch per lane (Swift cannot promise the state rows do not alias).
#include "CHeadroomKernels.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vectors.h"

// A lane mask (-1 or 0 per lane) as one bit per lane: movemask where there is one (the
// compiler's own version of the generic loop costs more than the rest of the frame).
#if defined(__AVX__)
#include <immintrin.h>
static inline uint32_t bits4(vi4 m) { return (uint32_t)_mm_movemask_ps((__m128)m); }
static inline uint32_t bits8(vi8 m) { return (uint32_t)_mm256_movemask_ps((__m256)m); }
// Whether any lane of a mask is set.
static inline int any4(vi4 m) { return !_mm_testz_si128((__m128i)m, (__m128i)m); }
static inline int any8(vi8 m) { return !_mm256_testz_si256((__m256i)m, (__m256i)m); }
#else
#define HR_BITS(W)                                                                                               \
    static inline uint32_t bits##W(vi##W m) {                                                                    \
        uint32_t b = 0;                                                                                          \
        for (int l = 0; l < W; l++) b |= ((uint32_t)m[l] & 1u) << l;                                             \
        return b;                                                                                                \
    }
HR_BITS(4)
HR_BITS(8)
#define any4(m) (bits4(m) != 0)
#define any8(m) (bits8(m) != 0)
#endif

// log2 of positive normal floats, within about 2e-7, in every lane at once: the exponent,
// and for the mantissa m (brought into [0.707, 1.414)) the series 2/ln 2 * atanh(t),
// t = (m-1)/(m+1), to t^9. A lobe's 0.05 dB histogram bin needs no more.
#define HR_LOG2(W)                                                                                               \
    static inline vf##W log2_##W(vf##W x) {                                                                      \
        const vi##W u = (vi##W)x;                                                                                \
        vi##W e = ((u >> 23) & 0xff) - 127;                                                                      \
        vf##W m = (vf##W)((u & 0x007fffff) | 0x3f800000);                                                        \
        const vi##W high = m > 1.41421356f;                                                                      \
        m = SEL(W, high, m * 0.5f, m);                                                                           \
        e -= high;                                                                                               \
        const vf##W t = (m - 1.0f) / (m + 1.0f), t2 = t * t;                                                     \
        const vf##W series =                                                                                     \
            2.88539008f + t2 * (0.961796694f + t2 * (0.577078016f + t2 * (0.412198583f + t2 * 0.320598898f)));   \
        return __builtin_convertvector(e, vf##W) + t * series;                                                   \
    }

HR_LOG2(8)

// Loud lobes are left-packed from the lanes' vectors into `hr_lobes` (a permutation per 8
// lanes) so that the frame loop has no branch per lane, then filed in one pass. (Filing
// each lobe in a loop over the mask's bits mispredicted about once a frame on noise and
// kept the lobe state in memory.)
#if defined(__AVX2__)
// For each 8-bit mask, the indices of its set bits, lowest first, one byte each.
static uint64_t pack_table[256];
__attribute__((constructor)) static void fill_pack_table(void) {
    for (uint32_t m = 0; m < 256; m++) {
        uint64_t t = 0;
        int n = 0;
        for (uint32_t l = 0; l < 8; l++)
            if (m >> l & 1) t |= (uint64_t)l << (8 * n++);
        pack_table[m] = t;
    }
}
// Lanes of 8 where `m` is set, packed onto each field at `at`.
static inline void pack8(hr_lobes *p, size_t at, uint32_t m, vf8 frame, vi8 code, vf8 peak, vf8 peak_at,
                         vf8 start_at) {
    const __m256i index = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)&pack_table[m]));
    _mm256_storeu_ps(p->frame + at, (__m256)frame);
    _mm256_storeu_si256((__m256i *)(p->code + at), _mm256_permutevar8x32_epi32((__m256i)code, index));
    _mm256_storeu_ps(p->peak + at, _mm256_permutevar8x32_ps((__m256)peak, index));
    _mm256_storeu_ps(p->peak_at + at, _mm256_permutevar8x32_ps((__m256)peak_at, index));
    _mm256_storeu_ps(p->start_at + at, _mm256_permutevar8x32_ps((__m256)start_at, index));
}
#define HR_PACK8 1
#endif

// Each lobe's 0.05 dB histogram bin from its peak, into the low 16 bits of its code, for
// the first `count` lobes, eight at a time. The lanes share the floor and the bin count.
// (Computing the bins in the frame loop took every lane's logarithm whenever one lane's
// lobe ended: on loud noise most of the kernel's time.)
static void bin_lobes(hr_lobes *p, size_t count, hr_flat_lane *const *lanes, size_t width) {
    if (count == 0) return;
    const hr_flat_lane *lane = lanes[0];
    for (size_t l = 1; !lane && l < width; l++) lane = lanes[l];
    const float floor_db = lane->floor_db;
    const int32_t last_bin = lane->bins - 1;
    for (size_t r = count; r < count + 8; r++) p->peak[r] = 1.0f;
    for (size_t r = 0; r < count; r += 8) {
        vf8 peak;
        vi8 code;
        memcpy(&peak, p->peak + r, sizeof peak);
        memcpy(&code, p->code + r, sizeof code);
        vi8 bin = __builtin_convertvector((6.02059991f * log2_8(peak) - floor_db) * 20.0f, vi8);
        bin = SELI(8, bin < 0, (vi8){}, bin);
        bin = SELI(8, bin > last_bin, (vi8){} + last_bin, bin);
        code |= bin;
        memcpy(p->code + r, &code, sizeof code);
    }
}

// Files the first `count` lobes into their channels' rule-B histograms, in order, and lists
// those 3 samples or longer at lobes->longer; returns how many it listed. `rows[j]` is the
// histogram row being filled for lane j / 2, polarity j % 2, `sums[j]` its peaks' sums per
// bin, `previous[j]` its last bin and `top[j]` its highest so far under the clip level (rule
// B looks for a pile-up at the clip level apart: FlatDetector.pileUp).
static size_t file_lobes(hr_lobes *p, size_t count, uint16_t *const *rows, float *const *sums, int32_t *previous,
                         int32_t *top) {
    size_t longer = 0;
    for (size_t r = 0; r < count; r++) {
        const int32_t c = p->code[r];
        const int32_t j = (c >> 16) & 63, k = c & 0xffff;
        const int32_t below = !(c & HR_AT_CLIP);
        uint16_t *slot = rows[j] + 2 * k;
        slot[0] += 1;
        slot[1] += (uint16_t)(abs(k - previous[j]) <= 4);
        sums[j][k] += p->peak[r];
        previous[j] = k;
        top[j] = below && k > top[j] ? k : top[j];
        p->longer[longer] = (uint32_t)r;
        longer += (uint32_t)(c >> 24) & 1;
    }
    return longer;
}

// Rule C. A burst ends at a gap of `burst_gap` frames between its loud lobes; it is found
// when it lasted at most `burst_length` frames, had 6 lobes or more within 0.5 dB of its
// largest, those came at uneven intervals (their spread at least 0.35 of their mean, and not
// all near multiples of the shortest: noise cut at a ceiling, not a tone's crests, which come
// a period apart), and their mean level is more than 0.5 dB under the clip level and within
// 1 dB of the loudest lobe of its polarity in the last second (`top`, what the lanes' bins
// hold so far). A ceiling is where the loudest peaks are: over 916 bursts of converter-like
// clipped drums and mixes their level sat a median 0.28 dB under that top (the decimation
// filter's ringing the rest), 95 % within 1.2 dB. Steady noise, unclipped, makes bursts of
// six lobes within 0.5 dB by chance where its lobes are densest, just above the 3 dB gate
// that makes a lobe loud: 1.1 to 2.8 dB under the top, and three at one level within 3 s
// raised 5 to 7 flat events an hour of broadband noise (bench/clipping-figures.py, "steady
// noise"; none since).

// The highest bin of `polarity`'s lobes under the clip level in the lane's last four quarter
// seconds (-1: none), as the lanes' rows hold it.
static inline int32_t top_bin(const hr_flat_lane *lane, int polarity) {
    int32_t top = -1;
    for (int q = 0; q < 4; q++) top = lane->top[polarity * 4 + q] > top ? lane->top[polarity * 4 + q] : top;
    return top;
}

// A burst's `last` when there is none: far enough back that any lobe starts a new one.
#define NO_BURST (-((int64_t)1 << 60))

void hr_bursts_init(hr_flat_lane *lane) {
    for (int polarity = 0; polarity < 2; polarity++) lane->bursts[polarity].last = NO_BURST;
    lane->last_clipped = NO_BURST;
}

// Ends polarity's burst, judging it as the comment above says.
static void close_burst(hr_flat_lane *lane, int polarity) {
    hr_burst *b = &lane->bursts[polarity];
    if (!b->too_long && b->near >= 6 && b->stored >= 3 && lane->found_count < HR_BURSTS_FOUND) {
        double sum = 0, squares = 0, level = 0, shortest = INFINITY;
        const int n = b->stored - 1;
        for (int i = 0; i < n; i++) {
            const double d = (double)(b->at[i + 1] - b->at[i]);
            sum += d;
            squares += d * d;
            shortest = d < shortest ? d : shortest;
        }
        // A tone's crests under hiss come a period apart or, where the hiss pulls one under
        // the 0.5 dB, two or three: spread, but each near a multiple of the shortest. Noise
        // cut at a ceiling has some interval that is not (one in ten at least).
        int irregular = 0;
        for (int i = 0; i < n; i++) {
            const double r = (double)(b->at[i + 1] - b->at[i]) / shortest;
            irregular += fabs(r - nearbyint(r)) > 0.2;
        }
        for (int i = 0; i < b->stored; i++) level += b->peak[i];
        const double mean = sum / n, variance = squares / n - mean * mean;
        level /= b->stored;
        // Top lobes within 0.5 dB of the clip level are beside clipped ones: clip detection's.
        if (variance >= 0.35 * 0.35 * mean * mean && 10 * irregular >= n && level < 0.94406088 * lane->ceiling &&
            hr_near_top(lane, polarity, level, 1.0)) {
            hr_burst_found f = {b->start, b->last + 1, (float)level, polarity, b->near};
            lane->found[lane->found_count++] = f;
        }
    }
    b->last = NO_BURST;
}

int hr_near_top(const hr_flat_lane *lane, int polarity, double level, double db) {
    return 20 * log10(level) >= 0.05 * top_bin(lane, polarity) + lane->floor_db - db;
}

void hr_close_bursts(hr_flat_lane *lane, int64_t now) {
    for (int polarity = 0; polarity < 2; polarity++) {
        if (lane->bursts[polarity].last != NO_BURST && now - lane->bursts[polarity].last > lane->burst_gap)
            close_burst(lane, polarity);
    }
}

// Lobe r of `p`, loud for rule C, at frame `at` and `since` frames after its polarity's last
// loud lobe: starts that polarity's burst (the last one, if any, is over) or goes into it
// while it is not too long (`*too_long`). Apart from burst_lobes' loop, which runs for every
// loud lobe, so that the loop keeps its state in registers.
static __attribute__((noinline)) void burst_lobe(const hr_lobes *p, size_t r, hr_flat_lane *lane, int polarity,
                                                 int64_t at, int64_t since, int32_t *too_long) {
    hr_burst *b = &lane->bursts[polarity];
    if (since > lane->burst_gap) {
        if (at - since != NO_BURST) {
            b->last = at - since;
            close_burst(lane, polarity);
        }
        b->start = at;
        b->max = 0.0f;
        b->near = b->stored = b->too_long = 0;
        *too_long = 0;
    }
    if (at - b->start > lane->burst_length) {
        b->too_long = *too_long = 1;
        return;
    }
    const float within = 0.94406088f;  // -0.5 dB
    const float peak = p->peak[r];
    if (peak > b->max) {
        b->max = peak;
        int kept = 0;
        for (int i = 0; i < b->stored; i++) {
            if (b->peak[i] >= peak * within) {
                b->at[kept] = b->at[i];
                b->peak[kept++] = b->peak[i];
            }
        }
        b->near -= b->stored - kept;
        b->stored = kept;
    }
    if (peak >= b->max * within) {
        if (b->stored < HR_BURST_NEAR) {
            b->at[b->stored] = at;
            b->peak[b->stored++] = peak;
        }
        b->near++;
    }
}

// The lobes of `p` that are loud for rule C (within 3 dB, 60 bins, of the highest bin of
// their polarity in the last four quarters, this one included), in order, into their
// polarity's burst. Before the lobes' bins go into the lanes' `top`. The lobes' frames count
// from `block_start`.
static void burst_lobes(const hr_lobes *p, size_t count, hr_flat_lane *const *lanes, size_t width,
                        int64_t block_start) {
    // Per lane and polarity, in locals: the highest bin, the burst's last lobe and whether it
    // is already too long (steady loud material, where every lobe only moves `last` on).
    int32_t top[32], too_long[32];
    int64_t last[32];
    for (size_t l = 0; l < width; l++) {
        const hr_flat_lane *lane = lanes[l];
        for (int polarity = 0; polarity < 2; polarity++) {
            top[2 * l + polarity] = lane ? top_bin(lane, polarity) : -1;
            last[2 * l + polarity] = lane ? lane->bursts[polarity].last : NO_BURST;
            too_long[2 * l + polarity] = lane ? lane->bursts[polarity].too_long : 1;
        }
    }
    // The lanes of a group share the limit (it comes from the rate).
    const int64_t gap = lanes[0]->burst_gap;
    for (size_t r = 0; r < count; r++) {
        const int32_t c = p->code[r];
        // Lobes at the clip level are rules A's and B's (hr_judge_lobes, FlatDetector.pileUp).
        if (c & HR_AT_CLIP) continue;
        const int32_t j = (c >> 16) & 31, bin = c & 0xffff;
        const int32_t t = bin > top[j] ? bin : top[j];
        top[j] = t;
        // Without a branch on whether the lobe is loud (on noise, a coin toss): all ones
        // where it is. Only a loud lobe that starts a burst, or goes into one not yet too
        // long, goes further.
        int64_t loud = -(int64_t)(bin >= t - 60);
        // (Hidden from the optimizer, which otherwise turns the masks back into branches.)
        __asm__("" : "+r"(loud));
        const int64_t at = block_start + (int64_t)p->peak_at[r];
        const int64_t since = at - last[j];
        last[j] = (at & loud) | (last[j] & ~loud);
        if (__builtin_expect((loud & ((since > gap) | !too_long[j])) != 0, 0))
            burst_lobe(p, r, lanes[j >> 1], j & 1, at, since, &too_long[j]);
    }
    for (size_t l = 0; l < width; l++) {
        if (!lanes[l]) continue;
        for (int polarity = 0; polarity < 2; polarity++) lanes[l]->bursts[polarity].last = last[2 * l + polarity];
    }
}

// What a tracker's frame loop reads of its lanes (`width` of them, at most 16): their limits
// and the code that names each lane in `hr_lobes`, and the rule-B rows the lobes are filed in
// after the block, with each row's last bin and highest bin (j = lane * 2 + polarity).
typedef struct {
    float floor[16], ceiling[16];
    int32_t lane_code[16], previous[32], top[32];
    uint16_t *rows[32];
    float *sums[32];
} track_lanes;

static void open_lanes(track_lanes *t, hr_flat_lane *const *lanes, int width) {
    for (int l = 0; l < width; l++) {
        const hr_flat_lane *lane = lanes[l];
        t->floor[l] = lane ? lane->floor : INFINITY;
        t->ceiling[l] = lane ? lane->ceiling : 0.0f;
        t->lane_code[l] = l << 17;
        for (int polarity = 0; polarity < 2; polarity++) {
            const size_t slot = (size_t)(polarity * 4 + (lane ? lane->quarter : 0));
            t->rows[2 * l + polarity] = lane ? lane->counts + 2 * slot * (size_t)lane->bins : NULL;
            t->sums[2 * l + polarity] = lane ? lane->sums + slot * (size_t)lane->bins : NULL;
            t->previous[2 * l + polarity] = lane ? lane->previous_bin[polarity] : 0;
            t->top[2 * l + polarity] = -1;
        }
    }
}

// After a tracker's frame loop: bins, bursts and histograms for the `pending` lobes packed
// into `p`, and each row's last and highest bin back into its lane. Returns how many lobes
// are 3 samples or longer (listed at p->longer).
static size_t close_lanes(track_lanes *t, hr_lobes *p, size_t pending, hr_flat_lane *const *lanes, int width,
                          int64_t block_start) {
    bin_lobes(p, pending, lanes, (size_t)width);
    burst_lobes(p, pending, lanes, (size_t)width, block_start);
    const size_t longer = file_lobes(p, pending, t->rows, t->sums, t->previous, t->top);
    for (int l = 0; l < width; l++) {
        hr_flat_lane *lane = lanes[l];
        if (!lane) continue;
        for (int polarity = 0; polarity < 2; polarity++) {
            int32_t *row_top = &lane->top[polarity * 4 + lane->quarter];
            *row_top = t->top[2 * l + polarity] > *row_top ? t->top[2 * l + polarity] : *row_top;
            lane->previous_bin[polarity] = t->previous[2 * l + polarity];
        }
    }
    return longer;
}

// Per frame: which lanes changed sign, and which of those end a loud lobe (a mask, usually
// empty on music). The loud lobes that are judged (above the floor; HR_AT_CLIP marks those
// at the clip level) are packed into `p`; after the block bin_lobes finds their histogram
// bins and file_lobes files them. Then the open lobes' peaks, peak frames and starts. `V`
// lanes per vector, `H` vectors (W = V * H lanes): sixteen lanes are two vectors of eight on
// AVX2, each with its own masks (as one 16-lane vector the compiler packed every mask down to
// bytes to test it; as one AVX-512 vector, on Zen 4, the session material ran 11 % slower).
// The lobe state stays in vector registers for the whole block (as plain arrays the compiler
// reloaded and stored it every frame).
#define HR_TRACK(V, H)                                                                                           \
    static size_t track##V##x##H(const float *restrict x, int64_t block_start, size_t first, size_t frames,      \
                                 float *restrict sign_, float *restrict peak_, float *restrict peak_at_,          \
                                 float *restrict start_at_, float *restrict gate_, hr_flat_lane *const *lanes,    \
                                 hr_lobes *restrict p, size_t *restrict stopped) {                                \
        enum { W = V * H };                                                                                      \
        vf##V sign[H], peak[H], peak_at[H], start_at[H], gate[H];                                                \
        track_lanes t;                                                                                           \
        memcpy(sign, sign_, sizeof sign);                                                                        \
        memcpy(peak, peak_, sizeof peak);                                                                        \
        memcpy(peak_at, peak_at_, sizeof peak_at);                                                               \
        memcpy(start_at, start_at_, sizeof start_at);                                                            \
        memcpy(gate, gate_, sizeof gate);                                                                        \
        open_lanes(&t, lanes, W);                                                                                \
        const vi##V abs_mask = (vi##V){} + 0x7fffffff;                                                          \
        size_t pending = 0;                                                                                      \
        size_t i = first;                                                                                        \
        for (; i < frames; i++) {                                                                                \
            vf##V v[H];                                                                                          \
            vi##V flip[H], loud[H], any = (vi##V){};                                                             \
            const vf##V here = (vf##V){} + (float)(int32_t)i;                                                    \
            for (int h = 0; h < H; h++) {                                                                        \
                memcpy(&v[h], x + i * W + h * V, sizeof v[h]);                                                   \
                flip[h] = (v[h] * sign[h]) < 0.0f;                                                               \
                loud[h] = flip[h] & (peak[h] >= gate[h]);                                                        \
                any |= loud[h];                                                                                  \
            }                                                                                                    \
            if (any##V(any)) {                                                                                   \
                if (pending + W > HR_LOBE_CAPACITY) break;                                                       \
                for (int h = 0; h < H; h++) {                                                                    \
                    /* The lanes' limits from memory: in registers they crowd out the state. */                  \
                    vf##V floor, ceiling;                                                                        \
                    vi##V lane_code;                                                                             \
                    memcpy(&floor, t.floor + h * V, sizeof floor);                                               \
                    memcpy(&ceiling, t.ceiling + h * V, sizeof ceiling);                                         \
                    memcpy(&lane_code, t.lane_code + h * V, sizeof lane_code);                                   \
                    const vi##V longer = here - start_at[h] >= 3.0f, at_clip = peak[h] >= ceiling;               \
                    const vi##V judged = loud[h] & (peak[h] >= floor);                                           \
                    if (!any##V(judged)) continue;                                                               \
                    const vi##V code = ((sign[h] < 0.0f) & (1 << 16)) | lane_code | (longer & (1 << 24)) |       \
                                       (at_clip & HR_AT_CLIP);                                                   \
                    const uint32_t m = bits##V(judged);                                                          \
                    PACK##V(m, h);                                                                               \
                }                                                                                                \
            }                                                                                                    \
            for (int h = 0; h < H; h++) {                                                                        \
                const vf##V m = (vf##V)((vi##V)v[h] & abs_mask);                                                 \
                const vi##V take = flip[h] | (m > peak[h]);                                                      \
                peak[h] = SEL(V, take, m, peak[h]);                                                              \
                peak_at[h] = SEL(V, take, here, peak_at[h]);                                                     \
                start_at[h] = SEL(V, flip[h], here, start_at[h]);                                                \
                sign[h] = (vf##V)((vi##V)sign[h] ^ (flip[h] & (vi##V){} + (int32_t)0x80000000));                \
                const vf##V half = 0.5f * m;                                                                     \
                gate[h] = SEL(V, half > gate[h], half, gate[h]);                                                 \
            }                                                                                                    \
        }                                                                                                        \
        const size_t longer = close_lanes(&t, p, pending, lanes, W, block_start);                                \
        memcpy(sign_, sign, sizeof sign);                                                                        \
        memcpy(peak_, peak, sizeof peak);                                                                        \
        memcpy(peak_at_, peak_at, sizeof peak_at);                                                               \
        memcpy(start_at_, start_at, sizeof start_at);                                                            \
        memcpy(gate_, gate, sizeof gate);                                                                        \
        *stopped = i;                                                                                            \
        return longer;                                                                                           \
    }

// Packs the judged lanes of mask `m` of vector `h` (code, peak, peak_at, start_at, here
// and i in scope) onto `p` at `pending`: with AVX2 one permutation per field, else one lane
// at a time.
#define PACK_LANES(m, h)                                                                                         \
    do {                                                                                                         \
        for (uint32_t b = (m); b; b &= b - 1) {                                                                  \
            const uint32_t l = (uint32_t)__builtin_ctz(b);                                                       \
            p->code[pending] = code[l];                                                                          \
            p->peak[pending] = peak[h][l];                                                                       \
            p->peak_at[pending] = peak_at[h][l];                                                                 \
            p->start_at[pending] = start_at[h][l];                                                               \
            p->frame[pending++] = (float)i;                                                                      \
        }                                                                                                        \
    } while (0)
#define PACK4(m, h) PACK_LANES(m, h)
#if defined(HR_PACK8)
#define PACK8(m, h)                                                                                              \
    do {                                                                                                         \
        pack8(p, pending, (m), here, code, peak[h], peak_at[h], start_at[h]);                                    \
        pending += (size_t)__builtin_popcount(m);                                                                \
    } while (0)
#else
#define PACK8(m, h) PACK_LANES(m, h)
#endif

HR_TRACK(4, 1)
HR_TRACK(8, 1)

// Sixteen lanes in one AVX-512 vector, the comparisons in mask registers: the same lobes as
// HR_TRACK's, where each select is one masked move, the loud lanes are left-packed with a
// compress and a lane's sign is the sign bit of its last nonzero sample (below). The
// magnitudes and the open lobes' peaks and gates are never negative, so their largest is an
// integer maximum of their bits. (On an AVX-512 Xeon, alternating runs: session material
// 3-5 % faster than two vectors of eight, steady noise 9-16 %, hot and clipped 2-5 %.)
// Without AVX-512, sixteen lanes are two vectors of eight (HR_TRACK(8, 2)).
#if defined(__AVX512F__) && defined(__AVX512DQ__)
static size_t track16(const float *restrict x, int64_t block_start, size_t first, size_t frames,
                      float *restrict sign_, float *restrict peak_, float *restrict peak_at_,
                      float *restrict start_at_, float *restrict gate_, hr_flat_lane *const *lanes,
                      hr_lobes *restrict p, size_t *restrict stopped) {
    enum { W = 16 };
    track_lanes t;
    open_lanes(&t, lanes, W);
    __m512 peak = _mm512_loadu_ps(peak_), peak_at = _mm512_loadu_ps(peak_at_);
    __m512 start_at = _mm512_loadu_ps(start_at_);
    __m512i gate = _mm512_loadu_si512(gate_);
    // A lane's last nonzero sample (at first its lobe's sign, -1 or 1): its sign bit is the
    // lobe's. A zero belongs to the lobe it is in, so zeros leave it; a sample whose sign
    // bit differs from it begins a lobe. (Kept as a vector, its update is one masked move a
    // frame. As a mask of negative lanes it took four mask instructions a frame, all on one
    // port and each waiting for the last: the loop alone took 4.5 ns a frame on session-like
    // material, against 3.5 ns now.)
    __m512i last = _mm512_loadu_si512(sign_);
    const __m512 floor = _mm512_loadu_ps(t.floor), ceiling = _mm512_loadu_ps(t.ceiling);
    const __m512i lane_code = _mm512_loadu_si512(t.lane_code);
    const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff);
    const __m512 half = _mm512_set1_ps(0.5f), three = _mm512_set1_ps(3.0f), one = _mm512_set1_ps(1.0f);
    __m512 here = _mm512_set1_ps((float)(int32_t)first);
    size_t pending = 0;
    size_t i = first;
    for (; i < frames; i++, here = _mm512_add_ps(here, one)) {
        const __m512i v = _mm512_loadu_si512(x + i * W);
        const __m512i magnitude = _mm512_and_si512(v, abs_mask);
        const __m512i next = _mm512_mask_mov_epi32(last, _mm512_test_epi32_mask(v, abs_mask), v);
        const __m512i change = _mm512_xor_si512(next, last); // sign bit set where a lobe begins
        const __mmask16 flip = _mm512_movepi32_mask(change);
        const __mmask16 loud = _mm512_mask_cmp_ps_mask(flip, peak, _mm512_castsi512_ps(gate), _CMP_GE_OQ);
        if (loud) {
            if (pending + W > HR_LOBE_CAPACITY) break;
            const __mmask16 longer = _mm512_cmp_ps_mask(_mm512_sub_ps(here, start_at), three, _CMP_GE_OQ);
            const __mmask16 at_clip = _mm512_cmp_ps_mask(peak, ceiling, _CMP_GE_OQ);
            const __mmask16 judged = _mm512_mask_cmp_ps_mask(loud, peak, floor, _CMP_GE_OQ);
            if (judged) {
                const __mmask16 negative = _mm512_movepi32_mask(last);
                __m512i code = _mm512_mask_or_epi32(lane_code, negative, lane_code, _mm512_set1_epi32(1 << 16));
                code = _mm512_mask_or_epi32(code, longer, code, _mm512_set1_epi32(1 << 24));
                code = _mm512_mask_or_epi32(code, at_clip, code, _mm512_set1_epi32(HR_AT_CLIP));
                _mm512_storeu_si512(p->code + pending, _mm512_maskz_compress_epi32(judged, code));
                _mm512_storeu_ps(p->peak + pending, _mm512_maskz_compress_ps(judged, peak));
                _mm512_storeu_ps(p->peak_at + pending, _mm512_maskz_compress_ps(judged, peak_at));
                _mm512_storeu_ps(p->start_at + pending, _mm512_maskz_compress_ps(judged, start_at));
                _mm512_storeu_ps(p->frame + pending, here);
                pending += (size_t)__builtin_popcount(judged);
            }
        }
        // A lobe that begins takes this sample as its peak (any nonzero magnitude is over the
        // zero it starts from); one that goes on, a higher one.
        const __m512i kept = _mm512_andnot_si512(_mm512_srai_epi32(change, 31), _mm512_castps_si512(peak));
        peak_at = _mm512_mask_mov_ps(peak_at, _mm512_cmpgt_epi32_mask(magnitude, kept), here);
        peak = _mm512_castsi512_ps(_mm512_max_epi32(kept, magnitude));
        start_at = _mm512_mask_mov_ps(start_at, flip, here);
        last = next;
        gate = _mm512_max_epi32(gate, _mm512_castps_si512(_mm512_mul_ps(_mm512_castsi512_ps(magnitude), half)));
    }
    const size_t longer = close_lanes(&t, p, pending, lanes, W, block_start);
    const __mmask16 negative = _mm512_movepi32_mask(last);
    _mm512_storeu_ps(sign_, _mm512_mask_blend_ps(negative, _mm512_set1_ps(1.0f), _mm512_set1_ps(-1.0f)));
    _mm512_storeu_ps(peak_, peak);
    _mm512_storeu_ps(peak_at_, peak_at);
    _mm512_storeu_ps(start_at_, start_at);
    _mm512_storeu_si512(gate_, gate);
    *stopped = i;
    return longer;
}
#else
HR_TRACK(8, 2)
#define track16 track8x2
#endif

size_t hr_track_lobes(const float *x, int64_t block_start, size_t first, size_t frames, size_t width, float *sign,
                      float *peak, float *peak_at, float *start_at, float *gate, hr_flat_lane *const *lanes,
                      hr_lobes *lobes, size_t *stopped) {
    switch (width) {
    case 4: return track4x1(x, block_start, first, frames, sign, peak, peak_at, start_at, gate, lanes, lobes, stopped);
    case 8: return track8x1(x, block_start, first, frames, sign, peak, peak_at, start_at, gate, lanes, lobes, stopped);
    default: return track16(x, block_start, first, frames, sign, peak, peak_at, start_at, gate, lanes, lobes, stopped);
    }
}

// Hot bursts: what ClipDetector.feedHot needs of a block, for all lanes in one pass.

#define HR_SCAN(W)                                                                                               \
    static void scan##W(const float *restrict x, const float *restrict steps, size_t count, float threshold,    \
                        float *restrict last_, float *restrict first_, float *restrict gap_,                     \
                        float *restrict peak_) {                                                                 \
        vf##W last, first = (vf##W){} + INFINITY, gap = (vf##W){}, peak = (vf##W){};                             \
        memcpy(&last, last_, sizeof last);                                                                       \
        const vi##W abs_mask = (vi##W){} + 0x7fffffff;                                                          \
        for (size_t i = 0; i < count; i++) {                                                                     \
            vf##W v, s;                                                                                          \
            memcpy(&v, x + i * W, sizeof v);                                                                     \
            memcpy(&s, steps + i * W, sizeof s);                                                                 \
            const vf##W m = (vf##W)((vi##W)v & abs_mask);                                                        \
            const vf##W tp = SEL(W, m > s, m, s);                                                                \
            const vi##W over = tp > threshold;                                                                   \
            const vf##W here = (vf##W){} + (float)i;                                                             \
            const vf##W d = here - last;                                                                         \
            gap = SEL(W, over & (d > gap), d, gap);                                                              \
            last = SEL(W, over, here, last);                                                                     \
            first = SEL(W, over & (here < first), here, first);                                                  \
            peak = SEL(W, over & (tp > peak), tp, peak);                                                         \
        }                                                                                                        \
        memcpy(last_, &last, sizeof last);                                                                       \
        memcpy(first_, &first, sizeof first);                                                                    \
        memcpy(gap_, &gap, sizeof gap);                                                                          \
        memcpy(peak_, &peak, sizeof peak);                                                                       \
    }

HR_SCAN(4)
HR_SCAN(8)
HR_SCAN(16)

void hr_scan_hot(const float *x, const float *steps, size_t count, size_t width, float threshold, float *last,
                 float *first, float *gap, float *peak) {
    switch (width) {
    case 4: scan4(x, steps, count, threshold, last, first, gap, peak); break;
    case 8: scan8(x, steps, count, threshold, last, first, gap, peak); break;
    default: scan16(x, steps, count, threshold, last, first, gap, peak); break;
    }
}

// Rule A's threshold on the kink K. The study's 3.0 took a high flute note for a cut one: two
// harmonics can flatten a crest with no sample cut (sin + 0.25 cos 2x is the flattest), and a
// sampled flute at 1.26 kHz read 2.5 to 3.2 lobe after lobe, two false flat events in five
// minutes (bench/sampled-figures.py). A sine cut 3 dB over reads 4.8. At 3.3 no take of the
// detection tables of bench/clipping-figures.py is lost; behind a high-pass after the clip,
// whose tops droop, a few are (80 Hz low cut, hard clips at +10 dB: 51 % found, was 55 %).
#define HR_KINK_MIN 3.3f

// A top flat by nature, not cut: a square wave's (a synth's, a test signal's), whose edges
// fall from 0.9 P to 0.6 P within a sample between them (e0 + e1 = 1.5 w / K) and whose top
// spans the half period. Rule A's kink K reads 45 to 800 on squares from 55 to 880 Hz (the
// edges' slope times the top's width), where a sine cut 6, 10, 15 and 20 dB over a ceiling
// reads 10, 20, 39 and 73, its edges a sample or more apart below 2 kHz. A sine cut far
// enough over is a square: those are left alone too (as a fuzz pedal's are).
static inline int square(float w, float kink) {
    return (kink > 30.0f && 1.5f * w / kink < 1.0f) || kink > 100.0f;
}

// Rule A's measurement of a lobe's top region (FlatDetector's documentation): the two
// crossings of 0.9 P around the peak, interpolated; the kink K from the edges' secants
// between 0.9 P and 0.6 P. (The
// study's K took the slope across the 0.9 P crossing alone: one sample difference, which on
// a smooth peak with a little noise on it is mostly noise, and read a 200 Hz tone with 3 %
// noise as flat.) Returns 0 when the region reaches past oldest...newest or an edge has no
// slope.
static inline int plateau(const float *ring, size_t mask, const float *block, int64_t block_start, size_t width,
                          float sign, float peak, int64_t at, int64_t oldest, int64_t newest, float *width_out,
                          float *kink) {
#define V(frame) (hr_sample(ring, mask, block, block_start, width, (frame)) * sign)
    const float t = 0.9f * peak, u = 0.6f * peak;
    int64_t j = at - 1;
    while (j >= oldest && V(j) >= t) j--;
    int64_t k = at + 1;
    while (k <= newest && V(k) >= t) k++;
    if (j < oldest || k > newest) return 0;
    const float a0 = V(j), a1 = V(j + 1); // a0 < t <= a1
    const float b0 = V(k - 1), b1 = V(k); // b1 < t <= b0
    const float s0 = a1 - a0, s1 = b0 - b1;
    if (!(s0 > 0.0f) || !(s1 > 0.0f)) return 0;
    const float left = (float)(j - at) + (t - a0) / s0;
    const float right = (float)(k - 1 - at) + (b0 - t) / s1;
    const float w = right - left;
    // K >= HR_KINK_MIN needs edges e0 + e1 <= 1.5 w / HR_KINK_MIN, and each edge is longer
    // than its whole steps less one: the walk down to 0.6 P stops once it has gone too far
    // (on a smooth tone's lobe, about half as far as to its 0.6 P crossings).
    const int64_t steps = (int64_t)ceilf(1.5f * w / HR_KINK_MIN) + 2;
    int64_t jj = j;
    while (jj >= oldest && V(jj) >= u) {
        if (j - jj >= steps) return 0;
        jj--;
    }
    int64_t kk = k;
    while (kk <= newest && V(kk) >= u) {
        if ((j - jj) + (kk - k) >= steps) return 0;
        kk++;
    }
    if (jj < oldest || kk > newest) return 0;
    const float c0 = V(jj), c1 = V(jj + 1); // c0 < u <= c1
    const float d0 = V(kk - 1), d1 = V(kk); // d1 < u <= d0
#undef V
    if (!(c1 > c0) || !(d0 > d1)) return 0;
    const float left_u = (float)(jj - at) + (u - c0) / (c1 - c0);
    const float right_u = (float)(kk - 1 - at) + (d0 - u) / (d0 - d1);
    // The edges' secants from 0.9 P down to 0.6 P; a crossing of 0.6 P inside the 0.9 P
    // one (noise) leaves no edge.
    const float e0 = left - left_u, e1 = right_u - right;
    if (!(e0 > 0.0f) || !(e1 > 0.0f)) return 0;
    const float edge = 2.0f * (t - u) / (e0 + e1); // harmonic mean of (t - u) / e0 and / e1
    *width_out = w;
    *kink = edge * w / (0.4f * peak);
    return 1;
}

// Whether frames of a lane (as for plateau) hold `run` samples in a row at or over `ceiling`
// (signed by `sign`), from `at` (a lobe's first sample at its peak, where a clipped lobe's
// first run starts) before `to`.
static int clip_run_at(const float *ring, size_t mask, const float *block, int64_t block_start, size_t width,
                       float sign, float ceiling, int64_t run, int64_t at, int64_t to) {
    int64_t length = 0;
    for (int64_t f = at; f < to && hr_sample(ring, mask, block, block_start, width, f) * sign >= ceiling; f++) {
        if (++length >= run) return 1;
    }
    return 0;
}

// The same anywhere in frames from..<to.
static int has_clip_run(const float *ring, size_t mask, const float *block, int64_t block_start, size_t width,
                        float sign, float ceiling, int64_t run, int64_t from, int64_t to) {
    int64_t length = 0;
    for (int64_t f = from; f < to; f++) {
        length = hr_sample(ring, mask, block, block_start, width, f) * sign >= ceiling ? length + 1 : 0;
        if (length >= run) return 1;
    }
    return 0;
}

// Rule A for lobe r of `lobes` (FlatDetector's documentation): writes it to `*flat` and
// returns 1 when its top is flat. A lobe at the clip level (HR_AT_CLIP) that holds a clip run
// of `clip_run` samples is clip detection's (so is one that began before the frames that can
// be read, which is long enough to hold one): see hr_judge_lobes.
static inline int judge_lobe(const hr_lobes *lobes, uint32_t r, const float *ring, size_t mask, const float *block,
                             size_t width, int64_t block_start, int64_t valid, int64_t lookback, int64_t newest,
                             float ceiling, int64_t clip_run, hr_flat_lane *const *lanes, hr_flat_lobe *flat) {
    const uint32_t lane = (uint32_t)(lobes->code[r] >> 17) & 31;
    const int negative = (lobes->code[r] >> 16) & 1;
    const float sign = negative ? -1.0f : 1.0f, peak = lobes->peak[r];
    // A top at least three samples wide with a kink. Three samples >= 0.9 P (the peak and
    // two beside it) are needed for a width of 3: most lobes fail that at once, without
    // branching on each sample. Frames outside oldest...newest pass this test; the
    // measurement checks its bounds.
    const int64_t at = block_start + (int64_t)lobes->peak_at[r];
    const int64_t end = block_start + (int64_t)lobes->frame[r];
    const int64_t oldest = end - lookback > valid ? end - lookback : valid;
    const float *x = ring + lane, *y = block + lane;
    if (lobes->code[r] & HR_AT_CLIP) {
        hr_flat_lane *clip = lanes[lane];
        const int64_t start = block_start + (int64_t)lobes->start_at[r];
        // Most clipped lobes' first run qualifies: it is looked at first.
        const int clipped = start < oldest ||
                            clip_run_at(x, mask, y, block_start, width, sign, ceiling, clip_run, at, end) ||
                            has_clip_run(x, mask, y, block_start, width, sign, ceiling, clip_run, start, end);
        if (start - clip->last_clipped <= clip->clip_window) {
            // Inside a stretch of clipped lobes, where no lobe at the clip level is flat: only
            // whether this one moves the stretch on.
            if (clipped) clip->last_clipped = end;
            return 0;
        }
        if (clipped) {
            clip->last_clipped = end;
            hr_flat_lobe f = {lane, (uint32_t)negative | 2u, peak, (int32_t)lobes->start_at[r],
                              (int32_t)lobes->frame[r]};
            *flat = f;
            return 1;
        }
    }
    const float t = 0.9f * peak;
    int a, b, c, d;
    if (at - 2 >= block_start && at + 2 <= newest) {
        // Most lobes: all four samples in the block, read without a branch each.
        const float *p = y + (size_t)(at - block_start) * width;
        a = p[-(ptrdiff_t)width] * sign >= t, b = p[width] * sign >= t;
        c = p[-2 * (ptrdiff_t)width] * sign >= t, d = p[2 * width] * sign >= t;
    } else {
#define GE(k)                                                                                                    \
    (at + (k) < oldest || at + (k) > newest || hr_sample(x, mask, y, block_start, width, at + (k)) * sign >= t)
        a = GE(-1), b = GE(1), c = GE(-2), d = GE(2);
#undef GE
    }
    if (!((a & c) | (a & b) | (b & d))) return 0;
    float w, kink;
    if (!plateau(x, mask, y, block_start, width, sign, peak, at, oldest, newest, &w, &kink)) return 0;
    if (!(kink >= HR_KINK_MIN) || !(w >= 3.0f) || square(w, kink)) return 0;
    hr_flat_lobe f = {lane, (uint32_t)negative, peak, (int32_t)lobes->start_at[r], (int32_t)lobes->frame[r]};
    *flat = f;
    return 1;
}

size_t hr_judge_lobes(const hr_lobes *lobes, size_t count, const float *ring, size_t mask, const float *block,
                      size_t width, int64_t block_start, int64_t valid, int64_t lookback, int64_t newest,
                      float ceiling, int64_t clip_run, hr_flat_lane *const *lanes, hr_flat_lobe *flat) {
    size_t found = 0, n = 0;
#if defined(__AVX2__)
    // Eight lobes at a time, the first test (two samples beside the peak >= 0.9 P) with
    // gathers: on noise, a lobe in three is judged, and one at a time the four reads and
    // the branch on them (a coin toss) cost most of the judging. Lobes that pass it, or
    // whose four samples are not all in the block, go through judge_lobe in order, which
    // tests them again (the same arithmetic, so the same answer) and measures them.
    // The four samples' offsets from the peak's, in floats: one and two frames either side.
    const __m256i before1 = _mm256_set1_epi32(-(int32_t)width), after1 = _mm256_set1_epi32((int32_t)width);
    const __m256i before2 = _mm256_set1_epi32(-2 * (int32_t)width), after2 = _mm256_set1_epi32(2 * (int32_t)width);
    // Frames relative to the block: all four samples are in it when at >= 2 and at + 2 <= newest.
    const __m256i two = _mm256_set1_epi32(2), beyond = _mm256_set1_epi32((int32_t)(newest - block_start) - 1);
    for (; n + 8 <= count; n += 8) {
        const __m256i r = _mm256_loadu_si256((const __m256i *)(lobes->longer + n));
        const __m256i code = _mm256_i32gather_epi32(lobes->code, r, 4);
        const __m256 t = _mm256_mul_ps(_mm256_set1_ps(0.9f), _mm256_i32gather_ps(lobes->peak, r, 4));
        const __m256i at = _mm256_cvttps_epi32(_mm256_i32gather_ps(lobes->peak_at, r, 4));
        const __m256i inside = _mm256_andnot_si256(_mm256_cmpgt_epi32(two, at), _mm256_cmpgt_epi32(beyond, at));
        const __m256 in = _mm256_castsi256_ps(inside);
        const __m256i lane = _mm256_and_si256(_mm256_srli_epi32(code, 17), _mm256_set1_epi32(31));
        const __m256i peak_index = _mm256_add_epi32(_mm256_mullo_epi32(at, after1), lane);
        // A negative lobe's samples with their signs turned (what * -1 does, exactly).
        const __m256 flip = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_srli_epi32(code, 16), 31));
#define AT_LEAST_T(offset)                                                                                       \
    _mm256_cmp_ps(                                                                                               \
        _mm256_xor_ps(                                                                                           \
            _mm256_mask_i32gather_ps(_mm256_setzero_ps(), block, _mm256_add_epi32(peak_index, offset), in, 4),   \
            flip),                                                                                               \
        t, _CMP_GE_OQ)
        const __m256 a = AT_LEAST_T(before1), b = AT_LEAST_T(after1);
        const __m256 c = AT_LEAST_T(before2), d = AT_LEAST_T(after2);
#undef AT_LEAST_T
        const __m256 pass = _mm256_or_ps(_mm256_or_ps(_mm256_and_ps(a, c), _mm256_and_ps(a, b)), _mm256_and_ps(b, d));
        // Lobes at the clip level go to judge_lobe whatever their samples (HR_AT_CLIP's bit to the sign).
        const uint32_t at_clip = (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_slli_epi32(code, 6)));
        uint32_t go = ((uint32_t)_mm256_movemask_ps(pass) | ~(uint32_t)_mm256_movemask_ps(in) | at_clip) & 0xffu;
        for (; go; go &= go - 1) {
            const uint32_t k = (uint32_t)__builtin_ctz(go);
            found += (size_t)judge_lobe(lobes, lobes->longer[n + k], ring, mask, block, width, block_start, valid,
                                        lookback, newest, ceiling, clip_run, lanes, flat + found);
        }
    }
#endif
    for (; n < count; n++)
        found += (size_t)judge_lobe(lobes, lobes->longer[n], ring, mask, block, width, block_start, valid, lookback,
                                    newest, ceiling, clip_run, lanes, flat + found);
    return found;
}

// Raises `peaks[l]` to the largest magnitude of lane l over `frames` frames of `width` lanes.
// Magnitudes are never negative (and never NaN: the analyzer's input is finite), so their
// order is their bits' as integers: an integer maximum a frame, in four running maxima that
// do not wait for each other. (One float compare and select a frame waited for the last:
// a third of the lobe tracker's time on session material.)
#define HR_PEAKS(W)                                                                                              \
    static void peaks##W(const float *restrict src, size_t frames, float *restrict peaks_) {                    \
        vi##W peak[4];                                                                                           \
        memcpy(&peak[0], peaks_, sizeof peak[0]);                                                                \
        peak[1] = peak[2] = peak[3] = peak[0];                                                                   \
        const vi##W abs_mask = (vi##W){} + 0x7fffffff;                                                          \
        size_t i = 0;                                                                                            \
        for (; i + 4 <= frames; i += 4) {                                                                        \
            for (int k = 0; k < 4; k++) {                                                                        \
                vi##W v;                                                                                         \
                memcpy(&v, src + (i + (size_t)k) * W, sizeof v);                                                 \
                v &= abs_mask;                                                                                   \
                peak[k] = SELI(W, v > peak[k], v, peak[k]);                                                      \
            }                                                                                                    \
        }                                                                                                        \
        for (; i < frames; i++) {                                                                                \
            vi##W v;                                                                                             \
            memcpy(&v, src + i * W, sizeof v);                                                                   \
            v &= abs_mask;                                                                                       \
            peak[0] = SELI(W, v > peak[0], v, peak[0]);                                                          \
        }                                                                                                        \
        for (int k = 1; k < 4; k++) peak[0] = SELI(W, peak[k] > peak[0], peak[k], peak[0]);                     \
        memcpy(peaks_, &peak[0], sizeof peak[0]);                                                                \
    }

HR_PEAKS(4)
HR_PEAKS(8)
HR_PEAKS(16)

void hr_peaks(const float *src, size_t frames, size_t width, float *peaks) {
    switch (width) {
    case 4: peaks4(src, frames, peaks); break;
    case 8: peaks8(src, frames, peaks); break;
    default: peaks16(src, frames, peaks); break;
    }
}
