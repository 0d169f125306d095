#include "json_check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The repeated name among the children of object o, or NULL; *oom on failure
 * to allocate. Small objects (records, configs) are compared pairwise; large
 * ones (a tokenizer's vocabulary) are sorted, so the check stays O(n log n). */
static const char *dup_in_object(const cJSON *o, int *oom)
{
    size_t k = 0;
    for (const cJSON *c = o->child; c; c = c->next)
        k++;
    if (k < 2)
        return NULL;
    if (k <= 32) {
        for (const cJSON *a = o->child; a; a = a->next)
            for (const cJSON *b = a->next; b; b = b->next)
                if (!strcmp(a->string, b->string))
                    return a->string;
        return NULL;
    }
    const char **names = malloc(k * sizeof *names);
    if (!names) {
        *oom = 1;
        return NULL;
    }
    size_t i = 0;
    for (const cJSON *c = o->child; c; c = c->next)
        names[i++] = c->string;
    qsort(names, k, sizeof *names, cmp_name);
    const char *d = NULL;
    for (i = 1; i < k && !d; i++)
        if (!strcmp(names[i - 1], names[i]))
            d = names[i];
    free(names);
    return d;
}

/* Appends ".name" (or "[\"name\"]" when it is not a plain identifier) to the path. */
static void path_push(char *where, size_t n, const char *name)
{
    size_t at = strlen(where);
    int plain = *name != '\0';
    for (const char *p = name; *p && plain; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_';
    if (plain)
        snprintf(where + at, n - at, "%s%.200s", at ? "." : "", name);
    else
        snprintf(where + at, n - at, "[\"%.200s\"]", name);
}

static int walk(const cJSON *v, char *where, size_t n)
{
    if (cJSON_IsObject(v)) {
        int oom = 0;
        const char *d = dup_in_object(v, &oom);
        if (oom) {
            snprintf(where, n, "(out of memory)");
            return -1;
        }
        if (d) {
            path_push(where, n, d);
            return 1;
        }
    }
    if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
        return 0;
    size_t at = strlen(where);
    int i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++) {
        if (!cJSON_IsObject(c) && !cJSON_IsArray(c))
            continue;
        if (cJSON_IsObject(v))
            path_push(where, n, c->string);
        else
            snprintf(where + at, n - at, "[%d]", i);
        int r = walk(c, where, n);
        if (r)
            return r;
        where[at] = '\0';
    }
    return 0;
}

/* Whether any object under v repeats a name: the common case (none) without
 * building paths, which cost a formatted print per nested value of every record. */
static int has_duplicate(const cJSON *v, int *oom)
{
    if (cJSON_IsObject(v) && dup_in_object(v, oom))
        return 1;
    if (*oom)
        return 1;
    if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
        return 0;
    for (const cJSON *c = v->child; c; c = c->next)
        if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && has_duplicate(c, oom))
            return 1;
    return 0;
}

int pe_json_find_duplicate(const cJSON *v, char *where, size_t n)
{
    if (n == 0)
        return 0;
    where[0] = '\0';
    int oom = 0;
    if (!has_duplicate(v, &oom))
        return 0;
    /* Depth is bounded by cJSON's nesting limit, so recursion is too. */
    return walk(v, where, n);
}

/* The first byte at or after i that is a control character, a quote, a
 * backslash or non-ASCII: everything else is plain printable ASCII, which needs
 * no attention. The data is dense with quotes and backslashes (LaTeX), one in
 * every 19 bytes, so the jump to the exact byte matters as much as the width.
 * This pass over every input byte was a quarter of a whole `eval` as a
 * byte-by-byte loop; elsewhere than x86-64 it still is. */
static size_t next_special(const unsigned char *u, size_t i, size_t len)
{
#if defined(__SSE2__)
    const __m128i space = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    for (; i + 16 <= len; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(u + i));
        /* Signed compare: bytes 0x80-0xff are negative, so "below space" catches non-ASCII too. */
        __m128i hit = _mm_or_si128(_mm_cmplt_epi8(v, space),
                                   _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
        unsigned mask = (unsigned)_mm_movemask_epi8(hit);
        if (mask)
            return i + (size_t)__builtin_ctz(mask);
    }
#endif
    for (; i < len; i++) {
        unsigned char c = u[i];
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
            return i;
    }
    return len;
}

size_t pe_json_bad_byte(const char *s, size_t len, int lines, const char **why)
{
    *why = NULL;
    int in_str = 0;
    size_t i = 0;
    const unsigned char *u = (const unsigned char *)s;
    while (i < len) {
        i = next_special(u, i, len);
        if (i >= len)
            break;
        unsigned char b = u[i];
        if (b >= 0x20 && b < 0x80) {
            /* Strings are tracked so that a raw tab or newline inside one, which
             * cJSON keeps but JSON forbids, is refused too. */
            if (b == '"')
                in_str = !in_str;
            else if (b == '\\' && in_str && i + 1 < len && (unsigned char)s[i + 1] >= 0x20)
                i++;
            i++;
            continue;
        }
        if (b < 0x80) {
            if (b == '\n' && lines) { /* a record ends here, closed or not (cJSON reports an open string) */
                in_str = 0;
                i++;
                continue;
            }
            if (!in_str && (b == '\t' || b == '\n' || b == '\r')) {
                i++;
                continue;
            }
            *why = in_str ? "control character inside a string (JSON wants it escaped, e.g. \\n or \\t)"
                          : "control character (JSON allows none but tab, newline and carriage return; escape it)";
            return i;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (k <= 0) {
            *why = "invalid UTF-8 (JSON text is UTF-8)";
            return i;
        }
        i += (size_t)k;
    }
    return len;
}

void pe_json_line_col(const char *s, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    size_t start = 0;
    for (size_t i = 0; i < off; i++)
        if (s[i] == '\n') {
            (*line)++;
            start = i + 1;
        }
    *col = off - start + 1;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

cJSON *pe_json_parse_strict(const char *text, size_t len, const char *name, pe_err *e)
{
    size_t line, col;
    const char *why;
    size_t bad = pe_json_bad_byte(text, len, 0, &why);
    if (bad < len) {
        pe_json_line_col(text, bad, &line, &col);
        pe_fail(e, PE_EINPUT, "%s:%zu:%zu: %s", name, line, col, why);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        pe_json_line_col(text, off, &line, &col);
        pe_fail(e, PE_EINPUT, "%s:%zu:%zu: not valid JSON (or nested deeper than %d levels)", name, line, col,
                CJSON_NESTING_LIMIT);
        return NULL;
    }
    size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : len;
    while (off < len && is_ws(text[off]))
        off++;
    if (off < len) {
        pe_json_line_col(text, off, &line, &col);
        pe_fail(e, PE_EINPUT, "%s:%zu:%zu: text after the JSON value", name, line, col);
        cJSON_Delete(root);
        return NULL;
    }
    char where[256];
    int dup = pe_json_find_duplicate(root, where, sizeof where);
    if (dup) {
        if (dup > 0)
            pe_fail(e, PE_EINPUT, "%s: key %s appears twice (JSON readers differ on which one counts)", name, where);
        else
            pe_fail(e, PE_ERESOURCE, "%s: out of memory", name);
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}
