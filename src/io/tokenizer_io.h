/* The tokenizer readers of the io layer behind pe_tokenizer_load
 * (src/core/tokenizer.h): which file a folder's tokenizer comes from
 * (src/io/tokenizer_load.c), tokenizer.json (src/io/tokenizer_json.c) and
 * SentencePiece tokenizer.model converted as transformers' LlamaConverter
 * does (src/io/tokenizer_spm.c). */
#ifndef PE_TOKENIZER_IO_H
#define PE_TOKENIZER_IO_H

#include <stddef.h>

#include "../core/tokenizer.h"
#include "tokenizer_config.h"

#define PE_TOK_PATH 4096

/* What a tokenizer path names. A folder: tokenizer.json when present (what
 * transformers' fast tokenizers load), else tokenizer.model. A file: itself
 * (".model" is SentencePiece, anything else tokenizer.json); its folder holds
 * the tokenizer_config.json and special_tokens_map.json that go with it. */
typedef struct {
    char dir[PE_TOK_PATH];     /* where tokenizer_config.json is looked for */
    char file[PE_TOK_PATH];    /* the file read; "" when the folder has none */
    int is_spm;                /* file is a SentencePiece model */
    int has_json, has_model;   /* the folder holds tokenizer.json / tokenizer.model */
    int has_config, has_special_map; /* ... tokenizer_config.json / special_tokens_map.json */
} pe_tok_files;

/* Fails (PE_EIO) only when path does not exist or is too long; a folder with
 * no tokenizer leaves file empty. */
int pe_tok_files_find(const char *path, pe_tok_files *f, pe_err *e);

/* Reads a whole text file (at most 256 MB), NUL-terminated; *len excludes the NUL. */
char *pe_tok_read_text(const char *path, size_t *len, pe_err *e);

/* tokenizer.json as written, before the folder's configuration is applied. */
pe_tokenizer *pe_tokenizer_from_json(const char *file, pe_err *e);
/* tokenizer.model converted with the rules of transformers' LlamaConverter and
 * the configuration's legacy, add_prefix_space and added tokens. */
pe_tokenizer *pe_tokenizer_from_spm(const char *file, const pe_tok_config *cfg, pe_err *e);

#endif
