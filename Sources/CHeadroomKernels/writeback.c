// The Linux and glibc calls the recorder needs that Swift's Glibc module does not export
// (sync_file_range and fallocate are GNU extensions; statfs's and mallopt's headers are not
// in the module).
#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <sys/vfs.h>

#include "CHeadroomKernels.h"

int hr_start_writeback(int fd) { return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE); }

int hr_reserve(int fd, long long offset, long long length) {
    return fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length);
}

long hr_file_system_type(const char *path) {
    struct statfs fs;
    return statfs(path, &fs) == 0 ? (long)fs.f_type : -1;
}

int hr_map_blocks_from(size_t bytes) { return mallopt(M_MMAP_THRESHOLD, (int)bytes); }
