/* The plain-C references of the CUDA kernels (src/backend/cuda_ref.c) on
 * hand-worked cases. They are the oracle of the GPU harness, so they are
 * checked here in every build, GPU or not. Expected values were worked out
 * by hand (bf16 roundings: mantissa * 128, rounded to nearest even). */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attn_layouts.h"
#include "backend/cuda_ref.h"
#include "check.h"
#include "prm/head.h"

#define CHECK_NEAR(a, b, tol) CHECK(fabs((double)(a) - (double)(b)) <= (tol))

static pe_bf16 B(float x) { return pe_bf16_from_f32(x); }

static void test_formats(void)
{
    CHECK_INT(pe_bf16_from_f32(1.0f), 0x3f80);
    CHECK_INT(pe_bf16_from_f32(-2.0f), 0xc000);
    /* 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even 1.0 */
    CHECK_INT(pe_bf16_from_f32(1.0f + 0x1p-8f), 0x3f80);
    /* 1 + 3 * 2^-8 lies halfway between 0x3f81 and 0x3f82: even is 0x3f82 */
    CHECK_INT(pe_bf16_from_f32(1.0f + 3 * 0x1p-8f), 0x3f82);
    /* just above the halfway point rounds up */
    CHECK_INT(pe_bf16_from_f32(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
    CHECK(isnan(pe_f32_from_bf16(pe_bf16_from_f32(NAN))));
    CHECK(isinf(pe_f32_from_bf16(pe_bf16_from_f32(INFINITY))));
    CHECK(pe_f32_from_bf16(0x4049) == 3.140625f);   /* pi in bf16 */
    CHECK(pe_f32_from_f16(0x3c00) == 1.0f);
    CHECK(pe_f32_from_f16(0xc000) == -2.0f);
    CHECK(pe_f32_from_f16(0x0001) == 0x1p-24f);      /* smallest subnormal */
    CHECK(pe_f32_from_f16(0x7bff) == 65504.0f);      /* largest finite */
    CHECK(isinf(pe_f32_from_f16(0x7c00)));
    CHECK(isnan(pe_f32_from_f16(0x7e00)));
}

static void test_rope_tables(void)
{
    float f[2];
    pe_rope_inv_freq(f, 4, 10000.0, 0, 0, 0, 0, 0);
    CHECK(f[0] == 1.0f);
    CHECK_NEAR(f[1], 0.01, 1e-9);
    /* llama3 scaling (factor 8, low 1, high 4, original 8192): choose theta so
     * that pair 1 has wavelength 4096, inside the blended band: s = (8192/4096 - 1)/3
     * = 1/3 and inv_freq -> (2/3) f/8 + f/3 = 5f/12. Pair 0 (wavelength 2 pi) is kept. */
    double two_pi = 6.283185307179586, fb = two_pi / 4096;
    pe_rope_inv_freq(f, 4, 1.0 / (fb * fb), 1, 8.0, 1.0, 4.0, 8192);
    CHECK(f[0] == 1.0f);
    CHECK_NEAR(f[1] / fb, 5.0 / 12.0, 1e-6);
    /* wavelength 16384 > 8192: slowed by the factor 8 */
    fb = two_pi / 16384;
    pe_rope_inv_freq(f, 4, 1.0 / (fb * fb), 1, 8.0, 1.0, 4.0, 8192);
    CHECK_NEAR(f[1] / fb, 1.0 / 8.0, 1e-6);
    /* wavelength 1024 < 2048: unchanged */
    fb = two_pi / 1024;
    pe_rope_inv_freq(f, 4, 1.0 / (fb * fb), 1, 8.0, 1.0, 4.0, 8192);
    CHECK_NEAR(f[1] / fb, 1.0, 1e-6);

    /* 2 tiles, 1, none for the empty sequence, 1; one span per non-empty sequence */
    int64_t starts[] = {0, 70, 75, 75, 139};
    static pe_bf16 buf[139 * 8];
    pe_attn_tile *tiles;
    pe_attn_span *spans;
    CHECK_INT(pe_plain_plan(starts, 4, buf, 8, 2, &tiles, &spans), 4);
    CHECK_INT(tiles[1].q0, 64);
    CHECK_INT(tiles[1].q_end, 70);
    CHECK_INT(tiles[1].qpos, 64);
    CHECK_INT(tiles[2].q0, 70);
    CHECK_INT(tiles[2].qpos, 0);
    CHECK_INT(tiles[3].q0, 75);
    CHECK_INT(tiles[3].q_end, 139);
    CHECK_INT(tiles[3].span0, 2);
    CHECK_INT(tiles[3].span1, 3);
    CHECK(spans[2].k == buf + 75 * 8 + 2 && spans[2].ld == 8 && spans[2].pos0 == 0 && spans[2].n == 64);
    CHECK_INT(spans[2].layer_stride, 0);
    free(tiles), free(spans);
}

static void test_norm_rope(void)
{
    /* x = [3, 4]: mean square 12.5, x / sqrt(12.5) = [0.8485, 1.1314] -> bf16
     * [0.84765625, 1.1328125], times w = [1, 2] -> [0.84765625, 2.265625] */
    float x[2] = {3, 4};
    pe_bf16 w[2] = {B(1), B(2)}, out[2];
    pe_ref_rmsnorm(out, x, w, 1, 2, 0.0f);
    CHECK(pe_f32_from_bf16(out[0]) == 0.84765625f);
    CHECK(pe_f32_from_bf16(out[1]) == 2.265625f);

    /* D = 4, inv_freq [1, 0.01], position 1: (x0, x2) turn by 1 rad, (x1, x3) by 0.01 rad.
     * cos 1 = 0.5403023, sin 1 = 0.8414710: x0' = 1 cos1 - 3 sin1 = -1.9841106,
     * x2' = 3 cos1 + 1 sin1 = 2.4623779; x1' = 2 cos.01 - 4 sin.01 = 1.9599007,
     * x3' = 4 cos.01 + 2 sin.01 = 4.0197997. Row 1 (position 0) is unchanged.
     * ld = 6 leaves 2 columns after the head untouched. */
    float inv[2] = {1.0f, 0.01f};
    float v[12] = {1, 2, 3, 4, 7, 7, 5, 6, 7, 8, 9, 9};
    int32_t pos[2] = {1, 0};
    pe_ref_rope(v, 2, 6, 1, 4, pos, inv);
    CHECK_NEAR(v[0], -1.9841106, 1e-6);
    CHECK_NEAR(v[1], 1.9599007, 1e-6);
    CHECK_NEAR(v[2], 2.4623779, 1e-6);
    CHECK_NEAR(v[3], 4.0197997, 1e-6);
    CHECK(v[4] == 7 && v[5] == 7);
    CHECK(v[6] == 5 && v[7] == 6 && v[8] == 7 && v[9] == 8);
}

static void test_attention(void)
{
    /* Two packed sequences: tokens 0-1 and token 2. NH = 2, NKV = 1, D = 2,
     * row = q0 (2) | q1 (2) | k (2) | v (2).
     * Token 0 sees only itself: both heads output v0 = [1, 0].
     * Token 1, head 0: q = [1, 0], k0 = [0, 0], k1 = [1, 0]: scores 0 and 1/sqrt2,
     * weights 1/(1+e^0.7071) = 0.3302385 and 0.6697615; v1 = [0, 2]
     * -> [0.3302385, 1.3395231] -> bf16 [0.330078125, 1.3359375].
     * Token 1, head 1: q = [0, 0]: equal weights -> [0.5, 1].
     * Token 2 starts a new sequence: it must not see tokens 0-1: output v2 = [3, -1]. */
    float rows[3][8] = {
        {5, 5, -4, 4, 0, 0, 1, 0},
        {1, 0, 0, 0, 1, 0, 0, 2},
        {1, 1, 1, 1, 9, 9, 3, -1},
    };
    pe_bf16 qkv[24], out[12];
    for (int i = 0; i < 24; i++)
        qkv[i] = B(rows[i / 8][i % 8]);
    int64_t starts[3] = {0, 2, 3};
    pe_attn_tile *tiles;
    pe_attn_span *spans;
    int64_t ntiles = pe_plain_plan(starts, 2, qkv, 8, 4, &tiles, &spans);
    pe_ref_attention(out, qkv, 8, tiles, ntiles, spans, 0, 2, 1, 2, 0);
    float o[12];
    for (int i = 0; i < 12; i++)
        o[i] = pe_f32_from_bf16(out[i]);
    CHECK(o[0] == 1 && o[1] == 0 && o[2] == 1 && o[3] == 0);
    CHECK(o[4] == 0.330078125f);
    CHECK(o[5] == 1.3359375f);
    CHECK(o[6] == 0.5f && o[7] == 1.0f);
    CHECK(o[8] == 3 && o[9] == -1 && o[10] == 3 && o[11] == -1);

    /* Sliding window 1: every token sees only itself, so token 1 outputs v1. */
    pe_ref_attention(out, qkv, 8, tiles, ntiles, spans, 0, 2, 1, 2, 1);
    CHECK(pe_f32_from_bf16(out[4]) == 0.0f && pe_f32_from_bf16(out[5]) == 2.0f);

    /* Token 1 again, as a segment at position 1 whose ancestor (token 0) lives
     * in a cache slot of 2 layers: layer 1 holds token 0's k|v; layer 0 holds
     * k = [1, 0], v = [9, 9], which would give head 0 weights 0.5, 0.5. */
    pe_bf16 slot[8] = {B(1), B(0), B(9), B(9), B(0), B(0), B(1), B(0)};
    const pe_bf16 *slots[1] = {slot};
    int64_t slot_len[1] = {1}, slot_pos0[1] = {0}, seg[2] = {0, 1}, pos0[1] = {1}, max_len = 0;
    int ctx_start[2] = {0, 1};
    pe_kv_ref ctx[1] = {{-1, 0}};
    int32_t tok[1] = {0};
    pe_batch b = {.tokens = tok, .ntok = 1, .seq_start = seg, .nseq = 1, .pos0 = pos0, .ctx_start = ctx_start, .ctx = ctx};
    pe_err e = {0, ""};
    CHECK_INT(pe_batch_check(&b, 1, 1, slot_pos0, slot_len, &max_len, &e), PE_OK);
    CHECK_INT(max_len, 2);
    pe_attn_tile t1;
    pe_attn_span sp1[2];
    int64_t nsp = 0;
    CHECK_INT(pe_attn_plan(&b, qkv + 8, 8, 4, slots, slot_len, 4, &t1, sp1, &nsp), 1);
    CHECK_INT(nsp, 2);
    CHECK(t1.qpos == 1 && t1.span0 == 0 && t1.span1 == 2 && sp1[0].k == slot && sp1[0].layer_stride == 4);
    CHECK(sp1[1].k == qkv + 8 + 4 && sp1[1].pos0 == 1 && sp1[1].n == 1);
    pe_bf16 o1[4];
    pe_ref_attention(o1, qkv + 8, 8, &t1, 1, sp1, 1, 2, 1, 2, 0);
    pe_ref_attention(out, qkv, 8, tiles, ntiles, spans, 0, 2, 1, 2, 0);   /* out holds window 1's: again */
    CHECK(memcmp(o1, out + 4, sizeof o1) == 0);
    CHECK(pe_f32_from_bf16(o1[0]) == 0.330078125f && pe_f32_from_bf16(o1[1]) == 1.3359375f);
    pe_ref_attention(o1, qkv + 8, 8, &t1, 1, sp1, 0, 2, 1, 2, 0);   /* layer 0 of the slot */
    CHECK(pe_f32_from_bf16(o1[0]) == 4.5f && pe_f32_from_bf16(o1[1]) == 5.5f);
    free(tiles), free(spans);
}

static uint32_t lcg = 2463534242u;

static float urand(void)   /* uniform in [-1, 1) */
{
    lcg = lcg * 1664525u + 1013904223u;
    return (float)(lcg >> 8) * 0x1p-23f - 1.0f;
}

/* K (kv head 0) of absolute position pos among a tile's spans; V is NKV*D further. */
static const pe_bf16 *span_key(const pe_attn_tile *t, const pe_attn_span *spans, int layer, int64_t pos)
{
    for (int j = t->span0; j < t->span1; j++)
        if (pos >= spans[j].pos0 && pos < spans[j].pos0 + spans[j].n)
            return spans[j].k + (size_t)layer * (size_t)spans[j].layer_stride +
                   (size_t)(pos - spans[j].pos0) * (size_t)spans[j].ld;
    return NULL;
}

/* The CUDA kernel's arithmetic (kernels/attention.cu), modelled in C on its
 * own arguments (tiles and key spans): per tile the key tiles of 64 positions
 * of pe_attn_key_range (the kernel's own rule), scores as fp32 sums of bf16
 * products, online softmax in base 2 in fp32, P rounded to bf16 before P.V,
 * l summed from the unrounded p, output rounded to bf16. Here to show that the
 * GPU harness's tolerance (2e-2) holds for that arithmetic at long lengths,
 * and that its key tiles give a row the same bits with or without reuse. */
static void kernel_model(pe_bf16 *out, const pe_bf16 *qkv, int64_t ld, const pe_attn_tile *tiles, int64_t ntiles,
                         const pe_attn_span *spans, int layer, int NH, int NKV, int D, int window)
{
    float scale_log2 = 1.4426950408889634f / sqrtf((float)D);
    #pragma omp parallel for schedule(dynamic, 1)
    for (int64_t ti = 0; ti < ntiles; ti++) {
        const pe_attn_tile *t = &tiles[ti];
        int64_t kstart, kend, rows = t->q_end - t->q0 < 64 ? t->q_end - t->q0 : 64;
        pe_attn_key_range(t, window, &kstart, &kend);
        float acc[512], s[64];   /* D <= 512, as the reference */
        for (int64_t r = 0; r < rows; r++)
            for (int h = 0; h < NH; h++) {
                int64_t qi = t->qpos + r;
                const pe_bf16 *q = qkv + (size_t)(t->q0 + r) * ld + (size_t)h * D;
                size_t kcol = (size_t)(h / (NH / NKV)) * D, voff = (size_t)NKV * D;
                float m = -INFINITY, l = 0.0f;
                for (int c = 0; c < D; c++)
                    acc[c] = 0.0f;
                for (int64_t k0 = kstart; k0 < kend; k0 += 64) {
                    float mt = -INFINITY;
                    for (int j = 0; j < 64; j++) {
                        int64_t kj = k0 + j;
                        s[j] = -INFINITY;
                        if (kj <= qi && kj < kend && (window <= 0 || qi - kj < window)) {
                            const pe_bf16 *k = span_key(t, spans, layer, kj) + kcol;
                            float dot = 0.0f;
                            for (int c = 0; c < D; c++)
                                dot += pe_f32_from_bf16(q[c]) * pe_f32_from_bf16(k[c]);
                            s[j] = dot * scale_log2;
                        }
                        mt = fmaxf(mt, s[j]);
                    }
                    float m_new = fmaxf(m, mt), alpha = m_new == -INFINITY ? 1.0f : exp2f(m - m_new), psum = 0.0f;
                    for (int c = 0; c < D; c++)
                        acc[c] *= alpha;
                    for (int j = 0; j < 64; j++) {
                        float p = s[j] == -INFINITY ? 0.0f : exp2f(s[j] - m_new);
                        psum += p;
                        float pb = pe_round_bf16(p);
                        const pe_bf16 *v = pb != 0.0f ? span_key(t, spans, layer, k0 + j) + kcol + voff : NULL;
                        for (int c = 0; v && c < D; c++)
                            acc[c] += pb * pe_f32_from_bf16(v[c]);
                    }
                    l = l * alpha + psum;
                    m = m_new;
                }
                for (int c = 0; c < D; c++)
                    out[(size_t)(t->q0 + r) * NH * D + (size_t)h * D + c] = pe_bf16_from_f32(acc[c] / l);
            }
    }
}

/* max |a - b| / max |b| over rows [from, n) of width w (bf16 both). */
static double rows_err(const pe_bf16 *a, const pe_bf16 *b, int64_t from, int64_t n, size_t w)
{
    double mx = 0.0, err = 0.0;
    for (size_t i = (size_t)from * w; i < (size_t)n * w; i++) {
        double x = pe_f32_from_bf16(a[i]), y = pe_f32_from_bf16(b[i]);
        mx = fabs(y) > mx ? fabs(y) : mx;
        err = fabs(x - y) > err ? fabs(x - y) : err;
    }
    return err / (mx > 0 ? mx : 1e-30);
}

/* The layouts of the GPU harness's long-sequence and full-batch cases
 * (test_cuda_kernels.c), on the CPU: the tiles, and the reference attention
 * at those lengths (uniform weights give the running mean of v exactly; a
 * sequence alone equals the same sequence inside the packed batch; the
 * kernel's own arithmetic stays within the harness's tolerance). */
static void test_attention_long(void)
{
    int64_t starts[PE_FULL_BATCH_MAX_SEQ + 1];
    int nseq = pe_full_batch_layout(starts);
    pe_bf16 *dummy = calloc((size_t)PE_FULL_BATCH_TOKENS * 8, sizeof *dummy);
    pe_attn_tile *tiles;
    pe_attn_span *spans;
    int64_t ntiles = pe_plain_plan(starts, nseq, dummy, 8, 2, &tiles, &spans), expect = 0;
    for (int i = 0; i < nseq; i++)
        expect += (starts[i + 1] - starts[i] + 63) / 64;
    CHECK_INT(starts[nseq], PE_FULL_BATCH_TOKENS);
    CHECK_INT(ntiles, expect);
    CHECK(ntiles >= 280 && ntiles <= 340);
    /* every token is a query row of exactly one tile, a tile stays in its
     * sequence, and its one span is the sequence from position 0 */
    int64_t next = 0, bad = 0;
    for (int64_t t = 0; t < ntiles; t++) {
        int64_t q0 = tiles[t].q0, s1 = tiles[t].q_end;
        int64_t q1 = q0 + 64 < s1 ? q0 + 64 : s1;
        const pe_attn_span *a = &spans[tiles[t].span0];
        int64_t s0 = (a->k - (dummy + 2)) / 8;
        bad += q0 != next || q0 < s0 || q0 >= s1 || tiles[t].qpos != q0 - s0 || tiles[t].qpos % 64 != 0 ||
               tiles[t].span1 != tiles[t].span0 + 1 || a->pos0 != 0 || a->n != s1 - s0;
        next = q1;
    }
    CHECK_INT(bad, 0);
    CHECK_INT(next, PE_FULL_BATCH_TOKENS);
    free(tiles), free(spans), free(dummy);

    /* 3,600 tokens, q = 0: every visible key weighs the same, so row i is the
     * mean of v over its keys (with a window of 1000: the last 1000). */
    int NH = 2, NKV = 1, D = 16;
    int64_t n = 3600, ld = (int64_t)(NH + 2 * NKV) * D;
    pe_bf16 *qkv = malloc((size_t)n * ld * sizeof *qkv), *out = malloc((size_t)n * NH * D * sizeof *out);
    pe_bf16 *model = malloc((size_t)n * NH * D * sizeof *model);
    for (size_t i = 0; i < (size_t)n * ld; i++)
        qkv[i] = B(2.0f * urand());
    for (int64_t t = 0; t < n; t++)
        for (int c = 0; c < NH * D; c++)
            qkv[(size_t)t * ld + c] = B(0.0f);
    int64_t one[2] = {0, n};
    int64_t nt1 = pe_plain_plan(one, 1, qkv, ld, (int64_t)NH * D, &tiles, &spans);
    for (int window = 0; window <= 1000; window += 1000) {
        pe_ref_attention(out, qkv, ld, tiles, nt1, spans, 0, NH, NKV, D, window);
        int64_t wrong = 0;
        for (int64_t t = 0; t < n; t++) {
            int64_t lo = window > 0 && t - window + 1 > 0 ? t - window + 1 : 0;
            for (int c = 0; c < D; c++) {
                double sum = 0.0;
                for (int64_t k = lo; k <= t; k++)
                    sum += pe_f32_from_bf16(qkv[(size_t)k * ld + (size_t)(NH + NKV) * D + c]);
                pe_bf16 want = pe_bf16_from_f32((float)(sum / (double)(t - lo + 1)));
                wrong += out[(size_t)t * NH * D + c] != want || out[(size_t)t * NH * D + D + c] != want;
            }
        }
        CHECK_INT(wrong, 0);
    }

    /* Random q: the kernel's arithmetic against the reference, rows >= 1024 on their own scale. */
    for (size_t i = 0; i < (size_t)n * ld; i++)
        qkv[i] = B(2.0f * urand());
    for (int window = 0; window <= 1000; window += 1000) {
        pe_ref_attention(out, qkv, ld, tiles, nt1, spans, 0, NH, NKV, D, window);
        kernel_model(model, qkv, ld, tiles, nt1, spans, 0, NH, NKV, D, window);
        double all = rows_err(model, out, 0, n, (size_t)NH * D), tail = rows_err(model, out, 1024, n, (size_t)NH * D);
        printf("kernel model vs reference, 3600 tokens, window %d: normalised error %.3g (rows >= 1024: %.3g)\n",
               window, all, tail);
        CHECK(all <= 2e-2 && tail <= 2e-2 && tail > 0.0);
    }
    free(qkv), free(out), free(model), free(tiles), free(spans);

    /* The packed full batch (one head, D 16): a sequence alone gives the same bits. */
    NH = NKV = 1;
    ld = 3 * D;
    n = PE_FULL_BATCH_TOKENS;
    qkv = malloc((size_t)n * ld * sizeof *qkv);
    out = malloc((size_t)n * D * sizeof *out);
    for (size_t i = 0; i < (size_t)n * ld; i++)
        qkv[i] = B(2.0f * urand());
    ntiles = pe_plain_plan(starts, nseq, qkv, ld, D, &tiles, &spans);
    pe_ref_attention(out, qkv, ld, tiles, ntiles, spans, 0, NH, NKV, D, 0);
    free(tiles), free(spans);
    int64_t len = starts[8] - starts[7], seq7[2] = {0, len};
    CHECK(len >= 1500);
    pe_bf16 *alone = malloc((size_t)len * D * sizeof *alone);
    ntiles = pe_plain_plan(seq7, 1, qkv + (size_t)starts[7] * ld, ld, D, &tiles, &spans);
    pe_ref_attention(alone, qkv + (size_t)starts[7] * ld, ld, tiles, ntiles, spans, 0, NH, NKV, D, 0);
    CHECK(memcmp(alone, out + (size_t)starts[7] * D, (size_t)len * D * sizeof *alone) == 0);
    free(qkv), free(out), free(alone), free(tiles), free(spans);
}

/* Rows of out_a (reuse layout) that differ from the whole layout's row they repeat. */
static int64_t rows_differ(const pe_bf16 *reuse, const pe_bf16 *whole, const pe_tree_layout *t)
{
    size_t w = (size_t)t->NH * t->D;
    int64_t n = 0;
    for (int64_t r = 0; r < t->reuse_ntok; r++)
        n += memcmp(reuse + (size_t)r * w, whole + (size_t)t->row_of[r] * w, w * sizeof *reuse) != 0;
    return n;
}

/* Prefix reuse: prompts computed as segments whose ancestors are read from an
 * earlier segment of the batch or from cache slots (attn_layouts.h's tree:
 * several segments, both kinds of ancestor, a slot of 3 layers) give the same
 * bits as the prompts computed whole, in the reference and in the model of
 * the kernel's arithmetic; with GQA and sliding windows that reach into the
 * ancestors. */
static void test_attention_reuse(void)
{
    static const int64_t lens[PE_TREE_NODES] = {100, 70, 130, 1, 64, 37};  /* A B C D E G */
    static const struct { int NH, NKV, D, window, layer; } cases[] = {
        {4, 2, 16, 0, 1}, {4, 2, 16, 50, 2}, {2, 2, 32, 150, 0}, {6, 1, 16, 64, 1}, {4, 1, 16, 2, 2}};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        int NH = cases[ci].NH, NKV = cases[ci].NKV, D = cases[ci].D, window = cases[ci].window;
        pe_tree_layout t;
        pe_tree_layout_make(&t, lens, NH, NKV, D, cases[ci].layer, urand);
        /* the layout keeps the batch contract (backend.h) */
        pe_err e = {0, ""};
        int64_t max_len = 0;
        CHECK_INT(pe_batch_check(&t.batch, 1, 2, t.slot_pos0, t.slot_len, &max_len, &e), PE_OK);
        CHECK_INT(max_len, lens[PE_TREE_A] + lens[PE_TREE_B] + lens[PE_TREE_C]);
        pe_attn_tile *wt, *rt;
        pe_attn_span *ws, *rs;
        const pe_bf16 *slots[2] = {t.slot[0], t.slot[1]};
        int64_t nw = pe_plain_plan(t.whole_starts, 4, t.whole, t.ld, (int64_t)NH * D, &wt, &ws);
        int64_t nr = pe_tree_plan(&t, t.reuse, slots, &rt, &rs);
        /* B 2 tiles, C 3, D 1, E 1, G 1; spans B 2, C 3, D 3, E 2, G 1 */
        CHECK_INT(nr, 8);
        CHECK(rt[2].qpos == 170 && rt[2].span1 - rt[2].span0 == 3 && rs[rt[2].span0].k == t.slot[0] &&
              rs[rt[2].span0 + 1].k == t.reuse + (size_t)NH * D && rs[rt[2].span0 + 1].pos0 == 100);
        size_t w = (size_t)NH * D;
        pe_bf16 *whole = malloc((size_t)t.whole_ntok * w * sizeof *whole);
        pe_bf16 *reuse = malloc((size_t)t.reuse_ntok * w * sizeof *reuse);
        pe_ref_attention(whole, t.whole, t.ld, wt, nw, ws, 0, NH, NKV, D, window);
        pe_ref_attention(reuse, t.reuse, t.ld, rt, nr, rs, t.layer, NH, NKV, D, window);
        int64_t ref_diff = rows_differ(reuse, &whole[0], &t);
        /* the slot's other layers hold other values: reading one must change rows */
        pe_ref_attention(reuse, t.reuse, t.ld, rt, nr, rs, (t.layer + 1) % PE_TREE_L, NH, NKV, D, window);
        int64_t other_layer = rows_differ(reuse, whole, &t);
        kernel_model(whole, t.whole, t.ld, wt, nw, ws, 0, NH, NKV, D, window);
        kernel_model(reuse, t.reuse, t.ld, rt, nr, rs, t.layer, NH, NKV, D, window);
        int64_t model_diff = rows_differ(reuse, whole, &t);
        printf("attention with prefix reuse, NH %d NKV %d D %d window %d, slot layer %d: rows differing from the "
               "whole prompts: reference %lld, kernel model %lld of %lld (reading another slot layer: %lld)\n", NH,
               NKV, D, window, t.layer, (long long)ref_diff, (long long)model_diff, (long long)t.reuse_ntok,
               (long long)other_layer);
        CHECK_INT(ref_diff, 0);
        CHECK_INT(model_diff, 0);
        CHECK(other_layer > 0);
        free(whole), free(reuse), free(wt), free(ws), free(rt), free(rs);
        pe_tree_layout_free(&t);
    }
}

/* bf16 reference out (rows, w) against fp32 CPU attention: within bf16 rounding. */
static void check_vs_cpu(const char *what, int window, const pe_bf16 *ref, const float *cpu, size_t n)
{
    size_t bad = 0;
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = pe_f32_from_bf16(ref[i]), c = cpu[i], d = fabs(r - c);
        bad += d > 0x1p-8 * fabs(c) + 1e-5;
        worst = d > worst ? d : worst;
    }
    printf("reference vs CPU attention (%s), window %d: %zu values, worst difference %.3g, %zu over bf16 rounding\n",
           what, window, n, worst, bad);
    CHECK(bad == 0 && worst > 0.0);
}

