/* The CUDA backend, host side: weights converted to bf16 and uploaded once,
 * activation memory planned from cudaMemGetInfo, and the whole forward pass
 * of a packed batch run on the GPU (the kernels/ folder for everything but the dense
 * products, which go to cuBLASLt). Only the read-out rows reach the final
 * norm and the head. Every CUDA, cuBLASLt and launch result is checked and
 * reported through pe_err with file and line (cuda_check.h); nothing exits.
 * Prefix reuse (backend.h): a segment's ancestors are read by the attention
 * kernel where they are, in this batch's q|k|v rows or in a cache slot that
 * holds, per kept segment, its bf16 K|V rows after RoPE for every layer.
 * This file, cuda_gemm.c and kernels/ form libprmeval_cuda.so, a module that
 * cuda_loader.c opens only when the CUDA backend is asked for: linking the CUDA
 * runtime and cuBLASLt into every command cost 0.25 s and 200 MB of resident
 * memory at each start, a whole `eval` run several times over. */
#include "backend.h"

#include <stdio.h>
#include <string.h>


#include <stdlib.h>

#include <cuda_runtime_api.h>

#include "../../kernels/kernels.h"
#include "../core/module.h"
#include "cuda_check.h"
#include "cuda_gemm.h"
#include "cuda_ref.h"

#define PE_MIB (1024.0 * 1024.0)
#define PE_LSE_CHUNK 64                     /* read-out rows per full-vocabulary logits block */
#define PE_WORKSPACE_BYTES ((size_t)32 << 20) /* cuBLASLt workspace */
#define PE_RESERVE_BYTES ((size_t)512 << 20)  /* left free: CUDA context growth, cuBLASLt internals */

typedef struct cuda_layer {
    pe_bf16 *in_norm;   /* (H) */
    pe_bf16 *wqkv;      /* (NH*D + 2*NKV*D, H): q, k, v projections stacked: one GEMM */
    pe_bf16 *bqkv;      /* (NH*D + 2*NKV*D) or NULL (only Qwen2 has biases) */
    pe_bf16 *wo;        /* (H, NH*D) */
    pe_bf16 *post_norm; /* (H) */
    pe_bf16 *wgu;       /* (2F, H): gate then up, stacked: one GEMM */
    pe_bf16 *wdown;     /* (H, F) */
} cuda_layer;

typedef struct cuda_state {
    int device;
    cudaStream_t stream;
    pe_gemm gemm;
    pe_config cfg;
    pe_head_spec head;
    int H, NH, NKV, D, F, V, L, QKV, window;
    float eps;
    size_t weight_bytes;

    /* weights (device) */
    pe_bf16 *embed;        /* (V, H) */
    cuda_layer *layers;    /* L, host array of device pointers */
    pe_bf16 *final_norm;   /* (H) */
    pe_bf16 *mlp_w, *mlp_b; /* the head's hidden Linear(H,H) + ReLU: (H,H), (H); NULL when none */
    pe_bf16 *hw, *hb;      /* the head's output rows (R, H) and bias (R) (pe_model_head_rows) */
    pe_bf16 *lm_full;      /* full softmax: (V, H); may alias embed when tied */
    float *inv_freq;       /* (D/2) */

    /* the prefix cache: slot i holds slot_len[i] tokens (0: free) from position
     * slot_pos0[i], K|V rows of every layer, (L, slot_len, KVW) bf16 */
    int KVW;               /* 2 * NKV * D: one token's K|V row of one layer */
    int nslots;            /* entries of the table (filled or free) */
    pe_bf16 **slot_kv;
    int64_t *slot_len, *slot_pos0;
    size_t slot_bytes;     /* device bytes the filled slots take */

    /* activations (device), sized for cap_tok tokens, cap_tiles tiles, cap_spans key spans
     * and cap_read read-outs */
    int64_t cap_tok, cap_tiles, cap_spans, cap_read;
    float *h;              /* (ntok, H) residual stream, fp32 */
    pe_bf16 *xn;           /* (ntok, H) normalised input of a GEMM */
    float *qkv32;          /* (ntok, QKV) projections before bias/RoPE, fp32 */
    pe_bf16 *qkv;          /* (ntok, QKV) attention input */
    pe_bf16 *att;          /* (ntok, NH*D) */
    pe_bf16 *gu;           /* (ntok, 2F) */
    pe_bf16 *act;          /* (ntok, F) */
    int32_t *tokens, *pos; /* (ntok) */
    pe_attn_tile *tiles;   /* (cap_tiles) */
    pe_attn_span *spans;   /* (cap_spans) */
    int64_t *rows;         /* (nread) */
    float *hr;             /* (nread, H) gathered residual rows */
    pe_bf16 *xr;           /* (nread, H) final-normed rows */
    float *head32;         /* (nread, H) hidden layer output (qwen-prm score.0) */
    pe_bf16 *head16;       /* (nread, H) after bias + ReLU */
    float *logits;         /* (PE_LSE_CHUNK, V) full softmax only */
    float *z;              /* (nread, R) head logits; full softmax: (nread) probabilities */

    /* host scratch for one batch */
    int32_t *h_pos;
    pe_attn_tile *h_tiles;
    pe_attn_span *h_spans;
    float *h_z;            /* (h_cap_read, PE_HEAD_MAX_ROWS) */
    int64_t h_cap_tok, h_cap_tiles, h_cap_spans, h_cap_read;
} cuda_state;

