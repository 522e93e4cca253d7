#ifndef HEADROOM_KERNELS_H
#define HEADROOM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/// Flat-top rule C (a ceiling a filter has smeared: FlatDetector's documentation), one
/// polarity's burst of loud lobes in progress: the peak frames (absolute) of its first and
/// last lobe (hr_bursts_init: none), its largest peak, and the lobes within 0.5 dB of it (`near`
/// counts them all, `at` and `peak` keep the first HR_BURST_NEAR).
#define HR_BURST_NEAR 64
typedef struct {
    int64_t start, last;
    float max;
    int32_t near, stored, too_long;
    int64_t at[HR_BURST_NEAR];
    float peak[HR_BURST_NEAR];
} hr_burst;

/// A burst rule C found: peak frames start..<end, the mean of its top lobes' peaks (linear),
/// its polarity (0 positive) and how many top lobes it had.
typedef struct {
    int64_t start, end;
    float level;
    int32_t polarity, lobes;
} hr_burst_found;
#define HR_BURSTS_FOUND 32

/// One channel's share of flat-top rules B and C and the limits of what is judged: owned by
/// the channel's FlatDetector, updated by hr_track_lobes.
typedef struct {
    /// Lobe peaks per 0.05 dB bin from floor_db to 0 dBFS: [polarity][quarter][bins], at
    /// counts[2 * slot]; interleaved with them, at counts[2 * slot + 1], the peaks whose
    /// previous lobe of the same polarity sat within 0.2 dB.
    uint16_t *counts;
    /// The same peaks summed (linear), per [polarity][quarter][bins] at sums[slot * bins + bin]:
    /// a pile-up's level is the mean of the peaks in its median's bin, not the bin's middle.
    float *sums;
    int32_t bins;
    /// The quarter second being filled (0...3).
    int32_t quarter;
    /// The bin of each polarity's last lobe.
    int32_t previous_bin[2];
    /// The highest bin filled, per [polarity][quarter] (-1: none), so rule B need not scan.
    int32_t top[8];
    /// Lobes below floor are not judged; lobes at or above ceiling are clips.
    float floor;
    float ceiling;
    /// 20 log10(floor).
    float floor_db;
    /// Rule C (required): each polarity's burst (two), the bursts found since FlatDetector
    /// last took them (`found_count` of HR_BURSTS_FOUND), and the limits in frames: a gap that
    /// ends a burst, and the longest burst judged.
    hr_burst *bursts;
    hr_burst_found *found;
    int32_t found_count;
    int32_t burst_gap, burst_length;
    /// Lobes at the clip level (HR_AT_CLIP): where the last one that held a clip run ended,
    /// and how long after it (frames) one that holds none is still the clip's.
    int64_t last_clipped, clip_window;
} hr_flat_lane;

/// Rule C: no burst in progress; and no lobe at the clip level has held a clip run.
void hr_bursts_init(hr_flat_lane *lane);

/// Rule C: ends each polarity's burst whose last lobe is more than the gap before `now`,
/// judging it (a burst found goes into lane->found).
void hr_close_bursts(hr_flat_lane *lane, int64_t now);

/// Whether `level` (linear) lies within `db` dB of the loudest lobe of `polarity` (0 positive,
/// 1 negative) under the clip level in the last four quarter seconds (to its 0.05 dB bin):
/// where a ceiling would be. Rules A and C judge flat tops only there.
int hr_near_top(const hr_flat_lane *lane, int polarity, double level, double db);

/// In a lobe's code: its peak is at or over the clip level (the lane's `ceiling`). Such a
/// lobe stays out of rule C and out of the histograms' `top`; rule A judges it only when it
/// holds no clip run, and rule B's pile-up at the clip level counts only away from lobes
/// that hold one (a clipped signal resampled, or turned down after a resampler, whose tops
/// ripple under full scale and touch it a sample at a time).
#define HR_AT_CLIP (1 << 25)

/// How many loud lobes hr_track_lobes holds for one call.
#define HR_LOBE_CAPACITY 4096

/// The loud lobes of one group of lanes that hr_track_lobes found, one field per array, in
/// the order they ended (frame, then lane).
typedef struct {
    /// bin | (lane * 2 + polarity) << 16 | (3 samples or longer) << 24 | HR_AT_CLIP;
    /// polarity 0 is positive.
    int32_t code[HR_LOBE_CAPACITY + 16];
    float peak[HR_LOBE_CAPACITY + 16];
    /// Frames relative to the block's first frame (negative: an earlier block); the lobe is
    /// start_at..<frame.
    float peak_at[HR_LOBE_CAPACITY + 16];
    float start_at[HR_LOBE_CAPACITY + 16];
    float frame[HR_LOBE_CAPACITY + 16];
    /// The lobes 3 samples or longer (rule A needs 3 samples >= 0.9 P), as indices into
    /// the fields above.
    uint32_t longer[HR_LOBE_CAPACITY];
} hr_lobes;

