/* The CPU backend's matrix product, from OpenBLAS loaded on first use
 * (blas_loader.c opens libprmeval_blas.so, blas_module.c). Debian's pthreads
 * OpenBLAS starts a busy-waiting thread per core as soon as it is loaded;
 * linked into the executable, those threads took the cores from every
 * command, `eval`'s parser included, though only the CPU backend multiplies.
 *
 * OpenBLAS itself always runs single-threaded here: its own threading splits a
 * product differently for 1, 2 or 3 threads, and the rewards then differ in the
 * last bits with the thread count (so with the rank count on a node). The
 * product is cut instead into row tiles of TILE_M rows and column tiles, each
 * tile one single-threaded OpenBLAS call, the tiles shared among the OpenMP
 * threads.
 *
 * Within one call OpenBLAS's result for a row can still depend on where the
 * row sits: its Haswell/Zen kernel computes the rows in panels of 12, the
 * first 6 of a panel one way and the last 6 another, and a short call or a
 * call's last rows take an edge kernel. So each product's tile shape (columns,
 * K) gets its *period* P, measured once per process by running OpenBLAS on
 * probe rows (blas_loader.c): the smallest divisor of TILE_M such that in any
 * call of a multiple of P rows a row's result depends only on its own numbers
 * and its position modulo P (1 for the SkylakeX kernel, 12 for Haswell and
 * Zen). Each group of rows is then placed at a position congruent to its
 * `align` modulo P, the gaps filled with zero rows, and calls always cover a
 * multiple of P rows: a row's result depends on its numbers, B, N, K and
 * (align + its index in the group) mod P only; not on the thread count, the
 * other groups or the batch. When no period below TILE_M passes the probe,
 * each group is tiled on its own from its first row (nothing shared with
 * other groups, no assumption about OpenBLAS): the same guarantee with P =
 * TILE_M, and align unused. */
#ifndef PE_BLAS_H
#define PE_BLAS_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

/* Loads OpenBLAS (once) and sets it to one thread. PE_ERESOURCE with the
 * loader's reason when it cannot. */
int pe_blas_load(pe_err *e);

/* Rows in n groups: group g is rows start[g] .. start[g+1]-1 (start[0] = 0,
 * start[n] = M), e.g. the sequences or segments of a packed batch; group g's
 * first row is placed as the row of index align[g] (align may be NULL: 0),
 * e.g. a segment's absolute position, so that a segment computed after its
 * prefix gets the bits of the same rows in the whole prompt. */
typedef struct pe_row_groups {
    const int64_t *start;
    const int64_t *align;
    int n;
} pe_row_groups;

/* Work memory of the products: the placement of the groups and each
 * thread's copy of the tile it computes, when its rows are not consecutive in
 * A. pe_blas_stage_floats: floats for products of inner dimension up to K, up
 * to ngroups groups, on up to nthreads OpenMP threads. */
typedef struct pe_blas_stage {
    float *mem;
    size_t floats;
} pe_blas_stage;

size_t pe_blas_stage_floats(int K, int nthreads, int ngroups);

/* C (M x N, row-major, ldc) = alpha * A (M x K) * B^T (B is N x K) + beta * C,
 * on the OpenMP threads (omp_set_num_threads), rows grouped as above; stage
 * holds pe_blas_stage_floats(K, omp_get_max_threads(), rows->n) floats (less
 * is a bug: the process stops with a message). A result
 * depends only on its row of A, its group's align and its index in the group
 * (modulo the period), its row of B, N, K and its C; never on the thread
 * count nor on the other rows of the call. A sequence's rewards are then the
 * same bits in whatever batch, rank or resume it is computed.
 * pe_blas_load must have succeeded (pe_backend_cpu_create calls it). */
void pe_blas_sgemm_nt_groups(const pe_row_groups *rows, int N, int K, float alpha, const float *A, int lda,
                             const float *B, int ldb, float beta, float *C, int ldc, const pe_blas_stage *stage);

/* The period (above) of the tiles of a product of N columns and inner
 * dimension K with these B rows: TILE_M when none passes the probe. For tests
 * and docs. */
int pe_blas_period(int N, int K, const float *B, int ldb);

/* Tests only: 0 measures periods (the default); TILE_M forces the per-group
 * tiling; another divisor of TILE_M forces that period. Returns TILE_M. */
int pe_blas_force_period(int period);

/* The module's side (blas_module.c), reached through dlsym. */
void pe_blas_module_sgemm_nt(int M, int N, int K, float alpha, const float *A, int lda,
                             const float *B, int ldb, float beta, float *C, int ldc);
void pe_blas_module_threads(int n);

#endif