/* ---- weights ---------------------------------------------------------------- */

static size_t numel(const pe_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= (size_t)t->shape[i];
    return n;
}

static int dev_alloc(cuda_state *s, void **p, size_t bytes, const char *what, pe_err *e)
{
    cudaError_t r = cudaMalloc(p, bytes ? bytes : 1);
    if (r == cudaSuccess)
        return PE_OK;
    *p = NULL;
    cudaGetLastError();   /* out-of-memory is not sticky: clear it so later checks are not confused */
    size_t fr = 0, tot = 0;
    cudaMemGetInfo(&fr, &tot);
    return pe_fail(e, PE_ERESOURCE,
                   "%s:%d: device %d: cannot allocate %.1f MiB for %s (%.1f MiB free of %.1f MiB; "
                   "model weights so far %.1f MiB): %s", __FILE__, __LINE__, s->device,
                   bytes / PE_MIB, what, fr / PE_MIB, tot / PE_MIB, s->weight_bytes / PE_MIB,
                   cudaGetErrorString(r));
}

/* Uploads `count` tensors stacked row-wise into one device array of bf16. */
static int upload(cuda_state *s, pe_bf16 **dst, const pe_tensor *const *parts, int count,
                  const char *what, pe_err *e)
{
    size_t total = 0;
    for (int i = 0; i < count; i++)
        total += numel(parts[i]);
    if (dev_alloc(s, (void **)dst, total * sizeof(pe_bf16), what, e))
        return e->code;
    s->weight_bytes += total * sizeof(pe_bf16);
    /* Convert through a bounded host buffer: a 7B layer's FFN is ~130M elements. */
    size_t chunk = (size_t)1 << 22;
    pe_bf16 *buf = pe_malloc(chunk * sizeof *buf, e);
    if (!buf)
        return e->code;
    size_t off = 0;
    int rc = PE_OK;
    for (int i = 0; i < count && !rc; i++) {
        size_t n = numel(parts[i]);
        for (size_t k = 0; k < n && !rc; k += chunk) {
            size_t c = n - k < chunk ? n - k : chunk;
            pe_tensor_convert_bf16(parts[i], k, c, buf);
            rc = CUDA_CHECK(cudaMemcpy(*dst + off + k, buf, c * sizeof *buf, cudaMemcpyHostToDevice), e);
        }
        off += n;
    }
    free(buf);
    return rc;
}

static int upload1(cuda_state *s, pe_bf16 **dst, const pe_tensor *t, const char *what, pe_err *e)
{
    const pe_tensor *parts[1] = {t};
    return upload(s, dst, parts, 1, what, e);
}

/* Uploads the model checked by pe_model_check (src/io/model.c): shapes are
 * trusted here. */
static int upload_weights(cuda_state *s, const pe_model *m, pe_err *e)
{
    const pe_weights *w = &m->w;
    char name[160];
    if (upload1(s, &s->embed, &w->embed, "model.embed_tokens.weight", e))
        return e->code;
    s->layers = pe_calloc((size_t)s->L, sizeof *s->layers, e);
    if (!s->layers)
        return e->code;
    for (int l = 0; l < s->L; l++) {
        const pe_layer_weights *lw = &w->layers[l];
        cuda_layer *cl = &s->layers[l];
#define LNAME(suffix) (snprintf(name, sizeof name, "model.layers.%d.%s", l, suffix), name)
        if (upload1(s, &cl->in_norm, &lw->in_norm, LNAME("input_layernorm.weight"), e))
            return e->code;
        const pe_tensor *qkv[3] = {&lw->wq, &lw->wk, &lw->wv};
        if (upload(s, &cl->wqkv, qkv, 3, LNAME("self_attn.{q,k,v}_proj.weight"), e))
            return e->code;
        if (s->cfg.attn_bias) {
            const pe_tensor *b[3] = {&lw->bq, &lw->bk, &lw->bv};
            if (upload(s, &cl->bqkv, b, 3, LNAME("self_attn.{q,k,v}_proj.bias"), e))
                return e->code;
        }
        if (upload1(s, &cl->wo, &lw->wo, LNAME("self_attn.o_proj.weight"), e) ||
            upload1(s, &cl->post_norm, &lw->post_norm, LNAME("post_attention_layernorm.weight"), e))
            return e->code;
        const pe_tensor *gu[2] = {&lw->w_gate, &lw->w_up};
        if (upload(s, &cl->wgu, gu, 2, LNAME("mlp.{gate,up}_proj.weight"), e) ||
            upload1(s, &cl->wdown, &lw->w_down, LNAME("mlp.down_proj.weight"), e))
            return e->code;
#undef LNAME
    }
    if (upload1(s, &s->final_norm, &w->final_norm, "model.norm.weight", e))
        return e->code;

    /* The head: only the rows the family reads. */
    const pe_head_desc *hd = &s->head.d;
    if (hd->rows == PE_ROWS_LM_FULL) {
        if (w->lm_head.data == w->embed.data)
            s->lm_full = s->embed;   /* tied: no second copy */
        else if (upload1(s, &s->lm_full, &w->lm_head, "lm_head.weight", e))
            return e->code;
    } else {
        if (hd->mlp_w && (upload1(s, &s->mlp_w, &w->head_mlp_w, hd->mlp_w, e) ||
                          upload1(s, &s->mlp_b, &w->head_mlp_b, hd->mlp_b, e)))
            return e->code;
        /* R rows instead of V for the LM-head families: 0.5 GB saved on a
         * Mistral-7B LM head; the rows are computed once on the host. */
        size_t R = (size_t)hd->nrows, H = (size_t)s->H;
        float *rows = pe_malloc((R * H + R) * sizeof *rows, e);
        pe_bf16 *buf = rows ? pe_malloc((R * H + R) * sizeof *buf, e) : NULL;
        int rc = !rows || !buf ? e->code : pe_model_head_rows(m, &s->head, rows, rows + R * H, e);
        for (size_t i = 0; !rc && i < R * H + R; i++)
            buf[i] = pe_bf16_from_f32(rows[i]);
        if (!rc)
            rc = dev_alloc(s, (void **)&s->hw, (R * H + R) * sizeof(pe_bf16), "head rows", e);
        if (!rc) {
            s->hb = s->hw + R * H;
            s->weight_bytes += (R * H + R) * sizeof(pe_bf16);
            rc = CUDA_CHECK(cudaMemcpy(s->hw, buf, (R * H + R) * sizeof *buf, cudaMemcpyHostToDevice), e);
        }
        free(rows);
        free(buf);
        if (rc)
            return rc;
    }

    float *inv = pe_malloc((size_t)s->D / 2 * sizeof *inv, e);
    if (!inv)
        return e->code;
    const pe_config *c = &s->cfg;
    pe_rope_inv_freq(inv, s->D, c->rope_theta, c->rope_llama3, c->rope_factor, c->rope_low_freq_factor,
                     c->rope_high_freq_factor, c->rope_original_max_pos);
    int rc = dev_alloc(s, (void **)&s->inv_freq, (size_t)s->D / 2 * sizeof *inv, "RoPE table", e);
    if (!rc)
        rc = CUDA_CHECK(cudaMemcpy(s->inv_freq, inv, (size_t)s->D / 2 * sizeof *inv, cudaMemcpyHostToDevice), e);
    free(inv);
    return rc;
}

