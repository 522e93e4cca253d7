#pragma once
/// Heap allocations made by the calling thread since it started (malloc, calloc,
/// realloc, posix_memalign, aligned_alloc, memalign). Linked only into headroom-bench.
long CMallocCounter_threadAllocations(void);
