// The terminal width of a character, which Swift's Glibc module does not export (wcwidth is
// an X/Open extension). Counted in glibc's C.UTF-8 locale, built in since glibc 2.35, so that
// it does not depend on the process's locale (a service's is often plain C, where every
// character past ASCII is unprintable to wcwidth).
#define _GNU_SOURCE
#include <locale.h>
#include <pthread.h>
#include <wchar.h>

#include "CHeadroomKernels.h"

static locale_t utf8;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;
static void open_utf8(void) { utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0); }

int hr_cell_width(uint32_t scalar) {
    pthread_once(&utf8_once, open_utf8);
    if (!utf8) return -2;
    const locale_t previous = uselocale(utf8);
    const int width = wcwidth((wchar_t)scalar);
    uselocale(previous);
    return width;
}
