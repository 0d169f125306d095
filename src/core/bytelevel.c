#include "bytelevel.h"

#include <utf8proc.h>

/* bytes_to_unicode, built by code rather than typed in: the printable bytes
 * '!'..'~', 0xA1..0xAC and 0xAE..0xFF stand for themselves; all the others
 * (controls, space, 0x7F..0xA0, 0xAD) take the code points 256, 257, ... in
 * byte order, so space (the 33rd such byte) becomes U+0120 'Ġ'. */
static int printable_byte(int b)
{
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

void pe_bytelevel_init(pe_bytelevel *t)
{
    uint32_t next = 256;
    for (int c = 0; c < (int)(sizeof t->cp_to_byte / sizeof t->cp_to_byte[0]); c++)
        t->cp_to_byte[c] = -1;
    for (int b = 0; b < 256; b++) {
        t->byte_to_cp[b] = printable_byte(b) ? (uint32_t)b : next++;
        t->cp_to_byte[t->byte_to_cp[b]] = (int16_t)b;
    }
}

long pe_bytelevel_unmap(const pe_bytelevel *t, const char *s, size_t len, unsigned char *out)
{
    const int ncp = (int)(sizeof t->cp_to_byte / sizeof t->cp_to_byte[0]);
    size_t i = 0;
    long n = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (k <= 0 || cp < 0 || cp >= ncp || t->cp_to_byte[cp] < 0)
            return -1;
        out[n++] = (unsigned char)t->cp_to_byte[cp];
        i += (size_t)k;
    }
    return n;
}
