/* The fp32 CPU backend: the reference forward pass of the Qwen2, Llama and
 * Mistral backbones (Hugging Face semantics) and the four PRM read-out heads.
 * Weights are converted to fp32 once at creation (the embedding stays in its
 * stored dtype and is gathered row by row); work buffers grow with the batch.
 * A backend holds its buffers: score() calls on one backend must not overlap. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "blas.h"
#include "cpu_ops.h"
#include "cpu_weights.h"

typedef struct cpu_layer {
    float *in_norm;   /* (H) */
    float *wqkv;      /* (NH*D + 2*NKV*D, H): q, k, v rows stacked for one sgemm */
    float *bqkv;      /* (NH*D + 2*NKV*D), NULL without attention biases */
    float *wo;        /* (H, NH*D) */
    float *post_norm; /* (H) */
    float *wgu;       /* (2F, H): gate rows, then up rows, for one sgemm */
    float *wdown;     /* (H, F) */
} cpu_layer;

typedef struct cpu_model {
    pe_config cfg;
    pe_head_spec head;
    const void *embed;    /* (V, H) in its stored dtype, not owned */
    pe_dtype embed_dt;
    cpu_layer *layers;    /* (L) */
    float *final_norm;    /* (H) */
    float *inv_freq;      /* (D/2) */
    /* head weights; which are set depends on head.kind */
    float *score0_w, *score0_b; /* (H, H), (H) */
    float *score2_w, *score2_b; /* (2, H), (2) */
    float *lm_rows;             /* (2, H): LM-head rows tok_a, tok_b */
    float *lm_full;             /* (V, H) */
    float *vhead_w, *vhead_b;   /* (H), (1) */
    /* work buffers, sized for cap_tok tokens / cap_len longest sequence / cap_read read-outs */
    int64_t cap_tok, cap_len, cap_read;
    int cap_threads;
    float *x, *xn, *qkv, *att, *gu, *act, *cos_t, *sin_t, *scratch; /* see ensure_buffers */
    int32_t *pos;
    float *hr, *hh, *logits;
    int64_t *read_start;  /* (nseq + 1): sequence s's read-outs are read_start[s] .. read_start[s+1]-1 */
    int cap_seq;
} cpu_model;

enum { LM_CHUNK = 8 }; /* read-out rows per full-vocabulary sgemm: bounds logits to 8*V floats */

/* Checks a tensor's presence and shape (d1 = 0 for a vector) and returns an
 * fp32 copy written to dst (or a new allocation when dst is NULL). */
static float *load_f32(float *dst, const pe_tensor *t, const char *name, int64_t d0, int64_t d1,
                       pe_err *e)
{
    int ndim = d1 ? 2 : 1;
    if (!t->data) {
        pe_fail(e, PE_EINPUT, "tensor %s: missing from the checkpoint", name);
        return NULL;
    }
    if (t->dtype != PE_DT_F32 && t->dtype != PE_DT_F16 && t->dtype != PE_DT_BF16) {
        pe_fail(e, PE_EINPUT, "tensor %s: unsupported dtype %d", name, (int)t->dtype);
        return NULL;
    }
    if (t->ndim != ndim || t->shape[0] != d0 || (ndim == 2 && t->shape[1] != d1)) {
        pe_fail(e, PE_EINPUT, "tensor %s: shape (%lld%s%lld) expected, found ndim %d (%lld, %lld)",
                name, (long long)d0, ndim == 2 ? ", " : "", ndim == 2 ? (long long)d1 : 0LL,
                t->ndim, (long long)t->shape[0], t->ndim > 1 ? (long long)t->shape[1] : 0LL);
        return NULL;
    }
    size_t n = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    if (t->nbytes < n * pe_cpu_dtype_size(t->dtype)) {
        pe_fail(e, PE_EINPUT, "tensor %s: %zu bytes, %zu expected", name, t->nbytes,
                n * pe_cpu_dtype_size(t->dtype));
        return NULL;
    }
    if (!dst && !(dst = pe_malloc(n * sizeof(float), e)))
        return NULL;
    pe_cpu_convert_f32(t->data, t->dtype, 0, n, dst);
    return dst;
}

