/* Stored dtypes -> fp32. Element by element through memcpy: tensors in a
 * safetensors mapping are only as aligned as the header length makes them. */
#include <string.h>

#include "model.h"

/* bf16 is the top half of an fp32: every value, inf and nan included, widens exactly. */
static float bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* IEEE half: 1 sign, 5 exponent (bias 15), 10 mantissa bits. */
static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0x1f) {
        u = sign | 0x7f800000u | (man << 13);          /* inf, nan (payload kept) */
    } else if (exp != 0) {
        u = sign | ((exp + 112) << 23) | (man << 13);  /* normal: rebias 15 -> 127 */
    } else if (man == 0) {
        u = sign;                                      /* signed zero */
    } else {
        /* Subnormal: value = man * 2^-24; normalise the mantissa. */
        int e = -1;
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400));
        u = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

void pe_tensor_to_f32(const pe_tensor *t, float *dst, size_t n)
{
    const unsigned char *p = t->data;
    if (t->dtype == PE_DT_F32) {
        memcpy(dst, p, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        dst[i] = t->dtype == PE_DT_BF16 ? bf16_to_f32(h) : f16_to_f32(h);
    }
}
