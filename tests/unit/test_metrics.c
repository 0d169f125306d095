/* The metric on hand-worked samples (docs/metric.md). Every expected value is
 * derived by hand in the comments; where a value is a ratio, the expected
 * double is written as the same ratio of the hand-counted integers, so the
 * checks also pin the reference's order of operations. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "core/metrics.h"

/* Three problems, six samples:
 *   0 correct_p1          3 steps
 *   1 counterfactual_p1   4 steps, error_steps [3]      -> E = {2}
 *   2 correct_p2          2 steps
 *   3 counterfactual_p2   3 steps, error_steps [6, 1]   -> E = {5, 0}, 6 is beyond the steps (kept)
 *   4 correct_p3          2 steps
 *   5 multi_solutions_p3  2 steps, no errors */
static int err_p1[] = {2}, err_p2[] = {5, 0};
static pe_sample S[6] = {
    {.key = "correct_p1", .idx = "p1", .cls = PE_CLS_CORRECT, .problem = 0, .nsteps = 3},
    {.key = "counterfactual_p1", .idx = "p1", .cls = PE_CLS_COUNTERFACTUAL, .problem = 0, .nsteps = 4,
     .nerr = 1, .err_steps = err_p1},
    {.key = "correct_p2", .idx = "p2", .cls = PE_CLS_CORRECT, .problem = 1, .nsteps = 2},
    {.key = "counterfactual_p2", .idx = "p2", .cls = PE_CLS_COUNTERFACTUAL, .problem = 1, .nsteps = 3,
     .nerr = 2, .err_steps = err_p2},
    {.key = "correct_p3", .idx = "p3", .cls = PE_CLS_CORRECT, .problem = 2, .nsteps = 2},
    {.key = "multi_solutions_p3", .idx = "p3", .cls = PE_CLS_MULTI_SOLUTIONS, .problem = 2, .nsteps = 2},
};
static const pe_dataset D = {.nsamples = 6, .samples = S, .nproblems = 3};

static void class_sums(const pe_sample_result *r, pe_counts sums[PE_NCLASSES])
{
    memset(sums, 0, sizeof(pe_counts) * PE_NCLASSES);
    for (int i = 0; i < D.nsamples; i++)
        pe_counts_add(&sums[S[i].cls], &r[i].c);
}

