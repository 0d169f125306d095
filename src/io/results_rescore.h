/* Metrics from a results file read back (pe_results, src/io/results_h5_read.h):
 * the file's own metrics from the stored labels, or a threshold / label-rule
 * ablation from the stored raw step scores. No data files, no model: the
 * file holds every sample's class, problem, error steps, status and
 * prediction order, which is all the metric needs (docs/cli-rescore-report.md).
 * Used by `prmeval rescore` and `prmeval report`. */
#ifndef PE_RESULTS_RESCORE_H
#define PE_RESULTS_RESCORE_H

#include <stdint.h>

#include "../core/err.h"
#include "../core/metrics.h"
#include "../core/sample.h"
#include "../prm/head.h"
#include "results_h5_read.h"

typedef enum {
    PE_RELABEL_STORED = 0,      /* every stored label as it is: the file's own metrics */
    PE_RELABEL_THRESHOLD,       /* score > T, as `eval` labels scores */
    PE_RELABEL_SKYWORK_CURRENT  /* PRMBench's Skywork rule: r_1 > c, r_i - r_{i-1} > c */
} pe_relabel_rule;

/* "stored", "threshold", "skywork-current"; -1 if unknown. */
int pe_relabel_rule_from_name(const char *name);
const char *pe_relabel_rule_name(int rule);

typedef struct pe_rescore {
    const pe_results *src;
    const char *path;        /* the file, for messages */
    pe_dataset data;         /* the samples as the metric needs them: no question, no step text */
    int *err_store;          /* (src->nerr_total) storage behind data.samples[i].err_steps */
    pe_sample_result *res;   /* (nsamples) per-sample results of the last pe_rescore_run */
    uint8_t *labels;         /* (nsteps_total) labels of the last pe_rescore_run */
    int64_t relabelled;      /* evaluated samples whose labels were recomputed from scores */
    int64_t kept;            /* evaluated samples that kept their stored labels (given as labels,
                                or a NaN score) although the rule is not `stored` */
    pe_metrics m;            /* metrics of the last pe_rescore_run */
    /* Files with /steps/score_redundancy (ReasonEval): under the threshold
     * rule, the redundency and circular samples are labelled
     * not (redundancy > redundancy_threshold), as the reference does; the
     * others score > T. pe_rescore_init sets 0.15, the reference's value. */
    double redundancy_threshold;
    /* The head whose bf16 rounding (pe_head_round_bf16) the label rule sees,
     * NULL: the stored (raw) scores as they are; set by
     * pe_rescore_set_rounding. */
    const pe_head_desc *round_head;
    const char *rounding;    /* "none" or "bf16" (static) */
    double *scratch;         /* (2 * nsteps_total) rounded scores of one sample */
} pe_rescore;

/* Builds the sample view and checks what a corrupt file could get wrong
 * (class, status, problem, error steps, label counts against step_offset);
 * a mismatch is PE_EINPUT naming path, the dataset and the sample. r and path
 * must outlive rs. */
int pe_rescore_init(pe_rescore *rs, const pe_results *r, const char *path, pe_err *e);

/* Which rewards the label rule sees: want "auto" takes what the file
 * records (config_json "reward_rounding" of a `run`, or of the `rescore` that
 * wrote it; none recorded, as in `eval` files: "none"), "none" the stored
 * scores, "bf16" the scores rounded as the family's bf16 reference tensors
 * give them (the family from config_json "family"). bf16 without a known
 * family: PE_EUSAGE when asked for, PE_EINPUT when the file says so; an
 * unknown word: PE_EUSAGE. */
int pe_rescore_set_rounding(pe_rescore *rs, const char *want, pe_err *e);

/* Labels every evaluated sample under rule at threshold and computes every
 * metric into rs->m (threshold recorded there). Labels that did not come
 * from scores (validity or redundancy labels, NaN scores) are kept, exactly
 * as `eval` keeps them at any threshold. With PE_RELABEL_STORED and the
 * file's own threshold, rs->m equals the stored metrics bit for bit. */
int pe_rescore_run(pe_rescore *rs, int rule, double threshold, pe_err *e);

void pe_rescore_free(pe_rescore *rs);

#endif
