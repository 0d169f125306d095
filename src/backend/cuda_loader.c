/* The CUDA backend's entry points in every build. The backend itself lives in
 * libprmeval_cuda.so (cuda.c, cuda_gemm.c, kernels/), opened here on first use:
 * the CUDA runtime and cuBLASLt are then loaded only by runs that want a GPU,
 * not by every `eval`, `rescore` or `tokenize` (they cost 0.25 s and 200 MB of
 * resident memory at each start). The module is found as module.h says, with
 * PRMEVAL_CUDA_MODULE naming its path when set. */
#include "backend.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>

#include "../core/module.h"

#ifdef PE_HAVE_CUDA

typedef int (*create_fn)(pe_backend *, const pe_model *, const pe_head_spec *, int, pe_err *);
typedef int (*available_fn)(int *, char *, int);

static void *module;
static char module_error[2 * PATH_MAX + 512];

/* Opens the module once; on failure module_error says why. */
static void *open_module(void)
{
    if (!module && !module_error[0])
        module = pe_module_open("libprmeval_cuda.so", "PRMEVAL_CUDA_MODULE", module_error,
                                sizeof module_error);
    return module;
}

int pe_backend_cuda_available(int *ndevices, char *why, int whylen)
{
    *ndevices = 0;
    void *m = open_module();
    available_fn f = m ? (available_fn)dlsym(m, "pe_cuda_module_available") : NULL;
    if (!f) {
        if (why && whylen > 0)
            snprintf(why, (size_t)whylen, "%s", m ? "the CUDA module lacks pe_cuda_module_available" : module_error);
        return 0;
    }
    return f(ndevices, why, whylen);
}

int pe_backend_cuda_create(pe_backend *b, const pe_model *m, const pe_head_spec *head, int device, pe_err *e)
{
    void *mod = open_module();
    create_fn f = mod ? (create_fn)dlsym(mod, "pe_cuda_module_create") : NULL;
    if (!f)
        return pe_fail(e, PE_ERESOURCE, "CUDA backend requested for device %d: %s", device,
                       mod ? "the CUDA module lacks pe_cuda_module_create" : module_error);
    return f(b, m, head, device, e);
}

#else

int pe_backend_cuda_create(pe_backend *b, const pe_model *m, const pe_head_spec *head, int device, pe_err *e)
{
    (void)b, (void)m, (void)head;
    return pe_fail(e, PE_ERESOURCE,
                   "CUDA backend requested for device %d, but prmeval was built without CUDA "
                   "(no nvcc found at configure time, or PRMEVAL_CUDA=OFF)", device);
}

int pe_backend_cuda_available(int *ndevices, char *why, int whylen)
{
    *ndevices = 0;
    if (why && whylen > 0)
        snprintf(why, (size_t)whylen, "built without CUDA");
    return 0;
}

#endif
