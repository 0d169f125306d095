/* pe_tensor_convert_f32's vectorized and threaded paths against the scalar
 * definitions (pe_f32_from_bf16, pe_f32_from_f16) and an arithmetic oracle
 * (ldexp of the decoded fields): every one of the 65536 bf16 and f16 bit
 * patterns, NaNs, infinities and subnormals included, compared bit for bit,
 * at unaligned offsets, on a tensor large enough to be split over threads,
 * with 1, 2 and 3 threads. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/half.h"
#include "io/model.h"

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* The IEEE half value from its fields, in double arithmetic (not bit tricks);
 * NaN patterns are left to the scalar definition. */
static double f16_value(uint16_t h)
{
    int s = h >> 15, ex = (h >> 10) & 0x1f, man = h & 0x3ff;
    double v = ex == 0x1f ? INFINITY : ex == 0 ? ldexp(man, -24) : ldexp(1024 + man, ex - 25);
    return s ? -v : v;
}

/* Fills raw + off with n elements of 2 bytes: pattern p(i) = i * mul + add. */
static void fill16(unsigned char *raw, size_t n, uint32_t mul, uint32_t add)
{
    for (size_t i = 0; i < n; i++) {
        uint16_t h = (uint16_t)(i * mul + add);
        memcpy(raw + 2 * i, &h, 2);
    }
}

/* Converts n elements from element `first` of raw (dtype dt) and compares each
 * with the scalar definition; returns the number of elements that differ, and
 * counts a write past dst[n] as one more. */
static size_t convert_and_compare(pe_dtype dt, const unsigned char *raw, size_t first, size_t n)
{
    float *dst = malloc((n + 1) * sizeof *dst);
    const float guard = -12345.0f;
    dst[n] = guard;
    pe_tensor t = {.dtype = dt, .data = raw, .nbytes = (first + n) * 2};
    pe_tensor_convert_f32(&t, first, n, dst);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, raw + 2 * (first + i), 2);
        float want = dt == PE_DT_BF16 ? pe_f32_from_bf16(h) : pe_f32_from_f16(h);
        if (bits(dst[i]) != bits(want))
            bad++;
    }
    if (bits(dst[n]) != bits(guard))
        bad++;
    free(dst);
    return bad;
}

static void test_all_patterns(void)
{
    /* one byte in: the source is unaligned, as in a safetensors mapping */
    unsigned char *buf = malloc(1 + 2 * 65536), *raw = buf + 1;
    fill16(raw, 65536, 1, 0);
    for (int d = 0; d < 2; d++) {
        pe_dtype dt = d ? PE_DT_F16 : PE_DT_BF16;
        CHECK_INT(convert_and_compare(dt, raw, 0, 65536), 0);
        CHECK_INT(convert_and_compare(dt, raw, 3, 65533), 0);  /* a start that is not a vector multiple */
    }
    /* the scalar definitions themselves against the arithmetic oracle */
    size_t bad_f16 = 0, bad_bf16 = 0, nans = 0;
    for (uint32_t p = 0; p < 65536; p++) {
        uint16_t h = (uint16_t)p;
        float f = pe_f32_from_f16(h);
        if (((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff)) {
            nans++;  /* NaN: quiet or signalling, the sign and the payload kept in the top mantissa bits */
            if (!isnan(f) || bits(f) != (((uint32_t)(h & 0x8000) << 16) | 0x7f800000u | ((uint32_t)(h & 0x3ff) << 13)))
                bad_f16++;
        } else if (bits(f) != bits((float)f16_value(h))) {
            bad_f16++;
        }
        if (bits(pe_f32_from_bf16(h)) != (uint32_t)h << 16)
            bad_bf16++;
    }
    CHECK_INT(nans, 2 * 1023);
    CHECK_INT(bad_f16, 0);
    CHECK_INT(bad_bf16, 0);
    free(buf);
}

/* Tensors past the threading threshold (2^18 elements), with an odd length
 * and start, on 1, 2 and 3 threads: the same bits everywhere. */
static void test_threaded(void)
{
    size_t n = (1u << 20) + 12345, first = 7;
    unsigned char *buf = malloc(1 + 2 * (first + n)), *raw = buf + 1;
    fill16(raw, first + n, 40503u, 17u);  /* an odd multiplier: every pattern, many times */
    int saved = omp_get_max_threads();
    for (int th = 1; th <= 3; th++) {
        omp_set_num_threads(th);
        CHECK_INT(convert_and_compare(PE_DT_BF16, raw, first, n), 0);
        CHECK_INT(convert_and_compare(PE_DT_F16, raw, first, n), 0);
    }
    /* fp32 is a copy, also split over the threads */
    size_t nf = (1u << 19) + 3;
    unsigned char *fbuf = malloc(1 + 4 * (nf + 1)), *fraw = fbuf + 1;
    for (size_t i = 0; i < 4 * (nf + 1); i++)
        fraw[i] = (unsigned char)(i * 131 + 5);
    float *dst = malloc((nf + 1) * sizeof *dst);
    dst[nf] = 7.0f;
    omp_set_num_threads(3);
    pe_tensor t = {.dtype = PE_DT_F32, .data = fraw, .nbytes = 4 * (nf + 1)};
    pe_tensor_convert_f32(&t, 1, nf, dst);
    CHECK(memcmp(dst, fraw + 4, 4 * nf) == 0);
    CHECK(dst[nf] == 7.0f);
    omp_set_num_threads(saved);
    free(dst);
    free(fbuf);
    free(buf);
}

int main(void)
{
    test_all_patterns();
    test_threaded();
    return pe_check_done();
}
