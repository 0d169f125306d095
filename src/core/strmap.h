/* A string -> int map (open addressing, FNV-1a): the dataset and the
 * predictions reader look keys up by the thousand, so a linear search would
 * dominate the run time. Keys are borrowed, not copied: they must outlive the map. */
#ifndef PE_STRMAP_H
#define PE_STRMAP_H

#include <stddef.h>

#include "err.h"

typedef struct pe_strmap {
    size_t cap;          /* power of two, at least twice the number of keys */
    size_t n;
    const char **keys;   /* (cap) NULL = empty slot */
    int *vals;           /* (cap) */
} pe_strmap;

int pe_strmap_init(pe_strmap *m, size_t expected, pe_err *e);
void pe_strmap_free(pe_strmap *m);
/* Value for key, or -1 when absent. */
int pe_strmap_get(const pe_strmap *m, const char *key);
/* Inserts key -> val unless key is present. Returns the value now stored
 * (the old one if the key was present, so callers can tell) or -1 with e set on failure. */
int pe_strmap_put(pe_strmap *m, const char *key, int val, pe_err *e);

#endif
