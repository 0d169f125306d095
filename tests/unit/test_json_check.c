/* pe_json_bad_byte (src/io/json_check.c) against a byte-by-byte model of the
 * same rules written here: random JSON-ish text dense in the bytes that matter
 * (quotes, backslashes, control characters, valid and broken UTF-8), at every
 * alignment, so the 16-byte scan's jump to the first special byte is checked at
 * each position of a block. Plus hand-picked cases. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <utf8proc.h>

#include "check.h"
#include "io/json_check.h"

/* The rules, one byte at a time: what pe_json_bad_byte must answer. */
static size_t model_bad_byte(const unsigned char *s, size_t len, int lines, int *is_utf8)
{
    int in_str = 0;
    *is_utf8 = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = s[i];
        if (b == '"') {
            in_str = !in_str;
        } else if (b == '\\') {
            if (in_str && i + 1 < len && s[i + 1] >= 0x20)
                i++; /* the escaped byte is not looked at */
        } else if (b < 0x20) {
            if (b == '\n' && lines)
                in_str = 0;
            else if (in_str || !(b == '\t' || b == '\n' || b == '\r'))
                return i;
        } else if (b >= 0x80) {
            utf8proc_int32_t cp;
            utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &cp);
            if (k <= 0) {
                *is_utf8 = 1;
                return i;
            }
            i += (size_t)k - 1;
        }
    }
    return len;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t next(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* Appends one random piece; mostly plain ASCII so that long clean runs occur. */
static size_t piece(unsigned char *p)
{
    static const char *const pieces[] = {"\"", "\\", "\\\"", "\\\\", "\n", "\t", "\r", "\x01", "\x1f",
                                         "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80", "\xff", "\x80",
                                         "\xc3", "\xed\xa0\x80", " ", "~", "\x7f"};
    uint32_t r = next() % 100;
    if (r < 80) {
        size_t n = 1 + next() % 40;
        for (size_t k = 0; k < n; k++)
            p[k] = (unsigned char)('a' + next() % 26);
        return n;
    }
    const char *s = pieces[next() % (sizeof pieces / sizeof pieces[0])];
    memcpy(p, s, strlen(s));
    return strlen(s);
}

static void test_random(void)
{
    static unsigned char buf[4096 + 64];
    int mismatches = 0;
    for (int round = 0; round < 20000; round++) {
        size_t off = next() % 16, len = 0, want = 1 + next() % 300;
        while (len < want)
            len += piece(buf + off + len);
        int lines = (int)(next() & 1), is_utf8;
        size_t expect = model_bad_byte(buf + off, len, lines, &is_utf8);
        const char *why = NULL;
        size_t got = pe_json_bad_byte((const char *)buf + off, len, lines, &why);
        int ok = got == expect && (expect == len ? why == NULL
                                                 : why && (strstr(why, "UTF-8") != NULL) == is_utf8);
        if (!ok && mismatches++ < 5)
            fprintf(stderr, "round %d: offset %zu of %zu expected, %zu found (%s)\n", round, expect, len,
                    got, why ? why : "no reason");
    }
    CHECK_INT(mismatches, 0);
}

static void test_cases(void)
{
    const char *why;
    /* A bad byte at every position of a 40-byte clean run is found exactly. */
    for (size_t at = 0; at < 40; at++) {
        char s[41];
        memset(s, 'x', 40);
        s[40] = '\0';
        s[at] = '\x02';
        CHECK_INT(pe_json_bad_byte(s, 40, 0, &why), at);
        CHECK(why && strstr(why, "control character"));
    }
    const char *ok = "{\"a\": \"caf\xc3\xa9 \\\"q\\\" \\\\\", \"b\": [1, 2]}\r\n\t";
    CHECK_INT(pe_json_bad_byte(ok, strlen(ok), 0, &why), strlen(ok));
    CHECK(why == NULL);
    const char *tab_in_string = "{\"a\": \"x\ty\"}";
    CHECK_INT(pe_json_bad_byte(tab_in_string, strlen(tab_in_string), 0, &why), 8);
    CHECK(why && strstr(why, "inside a string"));
    const char *open_then_line = "{\"a\": \"x\n{\"b\": 1}\n";  /* lines: the newline closes the record */
    CHECK_INT(pe_json_bad_byte(open_then_line, strlen(open_then_line), 1, &why), strlen(open_then_line));
    CHECK_INT(pe_json_bad_byte(open_then_line, strlen(open_then_line), 0, &why), 8);
    const char *surrogate = "\"abcdefghijklmnopqrstu\xed\xa0\x80\"";  /* UTF-8 forbids surrogates */
    CHECK_INT(pe_json_bad_byte(surrogate, strlen(surrogate), 0, &why), 22);
    CHECK(why && strstr(why, "UTF-8"));
}

/* Text that ends where an unreadable page begins: a read past the last byte
 * (a 16-byte load that overruns) is a crash here, not a silent pass. */
static void test_page_end(void)
{
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *map = mmap(NULL, (size_t)(2 * page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(map != MAP_FAILED);
    if (map == MAP_FAILED)
        return;
    CHECK(mprotect(map + page, (size_t)page, PROT_NONE) == 0);
    static const char last[] = {'x', '"', '\\', '\xc3', '\n', '\x01'};
    int mismatches = 0;
    for (size_t len = 0; len <= 200; len++)
        for (size_t k = 0; k < sizeof last; k++) {
            unsigned char *s = map + page - len;
            memset(s, 'a', len);
            if (len)
                s[len - 1] = (unsigned char)last[k];
            int is_utf8;
            const char *why;
            size_t want = model_bad_byte(s, len, 0, &is_utf8);
            mismatches += pe_json_bad_byte((const char *)s, len, 0, &why) != want;
        }
    CHECK_INT(mismatches, 0);
    munmap(map, (size_t)(2 * page));
}

int main(void)
{
    test_cases();
    test_random();
    test_page_end();
    return pe_check_done();
}
