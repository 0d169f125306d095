/* The CPU backend's view of stored dtypes: the conversion itself lives once,
 * in the model layer (pe_tensor_convert_f32, pe_dtype_size). */
#include "cpu_weights.h"

size_t pe_cpu_dtype_size(pe_dtype dt)
{
    return pe_dtype_size(dt);
}

void pe_cpu_convert_f32(const void *src, pe_dtype dt, size_t first, size_t n, float *dst)
{
    pe_tensor t = {.dtype = dt, .data = src};
    pe_tensor_convert_f32(&t, first, n, dst);
}
