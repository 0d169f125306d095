/* `prmeval run`: a PRM from a checkpoint folder on PRMBench, sharded over MPI
 * ranks (docs/run.md). Every rank: job -> data (its logical shards) ->
 * prompts (family + tokenizer, the job's cut) -> packed batches -> backend ->
 * step rewards -> labels (the family's rule) -> per-shard journal; then the
 * evaluation flow of `prmeval eval` (pe_cluster_evaluate) with the raw
 * rewards as step scores, plus per-rank timing and token statistics. */
#ifndef PE_RUN_H
#define PE_RUN_H

#include "../core/err.h"
#include "../io/job.h"
#include "cluster.h"

typedef struct pe_run_opts {
    /* Debug: every prompt's token ids and read-out positions as JSON lines
     * (docs/run.md); one file per rank, "<path>" with one rank, else
     * "<path>.rank<k>". Shards taken from journals are not dumped. NULL = none. */
    const char *dump_tokens;
    int quiet;  /* no table on stdout (progress, warnings and the summary still print) */
} pe_run_opts;

/* Collective. Returns the same status on every rank: PE_OK, an error (e says
 * it, for rank 0 to print), or PE_EPREEMPT when a stop signal ended the run
 * before every shard was done (finished shards are journalled). */
int pe_run(const pe_world *w, const pe_job *job, const pe_run_opts *opts, pe_err *e);

#endif
