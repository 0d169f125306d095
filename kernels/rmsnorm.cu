/* RMSNorm, one block per row: fp32 sum of squares reduced by warp shuffles and
 * a shared array across warps, then the Hugging Face order of roundings:
 * normalise in fp32, cast to bf16, multiply by the bf16 weight, cast again. */
#include "common.cuh"

__global__ void pe_rmsnorm_kernel(pe_bf16 *out, const float *x, const pe_bf16 *w, int H, float eps)
{
    __shared__ float red[32];
    const float *xr = x + (size_t)blockIdx.x * (size_t)H;
    pe_bf16 *o = out + (size_t)blockIdx.x * (size_t)H;
    float ss = 0.0f;
    for (int c = threadIdx.x; c < H; c += blockDim.x)
        ss += xr[c] * xr[c];
    ss = pe_block_sum(ss, red);
    float r = rsqrtf(ss / (float)H + eps);
    for (int c = threadIdx.x; c < H; c += blockDim.x) {
        float n = __bfloat162float(__float2bfloat16_rn(xr[c] * r));
        o[c] = pe_to_bf16(n * pe_ld_bf16(w + c));
    }
}

extern "C" int pe_k_rmsnorm(pe_bf16 *out, const float *x, const pe_bf16 *w,
                            int64_t nrow, int H, float eps, cudaStream_t stream)
{
    if (nrow > 0)
        pe_rmsnorm_kernel<<<(unsigned)nrow, 256, 0, stream>>>(out, x, w, H, eps);
    return pe_launch_status();
}
