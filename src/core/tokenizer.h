/* Hugging Face tokenizer.json semantics in C: byte-level BPE (Qwen2, Llama-3)
 * and SentencePiece-style BPE with byte fallback (Llama-2, Mistral).
 * Loading lives in src/io/tokenizer_json.c; the algorithms in src/core/tokenizer.c. */
#ifndef PE_TOKENIZER_H
#define PE_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct pe_tokenizer pe_tokenizer;

/* Reads a tokenizer as transformers' AutoTokenizer reads a folder: path is a
 * folder (its tokenizer.json, else its tokenizer.model), a tokenizer.json or a
 * SentencePiece tokenizer.model; tokenizer_config.json and
 * special_tokens_map.json beside it give the special tokens and, for
 * LlamaTokenizer folders, whether BOS/EOS are added (implemented in the io
 * layer, src/io/tokenizer_load.c). Unsupported component types are errors
 * naming the file and JSON path or protobuf field (docs/tokenizer.md).
 * A tokenizer holds scratch memory and a word cache that encoding updates, so
 * one pe_tokenizer must not be used by two threads at once. */
pe_tokenizer *pe_tokenizer_load(const char *path, pe_err *e);
void pe_tokenizer_free(pe_tokenizer *t);

/* Encodes len bytes of UTF-8 text. Added/special tokens in the text are matched
 * first, as Hugging Face does. add_special adds the post-processor's tokens
 * (e.g. BOS) as `add_special_tokens=True` would. *ids is malloc'ed; caller frees. */
int pe_tokenizer_encode(const pe_tokenizer *t, const char *text, size_t len, int add_special,
                        int32_t **ids, size_t *nids, pe_err *e);

/* Id of a token string from the vocabulary or the added tokens; -1 if absent. */
int32_t pe_tokenizer_token_id(const pe_tokenizer *t, const char *token);
/* Token string for an id (vocabulary form, e.g. "Ġthe"); NULL if out of range. */
const char *pe_tokenizer_id_token(const pe_tokenizer *t, int32_t id);
int32_t pe_tokenizer_vocab_size(const pe_tokenizer *t); /* 1 + largest id */
/* First token the post-processor puts before the text (BOS), -1 if none. */
int32_t pe_tokenizer_bos_id(const pe_tokenizer *t);

/* The special tokens' texts (tokenizer.bos_token, ... in transformers). */
typedef enum { PE_TOK_BOS = 0, PE_TOK_EOS, PE_TOK_UNK, PE_TOK_PAD, PE_TOK_NSPECIAL } pe_tok_special;
/* NULL when the folder declares none. */
const char *pe_tokenizer_special_text(const pe_tokenizer *t, pe_tok_special which);
/* The file read, and what it was read as ("tokenizer.json", ...). */
const char *pe_tokenizer_source(const pe_tokenizer *t);
const char *pe_tokenizer_kind(const pe_tokenizer *t);

#endif
