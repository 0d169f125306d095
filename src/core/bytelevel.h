/* GPT-2's byte-level alphabet: every byte gets a printable Unicode character so
 * that byte-level BPE vocabularies are plain strings ("Ġthe" is " the"). */
#ifndef PE_BYTELEVEL_H
#define PE_BYTELEVEL_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t byte_to_cp[256]; /* code point that stands for each byte */
    int16_t cp_to_byte[324];  /* inverse; -1 where a code point stands for no byte */
} pe_bytelevel;

void pe_bytelevel_init(pe_bytelevel *t);

/* Maps the vocabulary form s (UTF-8) back to the raw bytes it stands for into
 * out (len bytes always suffice). Returns the byte count, or -1 if s holds a
 * character outside the byte-level alphabet or is not valid UTF-8. */
long pe_bytelevel_unmap(const pe_bytelevel *t, const char *s, size_t len, unsigned char *out);

#endif
