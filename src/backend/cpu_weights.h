/* Stored tensor dtypes (F32, F16, BF16) to fp32 for the CPU backend. Sources
 * may be unaligned (safetensors offsets need not be multiples of 4), so every
 * element is read with memcpy. Named apart from pe_tensor_to_f32 (the model
 * reader's) so the two never collide at link time. */
#ifndef PE_CPU_WEIGHTS_H
#define PE_CPU_WEIGHTS_H

#include "core/half.h"
#include <stddef.h>
#include <stdint.h>

#include "../io/model.h"


/* Bytes per element of a stored dtype. */
size_t pe_cpu_dtype_size(pe_dtype dt);

/* dst[0..n) = elements [first, first+n) of src (stored as dt), converted to fp32. */
void pe_cpu_convert_f32(const void *src, pe_dtype dt, size_t first, size_t n, float *dst);

#endif
