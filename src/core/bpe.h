/* The BPE model of Hugging Face tokenizers, on token ids: a word's symbols are
 * merged pair by pair, lowest merge rank first (leftmost on ties), exactly as
 * tokenizers' Word::merge_all does. Byte-level vocabularies are keyed by the raw
 * bytes their strings stand for, so encoding never builds the "Ġ" form. */
#ifndef PE_BPE_H
#define PE_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "strmap.h"

typedef struct {
    pe_strmap vocab;          /* token as the model sees it (raw bytes when byte_level) -> id */
    pe_pairmap merges;        /* (left id, right id) -> rank, merged id */
    int byte_level;           /* words arrive as raw bytes; symbols start as one byte each */
    int byte_fallback;        /* unknown characters become <0xXX> tokens */
    int ignore_merges;        /* a word found whole in the vocabulary is one token (Llama-3) */
    int fuse_unk;             /* consecutive unknown characters give one unk token */
    int32_t unk_id;           /* -1 if the model has no unk_token */
    int32_t byte_ids[256];    /* byte_level: id of each one-byte token, -1 if absent */
    int32_t fallback_ids[256];/* byte_fallback: id of <0xXX>, -1 if absent */
} pe_bpe;

typedef struct {
    int32_t id;         /* -1 once merged into the symbol on its left */
    int32_t prev, next; /* neighbour symbol indices, -1 at the ends */
} pe_bpe_sym;

typedef struct {
    int32_t rank, pos;  /* heap order: rank, then position (leftmost first) */
    int32_t left, right, result;
} pe_bpe_cand;

typedef struct {
    uint32_t off, n;    /* ids at cache_ids[off .. off+n) */
} pe_bpe_cached;

/* Mutable state of encoding: scratch arrays and the cache of encoded words. */
typedef struct {
    pe_bpe_sym *syms;
    size_t syms_cap;
    pe_bpe_cand *heap;
    size_t heap_len, heap_cap;
    pe_strmap cache;          /* word bytes -> index into cached */
    pe_bpe_cached *cached;
    size_t ncached, cached_cap;
    int32_t *cache_ids;
    size_t cache_ids_len, cache_ids_cap;
} pe_bpe_scratch;

/* Words longer than this are not cached (a Llama-2 "word" is a whole line). */
#define PE_BPE_CACHE_MAX_WORD 128
/* The cache stops growing at this many words; PRMBench's whole vocabulary fits. */
#define PE_BPE_CACHE_MAX_WORDS 262144

int pe_bpe_scratch_init(pe_bpe_scratch *s, pe_err *e);
void pe_bpe_scratch_free(pe_bpe_scratch *s);
void pe_bpe_free(pe_bpe *m);

/* Ids of one word (a pre-token) appended to *ids (length *n, capacity *cap). */
int pe_bpe_encode_word(const pe_bpe *m, pe_bpe_scratch *s, const char *word, size_t len,
                       int32_t **ids, size_t *n, size_t *cap, pe_err *e);

/* Appends one id to a growable array. */
int pe_ids_push(int32_t **ids, size_t *n, size_t *cap, int32_t id, pe_err *e);

#endif
