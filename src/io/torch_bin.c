/* torch.save zip archives (torch_bin.h). libzip reads the container from the
 * mapping through a source of our own (zsrc), which is also how the bytes of
 * a stored entry are found in place: libzip 1.7 has no call that returns an
 * entry's data offset, so one short read of the entry through libzip is
 * watched, its position taken, and the bytes at that position of the mapping
 * compared with what libzip returned. No zip structure is parsed here. */
#include "torch_bin.h"

#include "pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

_Static_assert(PK_MAX_DIM == ST_MAX_DIM, "a .bin tensor must fit an st_entry");

/* A read-only, seekable libzip source over the mapping. */
typedef struct zsrc {
    const uint8_t *map;
    uint64_t size, pos;
    uint64_t last_read;  /* position of the latest read: where an entry's bytes are */
    zip_error_t err;
} zsrc;

static zip_int64_t zsrc_cb(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
    zsrc *z = ud;
    switch (cmd) {
    case ZIP_SOURCE_OPEN:
        z->pos = 0;
        return 0;
    case ZIP_SOURCE_READ: {
        uint64_t n = z->pos < z->size ? z->size - z->pos : 0;
        if (n > len)
            n = len;
        memcpy(data, z->map + z->pos, (size_t)n);
        z->last_read = z->pos;
        z->pos += n;
        return (zip_int64_t)n;
    }
    case ZIP_SOURCE_CLOSE:
    case ZIP_SOURCE_FREE:
        return 0;
    case ZIP_SOURCE_STAT: {
        if (len < sizeof(zip_stat_t)) {
            zip_error_set(&z->err, ZIP_ER_INVAL, 0);
            return -1;
        }
        zip_stat_t *st = data;
        zip_stat_init(st);
        st->size = z->size;
        st->valid |= ZIP_STAT_SIZE;
        return sizeof(zip_stat_t);
    }
    case ZIP_SOURCE_ERROR:
        return zip_error_to_data(&z->err, data, len);
    case ZIP_SOURCE_SEEK: {
        zip_int64_t np = zip_source_seek_compute_offset(z->pos, z->size, data, len, &z->err);
        if (np < 0)
            return -1;
        z->pos = (uint64_t)np;
        return 0;
    }
    case ZIP_SOURCE_TELL:
        return (zip_int64_t)z->pos;
    case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT,
                                              ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, ZIP_SOURCE_SEEK, ZIP_SOURCE_TELL,
                                              ZIP_SOURCE_SUPPORTS, -1);
    default:
        zip_error_set(&z->err, ZIP_ER_OPNOTSUPP, 0);
        return -1;
    }
}

typedef struct tb {
    st_set *s;
    int fi;
    const char *path;
    zip_t *za;
    zsrc *z;
    char prefix[256];   /* the archive's folder: "archive" (torch 2) or the file's stem (torch 1.x) */
    pe_err *e;
} tb;

/* One storage, as found in the archive. */
typedef struct storage {
    const char *key;
    pe_dtype dtype;
    uint64_t numel;
    uint64_t begin;     /* byte in the file */
} storage;

static int stat_entry(tb *b, const char *name, zip_int64_t *idx, zip_stat_t *st)
{
    *idx = zip_name_locate(b->za, name, ZIP_FL_ENC_RAW);
    if (*idx < 0)
        return pe_fail(b->e, PE_EINPUT, "%s: the archive has no entry '%s'", b->path, name);
    zip_stat_init(st);
    if (zip_stat_index(b->za, (zip_uint64_t)*idx, 0, st) != 0)
        return pe_fail(b->e, PE_EINPUT, "%s: entry '%s': %s", b->path, name, zip_strerror(b->za));
    const zip_uint64_t need = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD | ZIP_STAT_ENCRYPTION_METHOD;
    if ((st->valid & need) != need)
        return pe_fail(b->e, PE_EINPUT, "%s: entry '%s': the zip directory lacks its sizes or method", b->path,
                       name);
    if (st->encryption_method != ZIP_EM_NONE)
        return pe_fail(b->e, PE_EINPUT, "%s: entry '%s' is encrypted", b->path, name);
    return PE_OK;
}

