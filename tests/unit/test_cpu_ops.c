/* The CPU forward operations one by one, against hand-worked values. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/blas.h"
#include "backend/cpu_ops.h"
#include "backend/cpu_weights.h"
#include "check.h"

#define NEAR(a, b, tol) CHECK(fabs((double)(a) - (double)(b)) <= (tol))

static void test_dtypes(void)
{
    CHECK(pe_f32_from_bf16(0x3F80) == 1.0f);
    CHECK(pe_f32_from_bf16(0xC000) == -2.0f);
    CHECK(pe_f32_from_bf16(0x3E20) == 0.15625f);
    CHECK(pe_f32_from_f16(0x3C00) == 1.0f);
    CHECK(pe_f32_from_f16(0xC000) == -2.0f);
    CHECK(pe_f32_from_f16(0x3555) == 0.333251953125f);                /* (1 + 0x155/1024) / 4 */
    CHECK(pe_f32_from_f16(0x7BFF) == 65504.0f);                      /* largest half */
    CHECK(pe_f32_from_f16(0x0400) == ldexpf(1.0f, -14));             /* smallest normal */
    CHECK(pe_f32_from_f16(0x0001) == ldexpf(1.0f, -24));             /* smallest subnormal */
    CHECK(pe_f32_from_f16(0x03FF) == ldexpf(1023.0f, -24));          /* largest subnormal */
    CHECK(pe_f32_from_f16(0x8200) == -ldexpf(1.0f, -15));
    CHECK(isinf(pe_f32_from_f16(0xFC00)) && pe_f32_from_f16(0xFC00) < 0);
    CHECK(isnan(pe_f32_from_f16(0x7E00)));
    CHECK(signbit(pe_f32_from_f16(0x8000)) && pe_f32_from_f16(0x8000) == 0.0f);

    /* Unaligned source: start one byte into the buffer. */
    unsigned char buf[9];
    float v[2] = {1.5f, -3.25f}, out[2];
    memcpy(buf + 1, v, sizeof v);
    pe_cpu_convert_f32(buf + 1, PE_DT_F32, 1, 1, out);
    CHECK(out[0] == -3.25f);
    uint16_t h[3] = {0x3C00, 0x4000, 0xBC00}; /* f16 1, 2, -1 */
    memcpy(buf + 1, h, sizeof h);
    pe_cpu_convert_f32(buf + 1, PE_DT_F16, 1, 2, out);
    CHECK(out[0] == 2.0f && out[1] == -1.0f);
}

static void test_embed(void)
{
    uint16_t table[3 * 2] = {0x3F80, 0x4000, 0x4040, 0x4080, 0xBF80, 0x0000}; /* bf16 1 2 3 4 -1 0 */
    int32_t toks[3] = {2, 0, 2};
    float out[6];
    pe_embed_forward(out, toks, table, PE_DT_BF16, 3, 2);
    CHECK(out[0] == -1.0f && out[1] == 0.0f && out[2] == 1.0f && out[3] == 2.0f);
    CHECK(out[4] == -1.0f && out[5] == 0.0f);
}

static void test_rmsnorm(void)
{
    /* A constant row c: mean(x^2) = c^2, so out = w * c / sqrt(c^2 + eps). */
    float x[2 * 4] = {2, 2, 2, 2, 3, -4, 0, 0}, w[4] = {1, 0.5f, -1, 2}, out[8];
    pe_rmsnorm_forward(out, x, w, 2, 4, 1e-6f);
    double r = 2.0 / sqrt(4.0 + 1e-6);
    NEAR(out[0], r, 1e-6); NEAR(out[1], 0.5 * r, 1e-6); NEAR(out[2], -r, 1e-6); NEAR(out[3], 2 * r, 1e-6);
    /* (3, -4, 0, 0): mean of squares 25/4, rms 2.5 */
    NEAR(out[4], 3 / 2.5, 1e-6); NEAR(out[5], 0.5 * -4 / 2.5, 1e-6); CHECK(out[6] == 0 && out[7] == 0);
    pe_rmsnorm_forward(x, x, w, 1, 4, 1e-6f); /* in place */
    NEAR(x[0], r, 1e-6);
}