static void scenario_main(void)
{
    static const uint8_t l0[] = {1, 1, 0}, l1[] = {1, 0, 1, 1}, l3[] = {0, 1, 1}, l4[] = {0, 0}, l5[] = {1, 1};
    pe_sample_result r[6];
    pe_sample_evaluate(&S[0], l0, 3, &r[0]);   /* TP 2, FN 1; response 2/3 */
    pe_sample_evaluate(&S[1], l1, 4, &r[1]);   /* i0 TP, i1 FN, i2 error judged valid: FP, first error missed, i3 TP */
    pe_sample_evaluate(&S[2], NULL, 0, &r[2]); /* no labels: response_acc -1 */
    pe_sample_evaluate(&S[3], l3, 3, &r[3]);   /* i0 error judged invalid: TN, first error hit; i1, i2 TP */
    pe_sample_evaluate(&S[4], l4, 2, &r[4]);   /* FN 2; response 0 */
    pe_sample_evaluate(&S[5], l5, 2, &r[5]);   /* TP 2; response 1 */
    /* prediction order: counterfactual_p2 came before counterfactual_p1 in the file */
    int64_t order[6] = {0, 5, 1, 2, 3, 4};
    for (int i = 0; i < 6; i++)
        r[i].pred_order = order[i];

    CHECK_INT(r[1].c.tp, 2);
    CHECK_INT(r[1].c.fn, 1);
    CHECK_INT(r[1].c.fp, 1);
    CHECK_INT(r[1].c.tn, 0);
    CHECK_INT(r[1].first_error_hit, 0);
    CHECK_BITS(r[1].response_acc, 3.0 / 4.0);
    CHECK_INT(r[3].first_error_hit, 1);
    CHECK_BITS(r[2].response_acc, -1.0);
    CHECK_BITS(r[3].response_acc, 2.0 / 3.0);
    /* error position quirk: error_steps [6, 1] zipped with the wrong list [1] (from step 1):
     * the hit lands on position 6 */
    CHECK_INT(r[3].c.pos_hits[6], 1);
    CHECK_INT(r[3].c.pos_n[6], 1);
    CHECK_INT(r[3].c.pos_n[1], 0);
    CHECK_INT(r[3].c.pos_samples[6], 1);
    CHECK_INT(r[3].c.pos_samples[1], 1);

    pe_counts sums[PE_NCLASSES];
    class_sums(r, sums);
    pe_metrics m;
    pe_err e;
    pe_err_clear(&e);
    CHECK_INT(pe_metrics_finish(&D, r, sums, 0.5, &m, &e), PE_OK);

    /* ES: TP 2+2 = 4, FN 1, FP 1, TN 1 */
    const pe_metric_row *es = &m.cls[PE_CLS_COUNTERFACTUAL];
    CHECK_INT(es->c.tp, 4);
    CHECK_INT(es->c.fn, 1);
    CHECK_INT(es->c.fp, 1);
    CHECK_INT(es->c.tn, 1);
    double p = 4.0 / 5.0, rc = 4.0 / 5.0;
    CHECK_BITS(es->precision, p);
    CHECK_BITS(es->recall, rc);
    CHECK_BITS(es->f1, 2 * p * rc / (p + rc));
    CHECK_BITS(es->negative_precision, 1.0 / 2.0);  /* TN / (TN + FN) */
    CHECK_BITS(es->negative_recall, 1.0 / 2.0);     /* TN / (TN + FP) */
    CHECK_BITS(es->negative_f1, 2 * 0.5 * 0.5 / (0.5 + 0.5));
    CHECK_BITS(es->prmscore, 0.5 * es->f1 + 0.5 * 0.5);
    /* 0/1 lists: correct [1,0,1]+[1,1] = 4/5, wrong [0]+[1] = 1/2, total [1,0,0,1]+[1,1,1] = 5/7,
     * first error [0]+[1] = 1/2 */
    CHECK_BITS(es->correct_step_acc, 4.0 / 5.0);
    CHECK_BITS(es->wrong_step_acc, 1.0 / 2.0);
    CHECK_BITS(es->total_step_acc, 5.0 / 7.0);
    CHECK_BITS(es->first_error_acc, 1.0 / 2.0);
    /* similarity in prediction order: p2 first, |2/3 - (-1)| (a twin at -1 is truthy: included),
     * then p1, |3/4 - 2/3|; summed from 0 and divided by 2 */
    double sim = 0;
    sim += fabs(2.0 / 3.0 - -1.0);
    sim += fabs(3.0 / 4.0 - 2.0 / 3.0);
    CHECK_BITS(es->similarity, sim / 2);
    CHECK_INT(es->similarity_n, 2);

    /* MS: TP 2 only: p = r = 1, f1 = 1; np = nr = -1 -> negative_f1 = 2*(-1)*(-1)/(-2) = -1;
     * its PRMScore is f1 alone. Its twin's response_acc is 0: skipped (Python truthiness). */
    const pe_metric_row *ms = &m.cls[PE_CLS_MULTI_SOLUTIONS];
    CHECK_BITS(ms->f1, 1.0);
    CHECK_BITS(ms->negative_f1, -1.0);
    CHECK_BITS(ms->prmscore, 1.0);
    CHECK_BITS(ms->similarity, -1.0);
    CHECK_INT(ms->similarity_n, 0);
    CHECK_BITS(ms->wrong_step_acc, -1.0);
    CHECK_BITS(ms->first_error_acc, -1.0);

    /* An empty class: p = r = -1, f1 = -1, PRMScore clamped to 0 */
    CHECK_BITS(m.cls[PE_CLS_DECEPTION].f1, -1.0);
    CHECK_BITS(m.cls[PE_CLS_DECEPTION].prmscore, 0.0);

    /* correct: TP 2, FN 1 + 2 = 3, own row only */
    const pe_metric_row *co = &m.cls[PE_CLS_CORRECT];
    CHECK_INT(co->c.tp, 2);
    CHECK_INT(co->c.fn, 3);
    CHECK_BITS(co->recall, 2.0 / 5.0);
    CHECK_BITS(co->correct_step_acc, 2.0 / 5.0);

    /* pooled = ES + MS (never correct): TP 6, FN 1, FP 1, TN 1 */
    CHECK_INT(m.pooled.c.tp, 6);
    CHECK_INT(m.pooled.c.fn, 1);
    double pp = 6.0 / 7.0;
    CHECK_BITS(m.pooled.f1, 2 * pp * pp / (pp + pp));
    CHECK_BITS(m.pooled.prmscore, 0.5 * m.pooled.f1 + 0.5 * 0.5);
    CHECK_BITS(m.pooled.similarity, sim / 2);
    CHECK_BITS(m.pooled.correct_step_acc, 6.0 / 7.0);

    /* categories: sums in table order from 0 */
    CHECK_BITS(m.category[PE_CAT_SOUNDNESS], (0.0 + es->prmscore + 0 + 0 + 0) / 4);
    CHECK_BITS(m.category[PE_CAT_SENSITIVITY], (0.0 + 0 + 0 + 1.0) / 3);
    CHECK_BITS(m.category[PE_CAT_SIMPLICITY], 0.0);
    /* validity: 3 valid error-class predictions / (6 samples - 3 correct with a prediction) */
    CHECK_INT(m.valid_num, 3);
    CHECK_INT(m.total_num, 3);
    CHECK_BITS(m.validity_rate, 1.0);

    /* counts that disagree with the per-sample results are refused */
    sums[PE_CLS_CORRECT].tp++;
    pe_err_clear(&e);
    CHECK_INT(pe_metrics_finish(&D, r, sums, 0.5, &m, &e), PE_EMPI);
}

