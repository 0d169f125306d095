/* Synthetic PRM weights for tests and benchmarks, identical to synth_tensor()
 * in tests/oracle/torch_prm.py: element i of tensor number `index` comes from
 * a counter-based splitmix64, and every value is an integer times a power of
 * two, so bits=8 weights are exact in bf16 and f16, bits=24 exact in f32.
 * Builds a pe_model in memory (no checkpoint reader involved). */
#ifndef PE_PRM_SYNTH_H
#define PE_PRM_SYNTH_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/model.h"

#define SYNTH_GAMMA 0x9E3779B97F4A7C15ull
#define SYNTH_GAMMA_T 0xD1B54A32D192ED03ull
#define SYNTH_LAYER_TENSORS 12 /* in_norm wq wk wv bq bk bv wo post_norm w_gate w_up w_down */

typedef enum { SYNTH_EMBED, SYNTH_BIAS, SYNTH_NORM, SYNTH_LINEAR } synth_kind;

/* Every head torch_prm.py synthesizes, held beside the model: the model
 * carries one family's head at a time (synth_bind_head). */
typedef struct synth_heads {
    pe_tensor score0_w, score0_b, score2_w, score2_b, vhead_w, vhead_b;
} synth_heads;

typedef struct synth_model_t {
    pe_model m;
    synth_heads heads;
} synth_model_t;

static inline uint64_t synth_mix64(uint64_t z)
{
    z ^= z >> 30;
    z *= 0xBF58476D1CE4E5B9ull;
    z ^= z >> 27;
    z *= 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Value of element i; cols = the tensor's last dimension (inputs of a Linear). */
static inline double synth_value(uint64_t base, size_t i, synth_kind kind, int64_t cols, int bits)
{
    uint64_t r = synth_mix64(base + (uint64_t)(i + 1) * SYNTH_GAMMA) >> 11;
    if (kind == SYNTH_NORM)
        return 1.0 + ((double)(r % 63) - 31.0) / 128.0;
    uint64_t m = (1ull << (bits - 1)) - 1;
    double k = (double)(r % (2 * m + 1)) - (double)m;
    int e;
    if (kind == SYNTH_EMBED) e = 7;
    else if (kind == SYNTH_BIAS) e = 8;
    else {
        int lg = 0; /* ceil(log2 cols) */
        while ((1ll << lg) < cols) lg++;
        e = 6 + (lg + 1) / 2;
    }
    return ldexp(k, -(e + bits - 8));
}

/* An exactly representable fp32 value as IEEE half (normal numbers and zero:
 * all that synth_value makes at bits=8). */
static inline uint16_t synth_f16_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    if ((u & 0x7fffffffu) == 0) return sign;
    int exp = (int)((u >> 23) & 0xff) - 127 + 15;
    return (uint16_t)(sign | (uint16_t)(exp << 10) | (uint16_t)((u >> 13) & 0x3ffu));
}

/* Fills t (allocating t->data) with tensor number index, stored as dt. */
static inline int synth_tensor(pe_tensor *t, uint64_t seed, int index, synth_kind kind,
                               int ndim, int64_t d0, int64_t d1, int bits, pe_dtype dt)
{
    size_t n = (size_t)d0 * (size_t)(ndim == 2 ? d1 : 1);
    size_t es = dt == PE_DT_F32 ? 4 : 2;
    unsigned char *p = malloc(n * es);
    if (!p) return -1;
    uint64_t base = synth_mix64(seed + (uint64_t)index * SYNTH_GAMMA_T);
    int64_t cols = ndim == 2 ? d1 : d0;
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float f = (float)synth_value(base, i, kind, cols, bits);
        if (dt == PE_DT_F32) {
            memcpy(p + 4 * i, &f, 4);
        } else {
            uint32_t u;
            memcpy(&u, &f, 4);
            uint16_t h = dt == PE_DT_BF16 ? (uint16_t)(u >> 16) : synth_f16_bits(f);
            memcpy(p + 2 * i, &h, 2);
        }
    }
    memset(t, 0, sizeof *t);
    t->dtype = dt;
    t->ndim = ndim;
    t->shape[0] = d0;
    t->shape[1] = ndim == 2 ? d1 : 0;
    t->data = p;
    t->nbytes = n * es;
    return 0;
}

static inline void synth_free_model(synth_model_t *m)
{
    pe_weights *w = &m->m.w;
    if (w->layers) {
        for (int l = 0; l < m->m.cfg.num_layers; l++) {
            pe_layer_weights *ly = &w->layers[l];
            pe_tensor *ts[] = {&ly->in_norm, &ly->wq, &ly->wk, &ly->wv, &ly->bq, &ly->bk, &ly->bv,
                               &ly->wo, &ly->post_norm, &ly->w_gate, &ly->w_up, &ly->w_down};
            for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
                free((void *)ts[i]->data);
        }
        free(w->layers);
    }
    if (w->lm_head.data != w->embed.data) free((void *)w->lm_head.data);
    pe_tensor *tail[] = {&w->embed, &w->final_norm, &m->heads.score0_w, &m->heads.score0_b,
                         &m->heads.score2_w, &m->heads.score2_b, &m->heads.vhead_w, &m->heads.vhead_b};
    for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
        free((void *)tail[i]->data);
    memset(w, 0, sizeof *w);
    memset(&m->heads, 0, sizeof m->heads);
}

/* Puts the synthesized head of torch_prm.py's head kind `kind` in the model
 * (m->m.w.head_*) and fills its spec from the registered family that uses it:
 * qwen_prm (qwen-prm), lm_two_tokens (math-shepherd), lm_full_softmax
 * (rlhflow), value_sigmoid (skywork). Returns 0, -1 for an unknown kind. */
