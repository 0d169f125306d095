/* A SentencePiece tokenizer.model: the fields of its ModelProto (protobuf,
 * sentencepiece_model.proto) that a Hugging Face conversion needs, read by a
 * small bounds-checked protobuf reader (src/io/spm_model.c). The file is
 * untrusted: every length, tag and value is checked, nothing is executed. */
#ifndef PE_SPM_MODEL_H
#define PE_SPM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

/* SentencePiece.Type */
enum {
    PE_SPM_NORMAL = 1,
    PE_SPM_UNKNOWN = 2,
    PE_SPM_CONTROL = 3,
    PE_SPM_USER_DEFINED = 4,
    PE_SPM_UNUSED = 5,
    PE_SPM_BYTE = 6
};

/* TrainerSpec.ModelType */
enum { PE_SPM_UNIGRAM = 1, PE_SPM_BPE = 2, PE_SPM_WORD = 3, PE_SPM_CHAR = 4 };

typedef struct {
    char *piece;  /* UTF-8, NUL-terminated, never empty */
    size_t len;
    float score;  /* finite */
    int type;     /* PE_SPM_* */
} pe_spm_piece;

typedef struct {
    pe_spm_piece *pieces;       /* index = token id */
    int32_t npieces;
    /* trainer_spec (protobuf defaults when absent) */
    int model_type;             /* PE_SPM_UNIGRAM when absent, as in the .proto */
    int byte_fallback;          /* 0 */
    char *unk_piece;            /* "<unk>" */
    int32_t unk_id, bos_id, eos_id, pad_id; /* 0, 1, 2, -1 */
    /* normalizer_spec */
    char *normalizer_name;      /* "" when absent (spm_train writes e.g. "identity", "nmt_nfkc") */
    size_t charsmap_len;        /* precompiled_charsmap size (0: none) */
    int add_dummy_prefix;       /* 1 */
    int remove_extra_whitespaces; /* 1 */
    int escape_whitespaces;     /* 1 */
} pe_spm_model;

/* Parses the bytes of a tokenizer.model; file names the source in messages
 * ("FILE: pieces[12].piece: ..."). Malformed input is PE_EINPUT. */
int pe_spm_parse(pe_spm_model *m, const uint8_t *buf, size_t len, const char *file, pe_err *e);
/* Reads and parses a file (at most 64 MB; real ones are under 5 MB). */
int pe_spm_load(pe_spm_model *m, const char *path, pe_err *e);
void pe_spm_free(pe_spm_model *m);

/* "BPE", "Unigram", ... for messages (static). */
const char *pe_spm_model_type_name(int model_type);

#endif
