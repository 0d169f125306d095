/* safetensors layout: u64 little-endian N, N bytes of JSON
 * {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [b, e]}, "__metadata__": {..}},
 * then the data area; offsets are relative to its start. */
#include "safetensors.h"

#include "json_check.h"
#include "map_guard.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "infile.h"

const char *st_dtype_name(pe_dtype dt)
{
    switch (dt) {
    case PE_DT_F32: return "F32";
    case PE_DT_F16: return "F16";
    case PE_DT_BF16: return "BF16";
    }
    return "?";
}

size_t st_dtype_size(pe_dtype dt)
{
    return dt == PE_DT_F32 ? 4 : 2;
}

int st_dtype_parse(const char *s)
{
    if (!strcmp(s, "F32")) return PE_DT_F32;
    if (!strcmp(s, "F16")) return PE_DT_F16;
    if (!strcmp(s, "BF16")) return PE_DT_BF16;
    return -1;
}

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, cap - k, "[");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (k < cap)
        snprintf(buf + k, cap - k, "]");
}

/* A JSON number that must be a non-negative integer below 2^53 (what a double
 * holds exactly): offsets and sizes. */
static int json_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j))
        return 0;
    double d = j->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(uint64_t)d)
        return 0;
    *out = (uint64_t)d;
    return 1;
}

int st_map(st_set *s, const char *path, int *fi, pe_err *e)
{
    st_file *nf = pe_realloc(s->files, (size_t)(s->nfiles + 1) * sizeof *nf, e);
    if (!nf)
        return e->code;
    s->files = nf;
    *fi = s->nfiles++;
    st_file *f = &s->files[*fi];
    memset(f, 0, sizeof *f);
    f->path = pe_strdup(path, e);
    if (!f->path)
        return e->code;
    int fd = open(path, O_RDONLY | O_NONBLOCK);  /* a FIFO is refused below, not waited on */
    if (fd < 0)
        return pe_fail(e, PE_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return pe_fail(e, PE_EIO, "%s: cannot stat: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return pe_fail(e, PE_EIO, "%s: not a regular file", path);
    }
    f->size = (size_t)st.st_size;
    if (f->size == 0) {  /* nothing to map: each format's reader says why that is wrong */
        close(fd);
        return PE_OK;
    }
    void *p = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return pe_fail(e, PE_EIO, "%s: cannot mmap %zu bytes: %s", path, f->size, strerror(errno));
    f->map = p;
    pe_map_guard_add(p, f->size, path);
    return PE_OK;
}

int st_reserve(st_set *s, int count, pe_err *e)
{
    st_entry *ne = pe_realloc(s->entries, (size_t)(s->n + count) * sizeof *ne, e);
    if (!ne)
        return e->code;
    s->entries = ne;
    return PE_OK;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}

typedef struct { size_t begin, end; int idx; } range;

static int cmp_range(const void *a, const void *b)
{
    const range *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Parses one entry of the header into s->entries[s->n]. */
static int parse_entry(st_set *s, int fi, const cJSON *item, pe_err *e)
{
    const st_file *f = &s->files[fi];
    const char *name = item->string;
    if (!cJSON_IsObject(item))
        return pe_fail(e, PE_EINPUT, "%s: tensor '%s': header entry is not an object", f->path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dt))
        return pe_fail(e, PE_EINPUT, "%s: tensor '%s': missing or non-string \"dtype\"", f->path, name);
    int dtype = st_dtype_parse(dt->valuestring);
    if (dtype < 0)
        return pe_fail(e, PE_EINPUT, "%s: tensor '%s': dtype %s is not supported (expected BF16, F16 or F32)",
                       f->path, name, dt->valuestring);
    if (!cJSON_IsArray(sh))
        return pe_fail(e, PE_EINPUT, "%s: tensor '%s': missing or non-array \"shape\"", f->path, name);
    int ndim = cJSON_GetArraySize(sh);
    if (ndim > ST_MAX_DIM)
        return pe_fail(e, PE_EINPUT, "%s: tensor '%s': %d dimensions, at most %d supported", f->path, name, ndim, ST_MAX_DIM);
    st_entry *t = &s->entries[s->n];
    memset(t, 0, sizeof *t);
    t->dtype = (pe_dtype)dtype;
    t->ndim = ndim;
    t->file = fi;
    /* Element count with an overflow check: a forged shape must not wrap
     * around to match a small byte range. */
    uint64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        uint64_t d;
        if (!json_uint(cJSON_GetArrayItem(sh, i), &d))
            return pe_fail(e, PE_EINPUT, "%s: tensor '%s': shape[%d] is not a non-negative integer", f->path, name, i);
        t->shape[i] = (int64_t)d;
        if (d && count > UINT64_MAX / d)
            return pe_fail(e, PE_EINPUT, "%s: tensor '%s': shape overflows", f->path, name);
        count *= d;
    }
    uint64_t b, en;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || !json_uint(cJSON_GetArrayItem(off, 0), &b) ||
        !json_uint(cJSON_GetArrayItem(off, 1), &en))
        return pe_fail(e, PE_EINPUT, "%s: tensor '%s': \"data_offsets\" must be two non-negative integers [begin, end]",
                       f->path, name);
    if (en < b)
        return pe_fail(e, PE_EINPUT, "%s: tensor '%s': data_offsets [%llu, %llu] end before begin", f->path, name,
                       (unsigned long long)b, (unsigned long long)en);
    uint64_t data_size = f->size - f->data_off;
    if (en > data_size)
        return pe_fail(e, PE_EINPUT, "%s: tensor '%s': data_offsets [%llu, %llu] run past the end of the data area (%llu bytes)",
                       f->path, name, (unsigned long long)b, (unsigned long long)en, (unsigned long long)data_size);
    size_t esz = st_dtype_size(t->dtype);
    if (count > UINT64_MAX / esz || count * esz != en - b) {
        char ss[128];
        shape_str(ss, sizeof ss, ndim, t->shape);
        return pe_fail(e, PE_EINPUT, "%s: tensor '%s': shape %s of %s needs %llu bytes, data_offsets [%llu, %llu] hold %llu",
                       f->path, name, ss, dt->valuestring, (unsigned long long)(count * esz), (unsigned long long)b,
                       (unsigned long long)en, (unsigned long long)(en - b));
    }
    t->begin = (size_t)b;
    t->end = (size_t)en;
    t->name = pe_strdup(name, e);
    if (!t->name)
        return e->code;
    s->n++;
    return PE_OK;
}

