/* Thread count of the CPU backend (backend.h). */
#include "backend.h"

#include <omp.h>

void pe_backend_cpu_threads(int n)
{
    if (n < 1)
        n = 1;
    /* One pool: the forward pass's OpenMP loops and the matrix products' tiles
     * (OpenBLAS itself runs single-threaded: blas.h). */
    omp_set_num_threads(n);
}