/* ---- activations -------------------------------------------------------------- */

static size_t bytes_per_token(const cuda_state *s)
{
    return (size_t)s->H * (4 + 2) + (size_t)s->QKV * (4 + 2) + (size_t)s->NH * s->D * 2 +
           (size_t)s->F * (4 + 2) + 4 + 4;
}

static size_t bytes_per_readout(const cuda_state *s)
{
    return 8 + (size_t)s->H * (4 + 2 + 4 + 2) + 4 * PE_HEAD_MAX_ROWS;
}

/* Activation bytes that do not grow with the batch: the full-vocabulary logits block. */
static size_t bytes_fixed(const cuda_state *s)
{
    return s->lm_full ? (size_t)PE_LSE_CHUNK * (size_t)s->V * 4 : 0;
}

/* Bytes of the attention work per token, counting one tile and one key span
 * per token (an upper bound without ancestors). */
#define PE_ATTN_BYTES_PER_TOKEN (sizeof(pe_attn_tile) + sizeof(pe_attn_span))

/* Tokens that fit in `room` bytes, counting one read-out per token (an upper bound). */
static long long tokens_that_fit(const cuda_state *s, size_t room)
{
    size_t fixed = bytes_fixed(s);
    return room > fixed ? (long long)((room - fixed) /
                                      (bytes_per_token(s) + PE_ATTN_BYTES_PER_TOKEN + bytes_per_readout(s))) : 0;
}

static void free_activations(cuda_state *s)
{
    void *p[] = {s->h, s->xn, s->qkv32, s->qkv, s->att, s->gu, s->act, s->tokens, s->pos,
                 s->tiles, s->spans, s->rows, s->hr, s->xr, s->head32, s->head16, s->logits, s->z};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        if (p[i])
            cudaFree(p[i]);
    s->h = s->qkv32 = s->hr = s->head32 = s->logits = s->z = NULL;
    s->xn = s->qkv = s->att = s->gu = s->act = s->xr = s->head16 = NULL;
    s->tokens = s->pos = NULL;
    s->tiles = NULL;
    s->spans = NULL;
    s->rows = NULL;
    s->cap_tok = s->cap_tiles = s->cap_spans = s->cap_read = 0;
}

/* Grows the activation buffers to hold a batch; says clearly when it cannot.
 * The memory plan: weights, the prefix cache's filled slots and the
 * activations share the device, PE_RESERVE_BYTES stay free. */