static void test_rope(void)
{
    float inv[8];
    pe_rope_inv_freq(inv, 4, 100.0, 0, 0, 0, 0, 0);
    NEAR(inv[0], 1.0, 1e-7); NEAR(inv[1], 0.1, 1e-7); /* 100^(-2i/4) */

    /* Llama-3.1 scaling, theta 500000, D 16, original context 64 (values from
     * the Hugging Face formula worked by hand): i = 0 kept (wavelength 6.3 < 16),
     * i = 1 blended (wavelength 32.4: s = (64/32.4 - 1)/3), i >= 2 divided by 8. */
    pe_rope_inv_freq(inv, 16, 500000.0, 1, 8.0, 1.0, 4.0, 64);
    NEAR(inv[0], 1.0, 1e-7);
    NEAR(inv[1], 0.0794030091792082, 1e-7);
    NEAR(inv[2] / 0.004700753866357992, 1.0, 1e-6);
    NEAR(inv[7] / 1.2891731721515574e-06, 1.0, 1e-6);

    /* Position 0 is the identity; position 1 rotates pair (0, 2) by 1 rad and
     * pair (1, 3) by 0.1 rad (rotate_half: element j pairs with j + D/2). */
    int32_t pos[2] = {0, 1};
    float cs[4], sn[4];
    pe_rope_inv_freq(inv, 4, 100.0, 0, 0, 0, 0, 0);
    pe_rope_table(cs, sn, pos, inv, 2, 4);
    /* 2 tokens, 2 heads of D = 4, row stride 10 (the rest of the row untouched) */
    float x[20];
    for (int i = 0; i < 20; i++) x[i] = (float)(i + 1);
    pe_rope_forward(x, cs, sn, 2, 10, 2, 4);
    for (int i = 0; i < 10; i++) CHECK(x[i] == (float)(i + 1));
    double a = 11, b = 12, c = 13, d = 14; /* token 1, head 0 */
    NEAR(x[10], a * cos(1.0) - c * sin(1.0), 1e-5);
    NEAR(x[12], c * cos(1.0) + a * sin(1.0), 1e-5);
    NEAR(x[11], b * cos(0.1) - d * sin(0.1), 1e-5);
    NEAR(x[13], d * cos(0.1) + b * sin(0.1), 1e-5);
    NEAR(x[14], 15 * cos(1.0) - 17 * sin(1.0), 1e-5); /* head 1 */
    CHECK(x[18] == 19.0f && x[19] == 20.0f);
}

static void test_matmul(void)
{
    /* x (2, 3), w (2, 3) as [out, in]: y = x w^T + b */
    float x[6] = {1, 2, 3, 4, 5, 6}, w[6] = {1, 0, -1, 0.5f, 0.5f, 0.5f}, b[2] = {10, 20}, y[4];
    const int64_t rows2[2] = {0, 2}, two_groups[3] = {0, 1, 2}, align[2] = {5, 0};
    const pe_row_groups one = {rows2, NULL, 1}, two = {two_groups, NULL, 2}, two_aligned = {two_groups, align, 2};
    pe_blas_stage st = {NULL, pe_blas_stage_floats(3, omp_get_max_threads(), 2)}, *stage = &st;
    st.mem = malloc(st.floats * sizeof(float));
    pe_err e = {0};
    if (pe_blas_load(&e)) {
        fprintf(stderr, "%s\n", e.msg);
        CHECK(!"OpenBLAS module loads (PRMEVAL_BLAS_MODULE)");
        free(st.mem);
        return;
    }
    pe_matmul_forward(y, x, w, b, &one, 3, 2, 0, stage);
    CHECK(y[0] == 8.0f && y[1] == 23.0f && y[2] == 8.0f && y[3] == 27.5f);
    pe_matmul_forward(y, x, w, NULL, &one, 3, 2, 1, stage); /* accumulate: the residual add */
    CHECK(y[0] == 6.0f && y[1] == 26.0f && y[2] == 6.0f && y[3] == 35.0f);
    pe_matmul_forward(y, x, w, b, &one, 3, 2, 1, stage);
    CHECK(y[0] == 14.0f && y[1] == 49.0f);
    pe_matmul_forward(y, x, w, b, &two, 3, 2, 0, stage); /* one row per group */
    CHECK(y[0] == 8.0f && y[1] == 23.0f && y[2] == 8.0f && y[3] == 27.5f);
    const int periods[2] = {12, 96}; /* staged with gaps, then per-group tiling */
    for (int i = 0; i < 2; i++) {
        pe_blas_force_period(periods[i]);
        memset(y, 0, sizeof y);
        pe_matmul_forward(y, x, w, b, &two_aligned, 3, 2, 1, stage); /* bias and accumulate, staged */
        CHECK(y[0] == 8.0f && y[1] == 23.0f && y[2] == 8.0f && y[3] == 27.5f);
    }
    pe_blas_force_period(0);
    free(st.mem);
}

