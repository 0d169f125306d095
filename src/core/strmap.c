#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

int pe_strmap_init(pe_strmap *m, size_t expected, pe_err *e)
{
    memset(m, 0, sizeof *m);
    size_t cap = 16;
    while (cap < 2 * expected)
        cap *= 2;
    m->keys = pe_calloc(cap, sizeof *m->keys, e);
    m->vals = pe_calloc(cap, sizeof *m->vals, e);
    if (!m->keys || !m->vals) {
        pe_strmap_free(m);
        return e ? e->code : PE_ERESOURCE;
    }
    m->cap = cap;
    return PE_OK;
}

void pe_strmap_free(pe_strmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static size_t find_slot(const char **keys, size_t cap, const char *key)
{
    size_t i = (size_t)hash_str(key) & (cap - 1);
    while (keys[i] && strcmp(keys[i], key) != 0)
        i = (i + 1) & (cap - 1);
    return i;
}

int pe_strmap_get(const pe_strmap *m, const char *key)
{
    if (!m->cap)
        return -1;
    size_t i = find_slot(m->keys, m->cap, key);
    return m->keys[i] ? m->vals[i] : -1;
}

static int grow(pe_strmap *m, pe_err *e)
{
    size_t cap = m->cap * 2;
    const char **keys = pe_calloc(cap, sizeof *keys, e);
    int *vals = pe_calloc(cap, sizeof *vals, e);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return PE_ERESOURCE;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = find_slot(keys, cap, m->keys[i]);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return PE_OK;
}

int pe_strmap_put(pe_strmap *m, const char *key, int val, pe_err *e)
{
    if (2 * (m->n + 1) > m->cap && grow(m, e) != PE_OK)
        return -1;
    size_t i = find_slot(m->keys, m->cap, key);
    if (m->keys[i])
        return m->vals[i];
    m->keys[i] = key;
    m->vals[i] = val;
    m->n++;
    return val;
}
