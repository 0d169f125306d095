/* reward_rounding (prm.h, head.h, core/half.h): labels drawn from the
 * rewards as the reference's bf16 tensors give them. The expected values are
 * worked out by hand from the bf16 grid (8 significant bits: steps of 2^-8 in
 * [0.5, 1), 2^-9 in [0.25, 0.5), 2^-10 in [0.125, 0.25)); the double rounding
 * is checked against the fp32 bit rounding of core/half.c on random floats. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/half.h"
#include "core/sample.h"
#include "prm/prm.h"

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void test_round_f64(void)
{
    /* hand-picked: a reward just above 0.5 is 0.5 in bf16 */
    CHECK_BITS(pe_bf16_round_f64(0.50000006), 0.5);
    CHECK_BITS(pe_bf16_round_f64((double)0.50000006f), 0.5);
    CHECK_BITS(pe_bf16_round_f64(0.501953125), 0.5);             /* 0.5 + 2^-9: a tie, to even (0x3f00) */
    CHECK_BITS(pe_bf16_round_f64(0.501953125 + 0x1p-40), 0.50390625); /* just past the tie: up */
    CHECK_BITS(pe_bf16_round_f64(0.505859375), 0.5078125);        /* 0.5 + 3*2^-9: a tie, to even (0x3f02) */
    CHECK_BITS(pe_bf16_round_f64(0.3), 0.30078125);               /* 153.6 steps of 2^-9 -> 154 */
    CHECK_BITS(pe_bf16_round_f64(-0.3), -0.30078125);
    CHECK_BITS(pe_bf16_round_f64(0.15), 0.150390625);             /* 153.6 steps of 2^-10 -> 154 */
    CHECK_BITS(pe_bf16_round_f64(1.0), 1.0);
    CHECK_BITS(pe_bf16_round_f64(0.0), 0.0);
    CHECK_BITS(pe_bf16_round_f64(0x1p-140), 0.0);                 /* below half the smallest bf16 subnormal */
    CHECK_BITS(pe_bf16_round_f64(0x1.8p-133), 0x1p-132);          /* a subnormal tie: to even */
    CHECK(isinf(pe_bf16_round_f64(0x1.ffp127)));                  /* rounds past 0x7f7f */
    CHECK_BITS(pe_bf16_round_f64(0x1.fep127), 0x1.fep127);        /* the largest bf16 */
    CHECK(isnan(pe_bf16_round_f64(NAN)));
    /* every float: the same value as the bit rounding of pe_bf16_from_f32 (xorshift bit patterns) */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int bad = 0;
    for (int i = 0; i < 2000000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        float f = bits_f32((uint32_t)x);
        if (!isfinite(f))
            continue;
        double want = pe_f32_from_bf16(pe_bf16_from_f32(f)), got = pe_bf16_round_f64(f);
        if (memcmp(&want, &got, sizeof got) != 0 && !(want == 0 && got == 0)) {
            if (bad++ < 5)
                fprintf(stderr, "float %a: pe_bf16_round_f64 %a, bit rounding %a\n", (double)f, got, want);
        }
    }
    CHECK_INT(bad, 0);
}

static void labels(const char *family, pe_reward_rounding rr, const float *r, int n, int cls, uint8_t *l)
{
    pe_family_opts o;
    pe_family_opts_default(&o);
    o.reward_rounding = rr;
    pe_family_labels_cls(pe_family_by_name(family), &o, NAN, NAN, r, n, cls, l);
}

