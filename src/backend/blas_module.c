/* libprmeval_blas.so: the only code linked to OpenBLAS (see blas.h for why). */
#include "blas.h"

#include <cblas.h>

#include "../core/module.h"

PE_MODULE_DEFINE_ABI;

__attribute__((visibility("default")))
void pe_blas_module_sgemm_nt(int M, int N, int K, float alpha, const float *A, int lda,
                             const float *B, int ldb, float beta, float *C, int ldc)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

__attribute__((visibility("default")))
void pe_blas_module_threads(int n)
{
    openblas_set_num_threads(n);
}
