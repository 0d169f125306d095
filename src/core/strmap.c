#include "strmap.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a: keys are short (tokens, words), so a byte loop is fast enough and
 * the distribution is good for power-of-two tables. */
static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n)
        c <<= 1;
    return c;
}

int pe_strmap_init(pe_strmap *m, size_t expected, pe_err *e)
{
    memset(m, 0, sizeof *m);
    m->cap = pow2_at_least(expected * 2 + 1);
    m->slots = pe_calloc(m->cap, sizeof *m->slots, e);
    if (!m->slots)
        return e ? e->code : PE_ERESOURCE;
    m->arena_cap = expected * 8 + 64;
    m->arena = pe_malloc(m->arena_cap, e);
    if (!m->arena) {
        free(m->slots);
        m->slots = NULL;
        return e ? e->code : PE_ERESOURCE;
    }
    return PE_OK;
}

void pe_strmap_free(pe_strmap *m)
{
    free(m->slots);
    free(m->arena);
    memset(m, 0, sizeof *m);
}

void pe_strmap_clear(pe_strmap *m)
{
    memset(m->slots, 0, m->cap * sizeof *m->slots);
    m->count = 0;
    m->arena_len = 0;
}

static pe_strmap_slot *find_slot(const pe_strmap *m, uint64_t h, const char *key, size_t len)
{
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        pe_strmap_slot *s = &m->slots[i];
        if (s->len1 == 0)
            return s;
        if (s->hash == h && s->len1 == len + 1 && memcmp(m->arena + s->off, key, len) == 0)
            return s;
    }
}

static int grow(pe_strmap *m, pe_err *e)
{
    size_t ncap = m->cap * 2;
    pe_strmap_slot *ns = pe_calloc(ncap, sizeof *ns, e);
    if (!ns)
        return e ? e->code : PE_ERESOURCE;
    for (size_t i = 0; i < m->cap; i++) {
        pe_strmap_slot *s = &m->slots[i];
        if (!s->len1)
            continue;
        size_t j = (size_t)s->hash & (ncap - 1);
        while (ns[j].len1)
            j = (j + 1) & (ncap - 1);
        ns[j] = *s;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return PE_OK;
}

int pe_strmap_put(pe_strmap *m, const char *key, size_t len, int32_t val, pe_err *e)
{
    if (len >= UINT32_MAX)
        return pe_fail(e, PE_EINPUT, "hash map key of %zu bytes is too long", len);
    uint64_t h = hash_bytes(key, len);
    pe_strmap_slot *s = find_slot(m, h, key, len);
    if (s->len1) {
        s->val = val;
        return PE_OK;
    }
    if ((m->count + 1) * 2 > m->cap) {
        if (grow(m, e))
            return e ? e->code : PE_ERESOURCE;
        s = find_slot(m, h, key, len);
    }
    if (m->arena_len + len > m->arena_cap) {
        size_t ncap = m->arena_cap * 2;
        while (ncap < m->arena_len + len)
            ncap *= 2;
        char *na = pe_realloc(m->arena, ncap, e);
        if (!na)
            return e ? e->code : PE_ERESOURCE;
        m->arena = na;
        m->arena_cap = ncap;
    }
    memcpy(m->arena + m->arena_len, key, len);
    s->hash = h;
    s->off = m->arena_len;
    s->len1 = (uint32_t)len + 1;
    s->val = val;
    m->arena_len += len;
    m->count++;
    return PE_OK;
}

int32_t pe_strmap_get(const pe_strmap *m, const char *key, size_t len)
{
    if (!m->slots)
        return -1;
    const pe_strmap_slot *s = find_slot(m, hash_bytes(key, len), key, len);
    return s->len1 ? s->val : -1;
}

/* Fibonacci hashing of the 64-bit pair key. */
static size_t pair_index(uint64_t key, size_t mask)
{
    return (size_t)((key * 11400714819323198485ull) >> 20) & mask;
}

static void pairmap_mark_empty(pe_pairmap_slot *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        s[i].rank = -1;
}

int pe_pairmap_init(pe_pairmap *m, size_t expected, pe_err *e)
{
    m->count = 0;
    m->cap = pow2_at_least(expected * 2 + 1);
    m->slots = pe_malloc(m->cap * sizeof *m->slots, e);
    if (!m->slots)
        return e ? e->code : PE_ERESOURCE;
    pairmap_mark_empty(m->slots, m->cap);
    return PE_OK;
}

void pe_pairmap_free(pe_pairmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static pe_pairmap_slot *pair_slot(const pe_pairmap *m, uint64_t key)
{
    size_t mask = m->cap - 1;
    for (size_t i = pair_index(key, mask);; i = (i + 1) & mask) {
        pe_pairmap_slot *s = &m->slots[i];
        if (s->rank < 0 || s->key == key)
            return s;
    }
}

int pe_pairmap_put(pe_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t result, pe_err *e)
{
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    pe_pairmap_slot *s = pair_slot(m, key);
    if (s->rank >= 0) {
        s->rank = rank;
        s->result = result;
        return PE_OK;
    }
    if ((m->count + 1) * 2 > m->cap) {
        size_t ncap = m->cap * 2;
        pe_pairmap_slot *ns = pe_malloc(ncap * sizeof *ns, e);
        if (!ns)
            return e ? e->code : PE_ERESOURCE;
        pairmap_mark_empty(ns, ncap);
        for (size_t i = 0; i < m->cap; i++) {
            if (m->slots[i].rank < 0)
                continue;
            size_t j = pair_index(m->slots[i].key, ncap - 1);
            while (ns[j].rank >= 0)
                j = (j + 1) & (ncap - 1);
            ns[j] = m->slots[i];
        }
        free(m->slots);
        m->slots = ns;
        m->cap = ncap;
        s = pair_slot(m, key);
    }
    s->key = key;
    s->rank = rank;
    s->result = result;
    m->count++;
    return PE_OK;
}

const pe_pairmap_slot *pe_pairmap_get(const pe_pairmap *m, int32_t a, int32_t b)
{
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    const pe_pairmap_slot *s = pair_slot(m, key);
    return s->rank >= 0 ? s : NULL;
}
