/* Causal grouped-query attention over packed variable-length segments,
 * flash-style: one block per (query tile, query head), 4 warps each owning
 * 16 of the tile's 64 query rows. Key/value tiles of 64 rows stream through
 * shared memory; scores and P.V run on tensor cores (WMMA bf16 16x16x16,
 * fp32 accumulate); the softmax is online (running max m and sum l per row,
 * in fp32, base 2). The output accumulator lives in shared memory in fp32
 * because WMMA does not say which accumulator element belongs to which row,
 * and the online softmax must rescale whole rows.
 *
 * A tile never crosses a segment boundary (pe_attn_plan cuts tiles per
 * segment). Its keys are its segment's key spans (attn_desc.h): with prefix
 * reuse the ancestors' keys/values, which live in earlier rows of the same
 * q|k|v buffer or in a cache slot of an earlier batch, then the segment's
 * own. Positions are absolute (the segment continues from pos0), so the
 * causal mask and the sliding window compare absolute positions.
 *
 * Why spans rather than gathering the ancestors' K/V into a contiguous
 * buffer in front of each segment: the gather would copy every ancestor's
 * K/V once per child and per layer (a 1,000-token prefix shared by 9 prompts:
 * 9,000 rows per layer) into a buffer that must be planned for the worst
 * case; a span is 40 bytes, the kernel reads the ancestors where they are,
 * and the loader only changes from one pointer to a short loop over the spans
 * a key tile overlaps (uniform across the block: every thread walks the same
 * spans). Key tiles are counted from absolute position 0 (pe_attn_key_range),
 * so a query row meets its keys in the same groups of 64 whatever the
 * segmentation: with or without reuse it gets the same bits.
 * Padded query rows past the segment's end are computed on zeros and never
 * written; key rows past the last query are zeros, masked. */
#include <mma.h>

#include "common.cuh"

using namespace nvcuda;

#define BQ PE_ATTN_BQ
#define BK 64
#define NWARP (BQ / 16)


static __host__ __device__ size_t pe_attn_smem_bytes(int D)
{
    size_t ldh = (size_t)D + 8, ldo = (size_t)D + 4;
    return 3 * (size_t)BQ * ldh * 2        /* sQ, sK, sV (BK == BQ) */
           + (size_t)BQ * (BK + 4) * 4     /* sS */
           + (size_t)BQ * (BK + 8) * 2     /* sP */
           + (size_t)BQ * ldo * 4          /* sO */
           + 2 * (size_t)BQ * 4;           /* sM, sL */
}

/* Copies rows [r0, r0 + 64) of one head (column offset col) into s, zeros past rend. */
static __device__ void pe_load_tile(__nv_bfloat16 *s, int lds, const pe_bf16 *qkv, int64_t ld,
                                    int64_t col, int64_t r0, int64_t rend, int D)
{
    int chunks = D / 8;   /* 16-byte vectors per row; D % 16 == 0 and ld % 8 == 0 keep them aligned */
    for (int i = threadIdx.x; i < BQ * chunks; i += blockDim.x) {
        int r = i / chunks, c = (i % chunks) * 8;
        uint4 v = make_uint4(0, 0, 0, 0);
        if (r0 + r < rend)
            v = *reinterpret_cast<const uint4 *>(qkv + (size_t)(r0 + r) * (size_t)ld + col + c);
        *reinterpret_cast<uint4 *>(s + (size_t)r * lds + c) = v;
    }
}

/* Loads the keys and values of absolute positions [k0, k0 + 64) of kv head
 * column kcol (kvh * D) from the spans into sK and sV, zeros from kend on.
 * *cursor is the first span that may still hold a position >= k0; key tiles
 * ascend, so it only moves forward. */
