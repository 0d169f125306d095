/* The CPU backend's matrix product and BLAS thread count, from OpenBLAS loaded
 * on first use (blas_loader.c opens libprmeval_blas.so, blas_module.c). Debian's
 * pthreads OpenBLAS starts a busy-waiting thread per core as soon as it is
 * loaded; linked into the executable, those threads took the cores from every
 * command, `eval`'s parser included, though only the CPU backend multiplies. */
#ifndef PE_BLAS_H
#define PE_BLAS_H

#include "../core/err.h"

/* Loads OpenBLAS (once). PE_ERESOURCE with the loader's reason when it cannot. */
int pe_blas_load(pe_err *e);

/* C (M x N, row-major, ldc) = alpha * A (M x K) * B^T (B is N x K) + beta * C.
 * pe_blas_load must have succeeded (pe_backend_cpu_create calls it). */
void pe_blas_sgemm_nt(int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                      int ldb, float beta, float *C, int ldc);

/* OpenBLAS's threads from now on; applied at load time when not yet loaded. */
void pe_blas_threads(int n);

/* The module's side (blas_module.c), reached through dlsym. */
void pe_blas_module_sgemm_nt(int M, int N, int K, float alpha, const float *A, int lda,
                             const float *B, int ldb, float beta, float *C, int ldc);
void pe_blas_module_threads(int n);

#endif
