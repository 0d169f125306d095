/* MPI: the world, agreement on errors, and the sharded evaluation flow
 * shared by `prmeval eval` and `prmeval run`:
 *   predictions in memory (this rank's shards) -> pe_sample_evaluate per sample
 *   -> MPI_Reduce of per-class counts + MPI_Gatherv of per-sample results and
 *   step arrays to rank 0 in canonical order -> root: pe_metrics_finish, the
 *   table, warnings, JSON and HDF5. */
#ifndef PE_CLUSTER_H
#define PE_CLUSTER_H

#include <stdio.h>

#include "../core/err.h"
#include "../core/metrics.h"
#include "../core/sample.h"
#include "../io/results_h5.h"
#include "../io/run_info.h"

typedef struct pe_world {
    int rank, size;
    int mpi;   /* 1 when MPI was initialised (launched by mpirun/srun, or PRMEVAL_MPI=1) */
} pe_world;

/* Initialises MPI when the process was started by an MPI launcher (Open MPI,
 * PMI or PMIx variables in the environment) or PRMEVAL_MPI=1; otherwise runs
 * as a single rank without MPI, which saves the ~0.3 s of a singleton MPI_Init. */
int pe_world_init(int *argc, char ***argv, pe_world *w, pe_err *e);
void pe_world_finalize(pe_world *w);

/* Collective: every rank passes its status. Returns the lowest failing rank's
 * code on every rank, with that rank's message copied into e everywhere, so
 * ranks exit together with one message. PE_OK when all succeeded. */
int pe_world_agree(const pe_world *w, int rc, pe_err *e);

/* What to evaluate and what root writes. */
typedef struct pe_eval_request {
    const pe_dataset *data;
    const pe_sample_pred *preds;  /* (nsamples), canonical order; only this rank's samples are read */
    double threshold;             /* recorded in the outputs */
    FILE *table;                  /* root: the paper's table; NULL = none */
    FILE *warn;                   /* root: warnings; NULL = none */
    const char *const *notes;     /* root: the caller's warning lines (e.g. unknown prediction keys) */
    int nnotes;
    const char *json_path;        /* NULL = no JSON */
    const char *h5_path;          /* NULL = no HDF5 */
    const pe_provenance *prov;    /* for the HDF5 file; nranks and end_time are filled here, and
                                     hosts too when prov->hosts is NULL (pe_gather_hosts) */
    const pe_run_info *run;       /* root: `prmeval run`'s timing and token statistics for the
                                     HDF5 (/timing, /run) and JSON ("run"); NULL for eval */
    int scores2;                  /* 1: the predictions carry a second score per step (preds[].scores2),
                                     gathered and written as /steps/score_redundancy */
} pe_eval_request;

/* Collective. Evaluates this rank's shards and produces root's outputs; the
 * returned status (and e) is the same on every rank. metrics (may be NULL)
 * receives the metrics on root. */
int pe_cluster_evaluate(const pe_world *w, const pe_eval_request *q, pe_metrics *metrics, pe_err *e);

/* Current UTC time as ISO 8601 ("2025-01-31T12:00:00Z"). */
void pe_utc_now(char buf[32]);

#endif
