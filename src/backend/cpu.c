/* The fp32 CPU backend: the reference forward pass of the Qwen2, Llama and
 * Mistral backbones (Hugging Face semantics) and the PRM heads (head.h).
 * The model was validated by pe_model_check (src/io/model.c): this file
 * trusts its shapes and only converts.
 * Weights are converted to fp32 once at creation (the embedding stays in its
 * stored dtype and is gathered row by row); work buffers grow with the batch.
 * A backend holds its buffers: score() calls on one backend must not overlap.
 * Prefix reuse (backend.h): a segment's keys and values of every layer can be
 * kept in a cache slot (fp32, as the attention reads them) for later batches. */
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
    /* head weights */
    float *mlp_w, *mlp_b;       /* (H, H), (H): hidden layer, NULL when the head has none */
    float *rows, *rows_b;       /* (R, H), (R): the head's output rows (not for LM_FULL) */
    float *lm_full;             /* (V, H): full-vocabulary heads only */
    /* work buffers, sized for cap_tok tokens / cap_len longest sequence / cap_read read-outs */
    int64_t cap_tok, cap_len, cap_read;
    int cap_threads;
    float *x, *xn, *qkv, *att, *gu, *act, *cos_t, *sin_t, *scratch; /* see ensure_buffers */
    int32_t *pos;
    float *hr, *hh, *logits, *z;
    pe_blas_stage stage;  /* the matrix products' work memory (blas.h) */
    int64_t *read_rows;   /* (cap_read + 1): 0, 1, 2, ...: each read-out a group of the head's products */
    int64_t *read_pos;    /* (cap_read) the read-outs' absolute positions: their groups' align */
    int *span_start;      /* (nseq + 1): segment s's ancestors are spans[span_start[s] .. span_start[s+1]-1] */
    int cap_seq;
    pe_kv_span *spans;    /* (cap_spans) one layer's ancestors of every segment */
    int64_t cap_spans;
    /* the cache slots: slot i holds slot_len[i] tokens (0: empty) from
     * position slot_pos0[i]; slot_kv[i] (L, 2, len, NKV*D): each layer's keys
     * (after RoPE), then its values */
    int nslots;
    int64_t *slot_pos0, *slot_len;
    float **slot_kv;
} cpu_model;

enum { LM_CHUNK = 8 }; /* read-out rows per full-vocabulary sgemm: bounds logits to 8*V floats */

/* An fp32 copy of a checked tensor of n elements, written to dst (or a new
 * allocation when dst is NULL). Weights go to pe_malloc_large (huge pages:
 * fewer page faults at start-up, fewer TLB misses in the products); freed
 * with free() like the rest. */
static float *load_f32(float *dst, const pe_tensor *t, size_t n, pe_err *e)
{
    if (!dst && !(dst = pe_malloc_large(n * sizeof(float), e)))
        return NULL;
    pe_tensor_convert_f32(t, 0, n, dst);
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
    free(m->mlp_w); free(m->mlp_b); free(m->rows); free(m->rows_b); free(m->lm_full);
    free(m->x); free(m->xn); free(m->qkv); free(m->att); free(m->gu); free(m->act);
    free(m->cos_t); free(m->sin_t); free(m->scratch); free(m->pos);
    free(m->hr); free(m->hh); free(m->logits); free(m->z); free(m->read_rows); free(m->read_pos); free(m->stage.mem);
    free(m->span_start); free(m->spans);
    for (int k = 0; k < m->nslots; k++)
        free(m->slot_kv[k]);
    free(m->slot_pos0); free(m->slot_len); free(m->slot_kv);
    free(m);
}

static int load_layer(cpu_layer *ly, const pe_layer_weights *w, const pe_config *c, pe_err *e)
{
    size_t H = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    size_t QD = (size_t)c->num_heads * c->head_dim, KD = (size_t)c->num_kv_heads * c->head_dim;
    if (!(ly->in_norm = load_f32(NULL, &w->in_norm, H, e)) ||
        !(ly->post_norm = load_f32(NULL, &w->post_norm, H, e)) ||
        !(ly->wqkv = pe_malloc_large((QD + 2 * KD) * H * sizeof(float), e)) ||
        !load_f32(ly->wqkv, &w->wq, QD * H, e) || !load_f32(ly->wqkv + QD * H, &w->wk, KD * H, e) ||
        !load_f32(ly->wqkv + (QD + KD) * H, &w->wv, KD * H, e) ||
        !(ly->wo = load_f32(NULL, &w->wo, H * QD, e)) ||
        !(ly->wgu = pe_malloc_large(2 * F * H * sizeof(float), e)) ||
        !load_f32(ly->wgu, &w->w_gate, F * H, e) || !load_f32(ly->wgu + F * H, &w->w_up, F * H, e) ||
        !(ly->wdown = load_f32(NULL, &w->w_down, H * F, e)))
        return e->code;
    if (c->attn_bias) {
        if (!(ly->bqkv = pe_malloc((QD + 2 * KD) * sizeof(float), e)) || !load_f32(ly->bqkv, &w->bq, QD, e) ||
            !load_f32(ly->bqkv + QD, &w->bk, KD, e) || !load_f32(ly->bqkv + QD + KD, &w->bv, KD, e))
            return e->code;
    }
    return 0;
}