static __device__ void pe_load_kv(__nv_bfloat16 *sK, __nv_bfloat16 *sV, int ldh, const pe_attn_span *spans,
                                  int *cursor, int span1, int layer, int64_t kcol, int64_t voff, int64_t k0,
                                  int64_t kend, int D)
{
    int chunks = D / 8;
    int64_t k1 = k0 + BK < kend ? k0 + BK : kend;
    int sp = *cursor;
    while (sp < span1 && spans[sp].pos0 + spans[sp].n <= k0)
        sp++;
    *cursor = sp;
    for (int j = sp; j < span1 && spans[j].pos0 < k1; j++) {
        const pe_attn_span a = spans[j];
        int64_t lo = a.pos0 > k0 ? a.pos0 : k0, hi = a.pos0 + a.n < k1 ? a.pos0 + a.n : k1;
        const pe_bf16 *base = a.k + (size_t)layer * (size_t)a.layer_stride + (size_t)(lo - a.pos0) * (size_t)a.ld + kcol;
        int nrow = (int)(hi - lo), r0 = (int)(lo - k0);
        for (int i = threadIdx.x; i < nrow * chunks; i += blockDim.x) {
            int r = i / chunks, c = (i % chunks) * 8;
            const pe_bf16 *src = base + (size_t)r * (size_t)a.ld + c;
            *reinterpret_cast<uint4 *>(sK + (size_t)(r0 + r) * ldh + c) = *reinterpret_cast<const uint4 *>(src);
            *reinterpret_cast<uint4 *>(sV + (size_t)(r0 + r) * ldh + c) =
                *reinterpret_cast<const uint4 *>(src + voff);
        }
    }
    int filled = (int)(k1 - k0);
    for (int i = threadIdx.x; i < (BK - filled) * chunks; i += blockDim.x) {
        int r = filled + i / chunks, c = (i % chunks) * 8;
        *reinterpret_cast<uint4 *>(sK + (size_t)r * ldh + c) = make_uint4(0, 0, 0, 0);
        *reinterpret_cast<uint4 *>(sV + (size_t)r * ldh + c) = make_uint4(0, 0, 0, 0);
    }
}

__global__ void __launch_bounds__(NWARP * 32)
pe_attention_kernel(pe_bf16 *out, const pe_bf16 *qkv, int64_t ld, const pe_attn_tile *tiles,
                    const pe_attn_span *spans, int layer, int NH, int NKV, int D, int window, float scale_log2)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    extern __shared__ __align__(128) unsigned char smem[];
    const int ldh = D + 8, ldo = D + 4, lds = BK + 4, ldp = BK + 8;
    __nv_bfloat16 *sQ = reinterpret_cast<__nv_bfloat16 *>(smem);
    __nv_bfloat16 *sK = sQ + (size_t)BQ * ldh;
    __nv_bfloat16 *sV = sK + (size_t)BK * ldh;
    float *sS = reinterpret_cast<float *>(sV + (size_t)BK * ldh);
    __nv_bfloat16 *sP = reinterpret_cast<__nv_bfloat16 *>(sS + (size_t)BQ * lds);
    float *sO = reinterpret_cast<float *>(sP + (size_t)BQ * ldp);
    float *sM = sO + (size_t)BQ * ldo;
    float *sL = sM + BQ;

    const pe_attn_tile t = tiles[blockIdx.x];
    const int64_t q0 = t.q0, s1 = t.q_end, qpos = t.qpos;
    const int h = blockIdx.y, kvh = h / (NH / NKV);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int64_t kcol = (int64_t)kvh * D, voff = (int64_t)NKV * D;

    pe_load_tile(sQ, ldh, qkv, ld, (int64_t)h * D, q0, s1, D);
    for (int i = threadIdx.x; i < BQ * ldo; i += blockDim.x)
        sO[i] = 0.0f;
    for (int i = threadIdx.x; i < BQ; i += blockDim.x) {
        sM[i] = -INFINITY;
        sL[i] = 0.0f;
    }

    int64_t kstart, kend;   /* absolute positions; none after the tile's last query */
    pe_attn_key_range(&t, window, &kstart, &kend);
    int cursor = t.span0;

    for (int64_t k0 = kstart; k0 < kend; k0 += BK) {
        __syncthreads();   /* previous tile's sK/sV readers are done */
        pe_load_kv(sK, sV, ldh, spans, &cursor, t.span1, layer, kcol, voff, k0, kend, D);
        __syncthreads();

        /* S (16 x 64) = Q_w K^T: K's rows read as a column-major B operand. */
        for (int j = 0; j < BK / 16; j++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.0f);
            for (int kk = 0; kk < D / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> b;
                wmma::load_matrix_sync(a, sQ + (size_t)warp * 16 * ldh + kk * 16, ldh);
                wmma::load_matrix_sync(b, sK + (size_t)j * 16 * ldh + kk * 16, ldh);
                wmma::mma_sync(acc, a, b, acc);
            }
            wmma::store_matrix_sync(sS + (size_t)warp * 16 * lds + j * 16, acc, lds,
                                    wmma::mem_row_major);
        }
        __syncwarp();

        /* Online softmax on the warp's 16 rows; each lane holds 2 of the 64 columns. */
        for (int r = 0; r < 16; r++) {
            int row = warp * 16 + r;
            int64_t qi = qpos + row;   /* absolute position of the query */
            float s[2];
            for (int u = 0; u < 2; u++) {
                int c = lane + 32 * u;
                int64_t kj = k0 + c;
                int ok = kj <= qi && kj < kend && (window <= 0 || qi - kj < window);
                s[u] = ok ? sS[(size_t)row * lds + c] * scale_log2 : -INFINITY;
            }
            float m_old = sM[row];
            float m_new = fmaxf(m_old, pe_warp_max(fmaxf(s[0], s[1])));
            /* A row with no valid key yet keeps m = -inf: avoid inf - inf. */
            float alpha = m_new == -INFINITY ? 1.0f : exp2f(m_old - m_new);
            float p0 = s[0] == -INFINITY ? 0.0f : exp2f(s[0] - m_new);
            float p1 = s[1] == -INFINITY ? 0.0f : exp2f(s[1] - m_new);
            sP[(size_t)row * ldp + lane] = __float2bfloat16_rn(p0);
            sP[(size_t)row * ldp + lane + 32] = __float2bfloat16_rn(p1);
            float psum = pe_warp_sum(p0 + p1);
            for (int c = lane; c < D; c += 32)
                sO[(size_t)row * ldo + c] *= alpha;
            __syncwarp();
            if (lane == 0) {
                sM[row] = m_new;
                sL[row] = sL[row] * alpha + psum;
            }
        }
        __syncwarp();

        /* O_w (16 x D) += P_w (16 x 64) V (64 x D). */
        for (int n = 0; n < D / 16; n++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            float *o = sO + (size_t)warp * 16 * ldo + n * 16;
            wmma::load_matrix_sync(acc, o, ldo, wmma::mem_row_major);
            for (int kk = 0; kk < BK / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> b;
                wmma::load_matrix_sync(a, sP + (size_t)warp * 16 * ldp + kk * 16, ldp);
                wmma::load_matrix_sync(b, sV + (size_t)kk * 16 * ldh + n * 16, ldh);
                wmma::mma_sync(acc, a, b, acc);
            }
            wmma::store_matrix_sync(o, acc, ldo, wmma::mem_row_major);
        }
        __syncwarp();
    }
    __syncthreads();

    for (int i = threadIdx.x; i < BQ * D; i += blockDim.x) {
        int row = i / D, c = i % D;
        int64_t qi = q0 + row;
        if (qi < s1) {
            float v = sO[(size_t)row * ldo + c] / sL[row];
            out[(size_t)qi * (size_t)NH * D + (size_t)h * D + c] = pe_to_bf16(v);
        }
    }
