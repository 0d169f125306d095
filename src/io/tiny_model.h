/* `prmeval tiny-model`: a small random checkpoint of one PRM family in the
 * Hugging Face layout (config.json, model.safetensors, tokenizer.json,
 * tokenizer_config.json), byte-identical for the same options and seed. */
#ifndef PE_TINY_MODEL_H
#define PE_TINY_MODEL_H

#include <stdint.h>

#include "../core/err.h"
#include "model.h"
#include "../prm/prm.h"

/* The family's recipe (pe_family.tiny and its head) says what is written. */
typedef struct pe_tiny_spec {
    const pe_family *family;
    uint64_t seed;
    pe_dtype dtype;
    int layers, hidden, heads, kv_heads, ffn;
    int head_dim;   /* 0: hidden / heads */
    int max_pos;    /* 0: the family's default */
    int merges;     /* BPE merges to learn (target) */
    const char *tokenizer_dir; /* NULL: the trained tiny tokenizer; else a folder whose
                                  tokenizer.json (+ tokenizer_config.json) is copied */
} pe_tiny_spec;

/* Defaults: hidden 64, 2 layers, 4 heads, 2 kv heads, ffn 128, f32, seed 0, 320 merges. */
void pe_tiny_spec_default(pe_tiny_spec *s, const pe_family *f);

/* Creates DIR if needed and writes the four files. */
int pe_tiny_model_write(const char *dir, const pe_tiny_spec *s, pe_err *e);

/* The generator (documented in docs/tiny-model.md): splitmix64. Each tensor
 * draws from its own stream, seeded with splitmix64(seed ^ fnv1a64(name)), so
 * a tensor's values depend only on the seed, its name and its size. */
uint64_t pe_splitmix64(uint64_t *state);
uint64_t pe_fnv1a64(const char *s);

#endif
