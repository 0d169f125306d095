/* The PRMBench metric, reproduced from the reference evaluator
 * (mr_eval/tasks/prmtest_classified/task.py) including its quirks; each quirk
 * is marked QUIRK below and listed in docs/metric.md. */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int in_error_set(const pe_sample *s, int32_t i)
{
    for (int k = 0; k < s->nerr; k++)
        if (s->err_steps[k] == i)
            return 1;
    return 0;
}

static int errpos_bin(int pos1)
{
    return pos1 < PE_MAX_ERRPOS ? pos1 : PE_MAX_ERRPOS;
}

/* Error-position distribution: each sample counts once per (binned) 1-based
 * position its error_steps contain. */
static void count_error_positions(const pe_sample *s, pe_counts *c)
{
    for (int k = 0; k < s->nerr; k++) {
        int b = errpos_bin(s->err_steps[k] + 1), seen = 0;
        for (int j = 0; j < k; j++)
            seen |= errpos_bin(s->err_steps[j] + 1) == b;
        if (!seen)
            c->pos_samples[b]++;
    }
}

void pe_sample_skip(const pe_sample *s, int status, pe_sample_result *r)
{
    memset(r, 0, sizeof *r);
    r->status = status;
    r->first_error_hit = -1;
    r->pred_order = -1;
    r->response_acc = -1;
    r->c.samples = 1;
    r->c.missing = status == PE_PRED_MISSING;
    r->c.invalid = status == PE_PRED_INVALID;
    count_error_positions(s, &r->c);
}

void pe_sample_evaluate(const pe_sample *s, const uint8_t *labels, int32_t m, pe_sample_result *r)
{
    memset(r, 0, sizeof *r);
    r->status = PE_PRED_OK;
    r->nlabels = m;
    r->first_error_hit = -1;
    r->pred_order = -1;
    pe_counts *c = &r->c;
    c->samples = 1;
    c->evaluated = 1;
    count_error_positions(s, c);

    int32_t f = -1;  /* first error step: min(E), -1 when E is empty */
    for (int k = 0; k < s->nerr; k++)
        if (f < 0 || s->err_steps[k] < f)
            f = s->err_steps[k];
    int64_t nwrong = 0, ntrue = 0;
    for (int32_t i = 0; i < m; i++) {
        int valid = labels[i] != 0;
        ntrue += valid;
        if (i == f)
            r->first_error_hit = !valid;
        if (in_error_set(s, i)) {
            c->fp += valid;
            c->tn += !valid;
            c->wrong_ones += !valid;
            c->wrong_n++;
            c->total_ones += !valid;
            /* QUIRK: the error-position analysis zips error_steps (file order)
             * with the wrong_acc list (step order) position by position. */
            if (nwrong < s->nerr) {
                int b = errpos_bin(s->err_steps[nwrong] + 1);
                c->pos_hits[b] += !valid;
                c->pos_n[b]++;
            }
            nwrong++;
        } else {
            c->tp += valid;
            c->fn += !valid;
            c->corr_ones += valid;
            c->corr_n++;
            c->total_ones += valid;
        }
        c->total_n++;
    }
    if (r->first_error_hit >= 0) {
        c->fe_ones += r->first_error_hit;
        c->fe_n++;
    }
    /* sum(labels) / len(labels): int / int, exact in a double as Python's is */
    r->response_acc = m > 0 ? (double)ntrue / (double)m : -1;
}

void pe_counts_add(pe_counts *a, const pe_counts *b)
{
    a->tp += b->tp;
    a->fp += b->fp;
    a->tn += b->tn;
    a->fn += b->fn;
    a->corr_ones += b->corr_ones;
    a->corr_n += b->corr_n;
    a->wrong_ones += b->wrong_ones;
    a->wrong_n += b->wrong_n;
    a->total_ones += b->total_ones;
    a->total_n += b->total_n;
    a->fe_ones += b->fe_ones;
    a->fe_n += b->fe_n;
    a->samples += b->samples;
    a->evaluated += b->evaluated;
    a->missing += b->missing;
    a->invalid += b->invalid;
    for (int p = 0; p <= PE_MAX_ERRPOS; p++) {
        a->pos_hits[p] += b->pos_hits[p];
        a->pos_n[p] += b->pos_n[p];
        a->pos_samples[p] += b->pos_samples[p];
    }
}

/* Python's sum(list)/len(list) over a 0/1 list: an exact int divided by an
 * int, correctly rounded; -1 for an empty list. */
static double mean01(int64_t ones, int64_t n)
{
    return n > 0 ? (double)ones / (double)n : -1;
}

/* Ratio or the reference's -1 sentinel. The sentinel then takes part in the
 * f1 arithmetic (QUIRK), e.g. np = -1, nr = 0 gives negative_f1 = -0.0. */
static double ratio(int64_t a, int64_t b)
{
    return b != 0 ? (double)a / (double)b : -1;
}

static double f1_of(double p, double r)
{
    return p + r != 0 ? 2 * p * r / (p + r) : -1;
}

static void finish_row(pe_metric_row *row, int multi_solutions)
{
    const pe_counts *c = &row->c;
    row->precision = ratio(c->tp, c->tp + c->fp);
    row->recall = ratio(c->tp, c->tp + c->fn);
    row->f1 = f1_of(row->precision, row->recall);
    row->negative_precision = ratio(c->tn, c->tn + c->fn);
    row->negative_recall = ratio(c->tn, c->tn + c->fp);
    row->negative_f1 = f1_of(row->negative_precision, row->negative_recall);
    /* multi_solutions has no error steps, so only f1 means anything there */
    row->prmscore = multi_solutions ? row->f1 : 0.5 * row->f1 + 0.5 * row->negative_f1;
    if (row->prmscore < 0)
        row->prmscore = 0;
    row->correct_step_acc = mean01(c->corr_ones, c->corr_n);
    row->wrong_step_acc = mean01(c->wrong_ones, c->wrong_n);
    row->total_step_acc = mean01(c->total_ones, c->total_n);
    row->first_error_acc = mean01(c->fe_ones, c->fe_n);
}

