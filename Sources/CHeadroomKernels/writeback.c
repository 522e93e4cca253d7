// The one Linux call the writer needs that Swift's Glibc module does not export
// (sync_file_range is a GNU extension).
#define _GNU_SOURCE
#include <fcntl.h>

#include "CHeadroomKernels.h"

int hr_start_writeback(int fd) { return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE); }
