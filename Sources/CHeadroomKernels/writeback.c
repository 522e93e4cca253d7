// The Linux calls the writer needs that Swift's Glibc module does not export
// (sync_file_range and fallocate are GNU extensions; statfs's header is not in the module).
#define _GNU_SOURCE
#include <fcntl.h>
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