static int ensure_capacity(cuda_state *s, int64_t ntok, int64_t ntiles, int64_t nspans, int64_t nread, pe_err *e)
{
    if (ntok <= s->cap_tok && ntiles <= s->cap_tiles && nspans <= s->cap_spans && nread <= s->cap_read)
        return PE_OK;
    int64_t nt = ntok > s->cap_tok ? ntok : s->cap_tok;
    int64_t ti = ntiles > s->cap_tiles ? ntiles : s->cap_tiles;
    int64_t ns = nspans > s->cap_spans ? nspans : s->cap_spans;
    int64_t nr = nread > s->cap_read ? nread : s->cap_read;
    free_activations(s);
    size_t need = (size_t)nt * bytes_per_token(s) + (size_t)ti * sizeof(pe_attn_tile) +
                  (size_t)ns * sizeof(pe_attn_span) + (size_t)nr * bytes_per_readout(s) + bytes_fixed(s);
    size_t fr = 0, tot = 0;
    if (CUDA_CHECK(cudaMemGetInfo(&fr, &tot), e))
        return e->code;
    if (need + PE_RESERVE_BYTES > fr)
        return pe_fail(e, PE_ERESOURCE,
                       "device %d: a batch of %lld tokens (%lld read-outs) needs %.1f MiB of activations, "
                       "but only %.1f MiB of %.1f MiB are free after the %.1f MiB of weights and %.1f MiB of "
                       "prefix cache (%.0f MiB kept in reserve); lower the token budget to at most %lld tokens "
                       "(or the job's cache bound)",
                       s->device, (long long)ntok, (long long)nread, need / PE_MIB, fr / PE_MIB,
                       tot / PE_MIB, s->weight_bytes / PE_MIB, s->slot_bytes / PE_MIB, PE_RESERVE_BYTES / PE_MIB,
                       tokens_that_fit(s, fr > PE_RESERVE_BYTES ? fr - PE_RESERVE_BYTES : 0));
    size_t H = (size_t)s->H, T = (size_t)nt, R = (size_t)nr;
    if (dev_alloc(s, (void **)&s->h, T * H * 4, "residual stream", e) ||
        dev_alloc(s, (void **)&s->xn, T * H * 2, "normed activations", e) ||
        dev_alloc(s, (void **)&s->qkv32, T * s->QKV * 4, "q/k/v (fp32)", e) ||
        dev_alloc(s, (void **)&s->qkv, T * s->QKV * 2, "q/k/v (bf16)", e) ||
        dev_alloc(s, (void **)&s->att, T * s->NH * s->D * 2, "attention output", e) ||
        dev_alloc(s, (void **)&s->gu, T * 2 * s->F * 2, "gate/up", e) ||
        dev_alloc(s, (void **)&s->act, T * s->F * 2, "SwiGLU output", e) ||
        dev_alloc(s, (void **)&s->tokens, T * 4, "token ids", e) ||
        dev_alloc(s, (void **)&s->pos, T * 4, "positions", e) ||
        dev_alloc(s, (void **)&s->tiles, (size_t)ti * sizeof(pe_attn_tile), "attention tiles", e) ||
        dev_alloc(s, (void **)&s->spans, (size_t)ns * sizeof(pe_attn_span), "attention key spans", e) ||
        dev_alloc(s, (void **)&s->rows, R * 8, "read-out rows", e) ||
        dev_alloc(s, (void **)&s->hr, R * H * 4, "read-out hidden rows", e) ||
        dev_alloc(s, (void **)&s->xr, R * H * 2, "read-out normed rows", e) ||
        dev_alloc(s, (void **)&s->head32, R * H * 4, "head activations", e) ||
        dev_alloc(s, (void **)&s->head16, R * H * 2, "head activations (bf16)", e) ||
        dev_alloc(s, (void **)&s->z, R * 4 * PE_HEAD_MAX_ROWS, "head logits", e) ||
        (s->lm_full && dev_alloc(s, (void **)&s->logits, (size_t)PE_LSE_CHUNK * s->V * 4, "logits block", e))) {
        free_activations(s);
        return e->code;
    }
    s->cap_tok = nt, s->cap_tiles = ti, s->cap_spans = ns, s->cap_read = nr;
    return PE_OK;
}

/* ---- the forward pass ---------------------------------------------------------- */

static int host_scratch(cuda_state *s, int64_t ntok, int64_t ntiles, int64_t nspans, int64_t nread, pe_err *e)
{
    if (ntok > s->h_cap_tok) {
        int32_t *p = pe_realloc(s->h_pos, (size_t)ntok * sizeof *p, e);
        if (!p)
            return e->code;
        s->h_pos = p, s->h_cap_tok = ntok;
    }
    if (ntiles > s->h_cap_tiles) {
        pe_attn_tile *p = pe_realloc(s->h_tiles, (size_t)ntiles * sizeof *p, e);
        if (!p)
            return e->code;
        s->h_tiles = p, s->h_cap_tiles = ntiles;
    }
    if (nspans > s->h_cap_spans) {
        pe_attn_span *p = pe_realloc(s->h_spans, (size_t)nspans * sizeof *p, e);
        if (!p)
            return e->code;
        s->h_spans = p, s->h_cap_spans = nspans;
    }
    if (nread > s->h_cap_read) {
        float *p = pe_realloc(s->h_z, (size_t)nread * PE_HEAD_MAX_ROWS * sizeof *p, e);
        if (!p)
            return e->code;
        s->h_z = p, s->h_cap_read = nread;
    }
    return PE_OK;
}

/* The head's logits s->z (nread, R) at the final-normed read-out rows; the
 * rewards follow on the host (pe_head_read_rewards). */
