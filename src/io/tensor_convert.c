/* Stored dtypes -> fp32 (the CPU backend, head rows) and -> bf16 (the CUDA
 * backend): the one place where a weight dtype is converted. Element by
 * element through memcpy: tensors in a safetensors mapping are only as
 * aligned as the header length makes them. */
#include <string.h>

#include "model.h"
#include "core/half.h"

void pe_tensor_to_f32(const pe_tensor *t, float *dst, size_t n)
{
    pe_tensor_convert_f32(t, 0, n, dst);
}

void pe_tensor_convert_f32(const pe_tensor *t, size_t first, size_t n, float *dst)
{
    const unsigned char *p = (const unsigned char *)t->data + first * pe_dtype_size(t->dtype);
    if (t->dtype == PE_DT_F32) {
        memcpy(dst, p, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        dst[i] = t->dtype == PE_DT_BF16 ? pe_f32_from_bf16(h) : pe_f32_from_f16(h);
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