int st_add_safetensors(st_set *s, const char *path, pe_err *e)
{
    int fi;
    if (st_map(s, path, &fi, e))
        return e->code;
    st_file *f = &s->files[fi];
    if (f->size < 8)
        return pe_fail(e, PE_EINPUT, "%s: truncated: %zu bytes, a safetensors file has at least 8", path, f->size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | f->map[i];
    if (hlen > ST_MAX_HEADER)
        return pe_fail(e, PE_EINPUT, "%s: header length %llu exceeds the %llu-byte limit (not a safetensors file?)",
                       path, (unsigned long long)hlen, (unsigned long long)ST_MAX_HEADER);
    if (hlen > f->size - 8)
        return pe_fail(e, PE_EINPUT, "%s: header length %llu runs past the end of the file (%zu bytes)", path,
                       (unsigned long long)hlen, f->size);
    f->data_off = 8 + (size_t)hlen;
    char hname[4200];
    snprintf(hname, sizeof hname, "%s: header", path);
    cJSON *root = pe_json_parse_strict((const char *)f->map + 8, (size_t)hlen, hname, e);
    if (!root)
        return e->code;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return pe_fail(e, PE_EINPUT, "%s: header is not a JSON object", path);
    }
    if (st_reserve(s, cJSON_GetArraySize(root), e)) {
        cJSON_Delete(root);
        return e->code;
    }
    int first = s->n;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        if (!strcmp(item->string, "__metadata__")) {
            if (!cJSON_IsObject(item)) {
                cJSON_Delete(root);
                return pe_fail(e, PE_EINPUT, "%s: \"__metadata__\" is not an object", path);
            }
            continue;
        }
        if (parse_entry(s, fi, item, e)) {
            cJSON_Delete(root);
            return e->code;
        }
    }
    cJSON_Delete(root);
    /* Overlap check: sorted by begin, every range must end before the next
     * non-empty one starts. */
    int nt = s->n - first;
    range *r = pe_malloc((size_t)(nt ? nt : 1) * sizeof *r, e);
    if (!r)
        return e->code;
    for (int i = 0; i < nt; i++)
        r[i] = (range){s->entries[first + i].begin, s->entries[first + i].end, first + i};
    qsort(r, (size_t)nt, sizeof *r, cmp_range);
    size_t last_end = 0;
    int last = -1;
    for (int i = 0; i < nt; i++) {
        if (r[i].begin == r[i].end)
            continue;
        if (last >= 0 && r[i].begin < last_end) {
            const st_entry *a = &s->entries[last], *b = &s->entries[r[i].idx];
            int rc = pe_fail(e, PE_EINPUT, "%s: tensor '%s' [%zu, %zu] overlaps tensor '%s' [%zu, %zu]", path, b->name,
                             b->begin, b->end, a->name, a->begin, a->end);
            free(r);
            return rc;
        }
        last_end = r[i].end;
        last = r[i].idx;
    }
    free(r);
    return PE_OK;
}