static void free_model(cpu_model *m)
{
    if (!m) return;
    if (m->layers) {
        for (int l = 0; l < m->cfg.num_layers; l++) {
            cpu_layer *ly = &m->layers[l];
            free(ly->in_norm); free(ly->wqkv); free(ly->bqkv); free(ly->wo);
            free(ly->post_norm); free(ly->wgu); free(ly->wdown);
        }
        free(m->layers);
    }
    free(m->final_norm); free(m->inv_freq);
    free(m->score0_w); free(m->score0_b); free(m->score2_w); free(m->score2_b);
    free(m->lm_rows); free(m->lm_full); free(m->vhead_w); free(m->vhead_b);
    free(m->x); free(m->xn); free(m->qkv); free(m->att); free(m->gu); free(m->act);
    free(m->cos_t); free(m->sin_t); free(m->scratch); free(m->pos);
    free(m->hr); free(m->hh); free(m->logits); free(m->read_start);
    free(m);
}

static int check_config(const pe_config *c, pe_err *e)
{
    if (c->hidden_size <= 0 || c->num_layers <= 0 || c->num_heads <= 0 || c->num_kv_heads <= 0 ||
        c->head_dim <= 0 || c->intermediate_size <= 0 || c->vocab_size <= 0)
        return pe_fail(e, PE_EINPUT, "model config: sizes must be positive (hidden %d, layers %d, "
                       "heads %d, kv heads %d, head_dim %d, intermediate %d, vocab %d)",
                       c->hidden_size, c->num_layers, c->num_heads, c->num_kv_heads, c->head_dim,
                       c->intermediate_size, c->vocab_size);
    if (c->num_heads % c->num_kv_heads)
        return pe_fail(e, PE_EINPUT, "model config: num_attention_heads %d is not a multiple of "
                       "num_key_value_heads %d", c->num_heads, c->num_kv_heads);
    if (c->head_dim % 2)
        return pe_fail(e, PE_EINPUT, "model config: head_dim %d must be even for RoPE", c->head_dim);
    if (!(c->rope_theta > 0) || !(c->rms_norm_eps > 0))
        return pe_fail(e, PE_EINPUT, "model config: rope_theta %g and rms_norm_eps %g must be > 0",
                       c->rope_theta, c->rms_norm_eps);
    if (c->rope_llama3 && !(c->rope_factor > 0 && c->rope_original_max_pos > 0 &&
                            c->rope_high_freq_factor > c->rope_low_freq_factor &&
                            c->rope_low_freq_factor > 0))
        return pe_fail(e, PE_EINPUT, "model config: rope_scaling llama3 needs factor > 0, "
                       "original_max_position_embeddings > 0 and high_freq_factor > "
                       "low_freq_factor > 0");
    return 0;
}

static int load_layer(cpu_layer *ly, const pe_layer_weights *w, const pe_config *c, int l,
                      pe_err *e)
{
    int64_t H = c->hidden_size, F = c->intermediate_size;
    int64_t QD = (int64_t)c->num_heads * c->head_dim, KD = (int64_t)c->num_kv_heads * c->head_dim;
    char name[160];
#define LNAME(s) (snprintf(name, sizeof name, "model.layers.%d.%s", l, s), name)
    if (!(ly->in_norm = load_f32(NULL, &w->in_norm, LNAME("input_layernorm.weight"), H, 0, e)) ||
        !(ly->post_norm = load_f32(NULL, &w->post_norm, LNAME("post_attention_layernorm.weight"),
                                   H, 0, e)) ||
        !(ly->wqkv = pe_malloc((size_t)(QD + 2 * KD) * (size_t)H * sizeof(float), e)) ||
        !load_f32(ly->wqkv, &w->wq, LNAME("self_attn.q_proj.weight"), QD, H, e) ||
        !load_f32(ly->wqkv + (size_t)QD * H, &w->wk, LNAME("self_attn.k_proj.weight"), KD, H, e) ||
        !load_f32(ly->wqkv + (size_t)(QD + KD) * H, &w->wv, LNAME("self_attn.v_proj.weight"),
                  KD, H, e) ||
        !(ly->wo = load_f32(NULL, &w->wo, LNAME("self_attn.o_proj.weight"), H, QD, e)) ||
        !(ly->wgu = pe_malloc((size_t)2 * F * (size_t)H * sizeof(float), e)) ||
        !load_f32(ly->wgu, &w->w_gate, LNAME("mlp.gate_proj.weight"), F, H, e) ||
        !load_f32(ly->wgu + (size_t)F * H, &w->w_up, LNAME("mlp.up_proj.weight"), F, H, e) ||
        !(ly->wdown = load_f32(NULL, &w->w_down, LNAME("mlp.down_proj.weight"), H, F, e)))
        return e->code;
    if (c->attn_bias) {
        if (!(ly->bqkv = pe_malloc((size_t)(QD + 2 * KD) * sizeof(float), e)) ||
            !load_f32(ly->bqkv, &w->bq, LNAME("self_attn.q_proj.bias"), QD, 0, e) ||
            !load_f32(ly->bqkv + QD, &w->bk, LNAME("self_attn.k_proj.bias"), KD, 0, e) ||
            !load_f32(ly->bqkv + QD + KD, &w->bv, LNAME("self_attn.v_proj.bias"), KD, 0, e))
            return e->code;
    }
#undef LNAME
    return 0;
}

