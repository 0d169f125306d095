/* pe_results_h5_write and pe_results_h5_read in every build, from
 * libprmeval_h5.so (results_h5.c, results_h5_read.c, results_h5_types.c,
 * results_h5_module.c), opened on first use. libhdf5 brings 44 shared objects
 * (curl, TLS, Kerberos, LDAP, ...): loading them cost every start of every
 * command 6 ms, an eighth of a whole `eval --json`, which writes no HDF5 file. */
#include "results_h5.h"
#include "results_h5_read.h"

#include <dlfcn.h>
#include <limits.h>
#include <string.h>

#include "../core/module.h"

typedef int (*write_fn)(const char *, const pe_eval_output *, const pe_provenance *, pe_err *);
typedef int (*image_fn)(const char *, const pe_eval_output *, const pe_provenance *, void **, size_t *, pe_err *);
typedef int (*read_fn)(const char *, pe_results *, pe_err *);

/* The module's entry point, or NULL with e set. */
static void *entry(const char *name, pe_err *e)
{
    static void *module;
    static char why[2 * PATH_MAX + 512];
    if (!module && !why[0])
        module = pe_module_open("libprmeval_h5.so", "PRMEVAL_H5_MODULE", why, sizeof why);
    void *f = module ? dlsym(module, name) : NULL;
    if (!f)
        pe_fail(e, PE_ERESOURCE, "HDF5 results files need libprmeval_h5.so: %s",
                module ? "the module lacks its entry points" : why);
    return f;
}

int pe_results_h5_load(pe_err *e)
{
    return entry("pe_h5_module_write", e) && entry("pe_h5_module_read", e) && entry("pe_h5_module_image", e)
               ? PE_OK : PE_ERESOURCE;
}

int pe_results_h5_write(const char *path, const pe_eval_output *o, const pe_provenance *p, pe_err *e)
{
    write_fn f = (write_fn)entry("pe_h5_module_write", e);
    return f ? f(path, o, p, e) : PE_ERESOURCE;
}

int pe_results_h5_image(const char *path, const pe_eval_output *o, const pe_provenance *p, void **image,
                        size_t *len, pe_err *e)
{
    *image = NULL;
    *len = 0;
    image_fn f = (image_fn)entry("pe_h5_module_image", e);
    return f ? f(path, o, p, image, len, e) : PE_ERESOURCE;
}

int pe_results_h5_read(const char *path, pe_results *r, pe_err *e)
{
    memset(r, 0, sizeof *r);
    read_fn f = (read_fn)entry("pe_h5_module_read", e);
    return f ? f(path, r, e) : PE_ERESOURCE;
}
