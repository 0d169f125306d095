/* Checks for CUDA runtime, cuBLASLt and kernel-launch results: a failure is
 * turned into a pe_err naming the source file, line and the call, and the
 * caller returns it (library code never exits). Only for PE_HAVE_CUDA builds. */
#ifndef PE_CUDA_CHECK_H
#define PE_CUDA_CHECK_H

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include "../core/err.h"

static inline int pe_cuda_check_(cudaError_t r, const char *call, const char *file, int line,
                                 pe_err *e)
{
    if (r == cudaSuccess)
        return PE_OK;
    return pe_fail(e, PE_ERESOURCE, "%s:%d: %s failed: %s (%s)", file, line, call,
                   cudaGetErrorString(r), cudaGetErrorName(r));
}

static inline int pe_cublas_check_(cublasStatus_t r, const char *call, const char *file, int line,
                                   pe_err *e)
{
    if (r == CUBLAS_STATUS_SUCCESS)
        return PE_OK;
    return pe_fail(e, PE_ERESOURCE, "%s:%d: %s failed: %s", file, line, call,
                   cublasLtGetStatusString(r));
}

/* CUDA_CHECK(cudaMalloc(...), e): evaluates to PE_OK or the error code.
 * KERNEL_CHECK takes the int a kernels/kernels.h wrapper returns. */
#define CUDA_CHECK(call, e) pe_cuda_check_((call), #call, __FILE__, __LINE__, (e))
#define CUBLAS_CHECK(call, e) pe_cublas_check_((call), #call, __FILE__, __LINE__, (e))
#define KERNEL_CHECK(call, e) pe_cuda_check_((cudaError_t)(call), #call, __FILE__, __LINE__, (e))

#endif
