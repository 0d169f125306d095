/* The operations of the fp32 CPU forward pass, one plain function each, with
 * every dimension passed explicitly (llm.c style). Activations are row-major
 * (ntok, C) arrays of packed tokens: sequences laid end to end, no padding.
 * Matrix products go to OpenBLAS; the rest is OpenMP across rows or heads.
 * Products of dimensions are computed in size_t: ntok * C overflows int at
 * realistic sizes (2048 tokens x 37888 for Qwen-7B's fused gate/up). */
#ifndef PE_CPU_OPS_H
#define PE_CPU_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "../io/model.h"
#include "blas.h"

/* out (ntok, H) = table[tokens[t]] with the table in its stored dtype
 * (rows may be unaligned). Gathering
 * from the stored table avoids an fp32 copy of the whole vocabulary. */
void pe_embed_forward(float *out, const int32_t *tokens, const void *table, pe_dtype dtype,
                      int64_t ntok, int H);

/* Hugging Face RMSNorm in fp32: out = w * (x * rsqrt(mean(x^2) + eps)), per row.
 * out may alias x. */
void pe_rmsnorm_forward(float *out, const float *x, const float *w, int64_t ntok, int H, float eps);

/* RoPE inverse frequencies, D/2 of them: theta^(-2i/D); with llama3 != 0 the
 * Llama-3.1 "llama3" scaling is applied (factor, low/high frequency factors,
 * original context length). */
void pe_rope_inv_freq(float *inv_freq, int D, double theta, int llama3, double factor,
                      double low_freq_factor, double high_freq_factor, int original_max_pos);

/* cos/sin tables (ntok, D/2) for the per-token absolute positions pos (0 at
 * the first token of a prompt, pe_batch_positions). Computed once per batch,
 * used by every layer. */
void pe_rope_table(float *cos_t, float *sin_t, const int32_t *pos, const float *inv_freq,
                   int64_t ntok, int D);

/* Rotates nheads heads of D values in place in Hugging Face's rotate_half
 * layout: element j pairs with j + D/2. Row t starts at x + t*stride. */
void pe_rope_forward(float *x, const float *cos_t, const float *sin_t, int64_t ntok,
                     size_t stride, int nheads, int D);

/* out (ntok, OC) = x (ntok, C) @ w^T + b, with w stored (OC, C) row-major as
 * Hugging Face's Linear; b may be NULL. accumulate != 0 adds to out instead
 * (that is how the residual add is done: the projection lands on the stream).
 * The rows come in groups (rows: start from 0 to ntok, align), the sequences
 * or segments of a batch or their read-outs: a row's result depends on its
 * numbers and its index in its group plus the group's align only, never on
 * the thread count or the other groups (pe_blas_sgemm_nt_groups in blas.h,
 * which must be loaded; stage: pe_blas_stage_floats(C, threads, groups)). */
void pe_matmul_forward(float *out, const float *x, const float *w, const float *b, const pe_row_groups *rows,
                       int C, int OC, int accumulate, const pe_blas_stage *stage);

/* Keys and values of len rows that a segment reads before its own rows
 * (prefix reuse): row i's keys start at k + i*stride, its values at
 * v + i*stride, kv head g D floats further. The rows may lie in the batch's
 * qkv rows (an ancestor computed in the same batch) or in a cache. */
typedef struct pe_kv_span {
    const float *k, *v;
    size_t stride;
    int64_t len;
} pe_kv_span;

/* Grouped-query causal attention over packed segments.
 * qkv rows (stride qkv_stride) hold q (NH*D), then k (NKV*D), then v (NKV*D);
 * out (ntok, NH*D). Query head h reads kv head h / (NH/NKV). Scores are
 * scaled by D^-0.5, softmax in fp32.
 * Segment s's rows have positions pos0[s], pos0[s]+1, ...: before its own
 * keys come those of its ancestors spans[span_start[s] .. span_start[s+1]-1],
 * positions 0 .. pos0[s]-1 in that order (their lengths add up to pos0[s]).
 * pos0 NULL: every segment is a whole sequence from position 0 (span_start
 * and spans unused). A query at position p sees the keys at positions
 * p-window+1 .. p (window 0 = unlimited), which is Mistral's sliding window
 * as Hugging Face masks it. Keys are visited in position order with the same
 * arithmetic wherever they are stored, so a row's output depends on the
 * key/value numbers only, never on whether they come from the batch or a cache.
 * scratch: omp_get_max_threads() * max_len floats, max_len at least
 * pos0[s] + the length of segment s for every s. */
void pe_attention_forward(float *out, const float *qkv, size_t qkv_stride,
                          const int64_t *seq_start, int nseq, const int64_t *pos0,
                          const int *span_start, const pe_kv_span *spans,
                          int NH, int NKV, int D, int window, float *scratch, int64_t max_len);

/* out (ntok, F) = silu(gu[:, :F]) * gu[:, F:], gu (ntok, 2F) holding gate then up. */
void pe_swiglu_forward(float *out, const float *gu, int64_t ntok, int F);

#endif
