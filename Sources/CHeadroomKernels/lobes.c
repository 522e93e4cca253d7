// The flat-top detector's per-frame work, in C so that it is vectorized across lanes: the
// same loops written in Swift over pointers or SIMD types compiled to scalar code with a
// branch per lane (Swift cannot promise the state rows do not alias; `restrict` can).
#include "CHeadroomKernels.h"

#include <math.h>

static inline __attribute__((always_inline)) size_t track(const float *restrict x, size_t first, size_t frames,
                                                          const size_t width, float *restrict sign,
                                                          float *restrict peak, float *restrict peak_at,
                                                          float *restrict start_at, const float *restrict gate,
                                                          hr_lobe_end *restrict ends, size_t capacity,
                                                          size_t *restrict stopped) {
    size_t count = 0;
    for (size_t i = first; i < frames; i++) {
        const float *restrict row = x + i * width;
        uint32_t flip[16];
        uint32_t any = 0;
        for (size_t l = 0; l < width; l++) {
            uint32_t f = row[l] * sign[l] < 0.0f;
            flip[l] = f;
            any |= f & (peak[l] >= gate[l]);
        }
        if (any) {
            if (count + width > capacity) {
                *stopped = i;
                return count;
            }
            for (size_t l = 0; l < width; l++) {
                if (flip[l] && peak[l] >= gate[l]) {
                    hr_lobe_end e = {(uint32_t)i, (uint32_t)l, sign[l], peak[l], peak_at[l], start_at[l]};
                    ends[count++] = e;
                }
            }
        }
        const float here = (float)i;
        for (size_t l = 0; l < width; l++) {
            float m = fabsf(row[l]);
            int take = flip[l] | (m > peak[l]);
            peak[l] = take ? m : peak[l];
            peak_at[l] = take ? here : peak_at[l];
            start_at[l] = flip[l] ? here : start_at[l];
            sign[l] = flip[l] ? -sign[l] : sign[l];
        }
    }
    *stopped = frames;
    return count;
}

size_t hr_track_lobes(const float *x, size_t first, size_t frames, size_t width, float *sign, float *peak,
                      float *peak_at, float *start_at, const float *gate, hr_lobe_end *ends, size_t capacity,
                      size_t *stopped) {
    switch (width) {
    case 4: return track(x, first, frames, 4, sign, peak, peak_at, start_at, gate, ends, capacity, stopped);
    case 8: return track(x, first, frames, 8, sign, peak, peak_at, start_at, gate, ends, capacity, stopped);
    default: return track(x, first, frames, 16, sign, peak, peak_at, start_at, gate, ends, capacity, stopped);
    }
}
