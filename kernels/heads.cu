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

/* z[k] = x_r . w_j (+ b_j) for k = r * R + j: the head's R logits of each
 * read-out row (the reward rule is applied on the host, pe_head_read_rewards).
 * One warp per logit, 4 warps per block; a warp shares k, so it returns whole. */
__global__ void pe_head_rows_kernel(float *z, const pe_bf16 *x, const pe_bf16 *w, const pe_bf16 *b,
                                    int64_t nrow, int R, int H)
{
    int64_t k = (int64_t)blockIdx.x * 4 + (threadIdx.x >> 5);
    if (k >= nrow * R)
        return;
    int64_t r = k / R;
    int j = (int)(k % R);
    float v = pe_warp_dot(x + (size_t)r * (size_t)H, w + (size_t)j * (size_t)H, H) + (b ? pe_ld_bf16(b + j) : 0.0f);
    if ((threadIdx.x & 31) == 0)
        z[k] = v;
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

extern "C" int pe_k_head_rows(float *z, const pe_bf16 *x, const pe_bf16 *w, const pe_bf16 *b,
                              int64_t nrow, int R, int H, cudaStream_t stream)
{
    if (nrow > 0 && R > 0)
        pe_head_rows_kernel<<<(unsigned)((nrow * R + 3) / 4), 128, 0, stream>>>(z, x, w, b, nrow, R, H);
    return pe_launch_status();
}

extern "C" int pe_k_lse_pick(float *reward, const float *logits, int64_t nrow, int V, int tok,
                             cudaStream_t stream)
{
    if (nrow > 0)
        pe_lse_pick_kernel<<<(unsigned)nrow, 512, 0, stream>>>(reward, logits, V, tok);
    return pe_launch_status();
}
