/* libprmeval_h5.so's entry points, the only symbols it exports: the writer
 * and the reader of results_h5.c and results_h5_read.c, reached from
 * results_h5_loader.c through dlsym. */
#include "results_h5.h"
#include "results_h5_read.h"

#include "../core/module.h"

PE_MODULE_DEFINE_ABI;

__attribute__((visibility("default")))
int pe_h5_module_write(const char *path, const pe_eval_output *o, const pe_provenance *p, pe_err *e)
{
    return pe_results_h5_write(path, o, p, e);
}

__attribute__((visibility("default")))
int pe_h5_module_read(const char *path, pe_results *r, pe_err *e)
{
    return pe_results_h5_read(path, r, e);
}

__attribute__((visibility("default")))
int pe_h5_module_image(const char *path, const pe_eval_output *o, const pe_provenance *p, void **image, size_t *len,
                       pe_err *e)
{
    return pe_results_h5_image(path, o, p, image, len, e);
}