static int load_head(cpu_model *m, const pe_model *pm, pe_err *e)
{
    size_t H = (size_t)m->cfg.hidden_size, V = (size_t)m->cfg.vocab_size, R = (size_t)m->head.d.nrows;
    const pe_weights *w = &pm->w;
    if (m->head.d.rows == PE_ROWS_LM_FULL)
        return (m->lm_full = load_f32(NULL, &w->lm_head, V * H, e)) ? 0 : e->code;
    if (m->head.d.mlp_w && (!(m->mlp_w = load_f32(NULL, &w->head_mlp_w, H * H, e)) ||
                            !(m->mlp_b = load_f32(NULL, &w->head_mlp_b, H, e))))
        return e->code;
    if (!(m->rows = pe_malloc_large(R * H * sizeof(float), e)) || !(m->rows_b = pe_malloc(R * sizeof(float), e)))
        return e->code;
    return pe_model_head_rows(pm, &m->head, m->rows, m->rows_b, e);
}

static int grow(float **p, size_t n, pe_err *e)
{
    float *q = pe_realloc(*p, n * sizeof(float), e);
    if (!q) return e->code;
    *p = q;
    return 0;
}

/* Buffers for ntok packed tokens in nseq segments, the longest attention span
 * max_len, nread read-outs, nctx ancestor references. */
static int ensure_buffers(cpu_model *m, int64_t ntok, int nseq, int64_t max_len, int64_t nread, int64_t nctx,
                          pe_err *e)
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
    size_t kmax = H > F ? H : F;
    size_t stage = pe_blas_stage_floats((int)(kmax > QD ? kmax : QD), nthreads, (int)(nread > nseq ? nread : nseq));
    if (stage > m->stage.floats) {
        if (grow(&m->stage.mem, stage, e))
            return e->code;
        m->stage.floats = stage;
    }
    if (nread > m->cap_read) {
        int64_t *rr = pe_realloc(m->read_rows, ((size_t)nread + 1) * sizeof *rr, e);
        if (!rr) return e->code;
        m->read_rows = rr;
        int64_t *rp = pe_realloc(m->read_pos, (size_t)nread * sizeof *rp, e);
        if (!rp) return e->code;
        m->read_pos = rp;
        for (int64_t r = 0; r <= nread; r++)
            m->read_rows[r] = r;
        if (grow(&m->hr, (size_t)nread * H, e) || grow(&m->hh, (size_t)nread * H, e) ||
            grow(&m->z, (size_t)nread * PE_HEAD_MAX_ROWS, e))
            return e->code;
        m->cap_read = nread;
    }
    if (nseq > m->cap_seq) {
        int *ss = pe_realloc(m->span_start, ((size_t)nseq + 1) * sizeof *ss, e);
        if (!ss) return e->code;
        m->span_start = ss;
        m->cap_seq = nseq;
    }
    if (nctx > m->cap_spans) {
        pe_kv_span *sp = pe_realloc(m->spans, (size_t)nctx * sizeof *sp, e);
        if (!sp) return e->code;
        m->spans = sp;
        m->cap_spans = nctx;
    }
    if (m->lm_full && !m->logits && grow(&m->logits, (size_t)LM_CHUNK * c->vocab_size, e))
        return e->code;
    return 0;
}

/* rewards (nread, nout) from the final-normed hidden rows hr (nread, H). Each
 * read-out is a group of its own in the products, placed by its absolute
 * position (blas.h), so that its reward never depends on the other read-outs
 * of its batch nor on whether its prompt's prefix was reused. */
