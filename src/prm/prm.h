/* The PRM layer (docs/families.md): everything that varies by PRM family.
 * One descriptor per family (src/prm/<family>.c), listed only in
 * src/prm/registry.c. A descriptor says how the PRMBench reference turns a
 * sample into model input (prompt builder), where it reads the step rewards
 * (read-out rule), what it computes there (head), how rewards become labels
 * (label rule), how the family is recognised from a checkpoint, and how
 * `prmeval tiny-model` writes a small checkpoint of it. The generic stages
 * are shared code:
 *   1. text stage:  sample -> ordered segments (prompt.c + the family's builder);
 *   2. token stage: segments -> ids -> read-outs -> cut (prompt.c);
 *   3. labels:      rewards -> step labels (labels.c, also used by rescore).
 * Pure code: plain data in, plain data out. A descriptor with a missing or
 * inconsistent field is refused when the registry is first used
 * (pe_family_registry_check), never silently run. */
#ifndef PE_PRM_H
#define PE_PRM_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"
#include "../core/tokenizer.h"
#include "head.h"

typedef enum {
    PE_SEG_TEXT = 0,  /* UTF-8 text */
    PE_SEG_SPECIAL,   /* a literal added token ("<extra_0>", "<|eot_id|>"): must be one id */
    PE_SEG_BOS,       /* the tokenizer's BOS token (text is empty) */
    PE_SEG_LAST_ID    /* the last id of encode(text): Skywork's step token, encode("ки")[-1] */
} pe_seg_kind;

typedef struct pe_segment {
    char *text;            /* NUL-terminated; "" for PE_SEG_BOS */
    size_t len;
    uint8_t kind;          /* pe_seg_kind */
    /* 1: tokenized on its own (Skywork encodes each piece alone). 0: joined
     * with its 0-neighbours into one string that is encoded at once, as the
     * reference encodes its rendered chat string. */
    uint8_t separate;
    /* 1: the family expects a read-out at the last token of this segment
     * (used to count expected rewards; where the read-outs really are is the
     * family's token rule, see pe_family_tokens). */
    uint8_t readout_after;
} pe_segment;

typedef struct pe_segments {
    int n, cap;
    pe_segment *seg;
    int nexpected;         /* read-outs the prompt should give before any cut */
} pe_segments;

typedef enum { PE_LABEL_CURRENT = 0, PE_LABEL_ORIGINAL } pe_label_rule;

/* Which rewards the label rule sees (job key reward_rounding). The reference
 * runs qwen-prm, reasoneval and pure-prm in bf16 and thresholds bf16
 * probabilities; AUTO does what the reference does for the family
 * (pe_family.reference_bf16). The stored rewards are always the raw ones. */
typedef enum { PE_ROUND_AUTO = 0, PE_ROUND_NONE, PE_ROUND_BF16 } pe_reward_rounding;

/* Options that decide whether published numbers are reproduced. */
typedef struct pe_family_opts {
    /* qwen-prm: the reference's Python source writes "\boxed{}" in a plain
     * string, so the system prompt holds a backspace byte (0x08) followed by
     * "oxed{}". 1 (default) reproduces that; 0 sends the intended "\\boxed{}". */
    int qwen_backspace_quirk;
    /* rlhflow: the Llama-3.1 chat template adds a system block ("Cutting
     * Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n") when the
     * conversation has no system message. 1 (default) renders it. */
    int rlhflow_system_block;
    pe_label_rule label_rule;   /* skywork only */
    pe_reward_rounding reward_rounding;
    int max_tokens;             /* the reference's cut (2048); <= 0: no cut */
    int32_t bos_id;             /* BOS id when the tokenizer has none (config.json's
                                   bos_token_id); -1: use pe_tokenizer_bos_id */
    int32_t eos_id;             /* config.json's eos_token_id, -1 when none: llemma's
                                   read-out scan ends at it */
} pe_family_opts;

void pe_family_opts_default(pe_family_opts *o);

/* ---- the descriptor ------------------------------------------------------- */