static int head_forward(cuda_state *s, int64_t nread, pe_err *e)
{
    cudaStream_t st = s->stream;
    int H = s->H;
    if (s->head.d.rows == PE_ROWS_LM_FULL) {
        /* Full-vocabulary logits only at the read-out rows, a block at a time. */
        for (int64_t r0 = 0; r0 < nread; r0 += PE_LSE_CHUNK) {
            int64_t n = nread - r0 < PE_LSE_CHUNK ? nread - r0 : PE_LSE_CHUNK;
            if (pe_gemm_bf16(&s->gemm, s->logits, 1, 0, s->xr + (size_t)r0 * H, s->lm_full, n, s->V, H, st, e) ||
                KERNEL_CHECK(pe_k_lse_pick(s->z + r0, s->logits, n, s->V, s->head.tok[0], st), e))
                return e->code;
        }
        return PE_OK;
    }
    const pe_bf16 *x = s->xr;
    if (s->mlp_w) {
        /* hidden Linear(H,H) + ReLU (qwen-prm's score.0) */
        if (pe_gemm_bf16(&s->gemm, s->head32, 1, 0, s->xr, s->mlp_w, nread, H, H, st, e) ||
            KERNEL_CHECK(pe_k_bias_relu_bf16(s->head16, s->head32, s->mlp_b, nread, H, st), e))
            return e->code;
        x = s->head16;
    }
    return KERNEL_CHECK(pe_k_head_rows(s->z, x, s->hw, s->hb, nread, s->head.d.nrows, H, st), e);
}

/* Copies layer l's K|V rows (after RoPE, in bf16: what attention reads) of
 * the segments the batch keeps into their cache slots. */
static int keep_kv(cuda_state *s, const pe_batch *bt, int l, pe_err *e)
{
    size_t row = (size_t)s->KVW * sizeof(pe_bf16);
    for (int i = 0; bt->keep && i < bt->nseq; i++) {
        int64_t r0 = bt->seq_start[i], len = bt->seq_start[i + 1] - r0;
        if (bt->keep[i] < 0 || len == 0)
            continue;
        pe_bf16 *dst = s->slot_kv[bt->keep[i]] + (size_t)l * (size_t)len * (size_t)s->KVW;
        const pe_bf16 *src = s->qkv + (size_t)r0 * (size_t)s->QKV + (size_t)s->NH * (size_t)s->D;
        if (CUDA_CHECK(cudaMemcpy2DAsync(dst, row, src, (size_t)s->QKV * sizeof(pe_bf16), row, (size_t)len,
                                         cudaMemcpyDeviceToDevice, s->stream), e))
            return e->code;
    }
    return PE_OK;
}

/* Decoder layer l on the packed batch, in place on the residual stream s->h. */
static int layer_forward(cuda_state *s, const pe_batch *bt, int l, int64_t ntok, int64_t ntiles, pe_err *e)
{
    const cuda_layer *cl = &s->layers[l];
    cudaStream_t st = s->stream;
    int H = s->H, QD = s->NH * s->D;
    /* attention block: h += o_proj(attn(rope(qkv(norm(h))))); the residual add
     * is the GEMM's beta = 1 */
    if (KERNEL_CHECK(pe_k_rmsnorm(s->xn, s->h, cl->in_norm, ntok, H, s->eps, st), e) ||
        pe_gemm_bf16(&s->gemm, s->qkv32, 1, 0, s->xn, cl->wqkv, ntok, s->QKV, H, st, e) ||
        (cl->bqkv && KERNEL_CHECK(pe_k_bias_add(s->qkv32, cl->bqkv, ntok, s->QKV, st), e)) ||
        KERNEL_CHECK(pe_k_rope(s->qkv32, ntok, s->QKV, s->NH, s->D, s->pos, s->inv_freq, st), e) ||
        KERNEL_CHECK(pe_k_rope(s->qkv32 + QD, ntok, s->QKV, s->NKV, s->D, s->pos, s->inv_freq, st), e) ||
        KERNEL_CHECK(pe_k_cast_bf16(s->qkv, s->qkv32, (size_t)ntok * s->QKV, st), e) ||
        keep_kv(s, bt, l, e) ||
        KERNEL_CHECK(pe_k_attention(s->att, s->qkv, s->QKV, s->tiles, ntiles, s->spans, l, s->NH, s->NKV,
                                    s->D, s->window, st), e) ||
        pe_gemm_bf16(&s->gemm, s->h, 1, 1, s->att, cl->wo, ntok, H, QD, st, e))
        return e->code;
    /* MLP block: h += down(silu(gate(norm(h))) * up(norm(h))) */
    if (KERNEL_CHECK(pe_k_rmsnorm(s->xn, s->h, cl->post_norm, ntok, H, s->eps, st), e) ||
        pe_gemm_bf16(&s->gemm, s->gu, 0, 0, s->xn, cl->wgu, ntok, 2 * (int64_t)s->F, H, st, e) ||
        KERNEL_CHECK(pe_k_swiglu(s->act, s->gu, ntok, s->F, st), e) ||
        pe_gemm_bf16(&s->gemm, s->h, 1, 1, s->act, cl->wdown, ntok, H, s->F, st, e))
        return e->code;
    return PE_OK;
}

/* ---- the prefix cache ------------------------------------------------------------ */

static size_t slot_bytes_for(const cuda_state *s, int64_t len)
{
    return (size_t)s->L * (size_t)len * (size_t)s->KVW * sizeof(pe_bf16);
}

