/* Stored dtypes -> fp32 (the CPU backend, head rows) and -> bf16 (the CUDA
 * backend): the one place where a weight dtype is converted. Loads and stores
 * go through memcpy: tensors in a safetensors mapping are only as aligned as
 * the header length makes them.
 * To fp32 is on the start-up path of every run (about 360 M weights of a 0.5B
 * model): one branch-free loop per dtype, which the compiler vectorizes, and
 * large tensors split over the OpenMP threads (which also spreads the page
 * faults of the freshly allocated destination over them). Every element is
 * converted on its own, so the bits do not depend on the thread count; they
 * equal pe_f32_from_bf16 / pe_f32_from_f16 (test_tensor_convert compares all
 * 65536 patterns of each). */
#include <string.h>

#include "model.h"
#include "core/half.h"

/* Elements per block handed to one thread, and the size below which a tensor
 * is converted on the calling thread (a parallel region costs microseconds;
 * the embedding gather converts one 896-element row per token). */
enum { CONVERT_BLOCK = 1 << 16, CONVERT_PARALLEL_MIN = 1 << 18 };

/* bf16 is the top half of an fp32 (pe_f32_from_bf16). */
static void bf16_span(const unsigned char *p, size_t n, float *dst)
{
#ifdef _OPENMP
#pragma omp simd
#endif
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        uint32_t u = (uint32_t)h << 16;
        memcpy(dst + i, &u, 4);
    }
}

/* pe_f32_from_f16 without its branches: a subnormal half is man * 2^-24,
 * which int -> float and the power-of-two scale give exactly (man < 2^10; the
 * product is a normal fp32); man 0 gives +0, the sign is or-ed in after. */
static void f16_span(const unsigned char *p, size_t n, float *dst)
{
#ifdef _OPENMP
#pragma omp simd
#endif
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        uint32_t sign = (uint32_t)(h & 0x8000u) << 16, mag = h & 0x7fffu, man = h & 0x3ffu;
        float sub = (float)(int32_t)man * 0x1p-24f;
        uint32_t usub;
        memcpy(&usub, &sub, 4);
        /* all-ones masks select one of the three cases (no branch in the loop) */
        uint32_t special = 0u - (uint32_t)(mag >= 0x7c00u), normal = (0u - (uint32_t)(mag >= 0x0400u)) & ~special;
        uint32_t u = (special & (0x7f800000u | (man << 13)))      /* inf, nan (payload kept) */
                   | (normal & ((mag << 13) + (112u << 23)))      /* normal: rebias 15 -> 127 */
                   | (~(special | normal) & usub);                /* zero, subnormal */
        u |= sign;
        memcpy(dst + i, &u, 4);
    }
}

static void convert_span(pe_dtype dt, const unsigned char *p, size_t n, float *dst)
{
    if (dt == PE_DT_F32)
        memcpy(dst, p, n * sizeof(float));
    else if (dt == PE_DT_BF16)
        bf16_span(p, n, dst);
    else
        f16_span(p, n, dst);
}

void pe_tensor_to_f32(const pe_tensor *t, float *dst, size_t n)
{
    pe_tensor_convert_f32(t, 0, n, dst);
}

void pe_tensor_convert_f32(const pe_tensor *t, size_t first, size_t n, float *dst)
{
    size_t es = pe_dtype_size(t->dtype);
    const unsigned char *p = (const unsigned char *)t->data + first * es;
    if (n < CONVERT_PARALLEL_MIN) {
        convert_span(t->dtype, p, n, dst);
        return;
    }
    size_t nblk = (n + CONVERT_BLOCK - 1) / CONVERT_BLOCK;
    pe_dtype dt = t->dtype;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (size_t b = 0; b < nblk; b++) {
        size_t i = b * CONVERT_BLOCK, k = n - i < CONVERT_BLOCK ? n - i : CONVERT_BLOCK;
        convert_span(dt, p + i * es, k, dst + i);
    }
}

void pe_tensor_convert_bf16(const pe_tensor *t, size_t first, size_t n, uint16_t *dst)
{
    const unsigned char *p = (const unsigned char *)t->data + first * pe_dtype_size(t->dtype);
    if (t->dtype == PE_DT_BF16) {
        memcpy(dst, p, n * sizeof *dst);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (t->dtype == PE_DT_F32) {
            float f;
            memcpy(&f, p + 4 * i, 4);
            dst[i] = pe_bf16_from_f32(f);
        } else {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = pe_bf16_from_f32(pe_f32_from_f16(h));
        }
    }
}
