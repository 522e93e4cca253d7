#ifndef HEADROOM_KERNELS_H
#define HEADROOM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/// A lobe (a run of samples of one sign) that ended loud: see hr_track_lobes.
typedef struct {
    /// The frame of the block where the next lobe starts (the lobe is start_at..<frame).
    uint32_t frame;
    uint32_t lane;
    /// +1 or -1.
    float sign;
    float peak;
    /// Frames relative to the block's first frame (negative: an earlier block).
    float peak_at;
    float start_at;
} hr_lobe_end;

/// Follows the lobes of `width` lanes (4, 8 or 16) through frames first..<frames of the
/// lane-interleaved block `x` (x[i * width + l]). Per lane, `sign`, `peak`, `peak_at` and
/// `start_at` describe the open lobe and are updated. A lobe that ends with its peak at or
/// above `gate[l]` is appended to `ends`. Returns how many were appended; stops early, at
/// the frame written to `*stopped`, when fewer than `width` places are left (call again
/// from there); `*stopped == frames` when the block is done.
size_t hr_track_lobes(const float *x, size_t first, size_t frames, size_t width, float *sign, float *peak,
                      float *peak_at, float *start_at, const float *gate, hr_lobe_end *ends, size_t capacity,
                      size_t *stopped);

#endif
