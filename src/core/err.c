#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

int pe_fail(pe_err *e, int code, const char *fmt, ...)
{
    if (e && e->code == PE_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        e->code = code;
    }
    return code;
}

void pe_err_prefix(pe_err *e, const char *fmt, ...)
{
    if (!e || e->code == PE_OK)
        return;
    char head[512], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    size_t hl = strlen(head), room = sizeof e->msg - 1;
    if (hl > room)
        hl = room;
    memcpy(e->msg, head, hl);
    size_t ol = strnlen(old, sizeof old - 1);
    if (ol > room - hl)
        ol = room - hl;
    memcpy(e->msg + hl, old, ol);
    e->msg[hl + ol] = '\0';
}

void pe_err_clear(pe_err *e)
{
    if (e) {
        e->code = PE_OK;
        e->msg[0] = '\0';
    }
}

void *pe_malloc(size_t n, pe_err *e)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        pe_fail(e, PE_ERESOURCE, "out of memory (%zu bytes)", n);
    return p;
}

/* 2 MiB: an x86-64 / aarch64 (4 KiB granule) transparent huge page. Buffers
 * below it stay on plain malloc. */
enum { PE_HUGE_PAGE = 2u << 20 };

void *pe_malloc_large(size_t n, pe_err *e)
{
    if (n < PE_HUGE_PAGE)
        return pe_malloc(n, e);
    void *p = NULL;
    if (posix_memalign(&p, PE_HUGE_PAGE, n)) {
        pe_fail(e, PE_ERESOURCE, "out of memory (%zu bytes)", n);
        return NULL;
    }
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    /* Advice only: where THP is off (or "never") it fails and the pages stay
     * 4 KiB. Only [p, p + n) is advised; a partial last 2 MiB stays small. */
    (void)madvise(p, n, MADV_HUGEPAGE);
#endif
    return p;
}

void *pe_calloc(size_t count, size_t size, pe_err *e)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        pe_fail(e, PE_ERESOURCE, "out of memory (%zu x %zu bytes)", count, size);
    return p;
}

void *pe_realloc(void *p, size_t n, pe_err *e)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        pe_fail(e, PE_ERESOURCE, "out of memory (%zu bytes)", n);
    return q;
}

char *pe_strdup(const char *s, pe_err *e)
{
    size_t n = strlen(s) + 1;
    char *p = pe_malloc(n, e);
    if (p)
        memcpy(p, s, n);
    return p;
}