static void slot_free(cuda_state *s, int i)
{
    if (s->slot_kv[i]) {
        cudaFree(s->slot_kv[i]);
        s->slot_bytes -= slot_bytes_for(s, s->slot_len[i]);
    }
    s->slot_kv[i] = NULL;
    s->slot_len[i] = s->slot_pos0[i] = 0;
}

/* Slot ids below n become valid (free) entries of the table. */
static int slot_table_grow(cuda_state *s, int n, pe_err *e)
{
    if (n <= s->nslots)
        return PE_OK;
    pe_bf16 **kv = pe_realloc(s->slot_kv, (size_t)n * sizeof *kv, e);
    if (kv)
        s->slot_kv = kv;
    int64_t *len = kv ? pe_realloc(s->slot_len, (size_t)n * sizeof *len, e) : NULL;
    if (len)
        s->slot_len = len;
    int64_t *pos0 = len ? pe_realloc(s->slot_pos0, (size_t)n * sizeof *pos0, e) : NULL;
    if (!pos0)
        return e->code;
    s->slot_pos0 = pos0;
    for (int i = s->nslots; i < n; i++)
        s->slot_kv[i] = NULL, s->slot_len[i] = s->slot_pos0[i] = 0;
    s->nslots = n;
    return PE_OK;
}

/* Before a checked batch runs: frees the slots it evicts, then allocates one
 * for each segment it keeps (filled layer by layer in keep_kv). */
static int slots_prepare(cuda_state *s, const pe_batch *bt, pe_err *e)
{
    for (int i = 0; i < bt->nevict; i++)
        slot_free(s, bt->evict[i]);
    size_t need = 0;
    int top = -1, nkeep = 0;
    for (int i = 0; bt->keep && i < bt->nseq; i++)
        if (bt->keep[i] >= 0) {
            need += slot_bytes_for(s, bt->seq_start[i + 1] - bt->seq_start[i]);
            top = bt->keep[i] > top ? bt->keep[i] : top;
            nkeep++;
        }
    if (top < 0)
        return PE_OK;
    if (slot_table_grow(s, top + 1, e))
        return e->code;
    size_t fr = 0, tot = 0;
    if (CUDA_CHECK(cudaMemGetInfo(&fr, &tot), e))
        return e->code;
    if (need + PE_RESERVE_BYTES > fr)
        return pe_fail(e, PE_ERESOURCE,
                       "device %d: the prefix cache needs %.1f MiB more for the %d segments this batch keeps, "
                       "but only %.1f MiB of %.1f MiB are free after the %.1f MiB of weights, %.1f MiB of "
                       "prefix cache and the activations (%.0f MiB kept in reserve); lower the job's cache bound",
                       s->device, need / PE_MIB, nkeep, fr / PE_MIB, tot / PE_MIB, s->weight_bytes / PE_MIB,
                       s->slot_bytes / PE_MIB, PE_RESERVE_BYTES / PE_MIB);
    for (int i = 0; bt->keep && i < bt->nseq; i++) {
        int k = bt->keep[i];
        int64_t len = bt->seq_start[i + 1] - bt->seq_start[i];
        if (k < 0)
            continue;
        if (len > 0 && dev_alloc(s, (void **)&s->slot_kv[k], slot_bytes_for(s, len), "a prefix cache slot", e))
            return e->code;
        s->slot_len[k] = len;
        s->slot_pos0[k] = bt->pos0[i];
        s->slot_bytes += len > 0 ? slot_bytes_for(s, len) : 0;
    }
    return PE_OK;
}

/* A batch that failed leaves nothing in the slots it was to keep. */
static void slots_drop_kept(cuda_state *s, const pe_batch *bt)
{
    for (int i = 0; bt->keep && i < bt->nseq; i++)
        if (bt->keep[i] >= 0 && bt->keep[i] < s->nslots)
            slot_free(s, bt->keep[i]);
}

