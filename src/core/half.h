/* fp32 <-> bf16 and IEEE half (f16), bit exact. */
#ifndef PE_HALF_H
#define PE_HALF_H

#include <stdint.h>
#include <string.h>

/* Widening to fp32, exact (inf and nan kept, payload included). Inline and
 * branch-free: the one definition, which the per-element callers and the
 * vectorized tensor conversion (io/tensor_convert.c) both use. */

/* bf16 is the top half of an fp32. */
static inline float pe_f32_from_bf16(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* IEEE half: 1 sign, 5 exponent (bias 15), 10 mantissa bits. A subnormal half
 * is man * 2^-24, which int -> float and the power-of-two scale give exactly
 * (man < 2^10: the product is a normal fp32); man 0 gives +0; the sign is
 * or-ed in after. All-ones masks select one of the three cases. */
static inline float pe_f32_from_f16(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, mag = h & 0x7fffu, man = h & 0x3ffu;
    float sub = (float)(int32_t)man * (1.0f / 16777216.0f);
    uint32_t usub;
    memcpy(&usub, &sub, sizeof usub);
    uint32_t special = 0u - (uint32_t)(mag >= 0x7c00u), normal = (0u - (uint32_t)(mag >= 0x0400u)) & ~special;
    uint32_t u = (special & (0x7f800000u | (man << 13)))  /* inf, nan (payload kept) */
               | (normal & ((mag << 13) + (112u << 23)))  /* normal: rebias 15 -> 127 */
               | (~(special | normal) & usub);            /* zero, subnormal */
    u |= sign;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t pe_bf16_from_f32(float f);  /* round to nearest even; nan stays a quiet nan */
uint16_t pe_f16_from_f32(float f);   /* round to nearest even; overflow to inf */
/* x rounded to the nearest bf16 value (ties to even, one rounding straight
 * from the double: no double rounding through fp32), as a double; overflow
 * to inf, nan stays nan. Equal to pe_f32_from_bf16(pe_bf16_from_f32(x)) for
 * every float x. */
double pe_bf16_round_f64(double x);

#endif