/* Where the read-outs are, after the ids are known (the reference's rules). */
typedef enum {
    PE_RO_SPECIAL_ID = 1, /* every id of the added token `text` ("<extra_0>") */
    PE_RO_LAST_ID,        /* every id equal to encode(text)[-1] ("ки") */
    PE_RO_PATTERN,        /* every full match of encode(text), at match + offset */
    PE_RO_MARKED,         /* the last id of each segment marked readout_after */
    PE_RO_SEP_REMOVED,    /* ReasonEval: the separator added token `text` is removed from the
                             model input (one in front kept); the read-out of each step is
                             the last id before its closing separator, + offset */
    PE_RO_AFTER_MARKER    /* llemma: B = encode(text)[1:], S = encode(text2)[1:]; scanning
                             left to right, once B has matched (at or before), every
                             position where S matches (overlaps allowed) or that holds EOS
                             (which ends the scan) is a candidate; the first candidate is
                             dropped */
} pe_readout_kind;

typedef struct pe_readout_rule {
    pe_readout_kind kind;
    const char *text;     /* SPECIAL_ID, LAST_ID, PATTERN, SEP_REMOVED, AFTER_MARKER; NULL for MARKED */
    int offset;           /* PATTERN: read-out at match start + offset; SEP_REMOVED: shift */
    const char *text2;    /* AFTER_MARKER: the step separator; NULL otherwise */
} pe_readout_rule;

/* One label rule: label_i = v_i > threshold, v_i = r_i, or with difference
 * v_1 = r_1, v_i = r_i - r_{i-1} (in double, as Python computes it). */
typedef struct pe_label_desc {
    int defined;          /* 0: the family has no such rule */
    int difference;
    double threshold;     /* the default threshold */
    /* Two-reward heads (ReasonEval): the samples of the redundancy classes
     * (redundency, circular) are labelled not (u_i > redundancy_threshold)
     * with the second reward u; every other sample by the first. */
    int redundancy;
    double redundancy_threshold;
} pe_label_desc;

/* Where BOS comes from when a prompt starts with one: the tokenizer's own
 * post-processor (add_special_tokens), or the family's prompt starts with the
 * tokenizer's bos_token text, matched as one id (Skywork: src/cluster/run.c). */
typedef enum { PE_BOS_TOKENIZER = 1, PE_BOS_TOKEN_TEXT } pe_bos_source;

/* What `prmeval tiny-model` writes for the family: the published layout's
 * config keys, architectures and head tensor names (head from the head desc). */
typedef enum { PE_TINY_TOK_QWEN2 = 1, PE_TINY_TOK_SPM, PE_TINY_TOK_LLAMA3 } pe_tiny_tok;

typedef struct pe_tiny_recipe {
    const char *architecture;   /* config.json architectures[0] */
    const char *model_type;     /* "qwen2", "mistral", "llama" */
    pe_tiny_tok tokenizer;      /* the tiny tokenizer's style */
    const char *bos_token;      /* tokenizer_config bos_token override, NULL: the style's */
    int attn_bias;              /* q/k/v biases (Qwen2) */
    int tie_embeddings;
    int lm_head;                /* writes lm_head.weight */
    int rope_llama3;            /* Llama-3.1 rope_scaling */
    int llama_keys;             /* attention_bias / mlp_bias keys (Llama configs) */
    int qwen_window_keys;       /* sliding_window + use_sliding_window false (Qwen2 configs) */
    int mistral_window;         /* sliding_window 4096 (Mistral configs) */
    double rope_theta;
    double rms_norm_eps;
    int max_pos;                /* default max_position_embeddings */
    const char *extra_config;   /* a JSON object of further config.json keys (NULL: none) */
    const char *pad_token;      /* an added token appended to the tiny vocabulary (NULL: none) */
} pe_tiny_recipe;

/* Facts about a checkpoint that recognition looks at, so that it can be
 * tested without files. tensor_rows(ctx, name): the first dimension of a 2-D
 * tensor, -1 when absent or not 2-D; NULL: tensors unknown (not checked). */
typedef struct pe_ckpt_facts {
    const char *architectures0;
    int vocab_size;             /* -1: unknown */
    const void *ctx;
    int (*tensor_rows)(const void *ctx, const char *name);
} pe_ckpt_facts;

typedef struct pe_family pe_family;

/* A prompt described by data rather than code: a family file's template
 * (family_file.h). */
typedef struct pe_prompt_template pe_prompt_template;

/* The reference's remove_step_prefix, compiled once per prompt batch (build.h). */
typedef struct pe_step_cleaner pe_step_cleaner;

/* The family's prompt builder: appends the segments of one sample. */
typedef int (*pe_prompt_fn)(const pe_family_opts *o, const char *question, int nsteps, char *const *steps,
                            pe_step_cleaner *clean, pe_segments *out, pe_err *e);

