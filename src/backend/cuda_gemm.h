/* Dense matrix products for the CUDA backend through cuBLASLt: bf16 inputs,
 * fp32 compute, bf16 or fp32 output. Activations are row-major (tokens, in)
 * and weights are stored [out, in] as in the checkpoints, so every product is
 * out (M, N) = beta * out + x (M, K) . w (N, K)^T. Only for PE_HAVE_CUDA builds. */
#ifndef PE_CUDA_GEMM_H
#define PE_CUDA_GEMM_H

#include <stdint.h>

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include "../core/err.h"

#define PE_GEMM_CACHE 32

typedef struct pe_gemm_plan {
    int64_t M, N, K;
    int out_f32, accumulate;
    cublasLtMatmulAlgo_t algo;
} pe_gemm_plan;

typedef struct pe_gemm {
    cublasLtHandle_t lt;
    void *workspace;            /* device, workspace_bytes */
    size_t workspace_bytes;
    pe_gemm_plan cache[PE_GEMM_CACHE];   /* heuristic results, round-robin */
    int ncache, next;
} pe_gemm;

int pe_gemm_init(pe_gemm *g, size_t workspace_bytes, pe_err *e);
void pe_gemm_free(pe_gemm *g);

/* out is float (out_f32 = 1) or bf16 bits (out_f32 = 0). accumulate = 1 adds
 * to out (beta = 1: how the residual additions are fused); it needs out_f32. */
int pe_gemm_bf16(pe_gemm *g, void *out, int out_f32, int accumulate, const uint16_t *x,
                 const uint16_t *w, int64_t M, int64_t N, int64_t K, cudaStream_t stream,
                 pe_err *e);

#endif
