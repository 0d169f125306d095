/* Small Hugging Face tokenizer.json files in three real styles, with BPE
 * merges learned deterministically from a built-in corpus (tiny_corpus.c). */
#ifndef PE_TINY_TOKENIZER_H
#define PE_TINY_TOKENIZER_H

#include "../core/err.h"

typedef enum {
    PE_TOK_QWEN2 = 0, /* byte-level BPE, NFC, Qwen2's split regex; <|endoftext|> <|im_start|> <|im_end|> <extra_0> */
    PE_TOK_LLAMA3,    /* byte-level BPE, Llama-3's regex, ignore_merges, BOS <|begin_of_text|> added by the post-processor */
    PE_TOK_SPM        /* Llama-2/Mistral: "▁" normalizer, byte fallback <0x00>..<0xFF>, <unk> <s> </s> */
} pe_tok_style;

typedef struct pe_tiny_tok_info {
    int n_tokens;       /* vocab + added tokens: the smallest valid vocab_size */
    int bos_id, eos_id; /* -1 when the style has none */
    int pad_id;
} pe_tiny_tok_info;

/* Writes DIR/tokenizer.json and DIR/tokenizer_config.json. n_merges is a
 * target: fewer are written when the corpus has no more repeated pairs.
 * bos_token sets tokenizer_config's bos_token for PE_TOK_QWEN2 (NULL = none).
 * pad_token (NULL = none) is appended as one more special added token and
 * named tokenizer_config's pad_token. */
int pe_tiny_tokenizer_write(const char *dir, pe_tok_style style, int n_merges, const char *qwen_bos_token,
                            const char *pad_token, pe_tiny_tok_info *info, pe_err *e);

/* The built-in training text (UTF-8). */
extern const char pe_tiny_corpus[];

#endif
