#include "cpu_weights.h"

#include <string.h>

float pe_cpu_bf16_to_f32(uint16_t h)
{
    /* bf16 is the top half of an fp32: exact, NaN and Inf included. */
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float pe_cpu_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t u;
    if (exp == 0x1f) {
        u = sign | 0x7f800000u | (man << 13);        /* Inf, NaN (payload kept) */
    } else if (exp != 0) {
        u = sign | ((exp + 112u) << 23) | (man << 13); /* rebias 15 -> 127 */
    } else if (man == 0) {
        u = sign;                                      /* signed zero */
    } else {
        /* Subnormal half: man * 2^-24, normal in fp32; shift until the
         * implicit bit appears, lowering the exponent each step. */
        int e = -1;
        do { man <<= 1; e++; } while ((man & 0x400u) == 0);
        u = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

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
        dst[i] = dt == PE_DT_BF16 ? pe_cpu_bf16_to_f32(h) : pe_cpu_f16_to_f32(h);
    }
}
