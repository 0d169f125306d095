/* Plain-C references for the CUDA kernels (kernels/kernels.h), one function
 * per kernel with the same arguments and layouts, written for clarity rather
 * than speed. They round to bf16 exactly where the kernels do, so the GPU
 * harness (tests/unit/test_cuda_kernels.c) can compare with tight bounds.
 * Compiled in every build; tests/unit/test_cuda_ref.c checks them on
 * hand-worked cases. Also holds the host-side tables the CUDA backend
 * uploads (RoPE inverse frequencies, attention tiles) and bf16/f16 conversion. */
#ifndef PE_CUDA_REF_H
#define PE_CUDA_REF_H

#include "backend.h"
#include "cpu_ops.h"
#include "core/half.h"
#include <stddef.h>
#include <stdint.h>

#include "../../kernels/attn_desc.h"   /* pe_bf16, the attention tiles and key spans */

/* --- number formats --- */
/* pe_bf16_from_f32, pe_f32_from_bf16, pe_f32_from_f16: src/core/half.h */
float pe_round_bf16(float x);             /* pe_f32_from_bf16(pe_bf16_from_f32(x)) */

/* --- host tables --- */
/* pe_rope_inv_freq (inverse frequencies with llama3 scaling) is shared with
 * the CPU backend: see cpu_ops.h. */
/* The attention work of a batch checked by pe_batch_check (backend.h):
 * query tiles of PE_ATTN_BQ (64) rows cut per segment, and per segment its
 * key spans in position order (attn_desc.h): each ancestor (an earlier
 * segment's rows of qkv, or a cache slot), then its own rows. qkv: the packed
 * (ntok, ld) q|k|v rows the kernel reads, qcols = NH * D (k starts there);
 * slot_kv[slot]: the slot's K|V rows, (L, slot_len[slot], kv_ld) with
 * kv_ld = 2 * NKV * D, layers outermost. The pointers are only stored, never
 * read (device pointers for the kernel, host ones for the reference), and
 * only when spans is not NULL. Returns the tile count; writes the tiles when
 * tiles is not NULL, the spans when spans is not NULL, and their count to
 * *nspans (may be NULL). Segments without rows get no tile and no span. */
int64_t pe_attn_plan(const pe_batch *b, const pe_bf16 *qkv, int64_t ld, int64_t qcols,
                     const pe_bf16 *const *slot_kv, const int64_t *slot_len, int64_t kv_ld,
                     pe_attn_tile *tiles, pe_attn_span *spans, int64_t *nspans);

/* --- kernel references (see kernels/kernels.h for the contracts) --- */
void pe_ref_embed_f32(float *out, const pe_bf16 *table, const int32_t *tokens, int64_t ntok, int H);
void pe_ref_embed_bf16(pe_bf16 *out, const pe_bf16 *table, const int32_t *tokens, int64_t ntok, int H);
void pe_ref_rmsnorm(pe_bf16 *out, const float *x, const pe_bf16 *w, int64_t nrow, int H, float eps);
void pe_ref_rope(float *x, int64_t ntok, int64_t ld, int nheads, int D, const int32_t *pos,
                 const float *inv_freq);
void pe_ref_bias_add(float *x, const pe_bf16 *bias, int64_t nrow, int C);
void pe_ref_bias_relu_bf16(pe_bf16 *out, const float *x, const pe_bf16 *bias, int64_t nrow, int C);
void pe_ref_cast_bf16(pe_bf16 *out, const float *x, size_t n);
void pe_ref_residual_add(float *h, const float *x, size_t n);
void pe_ref_swiglu(pe_bf16 *out, const pe_bf16 *gu, int64_t ntok, int F);
/* Causal GQA over the tiles and key spans of pe_attn_plan (host pointers),
 * the kernel's arguments: a query row at absolute position p reads its
 * segment's keys at positions max(0, p-window+1) .. p in ascending order
 * (window 0: from 0), wherever they live; softmax in double with a running
 * max, one key at a time in that order (so the result depends only on the
 * keys' values and positions: the same bits with or without prefix reuse),
 * output rounded to bf16. Precondition D <= 512 (otherwise out is left untouched). */
void pe_ref_attention(pe_bf16 *out, const pe_bf16 *qkv, int64_t ld, const pe_attn_tile *tiles,
                      int64_t ntiles, const pe_attn_span *spans, int layer, int NH, int NKV, int D,
                      int window);
void pe_ref_gather_rows(float *out, const float *h, const int64_t *rows, int64_t nrow, int H);
void pe_ref_head_rows(float *z, const pe_bf16 *x, const pe_bf16 *w, const pe_bf16 *b, int64_t nrow, int R, int H);
void pe_ref_lse_pick(float *reward, const float *logits, int64_t nrow, int V, int tok);
/* out (M, N) fp32 = x (M, K) bf16 times w (N, K) bf16 transposed: the product
 * the CUDA backend asks of cuBLASLt, accumulated in double. */
void pe_ref_matmul_bf16(float *out, const pe_bf16 *x, const pe_bf16 *w, int64_t M, int64_t N,
                        int64_t K);

#endif
