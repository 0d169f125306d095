/* Finite weights and the content hash of a loaded model (model_check.h). */
#include "model_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/sha256.h"
#include "safetensors.h"

/* Four independent multiply-xor lanes over 8-byte words, then the tail: the
 * chain of one lane alone would cap the pass at a quarter of the speed. */
static const uint64_t K = 0x9e3779b97f4a7c15u;

static uint64_t mix(uint64_t h, uint64_t w)
{
    h ^= w * K;
    h = (h << 31) | (h >> 33);
    return h * 0xbf58476d1ce4e5b9u;
}

static uint64_t hash_bytes(uint64_t seed, const uint8_t *p, size_t n)
{
    uint64_t l[4] = {seed, seed ^ 1, seed ^ 2, seed ^ 3};
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++) {
            uint64_t w;
            memcpy(&w, p + i + 8 * k, 8);
            l[k] = mix(l[k], w);
        }
    uint64_t h = mix(mix(mix(mix(seed, l[0]), l[1]), l[2]), l[3]);
    for (; i < n; i++)
        h = mix(h, p[i]);
    return mix(h, (uint64_t)n);
}

/* The scan for NaN and infinity reads every weight at start-up (about 1 GB
 * for a 0.5B bf16 model, the first touch of the mapping's pages): the used
 * tensors cut into blocks, each block tested without a branch (so that it
 * vectorizes), all blocks of all tensors in one loop over the OpenMP threads
 * (one parallel region: no barrier per tensor). The first block that holds
 * one is then searched element by element, so the tensor and the element
 * named do not depend on the thread count. */
enum { SCAN_BLOCK = 1 << 16 };  /* elements */

/* One used tensor in the scan: its blocks are first_block .. of the whole scan. */
typedef struct scan_item {
    const uint8_t *p;
    size_t n, esize, first_block;
    uint32_t mask;  /* the exponent: all ones = Inf or NaN */
    int entry;
} scan_item;

/* An all-ones exponent (Inf or NaN) among n elements of esize bytes at p. */
static int any_nonfinite(const uint8_t *p, size_t n, size_t esize, uint32_t mask)
{
    unsigned any = 0;
    if (esize == 4) {
#ifdef _OPENMP
#pragma omp simd reduction(| : any)
#endif
        for (size_t i = 0; i < n; i++) {
            uint32_t v;
            memcpy(&v, p + 4 * i, 4);
            any |= (v & mask) == mask;
        }
    } else {
#ifdef _OPENMP
#pragma omp simd reduction(| : any)
#endif
        for (size_t i = 0; i < n; i++) {
            uint16_t v;
            memcpy(&v, p + 2 * i, 2);
            any |= (uint32_t)(v & mask) == mask;
        }
    }
    return any != 0;
}

/* The item holding block g: the last one that starts at or before it (a
 * tensor with no elements starts where the next one does). */
static const scan_item *item_of_block(const scan_item *it, int nu, size_t g)
{
    int lo = 0, hi = nu - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (it[mid].first_block <= g)
            lo = mid;
        else
            hi = mid - 1;
    }
    return &it[lo];
}

/* The first NaN or infinity of the used tensors in entry order: *entry its
 * tensor (-1: none) and *elem its index. */
static int first_nonfinite(const st_set *s, int *entry, int64_t *elem, pe_err *e)
{
    *entry = -1;
    int nu = 0;
    for (int i = 0; s && i < s->n; i++)
        nu += s->entries[i].used != 0;
    if (!nu)
        return PE_OK;
    scan_item *it = pe_malloc((size_t)nu * sizeof *it, e);
    if (!it)
        return e->code;
    size_t total = 0;
    for (int i = 0, k = 0; i < s->n; i++) {
        const st_entry *t = &s->entries[i];
        if (!t->used)
            continue;
        const st_file *f = &s->files[t->file];
        scan_item *x = &it[k++];
        x->p = f->map + f->data_off + t->begin;
        x->esize = t->dtype == PE_DT_F32 ? 4 : 2;
        x->mask = t->dtype == PE_DT_F32 ? 0x7f800000u : t->dtype == PE_DT_BF16 ? 0x7f80u : 0x7c00u;
        x->n = (t->end - t->begin) / x->esize;
        x->first_block = total;
        x->entry = i;
        total += (x->n + SCAN_BLOCK - 1) / SCAN_BLOCK;
    }
    size_t first_bad = total;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) reduction(min : first_bad)
#endif
    for (size_t g = 0; g < total; g++) {
        if (g >= first_bad)  /* this thread found one before: the later blocks cannot be first */
            continue;
        const scan_item *x = item_of_block(it, nu, g);
        size_t i = (g - x->first_block) * SCAN_BLOCK, c = x->n - i < SCAN_BLOCK ? x->n - i : SCAN_BLOCK;
        if (any_nonfinite(x->p + i * x->esize, c, x->esize, x->mask))
            first_bad = g;
    }
    if (first_bad < total) {
        const scan_item *x = item_of_block(it, nu, first_bad);
        size_t i = (first_bad - x->first_block) * SCAN_BLOCK;
        while (i < x->n && !any_nonfinite(x->p + i * x->esize, 1, x->esize, x->mask))
            i++;
        *entry = x->entry;
        *elem = (int64_t)i;
    }
    free(it);
    return PE_OK;
}

int pe_model_check_weights(const pe_model *m, uint64_t *hash, pe_err *e)
{
    const st_set *s = m->impl;
    int bad;
    int64_t elem = 0;
    if (first_nonfinite(s, &bad, &elem, e) != PE_OK)
        return e->code;
    if (bad >= 0) {
        const st_entry *t = &s->entries[bad];
        return pe_fail(e, PE_EINPUT, "%s: tensor '%s' holds a NaN or infinity (element %lld of %s): a model with "
                       "non-finite weights gives non-finite rewards", s->files[t->file].path, t->name,
                       (long long)elem, st_dtype_name(t->dtype));
    }
    uint64_t h = 0x243f6a8885a308d3u;
    for (int i = 0; s && i < s->n; i++) {
        const st_entry *t = &s->entries[i];
        if (!t->used)
            continue;
        const st_file *f = &s->files[t->file];
        h = hash_bytes(h, (const uint8_t *)t->name, strlen(t->name));
        uint64_t meta[2 + ST_MAX_DIM] = {(uint64_t)t->dtype, (uint64_t)t->ndim};
        for (int d = 0; d < t->ndim && d < ST_MAX_DIM; d++)
            meta[2 + d] = (uint64_t)t->shape[d];
        h = hash_bytes(h, (const uint8_t *)meta, sizeof meta);
        h = hash_bytes(h, f->map + f->data_off + t->begin, t->end - t->begin);
    }
    /* and every file of the folder a tokenizer is read from (src/io/tokenizer_load.c) */
    static const char *const files[] = {"config.json", "tokenizer.json", "tokenizer.model", "tokenizer_config.json",
                                        "special_tokens_map.json"};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        char path[sizeof m->dir + 32], hex[65];
        snprintf(path, sizeof path, "%s/%s", m->dir, files[k]);
        pe_err ignore = {0};
        if (pe_sha256_file(path, hex, &ignore) != PE_OK)
            snprintf(hex, sizeof hex, "absent");
        h = hash_bytes(h, (const uint8_t *)hex, strlen(hex));
    }
    *hash = h;
    return PE_OK;
}
