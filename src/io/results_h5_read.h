/* Reads back what `prmeval rescore` and `prmeval report` need from a results
 * file written by pe_results_h5_write (docs/hdf5-schema.md): the per-sample
 * and per-step arrays and the provenance. Every array is checked for its
 * shape against /samples/key and /samples/step_offset; a mismatch is a
 * PE_EINPUT naming the file and the dataset. Metrics are not read back: they
 * are recomputed from these arrays. */
#ifndef PE_RESULTS_H5_READ_H
#define PE_RESULTS_H5_READ_H

#include <stdint.h>

#include "../core/err.h"
#include "results_h5.h"

/* Owned copies of the root attributes. Strings are never NULL ("" when the
 * writer had none); view points into them, so a rescored file can be written
 * with the same provenance. */
typedef struct pe_results_prov {
    char *schema;
    int64_t schema_version;
    char *tool_version, *git_commit, *command, *config_json;
    int ndata_files;
    char **data_files, **data_sha256;  /* (ndata_files) */
    char *predictions_path, *predictions_sha256;
    int64_t nranks;
    char *hosts, *start_time, *end_time, *metric_definition;
    pe_provenance view;               /* predictions_* are NULL in view when the path is "" */
} pe_results_prov;

typedef struct pe_results {
    int nsamples;             /* n */
    int64_t nsteps_total;     /* step_offset[n] */
    int64_t nerr_total;       /* err_offset[n] */
    /* per sample, canonical order (n) */
    char **key;               /* "<class>_<idx>" */
    char **idx;
    int8_t *cls;              /* pe_class */
    int32_t *problem;
    int8_t *status;           /* pe_pred_status */
    int32_t *nsteps;          /* steps in the data */
    int32_t *nlabels;         /* labels the model produced */
    int64_t *pred_order;
    int8_t *label_source;     /* pe_label_source; NULL when the file predates /samples/label_source */
    int32_t *src_file;        /* index into prov.data_files */
    int32_t *src_line;        /* 1-based line of the record */
    int64_t *step_offset;     /* (n+1): sample i's steps are [step_offset[i], step_offset[i+1]) */
    int64_t *err_offset;      /* (n+1): sample i's error steps are err_steps[err_offset[i] ..] */
    int32_t *err_steps;       /* (nerr_total) 0-based, file order, may be >= nsteps */
    /* per step (nsteps_total) */
    double *step_scores;      /* NaN where only labels were given */
    double *step_scores2;     /* /steps/score_redundancy (ReasonEval's second reward); NULL when absent */
    uint8_t *step_labels;     /* 1 = valid */
    uint8_t *step_is_error;
    double threshold;         /* /metrics threshold */
    pe_results_prov prov;
} pe_results;

/* Fills r (zeroed first). On failure r holds nothing (freed). */
int pe_results_h5_read(const char *path, pe_results *r, pe_err *e);

void pe_results_free(pe_results *r);

#endif
