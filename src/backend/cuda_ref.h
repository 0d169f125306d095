/* Plain-C references for the CUDA kernels (kernels/kernels.h), one function
 * per kernel with the same arguments and layouts, written for clarity rather
 * than speed. They round to bf16 exactly where the kernels do, so the GPU
 * harness (tests/unit/test_cuda_kernels.c) can compare with tight bounds.
 * Compiled in every build; tests/unit/test_cuda_ref.c checks them on
 * hand-worked cases. Also holds the host-side tables the CUDA backend
 * uploads (RoPE inverse frequencies, attention tiles) and bf16/f16 conversion. */
#ifndef PE_CUDA_REF_H
#define PE_CUDA_REF_H

#include "cpu_ops.h"
#include "core/half.h"
#include <stddef.h>
#include <stdint.h>

typedef uint16_t pe_bf16;   /* raw bf16 bits; same typedef as kernels/kernels.h */

/* --- number formats --- */
/* pe_bf16_from_f32, pe_f32_from_bf16, pe_f32_from_f16: src/core/half.h */
float pe_round_bf16(float x);             /* pe_f32_from_bf16(pe_bf16_from_f32(x)) */

/* --- host tables --- */
/* pe_rope_inv_freq (inverse frequencies with llama3 scaling) is shared with
 * the CPU backend: see cpu_ops.h. */
/* Attention query tiles of PE_ATTN_BQ (64) rows, cut per sequence: writes
 * triples (q0, seq_begin, seq_end) to tiles (when not NULL) and returns the
 * count. seq_start has nseq + 1 prefix sums. */
int64_t pe_attn_tiles(const int64_t *seq_start, int nseq, int64_t *tiles);

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
/* Causal GQA within each sequence; softmax in double, output rounded to bf16.
 * Precondition D <= 512 (otherwise out is left untouched). */
void pe_ref_attention(pe_bf16 *out, const pe_bf16 *qkv, int64_t ld, const int64_t *seq_start,
                      int nseq, int NH, int NKV, int D, int window);
void pe_ref_gather_rows(float *out, const float *h, const int64_t *rows, int64_t nrow, int H);
void pe_ref_head_rows(float *z, const pe_bf16 *x, const pe_bf16 *w, const pe_bf16 *b, int64_t nrow, int R, int H);
void pe_ref_lse_pick(float *reward, const float *logits, int64_t nrow, int V, int tok);
/* out (M, N) fp32 = x (M, K) bf16 times w (N, K) bf16 transposed: the product
 * the CUDA backend asks of cuBLASLt, accumulated in double. */
void pe_ref_matmul_bf16(float *out, const pe_bf16 *x, const pe_bf16 *w, int64_t M, int64_t N,
                        int64_t K);

#endif
