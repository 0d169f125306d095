/* The flow of `prmeval run` (run.h, docs/run.md). */
#define _GNU_SOURCE  /* sched_getaffinity, CPU_COUNT */
#include "run.h"

#include <sched.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <mpi.h>

#include "../backend/engine.h"
#include "../core/shard.h"
#include "../io/dataset.h"
#include "../io/job_hash.h"
#include "../io/journal.h"
#include "../io/model_check.h"
#include "../io/results_h5.h"
#include "../io/textout.h"
#include "run_impl.h"
#include "signals.h"

/* ---- set-up ---- */

static const char *job_name(const pe_job *j) { return j->source[0] ? j->source : "job"; }

/* A folder or file the job names must exist: a job error (exit 2), named by key. */
static int check_path(const pe_job *j, const char *key, const char *path, int want_dir, pe_err *e)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return pe_fail(e, PE_EUSAGE, "%s: key \"%s\": %s: %s", job_name(j), key, path, strerror(errno));
    if (want_dir && !S_ISDIR(st.st_mode))
        return pe_fail(e, PE_EUSAGE, "%s: key \"%s\": %s is not a folder (a Hugging Face checkpoint folder is expected)",
                       job_name(j), key, path);
    return PE_OK;
}

/* The first `limit` problems: a view of the loaded data, same order. */
static int limit_view(run_ctx *c, pe_err *e)
{
    c->d = c->full;
    c->d.samples = NULL;
    int64_t lim = c->job->limit;
    int np = lim > 0 && lim < c->full.nproblems ? (int)lim : c->full.nproblems;
    c->d.nproblems = np;
    if (!(c->d.samples = pe_malloc(((size_t)c->full.nsamples + 1) * sizeof *c->d.samples, e)))
        return PE_ERESOURCE;
    int n = 0;
    for (int i = 0; i < c->full.nsamples; i++)
        if (c->full.samples[i].problem < np)
            c->d.samples[n++] = c->full.samples[i];
    c->d.nsamples = n;
    return PE_OK;
}

/* A family whose prompt starts with the BOS text (Skywork's reference encodes
 * tokenizer.bos_token + problem): the BOS is the tokenizer's bos_token as
 * transformers reads the folder (tokenizer_config.json, special_tokens_map.json),
 * matched as one token; config.json's bos_token_id only when the tokenizer
 * declares none (the reference would fail there). */
