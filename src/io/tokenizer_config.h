/* What transformers reads from a tokenizer folder besides the vocabulary:
 * tokenizer_config.json and special_tokens_map.json (docs/tokenizer.md,
 * "Special tokens"). transformers (4.34 and later) takes the special tokens
 * from tokenizer_config.json; special_tokens_map.json overrides them only when
 * tokenizer_config.json has no "added_tokens_decoder" (the older layout). */
#ifndef PE_TOKENIZER_CONFIG_H
#define PE_TOKENIZER_CONFIG_H

#include <stdint.h>

#include "../core/err.h"

/* A boolean setting: absent, JSON null (Python None: false where tested) or a value. */
enum { PE_CFG_ABSENT = -1, PE_CFG_NULL = -2 };

typedef struct {
    int set;          /* 0: the key is absent; 1: given (content NULL when null) */
    char *content;
    int32_t id;       /* added_tokens_decoder: the index it is listed under */
    int lstrip, rstrip, single_word, special;
    int normalized;   /* PE_CFG_ABSENT: not given (tokenizers then uses !special) */
} pe_cfg_token;

typedef struct {
    char *dir;                 /* folder the files were looked for in */
    int has_config;            /* tokenizer_config.json was read */
    int has_special_map;       /* special_tokens_map.json was read */
    int special_from_map;      /* ... and its tokens were used (no added_tokens_decoder) */
    char *tokenizer_class;     /* NULL when absent */
    int add_bos_token, add_eos_token, legacy, add_prefix_space; /* 0, 1, PE_CFG_ABSENT or PE_CFG_NULL */
    pe_cfg_token bos, eos, unk, pad;
    pe_cfg_token *added;       /* added_tokens_decoder, ascending id */
    int nadded;
    int has_added_decoder;
    pe_cfg_token *extra;       /* additional_special_tokens */
    int nextra;
} pe_tok_config;

/* Reads DIR/tokenizer_config.json and DIR/special_tokens_map.json; either or
 * both may be absent (nothing set then). Malformed files are PE_EINPUT naming
 * the file and key. */
int pe_tok_config_load(pe_tok_config *c, const char *dir, pe_err *e);
void pe_tok_config_free(pe_tok_config *c);

/* 1 when transformers would build LlamaTokenizerFast for this folder: the
 * class is LlamaTokenizer or LlamaTokenizerFast (the class is what decides;
 * without a tokenizer_config.json, has_model_file decides: a tokenizer.model
 * folder is converted with LlamaConverter). */
int pe_tok_config_is_llama(const pe_tok_config *c, int has_model_file);

/* Python truthiness of a boolean setting, with def for an absent key. */
int pe_cfg_true(int v, int def);

#endif
