/* Predictions files (docs/predictions.md): the reference evaluator's format,
 * the reference's LLM-critic result files (the same record wrapped in
 * {"task_name", "model_name", "results"}) and prmeval's native format, one
 * JSON object per line. */
#ifndef PE_PREDICTIONS_H
#define PE_PREDICTIONS_H

#include <stdint.h>

#include "../core/err.h"
#include "../core/metrics.h"
#include "../core/sample.h"

typedef enum { PE_FMT_AUTO = 0, PE_FMT_REFERENCE, PE_FMT_NATIVE, PE_FMT_CRITIC } pe_pred_format;

/* The only task of a critic file that holds PRMBench predictions; records of
 * other tasks belong to another evaluation and are ignored (and counted). */
#define PE_CRITIC_TASK "prmtest_classified"

/* Refuse step lists longer than this: no PRMBench sample comes near it. */
#define PE_PRED_MAX_STEPS 100000

/* One line of the file, as given. */
typedef struct pe_pred {
    char *key;              /* sample key "<classification>_<idx>" */
    int line;               /* 1-based line in the file */
    int8_t has_validity;    /* "validity" present */
    int8_t validity;        /* its Python truth value */
    int32_t nlabels;        /* -1 = no validity labels */
    uint8_t *labels;        /* (nlabels) 1 = valid */
    int32_t nscores;        /* -1 = no scores */
    double *scores;         /* (nscores) finite */
    int32_t nred;           /* -1 = no redundancy labels */
    uint8_t *red;           /* (nred) 1 = redundant */
    char *model;            /* critic: the record's model_name (NULL once loaded) */
    int8_t other_task;      /* critic: task_name is not PE_CRITIC_TASK (dropped once loaded) */
} pe_pred;

typedef struct pe_predictions {
    char *path;
    int format;             /* PE_FMT_REFERENCE, _NATIVE or _CRITIC after auto-detection */
    int64_t n;
    pe_pred *p;             /* (n) in file order (critic: records of other tasks left out) */
    /* critic format only */
    char *model_name;       /* "model_name" of every record (one critic per file) */
    int64_t other_task;     /* records whose task_name is not PE_CRITIC_TASK */
    int other_task_line;    /* the first of them (0 = none) */
    int64_t records_invalid; /* records (any format) with validity falsy, duplicates included */
} pe_predictions;

/* Reads a predictions file; format PE_FMT_AUTO decides from the first record
 * ("task_name" and "results" -> critic, "idx" -> reference, "key" -> native). Fails with file:line on malformed
 * lines, wrong types, NaN/inf scores and absurd sizes. */
int pe_predictions_load(const char *path, int format, pe_predictions *P, pe_err *e);
void pe_predictions_free(pe_predictions *P);
const char *pe_format_name(int format);

/* What matching found that is not an error but must be reported. */
#define PE_MATCH_EXAMPLES 3
typedef struct pe_match_report {
    int64_t unknown, duplicate;     /* predictions ignored */
    int64_t missing, invalid;       /* samples not evaluated */
    int64_t from_scores;            /* samples whose labels came from scores > threshold */
    int64_t from_redundancy;        /* samples whose labels are not(redundancy labels) */
    char unknown_ex[PE_MATCH_EXAMPLES][128];
    char duplicate_ex[PE_MATCH_EXAMPLES][128];
    char missing_ex[PE_MATCH_EXAMPLES][128];
} pe_match_report;

/* Predictions matched to samples: preds[i] belongs to d->samples[i]. */
typedef struct pe_pred_set {
    int nsamples;
    pe_sample_pred *preds;  /* (nsamples) */
    uint8_t *labels;        /* storage behind preds[i].labels */
    double *scores;         /* storage behind preds[i].scores */
} pe_pred_set;

/* Matches predictions to samples as the reference does: unknown keys are
 * ignored, the first of duplicated keys wins, validity: false skips the
 * sample. Labels: the validity labels, else score > threshold; for redundency
 * and circular, not(redundancy labels) when present. */
int pe_predictions_match(const pe_dataset *d, const pe_predictions *P, double threshold, pe_pred_set *out,
                         pe_match_report *rep, pe_err *e);
void pe_pred_set_free(pe_pred_set *s);

#endif
