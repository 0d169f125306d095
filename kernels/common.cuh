/* Helpers shared by the kernels: bf16 <-> fp32 through raw bits, and the
 * row-reduction idiom (warp shuffle, then a shared array across warps). */
#ifndef PE_KERNELS_COMMON_CUH
#define PE_KERNELS_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels.h"

static __device__ __forceinline__ float pe_ld_bf16(const pe_bf16 *p)
{
    return __bfloat162float(*reinterpret_cast<const __nv_bfloat16 *>(p));
}

/* Round to nearest even, like torch's .to(torch.bfloat16). */
static __device__ __forceinline__ pe_bf16 pe_to_bf16(float x)
{
    __nv_bfloat16 b = __float2bfloat16_rn(x);
    return *reinterpret_cast<pe_bf16 *>(&b);
}

static __device__ __forceinline__ float pe_warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

static __device__ __forceinline__ float pe_warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Sum over the whole block (blockDim.x a multiple of 32, at most 1024); every
 * thread gets the result. `shared` holds 32 floats. */
static __device__ __forceinline__ float pe_block_sum(float v, float *shared)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarp = blockDim.x >> 5;
    v = pe_warp_sum(v);
    __syncthreads();                 /* shared may still be read by a previous call */
    if (lane == 0)
        shared[warp] = v;
    __syncthreads();
    v = lane < nwarp ? shared[lane] : 0.0f;
    return pe_warp_sum(v);
}

static __device__ __forceinline__ float pe_block_max(float v, float *shared)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarp = blockDim.x >> 5;
    v = pe_warp_max(v);
    __syncthreads();
    if (lane == 0)
        shared[warp] = v;
    __syncthreads();
    v = lane < nwarp ? shared[lane] : -INFINITY;
    return pe_warp_max(v);
}

static inline int pe_launch_status(void) { return (int)cudaGetLastError(); }

/* Grid size for a grid-stride loop over n elements, capped so the count fits. */
static inline unsigned pe_grid_1d(size_t n, int block)
{
    size_t g = (n + (size_t)block - 1) / (size_t)block;
    if (g > 65535u * 16u)
        g = 65535u * 16u;
    return g ? (unsigned)g : 1u;
}

#endif