/// Follows the lobes of `width` lanes (4, 8 or 16) through frames first..<frames of the
/// lane-interleaved block `x` (x[i * width + l]), whose frame 0 is `block_start` in the
/// stream. Per lane, `sign`, `peak`, `peak_at` and `start_at` describe the open lobe and are
/// updated. A lobe that ends with its peak at or above `gate[l]` is loud, and each frame
/// raises `gate[l]` to half its magnitude (6 dB under the loudest sample so far); loud lobes
/// above the floor go into `lobes` and into lanes[l]'s rule-B histograms (those at the clip
/// level marked HR_AT_CLIP, and left out of `top`). Returns how many of them are 3 samples
/// or longer (lobes->longer); stops early, at the frame written to `*stopped`, when `lobes`
/// is nearly full (call again from there); `*stopped == frames` when the block is done.
/// lanes[l] is NULL past the last channel; the others share `floor_db` and `bins`.
size_t hr_track_lobes(const float *x, int64_t block_start, size_t first, size_t frames, size_t width, float *sign,
                      float *peak, float *peak_at, float *start_at, float *gate, hr_flat_lane *const *lanes,
                      hr_lobes *lobes, size_t *stopped);

/// Hot bursts in bulk: over `count` frames of `width` lanes (4, 8 or 16), a frame is over
/// where max(|x|, steps) (x[i * width + l], steps likewise: a sample and the largest
/// interpolated point after it) exceeds `threshold`. Per lane: `first` gets the first over
/// frame (+infinity: none), `peak` the largest of the over frames' values, `gap` the largest
/// distance between consecutive over frames, counting from `last` on entry (the lane's last
/// over frame before the block, relative to it: negative; +infinity when no burst is open),
/// and `last` the last over frame (unchanged when there is none).
void hr_scan_hot(const float *x, const float *steps, size_t count, size_t width, float threshold, float *last,
                 float *first, float *gap, float *peak);

/// The clip walk over one lane (x[i * stride], steps[i * stride]: frame i's sample and the
/// largest interpolated point after it). hr_lane_maxima: `peak` and `true_peak` raised to the
/// largest |x| and max(|x|, step) of the first `count` frames. hr_first_at_least: the first
/// frame with |x| >= threshold (`count`: none).
void hr_lane_maxima(const float *x, const float *steps, size_t stride, size_t count, float *peak, float *true_peak);
size_t hr_first_at_least(const float *x, size_t stride, size_t count, float threshold);

/// Every frame's stretch in `count` frames of a group of `width` lanes (4, 8 or 16; x and steps
/// as for hr_scan_hot): per frame k and lane l, at [k * width + l], `end` is the first frame
/// after k (at most `count`) whose sample is not clipped as k's is, `peak` and `true_peak`
/// the largest |x| and max(|x|, step) from k to it, and `last_hot` the last frame among those
/// whose max(|x|, step) is over `hot` (-1: none); `end` is stored as ~end (negative) where
/// frame k is clipped. What stepping through each lane from frame k would find, for every
/// lane at once. A sample is clipped when |x| >= clip and, with `codes` (32-bit PCM,
/// whose codes a float cannot tell apart), its raw code is at least `exact` in magnitude: the
/// row of frame k is at (first + k) * code_stride from `codes` where first + k >= 0 and from
/// `earlier_codes` before (both pointing at the group's first channel; `width` codes a row).
typedef struct {
    int32_t *end;
    float *peak;
    float *true_peak;
    int32_t *last_hot;
} hr_stretches;
void hr_clip_stretches(const float *x, const float *steps, size_t count, size_t width, float clip, float hot,
                       const int32_t *codes, const int32_t *earlier_codes, ptrdiff_t first, size_t code_stride,
                       int32_t exact, hr_stretches *out);

/// A lobe whose top is flat by rule A (plateau kink K >= 3.3, width >= 3 samples).
typedef struct {
    uint32_t lane;
    /// 0 positive, 1 negative; | 2 for a lobe at the clip level that holds a clip run.
    uint32_t polarity;
    float peak;
    /// Frames relative to the block's first frame: the lobe is start_at..<end_at.
    int32_t start_at;
    int32_t end_at;
} hr_flat_lobe;

/// Raises `peaks[l]` to the largest magnitude of lane l over `frames` frames of `width`
/// lanes (4, 8 or 16) at `src`.
void hr_peaks(const float *src, size_t frames, size_t width, float *peaks);

