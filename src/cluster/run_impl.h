/* Internals of `prmeval run` shared by run.c (the flow) and run_shard.c (one
 * logical shard: prompts, batches, rewards, labels). Not a public interface. */
#ifndef PE_RUN_IMPL_H
#define PE_RUN_IMPL_H

#include <stdio.h>

#include "../backend/backend.h"
#include "../prm/prm.h"
#include "../core/tokenizer.h"
#include "../io/family_load.h"
#include "../io/model.h"
#include "../io/run_info.h"
#include "../io/shard_payload.h"
#include "progress.h"
#include "provenance.h"
#include "run.h"

/* pe_run_shard's answer when a stop request ended the shard early. */
#define PE_RUN_STOPPED (-75)

typedef struct run_ctx {
    const pe_world *w;
    const pe_job *job;
    const pe_run_opts *opts;
    pe_dataset full;            /* as loaded */
    pe_dataset d;               /* the first `limit` problems of full (a view: samples are shallow copies) */
    pe_model model;
    int have_model;
    uint64_t model_hash;        /* pe_model_check_weights: compared across ranks */
    pe_tokenizer *tok;
    const pe_family *fam;
    pe_family_load famfile;     /* a job whose "family" is a family file: its family (fam points into it) */
    char fam_id[192];           /* the family in the job hash: its name, and a family file's SHA-256 */
    pe_family_opts fo;
    double threshold;           /* the resolved label threshold */
    double threshold2;          /* two-reward families: the resolved redundancy threshold */
    char backend_kind[8];       /* "cpu" or "cuda": what this rank uses */
    int device;                 /* CUDA device */
    char backend_note[512];     /* why (e.g. the auto fallback) */
    pe_head_spec head;
    pe_backend b;
    int have_backend;
    pe_prov prov;
    int have_prov;
    char job_hash[65];          /* "" without checkpoint_dir */
    int nshards;
    int *shard_first;           /* (nshards+1) offsets into shard_samples */
    int32_t *shard_samples;     /* sample indices of every shard, canonical order */
    pe_shard_preds *shards;     /* (nshards) filled for this rank's finished shards */
    uint8_t *shard_state;       /* (nshards) SHARD_* */
    pe_token_stats tok_local;   /* over this rank's finished shards, reused ones included */
    pe_rank_timing timing;
    FILE *dump;
    pe_progress prog;
} run_ctx;

enum { SHARD_OTHER = 0, SHARD_TODO, SHARD_REUSED, SHARD_DONE };

/* Runs logical shard s: fills c->shards[s], writes its journal (when
 * checkpoint_dir is set) and the token dump. Returns PE_OK, PE_RUN_STOPPED
 * (a stop request between two batches: the shard is dropped) or an error. */
int pe_run_shard(run_ctx *c, int s, pe_err *e);

/* The job's family for the checkpoint (run_family.c): a registered one, or a
 * family file loaded and checked against the checkpoint. Sets c->fam, c->fam_id. */
int pe_run_family(run_ctx *c, const pe_ckpt_facts *ck, pe_err *e);
/* A family file's tokens checked against the tokenizer on a probe sample
 * (errors name the file); nothing for a registered family. */
int pe_run_family_preflight(run_ctx *c, pe_err *e);
/* The resolved job as JSON for the results (malloc'ed); with a family file,
 * "family_file": {"path", "name", "sha256", "text"} so that the results say
 * exactly what ran. */
char *pe_run_config_json(const run_ctx *c, pe_err *e);

#endif
