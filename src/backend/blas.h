/* The CPU backend's matrix product, from OpenBLAS loaded on first use
 * (blas_loader.c opens libprmeval_blas.so, blas_module.c). Debian's pthreads
 * OpenBLAS starts a busy-waiting thread per core as soon as it is loaded;
 * linked into the executable, those threads took the cores from every
 * command, `eval`'s parser included, though only the CPU backend multiplies.
 *
 * OpenBLAS itself always runs single-threaded here: its own threading splits a
 * product differently for 1, 2 or 3 threads, and the rewards then differ in the
 * last bits with the thread count (so with the rank count on a node). The
 * product is cut instead into fixed tiles that depend only on its shape, each
 * tile one single-threaded OpenBLAS call, the tiles shared among the OpenMP
 * threads: the same bits for any thread count. */
#ifndef PE_BLAS_H
#define PE_BLAS_H

#include <stdint.h>

#include "../core/err.h"

/* Loads OpenBLAS (once) and sets it to one thread. PE_ERESOURCE with the
 * loader's reason when it cannot. */
int pe_blas_load(pe_err *e);

/* C (M x N, row-major, ldc) = alpha * A (M x K) * B^T (B is N x K) + beta * C,
 * on the OpenMP threads (omp_set_num_threads), where the rows come in ngroups
 * groups: group g is rows row_start[g] .. row_start[g+1]-1 (row_start[0] = 0,
 * row_start[ngroups] = M), e.g. the sequences of a packed batch.
 * OpenBLAS's result for a row depends on how many rows its call has and where
 * the row sits among them (its kernels differ at the edges), so each group is
 * tiled from its own first row: a result depends only on its group (its rows
 * of A), its row of B, N, K and its C; not on the thread count, nor on the
 * other groups of the call. A sequence's rewards are then the same bits in
 * whatever batch, rank or resume it is computed.
 * pe_blas_load must have succeeded (pe_backend_cpu_create calls it). */
void pe_blas_sgemm_nt_groups(const int64_t *row_start, int ngroups, int N, int K, float alpha,
                             const float *A, int lda, const float *B, int ldb, float beta, float *C,
                             int ldc);

/* The module's side (blas_module.c), reached through dlsym. */
void pe_blas_module_sgemm_nt(int M, int N, int K, float alpha, const float *A, int lda,
                             const float *B, int ldb, float beta, float *C, int ldc);
void pe_blas_module_threads(int n);

#endif
