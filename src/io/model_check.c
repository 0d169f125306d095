/* Finite weights and the content hash of a loaded model (model_check.h). */
#include "model_check.h"

#include <stdio.h>
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
 * for a 0.5B bf16 model, the first touch of the mapping's pages): blocks of
 * elements, each tested without a branch (so that it vectorizes), spread
 * over the OpenMP threads; the exact element is then found in the first
 * block that holds one, so the verdict and the index do not depend on the
 * thread count. */
enum { SCAN_BLOCK = 1 << 16 };  /* elements */

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

/* Index of the first NaN or infinity, or -1. */
static int64_t first_nonfinite(const pe_tensor *t)
{
    const uint8_t *p = t->data;
    size_t esize = t->dtype == PE_DT_F32 ? 4 : 2;
    /* the exponent: all ones = Inf or NaN */
    uint32_t mask = t->dtype == PE_DT_F32 ? 0x7f800000u : t->dtype == PE_DT_BF16 ? 0x7f80u : 0x7c00u;
    size_t n = t->nbytes / esize, nblk = (n + SCAN_BLOCK - 1) / SCAN_BLOCK, first_bad = nblk;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) reduction(min : first_bad) if (nblk > 1)
#endif
    for (size_t b = 0; b < nblk; b++) {
        size_t i = b * SCAN_BLOCK, k = n - i < SCAN_BLOCK ? n - i : SCAN_BLOCK;
        if (b < first_bad && any_nonfinite(p + i * esize, k, esize, mask))
            first_bad = b;
    }
    if (first_bad == nblk)
        return -1;
    for (size_t i = first_bad * SCAN_BLOCK; i < n; i++)
        if (any_nonfinite(p + i * esize, 1, esize, mask))
            return (int64_t)i;
    return -1;  /* not reached: the block held one */
}

int pe_model_check_weights(const pe_model *m, uint64_t *hash, pe_err *e)
{
    const st_set *s = m->impl;
    uint64_t h = 0x243f6a8885a308d3u;
    for (int i = 0; s && i < s->n; i++) {
        const st_entry *t = &s->entries[i];
        if (!t->used)
            continue;
        const st_file *f = &s->files[t->file];
        pe_tensor v = {t->dtype, t->ndim, {0}, f->map + f->data_off + t->begin, t->end - t->begin};
        int64_t bad = first_nonfinite(&v);
        if (bad >= 0)
            return pe_fail(e, PE_EINPUT, "%s: tensor '%s' holds a NaN or infinity (element %lld of %s): a model with "
                           "non-finite weights gives non-finite rewards", f->path, t->name, (long long)bad,
                           st_dtype_name(t->dtype));
        h = hash_bytes(h, (const uint8_t *)t->name, strlen(t->name));
        uint64_t meta[2 + ST_MAX_DIM] = {(uint64_t)t->dtype, (uint64_t)t->ndim};
        for (int d = 0; d < t->ndim && d < ST_MAX_DIM; d++)
            meta[2 + d] = (uint64_t)t->shape[d];
        h = hash_bytes(h, (const uint8_t *)meta, sizeof meta);
        h = hash_bytes(h, v.data, v.nbytes);
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
