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

static int load_heads(pe_model *m, st_set *s, pe_err *e)
{
    const pe_config *c = &m->cfg;
    int64_t H = c->hidden_size, V = c->vocab_size;
    pe_weights *w = &m->w;
    /* qwen-prm: score = Sequential(Linear(H,H), ReLU, Linear(H,2)). */
    if (has(s, "score.0.weight") || has(s, "score.2.weight")) {
        if (get(s, &w->score0_w, 2, H, H, e, "score.0.weight") || get(s, &w->score0_b, 1, H, 0, e, "score.0.bias") ||
            get(s, &w->score2_w, 2, 2, H, e, "score.2.weight") || get(s, &w->score2_b, 1, 2, 0, e, "score.2.bias"))
            return e->code;
    }
    /* skywork: ValueHead summary = Linear(H,1). */
    if (has(s, "v_head.summary.weight") || has(s, "v_head.summary.bias")) {
        if (get(s, &w->vhead_w, 2, 1, H, e, "v_head.summary.weight") ||
            get(s, &w->vhead_b, 1, 1, 0, e, "v_head.summary.bias"))
            return e->code;
    }
    int prm_head = w->score0_w.data || w->vhead_w.data;
    if (has(s, "lm_head.weight")) {
        if (get(s, &w->lm_head, 2, V, H, e, "lm_head.weight"))
            return e->code;
        /* transformers ties the head to the embedding whatever is stored. */
        if (c->tie_word_embeddings)
            w->lm_head = w->embed;
    } else if (c->tie_word_embeddings) {
        w->lm_head = w->embed;
    } else if (!prm_head) {
        /* An LM-head model (math-shepherd, rlhflow) cannot work without it. */
        return get(s, &w->lm_head, 2, V, H, e, "lm_head.weight");
    }
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
        get(s, &m->w.final_norm, 1, c->hidden_size, 0, e, "model.norm.weight") || load_heads(m, s, e))
        goto fail;
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
        goto fail;
    }
    return PE_OK;
fail:
    pe_model_close(m);
    return e->code;
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

const char *pe_model_family_guess(const pe_model *m)
{
    if (m->w.score0_w.data)
        return "qwen-prm";
    if (m->w.vhead_w.data)
        return "skywork";
    if (m->w.lm_head.data && m->cfg.arch == PE_ARCH_MISTRAL)
        return "math-shepherd";
    if (m->w.lm_head.data && m->cfg.arch == PE_ARCH_LLAMA)
        return "rlhflow";
    return "unknown";
}
