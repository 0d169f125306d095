/* The HDF5 results file (docs/hdf5-schema.md). Only rank 0 writes; the file
 * is built in memory and published whole (outfile.h). */
#ifndef PE_RESULTS_H5_H
#define PE_RESULTS_H5_H

#include <stdint.h>

#include "../core/err.h"
#include "../core/metrics.h"
#include "../core/sample.h"
#include "run_info.h"

typedef struct pe_provenance {
    const char *tool_version;
    const char *git_commit;
    const char *command;          /* "eval" or "run" */
    const char *config_json;      /* the resolved job configuration, as JSON text */
    int ndata_files;
    const char *const *data_files;
    const char *const *data_sha256;  /* hex, one per data file */
    const char *predictions_path;    /* NULL for `run` */
    const char *predictions_sha256;
    int nranks;
    const char *hosts;            /* unique host names, comma-separated, in rank order */
    const char *start_time;       /* ISO 8601 UTC */
    const char *end_time;
    const char *metric_definition;/* e.g. "prmbench-reference-v1": runs with other values are not comparable */
} pe_provenance;

/* Everything an evaluation produced, in canonical sample order. */
typedef struct pe_eval_output {
    const pe_dataset *data;
    const pe_sample_result *results;  /* (nsamples) */
    const int64_t *step_offset;       /* (nsamples+1) prefix sums into the step arrays */
    const double *step_scores;        /* (nsteps_total) raw scores; NaN where only labels were given */
    const uint8_t *step_labels;       /* (nsteps_total) labels the metric used, 1 = valid */
    const pe_metrics *metrics;
    const pe_run_info *run;           /* `prmeval run` only: /timing and /run; NULL = neither */
    const double *step_scores2;       /* (nsteps_total) a second raw score per step, written as
                                         /steps/score_redundancy (ReasonEval); NULL = none */
} pe_eval_output;

int pe_results_h5_write(const char *path, const pe_eval_output *o, const pe_provenance *p, pe_err *e);

/* The file's bytes, built in memory (path only names it in messages): for a
 * caller that publishes it together with other outputs (pe_outfile_publish).
 * *image is the caller's to free. */
int pe_results_h5_image(const char *path, const pe_eval_output *o, const pe_provenance *p, void **image,
                        size_t *len, pe_err *e);

/* Loads libprmeval_h5.so, where the writer and the reader live
 * (results_h5_loader.c); PE_ERESOURCE naming the module when it cannot. Called
 * by the commands that will write a results file before they compute it, so a
 * missing module stops a run at its start, not after hours of work. */
int pe_results_h5_load(pe_err *e);

#endif
