#include "blas.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/module.h"

typedef void (*sgemm_fn)(int, int, int, float, const float *, int, const float *, int, float,
                         float *, int);
typedef void (*threads_fn)(int);

static sgemm_fn sgemm;
static threads_fn set_threads;
static int wanted_threads; /* 0: OpenBLAS's own default */

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
    set_threads = t;
    if (wanted_threads > 0)
        set_threads(wanted_threads);
    sgemm = g;
    return PE_OK;
}

void pe_blas_sgemm_nt(int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                      int ldb, float beta, float *C, int ldc)
{
    if (!sgemm) { /* a caller that skipped pe_blas_load: a bug, not bad input */
        fprintf(stderr, "prmeval: internal error: matrix product before pe_blas_load\n");
        abort();
    }
    sgemm(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void pe_blas_threads(int n)
{
    wanted_threads = n;
    if (set_threads)
        set_threads(n);
}
