/* fp32 <-> bf16 / IEEE half conversions, shared by the checkpoint reader and
 * writer and the backends. Bit manipulation through memcpy: no aliasing games. */
#include "half.h"

#include <math.h>
#include <string.h>

uint16_t pe_bf16_from_f32(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40);  /* nan stays a (quiet) nan */
    u += 0x7fffu + ((u >> 16) & 1);          /* round half to even */
    return (uint16_t)(u >> 16);
}

uint16_t pe_f16_from_f32(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u)
        return sign | 0x7e00;                 /* nan */
    if (a >= 0x477ff000u)
        return sign | 0x7c00;                 /* rounds to >= 65520: inf */
    int exp = (int)(a >> 23) - 127;
    uint32_t man = (a & 0x7fffff) | 0x800000; /* with the implicit bit */
    if (exp >= -14) {
        /* Normal half: keep 10 of 23 mantissa bits, round half to even;
         * a carry into the exponent is what the bit layout wants. */
        uint32_t h = ((uint32_t)(exp + 15) << 10) | ((man >> 13) & 0x3ff);
        uint32_t rest = man & 0x1fff;
        if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
            h++;
        return sign | (uint16_t)h;
    }
    if (exp < -25)
        return sign;                          /* below half the smallest subnormal */
    /* Subnormal half: value = m * 2^-24, m = man * 2^(exp+1) (man has 23 fraction bits). */
    int shift = -exp - 1;                     /* 14..24: bits of man to drop beyond 2^-24 units */
    uint32_t m = man >> shift;
    uint32_t rest = man & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rest > half || (rest == half && (m & 1)))
        m++;
    return sign | (uint16_t)m;
}

/* Scaling by a power of two is exact, so x / ulp is exact and nearbyint (the
 * default rounding mode: to nearest, ties to even) rounds it once. */
double pe_bf16_round_f64(double x)
{
    if (!isfinite(x) || x == 0.0)
        return x;
    int ex;
    frexp(x, &ex);                 /* |x| in [2^(ex-1), 2^ex) */
    int lead = ex - 1 < -126 ? -126 : ex - 1;  /* bf16 subnormals share the 2^-133 step */
    double ulp = ldexp(1.0, lead - 7);         /* 7 fraction bits */
    double r = nearbyint(x / ulp) * ulp;
    if (fabs(r) >= 0x1p128)
        return copysign(INFINITY, x);          /* past the largest bf16 (0x7f7f) */
    return r;
}