struct pe_family {
    const char *name;           /* "qwen-prm", ... */
    const char *checkpoint;     /* a typical checkpoint, for messages and docs */
    /* recognition: config.json architectures[0] values the family runs on
     * (NULL-terminated), and those that select it when the job says "auto"
     * (a subset; NULL-terminated; NULL = never automatic) */
    const char *const *architectures;
    const char *const *auto_architectures;
    int vocab_min, vocab_max;   /* auto: the vocabulary sizes it is recognised by (0 = any) */
    pe_prompt_fn prompt;
    /* or, for a family file, its template (exactly one of prompt and template) */
    const pe_prompt_template *template;
    pe_readout_rule readout;
    pe_head_desc head;
    pe_label_desc labels[2];    /* by pe_label_rule: [CURRENT] is the default */
    pe_bos_source bos;
    /* 1: a prompt whose read-outs were all cut away is an invalid prediction
     * (skipped by the metric, as ReasonEval's reference stores it); 0: it
     * counts with no step labels */
    int no_readout_invalid;
    /* 1: the reference runs the model in bf16, so its label rule sees the
     * head's probabilities rounded to bf16 (pe_head_round_bf16); reward_rounding
     * "auto" then labels the same way. 0: the reference runs in fp32. */
    int reference_bf16;
    pe_tiny_recipe tiny;
    /* 1: read from a family file (family_file.h): not in the registry, and
     * without a tiny-model recipe */
    int from_file;
};

/* The registry (registry.c). NULL if unknown. */
const pe_family *pe_family_by_name(const char *name);
int pe_family_count(void);
const pe_family *pe_family_at(int i);
/* "qwen-prm, math-shepherd, ..." (static). */
const char *pe_family_names(void);
/* Checks every descriptor once: a missing or inconsistent field is a
 * PE_EGENERIC error naming the family and the field. */
int pe_family_registry_check(pe_err *e);
/* The first missing or inconsistent field of one descriptor ("" when none):
 * what pe_family_registry_check reports, exposed for tests. */
const char *pe_family_problem(const pe_family *f);

/* 1 when a job's "family" value names a family file rather than a
 * registered family: it contains '/' or ends in ".json". */
int pe_family_value_is_file(const char *value);

/* Does family f accept the checkpoint (config.json architectures[0])?
 * PE_EUSAGE naming what it expects otherwise; shown is the family as the job
 * names it (a name or a file). */
int pe_family_accepts(const pe_family *f, const pe_ckpt_facts *ck, const char *shown, pe_err *e);

/* Chooses the family for a checkpoint. family_name NULL, "" or "auto": the
 * families whose auto architectures, vocabulary range and head tensors fit
 * the checkpoint; exactly one must remain (none or several: PE_EUSAGE naming
 * the candidates). Otherwise the named family must accept the architecture. */
int pe_family_resolve_ckpt(const pe_ckpt_facts *ck, const char *family_name, const pe_family **out, pe_err *e);
/* The same with only the architecture known. */
int pe_family_resolve(const char *architectures0, const char *family_name, const pe_family **out, pe_err *e);

/* Python's str.strip() / str.isspace() whitespace (Unicode, by code point). */
int pe_py_isspace(uint32_t cp);
/* Returns a malloc'ed copy of s with Python-strip semantics. */
char *pe_py_strip(const char *s, size_t len, size_t *outlen, pe_err *e);
/* The reference's remove_step_prefix: strip, then drop a leading
 * "Step <n>." or "<n>." (case-insensitive, Unicode digits, optional white
 * space). Malloc'ed result. */
char *pe_strip_prefix(const char *s, pe_err *e);

/* Stage 1: the segments of one sample (question + steps). */
int pe_family_segments(const pe_family *f, const pe_family_opts *o, const char *question,
                       int nsteps, char *const *steps, pe_segments *out, pe_err *e);
void pe_segments_free(pe_segments *s);
/* Concatenation of all segment texts (BOS rendered as bos_text): for tests,
 * `prmeval` diagnostics and the JS oracle comparison. Malloc'ed. */
char *pe_segments_render(const pe_segments *s, const char *bos_text, pe_err *e);

/* Stage 2 output. */
typedef struct pe_prompt_tokens {
    int32_t *ids;          /* (n) after the cut */
    int64_t n;
    int64_t n_full;        /* length before the cut */
    int64_t *readout;      /* (nread) indices into ids, ascending */
    int64_t nread;         /* read-outs kept after the cut */
    int64_t nread_full;    /* read-outs the untruncated input has */
    int truncated;         /* n_full > n */
} pe_prompt_tokens;

