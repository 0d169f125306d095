#include "blas.h"

#include <dlfcn.h>
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/module.h"

typedef void (*sgemm_fn)(int, int, int, float, const float *, int, const float *, int, float,
                         float *, int);
typedef void (*threads_fn)(int);

static sgemm_fn sgemm;

int pe_blas_load(pe_err *e)
{
    if (sgemm)
        return PE_OK;
    static void *m; /* kept open: a second attempt after a failure would fail the same way */
    char why[2 * PATH_MAX + 512];
    if (!m && !(m = pe_module_open("libprmeval_blas.so", "PRMEVAL_BLAS_MODULE", why, sizeof why)))
        return pe_fail(e, PE_ERESOURCE, "the CPU backend needs OpenBLAS: %s", why);
    sgemm_fn g = (sgemm_fn)dlsym(m, "pe_blas_module_sgemm_nt");
    threads_fn t = (threads_fn)dlsym(m, "pe_blas_module_threads");
    if (!g || !t)
        return pe_fail(e, PE_ERESOURCE, "the CPU backend needs OpenBLAS: the module lacks %s",
                       g ? "pe_blas_module_threads" : "pe_blas_module_sgemm_nt");
    t(1); /* blas.h: the threads are ours (OpenMP over fixed tiles), never OpenBLAS's */
    sgemm = g;
    return PE_OK;
}

/* The tile: a multiple of every OpenBLAS kernel's register block (16 x 4 to
 * 32 x 16), wide enough that packing (M + N) x K per tile stays small next to
 * its 2 M N K flops, small enough that 2-3 threads share a 0.5B model's
 * products evenly. Changing it changes results in the last bits (blas.h) and
 * the speed (bench/bench_cpu_forward.sh), never the thread-count invariance. */
enum { TILE_M = 128, TILE_N = 256 };

void pe_blas_sgemm_nt_groups(const int64_t *row_start, int ngroups, int N, int K, float alpha,
                             const float *A, int lda, const float *B, int ldb, float beta, float *C,
                             int ldc)
{
    if (!sgemm) { /* a caller that skipped pe_blas_load: a bug, not bad input */
        fprintf(stderr, "prmeval: internal error: matrix product before pe_blas_load\n");
        abort();
    }
    /* The row tiles of all groups are numbered in order; counting them rather
     * than listing them keeps the call free of allocations. */
    int64_t tiles_m = 0;
    for (int g = 0; g < ngroups; g++)
        tiles_m += (row_start[g + 1] - row_start[g] + TILE_M - 1) / TILE_M;
    int64_t tn = (N + TILE_N - 1) / TILE_N, tiles = tiles_m * tn;
    #pragma omp parallel if (tiles > 1)
    {
        int g = 0;
        int64_t g_first = 0; /* number of the first row tile of group g */
        #pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < tiles; t++) {
            int64_t rt = t / tn; /* row tile; t ascends within a thread, so g only moves on */
            for (;;) {
                int64_t n_g = (row_start[g + 1] - row_start[g] + TILE_M - 1) / TILE_M;
                if (rt < g_first + n_g)
                    break;
                g_first += n_g;
                g++;
            }
            int64_t i = row_start[g] + (rt - g_first) * TILE_M, end = row_start[g + 1];
            int j = (int)(t % tn) * TILE_N;
            int m = end - i < TILE_M ? (int)(end - i) : TILE_M, n = N - j < TILE_N ? N - j : TILE_N;
            sgemm(m, n, K, alpha, A + (size_t)i * (size_t)lda, lda, B + (size_t)j * (size_t)ldb, ldb, beta,
                  C + (size_t)i * (size_t)ldc + (size_t)j, ldc);
        }
    }
}