static int score_batch(cuda_state *s, const pe_batch *bt, float *rewards, pe_err *e)
{
    int64_t ntok = bt->ntok, nread = bt->nread, nspans = 0;
    int64_t ntiles = pe_attn_plan(bt, NULL, 0, 0, NULL, s->slot_len, 0, NULL, NULL, &nspans);
    if (host_scratch(s, ntok, ntiles, nspans, nread, e) ||
        ensure_capacity(s, ntok, ntiles, nspans, nread > 0 ? nread : 1, e))
        return e->code;
    /* after ensure_capacity: the spans point into this batch's q|k|v buffer */
    pe_attn_plan(bt, s->qkv, s->QKV, (int64_t)s->NH * s->D, (const pe_bf16 *const *)s->slot_kv, s->slot_len,
                 s->KVW, s->h_tiles, s->h_spans, NULL);
    pe_batch_positions(bt, s->h_pos);

    cudaStream_t st = s->stream;
    int H = s->H;
    if (CUDA_CHECK(cudaMemcpyAsync(s->tokens, bt->tokens, (size_t)ntok * 4, cudaMemcpyHostToDevice, st), e) ||
        CUDA_CHECK(cudaMemcpyAsync(s->pos, s->h_pos, (size_t)ntok * 4, cudaMemcpyHostToDevice, st), e) ||
        CUDA_CHECK(cudaMemcpyAsync(s->tiles, s->h_tiles, (size_t)ntiles * sizeof(pe_attn_tile),
                                   cudaMemcpyHostToDevice, st), e) ||
        CUDA_CHECK(cudaMemcpyAsync(s->spans, s->h_spans, (size_t)nspans * sizeof(pe_attn_span),
                                   cudaMemcpyHostToDevice, st), e) ||
        (nread > 0 && CUDA_CHECK(cudaMemcpyAsync(s->rows, bt->readout, (size_t)nread * 8,
                                                 cudaMemcpyHostToDevice, st), e)) ||
        KERNEL_CHECK(pe_k_embed_f32(s->h, s->embed, s->tokens, ntok, H, st), e))
        return e->code;

    for (int l = 0; l < s->L; l++)
        if (layer_forward(s, bt, l, ntok, ntiles, e)) {
            pe_err_prefix(e, "layer %d: ", l);
            return e->code;
        }
    if (nread == 0)
        return CUDA_CHECK(cudaStreamSynchronize(st), e);
    if (KERNEL_CHECK(pe_k_gather_rows(s->hr, s->h, s->rows, nread, H, st), e) ||
        KERNEL_CHECK(pe_k_rmsnorm(s->xr, s->hr, s->final_norm, nread, H, s->eps, st), e) ||
        head_forward(s, nread, e) ||
        CUDA_CHECK(cudaMemcpyAsync(s->h_z, s->z, (size_t)nread * (size_t)s->head.d.nrows * 4, cudaMemcpyDeviceToHost,
                                   st), e) ||
        CUDA_CHECK(cudaStreamSynchronize(st), e))
        return e->code;
    pe_head_read_rewards(&s->head.d, s->h_z, nread, rewards);
    return PE_OK;
}

static int cuda_score(pe_backend *b, const pe_batch *bt, float *rewards, pe_err *e)
{
    cuda_state *s = b->impl;
    int64_t max_len = 0;
    if (pe_batch_check(bt, s->V, s->nslots, s->slot_pos0, s->slot_len, &max_len, e)) {
        pe_err_prefix(e, "cuda backend: ");
        return e->code;
    }
    if (CUDA_CHECK(cudaSetDevice(s->device), e))
        return e->code;
    int rc = slots_prepare(s, bt, e);
    if (!rc)
        rc = score_batch(s, bt, rewards, e);
    if (rc) {
        /* a failed launch may still be running on the stream: let it end before freeing what it writes */
        cudaStreamSynchronize(s->stream);
        cudaGetLastError();
        slots_drop_kept(s, bt);
    }
    return rc;
}

/* pe_backend.release: frees the device memory of the slots a schedule still
 * holds after its last batch; no kernel runs. */
static int cuda_release(pe_backend *b, const int *slots, int n, pe_err *e)
{
    cuda_state *s = b->impl;
    if (pe_release_check(slots, n, s->nslots, s->slot_len, e)) {
        pe_err_prefix(e, "cuda backend: ");
        return e->code;
    }
    if (n == 0)
        return PE_OK;
    /* score_batch ends with a synchronize; wait anyway, so that no kernel
     * still reads a slot when its memory goes back */
    if (CUDA_CHECK(cudaSetDevice(s->device), e) || CUDA_CHECK(cudaStreamSynchronize(s->stream), e))
        return e->code;
    for (int i = 0; i < n; i++)
        slot_free(s, slots[i]);
    return PE_OK;
}

static void cuda_destroy(pe_backend *b)
{
    cuda_state *s = b ? b->impl : NULL;
    if (!s)
        return;
    cudaSetDevice(s->device);
    if (s->stream)
        cudaStreamSynchronize(s->stream);
    free_activations(s);
    for (int i = 0; i < s->nslots; i++)
        slot_free(s, i);
    free(s->slot_kv);
    free(s->slot_len);
    free(s->slot_pos0);
    if (s->layers) {
        for (int l = 0; l < s->L; l++) {
            cuda_layer *cl = &s->layers[l];
            void *p[] = {cl->in_norm, cl->wqkv, cl->bqkv, cl->wo, cl->post_norm, cl->wgu, cl->wdown};
            for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
                if (p[i])
                    cudaFree(p[i]);
        }
        free(s->layers);
    }
    void *p[] = {s->final_norm, s->mlp_w, s->mlp_b, s->hw, s->lm_full != s->embed ? s->lm_full : NULL, s->embed,
                 s->inv_freq};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        if (p[i])
            cudaFree(p[i]);
    pe_gemm_free(&s->gemm);
    if (s->stream)
        cudaStreamDestroy(s->stream);
    free(s->h_pos);
    free(s->h_tiles);
    free(s->h_spans);
    free(s->h_z);
    free(s);
    b->impl = NULL;
}

/* The module's build id and two entry points (everything else is hidden). */
PE_MODULE_DEFINE_ABI;

__attribute__((visibility("default")))
int pe_cuda_module_available(int *ndevices, char *why, int whylen)
{
    int n = 0;
    cudaError_t r = cudaGetDeviceCount(&n);
    if (r != cudaSuccess || n <= 0) {
        if (why && whylen > 0) {
            if (r != cudaSuccess)
                snprintf(why, (size_t)whylen, "cudaGetDeviceCount: %s", cudaGetErrorString(r));
            else
                snprintf(why, (size_t)whylen, "no CUDA device present");
        }
        cudaGetLastError();
        *ndevices = 0;
        return 0;
    }
    if (why && whylen > 0)
        why[0] = '\0';
    *ndevices = n;
    return n;
}