/* A small entry (data.pkl, byteorder) read through libzip, decompressed if it
 * must be, never more than CAP bytes whatever its header claims. */
static int read_entry(tb *b, const char *name, uint64_t cap, uint8_t **out, size_t *len)
{
    zip_int64_t idx;
    zip_stat_t st;
    if (stat_entry(b, name, &idx, &st))
        return b->e->code;
    if (st.size > cap)
        return pe_fail(b->e, PE_EINPUT, "%s: entry '%s' is %llu bytes, more than the %llu a state dict needs",
                       b->path, name, (unsigned long long)st.size, (unsigned long long)cap);
    uint8_t *buf = pe_malloc((size_t)st.size + 1, b->e);
    if (!buf)
        return b->e->code;
    zip_file_t *zf = zip_fopen_index(b->za, (zip_uint64_t)idx, 0);
    if (!zf) {
        free(buf);
        return pe_fail(b->e, PE_EINPUT, "%s: entry '%s': %s", b->path, name, zip_strerror(b->za));
    }
    /* One byte of room past the declared size: an entry that inflates to
     * more than it says (a zip bomb) is caught there. */
    size_t n = 0;
    for (;;) {
        zip_int64_t k = zip_fread(zf, buf + n, (zip_uint64_t)(st.size + 1 - n));
        if (k < 0) {
            pe_fail(b->e, PE_EINPUT, "%s: entry '%s': %s", b->path, name, zip_file_strerror(zf));
            break;
        }
        if (k == 0)
            break;
        n += (size_t)k;
        if (n > st.size) {
            pe_fail(b->e, PE_EINPUT, "%s: entry '%s' holds more than the %llu bytes its header says", b->path,
                    name, (unsigned long long)st.size);
            break;
        }
    }
    zip_fclose(zf);
    if (b->e->code) {
        free(buf);
        return b->e->code;
    }
    if (n != st.size) {
        free(buf);
        return pe_fail(b->e, PE_EINPUT, "%s: entry '%s' holds %zu bytes, its header says %llu", b->path, name, n,
                       (unsigned long long)st.size);
    }
    *out = buf;
    *len = n;
    return PE_OK;
}

/* Finds PREFIX/data.pkl: exactly one entry "<folder>/data.pkl". */
static int find_prefix(tb *b)
{
    zip_int64_t n = zip_get_num_entries(b->za, 0);
    int found = 0;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(b->za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        if (!name)
            continue;
        const char *slash = strchr(name, '/');
        if (!slash || strcmp(slash, "/data.pkl"))
            continue;
        if (found++)
            return pe_fail(b->e, PE_EINPUT, "%s: the archive holds two data.pkl entries ('%s/data.pkl' and '%s')",
                           b->path, b->prefix, name);
        size_t k = (size_t)(slash - name);
        if (k == 0 || k >= sizeof b->prefix)
            return pe_fail(b->e, PE_EINPUT, "%s: entry '%s': folder name of %zu bytes", b->path, name, k);
        memcpy(b->prefix, name, k);
        b->prefix[k] = '\0';
    }
    if (!found)
        return pe_fail(b->e, PE_EINPUT, "%s: a zip archive without <folder>/data.pkl: not a torch.save file",
                       b->path);
    return PE_OK;
}

/* Storages are raw bytes in the writer's byte order: only little-endian is
 * read as is (torch.save writes "byteorder" since 2.0; older files are
 * little-endian, as every platform PyTorch 1.x shipped for). */
static int check_byteorder(tb *b)
{
    char name[300];
    snprintf(name, sizeof name, "%s/byteorder", b->prefix);
    if (zip_name_locate(b->za, name, ZIP_FL_ENC_RAW) < 0)
        return PE_OK;
    uint8_t *buf;
    size_t n;
    if (read_entry(b, name, 16, &buf, &n))
        return b->e->code;
    int little = n == 6 && !memcmp(buf, "little", 6);
    free(buf);
    if (!little)
        return pe_fail(b->e, PE_EINPUT, "%s: entry '%s' does not say \"little\": only little-endian storages are read",
                       b->path, name);
    return PE_OK;
}

