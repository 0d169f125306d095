/* Thread count of the CPU backend (backend.h). */
#include "backend.h"

#include <omp.h>

#include "blas.h"

void pe_backend_cpu_threads(int n)
{
    if (n < 1)
        n = 1;
    /* Both pools: the forward pass's OpenMP loops and OpenBLAS's own threads
     * (Debian's default OpenBLAS is the pthreads build, which ignores OpenMP's setting). */
    omp_set_num_threads(n);
    pe_blas_threads(n);
}