/* The reference against the CPU backend's attention (pe_attention_forward,
 * fp32, two-pass softmax: another implementation) on the packed whole prompts
 * and on the same prompts cut into segments whose ancestors the CPU op reads
 * from its own spans (fp32 copies of the batch rows and the slots' layer):
 * equal to bf16 rounding. */
static void test_attention_vs_cpu(void)
{
    static const int64_t lens[PE_TREE_NODES] = {100, 70, 130, 1, 64, 37};
    for (int window = 0; window <= 50; window += 50) {
        int NH = 4, NKV = 2, D = 16, layer = 1;
        pe_tree_layout t;
        pe_tree_layout_make(&t, lens, NH, NKV, D, layer, urand);
        size_t w = (size_t)NH * D, ld = (size_t)t.ld, kvw = (size_t)t.kvw;
        int64_t max_len = lens[PE_TREE_A] + lens[PE_TREE_B] + lens[PE_TREE_C]; /* the longest prompt */
        float *scratch = malloc((size_t)omp_get_max_threads() * (size_t)max_len * sizeof *scratch);

        /* whole prompts, no reuse */
        size_t n = (size_t)t.whole_ntok;
        float *qkv = malloc(n * ld * sizeof *qkv), *cpu = malloc(n * w * sizeof *cpu);
        for (size_t i = 0; i < n * ld; i++)
            qkv[i] = pe_f32_from_bf16(t.whole[i]);
        pe_attention_forward(cpu, qkv, ld, t.whole_starts, 4, NULL, NULL, NULL, NH, NKV, D, window, scratch, max_len);
        pe_attn_tile *tiles;
        pe_attn_span *spans;
        int64_t nt = pe_plain_plan(t.whole_starts, 4, t.whole, t.ld, (int64_t)w, &tiles, &spans);
        pe_bf16 *ref = malloc(n * w * sizeof *ref);
        pe_ref_attention(ref, t.whole, t.ld, tiles, nt, spans, 0, NH, NKV, D, window);
        check_vs_cpu("whole prompts", window, ref, cpu, n * w);
        free(qkv), free(cpu), free(ref), free(tiles), free(spans);

        /* segments with ancestors in the batch and in the slots (layer 1) */
        n = (size_t)t.reuse_ntok;
        qkv = malloc(n * ld * sizeof *qkv), cpu = malloc(n * w * sizeof *cpu);
        for (size_t i = 0; i < n * ld; i++)
            qkv[i] = pe_f32_from_bf16(t.reuse[i]);
        float *slot32[2];
        for (int k = 0; k < 2; k++) {
            size_t m = (size_t)t.slot_len[k] * kvw;
            slot32[k] = malloc(m * sizeof *slot32[k]);
            for (size_t i = 0; i < m; i++)
                slot32[k][i] = pe_f32_from_bf16(t.slot[k][(size_t)layer * m + i]);
        }
        pe_kv_span kv[6];
        for (int c = 0; c < t.ctx_start[5]; c++) {
            const pe_kv_ref *r = &t.ctx[c];
            const float *k0 = r->seg >= 0 ? qkv + (size_t)t.reuse_starts[r->seg] * ld + w : slot32[r->slot];
            kv[c] = (pe_kv_span){k0, k0 + (size_t)NKV * D, r->seg >= 0 ? ld : kvw,
                                 r->seg >= 0 ? t.reuse_starts[r->seg + 1] - t.reuse_starts[r->seg] : t.slot_len[r->slot]};
        }
        pe_attention_forward(cpu, qkv, ld, t.reuse_starts, 5, t.pos0, t.ctx_start, kv, NH, NKV, D, window, scratch,
                             max_len);
        const pe_bf16 *slots[2] = {t.slot[0], t.slot[1]};
        nt = pe_tree_plan(&t, t.reuse, slots, &tiles, &spans);
        ref = malloc(n * w * sizeof *ref);
        pe_ref_attention(ref, t.reuse, t.ld, tiles, nt, spans, layer, NH, NKV, D, window);
        check_vs_cpu("prefix reuse", window, ref, cpu, n * w);
        free(qkv), free(cpu), free(ref), free(tiles), free(spans), free(slot32[0]), free(slot32[1]), free(scratch);
        pe_tree_layout_free(&t);
    }
}