static void test_labels(void)
{
    uint8_t l[8];
    /* qwen-prm (p > 0.5): 0.50000006 is positive raw and 0.5 in bf16 -> negative */
    const float q[4] = {0.50000006f, 0.501953125f, 0.50195319f, 0.49999997f};
    labels("qwen-prm", PE_ROUND_NONE, q, 4, PE_CLS_COUNTERFACTUAL, l);
    CHECK(l[0] == 1 && l[1] == 1 && l[2] == 1 && l[3] == 0);
    labels("qwen-prm", PE_ROUND_BF16, q, 4, PE_CLS_COUNTERFACTUAL, l);
    CHECK(l[0] == 0 && l[1] == 0 && l[2] == 1 && l[3] == 0);
    labels("qwen-prm", PE_ROUND_AUTO, q, 4, PE_CLS_COUNTERFACTUAL, l);  /* the reference runs it in bf16 */
    CHECK(l[0] == 0 && l[1] == 0 && l[2] == 1 && l[3] == 0);
    /* the plain entry point follows the same options */
    pe_family_opts o;
    pe_family_opts_default(&o);
    pe_family_labels(pe_family_by_name("qwen-prm"), &o, NAN, q, 4, l);
    CHECK(l[0] == 0 && l[1] == 0 && l[2] == 1 && l[3] == 0);
    /* math-shepherd and llemma-prm run in fp32 in the reference: auto keeps the raw reward */
    labels("math-shepherd", PE_ROUND_AUTO, q, 4, PE_CLS_COUNTERFACTUAL, l);
    CHECK(l[0] == 1 && l[1] == 1 && l[2] == 1 && l[3] == 0);
    labels("llemma-prm", PE_ROUND_AUTO, q, 4, PE_CLS_COUNTERFACTUAL, l);
    CHECK(l[0] == 1 && l[1] == 1);
    labels("math-shepherd", PE_ROUND_BF16, q, 4, PE_CLS_COUNTERFACTUAL, l);  /* asked for: rounded */
    CHECK(l[0] == 0 && l[1] == 0 && l[2] == 1 && l[3] == 0);

    /* pure-prm (p1 - p0 > 0): r = 0.001 -> p1 0.5005 -> 0.5, p0 0.4995 -> 0.5 (2^-9 steps): a tie, 0;
     * r = 0.01 -> p1 0.505 -> 0.50390625, p0 0.495 -> 0.494140625: 0.009765625 > 0 */
    const float p[3] = {0.001f, 0.01f, -0.001f};
    labels("pure-prm", PE_ROUND_NONE, p, 3, PE_CLS_CORRECT, l);
    CHECK(l[0] == 1 && l[1] == 1 && l[2] == 0);
    labels("pure-prm", PE_ROUND_AUTO, p, 3, PE_CLS_CORRECT, l);
    CHECK(l[0] == 0 && l[1] == 1 && l[2] == 0);
    const pe_family *pure = pe_family_by_name("pure-prm");
    double d = 0.01;
    pe_head_round_bf16(&pure->head, &d);
    CHECK_BITS(d, 0.009765625);

    /* reasoneval (v = p1 + p2 > 0.5; redundancy classes: not (u = p1 > 0.15)), rewards (v, u):
     * p1 0.25, p2 0.2505: v 0.5005 raw -> valid; bf16 0.25 + 0.25 = 0.5 -> not;
     * p1 0.3, p2 0.2: bf16 0.30078125 + 0.2001953125 = 0.5009765625 -> valid both ways */
    const float re[4] = {0.5005f, 0.25f, 0.5f, 0.3f};
    labels("reasoneval-7b", PE_ROUND_NONE, re, 2, PE_CLS_COUNTERFACTUAL, l);
    CHECK(l[0] == 1 && l[1] == 0);
    labels("reasoneval-7b", PE_ROUND_AUTO, re, 2, PE_CLS_COUNTERFACTUAL, l);
    CHECK(l[0] == 0 && l[1] == 1);
    double rv[2] = {(double)0.5f, (double)0.3f};
    pe_head_round_bf16(&pe_family_by_name("reasoneval-34b")->head, rv);
    CHECK_BITS(rv[1], 0.30078125);
    CHECK_BITS(rv[0], 0.30078125 + 0.2001953125); /* the sum in double, not rounded again */
    /* redundancy u = 0.1499999: not > 0.15 raw (not redundant -> 1); bf16 0.150390625 > 0.15 -> 0 */
    const float ru[2] = {0.9f, 0.1499999f};
    labels("reasoneval-34b", PE_ROUND_NONE, ru, 1, PE_CLS_REDUNDENCY, l);
    CHECK(l[0] == 1);
    labels("reasoneval-34b", PE_ROUND_AUTO, ru, 1, PE_CLS_CIRCULAR, l);
    CHECK(l[0] == 0);
    labels("reasoneval-34b", PE_ROUND_AUTO, ru, 1, PE_CLS_CORRECT, l);  /* validity 0.9: valid */
    CHECK(l[0] == 1);

    /* skywork's difference rule sees rounded rewards when asked: r 0.3, 0.2505:
     * raw difference -0.0495 > -0.05 (valid); bf16 0.25 - 0.30078125 = -0.05078125 (not valid) */
    const float sk[2] = {0.3f, 0.2505f};
    labels("skywork", PE_ROUND_AUTO, sk, 2, PE_CLS_CORRECT, l);
    CHECK(l[0] == 1 && l[1] == 1);
    labels("skywork", PE_ROUND_BF16, sk, 2, PE_CLS_CORRECT, l);
    CHECK(l[0] == 1 && l[1] == 0);
}

static void test_names(void)
{
    CHECK_INT(pe_reward_rounding_from_name("auto"), PE_ROUND_AUTO);
    CHECK_INT(pe_reward_rounding_from_name("bf16"), PE_ROUND_BF16);
    CHECK_INT(pe_reward_rounding_from_name("none"), PE_ROUND_NONE);
    CHECK_INT(pe_reward_rounding_from_name("fp16"), -1);
    CHECK_STR(pe_reward_rounding_name(PE_ROUND_BF16), "bf16");
    /* the families whose reference runs in bf16, and only those */
    for (int i = 0; i < pe_family_count(); i++) {
        const pe_family *f = pe_family_at(i);
        int want = !strcmp(f->name, "qwen-prm") || !strncmp(f->name, "reasoneval", 10) || !strcmp(f->name, "pure-prm");
        if (f->reference_bf16 != want)
            fprintf(stderr, "family %s: reference_bf16 %d, expected %d\n", f->name, f->reference_bf16, want);
        CHECK_INT(f->reference_bf16, want);
    }
}

int main(void)
{
    test_round_f64();
    test_labels();
    test_names();
    return pe_check_done();
}