/* What the token stage needs from a tokenizer, as function pointers so that
 * the rules can be tested with a toy tokenizer (tests/unit/test_family.c)
 * and the real one plugs in through pe_encoder_from_tokenizer. */
typedef struct pe_encoder {
    const void *ctx;
    /* encode(text) with add_special_tokens=False; *ids malloc'ed */
    int (*encode)(const void *ctx, const char *text, size_t len, int32_t **ids, size_t *nids, pe_err *e);
    int32_t (*token_id)(const void *ctx, const char *token); /* -1 if absent */
    int32_t bos_id;                                          /* -1 if none */
} pe_encoder;

/* Encodes the segments and finds the read-outs with the family's rule
 * (f->readout). The cut keeps the first max_tokens ids and only the
 * read-outs that the reference can still find in them. */
int pe_family_encode(const pe_family *f, const pe_family_opts *o, const pe_segments *s,
                     const pe_encoder *enc, pe_prompt_tokens *out, pe_err *e);

/* The same with a real tokenizer. */
void pe_encoder_from_tokenizer(pe_encoder *enc, const pe_tokenizer *t);
int pe_family_tokens(const pe_family *f, const pe_family_opts *o, const pe_segments *s,
                     const pe_tokenizer *t, pe_prompt_tokens *out, pe_err *e);
void pe_prompt_tokens_free(pe_prompt_tokens *p);

/* Read-out after a cut of an already-tokenized input: pure, exposed for tests.
 * Given the read-outs of the full input (ascending) and the length of the
 * pattern that must lie inside the kept ids (1 for a single token; rlhflow:
 * the pattern extends pattern_after tokens past the read-out), returns how
 * many survive a cut to max_tokens. */
int64_t pe_readouts_kept(const int64_t *readout, int64_t nread, int64_t max_tokens,
                         int64_t pattern_after);

/* The head of a run: the descriptor's head with its token ids looked up the
 * way the reference does (math-shepherd encode("+ -") without BOS: 648, 387
 * on Mistral's vocabulary; rlhflow encode("+"): 10 on Llama-3's). */
int pe_family_head(const pe_family *f, const pe_encoder *enc, pe_head_spec *head, pe_err *e);

/* Rewards -> step labels (1 = the step is judged correct). threshold NAN:
 * the rule's default. */
void pe_family_labels(const pe_family *f, const pe_family_opts *o, double threshold,
                      const float *rewards, int n, uint8_t *labels);
/* The same rule on double rewards (raw scores stored in a results file, which
 * may come from a predictions file and need not be floats): `prmeval rescore`. */
void pe_family_labels_f64(const pe_family *f, const pe_family_opts *o, double threshold, const double *rewards,
                          int n, uint8_t *labels);
double pe_family_threshold(const pe_family *f, const pe_family_opts *o);
/* The rule for one sample of class cls (pe_class), with nout rewards per
 * step side by side (rewards: n * f->head.nout): two-reward families label
 * the redundancy classes by the second reward. threshold2 NAN: the rule's
 * redundancy threshold. */
void pe_family_labels_cls(const pe_family *f, const pe_family_opts *o, double threshold, double threshold2,
                          const float *rewards, int n, int cls, uint8_t *labels);
/* The same on stored double rewards; redundancy (n, may be NULL for a
 * one-reward family) holds the second reward. */
void pe_family_labels_cls_f64(const pe_family *f, const pe_family_opts *o, double threshold, double threshold2,
                              const double *validity, const double *redundancy, int n, int cls, uint8_t *labels);
double pe_family_redundancy_threshold(const pe_family *f, const pe_family_opts *o);
/* 1 when the labels are drawn from bf16-rounded rewards: reward_rounding
 * "bf16", or "auto" and the family's reference runs in bf16. The float entry
 * points above (a model run) apply it; rescore applies pe_head_round_bf16 to
 * the stored rewards itself. */
int pe_family_rounds_bf16(const pe_family *f, const pe_family_opts *o);
/* "auto", "none", "bf16"; pe_reward_rounding_from_name: -1 if unknown. */
const char *pe_reward_rounding_name(pe_reward_rounding r);
int pe_reward_rounding_from_name(const char *name);
/* A label rule on its own (rescore's rules are named, not a family's). */
void pe_label_apply_f64(const pe_label_desc *r, double threshold, const double *rewards, int n, uint8_t *labels);

#endif
