/* The part of Python's pickle format that a PyTorch state dict uses, read as
 * data and never executed. torch.save writes a dict (or OrderedDict) of
 * name -> torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
 * requires_grad, backward_hooks), each storage a persistent id
 * ('storage', torch.<Type>Storage, key, location, numel). Exactly those
 * globals are known (collections.OrderedDict, torch._utils._rebuild_tensor_v2,
 * torch.FloatStorage / HalfStorage / BFloat16Storage); any other global, a
 * REDUCE of anything else, or an opcode outside the subset is refused with an
 * error naming the opcode, its byte position and the global.
 * Geometry (offsets, strides, sizes against the storage) is checked by the
 * caller, which knows the storage bytes (torch_bin.c). */
#ifndef PE_PICKLE_H
#define PE_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"
#include "model.h"

#define PK_MAX_DIM 4
#define PK_MAX_KEY 32   /* storage keys are decimal numbers in torch.save files */

typedef struct pk_tensor {
    char *name;                 /* the state dict's key */
    char storage[PK_MAX_KEY];   /* the storage's key: the archive entry data/<key> */
    pe_dtype dtype;             /* from the storage class */
    uint64_t storage_numel;     /* elements the persistent id declares */
    uint64_t offset;            /* storage offset, in elements */
    int ndim;
    int64_t size[PK_MAX_DIM];   /* non-negative */
    int64_t stride[PK_MAX_DIM]; /* non-negative */
} pk_tensor;

typedef struct pk_state_dict {
    pk_tensor *t;               /* in the order of the pickle's dict */
    int n;
} pk_state_dict;

/* Interprets the pickle BUF[0..len) whose top-level object must be a state
 * dict. WHAT names it in errors ("x.bin: archive/data.pkl"). All memory is
 * bounded by len. PE_EINPUT on anything outside the subset. */
int pk_read_state_dict(const uint8_t *buf, size_t len, const char *what, pk_state_dict *out, pe_err *e);
void pk_free(pk_state_dict *sd);

#endif
