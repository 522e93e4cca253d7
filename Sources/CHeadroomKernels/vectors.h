// The compiler's vector types, 4, 8 and 16 lanes wide, and lane selects: what lobes.c and
// clips.c share. (A private header: not part of the module's interface in include/.)
#ifndef HEADROOM_KERNELS_VECTORS_H
#define HEADROOM_KERNELS_VECTORS_H

#include <stdint.h>

typedef float vf4 __attribute__((vector_size(16)));
typedef int32_t vi4 __attribute__((vector_size(16)));
typedef float vf8 __attribute__((vector_size(32)));
typedef int32_t vi8 __attribute__((vector_size(32)));
typedef float vf16 __attribute__((vector_size(64)));
typedef int32_t vi16 __attribute__((vector_size(64)));

// Lanes of `a` where `mask` is set (-1), of `b` elsewhere.
#define SEL(W, mask, a, b) ((vf##W)(((vi##W)(a) & (mask)) | ((vi##W)(b) & ~(mask))))
#define SELI(W, mask, a, b) (((a) & (mask)) | ((b) & ~(mask)))

#endif
