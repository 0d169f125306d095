/* PRM families (docs/families.md): how the PRMBench reference turns one
 * sample into model input, where it reads the step rewards, and how it turns
 * rewards into step labels. Pure code: plain data in, plain data out.
 *
 * Two stages, so the prompt can be tested without a tokenizer:
 *   1. text stage:  sample -> ordered segments (text, literal special tokens,
 *                   the BOS marker), each saying how it is tokenized;
 *   2. token stage: segments + pe_tokenizer -> token ids + read-out indices,
 *                   cut at max_tokens exactly as the reference cuts. */
#ifndef PE_FAMILY_H
#define PE_FAMILY_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sample.h"
#include "tokenizer.h"

typedef enum {
    PE_FAM_QWEN_PRM = 0,
    PE_FAM_MATH_SHEPHERD,
    PE_FAM_RLHFLOW,
    PE_FAM_SKYWORK,
    PE_NFAMILIES
} pe_family_id;

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
    int max_tokens;             /* the reference's cut (2048); <= 0: no cut */
    int32_t bos_id;             /* BOS id when the tokenizer has none (config.json's
                                   bos_token_id); -1: use pe_tokenizer_bos_id */
} pe_family_opts;

void pe_family_opts_default(pe_family_opts *o);

typedef struct pe_family {
    pe_family_id id;
    const char *name;          /* "qwen-prm", ... */
    const char *checkpoint;    /* a typical checkpoint, for messages and docs */
    /* config.json architectures[0] values this family runs on; NULL-terminated. */
    const char *const *architectures;
    double default_threshold;  /* label threshold of the default rule */
} pe_family;

const pe_family *pe_family_get(pe_family_id id);
/* NULL if unknown. */
const pe_family *pe_family_by_name(const char *name);
/* "qwen-prm, math-shepherd, rlhflow, skywork" (static). */
const char *pe_family_names(void);

/* Chooses the family for a checkpoint. family_name NULL, "" or "auto": the
 * family is inferred from architectures0 (config.json architectures[0]).
 * Otherwise the named family must accept that architecture: a mismatch (e.g.
 * family "qwen-prm" on "LlamaForCausalLM") is a PE_EUSAGE error naming both. */
int pe_family_resolve(const char *architectures0, const char *family_name,
                      const pe_family **out, pe_err *e);

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

/* Encodes the segments and finds the read-outs with the family's rule, which
 * is the reference's: qwen-prm every "<extra_0>" id, math-shepherd every id of
 * encode("ки")[-1], rlhflow 3 after each match of the token pattern of
 * "<|start_header_id|>assistant<|end_header_id|>\n\n+<|eot_id|>", skywork the
 * step token appended after each piece. The cut keeps the first max_tokens
 * ids and only the read-outs that the reference can still find in them. */
int pe_family_encode(const pe_family *f, const pe_family_opts *o, const pe_segments *s,
                     const pe_encoder *enc, pe_prompt_tokens *out, pe_err *e);

/* The same with a real tokenizer (src/core/family_tok.c). */
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

/* Rewards -> step labels (1 = the step is judged correct). threshold NAN:
 * the family's (rule's) default. qwen-prm, math-shepherd, rlhflow and
 * skywork's `original` rule: r_i > threshold (0.5). skywork's `current`
 * rule (PRMBench's): d_1 = r_1, d_i = r_i - r_{i-1}, label d_i > threshold
 * (-0.05), differences in double as Python computes them. */
void pe_family_labels(const pe_family *f, const pe_family_opts *o, double threshold,
                      const float *rewards, int n, uint8_t *labels);
/* The same rule on double rewards (raw scores stored in a results file, which
 * may come from a predictions file and need not be floats): `prmeval rescore`. */
void pe_family_labels_f64(const pe_family *f, const pe_family_opts *o, double threshold, const double *rewards,
                          int n, uint8_t *labels);
double pe_family_threshold(const pe_family *f, const pe_family_opts *o);

#endif
