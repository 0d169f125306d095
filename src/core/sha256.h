/* SHA-256 (FIPS 180-4): provenance hashes of the data and predictions files.
 * Streaming: init, update any number of times, final. */
#ifndef PE_SHA256_H
#define PE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct pe_sha256 {
    uint32_t h[8];       /* chaining state */
    uint64_t nbytes;     /* message length so far (the padding needs it in bits: < 2^64 bits) */
    uint8_t block[64];   /* partial block */
    size_t nblock;       /* bytes in block */
} pe_sha256;

void pe_sha256_init(pe_sha256 *s);
void pe_sha256_update(pe_sha256 *s, const void *data, size_t n);
void pe_sha256_final(pe_sha256 *s, uint8_t digest[32]);

/* Chooses the compression: enable < 0 = the fastest this CPU has (the default),
 * 0 = portable C, 1 = x86 SHA extensions where present. Returns 1 when the
 * SHA extensions are in use. For tests and benchmarks. */
int pe_sha256_accelerated(int enable);

/* digest as 64 lower-case hex digits plus NUL */
void pe_sha256_hex(const uint8_t digest[32], char hex[65]);

/* One call for a whole buffer. */
void pe_sha256_buf(const void *data, size_t n, char hex[65]);

/* Hashes a file; PE_EIO naming the path when it cannot be opened or read. */
int pe_sha256_file(const char *path, char hex[65], pe_err *e);

#endif