static void test_elementwise(void)
{
    /* silu(1) * 2 = 0.7310586 * 2 = 1.4621172 -> bf16 1.4609375; silu(0) * 5 = 0 */
    pe_bf16 gu[4] = {B(1), B(0), B(2), B(5)}, out[2];
    pe_ref_swiglu(out, gu, 1, 2);
    CHECK(pe_f32_from_bf16(out[0]) == 1.4609375f);
    CHECK(pe_f32_from_bf16(out[1]) == 0.0f);

    float x[4] = {1, -3, 0.5f, 2};
    pe_bf16 bias[2] = {B(0.5f), B(1)}, r[4];
    pe_ref_bias_relu_bf16(r, x, bias, 2, 2);
    CHECK(pe_f32_from_bf16(r[0]) == 1.5f && pe_f32_from_bf16(r[1]) == 0.0f);
    CHECK(pe_f32_from_bf16(r[2]) == 1.0f && pe_f32_from_bf16(r[3]) == 3.0f);
    pe_ref_bias_add(x, bias, 2, 2);
    CHECK(x[0] == 1.5f && x[1] == -2.0f && x[2] == 1.0f && x[3] == 3.0f);
    float h[2] = {1, 2}, d[2] = {0.25f, -4};
    pe_ref_residual_add(h, d, 2);
    CHECK(h[0] == 1.25f && h[1] == -2.0f);
    float c[2] = {1.0f + 3 * 0x1p-8f, -0.1f};
    pe_bf16 cb[2];
    pe_ref_cast_bf16(cb, c, 2);
    CHECK_INT(cb[0], 0x3f82);
    CHECK_INT(cb[1], 0xbdcd);   /* -0.1: 0xbdcccccd rounds up to 0xbdcd */

    pe_bf16 table[6] = {B(1), B(2), B(3), B(4), B(5), B(6)}, eb[4];
    int32_t tok[2] = {2, 0};
    float ef[4];
    pe_ref_embed_f32(ef, table, tok, 2, 2);
    CHECK(ef[0] == 5 && ef[1] == 6 && ef[2] == 1 && ef[3] == 2);
    pe_ref_embed_bf16(eb, table, tok, 2, 2);
    CHECK(eb[0] == table[4] && eb[3] == table[1]);
}