static inline int synth_bind_head(synth_model_t *m, const char *kind, int32_t tok_a, int32_t tok_b,
                                  pe_head_spec *spec)
{
    const char *fam = !strcmp(kind, "qwen_prm") ? "qwen-prm" : !strcmp(kind, "lm_two_tokens") ? "math-shepherd"
                      : !strcmp(kind, "lm_full_softmax") ? "rlhflow" : !strcmp(kind, "value_sigmoid") ? "skywork"
                      : NULL;
    const pe_family *f = fam ? pe_family_by_name(fam) : NULL;
    if (!f)
        return -1;
    memset(spec, 0, sizeof *spec);
    spec->d = f->head;
    spec->tok[0] = tok_a;
    spec->tok[1] = tok_b;
    pe_weights *w = &m->m.w;
    pe_tensor none = {0};
    w->head_mlp_w = w->head_mlp_b = w->head_w = w->head_b = none;
    if (!strcmp(kind, "qwen_prm")) {
        w->head_mlp_w = m->heads.score0_w;
        w->head_mlp_b = m->heads.score0_b;
        w->head_w = m->heads.score2_w;
        w->head_b = m->heads.score2_b;
    } else if (!strcmp(kind, "value_sigmoid")) {
        w->head_w = m->heads.vhead_w;
        w->head_b = m->heads.vhead_b;
    }
    return 0;
}

/* All weights of cfg (every head included), in the canonical tensor order of
 * torch_prm.py's tensor_specs(). Returns 0, or -1 when out of memory. */
static inline int synth_model(synth_model_t *sm, const pe_config *cfg, uint64_t seed, int bits,
                              pe_dtype dt)
{
    memset(sm, 0, sizeof *sm);
    pe_model *m = &sm->m;
    m->cfg = *cfg;
    int64_t H = cfg->hidden_size, V = cfg->vocab_size, F = cfg->intermediate_size;
    int64_t QD = (int64_t)cfg->num_heads * cfg->head_dim;
    int64_t KD = (int64_t)cfg->num_kv_heads * cfg->head_dim;
    pe_weights *w = &m->w;
    int rc = synth_tensor(&w->embed, seed, 0, SYNTH_EMBED, 2, V, H, bits, dt);
    if (!(w->layers = calloc((size_t)cfg->num_layers, sizeof *w->layers))) return -1;
    for (int l = 0; l < cfg->num_layers && !rc; l++) {
        pe_layer_weights *ly = &w->layers[l];
        int i0 = 1 + l * SYNTH_LAYER_TENSORS;
        rc |= synth_tensor(&ly->in_norm, seed, i0 + 0, SYNTH_NORM, 1, H, 0, bits, dt);
        rc |= synth_tensor(&ly->wq, seed, i0 + 1, SYNTH_LINEAR, 2, QD, H, bits, dt);
        rc |= synth_tensor(&ly->wk, seed, i0 + 2, SYNTH_LINEAR, 2, KD, H, bits, dt);
        rc |= synth_tensor(&ly->wv, seed, i0 + 3, SYNTH_LINEAR, 2, KD, H, bits, dt);
        if (cfg->attn_bias) {
            rc |= synth_tensor(&ly->bq, seed, i0 + 4, SYNTH_BIAS, 1, QD, 0, bits, dt);
            rc |= synth_tensor(&ly->bk, seed, i0 + 5, SYNTH_BIAS, 1, KD, 0, bits, dt);
            rc |= synth_tensor(&ly->bv, seed, i0 + 6, SYNTH_BIAS, 1, KD, 0, bits, dt);
        }
        rc |= synth_tensor(&ly->wo, seed, i0 + 7, SYNTH_LINEAR, 2, H, QD, bits, dt);
        rc |= synth_tensor(&ly->post_norm, seed, i0 + 8, SYNTH_NORM, 1, H, 0, bits, dt);
        rc |= synth_tensor(&ly->w_gate, seed, i0 + 9, SYNTH_LINEAR, 2, F, H, bits, dt);
        rc |= synth_tensor(&ly->w_up, seed, i0 + 10, SYNTH_LINEAR, 2, F, H, bits, dt);
        rc |= synth_tensor(&ly->w_down, seed, i0 + 11, SYNTH_LINEAR, 2, H, F, bits, dt);
    }
    int t0 = 1 + cfg->num_layers * SYNTH_LAYER_TENSORS;
    rc |= synth_tensor(&w->final_norm, seed, t0 + 0, SYNTH_NORM, 1, H, 0, bits, dt);
    if (cfg->tie_word_embeddings)
        w->lm_head = w->embed;
    else
        rc |= synth_tensor(&w->lm_head, seed, t0 + 1, SYNTH_LINEAR, 2, V, H, bits, dt);
    synth_heads *hs = &sm->heads;
    rc |= synth_tensor(&hs->score0_w, seed, t0 + 2, SYNTH_LINEAR, 2, H, H, bits, dt);
    rc |= synth_tensor(&hs->score0_b, seed, t0 + 3, SYNTH_BIAS, 1, H, 0, bits, dt);
    rc |= synth_tensor(&hs->score2_w, seed, t0 + 4, SYNTH_LINEAR, 2, 2, H, bits, dt);
    rc |= synth_tensor(&hs->score2_b, seed, t0 + 5, SYNTH_BIAS, 1, 2, 0, bits, dt);
    rc |= synth_tensor(&hs->vhead_w, seed, t0 + 6, SYNTH_LINEAR, 2, 1, H, bits, dt);
    rc |= synth_tensor(&hs->vhead_b, seed, t0 + 7, SYNTH_BIAS, 1, 1, 0, bits, dt);
    if (rc) {
        synth_free_model(sm);
        return -1;
    }
    return 0;
}

#endif