static void apply_head(cpu_model *m, int64_t nread, float *rewards)
{
    int H = m->cfg.hidden_size, V = m->cfg.vocab_size, R = m->head.d.nrows;
    if (m->head.d.rows == PE_ROWS_LM_FULL) {
        for (int64_t r0 = 0, n; r0 < nread; r0 += n) { /* LM_CHUNK rows at a time: logits of 8 x V floats */
            n = nread - r0 < LM_CHUNK ? nread - r0 : LM_CHUNK;
            const pe_row_groups rows = {m->read_rows, m->read_pos + r0, (int)n};
            pe_matmul_forward(m->logits, m->hr + (size_t)r0 * H, m->lm_full, NULL, &rows, H, V, 0, &m->stage);
            for (int64_t r = 0; r < n; r++) {
                const float *l = m->logits + (size_t)r * V;
                float mx = l[0];
                for (int v = 1; v < V; v++)
                    if (l[v] > mx) mx = l[v];
                double sum = 0.0; /* 150k terms: double keeps the sum exact enough */
                for (int v = 0; v < V; v++)
                    sum += exp((double)(l[v] - mx));
                rewards[r0 + r] = (float)(exp((double)(l[m->head.tok[0]] - mx)) / sum);
            }
        }
        return;
    }
    const pe_row_groups rows = {m->read_rows, m->read_pos, (int)nread};
    const float *x = m->hr;
    if (m->mlp_w) {
        pe_matmul_forward(m->hh, m->hr, m->mlp_w, m->mlp_b, &rows, H, H, 0, &m->stage);
        for (size_t i = 0; i < (size_t)nread * H; i++)
            m->hh[i] = m->hh[i] > 0.0f ? m->hh[i] : 0.0f;
        x = m->hh;
    }
    pe_matmul_forward(m->z, x, m->rows, m->rows_b, &rows, H, R, 0, &m->stage);
    pe_head_read_rewards(&m->head.d, m->z, nread, rewards);
}

/* ---- the cache slots (prefix reuse) ------------------------------------------ */

static size_t slot_floats_per_token(const pe_config *c)
{
    return (size_t)c->num_layers * 2 * (size_t)c->num_kv_heads * (size_t)c->head_dim;
}

/* Slot k's keys/values go back to the heap; the slot is empty again. */
static void free_slot(cpu_model *m, int k)
{
    free(m->slot_kv[k]);
    m->slot_kv[k] = NULL;
    m->slot_len[k] = 0;
}

static void evict_slots(cpu_model *m, const pe_batch *b)
{
    for (int i = 0; i < b->nevict; i++)
        free_slot(m, b->evict[i]);
}

/* pe_backend.release: the slots a schedule still holds after its last batch. */
static int cpu_release(pe_backend *b, const int *slots, int n, pe_err *e)
{
    cpu_model *m = b->impl;
    if (pe_release_check(slots, n, m->nslots, m->slot_len, e)) {
        pe_err_prefix(e, "cpu backend: ");
        return e->code;
    }
    for (int i = 0; i < n; i++)
        free_slot(m, slots[i]);
    return PE_OK;
}

/* Storage for the batch's kept segments (the table grows to the highest
 * slot named); 1 in *any when there is one. On failure none is kept. */
static int alloc_keeps(cpu_model *m, const pe_batch *b, int *any, pe_err *e)
{
    *any = 0;
    int need = m->nslots;
    for (int s = 0; b->keep && s < b->nseq; s++)
        if (b->keep[s] >= need)
            need = b->keep[s] + 1;
    if (need > m->nslots) {
        int64_t *p0 = pe_realloc(m->slot_pos0, (size_t)need * sizeof *p0, e);
        if (p0) m->slot_pos0 = p0;
        int64_t *len = p0 ? pe_realloc(m->slot_len, (size_t)need * sizeof *len, e) : NULL;
        if (len) m->slot_len = len;
        float **kv = len ? pe_realloc(m->slot_kv, (size_t)need * sizeof *kv, e) : NULL;
        if (!kv) return e->code;
        m->slot_kv = kv;
        for (int k = m->nslots; k < need; k++) {
            m->slot_pos0[k] = m->slot_len[k] = 0;
            m->slot_kv[k] = NULL;
        }
        m->nslots = need;
    }
    const size_t per_tok = slot_floats_per_token(&m->cfg);
    for (int s = 0; b->keep && s < b->nseq; s++) {
        int k = b->keep[s];
        if (k < 0)
            continue;
        int64_t len = b->seq_start[s + 1] - b->seq_start[s];
        if (!(m->slot_kv[k] = pe_malloc((size_t)len * per_tok * sizeof(float), e))) {
            for (int t = 0; t < s; t++)
                if (b->keep[t] >= 0) {
                    free(m->slot_kv[b->keep[t]]);
                    m->slot_kv[b->keep[t]] = NULL;
                    m->slot_len[b->keep[t]] = 0;
                }
            return pe_fail(e, PE_ERESOURCE, "cpu backend: no memory to keep %lld tokens of keys and values",
                           (long long)len);
        }
        m->slot_pos0[k] = b->pos0[s];
        m->slot_len[k] = len;
        *any = 1;
    }
    return 0;
}