/// A lane's sample at absolute `frame`: from the block being analyzed (`block`, its first
/// frame `block_start`) or, before it, from the ring of the group's earlier frames (frame f
/// at `ring[(f & mask) * width]`); `block` and `ring` point at the lane's first sample.
static inline float hr_sample(const float *ring, size_t mask, const float *block, int64_t block_start, size_t width,
                              int64_t frame) {
    return frame >= block_start ? block[(size_t)(frame - block_start) * width] : ring[((size_t)frame & mask) * width];
}

/// Rule A for the `count` longer lobes hr_track_lobes found in one group of lanes: each
/// one's top region (samples >= 0.9 of its peak) is measured in the block being analyzed
/// (`block[(frame - block_start) * width + l]`) and, before it, in `ring`, earlier frames
/// of the group (`ring[(frame & mask) * width + l]`); frames from `valid` and from
/// `lookback` frames before the lobe's end, to `newest` (absolute), can be read. Lobes with a
/// flat top are written to `flat` (room for `count`); returns how many. A lobe at the clip
/// level (HR_AT_CLIP) that holds `clip_run` samples in a row at or over `ceiling` is clip
/// detection's: it moves its lane's `last_clipped` (lanes[l], as for hr_track_lobes), and the
/// first after `clip_window` frames without one is written with polarity | 2. A lobe at the
/// clip level within the window is never flat.
size_t hr_judge_lobes(const hr_lobes *lobes, size_t count, const float *ring, size_t mask, const float *block,
                      size_t width, int64_t block_start, int64_t valid, int64_t lookback, int64_t newest,
                      float ceiling, int64_t clip_run, hr_flat_lane *const *lanes, hr_flat_lobe *flat);

/// BS.1770's K filter over `frames` interleaved frames of `channels` floats, eight channels to
/// a group: `k` holds b0, b1 - a1 b0, b2 - a2 b0, a2, a1 of the shelf, then the same of the
/// high-pass; `state` four vectors of eight doubles per group (the biquads' two words each),
/// `sums` one per group, to which each K-weighted sample's square is added.
void hr_k_weight(const float *x, size_t channels, size_t frames, const double *k, double *state, double *sums);

/// Packed little-endian 24-bit samples (ALSA S24_3LE) to floats, 1.0 = full scale (exactly
/// `(float)(sample << 8) / 2^31`, what libsndfile reads back): `rows` rows of `count`
/// samples, row r at `src + r * src_stride` (bytes), into `dst + r * dst_stride` (floats).
void hr_unpack24(const uint8_t *src, size_t src_stride, size_t rows, size_t count, float *dst, size_t dst_stride);

/// `count` float samples to S32_LE, S24_LE (in the low 24 bits of each word, sign-extended),
/// S16_LE or S24_3LE, exactly as alsa-lib's `lfloat` plugin converts them (1.0 and over to
/// the largest code, -1.0 and under to the smallest, else scaled by 2^31 and truncated,
/// then shifted down): what a `plug` PCM over a float device gives, at vector speed.
void hr_float_to_s32(const float *src, int32_t *dst, size_t count);
void hr_float_to_s24(const float *src, int32_t *dst, size_t count);
void hr_float_to_s16(const float *src, int16_t *dst, size_t count);
void hr_float_to_s24_3(const float *src, uint8_t *dst, size_t count);

/// One pause in a spin-wait (x86 `pause`, ARM `yield`): the core backs off while it looks
/// at a flag another core will set.
static inline void hr_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/// Asks the kernel to start writing out the dirty pages of the file open on `fd`, without
/// waiting for the disk (`sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE)`). 0 or -1/errno.
int hr_start_writeback(int fd);

/// Adds to the `posix_spawn_file_actions_t` at `actions` the closing of every descriptor from
/// `from` up (`posix_spawn_file_actions_addclosefrom_np`). 0 or an errno.
int hr_spawn_close_from(void *actions, int from);

/// The `statfs` type of the file system `path` is on (0x4d44 for FAT), or -1/errno.
long hr_file_system_type(const char *path);

/// The columns a terminal gives Unicode scalar `scalar` (glibc's wcwidth in C.UTF-8): 2 for
/// East Asian wide and fullwidth characters and emoji, 0 for combining marks, 1 for most,
/// -1 for what is not printable; -2 when C.UTF-8 is missing.
int hr_cell_width(uint32_t scalar);

/// Allocates disk for `length` bytes of the file open on `fd` from `offset`, without
/// changing its size (`fallocate(FALLOC_FL_KEEP_SIZE)`). 0 or -1/errno (EOPNOTSUPP where
/// the file system cannot).
int hr_reserve(int fd, long long offset, long long length);

/// glibc's malloc: blocks of `bytes` and more are mapped on their own, and given back to the
/// system when freed (`mallopt(M_MMAP_THRESHOLD)`; set, glibc no longer raises the threshold
/// as such blocks are freed). 1 on success.
int hr_map_blocks_from(size_t bytes);

#endif
