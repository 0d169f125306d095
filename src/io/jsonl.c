#include "jsonl.h"

#include "json_check.h"
#include "map_guard.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

void pe_jsonl_free(pe_jsonl *j)
{
    if (j->buf && j->size) {
        pe_map_guard_remove(j->buf);
        munmap((void *)j->buf, j->size);
    }
    free(j->start);
    free(j->len);
    free(j->lineno);
    memset(j, 0, sizeof *j);
}

/* The file is mapped read-only, not copied: reading 21 MB into fresh memory
 * cost more than a third of the load in page clearing and copying. */
static int map_whole(const char *path, pe_jsonl *j, pe_err *e)
{
    struct stat st;
    /* non-blocking: a FIFO is refused below instead of waiting for a writer */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return pe_fail(e, PE_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return pe_fail(e, PE_EIO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > PE_JSONL_MAX_FILE) {
        close(fd);
        return pe_fail(e, PE_EINPUT, "%s: %lld bytes, more than the %zu allowed", path, (long long)st.st_size,
                       PE_JSONL_MAX_FILE);
    }
    j->size = (size_t)st.st_size;
    if (j->size > 0) {
        void *p = mmap(NULL, j->size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (p == MAP_FAILED) {
            j->size = 0;
            close(fd);
            return pe_fail(e, PE_EIO, "%s: cannot map: %s", path, strerror(errno));
        }
        j->buf = p;
        pe_map_guard_add(p, j->size, path);
    }
    close(fd);
    return PE_OK;
}

int pe_jsonl_read(const char *path, pe_jsonl *j, pe_err *e)
{
    return pe_jsonl_read_ex(path, j, NULL, NULL, e);
}

/* Calls first() on a one-line view of the first non-blank line. */
static int check_first(const char *path, pe_jsonl *j, pe_jsonl_first_fn first, void *ctx, pe_err *e)
{
    size_t pos = 0;
    int line = 0;
    while (pos < j->size) {
        line++;
        const char *s = j->buf + pos, *end = memchr(s, '\n', j->size - pos);
        size_t n = end ? (size_t)(end - s) : j->size - pos;
        if (n > PE_JSONL_MAX_LINE)
            return PE_OK;  /* reported by the full split, with the same words */
        if (!is_blank(s, n)) {
            size_t start = pos, len = n;
            int lineno = line;
            pe_jsonl one = *j;
            one.nlines = 1;
            one.start = &start;
            one.len = &len;
            one.lineno = &lineno;
            return first(&one, path, ctx, e);
        }
        pos += n + 1;
    }
    return PE_OK;
}

int pe_jsonl_read_ex(const char *path, pe_jsonl *j, pe_jsonl_first_fn first, void *ctx, pe_err *e)
{
    memset(j, 0, sizeof *j);
    if (map_whole(path, j, e) != PE_OK)
        goto fail;
    /* before the index (20 bytes per line) and any other line is parsed */
    if (first && check_first(path, j, first, ctx, e) != PE_OK)
        goto fail;
    /* A NUL byte would silently cut a cJSON string short: binary data is refused. */
    const char *nul = j->size ? memchr(j->buf, '\0', j->size) : NULL;
    if (nul) {
        int line = 1;
        for (const char *p = j->buf; p < nul; p++)
            line += *p == '\n';
        pe_fail(e, PE_EINPUT, "%s:%d: NUL byte (binary data, not JSON Lines)", path, line);
        goto fail;
    }
    size_t nl = 1;
    for (const char *p = j->buf, *end = j->buf + j->size; p && p < end; nl++) {
        p = memchr(p, '\n', (size_t)(end - p));
        if (p)
            p++;
    }
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
    /* cJSON takes any bytes: what JSON forbids (invalid UTF-8, raw control
     * characters) would be read silently and differ from the reference's read.
     * Checked here, per line, so the check runs on the parallel parser's threads. */
    const char *why;
    size_t bad = pe_json_bad_byte(s, j->len[k], 0, &why);
    if (bad < j->len[k]) {
        snprintf(msg, msgsize, "%s:%d:%zu: %s", path, j->lineno[k], bad + 1, why);
        return NULL;
    }
    /* cJSON also records the last error in a global (a benign race between
     * threads); the position we report comes from `end`, which is ours. */
    cJSON *o = cJSON_ParseWithLengthOpts(s, j->len[k], &end, 0);
    if (o && end && !is_blank(end, (size_t)(s + j->len[k] - end))) {
        snprintf(msg, msgsize, "%s:%d:%zu: text after the JSON value", path, j->lineno[k], (size_t)(end - s) + 1);
        cJSON_Delete(o);
        return NULL;
    }
    if (!o) {
        size_t col = end && end >= s ? (size_t)(end - s) + 1 : 1;
        const char *at = end && end >= s ? end : s;
        size_t left = (size_t)(s + j->len[k] - at);  /* the map has no terminator: compare in bounds */
        if ((left >= 3 && !memcmp(at, "NaN", 3)) || (left >= 8 && !memcmp(at, "Infinity", 8)) ||
            (left >= 9 && !memcmp(at, "-Infinity", 9))) {
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
    char where[256];
    int dup = pe_json_find_duplicate(o, where, sizeof where);
    if (dup) {
        if (dup > 0)
            snprintf(msg, msgsize, "%s:%d: key \"%s\" appears twice in the record (JSON readers differ on which "
                     "one counts)", path, j->lineno[k], where);
        else
            snprintf(msg, msgsize, "%s:%d: out of memory", path, j->lineno[k]);
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

struct pe_arena_block {
    pe_arena_block *next;
    size_t cap, used;
    _Alignas(16) unsigned char data[];
};

#define ARENA_BLOCK ((size_t)256 << 10)

/* The arena this thread's cJSON allocations go to; NULL = plain malloc/free. */
static _Thread_local pe_arena *tl_arena;

static void *arena_alloc(pe_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    pe_arena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;  /* cJSON reports the parse as failed */
        b->cap = cap;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

/* Keeps the newest block (enough for a typical line), frees the rest. */
static void arena_reset(pe_arena *a)
{
    pe_arena_block *b = a->head;
    if (!b)
        return;
    for (pe_arena_block *n = b->next, *next; n; n = next) {
        next = n->next;
        free(n);
    }
    b->next = NULL;
    b->used = 0;
}

void pe_arena_free(pe_arena *a)
{
    for (pe_arena_block *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    a->head = NULL;
}

static void *hook_malloc(size_t n)
{
    return tl_arena ? arena_alloc(tl_arena, n) : malloc(n);
}

static void hook_free(void *p)
{
    if (!tl_arena)  /* arena memory is released wholesale by arena_reset */
        free(p);
}

static void install_hooks(void)
{
    cJSON_Hooks h = {hook_malloc, hook_free};
    cJSON_InitHooks(&h);
}

cJSON *pe_jsonl_parse_in(const pe_jsonl *j, int64_t k, const char *path, pe_arena *a, char *msg, size_t msgsize)
{
    /* Once per process; outside an arena the hooks are plain malloc and free,
     * so every other cJSON user is unaffected. */
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install_hooks);
    arena_reset(a);
    tl_arena = a;
    cJSON *o = pe_jsonl_parse_object(j, k, path, msg, msgsize);
    tl_arena = NULL;
    return o;
}
