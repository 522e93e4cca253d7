// The Linux calls the writer needs that Swift's Glibc module does not export
// (sync_file_range is a GNU extension; statfs's header is not in the module).
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/vfs.h>

#include "CHeadroomKernels.h"

int hr_start_writeback(int fd) { return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE); }

long hr_file_system_type(const char *path) {
    struct statfs fs;
    return statfs(path, &fs) == 0 ? (long)fs.f_type : -1;
}
