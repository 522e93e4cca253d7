// BS.1770's K filter (a high shelf, then the RLB high-pass) over interleaved float frames, in
// double precision, for LoudnessMeter. Its state is four words of eight channels per group
// of eight; here they go through the processor's widest vectors of doubles, a few recursions
// side by side with their state in registers for the whole run of frames, and each biquad's
// output substituted into its state update, so a frame waits on one multiply-add per biquad.
// (The Swift loop it replaces took the frames outer and the groups inner, the state read and
// written back every frame, and converted floats to doubles two lanes at a time.)
#include "CHeadroomKernels.h"

#include <string.h>

// LANES doubles to a vector; BATCH recursions side by side. A 32-channel frame on the Xeon
// here (one core of a 2-core VM, ns; the old order in C, as the Swift loop was, in brackets):
// AVX-512 11.7-12.4 with 2 (four: 14-15) [24-35]; built for AVX2 20-29 with 2 [23-33]; for
// SSE2 53-56 with 4 [49-57].
#if defined(__AVX512F__)
#define LANES 8
#define BATCH 2
#elif defined(__AVX__)
#define LANES 4
#define BATCH 2
#else
#define LANES 2
#define BATCH 4
#endif

typedef double vd __attribute__((vector_size(8 * LANES)));
typedef float vf __attribute__((vector_size(4 * LANES)));

typedef struct {
    vd z0, z1, z2, z3, sum;
} kstate;

// One frame through both biquads, transposed direct form II with the output substituted
// into the state update (z0' = z1 + c1 x - a1 z0, z1' = c2 x - a2 z0, c1 = b1 - a1 b0,
// c2 = b2 - a2 b0): a frame waits on one multiply-add per biquad, not on the output's add,
// multiply and two adds.
static inline void step(vd x, kstate *s, const double *k) {
    const vd y1 = s->z0 + k[0] * x;
    const vd t0 = s->z1 + k[1] * x;
    s->z1 = k[2] * x - k[3] * s->z0;
    s->z0 = t0 - k[4] * s->z0;
    const vd y2 = s->z2 + k[5] * y1;
    const vd t2 = s->z3 + k[6] * y1;
    s->z3 = k[7] * y1 - k[8] * s->z2;
    s->z2 = t2 - k[9] * s->z2;
    s->sum += y2 * y2;
}

// Chain j's LANES channels of the frame at `row`, from channel `first` (zeros past the last).
static inline vd load(const float *row, size_t channels, size_t first) {
    vf v = {0};
    if (first + LANES <= channels) {
        memcpy(&v, row + first, sizeof v);
    } else {
        for (size_t l = 0; first + l < channels; l++) v[l] = row[first + l];
    }
    return __builtin_convertvector(v, vd);
}

void hr_k_weight(const float *x, size_t channels, size_t frames, const double *k, double *state, double *sums) {
    // Chain j is channels LANES j... : word w of its state is at state[32 (j / P) + 8 w +
    // LANES (j % P)], P = 8 / LANES vectors to a group of eight.
    const size_t parts = 8 / LANES, chains = (channels + 7) / 8 * parts;
    for (size_t j0 = 0; j0 < chains; j0 += BATCH) {
        const size_t n = chains - j0 < BATCH ? chains - j0 : BATCH;
        kstate s[BATCH];
        double *z[BATCH], *sum[BATCH];
        for (size_t j = 0; j < n; j++) {
            const size_t c = j0 + j;
            z[j] = state + 32 * (c / parts) + LANES * (c % parts);
            sum[j] = sums + 8 * (c / parts) + LANES * (c % parts);
            memcpy(&s[j].z0, z[j], sizeof(vd));
            memcpy(&s[j].z1, z[j] + 8, sizeof(vd));
            memcpy(&s[j].z2, z[j] + 16, sizeof(vd));
            memcpy(&s[j].z3, z[j] + 24, sizeof(vd));
            memcpy(&s[j].sum, sum[j], sizeof(vd));
        }
        // A whole batch of channels that are all there: a fixed count of plain loads (through
        // load(), with its check for channels past the last, AVX2 took 1.5x as long).
        if (n == BATCH && LANES * (j0 + BATCH) <= channels) {
            for (size_t i = 0; i < frames; i++) {
                const float *row = x + i * channels + LANES * j0;
                for (size_t j = 0; j < BATCH; j++) {
                    vf v;
                    memcpy(&v, row + LANES * j, sizeof v);
                    step(__builtin_convertvector(v, vd), &s[j], k);
                }
            }
        } else {
            for (size_t i = 0; i < frames; i++) {
                const float *row = x + i * channels;
                for (size_t j = 0; j < n; j++) step(load(row, channels, LANES * (j0 + j)), &s[j], k);
            }
        }
        for (size_t j = 0; j < n; j++) {
            memcpy(z[j], &s[j].z0, sizeof(vd));
            memcpy(z[j] + 8, &s[j].z1, sizeof(vd));
            memcpy(z[j] + 16, &s[j].z2, sizeof(vd));
            memcpy(z[j] + 24, &s[j].z3, sizeof(vd));
            memcpy(sum[j], &s[j].sum, sizeof(vd));
        }
    }
}