/* Where the storage's bytes start in the file: see the top of the file. */
static int locate(tb *b, const char *name, zip_int64_t idx, uint64_t size, uint64_t *begin)
{
    zip_file_t *zf = zip_fopen_index(b->za, (zip_uint64_t)idx, 0);
    if (!zf)
        return pe_fail(b->e, PE_EINPUT, "%s: entry '%s': %s", b->path, name, zip_strerror(b->za));
    uint8_t probe[64];
    size_t n = size < sizeof probe ? (size_t)size : sizeof probe;
    b->z->last_read = UINT64_MAX;
    zip_int64_t got = zip_fread(zf, probe, n);
    uint64_t at = b->z->last_read;
    if (got < 0)
        pe_fail(b->e, PE_EINPUT, "%s: entry '%s': %s", b->path, name, zip_file_strerror(zf));
    zip_fclose(zf);
    if (b->e->code)
        return b->e->code;
    if ((size_t)got != n || at == UINT64_MAX || at > b->z->size || size > b->z->size - at ||
        memcmp(b->z->map + at, probe, n))
        return pe_fail(b->e, PE_EINPUT, "%s: entry '%s': its %llu bytes cannot be located inside the file", b->path,
                       name, (unsigned long long)size);
    *begin = at;
    return PE_OK;
}

/* The storage KEY of the given dtype and size: found once, then shared. */
static int get_storage(tb *b, storage *st, int *nst, const pk_tensor *t, const storage **out)
{
    for (int i = 0; i < *nst; i++)
        if (!strcmp(st[i].key, t->storage)) {
            if (st[i].dtype != t->dtype || st[i].numel != t->storage_numel)
                return pe_fail(b->e, PE_EINPUT,
                               "%s: tensor '%s': storage '%s' is declared as %llu %s elements, elsewhere as %llu %s",
                               b->path, t->name, t->storage, (unsigned long long)t->storage_numel,
                               st_dtype_name(t->dtype), (unsigned long long)st[i].numel,
                               st_dtype_name(st[i].dtype));
            *out = &st[i];
            return PE_OK;
        }
    char name[300];
    snprintf(name, sizeof name, "%s/data/%s", b->prefix, t->storage);
    zip_int64_t idx;
    zip_stat_t zs;
    if (stat_entry(b, name, &idx, &zs))
        return b->e->code;
    /* Read in place: only what torch.save writes, stored bytes. */
    if (zs.comp_method != ZIP_CM_STORE || zs.comp_size != zs.size)
        return pe_fail(b->e, PE_EINPUT,
                       "%s: entry '%s' is compressed (method %d): torch.save stores tensors uncompressed, and a "
                       "compressed storage is not read",
                       b->path, name, (int)zs.comp_method);
    size_t esz = st_dtype_size(t->dtype);
    if (t->storage_numel > UINT64_MAX / esz || t->storage_numel * esz != zs.size)
        return pe_fail(b->e, PE_EINPUT, "%s: entry '%s' holds %llu bytes, the pickle declares %llu %s elements (%s)",
                       b->path, name, (unsigned long long)zs.size, (unsigned long long)t->storage_numel,
                       st_dtype_name(t->dtype), t->storage_numel > UINT64_MAX / esz ? "overflow" : "another size");
    storage *s = &st[(*nst)++];
    s->key = t->storage;
    s->dtype = t->dtype;
    s->numel = t->storage_numel;
    s->begin = 0;
    if (zs.size && locate(b, name, idx, zs.size, &s->begin))
        return b->e->code;
    *out = s;
    return PE_OK;
}