/* The LM head of the checkpoint: lm_head, or the embedding when tied. */
static const pe_tensor *lm_head_tensor(const pe_model *pm, const char **name)
{
    if (pm->w.lm_head.data) {
        *name = "lm_head.weight";
        return &pm->w.lm_head;
    }
    *name = pm->cfg.tie_word_embeddings ? "model.embed_tokens.weight (tied LM head)"
                                        : "lm_head.weight";
    return pm->cfg.tie_word_embeddings ? &pm->w.embed : &pm->w.lm_head;
}

static int load_head(cpu_model *m, const pe_model *pm, pe_err *e)
{
    int64_t H = m->cfg.hidden_size, V = m->cfg.vocab_size;
    const pe_weights *w = &pm->w;
    const char *lm_name;
    const pe_tensor *lm;
    switch (m->head.kind) {
    case PE_HEAD_QWEN_PRM:
        if (!(m->score0_w = load_f32(NULL, &w->score0_w, "score.0.weight", H, H, e)) ||
            !(m->score0_b = load_f32(NULL, &w->score0_b, "score.0.bias", H, 0, e)) ||
            !(m->score2_w = load_f32(NULL, &w->score2_w, "score.2.weight", 2, H, e)) ||
            !(m->score2_b = load_f32(NULL, &w->score2_b, "score.2.bias", 2, 0, e)))
            return e->code;
        return 0;
    case PE_HEAD_LM_TWO_TOKENS:
    case PE_HEAD_LM_FULL_SOFTMAX:
        lm = lm_head_tensor(pm, &lm_name);
        if (m->head.tok_a < 0 || m->head.tok_a >= V ||
            (m->head.kind == PE_HEAD_LM_TWO_TOKENS && (m->head.tok_b < 0 || m->head.tok_b >= V)))
            return pe_fail(e, PE_EINPUT, "head: token ids %d, %d outside the vocabulary (%lld)",
                           m->head.tok_a, m->head.tok_b, (long long)V);
        if (m->head.kind == PE_HEAD_LM_FULL_SOFTMAX)
            return (m->lm_full = load_f32(NULL, lm, lm_name, V, H, e)) ? 0 : e->code;
        /* Two rows only: validate the whole tensor's shape, convert two rows. */
        if (!lm->data || lm->ndim != 2 || lm->shape[0] != V || lm->shape[1] != H)
            return pe_fail(e, PE_EINPUT, "tensor %s: (%lld, %lld) expected%s", lm_name,
                           (long long)V, (long long)H, lm->data ? "" : ", missing");
        if (!(m->lm_rows = pe_malloc(2 * (size_t)H * sizeof(float), e)))
            return e->code;
        pe_cpu_convert_f32(lm->data, lm->dtype, (size_t)m->head.tok_a * H, (size_t)H, m->lm_rows);
        pe_cpu_convert_f32(lm->data, lm->dtype, (size_t)m->head.tok_b * H, (size_t)H,
                           m->lm_rows + H);
        return 0;
    case PE_HEAD_VALUE_SIGMOID:
        if (!(m->vhead_w = load_f32(NULL, &w->vhead_w, "v_head.summary.weight", 1, H, e)) ||
            !(m->vhead_b = load_f32(NULL, &w->vhead_b, "v_head.summary.bias", 1, 0, e)))
            return e->code;
        return 0;
    }
    return pe_fail(e, PE_EINPUT, "head: unknown kind %d", (int)m->head.kind);
}

static int grow(float **p, size_t n, pe_err *e)
{
    float *q = pe_realloc(*p, n * sizeof(float), e);
    if (!q) return e->code;
    *p = q;
    return 0;
}

