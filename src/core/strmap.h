/* Open-addressing hash maps for the tokenizer: byte string -> int32 (vocabulary,
 * word cache) and 64-bit key -> two int32 (BPE merges keyed by a pair of ids).
 * Keys are copied into the map's own arena, so callers may pass slices. */
#ifndef PE_STRMAP_H
#define PE_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct {
    uint64_t hash;
    size_t off;      /* key bytes at arena + off */
    uint32_t len1;   /* key length + 1; 0 marks an empty slot */
    int32_t val;
} pe_strmap_slot;

typedef struct {
    pe_strmap_slot *slots;
    size_t cap, count; /* cap is a power of two, kept at least twice count */
    char *arena;
    size_t arena_len, arena_cap;
} pe_strmap;

int pe_strmap_init(pe_strmap *m, size_t expected, pe_err *e);
void pe_strmap_free(pe_strmap *m);
void pe_strmap_clear(pe_strmap *m); /* drops all keys, keeps the memory */
/* Inserts or overwrites. */
int pe_strmap_put(pe_strmap *m, const char *key, size_t len, int32_t val, pe_err *e);
/* -1 if absent (values stored are never negative). */
int32_t pe_strmap_get(const pe_strmap *m, const char *key, size_t len);

typedef struct {
    uint64_t key;  /* ((uint64_t)a << 32) | b, both ids non-negative */
    int32_t rank;  /* -1 marks an empty slot */
    int32_t result;
} pe_pairmap_slot;

typedef struct {
    pe_pairmap_slot *slots;
    size_t cap, count;
} pe_pairmap;

int pe_pairmap_init(pe_pairmap *m, size_t expected, pe_err *e);
void pe_pairmap_free(pe_pairmap *m);
/* A pair inserted twice keeps the later rank: HF (Rust and JS) builds its merge
 * map by collecting into a hash map, where the last entry wins. */
int pe_pairmap_put(pe_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t result, pe_err *e);
/* Returns the slot or NULL. */
const pe_pairmap_slot *pe_pairmap_get(const pe_pairmap *m, int32_t a, int32_t b);

#endif
