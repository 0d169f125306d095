/* Embedding gather: one block per token row, threads stride over H. */
#include "common.cuh"

template <typename T> static __device__ __forceinline__ T pe_store(float x);
template <> __device__ __forceinline__ float pe_store<float>(float x) { return x; }
template <> __device__ __forceinline__ pe_bf16 pe_store<pe_bf16>(float x) { return pe_to_bf16(x); }

template <typename T>
__global__ void pe_embed_kernel(T *out, const pe_bf16 *table, const int32_t *tokens, int H)
{
    int64_t t = blockIdx.x;
    const pe_bf16 *row = table + (size_t)tokens[t] * (size_t)H;
    T *o = out + (size_t)t * (size_t)H;
    for (int c = threadIdx.x; c < H; c += blockDim.x)
        o[c] = pe_store<T>(pe_ld_bf16(row + c));   /* exact: bf16 -> fp32 -> bf16 */
}

extern "C" int pe_k_embed_f32(float *out, const pe_bf16 *table, const int32_t *tokens,
                              int64_t ntok, int H, cudaStream_t stream)
{
    if (ntok > 0)
        pe_embed_kernel<float><<<(unsigned)ntok, 256, 0, stream>>>(out, table, tokens, H);
    return pe_launch_status();
}

extern "C" int pe_k_embed_bf16(pe_bf16 *out, const pe_bf16 *table, const int32_t *tokens,
                               int64_t ntok, int H, cudaStream_t stream)
{
    if (ntok > 0)
        pe_embed_kernel<pe_bf16><<<(unsigned)ntok, 256, 0, stream>>>(out, table, tokens, H);
    return pe_launch_status();
}
