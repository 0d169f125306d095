/* Rotary position embedding, Hugging Face rotate_half layout: element j pairs
 * with j + D/2, both rotated by the angle pos * inv_freq[j]. One block per
 * token; threads cover (head, j) pairs. The angle is formed in fp32 as
 * torch does (pos * inv_freq), and sincosf is the accurate one because the
 * angle reaches thousands of radians at long positions. */
#include "common.cuh"

__global__ void pe_rope_kernel(float *x, int64_t ld, int nheads, int D,
                               const int32_t *pos, const float *inv_freq)
{
    int half = D / 2;
    float *row = x + (size_t)blockIdx.x * (size_t)ld;
    float p = (float)pos[blockIdx.x];
    for (int i = threadIdx.x; i < nheads * half; i += blockDim.x) {
        int h = i / half, j = i % half;
        float s, c;
        sincosf(p * inv_freq[j], &s, &c);
        float *v = row + (size_t)h * (size_t)D;
        float a = v[j], b = v[j + half];
        v[j] = a * c - b * s;
        v[j + half] = b * c + a * s;
    }
}

extern "C" int pe_k_rope(float *x, int64_t ntok, int64_t ld, int nheads, int D,
                         const int32_t *pos, const float *inv_freq, cudaStream_t stream)
{
    if (ntok > 0)
        pe_rope_kernel<<<(unsigned)ntok, 128, 0, stream>>>(x, ld, nheads, D, pos, inv_freq);
    return pe_launch_status();
}