static void test_heads(void)
{
    /* x rows [1, 2] and [-1, 0.5]; w rows [1, 0], [0, 1], [0.5, -0.25];
     * b = [0.5, 0, 0.125]: z row 0 = [1.5, 2, 0.125], row 1 = [-0.5, 0.5, -0.5] */
    pe_bf16 x[4] = {B(1), B(2), B(-1), B(0.5f)};
    pe_bf16 w[6] = {B(1), B(0), B(0), B(1), B(0.5f), B(-0.25f)}, b[3] = {B(0.5f), B(0), B(0.125f)};
    float zr[6];
    pe_ref_head_rows(zr, x, w, b, 2, 3, 2);
    const float want[6] = {1.5f, 2.0f, 0.125f, -0.5f, 0.5f, -0.5f};
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(zr[i], want[i], 1e-7);
    /* no bias: row 0 = [1, 2, 0] */
    pe_ref_head_rows(zr, x, w, NULL, 1, 3, 2);
    CHECK(zr[0] == 1.0f && zr[1] == 2.0f && zr[2] == 0.0f);
    /* the read rules the backends share (src/prm/head.c) on these logits:
     * softmax(1.5, 2)[0] = sigmoid(-0.5) = 0.3775407 (pick 0 of two rows);
     * sigmoid(0.125) = 0.5312094; p1 - p0 = tanh(0.25) = 0.2449187 */
    float r[2];
    pe_head_desc pick = {.rows = PE_ROWS_TENSOR, .read = PE_READ_SOFTMAX_PICK, .nrows = 2, .nout = 1, .pick = 0};
    float z2[2] = {1.5f, 2.0f};
    pe_head_read_rewards(&pick, z2, 1, r);
    CHECK_NEAR(r[0], 0.3775407, 1e-6);
    pe_head_desc sig = {.rows = PE_ROWS_TENSOR, .read = PE_READ_SIGMOID, .nrows = 1, .nout = 1};
    float z1[2] = {0.125f, -0.625f};
    pe_head_read_rewards(&sig, z1, 2, r);
    CHECK_NEAR(r[0], 0.5312094, 1e-6);
    CHECK_NEAR(r[1], 1.0 / (1.0 + exp(0.625)), 1e-6);
    pe_head_desc diff = {.rows = PE_ROWS_TENSOR, .read = PE_READ_SOFTMAX_DIFF, .nrows = 2, .nout = 1};
    pe_head_read_rewards(&diff, z2, 1, r);
    CHECK_NEAR(r[0], tanh(0.25), 1e-6);
    pe_head_desc raw = {.rows = PE_ROWS_TENSOR, .read = PE_READ_RAW, .nrows = 1, .nout = 1};
    pe_head_read_rewards(&raw, z1, 2, r);
    CHECK(r[0] == 0.125f && r[1] == -0.625f);
    pe_head_desc pick3 = {.rows = PE_ROWS_TENSOR, .read = PE_READ_SOFTMAX_PICK, .nrows = 3, .nout = 1, .pick = 2};
    float z3[3] = {1, 2, 3};
    pe_head_read_rewards(&pick3, z3, 1, r);
    CHECK_NEAR(r[0], 0.6652410, 1e-6);
    /* logits [1, 2, 3], token 2: e^3 / (e + e^2 + e^3) = 0.6652410; a second row
     * with a huge offset must give the same (the max is subtracted first). */
    float z[6] = {1, 2, 3, 1001, 1002, 1003}, p[2];
    pe_ref_lse_pick(p, z, 2, 3, 2);
    CHECK_NEAR(p[0], 0.6652410, 1e-6);
    CHECK_NEAR(p[1], 0.6652410, 1e-6);

    float hs[6] = {1, 2, 3, 4, 5, 6}, g[4];
    int64_t rows[2] = {2, 0};
    pe_ref_gather_rows(g, hs, rows, 2, 2);
    CHECK(g[0] == 5 && g[1] == 6 && g[2] == 1 && g[3] == 2);

    /* [1 2; 3 4] times [5 6; 7 8]^T = [17 23; 39 53] */
    pe_bf16 a[4] = {B(1), B(2), B(3), B(4)}, m[4] = {B(5), B(6), B(7), B(8)};
    float mm[4];
    pe_ref_matmul_bf16(mm, a, m, 2, 2, 2);
    CHECK(mm[0] == 17 && mm[1] == 23 && mm[2] == 39 && mm[3] == 53);
}

int main(void)
{
    test_formats();
    test_rope_tables();
    test_norm_rope();
    test_attention();
    test_attention_long();
    test_attention_reuse();
    test_attention_vs_cpu();
    test_elementwise();
    test_heads();
    return pe_check_done();
}
