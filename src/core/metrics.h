/* The PRMBench metric (docs/metric.md), exactly as the reference evaluator
 * computes it, quirks included. Pure: plain data in, plain data out.
 *
 * Flow: each rank calls pe_sample_evaluate() for its samples; integer counts
 * (pe_counts) are summed per class (exact, so MPI_Reduce can do it); root
 * gathers the per-sample results in canonical sample order and calls
 * pe_metrics_finish(), which computes every floating-point value in the
 * reference's order. */
#ifndef PE_METRICS_H
#define PE_METRICS_H

#include <stdint.h>

#include "err.h"
#include "sample.h"

/* Error positions tracked by the error-position analysis: 1-based 1..PE_MAX_ERRPOS
 * (the paper plots 2..10; larger positions are pooled into the last bin). */
#define PE_MAX_ERRPOS 32

typedef enum {
    PE_PRED_OK = 0,       /* evaluated */
    PE_PRED_MISSING = 1,  /* no prediction for this sample */
    PE_PRED_INVALID = 2   /* prediction says validity: false: skipped, as the reference does */
} pe_pred_status;

/* Where a sample's labels came from. `prmeval rescore` recomputes only the
 * labels that came from scores; given labels stay as they are, exactly as
 * `eval` would keep them at any threshold. 0 is the default on purpose: a
 * caller that only has scores (`prmeval run`) need not set it. */
typedef enum {
    PE_LABELS_FROM_SCORES = 0, /* a rule on the raw step scores (score > threshold, a family rule) */
    PE_LABELS_GIVEN = 1,       /* validity labels given by the predictions file */
    PE_LABELS_REDUNDANCY = 2   /* not(redundancy labels), redundency/circular */
} pe_label_source;

/* Integer tallies: everything the metric needs except similarity. Each
 * `*_ones`, `*_n` pair is one of the reference's 0/1 lists (sum and length). */
typedef struct pe_counts {
    int64_t tp, fp, tn, fn;
    int64_t corr_ones, corr_n;   /* correct_step_acc list */
    int64_t wrong_ones, wrong_n; /* wrong_step_acc list */
    int64_t total_ones, total_n; /* total_step_acc list */
    int64_t fe_ones, fe_n;       /* first_error_acc list */
    int64_t samples;             /* samples of this class in the data */
    int64_t evaluated;           /* with status PE_PRED_OK */
    int64_t missing, invalid;
    /* error-position analysis: wrong_acc per 1-based error position */
    int64_t pos_hits[PE_MAX_ERRPOS + 1], pos_n[PE_MAX_ERRPOS + 1];
    /* error-position distribution: samples whose error_steps contain position p */
    int64_t pos_samples[PE_MAX_ERRPOS + 1];
} pe_counts;

/* What one sample contributes. Step arrays live outside (see pe_step_data). */
typedef struct pe_sample_result {
    int32_t status;          /* pe_pred_status */
    int32_t nlabels;         /* m: labels the model produced (may differ from nsteps) */
    int32_t first_error_hit; /* -1 not recorded, else 0/1 */
    int32_t label_source;    /* pe_label_source (0 unless status is PE_PRED_OK); copied from the
                                pe_sample_pred by the evaluation flow, stored for rescore */
    int64_t pred_order;      /* index of the prediction in its input; the reference sums
                                similarity in prediction order, so root does too */
    double response_acc;    /* true labels / m; -1 when m == 0 */
    pe_counts c;             /* this sample alone (samples = 1) */
} pe_sample_result;

/* One row of the metric table: a class, the pooled errors, or a category. */
typedef struct pe_metric_row {
    pe_counts c;
    double precision, recall, f1;
    double negative_precision, negative_recall, negative_f1;
    double prmscore;          /* clamped at 0; f1 for multi_solutions */
    double correct_step_acc, wrong_step_acc, total_step_acc, first_error_acc;
    double similarity;        /* -1 when empty */
    int64_t similarity_n;
} pe_metric_row;

typedef struct pe_metrics {
    pe_metric_row cls[PE_NCLASSES];   /* index pe_class; cls[PE_CLS_CORRECT] is the synthetic class */
    pe_metric_row pooled;             /* every error-class sample ("total" in the reference) */
    double category[PE_NCATEGORIES];  /* mean of the member classes' prmscore */
    double validity_rate;             /* the reference's quirky denominator, see metrics.c */
    int64_t valid_num, total_num;
    double threshold;                 /* labels = score > threshold where labels came from scores */
} pe_metrics;

/* One sample's prediction as the evaluation flow takes it, whatever produced
 * it (a predictions file, or a model in `prmeval run`). */
typedef struct pe_sample_pred {
    int32_t status;          /* pe_pred_status */
    int32_t m;               /* labels the metric uses (0 unless status is PE_PRED_OK) */
    int64_t pred_order;      /* position of the prediction in its input (see pe_sample_result) */
    const uint8_t *labels;   /* (m) 1 = step valid, after the class's label rule */
    const double *scores;    /* (m) raw step scores, NaN where none; NULL = none at all */
    const double *scores2;   /* (m) a second raw score per step (ReasonEval's redundancy); NULL = none */
    int32_t label_source;    /* pe_label_source: 0 (from scores) unless labels were given */
} pe_sample_pred;

/* Counts for one sample from its labels (1 = step valid). labels may be NULL when m == 0.
 * Sets status = PE_PRED_OK and pred_order = -1: the caller sets pred_order
 * (the prediction's position in its input; similarity is summed in that order). */
void pe_sample_evaluate(const pe_sample *s, const uint8_t *labels, int32_t m, pe_sample_result *r);

/* The result of a sample that is not evaluated (status PE_PRED_MISSING or
 * PE_PRED_INVALID): no metric counts, only samples/missing/invalid and the
 * error-position distribution (a property of the data). */
void pe_sample_skip(const pe_sample *s, int status, pe_sample_result *r);

/* Adds b into a (integer fields only). */
void pe_counts_add(pe_counts *a, const pe_counts *b);

/* Computes every metric. results[i] belongs to d->samples[i] (canonical order).
 * class_counts are the per-class sums (e.g. from MPI_Reduce); they are checked
 * against the per-sample results and a mismatch is an error. */
int pe_metrics_finish(const pe_dataset *d, const pe_sample_result *results,
                      const pe_counts class_counts[PE_NCLASSES], double threshold,
                      pe_metrics *out, pe_err *e);

#endif
