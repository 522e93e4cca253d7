// posix_spawn's close-from action (glibc 2.34), which Swift's Glibc module does not export:
// a command the recorder starts gets none of its descriptors.
#define _GNU_SOURCE
#include <spawn.h>

#include "CHeadroomKernels.h"

int hr_spawn_close_from(void *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np((posix_spawn_file_actions_t *)actions, from);
}