int st_finish(st_set *s, pe_err *e)
{
    qsort(s->entries, (size_t)s->n, sizeof *s->entries, cmp_entry);
    for (int i = 1; i < s->n; i++)
        if (!strcmp(s->entries[i - 1].name, s->entries[i].name))
            return pe_fail(e, PE_EINPUT, "tensor '%s' is stored twice (%s and %s)", s->entries[i].name,
                           s->files[s->entries[i - 1].file].path, s->files[s->entries[i].file].path);
    return PE_OK;
}

void st_close(st_set *s)
{
    for (int i = 0; i < s->nfiles; i++) {
        if (s->files[i].map) {
            pe_map_guard_remove(s->files[i].map);
            munmap((void *)s->files[i].map, s->files[i].size);
        }
        free(s->files[i].path);
    }
    for (int i = 0; i < s->n; i++)
        free(s->entries[i].name);
    free(s->files);
    free(s->entries);
    memset(s, 0, sizeof *s);
}

const st_entry *st_find(const st_set *s, const char *name)
{
    int lo = 0, hi = s->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(s->entries[mid].name, name);
        if (!c)
            return &s->entries[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

int st_get(st_set *s, const char *name, int dtype, int ndim, const int64_t *shape, pe_tensor *out, pe_err *e)
{
    st_entry *t = (st_entry *)st_find(s, name);
    const char *where = s->nfiles == 1 ? s->files[0].path : "the checkpoint's shards";
    if (!t)
        return pe_fail(e, PE_EINPUT, "%s: tensor '%s' is missing", where, name);
    const char *fp = s->files[t->file].path;
    if (dtype >= 0 && (int)t->dtype != dtype)
        return pe_fail(e, PE_EINPUT, "%s: tensor '%s': dtype %s, expected %s", fp, name, st_dtype_name(t->dtype),
                       st_dtype_name((pe_dtype)dtype));
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = shape[i] < 0 || shape[i] == t->shape[i];
    if (!ok) {
        char want[128], got[128];
        shape_str(want, sizeof want, ndim, shape);
        shape_str(got, sizeof got, t->ndim, t->shape);
        return pe_fail(e, PE_EINPUT, "%s: tensor '%s': shape %s, expected %s", fp, name, got, want);
    }
    memset(out, 0, sizeof *out);
    out->dtype = t->dtype;
    out->ndim = t->ndim;
    memcpy(out->shape, t->shape, sizeof out->shape);
    out->data = s->files[t->file].map + s->files[t->file].data_off + t->begin;
    out->nbytes = t->end - t->begin;
    t->used = 1;
    return PE_OK;
}