/* Layer l's keys and values of slot k: keys (len, KD), then values. */
static float *slot_layer(const cpu_model *m, int k, int l)
{
    size_t KD = (size_t)m->cfg.num_kv_heads * m->cfg.head_dim;
    return m->slot_kv[k] + (size_t)l * 2 * (size_t)m->slot_len[k] * KD;
}

/* Copies layer l's keys and values of the kept segments from the qkv rows. */
static void store_keeps(cpu_model *m, const pe_batch *b, int l, size_t qkv_stride)
{
    size_t QD = (size_t)m->cfg.num_heads * m->cfg.head_dim, KD = (size_t)m->cfg.num_kv_heads * m->cfg.head_dim;
    for (int s = 0; b->keep && s < b->nseq; s++) {
        int k = b->keep[s];
        if (k < 0)
            continue;
        float *kd = slot_layer(m, k, l), *vd = kd + (size_t)m->slot_len[k] * KD;
        for (int64_t r = 0; r < m->slot_len[k]; r++) {
            const float *row = m->qkv + (size_t)(b->seq_start[s] + r) * qkv_stride;
            memcpy(kd + (size_t)r * KD, row + QD, KD * sizeof(float));
            memcpy(vd + (size_t)r * KD, row + QD + KD, KD * sizeof(float));
        }
    }
}

/* Layer l's ancestors of every segment: rows of an earlier segment of the
 * batch or a cache slot (span_start from the batch's ctx_start). */
static void build_spans(cpu_model *m, const pe_batch *b, int l, size_t qkv_stride)
{
    size_t QD = (size_t)m->cfg.num_heads * m->cfg.head_dim, KD = (size_t)m->cfg.num_kv_heads * m->cfg.head_dim;
    for (int s = 0; s <= b->nseq; s++)
        m->span_start[s] = b->ctx_start ? b->ctx_start[s] : 0;
    for (int c = 0; b->ctx_start && c < b->ctx_start[b->nseq]; c++) {
        const pe_kv_ref *r = &b->ctx[c];
        if (r->seg >= 0) {
            const float *row = m->qkv + (size_t)b->seq_start[r->seg] * qkv_stride;
            m->spans[c] = (pe_kv_span){row + QD, row + QD + KD, qkv_stride,
                                       b->seq_start[r->seg + 1] - b->seq_start[r->seg]};
        } else {
            const float *kd = slot_layer(m, r->slot, l);
            m->spans[c] = (pe_kv_span){kd, kd + (size_t)m->slot_len[r->slot] * KD, KD, m->slot_len[r->slot]};
        }
    }
}

/* ---- the forward pass ---------------------------------------------------------- */

/* The final norm and the head at the read-out rows. */
static void score_readouts(cpu_model *m, const pe_batch *batch, float *rewards)
{
    int H = m->cfg.hidden_size;
    int64_t nread = batch->nread;
    for (int64_t r = 0; r < nread; r++) {
        memcpy(m->hr + (size_t)r * H, m->x + (size_t)batch->readout[r] * H, (size_t)H * sizeof(float));
        m->read_pos[r] = m->pos[batch->readout[r]];
    }
    pe_rmsnorm_forward(m->hr, m->hr, m->final_norm, nread, H, (float)m->cfg.rms_norm_eps);
    apply_head(m, nread, rewards);
}

