#include "safetensors_write.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

int st_writer_add(st_writer *w, const char *name, pe_dtype dtype, int ndim, const int64_t *shape, float *data,
                  pe_err *e)
{
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 64;
        st_wtensor *nt = pe_realloc(w->t, (size_t)cap * sizeof *nt, e);
        if (!nt) {
            free(data);
            return e->code;
        }
        w->t = nt;
        w->cap = cap;
    }
    st_wtensor *t = &w->t[w->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = dtype;
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->data = data;
    return PE_OK;
}

static size_t numel(const st_wtensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= (size_t)t->shape[i];
    return n;
}

static int cmp_wt(const void *a, const void *b)
{
    return strcmp(((const st_wtensor *const *)a)[0]->name, ((const st_wtensor *const *)b)[0]->name);
}

int st_writer_save(const st_writer *w, const char *path, pe_err *e)
{
    const st_wtensor **order = pe_malloc((size_t)(w->n ? w->n : 1) * sizeof *order, e);
    if (!order)
        return e->code;
    for (int i = 0; i < w->n; i++)
        order[i] = &w->t[i];
    qsort(order, (size_t)w->n, sizeof *order, cmp_wt);
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(root, "__metadata__");
    cJSON_AddStringToObject(meta, "format", "pt");
    size_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const st_wtensor *t = order[i];
        cJSON *o = cJSON_AddObjectToObject(root, t->name);
        cJSON_AddStringToObject(o, "dtype", st_dtype_name(t->dtype));
        cJSON *sh = cJSON_AddArrayToObject(o, "shape");
        for (int d = 0; d < t->ndim; d++)
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t->shape[d]));
        size_t nb = numel(t) * st_dtype_size(t->dtype);
        cJSON *of = cJSON_AddArrayToObject(o, "data_offsets");
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)(off + nb)));
        off += nb;
    }
    char *hdr = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!hdr) {
        free(order);
        return pe_fail(e, PE_ERESOURCE, "%s: cannot build the header", path);
    }
    size_t hl = strlen(hdr), padded = (hl + 7) / 8 * 8;
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        free(hdr);
        free(order);
        return pe_fail(e, PE_EIO, "%s: cannot create: %s", path, strerror(errno));
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int ok = fwrite(len8, 1, 8, fp) == 8 && fwrite(hdr, 1, hl, fp) == hl;
    for (size_t i = hl; ok && i < padded; i++)
        ok = fputc(' ', fp) != EOF;
    free(hdr);
    for (int i = 0; ok && i < w->n; i++) {
        const st_wtensor *t = order[i];
        size_t n = numel(t);
        for (size_t k = 0; ok && k < n; k++) {
            unsigned char b[4];
            if (t->dtype == PE_DT_F32) {
                uint32_t u;
                memcpy(&u, &t->data[k], 4);
                for (int j = 0; j < 4; j++)
                    b[j] = (unsigned char)(u >> (8 * j));
                ok = fwrite(b, 1, 4, fp) == 4;
            } else {
                uint16_t h = t->dtype == PE_DT_BF16 ? pe_bf16_from_f32(t->data[k]) : pe_f16_from_f32(t->data[k]);
                b[0] = (unsigned char)h;
                b[1] = (unsigned char)(h >> 8);
                ok = fwrite(b, 1, 2, fp) == 2;
            }
        }
    }
    free(order);
    if (fclose(fp) != 0 || !ok)
        return pe_fail(e, PE_EIO, "%s: write failed: %s", path, strerror(errno));
    return PE_OK;
}

void st_writer_free(st_writer *w)
{
    for (int i = 0; i < w->n; i++)
        free(w->t[i].data);
    free(w->t);
    memset(w, 0, sizeof *w);
}
