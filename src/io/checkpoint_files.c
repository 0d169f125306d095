/* Which files hold a checkpoint's weights: the four layouts Hugging Face
 * publishes (safetensors or PyTorch .bin, one file or shards listed in an
 * index json), in the order transformers prefers them, and the index's
 * checks, shared by both formats. The formats themselves: safetensors.c,
 * torch_bin.c. */
#include "safetensors.h"

#include "infile.h"
#include "json_check.h"
#include "torch_bin.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef int (*add_fn)(st_set *s, const char *path, pe_err *e);

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* A .bin file starts as a zip archive (or, in the legacy format, as a
 * pickle: PROTO 2, then LONG1 with torch's magic number); a safetensors file
 * with its header length and '{'. The extension decides only when the file
 * is too short to tell. */
static int is_torch_file(const char *path)
{
    unsigned char magic[9] = {0};
    FILE *fp = pe_fopen_input(path);
    size_t n = fp ? fread(magic, 1, sizeof magic, fp) : 0;
    if (fp)
        fclose(fp);
    if (n >= 4 && !memcmp(magic, "PK\x03\x04", 4))
        return 1;
    if (n >= 3 && !memcmp(magic, "\x80\x02\x8a", 3) && (n < 9 || magic[8] != '{'))
        return 1;
    if (n >= 9)
        return 0;
    size_t len = strlen(path);
    return len >= 4 && !strcmp(path + len - 4, ".bin");
}

static int open_one(st_set *s, const char *file, pe_err *e)
{
    int bin = is_torch_file(file);
    if ((bin ? tb_add_file(s, file, e) : st_add_safetensors(s, file, e)) || st_finish(s, e))
        return e->code;
    snprintf(s->layout, sizeof s->layout, "%s (%s)", bin ? "PyTorch .bin" : "safetensors", base_name(file));
    return PE_OK;
}

int st_open_file(st_set *s, const char *file, pe_err *e)
{
    memset(s, 0, sizeof *s);
    if (open_one(s, file, e)) {
        st_close(s);
        return e->code;
    }
    return PE_OK;
}

static int read_text(const char *path, char **out, pe_err *e)
{
    FILE *fp = pe_fopen_input(path);
    if (!fp)
        return pe_fail(e, PE_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = pe_malloc(cap, e);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = pe_realloc(buf, cap * 2, e);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t k = fread(buf + n, 1, cap - n - 1, fp);
        n += k;
        if (k == 0)
            break;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (!buf)
        return e->code;
    if (bad) {
        free(buf);
        return pe_fail(e, PE_EIO, "%s: read error", path);
    }
    buf[n] = '\0';
    *out = buf;
    return PE_OK;
}

/* INDEX's weight_map names the shards; ADD reads one shard into the set. */
static int open_index(st_set *s, const char *dir, const char *index, add_fn add, pe_err *e)
{
    char *text = NULL;
    if (read_text(index, &text, e))
        return e->code;
    cJSON *root = pe_json_parse_strict(text, strlen(text), index, e);
    free(text);
    if (!root)
        return e->code;
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(wm)) {
        cJSON_Delete(root);
        return pe_fail(e, PE_EINPUT, "%s: missing \"weight_map\" object", index);
    }
    if (!wm->child) {  /* else: "no tensors" later, which would not say why */
        cJSON_Delete(root);
        return pe_fail(e, PE_EINPUT, "%s: \"weight_map\" is empty: the index lists no tensor and no shard file",
                       index);
    }
    /* Shards in order of first mention, each opened once. */
    const cJSON *it;
    cJSON_ArrayForEach(it, wm) {
        if (!cJSON_IsString(it)) {
            int rc = pe_fail(e, PE_EINPUT, "%s: weight_map['%s'] is not a file name", index, it->string);
            cJSON_Delete(root);
            return rc;
        }
        const char *fn = it->valuestring;
        if (!*fn || strchr(fn, '/') || !strcmp(fn, "..") || !strcmp(fn, ".")) {
            int rc = pe_fail(e, PE_EINPUT, "%s: weight_map['%s'] = '%s' is not a plain file name in the folder", index,
                             it->string, fn);
            cJSON_Delete(root);
            return rc;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, fn);
        int seen = 0;
        for (int i = 0; i < s->nfiles && !seen; i++)
            seen = !strcmp(s->files[i].path, path);
        if (!seen && add(s, path, e)) {
            cJSON_Delete(root);
            return e->code;
        }
    }
    if (st_finish(s, e)) {
        cJSON_Delete(root);
        return e->code;
    }
    /* The index and the shards must agree both ways. */
    cJSON_ArrayForEach(it, wm) {
        const st_entry *t = st_find(s, it->string);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, it->valuestring);
        if (!t || strcmp(s->files[t->file].path, path)) {
            int rc = pe_fail(e, PE_EINPUT, "%s: tensor '%s' is listed in %s but that file does not hold it", index,
                             it->string, it->valuestring);
            cJSON_Delete(root);
            return rc;
        }
    }
    for (int i = 0; i < s->n; i++)
        if (!cJSON_GetObjectItemCaseSensitive(wm, s->entries[i].name)) {
            int rc = pe_fail(e, PE_EINPUT, "%s: tensor '%s' is stored but not listed in %s",
                             s->files[s->entries[i].file].path, s->entries[i].name, index);
            cJSON_Delete(root);
            return rc;
        }
    cJSON_Delete(root);
    return PE_OK;
}

int st_open(st_set *s, const char *path, pe_err *e)
{
    memset(s, 0, sizeof *s);
    struct stat st;
    if (stat(path, &st) != 0)
        return pe_fail(e, PE_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return st_open_file(s, path, e);
    static const struct {
        const char *file, *index, *format;
        add_fn add;
    } layouts[] = {
        {"model.safetensors", "model.safetensors.index.json", "safetensors", st_add_safetensors},
        {"pytorch_model.bin", "pytorch_model.bin.index.json", "PyTorch .bin", tb_add_file},
    };
    for (size_t k = 0; k < sizeof layouts / sizeof *layouts; k++) {
        char single[4096], index[4096];
        snprintf(single, sizeof single, "%s/%s", path, layouts[k].file);
        snprintf(index, sizeof index, "%s/%s", path, layouts[k].index);
        if (access(single, F_OK) == 0) {
            if (layouts[k].add(s, single, e) || st_finish(s, e)) {
                st_close(s);
                return e->code;
            }
            snprintf(s->layout, sizeof s->layout, "%s (%s)", layouts[k].format, layouts[k].file);
            return PE_OK;
        }
        if (access(index, F_OK) == 0) {
            if (open_index(s, path, index, layouts[k].add, e)) {
                st_close(s);
                return e->code;
            }
            snprintf(s->layout, sizeof s->layout, "%s, sharded (%s, %d files)", layouts[k].format, layouts[k].index,
                     s->nfiles);
            return PE_OK;
        }
    }
    return pe_fail(e, PE_EIO,
                   "%s: no weights: none of model.safetensors, model.safetensors.index.json, pytorch_model.bin, "
                   "pytorch_model.bin.index.json is there",
                   path);
}
