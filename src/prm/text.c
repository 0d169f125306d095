/* Python string semantics and the reference's step clean-up, shared by the
 * families' prompt builders; segment and string helpers (build.h). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "build.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ---- Python string semantics ------------------------------------------- */

/* Python's str.isspace(): general category Zs or bidi class WS, B or S.
 * Listed by code point (Unicode 15) so the result does not depend on the
 * utf8proc version. */
int pe_py_isspace(uint32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* Decodes one code point; invalid bytes count as one non-space unit, so
 * stripping never eats them (Python would have refused them earlier). */
static size_t next_cp(const char *s, size_t len, size_t i, uint32_t *cp)
{
    utf8proc_int32_t c;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &c);
    if (n <= 0) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = (uint32_t)c;
    return (size_t)n;
}

static void py_strip_range(const char *s, size_t len, size_t *b, size_t *end)
{
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = next_cp(s, len, i, &cp);
        if (!pe_py_isspace(cp))
            break;
        i += n;
    }
    size_t last = i; /* end of the last non-space code point */
    for (size_t j = i; j < len;) {
        uint32_t cp;
        size_t n = next_cp(s, len, j, &cp);
        j += n;
        if (!pe_py_isspace(cp))
            last = j;
    }
    *b = i;
    *end = last;
}

char *pe_py_strip(const char *s, size_t len, size_t *outlen, pe_err *e)
{
    size_t b, end;
    py_strip_range(s, len, &b, &end);
    char *r = pe_malloc(end - b + 1, e);
    if (!r)
        return NULL;
    memcpy(r, s + b, end - b);
    r[end - b] = '\0';
    if (outlen)
        *outlen = end - b;
    return r;
}

/* remove_step_prefix: re.sub(r"^(Step\s*\d+\.\s*|\d+\.\s*)", "", text.strip(), flags=re.I).
 * Python's \s is str.isspace() (spelled out below; PCRE2's \s differs on
 * U+001C..U+001F and U+0085), \d is Unicode Nd (PCRE2_UCP gives the same). */
#define PY_SPACE "[\\x{09}-\\x{0d}\\x{1c}-\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}" \
                 "\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}]"
static const char prefix_re[] = "^(?:Step" PY_SPACE "*\\d+\\." PY_SPACE "*|\\d+\\." PY_SPACE "*)";

static pcre2_code *prefix_compile(pe_err *e)
{
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)prefix_re, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS,
                                   &errcode, &erroff, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof msg);
        pe_fail(e, PE_EGENERIC, "step prefix regex: %s at %zu", (const char *)msg, (size_t)erroff);
    }
    return re;
}

struct pe_step_cleaner {
    pcre2_code *re;
    pcre2_match_data *md;
};

static char *strip_prefix_with(pcre2_code *re, pcre2_match_data *md, const char *s, pe_err *e)
{
    size_t len;
    char *t = pe_py_strip(s, strlen(s), &len, e);
    if (!t)
        return NULL;
    /* No match, or invalid UTF-8 (a PCRE2 error): the text stays as it is. */
    int rc = pcre2_match(re, (PCRE2_SPTR)t, len, 0, 0, md, NULL);
    if (rc > 0) {
        size_t cut = pcre2_get_ovector_pointer(md)[1];
        memmove(t, t + cut, len - cut + 1);
    }
    return t;
}

char *pe_strip_prefix(const char *s, pe_err *e)
{
    pcre2_code *re = prefix_compile(e);
    if (!re)
        return NULL;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    char *r = md ? strip_prefix_with(re, md, s, e) : NULL;
    if (!md)
        pe_fail(e, PE_ERESOURCE, "out of memory (regex match data)");
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return r;
}


char *pe_clean_step(pe_step_cleaner *c, const char *s, pe_err *e)
{
    return strip_prefix_with(c->re, c->md, s, e);
}

pe_step_cleaner *pe_step_cleaner_new(pe_err *e)
{
    pe_step_cleaner *c = pe_calloc(1, sizeof *c, e);
    if (!c)
        return NULL;
    if (!(c->re = prefix_compile(e))) {
        free(c);
        return NULL;
    }
    if (!(c->md = pcre2_match_data_create_from_pattern(c->re, NULL))) {
        pcre2_code_free(c->re);
        free(c);
        pe_fail(e, PE_ERESOURCE, "out of memory (regex match data)");
        return NULL;
    }
    return c;
}

void pe_step_cleaner_free(pe_step_cleaner *c)
{
    if (!c)
        return;
    pcre2_match_data_free(c->md);
    pcre2_code_free(c->re);
    free(c);
}

/* ---- segments and strings ------------------------------------------------- */

int pe_seg_split_on_tag(pe_segments *s, const char *text, const char *tag, pe_err *e)
{
    size_t tl = strlen(tag);
    int rc = PE_OK;
    while (!rc) {
        const char *hit = strstr(text, tag);
        size_t n = hit ? (size_t)(hit - text) : strlen(text);
        if (n)
            rc = pe_seg_add(s, PE_SEG_TEXT, text, n, 1, 0, e);
        if (!rc)
            rc = pe_seg_add(s, PE_SEG_LAST_ID, tag, tl, 1, 1, e);
        if (!hit)
            break;
        text = hit + tl;
    }
    return rc;
}

int pe_seg_add(pe_segments *s, pe_seg_kind kind, const char *text, size_t len, int separate, int readout,
               pe_err *e)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 32;
        pe_segment *p = pe_realloc(s->seg, (size_t)cap * sizeof *p, e);
        if (!p)
            return e->code;
        s->seg = p;
        s->cap = cap;
    }
    char *t = pe_malloc(len + 1, e);
    if (!t)
        return e->code;
    memcpy(t, text, len);
    t[len] = '\0';
    s->seg[s->n++] = (pe_segment){t, len, (uint8_t)kind, (uint8_t)separate, (uint8_t)readout};
    s->nexpected += readout;
    return PE_OK;
}

int pe_sb_put(pe_sbuf *b, const char *s, size_t n, pe_err *e)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = pe_realloc(b->p, cap, e);
        if (!p)
            return e->code;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return PE_OK;
}
