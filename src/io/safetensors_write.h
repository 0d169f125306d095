/* Writes a safetensors file from fp32 arrays, converting to the stored dtype.
 * Used by `prmeval tiny-model` and by tests that build checkpoints. */
#ifndef PE_SAFETENSORS_WRITE_H
#define PE_SAFETENSORS_WRITE_H

#include "core/half.h"
#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"
#include "model.h"

typedef struct st_wtensor {
    char name[256];
    pe_dtype dtype;
    int ndim;
    int64_t shape[4];
    float *data;          /* owned by the writer: freed by st_writer_free */
} st_wtensor;

typedef struct st_writer {
    st_wtensor *t;
    int n, cap;
} st_writer;

/* Adds a tensor; takes ownership of data (prod(shape) floats, malloc'ed). */
int st_writer_add(st_writer *w, const char *name, pe_dtype dtype, int ndim, const int64_t *shape, float *data,
                  pe_err *e);
/* Writes PATH: tensors sorted by name, header padded with spaces to 8 bytes,
 * "__metadata__": {"format": "pt"} as transformers writes it. */
int st_writer_save(const st_writer *w, const char *path, pe_err *e);
void st_writer_free(st_writer *w);

/* Round-to-nearest-even conversions (the ones PyTorch's .to() uses). */

#endif