static int bos_token_text(run_ctx *c, pe_err *e)
{
    const char *bos = pe_tokenizer_special_text(c->tok, PE_TOK_BOS);
    if (!bos) {
        c->fo.bos_id = c->model.cfg.bos_token_id;
        if (c->fo.bos_id < 0 || c->fo.bos_id >= c->model.cfg.vocab_size)
            return pe_fail(e, PE_EINPUT, "%s/config.json: key \"bos_token_id\" is %d, outside the model's vocabulary "
                           "of %d (key \"vocab_size\")", c->job->model, c->fo.bos_id, c->model.cfg.vocab_size);
        return PE_OK;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = pe_tokenizer_encode(c->tok, bos, strlen(bos), 0, &ids, &n, e);
    if (rc == PE_OK && n != 1)
        rc = pe_fail(e, PE_EINPUT, "family %s: the tokenizer's bos_token \"%s\" (%s) encodes to %zu tokens, "
                     "expected 1", c->fam->name, bos, pe_tokenizer_source(c->tok), n);
    if (rc == PE_OK)
        c->fo.bos_id = ids[0];
    free(ids);
    return rc;
}

/* Model, family, tokenizer, head, and which backend this rank will use. */
static int open_model(run_ctx *c, pe_err *e)
{
    const pe_job *j = c->job;
    int rc = pe_model_open(&c->model, j->model, e);
    if (rc != PE_OK)
        return rc;
    c->have_model = 1;
    if ((rc = pe_model_check_weights(&c->model, &c->model_hash, e)) != PE_OK)
        return rc;
    pe_ckpt_facts ck;
    pe_model_facts(&c->model, &ck);
    if ((rc = pe_run_family(c, &ck, e)) != PE_OK)
        return rc;
    if (j->max_tokens > c->model.cfg.max_position_embeddings)
        return pe_fail(e, PE_EUSAGE, "%s: key \"max_tokens\" (%lld) exceeds the checkpoint's max_position_embeddings "
                       "(%d, %s/config.json)", job_name(j), (long long)j->max_tokens,
                       c->model.cfg.max_position_embeddings, j->model);
    pe_job_family_opts(j, &c->fo);
    c->fo.eos_id = c->model.cfg.eos_token_id;
    c->threshold = isnan(j->threshold) ? pe_family_threshold(c->fam, &c->fo) : j->threshold;
    c->threshold2 = pe_family_redundancy_threshold(c->fam, &c->fo);
    /* "auto" becomes what it means for this family: journals, the job hash and
     * the results file record the rounding the labels were drawn with */
    c->fo.reward_rounding = pe_family_rounds_bf16(c->fam, &c->fo) ? PE_ROUND_BF16 : PE_ROUND_NONE;
    /* The job's "tokenizer" for checkpoints that ship none (the Llemma PRMs; docs/job-config.md). */
    if (!(c->tok = pe_tokenizer_load(j->tokenizer[0] ? j->tokenizer : j->model, e))) {
        if (j->tokenizer[0])
            pe_err_prefix(e, "%s: key \"tokenizer\": ", job_name(j));
        return e->code ? e->code : PE_EINPUT;
    }
    if (c->fam->bos == PE_BOS_TOKEN_TEXT && (rc = bos_token_text(c, e)) != PE_OK)
        return rc;
    if ((rc = pe_run_family_preflight(c, e)) != PE_OK)
        return rc;
    pe_encoder enc;
    pe_encoder_from_tokenizer(&enc, c->tok);
    if ((rc = pe_family_head(c->fam, &enc, &c->head, e)) != PE_OK)
        return rc;
    rc = pe_model_bind_head(&c->model, &c->head, e);
    if (rc != PE_OK && c->famfile.file) /* a family file named the head's tensors */
        pe_err_prefix(e, "%s: key \"family\": %s (its \"head\"): ", job_name(j), j->family);
    return rc;
}

/* Every rank must run the same model: node-local copies that differ would
 * give a mix of two models' rewards. Collective; PE_EMPI naming the ranks. */
static int same_model_everywhere(run_ctx *c, pe_err *e)
{
    const pe_world *w = c->w;
    if (!w->mpi || w->size < 2)
        return PE_OK;
    uint64_t *all = calloc((size_t)w->size, sizeof *all);
    int ok = all != NULL, all_ok = ok;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!all_ok) {
        free(all);
        return pe_fail(e, PE_ERESOURCE, "out of memory comparing the ranks' models");
    }
    MPI_Allgather(&c->model_hash, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD);
    int rc = PE_OK;
    char differ[512] = "";
    for (int k = 1; k < w->size; k++)
        if (all[k] != all[0]) {
            size_t l = strlen(differ);
            if (l < sizeof differ - 16)
                snprintf(differ + l, sizeof differ - l, "%s%d", l ? ", " : "", k);
            rc = PE_EMPI;
        }
    if (rc != PE_OK)
        pe_fail(e, PE_EMPI, "%s: ranks %s loaded model files whose contents differ from rank 0's (weights, "
                "config.json or the tokenizer files; content hash %016llx on rank 0): node-local copies of the "
                "checkpoint differ; stopping before any work", c->job->model, differ, (unsigned long long)all[0]);
    free(all);
    return rc;
}

