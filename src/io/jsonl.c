#include "jsonl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

void pe_jsonl_free(pe_jsonl *j)
{
    free(j->buf);
    free(j->start);
    free(j->len);
    free(j->lineno);
    memset(j, 0, sizeof *j);
}

static int read_whole(const char *path, pe_jsonl *j, pe_err *e)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return pe_fail(e, PE_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return pe_fail(e, PE_EIO, "%s: not a regular file", path);
    if ((uint64_t)st.st_size > PE_JSONL_MAX_FILE)
        return pe_fail(e, PE_EINPUT, "%s: %lld bytes, more than the %zu allowed", path,
                       (long long)st.st_size, PE_JSONL_MAX_FILE);
    FILE *f = fopen(path, "rb");
    if (!f)
        return pe_fail(e, PE_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t size = (size_t)st.st_size;
    j->buf = pe_malloc(size + 1, e);
    if (!j->buf) {
        fclose(f);
        return PE_ERESOURCE;
    }
    size_t got = fread(j->buf, 1, size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != size)
        return pe_fail(e, PE_EIO, "%s: read %zu of %zu bytes", path, got, size);
    j->buf[size] = '\0';
    j->size = size;
    return PE_OK;
}

int pe_jsonl_read(const char *path, pe_jsonl *j, pe_err *e)
{
    memset(j, 0, sizeof *j);
    if (read_whole(path, j, e) != PE_OK)
        goto fail;
    /* A NUL byte would silently cut a cJSON string short: binary data is refused. */
    const char *nul = memchr(j->buf, '\0', j->size);  /* before lines are cut into C strings */
    if (nul) {
        int line = 1;
        for (const char *p = j->buf; p < nul; p++)
            line += *p == '\n';
        pe_fail(e, PE_EINPUT, "%s:%d: NUL byte (binary data, not JSON Lines)", path, line);
        goto fail;
    }
    size_t nl = 1;
    for (size_t i = 0; i < j->size; i++)
        nl += j->buf[i] == '\n';
    j->start = pe_malloc(nl * sizeof *j->start, e);
    j->len = pe_malloc(nl * sizeof *j->len, e);
    j->lineno = pe_malloc(nl * sizeof *j->lineno, e);
    if (!j->start || !j->len || !j->lineno)
        goto fail;
    size_t pos = 0;
    int line = 0;
    while (pos < j->size) {
        line++;
        const char *s = j->buf + pos;
        const char *end = memchr(s, '\n', j->size - pos);
        size_t n = end ? (size_t)(end - s) : j->size - pos;
        if (n > PE_JSONL_MAX_LINE) {
            pe_fail(e, PE_EINPUT, "%s:%d: line of %zu bytes, more than the %zu allowed", path, line, n,
                    PE_JSONL_MAX_LINE);
            goto fail;
        }
        /* Each line becomes its own C string: cJSON then rejects trailing garbage. */
        j->buf[pos + n] = '\0';
        if (!is_blank(s, n)) {
            j->start[j->nlines] = pos;
            j->len[j->nlines] = n;
            j->lineno[j->nlines] = line;
            j->nlines++;
        }
        pos += n + 1;
    }
    if (j->nlines == 0) {
        pe_fail(e, PE_EINPUT, "%s:1: empty file (no JSON records)", path);
        goto fail;
    }
    return PE_OK;
fail:
    pe_jsonl_free(j);
    return e ? e->code : PE_EGENERIC;
}

cJSON *pe_jsonl_parse_object(const pe_jsonl *j, int64_t k, const char *path, char *msg, size_t msgsize)
{
    const char *s = j->buf + j->start[k];
    const char *end = NULL;
    /* cJSON also records the last error in a global (a benign race between
     * threads); the position we report comes from `end`, which is ours. */
    cJSON *o = cJSON_ParseWithLengthOpts(s, j->len[k] + 1, &end, 1);
    if (!o) {
        size_t col = end && end >= s ? (size_t)(end - s) + 1 : 1;
        const char *at = end && end >= s ? end : s;
        if (!strncmp(at, "NaN", 3) || !strncmp(at, "Infinity", 8) || !strncmp(at, "-Infinity", 9)) {
            snprintf(msg, msgsize, "%s:%d:%zu: NaN and Infinity are not JSON numbers (scores must be finite)",
                     path, j->lineno[k], col);
            return NULL;
        }
        snprintf(msg, msgsize, "%s:%d:%zu: malformed JSON (or nested deeper than %d levels)", path,
                 j->lineno[k], col, CJSON_NESTING_LIMIT);
        return NULL;
    }
    if (!cJSON_IsObject(o)) {
        snprintf(msg, msgsize, "%s:%d: expected a JSON object, found another JSON value", path, j->lineno[k]);
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}
