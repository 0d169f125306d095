/* The job hash that ties a resume journal to one job (docs/run.md, "What the
 * job hash covers"): SHA-256 over a canonical text of everything that can
 * change a shard's predictions, so a journal from another job, other data, or
 * another model is recognised as foreign and redone, never trusted. */
#ifndef PE_JOB_HASH_H
#define PE_JOB_HASH_H

#include "../core/err.h"
#include "job.h"

typedef struct pe_job_hash_in {
    const pe_job *job;
    const char *family;           /* the resolved family name */
    double threshold;             /* the resolved label threshold */
    const char *backends;         /* the backends the ranks use, e.g. "cpu" or "cpu,cuda" */
    int ndata;
    const char *const *data_sha256;  /* (ndata) hex, sorted as the data files */
    const char *metric_definition;
    const char *reward_rounding;  /* the resolved rounding, "bf16" or "none" (labels depend on it) */
} pe_job_hash_in;

/* Appends the model folder's fingerprint to the canonical text: the full
 * SHA-256 of config.json, the tokenizer files (tokenizer.json, tokenizer.model,
 * tokenizer_config.json, special_tokens_map.json) and
 * model.safetensors.index.json when present, and for every *.safetensors
 * file its name, size, modification time and the SHA-256 of its header
 * (hashing gigabytes of weights on every start would cost minutes). */
int pe_model_fingerprint(const char *dir, char **text, pe_err *e);
/* The job key "tokenizer", when set, adds the SHA-256 of the tokenizer files
 * it names to the job hash (pe_job_hash_text). */
/* 1 for the files a tokenizer is read from: tokenizer.json, tokenizer.model,
 * tokenizer_config.json, special_tokens_map.json. */
int pe_is_tokenizer_file(const char *name);

/* The canonical text (malloc'ed), for docs, tests and `--explain`-style debugging. */
int pe_job_hash_text(const pe_job_hash_in *in, char **text, pe_err *e);
/* hex = SHA-256 of pe_job_hash_text. */
int pe_job_hash(const pe_job_hash_in *in, char hex[65], pe_err *e);

#endif