static int cpu_score(pe_backend *b, const pe_batch *batch, float *rewards, pe_err *e)
{
    cpu_model *m = b->impl;
    const pe_config *c = &m->cfg;
    int H = c->hidden_size, NH = c->num_heads, NKV = c->num_kv_heads, D = c->head_dim;
    int F = c->intermediate_size, QD = NH * D, KD = NKV * D;
    int64_t ntok = batch->ntok, nread = batch->nread, max_len = 0;
    int64_t nctx = batch->ctx_start ? batch->ctx_start[batch->nseq] : 0;
    int keeps = 0;
    if (pe_batch_check(batch, c->vocab_size, m->nslots, m->slot_pos0, m->slot_len, &max_len, e))
        return e->code;
    evict_slots(m, batch);
    if (ensure_buffers(m, ntok, batch->nseq, max_len, nread, nctx, e) || alloc_keeps(m, batch, &keeps, e))
        return e->code;
    if (nread == 0 && !keeps)
        return 0;
    pe_batch_positions(batch, m->pos);
    pe_rope_table(m->cos_t, m->sin_t, m->pos, m->inv_freq, ntok, D);
    pe_embed_forward(m->x, batch->tokens, m->embed, m->embed_dt, ntok, H);
    float eps = (float)c->rms_norm_eps;
    size_t qkv_stride = (size_t)QD + 2 * (size_t)KD;
    /* products grouped by segment, each placed by its absolute position (blas.h) */
    const pe_row_groups seqs = {batch->seq_start, batch->pos0, batch->nseq};
    int nseq = batch->nseq;
    for (int l = 0; l < c->num_layers; l++) {
        const cpu_layer *ly = &m->layers[l];
        pe_rmsnorm_forward(m->xn, m->x, ly->in_norm, ntok, H, eps);
        pe_matmul_forward(m->qkv, m->xn, ly->wqkv, ly->bqkv, &seqs, H, (int)qkv_stride, 0, &m->stage);
        pe_rope_forward(m->qkv, m->cos_t, m->sin_t, ntok, qkv_stride, NH, D);
        pe_rope_forward(m->qkv + QD, m->cos_t, m->sin_t, ntok, qkv_stride, NKV, D);
        if (batch->pos0)
            build_spans(m, batch, l, qkv_stride);
        pe_attention_forward(m->att, m->qkv, qkv_stride, seqs.start, nseq, batch->pos0, m->span_start, m->spans, NH,
                             NKV, D, c->sliding_window, m->scratch, m->cap_len);
        store_keeps(m, batch, l, qkv_stride);
        pe_matmul_forward(m->x, m->att, ly->wo, NULL, &seqs, QD, H, 1, &m->stage);
        pe_rmsnorm_forward(m->xn, m->x, ly->post_norm, ntok, H, eps);
        pe_matmul_forward(m->gu, m->xn, ly->wgu, NULL, &seqs, H, 2 * F, 0, &m->stage);
        pe_swiglu_forward(m->act, m->gu, ntok, F);
        pe_matmul_forward(m->x, m->act, ly->wdown, NULL, &seqs, F, H, 1, &m->stage);
    }
    if (nread > 0)
        score_readouts(m, batch, rewards);
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
    if (pe_model_check(pm, head, e))
        return e->code;
    cpu_model *m = pe_calloc(1, sizeof *m, e);
    if (!m) return e->code;
    m->cfg = *c;
    m->head = *head;
    size_t H = (size_t)c->hidden_size;
    const pe_tensor *emb = &pm->w.embed;
    m->embed = emb->data;
    m->embed_dt = emb->dtype;
    if (!(m->layers = pe_calloc((size_t)c->num_layers, sizeof *m->layers, e)))
        goto fail;
    for (int l = 0; l < c->num_layers; l++)
        if (load_layer(&m->layers[l], &pm->w.layers[l], c, e))
            goto fail;
    if (!(m->final_norm = load_f32(NULL, &pm->w.final_norm, H, e)) ||
        !(m->inv_freq = pe_malloc((size_t)c->head_dim / 2 * sizeof(float), e)))
        goto fail;
    pe_rope_inv_freq(m->inv_freq, c->head_dim, c->rope_theta, c->rope_llama3, c->rope_factor,
                     c->rope_low_freq_factor, c->rope_high_freq_factor, c->rope_original_max_pos);
    /* OpenBLAS last: a bad checkpoint is reported as such first. */
    if (load_head(m, pm, e) || pe_blas_load(e))
        goto fail;
    b->name = "cpu";
    b->nout = head->d.nout;
    b->kv_bytes_per_token = (int64_t)(slot_floats_per_token(c) * sizeof(float));
    snprintf(b->device, sizeof b->device, "cpu (%d threads)", omp_get_max_threads());
    b->impl = m;
    b->score = cpu_score;
    b->release = cpu_release;
    b->destroy = cpu_destroy;
    return 0;
fail:
    free_model(m);
    return e->code;
}