/* backend "auto": CUDA when a GPU is usable, else the CPU (and why). */
static int choose_backend(run_ctx *c, pe_err *e)
{
    int ndev = 0;
    char why[256] = "";
    if (strcmp(c->job->backend, "cpu") != 0)
        pe_backend_cuda_available(&ndev, why, sizeof why);
    if (!strcmp(c->job->backend, "cuda") && ndev == 0)
        return pe_fail(e, PE_ERESOURCE, "%s: key \"backend\" is \"cuda\" but no GPU is usable here: %s",
                       job_name(c->job), why[0] ? why : "no CUDA device");
    if (ndev > 0) {
        int local = pe_node_local_rank_env();
        c->device = pe_device_for_local_rank(local, ndev);
        snprintf(c->backend_kind, sizeof c->backend_kind, "cuda");
        snprintf(c->backend_note, sizeof c->backend_note, "node-local rank %d of %d GPUs", local < 0 ? 0 : local,
                 ndev);
    } else {
        snprintf(c->backend_kind, sizeof c->backend_kind, "cpu");
        if (!strcmp(c->job->backend, "auto"))
            snprintf(c->backend_note, sizeof c->backend_note, "backend auto: no usable GPU (%s), using the CPU",
                     why[0] ? why : "no CUDA device");
        else
            snprintf(c->backend_note, sizeof c->backend_note, "backend cpu as the job asks");
    }
    return PE_OK;
}

/* Ranks on one node share its cores: without this, 3 ranks with 2 OpenMP
 * and 2 OpenBLAS threads each on 2 cores spin against each other and run
 * 10x slower. A rank bound to some cores (mpirun binds with -np <= cores)
 * uses those; an unbound one takes cores / ranks on the node. Collective.
 * OMP_NUM_THREADS in the environment wins (OpenBLAS always runs one thread:
 * backend/blas.h). */
static int share_cores(const pe_world *w)
{
    int local = 1;
    if (w->mpi) {
        MPI_Comm node;
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, w->rank, MPI_INFO_NULL, &node);
        MPI_Comm_size(node, &local);
        MPI_Comm_free(&node);
    }
    if (getenv("OMP_NUM_THREADS"))
        return 0;
    cpu_set_t set;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int mine = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : (int)online;
    int n = mine < online ? mine : (int)(online / (local > 0 ? local : 1));
    n = n < 1 ? 1 : n;
    pe_backend_cpu_threads(n);
    return n;
}

static int create_backend(run_ctx *c, pe_err *e)
{
    int rc = !strcmp(c->backend_kind, "cuda") ? pe_backend_cuda_create(&c->b, &c->model, &c->head, c->device, e)
                                              : pe_backend_cpu_create(&c->b, &c->model, &c->head, e);
    c->have_backend = rc == PE_OK;
    return rc;
}

/* The sample lists of the logical shards (fixed by the data). */
static int plan_shards(run_ctx *c, pe_err *e)
{
    const pe_dataset *d = &c->d;
    c->nshards = pe_shard_count(d->nproblems);
    size_t ns = (size_t)c->nshards + 1;
    c->shard_first = pe_calloc(ns + 1, sizeof *c->shard_first, e);
    c->shard_samples = pe_malloc(((size_t)d->nsamples + 1) * sizeof *c->shard_samples, e);
    c->shards = pe_calloc(ns, sizeof *c->shards, e);
    c->shard_state = pe_calloc(ns, 1, e);
    int *fill = pe_calloc(ns, sizeof *fill, e);
    if (!c->shard_first || !c->shard_samples || !c->shards || !c->shard_state || !fill) {
        free(fill);
        return PE_ERESOURCE;
    }
    for (int i = 0; i < d->nsamples; i++)
        c->shard_first[pe_shard_of_problem(d->samples[i].problem) + 1]++;
    for (int s = 0; s < c->nshards; s++)
        c->shard_first[s + 1] += c->shard_first[s];
    for (int i = 0; i < d->nsamples; i++) {
        int s = pe_shard_of_problem(d->samples[i].problem);
        c->shard_samples[c->shard_first[s] + fill[s]++] = i;
    }
    free(fill);
    for (int s = 0; s < c->nshards; s++)
        if (pe_shard_rank(s, c->w->size) == c->w->rank)
            c->shard_state[s] = SHARD_TODO;
    return PE_OK;
}

