#include "cpu_weights.h"

#include <string.h>

size_t pe_cpu_dtype_size(pe_dtype dt)
{
    return dt == PE_DT_F32 ? 4 : 2;
}

void pe_cpu_convert_f32(const void *src, pe_dtype dt, size_t first, size_t n, float *dst)
{
    const unsigned char *p = (const unsigned char *)src + first * pe_cpu_dtype_size(dt);
    if (dt == PE_DT_F32) {
        memcpy(dst, p, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, sizeof h);
        dst[i] = dt == PE_DT_BF16 ? pe_f32_from_bf16(h) : pe_f32_from_f16(h);
    }
}