/* Buffers for ntok packed tokens in nseq sequences, the longest sequence max_len, nread read-outs. */
static int ensure_buffers(cpu_model *m, int64_t ntok, int nseq, int64_t max_len, int64_t nread, pe_err *e)
{
    const pe_config *c = &m->cfg;
    size_t H = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    size_t QD = (size_t)c->num_heads * c->head_dim, KD = (size_t)c->num_kv_heads * c->head_dim;
    size_t half = (size_t)c->head_dim / 2;
    if (ntok > m->cap_tok) {
        size_t n = (size_t)ntok;
        int32_t *pos = pe_realloc(m->pos, n * sizeof(int32_t), e);
        if (!pos) return e->code;
        m->pos = pos;
        if (grow(&m->x, n * H, e) || grow(&m->xn, n * H, e) || grow(&m->qkv, n * (QD + 2 * KD), e) ||
            grow(&m->att, n * QD, e) || grow(&m->gu, n * 2 * F, e) || grow(&m->act, n * F, e) ||
            grow(&m->cos_t, n * half, e) || grow(&m->sin_t, n * half, e))
            return e->code;
        m->cap_tok = ntok;
    }
    /* Attention scores: one longest-sequence row per thread; the thread count
     * may have been raised (omp_set_num_threads) since the last batch. */
    int nthreads = omp_get_max_threads();
    if (max_len > m->cap_len || nthreads > m->cap_threads) {
        if (max_len < m->cap_len) max_len = m->cap_len;
        if (grow(&m->scratch, (size_t)nthreads * (size_t)max_len, e))
            return e->code;
        m->cap_len = max_len;
        m->cap_threads = nthreads;
    }
    if (nread > m->cap_read) {
        if (grow(&m->hr, (size_t)nread * H, e) || grow(&m->hh, (size_t)nread * H, e))
            return e->code;
        m->cap_read = nread;
    }
    if (nseq > m->cap_seq) {
        int64_t *rs = pe_realloc(m->read_start, ((size_t)nseq + 1) * sizeof *rs, e);
        if (!rs) return e->code;
        m->read_start = rs;
        m->cap_seq = nseq;
    }
    if (m->lm_full && !m->logits && grow(&m->logits, (size_t)LM_CHUNK * c->vocab_size, e))
        return e->code;
    return 0;
}

static int check_batch(const cpu_model *m, const pe_batch *b, int64_t *max_len, pe_err *e)
{
    if (b->nseq <= 0 || b->ntok <= 0 || !b->seq_start || !b->tokens)
        return pe_fail(e, PE_EINPUT, "batch: empty (%d sequences, %lld tokens)", b->nseq,
                       (long long)b->ntok);
    if (b->ntok > INT32_MAX / 2)
        return pe_fail(e, PE_ERESOURCE, "batch: %lld tokens, too many for one batch",
                       (long long)b->ntok);
    if (b->seq_start[0] != 0 || b->seq_start[b->nseq] != b->ntok)
        return pe_fail(e, PE_EINPUT, "batch: seq_start must run from 0 to ntok %lld (found %lld..%lld)",
                       (long long)b->ntok, (long long)b->seq_start[0],
                       (long long)b->seq_start[b->nseq]);
    *max_len = 1;
    for (int s = 0; s < b->nseq; s++) {
        int64_t len = b->seq_start[s + 1] - b->seq_start[s];
        if (len < 0)
            return pe_fail(e, PE_EINPUT, "batch: seq_start decreases at sequence %d", s);
        if (len > *max_len) *max_len = len;
    }
    for (int64_t t = 0; t < b->ntok; t++)
        if (b->tokens[t] < 0 || b->tokens[t] >= m->cfg.vocab_size)
            return pe_fail(e, PE_EINPUT, "batch: token %lld has id %d outside the vocabulary (%d)",
                           (long long)t, b->tokens[t], m->cfg.vocab_size);
    if (b->nread < 0 || (b->nread > 0 && !b->readout))
        return pe_fail(e, PE_EINPUT, "batch: %lld read-outs without positions", (long long)b->nread);
    for (int64_t r = 0; r < b->nread; r++)
        if (b->readout[r] < 0 || b->readout[r] >= b->ntok)
            return pe_fail(e, PE_EINPUT, "batch: read-out %lld at %lld outside the %lld tokens",
                           (long long)r, (long long)b->readout[r], (long long)b->ntok);
    for (int64_t r = 1; r < b->nread; r++) /* the head groups them by sequence */
        if (b->readout[r] < b->readout[r - 1])
            return pe_fail(e, PE_EINPUT, "batch: read-out %lld at %lld comes before the one ahead of it (%lld)",
                           (long long)r, (long long)b->readout[r], (long long)b->readout[r - 1]);
    return 0;
}