/* validity: false and missing predictions, and the reference's validity_rate denominator */
static void scenario_invalid(void)
{
    static const uint8_t l0[] = {1, 1, 1}, l3[] = {0, 1, 1}, l5[] = {1, 1};
    pe_sample_result r[6];
    pe_sample_evaluate(&S[0], l0, 3, &r[0]);
    pe_sample_skip(&S[1], PE_PRED_MISSING, &r[1]);
    pe_sample_evaluate(&S[2], NULL, 0, &r[2]);
    pe_sample_evaluate(&S[3], l3, 3, &r[3]);
    pe_sample_skip(&S[4], PE_PRED_INVALID, &r[4]);  /* correct_p3 says validity: false */
    pe_sample_evaluate(&S[5], l5, 2, &r[5]);
    for (int i = 0; i < 6; i++)
        r[i].pred_order = i;
    pe_counts sums[PE_NCLASSES];
    class_sums(r, sums);
    pe_metrics m;
    pe_err e;
    pe_err_clear(&e);
    CHECK_INT(pe_metrics_finish(&D, r, sums, 0.5, &m, &e), PE_OK);
    /* valid error-class predictions: counterfactual_p2, multi_solutions_p3 = 2;
     * total_num = 6 samples - 3 correct samples with a prediction (the invalid one counts) = 3 */
    CHECK_INT(m.valid_num, 2);
    CHECK_INT(m.total_num, 3);
    CHECK_BITS(m.validity_rate, 2.0 / 3.0);
    CHECK_INT(m.cls[PE_CLS_COUNTERFACTUAL].c.missing, 1);
    CHECK_INT(m.cls[PE_CLS_CORRECT].c.invalid, 1);
    /* MS's twin was skipped: no similarity; ES: only p2, |2/3 - (-1)| / 1 */
    CHECK_BITS(m.cls[PE_CLS_MULTI_SOLUTIONS].similarity, -1.0);
    CHECK_BITS(m.cls[PE_CLS_COUNTERFACTUAL].similarity, (0.0 + fabs(2.0 / 3.0 - -1.0)) / 1);
    /* the missing sample still shows in the error-position distribution (a data property) */
    CHECK_INT(m.cls[PE_CLS_COUNTERFACTUAL].c.pos_samples[3], 1);
}

/* A model that never says "invalid": TN = FN = 0, so np = -1 (0/0 sentinel) and
 * nr = 0/FP = 0. negative_f1 = 2*np*nr/(np+nr): the numerator is -0.0 and the
 * denominator -1, so the value is +0.0 (docs/metric.md: the metric page's
 * "-0.0" is the numerator; Python gives 0.0 too). */
static void scenario_never_invalid(void)
{
    static const uint8_t l1[] = {1, 1, 1, 1};
    pe_sample_result r[6];
    for (int i = 0; i < 6; i++)
        pe_sample_skip(&S[i], PE_PRED_MISSING, &r[i]);
    pe_sample_evaluate(&S[1], l1, 4, &r[1]);  /* TP 3, FP 1 */
    r[1].pred_order = 0;
    pe_counts sums[PE_NCLASSES];
    class_sums(r, sums);
    pe_metrics m;
    pe_err e;
    pe_err_clear(&e);
    CHECK_INT(pe_metrics_finish(&D, r, sums, 0.5, &m, &e), PE_OK);
    const pe_metric_row *es = &m.cls[PE_CLS_COUNTERFACTUAL];
    double np = -1, nr = 0.0 / 1.0;
    CHECK_BITS(es->negative_precision, np);
    CHECK_BITS(es->negative_recall, nr);
    CHECK(signbit(2 * np * nr));          /* the -0.0 numerator */
    CHECK_BITS(es->negative_f1, 0.0);     /* -0.0 / -1 = +0.0 */
    double p = 3.0 / 4.0, rcl = 3.0 / 3.0;
    CHECK_BITS(es->f1, 2 * p * rcl / (p + rcl));
    CHECK_BITS(es->prmscore, 0.5 * es->f1 + 0.5 * 0.0);
    /* no prediction for correct_p1: no similarity */
    CHECK_BITS(es->similarity, -1.0);
    /* validity_rate = 1 / (6 - 0) */
    CHECK_BITS(m.validity_rate, 1.0 / 6.0);
}

int main(void)
{
    scenario_main();
    scenario_invalid();
    scenario_never_invalid();
    return pe_check_done();
}
