/* cuBLASLt wrapper; see cuda_gemm.h. Part of the CUDA module (libprmeval_cuda.so). */

#include "cuda_gemm.h"

#include <string.h>

#include "cuda_check.h"

int pe_gemm_init(pe_gemm *g, size_t workspace_bytes, pe_err *e)
{
    memset(g, 0, sizeof *g);
    if (CUBLAS_CHECK(cublasLtCreate(&g->lt), e))
        return e->code;
    if (workspace_bytes && CUDA_CHECK(cudaMalloc(&g->workspace, workspace_bytes), e)) {
        cublasLtDestroy(g->lt);
        g->lt = NULL;
        return e->code;
    }
    g->workspace_bytes = workspace_bytes;
    return PE_OK;
}

void pe_gemm_free(pe_gemm *g)
{
    if (g->workspace)
        cudaFree(g->workspace);
    if (g->lt)
        cublasLtDestroy(g->lt);
    memset(g, 0, sizeof *g);
}

/* cuBLASLt is column-major. Row-major out (M, N) is column-major out^T (N, M)
 * = w (N, K) . x^T (K, M); the row-major w is a column-major (K, N) matrix,
 * used transposed (A, op T), and the row-major x a column-major (K, M) one
 * (B, op N). D = C = out, so accumulate = 1 adds in place. */
int pe_gemm_bf16(pe_gemm *g, void *out, int out_f32, int accumulate, const uint16_t *x,
                 const uint16_t *w, int64_t M, int64_t N, int64_t K, cudaStream_t stream,
                 pe_err *e)
{
    if (M <= 0)
        return PE_OK;
    if (accumulate && !out_f32)
        return pe_fail(e, PE_EGENERIC, "%s:%d: accumulating GEMM needs an fp32 output", __FILE__, __LINE__);
    cudaDataType_t dt = out_f32 ? CUDA_R_32F : CUDA_R_16BF;
    cublasLtMatmulDesc_t op = NULL;
    cublasLtMatrixLayout_t la = NULL, lb = NULL, ld = NULL;
    cublasLtMatmulPreference_t pref = NULL;
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    int rc = PE_OK;

    if ((rc = CUBLAS_CHECK(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F), e)))
        goto done;
    if ((rc = CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), e)) ||
        (rc = CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), e)) ||
        (rc = CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&la, CUDA_R_16BF, (uint64_t)K, (uint64_t)N, K), e)) ||
        (rc = CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&lb, CUDA_R_16BF, (uint64_t)K, (uint64_t)M, K), e)) ||
        (rc = CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&ld, dt, (uint64_t)N, (uint64_t)M, N), e)))
        goto done;

    const cublasLtMatmulAlgo_t *algo = NULL;
    for (int i = 0; i < g->ncache; i++) {
        const pe_gemm_plan *p = &g->cache[i];
        if (p->M == M && p->N == N && p->K == K && p->out_f32 == out_f32 && p->accumulate == accumulate)
            algo = &p->algo;
    }
    if (!algo) {
        cublasLtMatmulHeuristicResult_t res;
        int found = 0;
        if ((rc = CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref), e)) ||
            (rc = CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                                    &g->workspace_bytes, sizeof g->workspace_bytes), e)) ||
            (rc = CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(g->lt, op, la, lb, ld, ld, pref, 1, &res, &found), e)))
            goto done;
        if (found < 1) {
            rc = pe_fail(e, PE_ERESOURCE, "%s:%d: cuBLASLt has no algorithm for bf16 GEMM M=%lld N=%lld K=%lld",
                         __FILE__, __LINE__, (long long)M, (long long)N, (long long)K);
            goto done;
        }
        pe_gemm_plan *p = &g->cache[g->next];
        p->M = M, p->N = N, p->K = K, p->out_f32 = out_f32, p->accumulate = accumulate;
        p->algo = res.algo;
        g->next = (g->next + 1) % PE_GEMM_CACHE;
        if (g->ncache < PE_GEMM_CACHE)
            g->ncache++;
        algo = &p->algo;
    }
    rc = CUBLAS_CHECK(cublasLtMatmul(g->lt, op, &alpha, w, la, x, lb, &beta, out, ld, out, ld, algo,
                                     g->workspace, g->workspace_bytes, stream), e);
done:
    if (pref)
        cublasLtMatmulPreferenceDestroy(pref);
    if (ld)
        cublasLtMatrixLayoutDestroy(ld);
    if (lb)
        cublasLtMatrixLayoutDestroy(lb);
    if (la)
        cublasLtMatrixLayoutDestroy(la);
    if (op)
        cublasLtMatmulDescDestroy(op);
    return rc;
}