static float sigmoidf_(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

/* rewards (nread) from the final-normed hidden rows hr (nread, H), whose
 * products are grouped by sequence (read_start, nseq groups) so that a
 * sequence's rewards never depend on its batch (blas.h). */
static void apply_head(cpu_model *m, int64_t nread, const int64_t *read_start, int nseq, float *rewards)
{
    int H = m->cfg.hidden_size, V = m->cfg.vocab_size;
    float *hr = m->hr;
    static const int64_t one_row[2] = {0, 1};
    switch (m->head.kind) {
    case PE_HEAD_QWEN_PRM:
        pe_matmul_forward(m->hh, hr, m->score0_w, m->score0_b, read_start, nseq, H, H, 0);
        for (size_t i = 0; i < (size_t)nread * H; i++)
            m->hh[i] = m->hh[i] > 0.0f ? m->hh[i] : 0.0f;
        for (int64_t r = 0; r < nread; r++) {
            float l[2];
            pe_matmul_forward(l, m->hh + (size_t)r * H, m->score2_w, m->score2_b, one_row, 1, H, 2, 0);
            rewards[r] = sigmoidf_(l[1] - l[0]); /* softmax over 2, class 1 */
        }
        break;
    case PE_HEAD_LM_TWO_TOKENS:
        for (int64_t r = 0; r < nread; r++) {
            float l[2];
            pe_matmul_forward(l, hr + (size_t)r * H, m->lm_rows, NULL, one_row, 1, H, 2, 0);
            rewards[r] = sigmoidf_(l[0] - l[1]); /* softmax over (tok_a, tok_b), tok_a */
        }
        break;
    case PE_HEAD_LM_FULL_SOFTMAX:
        /* In chunks of LM_CHUNK rows counted from each sequence's first read-out. */
        for (int64_t r0 = 0, s = 0, n = 0; r0 < nread; r0 += n) {
            while (read_start[s + 1] <= r0)
                s++;
            int64_t end = read_start[s + 1] < r0 + LM_CHUNK ? read_start[s + 1] : r0 + LM_CHUNK;
            n = end - r0;
            int64_t chunk[2] = {0, n};
            pe_matmul_forward(m->logits, hr + (size_t)r0 * H, m->lm_full, NULL, chunk, 1, H, V, 0);
            for (int64_t r = 0; r < n; r++) {
                const float *l = m->logits + (size_t)r * V;
                float mx = l[0];
                for (int v = 1; v < V; v++)
                    if (l[v] > mx) mx = l[v];
                double sum = 0.0; /* 150k terms: double keeps the sum exact enough */
                for (int v = 0; v < V; v++)
                    sum += exp((double)(l[v] - mx));
                rewards[r0 + r] = (float)(exp((double)(l[m->head.tok_a] - mx)) / sum);
            }
        }
        break;
    case PE_HEAD_VALUE_SIGMOID:
        for (int64_t r = 0; r < nread; r++) {
            float l;
            pe_matmul_forward(&l, hr + (size_t)r * H, m->vhead_w, m->vhead_b, one_row, 1, H, 1, 0);
            rewards[r] = sigmoidf_(l);
        }
        break;
    }
}

static int cpu_score(pe_backend *b, const pe_batch *batch, float *rewards, pe_err *e)
{
    cpu_model *m = b->impl;
    const pe_config *c = &m->cfg;
    int H = c->hidden_size, NH = c->num_heads, NKV = c->num_kv_heads, D = c->head_dim;
    int F = c->intermediate_size, QD = NH * D, KD = NKV * D;
    int64_t ntok = batch->ntok, nread = batch->nread, max_len = 0;
    if (check_batch(m, batch, &max_len, e) || ensure_buffers(m, ntok, batch->nseq, max_len, nread, e))
        return e->code;
    if (nread == 0)
        return 0;
    for (int s = 0; s < batch->nseq; s++)
        for (int64_t t = batch->seq_start[s]; t < batch->seq_start[s + 1]; t++)
            m->pos[t] = (int32_t)(t - batch->seq_start[s]);
    pe_rope_table(m->cos_t, m->sin_t, m->pos, m->inv_freq, ntok, D);
    pe_embed_forward(m->x, batch->tokens, m->embed, m->embed_dt, ntok, H);
    float eps = (float)c->rms_norm_eps;
    size_t qkv_stride = (size_t)QD + 2 * (size_t)KD;
    const int64_t *seqs = batch->seq_start; /* products grouped by sequence: blas.h */
    int nseq = batch->nseq;
    for (int l = 0; l < c->num_layers; l++) {
        const cpu_layer *ly = &m->layers[l];
        pe_rmsnorm_forward(m->xn, m->x, ly->in_norm, ntok, H, eps);
        pe_matmul_forward(m->qkv, m->xn, ly->wqkv, ly->bqkv, seqs, nseq, H, (int)qkv_stride, 0);
        pe_rope_forward(m->qkv, m->cos_t, m->sin_t, ntok, qkv_stride, NH, D);
        pe_rope_forward(m->qkv + QD, m->cos_t, m->sin_t, ntok, qkv_stride, NKV, D);
        pe_attention_forward(m->att, m->qkv, qkv_stride, batch->seq_start, batch->nseq, NH, NKV,
                             D, c->sliding_window, m->scratch, m->cap_len);
        pe_matmul_forward(m->x, m->att, ly->wo, NULL, seqs, nseq, QD, H, 1);
        pe_rmsnorm_forward(m->xn, m->x, ly->post_norm, ntok, H, eps);
        pe_matmul_forward(m->gu, m->xn, ly->wgu, NULL, seqs, nseq, H, 2 * F, 0);
        pe_swiglu_forward(m->act, m->gu, ntok, F);
        pe_matmul_forward(m->x, m->act, ly->wdown, NULL, seqs, nseq, F, H, 1);
    }
    /* The final norm and the head only at the read-out rows. */
    for (int64_t r = 0; r < nread; r++)
        memcpy(m->hr + (size_t)r * H, m->x + (size_t)batch->readout[r] * H, (size_t)H * sizeof(float));
    pe_rmsnorm_forward(m->hr, m->hr, m->final_norm, nread, H, eps);
    for (int s = 0, r = 0; s <= nseq; s++) { /* read-outs ascend (check_batch) */
        while (r < nread && (s == nseq || batch->readout[r] < batch->seq_start[s]))
            r++;
        m->read_start[s] = r;
    }
    apply_head(m, nread, m->read_start, nseq, rewards);
    return 0;
}

static void cpu_destroy(pe_backend *b)
{
    free_model(b->impl);
    b->impl = NULL;
}

int pe_backend_cpu_create(pe_backend *b, const pe_model *pm, const pe_head_spec *head, pe_err *e)
{
    memset(b, 0, sizeof *b);
    const pe_config *c = &pm->cfg;
    if (check_config(c, e))
        return e->code;
    cpu_model *m = pe_calloc(1, sizeof *m, e);
    if (!m) return e->code;
    m->cfg = *c;
    m->head = *head;
    int64_t H = c->hidden_size, V = c->vocab_size;
    const pe_tensor *emb = &pm->w.embed;
    if (!emb->data || emb->ndim != 2 || emb->shape[0] != V || emb->shape[1] != H ||
        emb->nbytes < (size_t)V * (size_t)H * pe_cpu_dtype_size(emb->dtype)) {
        pe_fail(e, PE_EINPUT, "tensor model.embed_tokens.weight: (%lld, %lld) expected%s",
                (long long)V, (long long)H, emb->data ? "" : ", missing");
        goto fail;
    }
    m->embed = emb->data;
    m->embed_dt = emb->dtype;
    if (!(m->layers = pe_calloc((size_t)c->num_layers, sizeof *m->layers, e)))
        goto fail;
    if (!pm->w.layers) {
        pe_fail(e, PE_EINPUT, "model: no layer weights");
        goto fail;
    }
    for (int l = 0; l < c->num_layers; l++)
        if (load_layer(&m->layers[l], &pm->w.layers[l], c, l, e))
            goto fail;
    if (!(m->final_norm = load_f32(NULL, &pm->w.final_norm, "model.norm.weight", H, 0, e)) ||
        !(m->inv_freq = pe_malloc((size_t)c->head_dim / 2 * sizeof(float), e)))
        goto fail;
    pe_rope_inv_freq(m->inv_freq, c->head_dim, c->rope_theta, c->rope_llama3, c->rope_factor,
                     c->rope_low_freq_factor, c->rope_high_freq_factor, c->rope_original_max_pos);
    /* OpenBLAS last: a bad checkpoint is reported as such first. */
    if (load_head(m, pm, e) || pe_blas_load(e))
        goto fail;
    b->name = "cpu";
    snprintf(b->device, sizeof b->device, "cpu (%d threads)", omp_get_max_threads());
    b->impl = m;
    b->score = cpu_score;
    b->destroy = cpu_destroy;
    return 0;
fail:
    free_model(m);
    return e->code;
}
