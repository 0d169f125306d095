/* Step-reward extraction. The forward pass only normalises and scores the
 * read-out rows (a few per step), so these kernels see nread rows, not ntok:
 * gather the rows, then apply only the head rows the family needs. Dot
 * products accumulate in fp32, one warp per row. */
#include "common.cuh"

__global__ void pe_gather_rows_kernel(float *out, const float *h, const int64_t *rows, int H)
{
    const float *src = h + (size_t)rows[blockIdx.x] * (size_t)H;
    float *dst = out + (size_t)blockIdx.x * (size_t)H;
    for (int c = threadIdx.x; c < H; c += blockDim.x)
        dst[c] = src[c];
}

static __device__ float pe_warp_dot(const pe_bf16 *x, const pe_bf16 *w, int H)
{
    float s = 0.0f;
    for (int c = threadIdx.x & 31; c < H; c += 32)
        s += pe_ld_bf16(x + c) * pe_ld_bf16(w + c);
    return pe_warp_sum(s);
}

/* 4 warps per block, one row each. */
__global__ void pe_head_pair_kernel(float *reward, const pe_bf16 *x, const pe_bf16 *wa,
                                    const pe_bf16 *wb, const pe_bf16 *ba, const pe_bf16 *bb,
                                    int64_t nrow, int H)
{
    int64_t r = (int64_t)blockIdx.x * 4 + (threadIdx.x >> 5);
    if (r >= nrow)
        return;
    const pe_bf16 *xr = x + (size_t)r * (size_t)H;
    float za = pe_warp_dot(xr, wa, H) + (ba ? pe_ld_bf16(ba) : 0.0f);
    float zb = pe_warp_dot(xr, wb, H) + (bb ? pe_ld_bf16(bb) : 0.0f);
    if ((threadIdx.x & 31) == 0)
        reward[r] = 1.0f / (1.0f + expf(zb - za));
}

__global__ void pe_head_value_kernel(float *reward, const pe_bf16 *x, const pe_bf16 *w,
                                     const pe_bf16 *b, int64_t nrow, int H)
{
    int64_t r = (int64_t)blockIdx.x * 4 + (threadIdx.x >> 5);
    if (r >= nrow)
        return;
    float z = pe_warp_dot(x + (size_t)r * (size_t)H, w, H) + (b ? pe_ld_bf16(b) : 0.0f);
    if ((threadIdx.x & 31) == 0)
        reward[r] = 1.0f / (1.0f + expf(-z));
}

/* One block per row: max, then sum of exp(z - max); p = exp(z_tok - max) / sum. */
__global__ void pe_lse_pick_kernel(float *reward, const float *logits, int V, int tok)
{
    __shared__ float red[32];
    const float *z = logits + (size_t)blockIdx.x * (size_t)V;
    float m = -INFINITY;
    for (int c = threadIdx.x; c < V; c += blockDim.x)
        m = fmaxf(m, z[c]);
    m = pe_block_max(m, red);
    float s = 0.0f;
    for (int c = threadIdx.x; c < V; c += blockDim.x)
        s += expf(z[c] - m);
    s = pe_block_sum(s, red);
    if (threadIdx.x == 0)
        reward[blockIdx.x] = expf(z[tok] - m) / s;
}

extern "C" int pe_k_gather_rows(float *out, const float *h, const int64_t *rows, int64_t nrow,
                                int H, cudaStream_t stream)
{
    if (nrow > 0)
        pe_gather_rows_kernel<<<(unsigned)nrow, 256, 0, stream>>>(out, h, rows, H);
    return pe_launch_status();
}

extern "C" int pe_k_head_pair(float *reward, const pe_bf16 *x, const pe_bf16 *wa,
                              const pe_bf16 *wb, const pe_bf16 *ba, const pe_bf16 *bb,
                              int64_t nrow, int H, cudaStream_t stream)
{
    if (nrow > 0)
        pe_head_pair_kernel<<<(unsigned)((nrow + 3) / 4), 128, 0, stream>>>(reward, x, wa, wb,
                                                                         ba, bb, nrow, H);
    return pe_launch_status();
}

extern "C" int pe_k_head_value(float *reward, const pe_bf16 *x, const pe_bf16 *w,
                               const pe_bf16 *b, int64_t nrow, int H, cudaStream_t stream)
{
    if (nrow > 0)
        pe_head_value_kernel<<<(unsigned)((nrow + 3) / 4), 128, 0, stream>>>(reward, x, w, b,
                                                                          nrow, H);
    return pe_launch_status();
}

extern "C" int pe_k_lse_pick(float *reward, const float *logits, int64_t nrow, int V, int tok,
                             cudaStream_t stream)
{
    if (nrow > 0)
        pe_lse_pick_kernel<<<(unsigned)nrow, 512, 0, stream>>>(reward, logits, V, tok);
    return pe_launch_status();
}
