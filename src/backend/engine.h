/* The batching engine between the families and a backend: packs tokenized
 * sequences end to end (no padding) into batches of at most token_budget
 * tokens, runs the backend, and puts every reward back at (sequence, step).
 * Pure logic apart from the backend call; see docs/families.md. */
#ifndef PE_ENGINE_H
#define PE_ENGINE_H

#include <stdint.h>

#include "../core/err.h"
#include "../prm/prm.h"
#include "backend.h"

/* One tokenized sequence (a sample's prompt after the cut). */
typedef struct pe_seq {
    const int32_t *tokens;   /* (ntok) */
    int64_t ntok;
    const int64_t *readout;  /* (nread) indices into tokens, ascending */
    int64_t nread;
    int sample;              /* the caller's id for it (e.g. index into the dataset) */
    int group;               /* prefix reuse shares prefixes within a group (a problem) only,
                                wherever its sequences are in the array */
} pe_seq;

/* Greedy in the given order (keeps the problems of a shard together, so the
 * order of the results never depends on the budget): a batch is closed when
 * the next sequence would push it past token_budget. A sequence longer than
 * the budget goes alone in its own batch. Batch b holds sequences
 * first[b] .. first[b+1]-1; *first has nbatches+1 entries (malloc'ed). */
int pe_engine_plan(const pe_seq *seqs, int nseqs, int64_t token_budget, int **first, int *nbatches,
                   pe_err *e);

/* A packed batch and the map from each of its read-outs back to the input. */
typedef struct pe_packed {
    pe_batch batch;          /* views into the arrays below */
    int32_t *tokens;         /* (ntok) */
    int64_t *seq_start;      /* (nseq+1) */
    int64_t *readout;        /* (nread) indices into tokens */
    int *read_seq;           /* (nread) index into the seqs array */
    int64_t *read_step;      /* (nread) index of the read-out within its sequence */
} pe_packed;

/* Packs seqs[first .. first+count-1]. Checks every read-out lies inside its sequence. */
int pe_engine_pack(const pe_seq *seqs, int first, int count, pe_packed *out, pe_err *e);
void pe_packed_free(pe_packed *p);

typedef struct pe_engine_stats {
    int64_t tokens;          /* tokens run through the backend */
    int64_t readouts;
    int nbatches;
    int64_t max_batch_tokens;
} pe_engine_stats;

/* Scores every sequence: rewards[i] (nread of seqs[i] times b->nout floats,
 * caller-owned) receives the rewards of each read-out of seqs[i], in order
 * (the nout rewards of a read-out side by side). Sequences
 * without read-outs are not run. stats may be NULL. */
int pe_engine_score(pe_backend *b, const pe_seq *seqs, int nseqs, int64_t token_budget,
                    float *const *rewards, pe_engine_stats *stats, pe_err *e);

/* ---- the schedule of a shard (prefix reuse) ----------------------------------
 * With prefix reuse the sequences of each group are laid out as a prefix tree
 * over token ids; each distinct segment of the tree is computed once, and a
 * read-out inside a shared segment once for every sequence that holds it;
 * the tokens after a sequence's last read-out are not run (causal attention:
 * they change nothing before them). A segment's rows are always computed as one group of rows (blas.h) whatever
 * the batch, so the rewards do not depend on token_budget, cache_bytes or the
 * rank count; they differ from those without reuse only by the rounding of
 * products tiled from another first row (within 1e-5 relative).
 * Keys/values a later batch needs are kept in the backend's cache
 * (pe_batch.keep) while at most cache_bytes; a segment whose ancestor is
 * neither in its batch nor cached recomputes that ancestor in its batch (same
 * rows, same numbers), so a small bound costs time, never a failure. */
typedef struct pe_engine_opts {
    int64_t token_budget;    /* tokens per batch (a longer segment goes alone; with prefix
                                reuse a segment without read-outs goes with its first child,
                                and ancestors recomputed for a segment go with it) */
    int prefix_reuse;        /* 0: each sequence is one segment, as pe_engine_score (also
                                when the backend's kv_bytes_per_token is 0: it cannot keep
                                keys/values and takes no segments) */
    int64_t cache_bytes;     /* bound on the backend's kept keys/values (>= 0; 0: every
                                ancestor outside a segment's batch is recomputed) */
} pe_engine_opts;

typedef struct pe_schedule pe_schedule;

/* Plans the sequences of one shard (whole groups) into batches. seqs must
 * outlive the schedule. Sequences without read-outs are not run. */
int pe_schedule_build(const pe_seq *seqs, int nseqs, const pe_engine_opts *o, int64_t kv_bytes_per_token,
                      pe_schedule **out, pe_err *e);
int pe_schedule_nbatches(const pe_schedule *s);

typedef struct pe_schedule_stats {
    int64_t tokens;          /* tokens run through the backend (recomputed ancestors included) */
    int64_t prompt_tokens;   /* tokens of the sequences completed by this batch */
    int sequences;           /* sequences whose every reward is known after this batch */
    int64_t readouts;        /* read-outs computed */
    int64_t recomputed;      /* tokens recomputed because the cache bound was hit */
    int64_t cache_bytes;     /* bytes kept in the backend's cache after this batch */
} pe_schedule_stats;

/* Runs batch bi; batches must run in order 0, 1, ... on one backend.
 * rewards[i] (nread of seqs[i] times b->nout floats) receives the rewards of
 * sequence i as they become known. st may be NULL. With prefix reuse the
 * schedule assumes the backend's cache empty when batch 0 runs and leaves it
 * so: after the last batch it frees the slots that the last batch still read
 * with the backend's release (backend.h); no batch runs for that. A schedule
 * stopped before its last batch (an error, a signal) leaves its slots to the
 * backend's destroy. */
int pe_schedule_run(pe_backend *b, pe_schedule *s, int bi, float *const *rewards, pe_schedule_stats *st,
                    pe_err *e);
void pe_schedule_free(pe_schedule *s);

#endif