#else
    __trap();   /* bf16 WMMA needs sm_80 or newer; the build targets 80 and 90 */
#endif
}

extern "C" size_t pe_k_attention_smem_bytes(int D) { return pe_attn_smem_bytes(D); }

/* Once per device (and head_dim) before the first launch, not per launch:
 * cudaFuncSetAttribute is a driver call, and without the carveout preference
 * the driver may keep the L1/shared split that fits one 110.5 KiB block per
 * SM where the maximum carveout fits two (H100: 228 KiB per SM). The opt-in
 * limit is only ever raised, so a smaller head_dim set up later in the same
 * process cannot shrink what an earlier backend relies on. */
extern "C" int pe_k_attention_prepare(int D, int *blocks_per_sm)
{
    if (D <= 0 || D % 16 != 0 || D > PE_ATTN_MAX_D)
        return (int)cudaErrorInvalidValue;
    size_t bytes = pe_attn_smem_bytes(D);
    cudaFuncAttributes fa;
    cudaError_t err = cudaFuncGetAttributes(&fa, pe_attention_kernel);
    if (err == cudaSuccess && (size_t)fa.maxDynamicSharedSizeBytes < bytes)
        err = cudaFuncSetAttribute(pe_attention_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                   (int)bytes);
    if (err == cudaSuccess)
        err = cudaFuncSetAttribute(pe_attention_kernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                                   (int)cudaSharedmemCarveoutMaxShared);
    if (err == cudaSuccess && blocks_per_sm)
        err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(blocks_per_sm, pe_attention_kernel,
                                                            NWARP * 32, bytes);
    return (int)err;
}

extern "C" int pe_k_attention(pe_bf16 *out, const pe_bf16 *qkv, int64_t ld, const pe_attn_tile *tiles,
                              int64_t ntiles, const pe_attn_span *spans, int layer, int NH, int NKV, int D,
                              int window, cudaStream_t stream)
{
    if (D % 16 != 0 || D > PE_ATTN_MAX_D || NKV <= 0 || NH % NKV != 0 || ld % 8 != 0 || layer < 0)
        return (int)cudaErrorInvalidValue;
    if (ntiles <= 0)
        return pe_launch_status();
    size_t bytes = pe_attn_smem_bytes(D);
    float scale_log2 = 1.4426950408889634f / sqrtf((float)D);
    dim3 grid((unsigned)ntiles, (unsigned)NH);
    pe_attention_kernel<<<grid, NWARP * 32, bytes, stream>>>(out, qkv, ld, tiles, spans, layer, NH, NKV,
                                                             D, window, scale_log2);
    return pe_launch_status();
}
