/* One way to report errors across prmeval: a status code plus a message that
 * names the file, line, tensor or key at fault. Library functions never exit;
 * they fill a pe_err and return its code, and the command layer decides. */
#ifndef PE_ERR_H
#define PE_ERR_H

#include <stddef.h>

/* Exit codes are part of the CLI contract (docs/cli.md): scripts rely on them. */
enum {
    PE_OK = 0,
    PE_EGENERIC = 1,   /* internal or unclassified failure */
    PE_EUSAGE = 2,     /* bad command line or job configuration */
    PE_EINPUT = 3,     /* malformed input: data, predictions, checkpoint, tokenizer */
    PE_EIO = 4,        /* file system: missing file, cannot write, rename failed */
    PE_ERESOURCE = 5,  /* out of memory, model or batch does not fit, device error */
    PE_EMPI = 6,       /* MPI failure or ranks disagree */
    PE_EPREEMPT = 75   /* stopped by SIGTERM/SIGUSR1 before finishing: requeue me (EX_TEMPFAIL) */
};

typedef struct pe_err {
    int code;
    char msg[1024];
} pe_err;

/* Sets e (if not NULL) and returns code, so callers can write
 * `return pe_fail(e, PE_EINPUT, "%s:%d: ...", path, line);`.
 * A second failure never overwrites the first message. */
int pe_fail(pe_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends context ("while reading X: ") to an existing message. */
void pe_err_prefix(pe_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void pe_err_clear(pe_err *e);

/* Allocation helpers that report failure through pe_err instead of aborting. */
void *pe_malloc(size_t n, pe_err *e);
void *pe_calloc(size_t count, size_t size, pe_err *e);
void *pe_realloc(void *p, size_t n, pe_err *e);
/* A large long-lived buffer (the CPU backend's fp32 weights): from 2 MiB up,
 * 2 MiB aligned and advised to transparent huge pages where the platform has
 * them (Linux madvise): one page fault per 2 MiB instead of 512, fewer TLB
 * misses when the matrix products stream the weights. Freed with free(). */
void *pe_malloc_large(size_t n, pe_err *e);
char *pe_strdup(const char *s, pe_err *e);

#endif