static void test_attention(void)
{
    /* NH 4, NKV 2, D 2: q heads 0,1 read kv head 0; heads 2,3 kv head 1.
     * Row = q (8) | k (4) | v (4) = 16 floats. */
    enum { NH = 4, NKV = 2, D = 2, S = 16 };
    float qkv[4 * S], out[4 * NH * D], scratch[64];
    for (int i = 0; i < 4 * S; i++) qkv[i] = 0.1f * (float)((i * 7) % 11) - 0.5f;
    /* values: token t, kv head g -> (10t + g, -10t - g) */
    for (int t = 0; t < 4; t++)
        for (int g = 0; g < NKV; g++) {
            qkv[t * S + 12 + g * D] = (float)(10 * t + g);
            qkv[t * S + 12 + g * D + 1] = (float)(-10 * t - g);
        }
    /* Four sequences of one token: each attends only to itself, returns its v. */
    int64_t ones[5] = {0, 1, 2, 3, 4};
    pe_attention_forward(out, qkv, S, ones, 4, NULL, NULL, NULL, NH, NKV, D, 0, scratch, 1);
    for (int t = 0; t < 4; t++)
        for (int h = 0; h < NH; h++) {
            CHECK(out[(t * NH + h) * D] == (float)(10 * t + h / 2));
            CHECK(out[(t * NH + h) * D + 1] == (float)(-10 * t - h / 2));
        }
    /* One sequence of 4 with equal keys: token t averages v_0..v_t;
     * with window 1 each token sees only itself. */
    for (int t = 0; t < 4; t++)
        for (int i = 0; i < 4; i++) qkv[t * S + 8 + i] = 0.25f;
    int64_t one[2] = {0, 4};
    pe_attention_forward(out, qkv, S, one, 1, NULL, NULL, NULL, NH, NKV, D, 0, scratch, 4);
    for (int t = 0; t < 4; t++) {
        NEAR(out[(t * NH + 0) * D], 10.0 * t / 2.0, 1e-5);       /* mean of 0, 10, .., 10t */
        NEAR(out[(t * NH + 3) * D + 1], -10.0 * t / 2.0 - 1, 1e-5);
    }
    pe_attention_forward(out, qkv, S, one, 1, NULL, NULL, NULL, NH, NKV, D, 1, scratch, 4);
    for (int t = 0; t < 4; t++) CHECK(out[(t * NH + 2) * D] == (float)(10 * t + 1));
    /* Window 2: token 3 sees tokens 2 and 3 only. */
    pe_attention_forward(out, qkv, S, one, 1, NULL, NULL, NULL, NH, NKV, D, 2, scratch, 4);
    NEAR(out[(3 * NH + 0) * D], 25.0, 1e-5);
    /* Two packed sequences (0..1), (2..3): token 2 starts afresh. */
    int64_t two[3] = {0, 2, 4};
    pe_attention_forward(out, qkv, S, two, 2, NULL, NULL, NULL, NH, NKV, D, 0, scratch, 2);
    NEAR(out[(2 * NH + 1) * D], 20.0, 1e-6);
    NEAR(out[(3 * NH + 1) * D], 25.0, 1e-5);
}

/* Prefix reuse: the last rows of a sequence attending to its first rows held
 * elsewhere (another stride, another buffer, split in two spans) give the
 * same bits as the whole sequence, with and without a sliding window. */
static void test_attention_spans(void)
{
    enum { NH = 4, NKV = 2, D = 6, S = NH * D + 2 * NKV * D, KD = NKV * D, T = 7 };
    float qkv[T * S], whole[T * NH * D], part[T * NH * D], cache[T * 2 * KD], scratch[64 * T];
    for (int i = 0; i < T * S; i++)
        qkv[i] = 0.37f * (float)((i * 13) % 17) - 2.9f;
    /* positions 0..2 in a "cache" (keys | values rows of KD), 3..4 an earlier segment, 5..6 the segment */
    for (int t = 0; t < 3; t++) {
        memcpy(cache + t * KD, qkv + t * S + NH * D, KD * sizeof(float));
        memcpy(cache + 3 * KD + t * KD, qkv + t * S + NH * D + KD, KD * sizeof(float));
    }
    int64_t whole_start[2] = {0, T};
    int64_t seg_start[3] = {0, 2, 4}, pos0[2] = {3, 5};
    int span_start[3] = {0, 1, 3};
    for (int window = 0; window <= 3; window++) {
        pe_attention_forward(whole, qkv, S, whole_start, 1, NULL, NULL, NULL, NH, NKV, D, window, scratch, T);
        /* the batch: rows 3..6 of qkv as two segments; segment 1 reads the cache then segment 0 */
        pe_kv_span spans[3] = {
            {cache, cache + 3 * KD, KD, 3},
            {cache, cache + 3 * KD, KD, 3},
            {qkv + 3 * S + NH * D, qkv + 3 * S + NH * D + KD, S, 2},
        };
        pe_attention_forward(part, qkv + 3 * S, S, seg_start, 2, pos0, span_start, spans, NH, NKV, D, window,
                             scratch, T);
        CHECK(memcmp(part, whole + 3 * NH * D, 4 * NH * D * sizeof(float)) == 0);
    }
}

static void test_swiglu(void)
{
    float gu[2 * 4] = {0, 1, 5, 2, -1, 3, 1, 1}, out[4]; /* 2 tokens, F = 2: gate | up */
    pe_swiglu_forward(out, gu, 2, 2);
    CHECK(out[0] == 0.0f);                       /* silu(0) = 0 */
    NEAR(out[1], 2 * 0.7310585786300049, 1e-6);  /* silu(1) * 2 = 2 / (1 + e^-1) */
    NEAR(out[2], -0.2689414213699951, 1e-6);     /* silu(-1) * 1 */
    NEAR(out[3], 3 * 0.9525741268224334, 1e-6);  /* silu(3) * 1 */
}

int main(void)
{
    test_dtypes();
    test_embed();
    test_rmsnorm();
    test_rope();
    test_matmul();
    test_attention();
    test_attention_spans();
    test_swiglu();
    return pe_check_done();
}
