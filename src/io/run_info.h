/* What `prmeval run` adds to the results beyond the metrics: per-rank timing
 * and the token statistics of the prompts (docs/hdf5-schema.md "/timing" and
 * "/run", docs/run.md). Plain data; written by the HDF5 writer and the JSON
 * writer when given (NULL for `prmeval eval`). */
#ifndef PE_RUN_INFO_H
#define PE_RUN_INFO_H

#include <stdint.h>

#include "../core/sample.h"

/* One rank's share of the run. Timing differs between runs; nothing in it
 * enters the metrics. */
typedef struct pe_rank_timing {
    int32_t rank;
    char host[256];
    char backend[16];         /* "cpu" or "cuda"; "none" when the rank ran no shard */
    char device[256];         /* pe_backend.device */
    int64_t tokens;           /* tokens this rank ran through its backend in this run */
    int64_t prompt_tokens;    /* tokens of the prompts it scored in this run (tokens / prompt_tokens
                                 is what prefix reuse saves; recomputed ancestors count in tokens) */
    int64_t recomputed;       /* of tokens: ancestors recomputed because the cache bound was hit */
    int64_t cache_bytes_max;  /* the most keys/values bytes it kept between two batches */
    int64_t sequences;        /* sequences it scored in this run */
    int64_t shards_run;       /* logical shards it ran */
    int64_t shards_reused;    /* logical shards it took from valid journals */
    double seconds;           /* wall time of its shard loop */
    double tokens_per_s;      /* tokens / seconds; 0 when seconds is 0 */
} pe_rank_timing;

/* Token statistics of every prompt of the run (journalled shards included, so
 * they are the same for an interrupted and an uninterrupted run). */
typedef struct pe_token_stats {
    int64_t sequences;        /* prompts built (one per sample) */
    int64_t tokens;           /* tokens after the cut */
    int64_t tokens_full;      /* tokens before the cut */
    int64_t sequences_cut;    /* prompts longer than max_tokens */
    int64_t readouts;         /* read-outs kept = step rewards produced */
    int64_t labels_lost;      /* read-outs lost to the cut */
    int64_t labels_lost_class[PE_NCLASSES];    /* the same by PRMBench class (pe_class) */
    int64_t readout_mismatch; /* prompts whose uncut read-out count differs from what the
                                 family expects (e.g. "<extra_0>" inside a question) */
} pe_token_stats;

typedef struct pe_run_info {
    int nranks;
    const pe_rank_timing *ranks;  /* (nranks) in rank order */
    pe_token_stats tok;
    int64_t shards;               /* logical shards of the (limited) data */
    int64_t shards_reused;        /* of them taken from journals */
    double seconds;               /* wall time of the run on rank 0, start to results */
    int max_tokens;               /* the job's cut, for messages */
    int prefix_reuse;             /* the job's prefix_reuse */
    int64_t prefix_cache_bytes;   /* the job's bound on kept keys/values per rank, in bytes */
} pe_run_info;

/* Sums b into a. */
void pe_token_stats_add(pe_token_stats *a, const pe_token_stats *b);

#endif