typedef struct {
    int64_t order;
    int sample;
} order_entry;

static int cmp_order(const void *a, const void *b)
{
    const order_entry *x = a, *y = b;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return (x->sample > y->sample) - (x->sample < y->sample);
}

/* Similarity, summed the way the reference does it: error-class predictions in
 * their input order, each adding |own - twin| where the twin is the synthetic
 * `correct` sample of the same problem. */
static int similarity(const pe_dataset *d, const pe_sample_result *res, pe_metrics *out, pe_err *e)
{
    int *twin = pe_malloc(((size_t)d->nproblems + 1) * sizeof *twin, e);
    order_entry *ord = pe_malloc(((size_t)d->nsamples + 1) * sizeof *ord, e);
    if (!twin || !ord) {
        free(twin);
        free(ord);
        return PE_ERESOURCE;
    }
    for (int p = 0; p < d->nproblems; p++)
        twin[p] = -1;
    int n = 0;
    for (int i = 0; i < d->nsamples; i++) {
        const pe_sample *s = &d->samples[i];
        if (s->cls == PE_CLS_CORRECT && res[i].status == PE_PRED_OK)
            twin[s->problem] = i;
        else if (s->cls != PE_CLS_CORRECT && res[i].status == PE_PRED_OK)
            ord[n++] = (order_entry){res[i].pred_order, i};
    }
    qsort(ord, (size_t)n, sizeof *ord, cmp_order);
    double sum[PE_NCLASSES] = {0}, psum = 0;
    int64_t cnt[PE_NCLASSES] = {0}, pcnt = 0;
    for (int k = 0; k < n; k++) {
        int i = ord[k].sample, t = twin[d->samples[i].problem];
        if (t < 0)
            continue;
        double own = res[i].response_acc, other = res[t].response_acc;
        /* QUIRK: `if correct_acc and own != -1`: a twin at 0 is skipped by
         * Python's truthiness test, while a twin at -1 (no labels) is truthy. */
        if (other != 0 && own != -1) {
            double v = fabs(own - other);
            int c = d->samples[i].cls;
            sum[c] += v;
            cnt[c]++;
            psum += v;
            pcnt++;
        }
    }
    for (int c = 0; c < PE_NCLASSES; c++) {
        out->cls[c].similarity = cnt[c] ? sum[c] / (double)cnt[c] : -1;
        out->cls[c].similarity_n = cnt[c];
    }
    out->pooled.similarity = pcnt ? psum / (double)pcnt : -1;
    out->pooled.similarity_n = pcnt;
    free(twin);
    free(ord);
    return PE_OK;
}

int pe_metrics_finish(const pe_dataset *d, const pe_sample_result *results,
                      const pe_counts class_counts[PE_NCLASSES], double threshold,
                      pe_metrics *out, pe_err *e)
{
    memset(out, 0, sizeof *out);
    out->threshold = threshold;
    pe_counts sums[PE_NCLASSES];
    memset(sums, 0, sizeof sums);
    for (int i = 0; i < d->nsamples; i++)
        pe_counts_add(&sums[d->samples[i].cls], &results[i].c);
    if (class_counts && memcmp(sums, class_counts, sizeof sums) != 0) {
        for (int c = 0; c < PE_NCLASSES; c++)
            if (memcmp(&sums[c], &class_counts[c], sizeof sums[c]) != 0)
                return pe_fail(e, PE_EMPI,
                               "class %s: reduced counts disagree with the gathered per-sample results "
                               "(tp %lld vs %lld, samples %lld vs %lld)",
                               pe_class_name(c), (long long)class_counts[c].tp, (long long)sums[c].tp,
                               (long long)class_counts[c].samples, (long long)sums[c].samples);
    }
    for (int c = 0; c < PE_NCLASSES; c++) {
        out->cls[c].c = sums[c];
        /* QUIRK: the `correct` class is scored for its own row only; never pooled. */
        if (c != PE_CLS_CORRECT)
            pe_counts_add(&out->pooled.c, &sums[c]);
        finish_row(&out->cls[c], c == PE_CLS_MULTI_SOLUTIONS);
    }
    finish_row(&out->pooled, 0);
    int rc = similarity(d, results, out, e);
    if (rc != PE_OK)
        return rc;
    /* Category scores: Python's sum(list) / len(list), summed in class order. */
    for (int g = 0; g < PE_NCATEGORIES; g++) {
        double s = 0;
        int n = 0;
        for (int c = 1; c < PE_NCLASSES; c++)
            if (pe_class_category(c) == g) {
                s += out->cls[c].prmscore;
                n++;
            }
        out->category[g] = n ? s / n : -1;
    }
    /* QUIRK: the reference counts valid error-class predictions over
     * (all samples - correct samples that have a prediction, valid or not). */
    int64_t correct_with_pred = 0;
    for (int i = 0; i < d->nsamples; i++) {
        if (d->samples[i].cls == PE_CLS_CORRECT)
            correct_with_pred += results[i].status != PE_PRED_MISSING;
        else
            out->valid_num += results[i].status == PE_PRED_OK;
    }
    out->total_num = d->nsamples - correct_with_pred;
    out->validity_rate = out->total_num > 0 ? (double)out->valid_num / (double)out->total_num : -1;
    return PE_OK;
}