/* A tensor is a contiguous run of its storage, or it is refused. */
static int add_tensor(tb *b, pk_tensor *t, const storage *sg)
{
    uint64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        uint64_t k = (uint64_t)t->size[d];
        if (k && numel > UINT64_MAX / k)
            return pe_fail(b->e, PE_EINPUT, "%s: tensor '%s': size overflows", b->path, t->name);
        numel *= k;
    }
    if (numel) {
        uint64_t expect = 1;
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (t->size[d] != 1 && (uint64_t)t->stride[d] != expect)
                return pe_fail(b->e, PE_EINPUT,
                               "%s: tensor '%s': stride[%d] is %lld, %llu for a contiguous tensor: non-contiguous "
                               "views are not read (save tensor.contiguous())",
                               b->path, t->name, d, (long long)t->stride[d], (unsigned long long)expect);
            expect *= (uint64_t)t->size[d];
        }
        if (t->offset > sg->numel || numel > sg->numel - t->offset)
            return pe_fail(b->e, PE_EINPUT,
                           "%s: tensor '%s': elements [%llu, %llu + %llu) run past the end of storage '%s' (%llu "
                           "elements)",
                           b->path, t->name, (unsigned long long)t->offset, (unsigned long long)t->offset,
                           (unsigned long long)numel, t->storage, (unsigned long long)sg->numel);
    }
    size_t esz = st_dtype_size(t->dtype);
    st_entry *en = &b->s->entries[b->s->n];
    memset(en, 0, sizeof *en);
    en->dtype = t->dtype;
    en->ndim = t->ndim;
    memcpy(en->shape, t->size, sizeof en->shape);
    en->file = b->fi;
    en->begin = numel ? (size_t)(sg->begin + t->offset * esz) : (size_t)sg->begin;
    en->end = en->begin + (size_t)(numel * esz);
    en->name = t->name;  /* ownership moves to the set */
    t->name = NULL;
    b->s->n++;
    return PE_OK;
}

static int read_archive(tb *b)
{
    char what[4400], pkl[300];
    if (find_prefix(b) || check_byteorder(b))
        return b->e->code;
    snprintf(pkl, sizeof pkl, "%s/data.pkl", b->prefix);
    uint8_t *buf;
    size_t len;
    if (read_entry(b, pkl, TB_MAX_PICKLE, &buf, &len))
        return b->e->code;
    snprintf(what, sizeof what, "%s: %s", b->path, pkl);
    pk_state_dict sd;
    int rc = pk_read_state_dict(buf, len, what, &sd, b->e);
    free(buf);
    if (rc)
        return rc;
    storage *st = pe_calloc((size_t)(sd.n ? sd.n : 1), sizeof *st, b->e);
    if (!st || st_reserve(b->s, sd.n, b->e)) {
        free(st);
        pk_free(&sd);
        return b->e->code;
    }
    int nst = 0;
    for (int i = 0; i < sd.n && !rc; i++) {
        const storage *sg = NULL;
        rc = get_storage(b, st, &nst, &sd.t[i], &sg);
        rc = rc ? rc : add_tensor(b, &sd.t[i], sg);
    }
    free(st);
    pk_free(&sd);
    return rc;
}

int tb_add_file(st_set *s, const char *path, pe_err *e)
{
    int fi;
    if (st_map(s, path, &fi, e))
        return e->code;
    const st_file *f = &s->files[fi];
    if (f->size > 0 && f->map[0] == 0x80)
        return pe_fail(e, PE_EINPUT,
                       "%s: PyTorch's legacy (pre-1.6, non-zip) format is not read: convert it with PyTorch, "
                       "torch.save(torch.load(\"%s\", map_location=\"cpu\"), \"new.bin\") (the zip format is the "
                       "default since 1.6), or save it as safetensors",
                       path, path);
    if (f->size < 4 || memcmp(f->map, "PK\x03\x04", 4))
        return pe_fail(e, PE_EINPUT, "%s: not a zip archive, so not a torch.save file (PyTorch >= 1.6)", path);
    zsrc z;
    memset(&z, 0, sizeof z);
    z.map = f->map;
    z.size = f->size;
    zip_error_init(&z.err);
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_function_create(zsrc_cb, &z, &ze);
    zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze) : NULL;
    if (!za) {
        if (src)
            zip_source_free(src);
        int rc = pe_fail(e, PE_EINPUT, "%s: not a readable zip archive (libzip: %s); truncated or damaged?", path,
                         zip_error_strerror(&ze));
        zip_error_fini(&ze);
        zip_error_fini(&z.err);
        return rc;
    }
    zip_error_fini(&ze);
    tb b = {.s = s, .fi = fi, .path = path, .za = za, .z = &z, .e = e};
    int rc = read_archive(&b);
    zip_discard(za);
    zip_error_fini(&z.err);
    return rc;
}
