/* What a run checks of the weights it loaded, before its first forward pass
 * (docs/run.md "Model sanity"): every tensor the model uses holds only finite
 * values, and a content hash of those tensors and of config.json and
 * tokenizer.json, which `run` compares across ranks so that node-local
 * copies that differ are found before they give mixed results. */
#ifndef PE_MODEL_CHECK_H
#define PE_MODEL_CHECK_H

#include <stdint.h>

#include "../core/err.h"
#include "model.h"

/* Reads every used tensor twice (the pages are read anyway by the backend
 * right after): the NaN/Inf scan on the OpenMP threads, then the hash, one
 * sequential pass. A NaN or infinity is PE_EINPUT naming the file, the first
 * such tensor and its first such element, whatever the thread count; out of
 * memory for the scan's table (one entry per tensor) is PE_ERESOURCE. *hash: a 64-bit hash of the tensors' names, dtypes, shapes and
 * bytes, and of the folder's config.json and tokenizer.json bytes (not
 * cryptographic: it tells copies apart, it does not resist forgery). */
int pe_model_check_weights(const pe_model *m, uint64_t *hash, pe_err *e);

#endif
