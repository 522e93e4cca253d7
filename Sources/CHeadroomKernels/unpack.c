// Sample format conversions. Packed 24-bit samples (ALSA S24_3LE, headroom's default capture
// format) to floats, four at a time with one byte shuffle each: done one sample at a time,
// with three byte loads and shifts each, this conversion cost the analyzer thread more than
// any of its detectors on a 32-channel, 96 kHz take. And a float device's samples to the
// integer format of the take, for the capture thread (below).
#include "CHeadroomKernels.h"

#include <string.h>

typedef uint8_t u8x16 __attribute__((vector_size(16)));
typedef int32_t i32x4 __attribute__((vector_size(16)));
typedef float f32x4 __attribute__((vector_size(16)));

// Samples p[0..3] (12 bytes) as int32, each left-justified: its three bytes in the upper
// three of the word, so the sign lands in bit 31 (the value sf_readf_int gives).
static inline i32x4 four(const uint8_t *p) {
    u8x16 b = {0};
    memcpy(&b, p, 12);
    const u8x16 zero = {0};
    return (i32x4)__builtin_shufflevector(b, zero, 16, 0, 1, 2, 16, 3, 4, 5, 16, 6, 7, 8, 16, 9, 10, 11);
}

static inline int32_t one(const uint8_t *p) {
    return (int32_t)((uint32_t)p[0] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 24);
}

void hr_unpack24(const uint8_t *src, size_t src_stride, size_t rows, size_t count, float *dst, size_t dst_stride) {
    const float scale = 1.0f / 2147483648.0f;
    for (size_t r = 0; r < rows; r++) {
        const uint8_t *s = src + r * src_stride;
        float *d = dst + r * dst_stride;
        size_t i = 0;
        for (; i + 4 <= count; i += 4) {
            const f32x4 v = __builtin_convertvector(four(s + 3 * i), f32x4) * scale;
            memcpy(d + i, &v, sizeof v);
        }
        for (; i < count; i++) d[i] = (float)one(s + 3 * i) * scale;
    }
}

// Floats to integer samples, sample for sample what alsa-lib's `lfloat` plugin gives
// (plugin_ops.h, get32f then put32): 1.0 and over to the largest code, -1.0 and under to the
// smallest, anything between scaled by 2^31 and truncated towards zero; then the top 16 or
// 24 bits (an arithmetic shift). The loops are plain C the compiler vectorizes: alsa-lib
// converts one sample at a time through a computed goto, on a 32-channel, 96 kHz capture
// from JACK half of the capture thread's time (2.6 % of a core, 1.2 % with these).
static inline int32_t lfloat32(float f) {
    return f >= 1.0f ? INT32_MAX : f <= -1.0f ? INT32_MIN : (int32_t)(f * 2147483648.0f);
}

void hr_float_to_s32(const float *src, int32_t *dst, size_t count) {
    for (size_t i = 0; i < count; i++) dst[i] = lfloat32(src[i]);
}

void hr_float_to_s24(const float *src, int32_t *dst, size_t count) {
    for (size_t i = 0; i < count; i++) dst[i] = lfloat32(src[i]) >> 8;
}

void hr_float_to_s16(const float *src, int16_t *dst, size_t count) {
    for (size_t i = 0; i < count; i++) dst[i] = (int16_t)(lfloat32(src[i]) >> 16);
}

void hr_float_to_s24_3(const float *src, uint8_t *dst, size_t count) {
    for (size_t i = 0; i < count; i++) {
        const uint32_t s = (uint32_t)(lfloat32(src[i]) >> 8);
        dst[3 * i] = (uint8_t)s;
        dst[3 * i + 1] = (uint8_t)(s >> 8);
        dst[3 * i + 2] = (uint8_t)(s >> 16);
    }
}
