#pragma once
#include <alsa/asoundlib.h>

// C-only helpers Swift cannot express (a variadic callback).

static void CALSA_quiet_error(const char *file, int line, const char *function, int err, const char *fmt, ...) {
    (void)file; (void)line; (void)function; (void)err; (void)fmt;
}

/// Stops libasound printing its own "ALSA lib ..." lines: headroom reports every
/// failure itself, in one line that names the device.
static inline void CALSA_silence_errors(void) {
    snd_lib_error_set_handler(CALSA_quiet_error);
}