__attribute__((visibility("default")))
int pe_cuda_module_create(pe_backend *b, const pe_model *m, const pe_head_spec *head, int device,
                          pe_err *e)
{
    char why[256];
    int ndev = 0;
    memset(b, 0, sizeof *b);
    if (!pe_cuda_module_available(&ndev, why, sizeof why))
        return pe_fail(e, PE_ERESOURCE, "CUDA backend: no usable GPU (%s)", why);
    if (device < 0 || device >= ndev)
        return pe_fail(e, PE_EUSAGE, "CUDA backend: device %d requested, this node has %d", device, ndev);
    const pe_config *c = &m->cfg;
    if (pe_model_check(m, head, e))
        return e->code;
    if (c->head_dim % 16 != 0 || c->head_dim > PE_ATTN_MAX_D)
        return pe_fail(e, PE_EINPUT,
                       "%s/config.json: head_dim %d: the CUDA attention kernel takes multiples of 16 up to %d",
                       m->dir, c->head_dim, PE_ATTN_MAX_D);
    if (c->hidden_size % 8 != 0 || c->intermediate_size % 8 != 0)
        return pe_fail(e, PE_EINPUT, "%s/config.json: hidden_size %d and intermediate_size %d must be "
                       "multiples of 8 for the bf16 tensor-core GEMMs", m->dir, c->hidden_size,
                       c->intermediate_size);

    cuda_state *s = pe_calloc(1, sizeof *s, e);
    if (!s)
        return e->code;
    b->impl = s;
    b->name = "cuda";
    b->nout = head->d.nout;
    b->score = cuda_score;
    b->release = cuda_release;
    b->destroy = cuda_destroy;
    s->device = device;
    s->cfg = *c;
    s->head = *head;
    s->H = c->hidden_size, s->NH = c->num_heads, s->NKV = c->num_kv_heads, s->D = c->head_dim;
    s->F = c->intermediate_size, s->V = c->vocab_size, s->L = c->num_layers;
    s->QKV = (s->NH + 2 * s->NKV) * s->D;
    s->KVW = 2 * s->NKV * s->D;
    /* what a cache slot takes per token: K|V of every layer in bf16 */
    b->kv_bytes_per_token = (int64_t)s->L * s->KVW * (int64_t)sizeof(pe_bf16);
    s->eps = (float)c->rms_norm_eps;
    /* config.c has already decided: Mistral's window, Qwen2's only with
     * use_sliding_window, otherwise 0; the CPU backend uses the same value. */
    s->window = c->sliding_window;

    struct cudaDeviceProp prop;
    if (CUDA_CHECK(cudaSetDevice(device), e) || CUDA_CHECK(cudaGetDeviceProperties(&prop, device), e) ||
        CUDA_CHECK(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking), e) ||
        pe_gemm_init(&s->gemm, PE_WORKSPACE_BYTES, e))
        goto fail;
    if (prop.major < 8) {
        pe_fail(e, PE_ERESOURCE, "CUDA backend: %s (device %d) is compute capability %d.%d; "
                "the bf16 kernels need 8.0 or newer", prop.name, device, prop.major, prop.minor);
        goto fail;
    }
    if (pe_k_attention_smem_bytes(s->D) > prop.sharedMemPerBlockOptin) {
        pe_fail(e, PE_ERESOURCE, "CUDA backend: %s (device %d) allows %zu bytes of shared memory per "
                "block; the attention kernel needs %zu at head_dim %d (%s/config.json)", prop.name,
                device, (size_t)prop.sharedMemPerBlockOptin, pe_k_attention_smem_bytes(s->D), s->D,
                m->dir);
        goto fail;
    }
    /* Shared-memory limit and carveout of the attention kernel: once here, not per launch. */
    int attn_blocks = 0;
    if (KERNEL_CHECK(pe_k_attention_prepare(s->D, &attn_blocks), e))
        goto fail;
    if (upload_weights(s, m, e)) {
        pe_err_prefix(e, "uploading weights to %s (device %d): ", prop.name, device);
        goto fail;
    }
    /* cudaMemcpy from pageable memory may return before its DMA lands, and the
     * forward pass runs on a non-blocking stream that does not wait for the
     * legacy default stream: wait here for every upload. */
    size_t fr = 0, tot = 0;
    if (CUDA_CHECK(cudaDeviceSynchronize(), e) || CUDA_CHECK(cudaMemGetInfo(&fr, &tot), e))
        goto fail;
    size_t room = fr > PE_RESERVE_BYTES ? fr - PE_RESERVE_BYTES : 0;
    char name[96];
    snprintf(name, sizeof name, "%.95s", prop.name);
    snprintf(b->device, sizeof b->device,
             "%s (device %d, sm_%d%d, %.1f GiB weights, room for about %lld tokens per batch, "
             "attention %d blocks/SM at %.1f KiB shared)",
             name, device, prop.major, prop.minor, s->weight_bytes / (PE_MIB * 1024.0),
             tokens_that_fit(s, room), attn_blocks, pe_k_attention_smem_bytes(s->D) / 1024.0);
    return PE_OK;
fail:
    cuda_destroy(b);
    return e->code;
}
