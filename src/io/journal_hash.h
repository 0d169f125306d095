/* SHA-256 (FIPS 180-4) for the journal's checksum, private to src/io/journal.c.
 * The name is journal-specific on purpose: a shared src/core/sha256.[ch] is
 * being written elsewhere, and this one goes away when the journal switches to
 * it (one call to change in journal.c). */
#ifndef PE_JOURNAL_HASH_H
#define PE_JOURNAL_HASH_H

#include <stddef.h>
#include <stdint.h>

/* out = SHA-256 of the n bytes at data. */
void pe_journal_sha256(const void *data, size_t n, uint8_t out[32]);

#endif
