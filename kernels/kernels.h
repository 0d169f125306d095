/* C-callable launch wrappers for the CUDA kernels in kernels/ (one .cu per operation family).
 *
 * Conventions (shared with the plain-C references in src/backend/cuda_ref.h):
 * - bf16 values travel as their raw 16 bits (pe_bf16) so C code can hold them.
 * - Matrices are row-major; a "row" is one token. Dimensions are passed
 *   explicitly; products of dimensions are formed in size_t / int64_t.
 * - Every wrapper launches on `stream`, returns the cudaError_t of the launch
 *   (cudaGetLastError) as an int, 0 on success; the caller checks it.
 * - The residual stream is fp32; inputs to matrix products are bf16. */
#ifndef PE_KERNELS_H
#define PE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "attn_desc.h"   /* pe_bf16, PE_ATTN_BQ, the attention tiles and key spans */

#ifdef __cplusplus
extern "C" {
#endif

/* The largest head_dim the attention kernel takes (its shared memory grows
 * with head_dim; 128 covers Qwen2, Llama, Mistral). */
#define PE_ATTN_MAX_D 128

/* embed.cu: out[t, :] = table[tokens[t], :]; tokens were range-checked on the host. */
int pe_k_embed_f32(float *out, const pe_bf16 *table, const int32_t *tokens,
                   int64_t ntok, int H, cudaStream_t stream);
int pe_k_embed_bf16(pe_bf16 *out, const pe_bf16 *table, const int32_t *tokens,
                    int64_t ntok, int H, cudaStream_t stream);

/* rmsnorm.cu: out = bf16( bf16(x * rsqrt(mean(x^2) + eps)) * w ), math in fp32
 * (Hugging Face: normalise in fp32, cast to the activation dtype, then scale). */
int pe_k_rmsnorm(pe_bf16 *out, const float *x, const pe_bf16 *w,
                 int64_t nrow, int H, float eps, cudaStream_t stream);

/* rope.cu: in-place rotate_half RoPE on nheads heads of head_dim D that start at
 * column 0 of each row of x (row stride ld floats). pos[t] is the position of
 * token t inside its sequence; inv_freq has D/2 entries (host table, with the
 * llama3 scaling already applied). */
int pe_k_rope(float *x, int64_t ntok, int64_t ld, int nheads, int D,
              const int32_t *pos, const float *inv_freq, cudaStream_t stream);

/* elementwise.cu */
/* x[r, c] += bias[c] (fp32 x, bf16 bias). */
int pe_k_bias_add(float *x, const pe_bf16 *bias, int64_t nrow, int C, cudaStream_t stream);
/* out = bf16(relu(x + bias)); bias may be NULL. */
int pe_k_bias_relu_bf16(pe_bf16 *out, const float *x, const pe_bf16 *bias,
                        int64_t nrow, int C, cudaStream_t stream);
/* out = bf16(x), n elements. */
int pe_k_cast_bf16(pe_bf16 *out, const float *x, size_t n, cudaStream_t stream);
/* h += x, n elements (fp32). */
int pe_k_residual_add(float *h, const float *x, size_t n, cudaStream_t stream);
/* gu rows are [gate (F) | up (F)]; out[t, f] = bf16(silu(gate) * up). */
int pe_k_swiglu(pe_bf16 *out, const pe_bf16 *gu, int64_t ntok, int F, cudaStream_t stream);

/* attention.cu: causal grouped-query attention over packed segments.
 * qkv: (ntok, ld) bf16 rows holding q (NH*D) | k (NKV*D) | v (NKV*D).
 * out: (ntok, NH*D) bf16. tiles (ntiles) and spans: device arrays built by
 * pe_attn_plan (src/backend/cuda_ref.h; layout in attn_desc.h): a query row
 * at absolute position p reads the keys of its segment's spans at positions
 * p-window+1 .. p (window 0: 0 .. p), ancestors' spans included; layer picks
 * the layer of a span with a layer_stride (cache slots). D % 16 == 0,
 * D <= PE_ATTN_MAX_D, ld and every span's ld and layer_stride multiples of 8,
 * span pointers 16-byte aligned; a tile's spans must cover positions 0 to its
 * last query (pe_batch_check guarantees it for a checked batch). */
int pe_k_attention(pe_bf16 *out, const pe_bf16 *qkv, int64_t ld, const pe_attn_tile *tiles,
                   int64_t ntiles, const pe_attn_span *spans, int layer, int NH, int NKV, int D,
                   int window, cudaStream_t stream);
/* Sets, on the current device, the attention kernel's opt-in shared memory
 * (for head_dim D) and the maximum shared-memory carveout, and writes the
 * number of attention blocks one SM holds at D to *blocks_per_sm (may be
 * NULL). Call it once per device before the first pe_k_attention at D (the
 * backend does so when it is created): without it the launch fails with
 * cudaErrorInvalidValue, as its shared memory is above the 48 KiB default. */
int pe_k_attention_prepare(int D, int *blocks_per_sm);
/* Dynamic shared memory one attention block needs at head_dim D (110.5 KiB at
 * D = 128): above the device's sharedMemPerBlockOptin the launch fails, so the
 * backend compares the two when it is created (sm_86/sm_89 allow only 99 KiB). */
size_t pe_k_attention_smem_bytes(int D);

/* heads.cu: step-reward extraction at the read-out rows only. */
/* out[i, :] = h[rows[i], :] (fp32). */
int pe_k_gather_rows(float *out, const float *h, const int64_t *rows, int64_t nrow,
                     int H, cudaStream_t stream);
/* z[i * R + j] = x_i . w_j (+ b_j), x (nrow, H), w (R, H), b (R) or NULL: the
 * R logits of a PRM head at each read-out row (rewards: pe_head_read_rewards). */
int pe_k_head_rows(float *z, const pe_bf16 *x, const pe_bf16 *w, const pe_bf16 *b, int64_t nrow, int R, int H,
                   cudaStream_t stream);
/* reward[i] = exp(logits[i, tok] - logsumexp(logits[i, :])) over V columns. */
int pe_k_lse_pick(float *reward, const float *logits, int64_t nrow, int V, int tok,
                  cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
