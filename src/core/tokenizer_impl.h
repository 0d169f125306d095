/* The tokenizer's in-memory form, shared by the loader (src/io/tokenizer_json.c,
 * which fills it from tokenizer.json) and the algorithms (src/core/tokenizer.c).
 * Not part of the public interface: other code uses src/core/tokenizer.h. */
#ifndef PE_TOKENIZER_IMPL_H
#define PE_TOKENIZER_IMPL_H

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include "bpe.h"
#include "tokenizer.h"

typedef enum {
    PE_NORM_NFC,
    PE_NORM_NFD,
    PE_NORM_NFKC,
    PE_NORM_NFKD,
    PE_NORM_PREPEND, /* text before a non-empty section (Llama-2's "▁") */
    PE_NORM_REPLACE, /* every match of re becomes str */
    PE_NORM_STRIP    /* Unicode whitespace off the left and/or right */
} pe_norm_kind;

typedef struct {
    pe_norm_kind kind;
    char *str;       /* Prepend's text or Replace's content */
    size_t str_len;
    pcre2_code *re;  /* Replace's pattern (a String pattern is compiled as a literal) */
    int left, right; /* Strip */
} pe_norm;

typedef enum { PE_PRETOK_SPLIT, PE_PRETOK_BYTELEVEL, PE_PRETOK_METASPACE } pe_pretok_kind;

/* tokenizers' SplitDelimiterBehavior. */
typedef enum {
    PE_SPLIT_REMOVED,
    PE_SPLIT_ISOLATED,
    PE_SPLIT_MERGED_WITH_PREVIOUS,
    PE_SPLIT_MERGED_WITH_NEXT,
    PE_SPLIT_CONTIGUOUS
} pe_split_behavior;

typedef enum { PE_PREPEND_ALWAYS, PE_PREPEND_FIRST, PE_PREPEND_NEVER } pe_prepend_scheme;

typedef struct {
    pe_pretok_kind kind;
    /* Split, and ByteLevel with use_regex (GPT-2's pattern) */
    pcre2_code *re;
    pe_split_behavior behavior;
    int invert;
    /* ByteLevel */
    int add_prefix_space, use_regex;
    /* Metaspace */
    char *replacement; /* UTF-8 of the replacement character, e.g. "▁" */
    size_t replacement_len;
    pe_prepend_scheme prepend_scheme;
    int split;
} pe_pretok;

typedef struct {
    char *content;   /* as matched: normalized by the tokenizer's normalizer when `normalized` */
    size_t len;
    int32_t id;
    int special, lstrip, rstrip, single_word, normalized;
} pe_added_token;

/* Finds added tokens in text: per first byte, the candidates longest first,
 * so the first hit at a position is HF's leftmost-longest match. */
typedef struct {
    int32_t *cand;      /* indices into pe_tokenizer.added */
    size_t first[257];  /* candidates for byte b: cand[first[b] .. first[b+1]) */
} pe_added_matcher;

/* Scratch for one encode call; kept in the tokenizer to reuse its memory. */
typedef struct {
    pe_bpe_scratch bpe;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit_stack;        /* larger than PCRE2's 32 KiB default: long runs of spaces */
    char *norm[2];                     /* normalization ping-pong buffers */
    size_t norm_cap[2];
    char **step_buf;                   /* per pre-tokenizer step: rewritten text */
    size_t *step_cap;
    size_t **step_seg;                 /* per step: pieces as (start, end) pairs */
    size_t *step_seg_cap;
} pe_tok_scratch;

struct pe_tokenizer {
    char *source;                 /* path of tokenizer.json, for messages */
    pe_bpe bpe;
    pe_norm *norms;               /* the normalizer, flattened from Sequence */
    int nnorms;
    pe_pretok *pretoks;           /* the pre-tokenizer, flattened from Sequence */
    int npretoks;
    pe_added_token *added;
    int nadded;
    pe_added_matcher match_raw;   /* added tokens with normalized=false */
    pe_added_matcher match_norm;  /* added tokens with normalized=true */
    int nadded_norm;
    int32_t *special_prefix;      /* post-processor ids before the text (add_special) */
    int nprefix;
    int32_t *special_suffix;      /* ... and after it */
    int nsuffix;
    char **id_to_token;           /* vocabulary form of each id; NULL for gaps */
    int32_t vocab_size;           /* 1 + largest id */
    pe_strmap token_to_id;        /* vocabulary form (and added tokens) -> id */
    pe_tok_scratch *scratch;      /* mutable even through a const pe_tokenizer * */
    /* The folder's special tokens as transformers reads them (tokenizer_config.json,
     * special_tokens_map.json, the class defaults); NULL when none. */
    char *special_text[PE_TOK_NSPECIAL];
    char *kind;                   /* "tokenizer.json" or "tokenizer.model (LlamaConverter)" */
};

/* Called by the loader once every field above is filled: builds the matchers
 * and the scratch. */
int pe_tokenizer_finish(pe_tokenizer *t, pe_err *e);

/* Applies the normalizer to len bytes of s; the result is in *out (scratch
 * memory owned by t, or s itself when nothing changed). */
int pe_tokenizer_normalize(const pe_tokenizer *t, const char *s, size_t len,
                           const char **out, size_t *out_len, pe_err *e);

#endif
