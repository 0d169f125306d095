/* What a journal (src/io/journal.h) of `prmeval run` holds for one logical
 * shard: every sample's prediction (status, labels, raw step rewards) and the
 * shard's token statistics, so that a resumed run reproduces the metrics,
 * the step scores and the warnings of an uninterrupted run exactly.
 *
 * Payload layout (little-endian whatever the host; docs/run.md):
 *   u32 PE_SHARD_PAYLOAD_VERSION (2; version 1 payloads are still read: R = 1)
 *   u32 n                  samples in the shard
 *   u32 R                  rewards per step: 1, or 2 (validity, redundancy; version 2 only)
 *   i64 x PE_TOKEN_STATS_INT64   pe_token_stats, field by field
 *   n x { i32 sample, i32 status, i32 m, m x u8 label (0/1), m x f64 score (IEEE bits),
 *         R = 2: m x f64 second score }
 * The decoder checks the sample list against the one the data gives for the
 * shard, every label is 0 or 1 and the length is exact: a payload that
 * passed the journal's checksum but does not fit this job is refused. */
#ifndef PE_SHARD_PAYLOAD_H
#define PE_SHARD_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"
#include "run_info.h"

#define PE_SHARD_PAYLOAD_VERSION 2u
#define PE_TOKEN_STATS_INT64 ((int)(sizeof(pe_token_stats) / sizeof(int64_t)))

/* One shard's predictions; arrays are (n) and per sample (m[k]). */
typedef struct pe_shard_preds {
    int n;
    int32_t *sample;       /* dataset sample indices, canonical order */
    int32_t *status;       /* pe_pred_status */
    int32_t *m;
    uint8_t **labels;      /* (m[k]) each, NULL when m[k] == 0 */
    double **scores;       /* (m[k]) each, NULL when m[k] == 0 */
    int nrew;              /* rewards per step: 1, or 2 (scores2 then set) */
    double **scores2;      /* nrew 2: (m[k]) each (ReasonEval's redundancy), else NULL */
    pe_token_stats tok;
} pe_shard_preds;

/* Allocates the per-sample arrays for n samples (labels/scores left NULL),
 * nrew rewards per step (1 or 2). */
int pe_shard_preds_init(pe_shard_preds *p, int n, pe_err *e);
int pe_shard_preds_init2(pe_shard_preds *p, int n, int nrew, pe_err *e);
void pe_shard_preds_free(pe_shard_preds *p);

/* Serializes p into a malloc'ed buffer. */
int pe_shard_payload_encode(const pe_shard_preds *p, uint8_t **buf, size_t *len, pe_err *e);

/* Parses a payload; `expected` (n) is the shard's sample list as this job's
 * data gives it. A mismatch is PE_EINPUT naming `what` (the journal path). */
int pe_shard_payload_decode(const uint8_t *buf, size_t len, const int32_t *expected, int n,
                            const char *what, pe_shard_preds *out, pe_err *e);

#endif
