/* pe_model_open: config.json + the weights (safetensors or PyTorch .bin, read
 * into one tensor index by st_open), every tensor checked against the config,
 * and every stored tensor accounted for. */
#include "model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "safetensors.h"

static int get(st_set *s, pe_tensor *out, int ndim, int64_t d0, int64_t d1, pe_err *e, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* Any supported dtype; the backends convert. */
static int get(st_set *s, pe_tensor *out, int ndim, int64_t d0, int64_t d1, pe_err *e, const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    int64_t shape[2] = {d0, d1};
    return st_get(s, name, -1, ndim, shape, out, e);
}

/* An optional tensor: left zeroed (data NULL) when absent. */
static int has(const st_set *s, const char *name)
{
    return st_find(s, name) != NULL;
}

static int load_layers(pe_model *m, st_set *s, pe_err *e)
{
    const pe_config *c = &m->cfg;
    int64_t H = c->hidden_size, F = c->intermediate_size;
    int64_t QD = (int64_t)c->num_heads * c->head_dim, KD = (int64_t)c->num_kv_heads * c->head_dim;
    m->w.layers = pe_calloc((size_t)c->num_layers, sizeof *m->w.layers, e);
    if (!m->w.layers)
        return e->code;
    const char *pre = "model.layers";
    for (int l = 0; l < c->num_layers; l++) {
        pe_layer_weights *w = &m->w.layers[l];
        if (get(s, &w->in_norm, 1, H, 0, e, "%s.%d.input_layernorm.weight", pre, l) ||
            get(s, &w->wq, 2, QD, H, e, "%s.%d.self_attn.q_proj.weight", pre, l) ||
            get(s, &w->wk, 2, KD, H, e, "%s.%d.self_attn.k_proj.weight", pre, l) ||
            get(s, &w->wv, 2, KD, H, e, "%s.%d.self_attn.v_proj.weight", pre, l) ||
            get(s, &w->wo, 2, H, QD, e, "%s.%d.self_attn.o_proj.weight", pre, l) ||
            get(s, &w->post_norm, 1, H, 0, e, "%s.%d.post_attention_layernorm.weight", pre, l) ||
            get(s, &w->w_gate, 2, F, H, e, "%s.%d.mlp.gate_proj.weight", pre, l) ||
            get(s, &w->w_up, 2, F, H, e, "%s.%d.mlp.up_proj.weight", pre, l) ||
            get(s, &w->w_down, 2, H, F, e, "%s.%d.mlp.down_proj.weight", pre, l))
            return e->code;
        if (c->attn_bias &&
            (get(s, &w->bq, 1, QD, 0, e, "%s.%d.self_attn.q_proj.bias", pre, l) ||
             get(s, &w->bk, 1, KD, 0, e, "%s.%d.self_attn.k_proj.bias", pre, l) ||
             get(s, &w->bv, 1, KD, 0, e, "%s.%d.self_attn.v_proj.bias", pre, l)))
            return e->code;
    }
    return PE_OK;
}

/* lm_head.weight when stored (transformers ties the head to the embedding
 * whatever is stored); the family's head tensors come with pe_model_bind_head. */
static int load_lm_head(pe_model *m, st_set *s, pe_err *e)
{
    const pe_config *c = &m->cfg;
    pe_weights *w = &m->w;
    if (has(s, "lm_head.weight") && get(s, &w->lm_head, 2, c->vocab_size, c->hidden_size, e, "lm_head.weight"))
        return e->code;
    if (c->tie_word_embeddings)
        w->lm_head = w->embed;
    return PE_OK;
}

/* Tensors transformers itself ignores when loading. */
static int ignorable(const char *name)
{
    size_t n = strlen(name);
    const char *suf = "rotary_emb.inv_freq";
    size_t k = strlen(suf);
    return n >= k && !strcmp(name + n - k, suf);
}

int pe_model_open(pe_model *m, const char *dir, pe_err *e)
{
    memset(m, 0, sizeof *m);
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    if (pe_config_load(&m->cfg, dir, e))
        return e->code;
    st_set *s = pe_calloc(1, sizeof *s, e);
    if (!s)
        return e->code;
    m->impl = s;
    if (st_open(s, dir, e))
        goto fail;
    const pe_config *c = &m->cfg;
    /* Each layer stores 9 tensors: a config claiming more layers than the
     * checkpoint could hold is refused before memory is sized by it. */
    if ((int64_t)c->num_layers * 9 > s->n) {
        pe_fail(e, PE_EINPUT, "%s/config.json: \"num_hidden_layers\" is %d, but %s holds only %d tensors "
                "(each layer has 9)", dir, c->num_layers, s->nfiles == 1 ? s->files[0].path : "the checkpoint",
                s->n);
        goto fail;
    }
    if (get(s, &m->w.embed, 2, c->vocab_size, c->hidden_size, e, "model.embed_tokens.weight") || load_layers(m, s, e) ||
        get(s, &m->w.final_norm, 1, c->hidden_size, 0, e, "model.norm.weight") || load_lm_head(m, s, e))
        goto fail;
    return PE_OK;
fail:
    pe_model_close(m);
    return e->code;
}

static int tensor_rows(const void *ctx, const char *name)
{
    const st_entry *t = ctx ? st_find(ctx, name) : NULL;
    return t && t->ndim == 2 && t->shape[0] <= INT32_MAX ? (int)t->shape[0] : -1;
}

void pe_model_facts(const pe_model *m, pe_ckpt_facts *ck)
{
    ck->architectures0 = m->cfg.architectures0;
    ck->vocab_size = m->cfg.vocab_size;
    ck->ctx = m->impl;
    ck->tensor_rows = m->impl ? tensor_rows : NULL;
}

/* A head tensor by name, any shape: pe_model_check judges the shape, so the
 * message names what the family expects. */
static int head_tensor(st_set *s, const char *name, pe_tensor *out, pe_err *e)
{
    memset(out, 0, sizeof *out);
    if (!name || !has(s, name))
        return PE_OK;
    const st_entry *t = st_find(s, name);
    int64_t shape[ST_MAX_DIM];
    memcpy(shape, t->shape, sizeof shape);
    return st_get(s, name, -1, t->ndim, shape, out, e);
}

int pe_model_bind_head(pe_model *m, const pe_head_spec *h, pe_err *e)
{
    st_set *s = m->impl;
    pe_weights *w = &m->w;
    if (!s)
        return pe_fail(e, PE_EGENERIC, "pe_model_bind_head: the model is not open");
    if (h->d.rows == PE_ROWS_TENSOR &&
        (head_tensor(s, h->d.mlp_w, &w->head_mlp_w, e) || head_tensor(s, h->d.mlp_b, &w->head_mlp_b, e) ||
         head_tensor(s, h->d.w, &w->head_w, e) || head_tensor(s, h->d.b, &w->head_b, e)))
        return e->code;
    if (pe_model_check(m, h, e))
        return e->code;
    const pe_config *c = &m->cfg;
    for (int i = 0; i < s->n; i++) {
        const st_entry *t = &s->entries[i];
        if (t->used || ignorable(t->name))
            continue;
        if (!c->attn_bias && strstr(t->name, "_proj.bias"))
            pe_fail(e, PE_EINPUT, "%s: tensor '%s' is unexpected: %s attention has no biases", s->files[t->file].path,
                    t->name, pe_arch_name(c->arch));
        else
            pe_fail(e, PE_EINPUT, "%s: tensor '%s' is unexpected for a %d-layer %s model (not read by prmeval)",
                    s->files[t->file].path, t->name, c->num_layers, pe_arch_name(c->arch));
        return e->code;
    }
    return PE_OK;
}

void pe_model_close(pe_model *m)
{
    if (m->impl) {
        st_close(m->impl);
        free(m->impl);
    }
    free(m->w.layers);
    m->impl = NULL;
    m->w.layers = NULL;
}

const char *pe_model_layout(const pe_model *m)
{
    return m->impl ? ((const st_set *)m->impl)->layout : "";
}

size_t pe_dtype_size(pe_dtype dt)
{
    return st_dtype_size(dt);
}

/* ---- the one validator ---------------------------------------------------- */

static int check_config(const pe_model *m, pe_err *e)
{
    const pe_config *c = &m->cfg;
    if (c->hidden_size <= 0 || c->num_layers <= 0 || c->num_heads <= 0 || c->num_kv_heads <= 0 ||
        c->head_dim <= 0 || c->intermediate_size <= 0 || c->vocab_size <= 0)
        return pe_fail(e, PE_EINPUT, "%s/config.json: sizes must be positive (hidden %d, layers %d, "
                       "heads %d, kv heads %d, head_dim %d, intermediate %d, vocab %d)", m->dir,
                       c->hidden_size, c->num_layers, c->num_heads, c->num_kv_heads, c->head_dim,
                       c->intermediate_size, c->vocab_size);
    if (c->num_heads % c->num_kv_heads)
        return pe_fail(e, PE_EINPUT, "%s/config.json: num_attention_heads %d is not a multiple of "
                       "num_key_value_heads %d", m->dir, c->num_heads, c->num_kv_heads);
    if (c->head_dim % 2)
        return pe_fail(e, PE_EINPUT, "%s/config.json: head_dim %d must be even for RoPE", m->dir, c->head_dim);
    if (!(c->rope_theta > 0) || !(c->rms_norm_eps > 0))
        return pe_fail(e, PE_EINPUT, "%s/config.json: rope_theta %g and rms_norm_eps %g must be > 0", m->dir,
                       c->rope_theta, c->rms_norm_eps);
    if (c->rope_llama3 && !(c->rope_factor > 0 && c->rope_original_max_pos > 0 &&
                            c->rope_high_freq_factor > c->rope_low_freq_factor &&
                            c->rope_low_freq_factor > 0))
        return pe_fail(e, PE_EINPUT, "%s/config.json: rope_scaling llama3 needs factor > 0, "
                       "original_max_position_embeddings > 0 and high_freq_factor > "
                       "low_freq_factor > 0", m->dir);
    return PE_OK;
}

/* Presence, shape (d1 = 0: 1-D) and byte size of one tensor. */
static int check_tensor(const pe_model *m, const pe_tensor *t, const char *name, int64_t d0, int64_t d1, pe_err *e)
{
    int ndim = d1 ? 2 : 1;
    if (!t->data)
        return pe_fail(e, PE_EINPUT, "%s: tensor %s is missing", m->dir, name);
    if (t->dtype != PE_DT_F32 && t->dtype != PE_DT_F16 && t->dtype != PE_DT_BF16)
        return pe_fail(e, PE_EINPUT, "%s: tensor %s: unsupported dtype %d", m->dir, name, (int)t->dtype);
    if (t->ndim != ndim || t->shape[0] != d0 || (ndim == 2 && t->shape[1] != d1)) {
        char got[96] = "[", want[48];
        size_t n = 1;
        for (int i = 0; i < t->ndim && i < 4 && n < sizeof got; i++)
            n += (size_t)snprintf(got + n, sizeof got - n, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        if (n < sizeof got)
            snprintf(got + n, sizeof got - n, "]");
        if (d1)
            snprintf(want, sizeof want, "[%lld, %lld]", (long long)d0, (long long)d1);
        else
            snprintf(want, sizeof want, "[%lld]", (long long)d0);
        return pe_fail(e, PE_EINPUT, "%s: tensor %s has shape %s, expected %s", m->dir, name, got, want);
    }
    size_t need = (size_t)d0 * (size_t)(d1 ? d1 : 1) * pe_dtype_size(t->dtype);
    if (t->nbytes < need)
        return pe_fail(e, PE_EINPUT, "%s: tensor %s holds %zu bytes, its shape needs %zu", m->dir, name, t->nbytes,
                       need);
    return PE_OK;
}

static int check_head(const pe_model *m, const pe_head_spec *h, pe_err *e)
{
    const pe_config *c = &m->cfg;
    const pe_weights *w = &m->w;
    int64_t H = c->hidden_size, V = c->vocab_size;
    const pe_head_desc *d = &h->d;
    const char *problem = pe_head_desc_problem(d);
    if (*problem)
        return pe_fail(e, PE_EGENERIC, "head: %s", problem);
    if (d->rows == PE_ROWS_TENSOR) {
        if ((d->mlp_w && (check_tensor(m, &w->head_mlp_w, d->mlp_w, H, H, e) ||
                          check_tensor(m, &w->head_mlp_b, d->mlp_b, H, 0, e))) ||
            check_tensor(m, &w->head_w, d->w, d->nrows, H, e) ||
            (d->b && check_tensor(m, &w->head_b, d->b, d->nrows, 0, e)))
            return e->code;
        return PE_OK;
    }
    /* LM-head heads: the stored or tied LM head. */
    if (!w->lm_head.data)
        return pe_fail(e, PE_EINPUT, "%s: tensor lm_head.weight is missing (and config.json does not tie it to the "
                       "embedding); the family reads the LM head", m->dir);
    if (check_tensor(m, &w->lm_head, w->lm_head.data == w->embed.data ? "model.embed_tokens.weight (tied LM head)"
                                                                       : "lm_head.weight", V, H, e))
        return e->code;
    int ntok = d->rows == PE_ROWS_LM_TOKENS ? d->nrows : d->rows == PE_ROWS_LM_FULL ? 1 : 0;
    for (int i = 0; i < ntok; i++)
        if (h->tok[i] < 0 || h->tok[i] >= V)
            return pe_fail(e, PE_EINPUT, "%s: head token id %d outside the vocabulary of %lld (config.json "
                           "vocab_size)", m->dir, h->tok[i], (long long)V);
    return PE_OK;
}

int pe_model_check(const pe_model *m, const pe_head_spec *h, pe_err *e)
{
    const pe_config *c = &m->cfg;
    if (check_config(m, e))
        return e->code;
    int64_t H = c->hidden_size, F = c->intermediate_size, V = c->vocab_size;
    int64_t QD = (int64_t)c->num_heads * c->head_dim, KD = (int64_t)c->num_kv_heads * c->head_dim;
    if (check_tensor(m, &m->w.embed, "model.embed_tokens.weight", V, H, e))
        return e->code;
    if (!m->w.layers)
        return pe_fail(e, PE_EINPUT, "%s: no layer weights", m->dir);
    char n[160];
    for (int l = 0; l < c->num_layers; l++) {
        const pe_layer_weights *w = &m->w.layers[l];
#define LN(s) (snprintf(n, sizeof n, "model.layers.%d.%s", l, s), n)
        if (check_tensor(m, &w->in_norm, LN("input_layernorm.weight"), H, 0, e) ||
            check_tensor(m, &w->wq, LN("self_attn.q_proj.weight"), QD, H, e) ||
            check_tensor(m, &w->wk, LN("self_attn.k_proj.weight"), KD, H, e) ||
            check_tensor(m, &w->wv, LN("self_attn.v_proj.weight"), KD, H, e) ||
            check_tensor(m, &w->wo, LN("self_attn.o_proj.weight"), H, QD, e) ||
            check_tensor(m, &w->post_norm, LN("post_attention_layernorm.weight"), H, 0, e) ||
            check_tensor(m, &w->w_gate, LN("mlp.gate_proj.weight"), F, H, e) ||
            check_tensor(m, &w->w_up, LN("mlp.up_proj.weight"), F, H, e) ||
            check_tensor(m, &w->w_down, LN("mlp.down_proj.weight"), H, F, e))
            return e->code;
        if (c->attn_bias && (check_tensor(m, &w->bq, LN("self_attn.q_proj.bias"), QD, 0, e) ||
                             check_tensor(m, &w->bk, LN("self_attn.k_proj.bias"), KD, 0, e) ||
                             check_tensor(m, &w->bv, LN("self_attn.v_proj.bias"), KD, 0, e)))
            return e->code;
#undef LN
    }
    if (check_tensor(m, &m->w.final_norm, "model.norm.weight", H, 0, e))
        return e->code;
    return check_head(m, h, e);
}

int pe_model_head_rows(const pe_model *m, const pe_head_spec *h, float *rows, float *bias, pe_err *e)
{
    const pe_weights *w = &m->w;
    size_t H = (size_t)m->cfg.hidden_size, V = (size_t)m->cfg.vocab_size, R = (size_t)h->d.nrows;
    for (size_t r = 0; r < R; r++)
        bias[r] = 0.0f;
    switch (h->d.rows) {
    case PE_ROWS_TENSOR:
        pe_tensor_convert_f32(&w->head_w, 0, R * H, rows);
        if (w->head_b.data)
            pe_tensor_convert_f32(&w->head_b, 0, R, bias);
        return PE_OK;
    case PE_ROWS_LM_TOKENS:
        for (size_t r = 0; r < R; r++)
            pe_tensor_convert_f32(&w->lm_head, (size_t)h->tok[r] * H, H, rows + r * H);
        return PE_OK;
    case PE_ROWS_LM_MEAN: {
        /* mean_v (W_v . x) = (mean_v W_v) . x: one row instead of V; summed in
         * double so that a 32k-row mean keeps fp32 precision. */
        double *acc = pe_calloc(H, sizeof *acc, e);
        float *row = pe_malloc(H * sizeof *row, e);
        if (!acc || !row) {
            free(acc);
            free(row);
            return e->code;
        }
        for (size_t v = 0; v < V; v++) {
            pe_tensor_convert_f32(&w->lm_head, v * H, H, row);
            for (size_t k = 0; k < H; k++)
                acc[k] += row[k];
        }
        for (size_t k = 0; k < H; k++)
            rows[k] = (float)(acc[k] / (double)V);
        free(acc);
        free(row);
        return PE_OK;
    }
    case PE_ROWS_LM_FULL:
        break;
    }
    return pe_fail(e, PE_EGENERIC, "pe_model_head_rows: head rows %d have no precomputed form", (int)h->d.rows);
}
