/* Elementwise kernels: bias add, bias+ReLU, cast, residual add, SwiGLU.
 * Grid-stride loops; math in fp32, one rounding to bf16 at the end. */
#include "common.cuh"

__global__ void pe_bias_add_kernel(float *x, const pe_bf16 *bias, size_t n, int C)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        x[i] += pe_ld_bf16(bias + i % (size_t)C);
}

__global__ void pe_bias_relu_kernel(pe_bf16 *out, const float *x, const pe_bf16 *bias,
                                    size_t n, int C)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float v = x[i] + (bias ? pe_ld_bf16(bias + i % (size_t)C) : 0.0f);
        out[i] = pe_to_bf16(v > 0.0f ? v : 0.0f);
    }
}

__global__ void pe_cast_kernel(pe_bf16 *out, const float *x, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        out[i] = pe_to_bf16(x[i]);
}

__global__ void pe_residual_kernel(float *h, const float *x, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        h[i] += x[i];
}

__global__ void pe_swiglu_kernel(pe_bf16 *out, const pe_bf16 *gu, size_t n, int F)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t t = i / (size_t)F, f = i % (size_t)F;
        const pe_bf16 *row = gu + t * 2 * (size_t)F;
        float g = pe_ld_bf16(row + f), u = pe_ld_bf16(row + F + f);
        out[i] = pe_to_bf16(g / (1.0f + expf(-g)) * u);
    }
}

extern "C" int pe_k_bias_add(float *x, const pe_bf16 *bias, int64_t nrow, int C, cudaStream_t stream)
{
    size_t n = (size_t)nrow * (size_t)C;
    if (n)
        pe_bias_add_kernel<<<pe_grid_1d(n, 256), 256, 0, stream>>>(x, bias, n, C);
    return pe_launch_status();
}

extern "C" int pe_k_bias_relu_bf16(pe_bf16 *out, const float *x, const pe_bf16 *bias,
                                   int64_t nrow, int C, cudaStream_t stream)
{
    size_t n = (size_t)nrow * (size_t)C;
    if (n)
        pe_bias_relu_kernel<<<pe_grid_1d(n, 256), 256, 0, stream>>>(out, x, bias, n, C);
    return pe_launch_status();
}

extern "C" int pe_k_cast_bf16(pe_bf16 *out, const float *x, size_t n, cudaStream_t stream)
{
    if (n)
        pe_cast_kernel<<<pe_grid_1d(n, 256), 256, 0, stream>>>(out, x, n);
    return pe_launch_status();
}

extern "C" int pe_k_residual_add(float *h, const float *x, size_t n, cudaStream_t stream)
{
    if (n)
        pe_residual_kernel<<<pe_grid_1d(n, 256), 256, 0, stream>>>(h, x, n);
    return pe_launch_status();
}

extern "C" int pe_k_swiglu(pe_bf16 *out, const pe_bf16 *gu, int64_t ntok, int F, cudaStream_t stream)
{
    size_t n = (size_t)ntok * (size_t)F;
    if (n)
        pe_swiglu_kernel<<<pe_grid_1d(n, 256), 256, 0, stream>>>(out, gu, n, F);
    return pe_launch_status();
}