/* The backends of all ranks, sorted and distinct ("cpu", "cpu,cuda"): part of the job hash. */
static int backend_set(run_ctx *c, char out[32], pe_err *e)
{
    char mine[8] = {0};
    snprintf(mine, sizeof mine, "%s", c->backend_kind);
    int ncuda = !strcmp(mine, "cuda"), ncpu = !ncuda, any[2] = {ncpu, ncuda}, all[2] = {ncpu, ncuda};
    (void)e;
    if (c->w->mpi)
        MPI_Allreduce(any, all, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    snprintf(out, 32, "%s%s%s", all[0] ? "cpu" : "", all[0] && all[1] ? "," : "", all[1] ? "cuda" : "");
    return PE_OK;
}

/* Rank 0 hashes the job (model files included) and sends it to all. Collective. */
static int make_job_hash(run_ctx *c, pe_err *e)
{
    char backends[32];
    backend_set(c, backends, e);
    int rc = PE_OK;
    if (c->w->rank == 0) {
        pe_job_hash_in in = {c->job, c->fam_id, c->threshold, backends, c->prov.ndata_files,
                             (const char *const *)c->prov.data_sha256, PE_METRIC_DEFINITION,
                             pe_reward_rounding_name(c->fo.reward_rounding)};
        rc = pe_job_hash(&in, c->job_hash, e);
    }
    rc = pe_world_agree(c->w, rc, e);
    if (rc == PE_OK && c->w->mpi)
        MPI_Bcast(c->job_hash, 65, MPI_CHAR, 0, MPI_COMM_WORLD);
    return rc;
}

/* Reads this rank's journals: valid ones replace the model run; corrupt or
 * foreign ones are reported and redone. */
static int read_journals(run_ctx *c, int64_t *nreused, int64_t *nbad, pe_err *e)
{
    *nreused = *nbad = 0;
    for (int s = 0; s < c->nshards; s++) {
        if (c->shard_state[s] != SHARD_TODO)
            continue;
        void *buf = NULL;
        size_t len = 0;
        pe_err je;
        pe_err_clear(&je);
        pe_journal_status st = pe_journal_read(c->job->checkpoint_dir, c->job_hash, (uint64_t)s, &buf, &len, &je);
        if (st == PE_JOURNAL_ERROR)
            return pe_fail(e, je.code ? je.code : PE_EIO, "%s", je.msg);
        if (st == PE_JOURNAL_ABSENT)
            continue;
        if (st == PE_JOURNAL_VALID) {
            char what[PE_JOB_PATH + 64];
            pe_journal_path(c->job->checkpoint_dir, (uint64_t)s, what, sizeof what, &je);
            int first = c->shard_first[s], n = c->shard_first[s + 1] - first;
            int rc = pe_shard_payload_decode(buf, len, c->shard_samples + first, n, what, &c->shards[s], &je);
            free(buf);
            if (rc == PE_OK && c->shards[s].nrew != c->head.d.nout) {
                rc = pe_fail(&je, PE_EINPUT, "%s: %d rewards per step, family %s has %d", what, c->shards[s].nrew,
                             c->fam->name, c->head.d.nout);
                pe_shard_preds_free(&c->shards[s]);
            }
            if (rc == PE_ERESOURCE)
                return pe_fail(e, rc, "%s", je.msg);
            if (rc == PE_OK) {
                c->shard_state[s] = SHARD_REUSED;
                pe_token_stats_add(&c->tok_local, &c->shards[s].tok);
                c->timing.shards_reused++;
                pe_progress_add(&c->prog, n, 0, 0, n);
                (*nreused)++;
                continue;
            }
            /* checksummed but not this job's shard: a journal from other data */
            snprintf(je.msg + strlen(je.msg), sizeof je.msg - strlen(je.msg), "; the shard is redone");
        }
        (*nbad)++;
        fprintf(stderr, "warning: rank %d: %s\n", c->w->rank, je.msg);
    }
    return PE_OK;
}

static const char *stop_name(void)
{
    int sig = pe_signals_stop_requested();
    return sig ? pe_signals_name(sig) : "a stop request from another rank";
}

/* Rank 0 prints one line per rank: backend, device and why. Collective. */
static void report_backends(run_ctx *c, int nrun, int stopping)
{
    enum { LEN = 1536 };
    char line[LEN];
    char host[256] = "";
    snprintf(host, sizeof host, "%s", c->timing.host);
    int mine = 0;
    for (int s = 0; s < c->nshards; s++)
        mine += c->shard_state[s] != SHARD_OTHER;
    if (nrun > 0 && stopping)
        snprintf(line, LEN, "rank %d (%s): no backend started (stopping: %s)", c->w->rank, host, stop_name());
    else if (nrun == 0)
        snprintf(line, LEN, "rank %d (%s): no backend needed (%s)", c->w->rank, host,
                 mine ? "every shard of this rank is journalled" : "no shard falls to this rank");
    else if (!strncmp(c->b.device, c->b.name, strlen(c->b.name)))  /* "cpu (2 threads)" names the backend already */
        snprintf(line, LEN, "rank %d (%s): %s (%s)", c->w->rank, host, c->b.device, c->backend_note);
    else
        snprintf(line, LEN, "rank %d (%s): %s, %s (%s)", c->w->rank, host, c->b.name, c->b.device, c->backend_note);
    char *all = NULL;
    if (c->w->rank == 0)
        all = calloc((size_t)c->w->size, LEN);
    if (c->w->mpi)
        MPI_Gather(line, LEN, MPI_CHAR, all, LEN, MPI_CHAR, 0, MPI_COMM_WORLD);
    else if (all)
        memcpy(all, line, LEN);
    if (c->w->rank == 0 && all)
        for (int k = 0; k < c->w->size; k++)
            fprintf(stderr, "backend: %s\n", all + (size_t)k * LEN);
    free(all);
}

/* ---- results ---- */

/* Root's warning lines from the token statistics (deterministic: the same for a resumed run). */
static int token_notes(const run_ctx *c, const pe_token_stats *t, char notes[2][1024])
{
    int n = 0;
    if (t->labels_lost) {
        char per[700] = "";
        for (int k = 0; k < PE_NCLASSES; k++)
            if (t->labels_lost_class[k]) {
                size_t l = strlen(per);
                snprintf(per + l, sizeof per - l, "%s%s %lld", l ? ", " : "", pe_class_name((pe_class)k),
                         (long long)t->labels_lost_class[k]);
            }
        snprintf(notes[n++], 1024, "%lld step labels were lost to the %lld-token cut (max_tokens) in %lld prompts, "
                 "as in the reference (by class: %s)", (long long)t->labels_lost, (long long)c->job->max_tokens,
                 (long long)t->sequences_cut, per);
    }
    if (t->readout_mismatch)
        snprintf(notes[n++], 1024, "%lld prompts give another number of read-outs than the family expects from their "
                 "steps (a read-out token inside the text, as the reference reads it); their label lists differ "
                 "in length from the steps", (long long)t->readout_mismatch);
    return n;
}

/* After every shard is done: the evaluation flow plus timing and token statistics. */
static int finish_run(run_ctx *c, double t_start, pe_err *e)
{
    const pe_dataset *d = &c->d;
    int rc = PE_OK;
    pe_sample_pred *preds = pe_calloc((size_t)d->nsamples + 1, sizeof *preds, e);
    if (!preds)
        rc = PE_ERESOURCE;
    for (int s = 0; rc == PE_OK && s < c->nshards; s++) {
        if (c->shard_state[s] != SHARD_DONE && c->shard_state[s] != SHARD_REUSED)
            continue;
        const pe_shard_preds *sp = &c->shards[s];
        for (int k = 0; k < sp->n; k++) {
            pe_sample_pred *p = &preds[sp->sample[k]];
            p->status = sp->status[k];
            p->m = sp->m[k];
            p->pred_order = sp->sample[k];  /* canonical order: similarity sums in sample order */
            p->labels = sp->labels[k];
            p->scores = sp->scores[k];
            p->scores2 = sp->scores2 ? sp->scores2[k] : NULL;
        }
    }
    rc = pe_world_agree(c->w, rc, e);
    if (rc != PE_OK) {
        free(preds);
        return rc;
    }
    /* token statistics: exact integer sums */
    pe_token_stats tot = c->tok_local;
    int64_t counts[2] = {c->timing.shards_reused, 0}, ctot[2] = {counts[0], 0};
    pe_rank_timing *ranks = NULL;
    if (c->w->rank == 0 && !(ranks = pe_calloc((size_t)c->w->size, sizeof *ranks, e)))
        rc = PE_ERESOURCE;
    /* root must not enter the gather without its buffer */
    if ((rc = pe_world_agree(c->w, rc, e)) != PE_OK) {
        free(preds);
        return rc;
    }
    if (c->w->mpi) {
        MPI_Reduce(&c->tok_local, &tot, PE_TOKEN_STATS_INT64, MPI_INT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
        MPI_Reduce(counts, ctot, 2, MPI_INT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
        MPI_Gather(&c->timing, (int)sizeof c->timing, MPI_BYTE, ranks, (int)sizeof c->timing, MPI_BYTE, 0,
                   MPI_COMM_WORLD);
    } else if (ranks) {
        ranks[0] = c->timing;
    }
    char notes[2][1024];
    const char *note_ptr[2];
    int nnotes = 0;
    pe_run_info info;
    memset(&info, 0, sizeof info);
    if (c->w->rank == 0) {
        nnotes = token_notes(c, &tot, notes);
        for (int k = 0; k < nnotes; k++)
            note_ptr[k] = notes[k];
        info.nranks = c->w->size;
        info.ranks = ranks;
        info.tok = tot;
        info.shards = c->nshards;
        info.shards_reused = ctot[0];
        info.max_tokens = (int)c->job->max_tokens;
        info.prefix_reuse = c->job->prefix_reuse;
        info.prefix_cache_bytes = c->job->prefix_cache_mb << 20;
        info.seconds = pe_now() - t_start;
    }
    pe_prov_end(&c->prov);
    pe_eval_request q = {
        .data = d,
        .preds = preds,
        .threshold = c->threshold,
        .table = c->opts->quiet ? NULL : stdout,
        .warn = stderr,
        .notes = note_ptr,
        .nnotes = nnotes,
        .json_path = c->job->json[0] ? c->job->json : NULL,
        .h5_path = c->job->output,
        .prov = &c->prov.view,
        .run = c->w->rank == 0 ? &info : NULL,
        .scores2 = c->head.d.nout == 2,
    };
    pe_metrics m;
    rc = pe_cluster_evaluate(c->w, &q, &m, e);
    if (rc == PE_OK && c->w->rank == 0) {
        int64_t tokens = 0, prompt = 0;
        for (int k = 0; ranks && k < c->w->size; k++) {
            tokens += ranks[k].tokens;
            prompt += ranks[k].prompt_tokens;
        }
        double secs = pe_now() - t_start;
        char ratio[32];
        pe_progress_ratio(tokens, prompt, ratio, sizeof ratio);
        fprintf(stderr, "done: %d samples, %lld of %lld prompt tokens computed (%s, prefix_reuse %s) in %.1f s "
                "(%.0f tokens/s, %d ranks, %lld of %d shards reused), PRMScore %.1f; results %s%s%s\n",
                d->nsamples, (long long)tokens, (long long)prompt, ratio, c->job->prefix_reuse ? "on" : "off", secs,
                secs > 0 ? (double)tokens / secs : 0.0, c->w->size, (long long)ctot[0], c->nshards,
                100.0 * m.pooled.prmscore, c->job->output, c->job->json[0] ? ", " : "", c->job->json);
    }
    free(ranks);
    free(preds);
    return rc;
}

/* ---- the run ---- */

static void ctx_free(run_ctx *c)
{
    if (c->dump)
        fclose(c->dump);
    for (int s = 0; c->shards && s < c->nshards; s++)
        pe_shard_preds_free(&c->shards[s]);
    free(c->shards);
    free(c->shard_state);
    free(c->shard_first);
    free(c->shard_samples);
    pe_progress_free(&c->prog);
    if (c->have_backend && c->b.destroy)
        c->b.destroy(&c->b);
    if (c->have_prov)
        pe_prov_free(&c->prov);
    pe_tokenizer_free(c->tok);
    if (c->have_model)
        pe_model_close(&c->model);
    pe_family_load_free(&c->famfile);
    free(c->d.samples);
    pe_dataset_free(&c->full);
}

static int open_dump(run_ctx *c, pe_err *e)
{
    if (!c->opts->dump_tokens)
        return PE_OK;
    char path[PE_JOB_PATH + 32];
    if (c->w->size == 1)
        snprintf(path, sizeof path, "%s", c->opts->dump_tokens);
    else
        snprintf(path, sizeof path, "%s.rank%d", c->opts->dump_tokens, c->w->rank);
    if (!(c->dump = fopen(path, "w")))
        return pe_fail(e, PE_EIO, "--dump-tokens: cannot write %s: %s", path, strerror(errno));
    return PE_OK;
}

int pe_run(const pe_world *w, const pe_job *job, const pe_run_opts *opts, pe_err *e)
{
    run_ctx c;
    memset(&c, 0, sizeof c);
    c.w = w;
    c.job = job;
    c.opts = opts;
    c.prog.req = MPI_REQUEST_NULL;
    double t_start = pe_now();
    c.timing.rank = w->rank;
    if (gethostname(c.timing.host, sizeof c.timing.host - 1) != 0)
        snprintf(c.timing.host, sizeof c.timing.host, "unknown");
    snprintf(c.timing.backend, sizeof c.timing.backend, "none");

    int rc = check_path(job, "model", job->model, 1, e);
    if (rc == PE_OK)
        rc = check_path(job, "data", job->data, 0, e);
    /* Only rank 0 writes the results: whether it can is known before hours of work. */
    char what[PE_JOB_PATH + 32];
    snprintf(what, sizeof what, "%s: key \"output\":", job_name(job));
    if (rc == PE_OK && w->rank == 0)
        rc = pe_output_path_check(job->output, what, e);
    snprintf(what, sizeof what, "%s: key \"json\":", job_name(job));
    if (rc == PE_OK && w->rank == 0 && job->json[0])
        rc = pe_output_path_check(job->json, what, e);
    if (rc == PE_OK && w->rank == 0) {
        /* an output must not replace what this run reads, nor another of its outputs */
        const char *in[4] = {job->source, job->data, job->model, job->checkpoint_dir}, *outs[1] = {job->output};
        snprintf(what, sizeof what, "%s: key \"output\":", job_name(job));
        rc = pe_output_distinct(job->output, what, in, 4, NULL, 0, e);
        snprintf(what, sizeof what, "%s: key \"json\":", job_name(job));
        if (rc == PE_OK && job->json[0])
            rc = pe_output_distinct(job->json, what, in, 4, outs, 1, e);
    }
    if (rc == PE_OK && w->rank == 0)
        rc = pe_results_h5_load(e);
    if (rc == PE_OK && job->checkpoint_dir[0] && (rc = pe_journal_dir_check(job->checkpoint_dir, e)) != PE_OK)
        pe_err_prefix(e, "%s: key \"checkpoint_dir\": ", job_name(job));
    if ((rc = pe_world_agree(w, rc, e)) != PE_OK)
        goto out;
    rc = pe_dataset_load(job->data, &c.full, e);
    if (rc == PE_OK)
        rc = limit_view(&c, e);
    if (rc == PE_OK)
        rc = open_model(&c, e);
    if (rc == PE_OK)
        rc = choose_backend(&c, e);
    if ((rc = pe_world_agree(w, rc, e)) != PE_OK)
        goto out;
    if ((rc = pe_world_agree(w, same_model_everywhere(&c, e), e)) != PE_OK)
        goto out;
    if (w->rank == 0)
        fprintf(stderr, "run: %s (%s, %s, %s) on %d samples (%d problems%s) from %s, %d ranks\n", job->model,
                c.fam->name, pe_arch_name(c.model.cfg.arch), pe_model_layout(&c.model), c.d.nsamples, c.d.nproblems,
                job->limit > 0 ? ", limit" : "", job->data, w->size);
    char dup[1536];
    if (w->rank == 0 && pe_dataset_duplicates_note(&c.full, dup, sizeof dup))
        fprintf(stderr, "warning: %s\n", dup);

    char *cfg = pe_run_config_json(&c, e);
    rc = cfg ? PE_OK : PE_ERESOURCE;
    if ((rc = pe_world_agree(w, rc, e)) != PE_OK) {
        free(cfg);
        goto out;
    }
    rc = pe_prov_begin(&c.prov, MPI_COMM_WORLD, "run", cfg, c.d.nfiles, (const char *const *)c.d.files, NULL,
                       PE_METRIC_DEFINITION, e);
    cJSON_free(cfg);
    if (rc != PE_OK)
        goto out;  /* pe_prov_begin already agreed */
    c.have_prov = 1;
    if ((rc = plan_shards(&c, e)) == PE_OK)
        rc = pe_progress_begin(&c.prog, w, c.d.nsamples, job->progress_interval, stderr, e);
    if ((rc = pe_world_agree(w, rc, e)) != PE_OK)
        goto out;

    /* resume */
    int64_t reused = 0, bad = 0;
    if (job->checkpoint_dir[0]) {
        rc = make_job_hash(&c, e);
        if (rc == PE_OK)
            rc = read_journals(&c, &reused, &bad, e);
        if ((rc = pe_world_agree(w, rc, e)) != PE_OK)
            goto out;
        int64_t mine[2] = {reused, bad}, sum[2] = {reused, bad};
        if (w->mpi)
            MPI_Reduce(mine, sum, 2, MPI_INT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
        if (w->rank == 0)
            fprintf(stderr, "resume: %lld of %d shards reused from journals in %s, %lld corrupt or foreign "
                    "journals redone, %lld shards to run\n", (long long)sum[0], c.nshards, job->checkpoint_dir,
                    (long long)sum[1], (long long)(c.nshards - sum[0]));
    }

    share_cores(w);
    /* A stop request during the start-up: no backend (minutes for a 7B model);
     * the first shard stops before its first batch, and the ranks agree below. */
    int stopped = pe_signals_stop_requested() != 0;
    /* backend, only where there is a shard to run (a 7B model costs minutes to load) */
    int nrun = 0;
    for (int s = 0; s < c.nshards; s++)
        nrun += c.shard_state[s] == SHARD_TODO;
    if (nrun > 0 && !stopped) {
        rc = create_backend(&c, e);
        if (rc == PE_OK) {
            snprintf(c.timing.backend, sizeof c.timing.backend, "%s", c.b.name);
            snprintf(c.timing.device, sizeof c.timing.device, "%s", c.b.device);
        }
    }
    if (rc == PE_OK)
        rc = open_dump(&c, e);
    if ((rc = pe_world_agree(w, rc, e)) != PE_OK)
        goto out;
    report_backends(&c, nrun, stopped);

    /* the shards: ranks never wait for each other in here */
    double t_loop = pe_now();
    for (int s = 0; s < c.nshards && rc == PE_OK && !stopped; s++) {
        if (c.shard_state[s] != SHARD_TODO)
            continue;
        rc = pe_run_shard(&c, s, e);
        if (rc == PE_RUN_STOPPED) {
            stopped = 1;
            rc = PE_OK;
        }
    }
    c.timing.seconds = pe_now() - t_loop;
    c.timing.tokens_per_s = c.timing.seconds > 0 ? (double)c.timing.tokens / c.timing.seconds : 0;
    int any_stop = 0;
    /* a failed rank also asks the others to stop, so that they do not work on in vain */
    pe_progress_finish(&c.prog, stopped || rc != PE_OK, &any_stop, e);
    if ((rc = pe_world_agree(w, rc, e)) != PE_OK)
        goto out;
    if (any_stop) {
        int64_t mine = 0, done = 0;
        for (int s = 0; s < c.nshards; s++)
            mine += c.shard_state[s] == SHARD_DONE || c.shard_state[s] == SHARD_REUSED;
        done = mine;
        if (w->mpi)
            MPI_Reduce(&mine, &done, 1, MPI_INT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
        if (job->checkpoint_dir[0])
            rc = pe_fail(e, PE_EPREEMPT, "stopped by %s before the end: %lld of %d shards are done and journalled "
                         "in %s; run the same job again to resume", stop_name(), (long long)done, c.nshards,
                         job->checkpoint_dir);
        else
            rc = pe_fail(e, PE_EPREEMPT, "stopped by %s before the end (%lld of %d shards were done; set "
                         "checkpoint_dir to keep them for a resume); no results written", stop_name(),
                         (long long)done, c.nshards);
        goto out;
    }
    rc = finish_run(&c, t_start, e);
out:
    ctx_free(&c);
    return rc;
}
