/* The JSON job configuration of `prmeval run` (docs/job-config.md): one
 * table of keys drives parsing, `--set key=value` overrides, validation and
 * the serialization written into the results for provenance. */
#ifndef PE_JOB_H
#define PE_JOB_H

#include <stdint.h>

#include "../core/err.h"
#include "../prm/prm.h"

#define PE_JOB_PATH 4096

typedef struct pe_job {
    char source[PE_JOB_PATH];        /* the job file ("" when built in memory) */
    char model[PE_JOB_PATH];         /* checkpoint folder */
    char family[PE_JOB_PATH];        /* auto, a registered family (src/prm/registry.c) or a family file */
    char tokenizer[PE_JOB_PATH];     /* tokenizer folder, tokenizer.json or tokenizer.model; "" = the model's */
    char data[PE_JOB_PATH];          /* PRMBench JSONL file or folder */
    char output[PE_JOB_PATH];        /* HDF5 results */
    char json[PE_JOB_PATH];          /* optional JSON summary; "" = none */
    char backend[8];                 /* auto | cpu | cuda */
    int64_t max_tokens;              /* per sequence: the reference's cut */
    int64_t token_budget;            /* per packed batch */
    double threshold;                /* NAN = the family's default */
    int64_t limit;                   /* first N problems; 0 = all */
    int64_t seed;
    char checkpoint_dir[PE_JOB_PATH];/* per-shard resume journals; "" = no resume */
    char label_rule[16];             /* current | original (skywork) */
    int qwen_backspace_quirk;
    int rlhflow_system_block;
    char reward_rounding[8];         /* auto | bf16 | none: rewards the label rule sees */
    double progress_interval;        /* seconds between progress lines on rank 0 */
    int prefix_reuse;                /* compute each shared prefix of a problem's prompts once */
    int64_t prefix_cache_mb;         /* MiB of kept keys/values per rank (prefix_reuse); 0 = keep none */
} pe_job;

/* The largest prefix_cache_mb (1 TiB, beyond any node): keeps the byte count
 * (MiB << 20) far from overflowing. */
#define PE_JOB_PREFIX_CACHE_MB_MAX (1LL << 20)

void pe_job_default(pe_job *j);

/* Reads a job file; relative paths in it are resolved against its folder. */
int pe_job_load(pe_job *j, const char *path, pe_err *e);
/* The same from text; name is used in messages, base_dir for relative paths
 * (NULL or "": left as they are). */
int pe_job_parse(pe_job *j, const char *text, const char *name, const char *base_dir, pe_err *e);
/* One `--set key=value`: the value is checked against the key's type; a
 * relative path stays relative to the current directory. */
int pe_job_set(pe_job *j, const char *assignment, pe_err *e);
/* After loading and overrides: required keys present, values consistent. */
int pe_job_check(const pe_job *j, pe_err *e);

/* The resolved configuration as JSON (malloc'ed, pretty-printed). */
char *pe_job_to_json(const pe_job *j, pe_err *e);
/* "model, family, ..." (static). */
const char *pe_job_keys(void);

/* The family options the job selects. */
void pe_job_family_opts(const pe_job *j, pe_family_opts *o);

#endif
