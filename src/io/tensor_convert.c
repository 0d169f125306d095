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

/* The spans: the one per-element definition (core/half.h, inline and
 * branch-free), in loops the compiler vectorizes. */
static void bf16_span(const unsigned char *p, size_t n, float *dst)
{
#ifdef _OPENMP
#pragma omp simd
#endif
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        dst[i] = pe_f32_from_bf16(h);
    }
}

static void f16_span(const unsigned char *p, size_t n, float *dst)
{
#ifdef _OPENMP
#pragma omp simd
#endif
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        dst[i] = pe_f32_from_f16(h);
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
