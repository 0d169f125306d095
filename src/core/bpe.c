#include "bpe.h"

#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

int pe_ids_push(int32_t **ids, size_t *n, size_t *cap, int32_t id, pe_err *e)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        int32_t *p = pe_realloc(*ids, ncap * sizeof *p, e);
        if (!p)
            return e ? e->code : PE_ERESOURCE;
        *ids = p;
        *cap = ncap;
    }
    (*ids)[(*n)++] = id;
    return PE_OK;
}

int pe_bpe_scratch_init(pe_bpe_scratch *s, pe_err *e)
{
    memset(s, 0, sizeof *s);
    return pe_strmap_init(&s->cache, 4096, e);
}

void pe_bpe_scratch_free(pe_bpe_scratch *s)
{
    free(s->syms);
    free(s->heap);
    pe_strmap_free(&s->cache);
    free(s->cached);
    free(s->cache_ids);
    memset(s, 0, sizeof *s);
}

void pe_bpe_free(pe_bpe *m)
{
    pe_strmap_free(&m->vocab);
    pe_pairmap_free(&m->merges);
}

static int cand_less(const pe_bpe_cand *a, const pe_bpe_cand *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static int heap_push(pe_bpe_scratch *s, pe_bpe_cand c, pe_err *e)
{
    if (s->heap_len == s->heap_cap) {
        size_t ncap = s->heap_cap ? s->heap_cap * 2 : 256;
        pe_bpe_cand *p = pe_realloc(s->heap, ncap * sizeof *p, e);
        if (!p)
            return e ? e->code : PE_ERESOURCE;
        s->heap = p;
        s->heap_cap = ncap;
    }
    size_t i = s->heap_len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!cand_less(&c, &s->heap[parent]))
            break;
        s->heap[i] = s->heap[parent];
        i = parent;
    }
    s->heap[i] = c;
    return PE_OK;
}

static pe_bpe_cand heap_pop(pe_bpe_scratch *s)
{
    pe_bpe_cand top = s->heap[0];
    pe_bpe_cand last = s->heap[--s->heap_len];
    size_t i = 0, n = s->heap_len;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const pe_bpe_cand *best = &last;
        if (l < n && cand_less(&s->heap[l], best)) {
            m = l;
            best = &s->heap[l];
        }
        if (r < n && cand_less(&s->heap[r], best))
            m = r;
        if (m == i)
            break;
        s->heap[i] = s->heap[m];
        i = m;
    }
    if (n > 0)
        s->heap[i] = last;
    return top;
}

/* Queues the merge of symbol i with its right neighbour, if the pair has one. */
static int queue_pair(const pe_bpe *m, pe_bpe_scratch *s, int32_t i, pe_err *e)
{
    int32_t j = s->syms[i].next;
    if (j < 0)
        return PE_OK;
    const pe_pairmap_slot *mg = pe_pairmap_get(&m->merges, s->syms[i].id, s->syms[j].id);
    if (!mg)
        return PE_OK;
    pe_bpe_cand c = {mg->rank, i, s->syms[i].id, s->syms[j].id, mg->result};
    return heap_push(s, c, e);
}

static int add_sym(pe_bpe_scratch *s, size_t *nsyms, int32_t id, pe_err *e)
{
    if (*nsyms == s->syms_cap) {
        size_t ncap = s->syms_cap ? s->syms_cap * 2 : 256;
        pe_bpe_sym *p = pe_realloc(s->syms, ncap * sizeof *p, e);
        if (!p)
            return e ? e->code : PE_ERESOURCE;
        s->syms = p;
        s->syms_cap = ncap;
    }
    int32_t i = (int32_t)*nsyms;
    s->syms[i].id = id;
    s->syms[i].prev = i - 1;
    s->syms[i].next = -1;
    if (i > 0)
        s->syms[i - 1].next = i;
    (*nsyms)++;
    return PE_OK;
}

/* The word's initial symbols: one per byte (byte-level) or one per character,
 * with HF's handling of characters missing from the vocabulary: their bytes as
 * <0xXX> tokens when byte_fallback has them all, else unk (fused if fuse_unk). */
static int initial_symbols(const pe_bpe *m, pe_bpe_scratch *s, const char *w, size_t len,
                           size_t *nsyms, pe_err *e)
{
    *nsyms = 0;
    int prev_unk = 0;
    size_t i = 0;
    while (i < len) {
        size_t k = 1;
        int32_t id;
        if (m->byte_level) {
            id = m->byte_ids[(unsigned char)w[i]];
        } else {
            utf8proc_int32_t cp;
            utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)w + i, (utf8proc_ssize_t)(len - i), &cp);
            k = r > 0 ? (size_t)r : 1;
            id = pe_strmap_get(&m->vocab, w + i, k);
        }
        if (id < 0 && m->byte_fallback) {
            int all = 1;
            for (size_t b = 0; b < k; b++)
                all &= m->fallback_ids[(unsigned char)w[i + b]] >= 0;
            if (all) {
                for (size_t b = 0; b < k; b++)
                    if (add_sym(s, nsyms, m->fallback_ids[(unsigned char)w[i + b]], e))
                        return e->code;
                prev_unk = 0;
                i += k;
                continue;
            }
        }
        if (id < 0) {
            if (m->unk_id < 0)
                return pe_fail(e, PE_EINPUT,
                               "the text holds a character (bytes at %zu..%zu of a word) that the vocabulary "
                               "lacks, and the tokenizer has neither unk_token nor byte_fallback",
                               i, i + k);
            if (!(m->fuse_unk && prev_unk) && add_sym(s, nsyms, m->unk_id, e))
                return e->code;
            prev_unk = 1;
        } else {
            if (add_sym(s, nsyms, id, e))
                return e->code;
            prev_unk = 0;
        }
        i += k;
    }
    return PE_OK;
}

static int merge_word(const pe_bpe *m, pe_bpe_scratch *s, size_t nsyms, pe_err *e)
{
    s->heap_len = 0;
    for (size_t i = 0; i + 1 < nsyms; i++)
        if (queue_pair(m, s, (int32_t)i, e))
            return e->code;
    while (s->heap_len > 0) {
        pe_bpe_cand c = heap_pop(s);
        pe_bpe_sym *L = &s->syms[c.pos];
        /* A queued pair is stale once either side has merged: a merged symbol
         * always gets a new (longer) token id, so comparing ids suffices. */
        if (L->id != c.left || L->next < 0 || s->syms[L->next].id != c.right)
            continue;
        int32_t r = L->next;
        L->id = c.result;
        L->next = s->syms[r].next;
        if (L->next >= 0)
            s->syms[L->next].prev = c.pos;
        s->syms[r].id = -1;
        if (L->prev >= 0 && queue_pair(m, s, L->prev, e))
            return e->code;
        if (queue_pair(m, s, c.pos, e))
            return e->code;
    }
    return PE_OK;
}

static void cache_store(pe_bpe_scratch *s, const char *w, size_t len, const int32_t *ids, size_t n)
{
    if (s->ncached >= PE_BPE_CACHE_MAX_WORDS)
        return;
    /* A cache that cannot grow is only slower, never wrong: failures are ignored. */
    if (s->ncached == s->cached_cap) {
        size_t ncap = s->cached_cap ? s->cached_cap * 2 : 4096;
        pe_bpe_cached *p = realloc(s->cached, ncap * sizeof *p);
        if (!p)
            return;
        s->cached = p;
        s->cached_cap = ncap;
    }
    if (s->cache_ids_len + n > s->cache_ids_cap) {
        size_t ncap = s->cache_ids_cap ? s->cache_ids_cap * 2 : 16384;
        while (ncap < s->cache_ids_len + n)
            ncap *= 2;
        int32_t *p = realloc(s->cache_ids, ncap * sizeof *p);
        if (!p)
            return;
        s->cache_ids = p;
        s->cache_ids_cap = ncap;
    }
    if (pe_strmap_put(&s->cache, w, len, (int32_t)s->ncached, NULL))
        return;
    memcpy(s->cache_ids + s->cache_ids_len, ids, n * sizeof *ids);
    s->cached[s->ncached].off = (uint32_t)s->cache_ids_len;
    s->cached[s->ncached].n = (uint32_t)n;
    s->ncached++;
    s->cache_ids_len += n;
}

int pe_bpe_encode_word(const pe_bpe *m, pe_bpe_scratch *s, const char *w, size_t len,
                       int32_t **ids, size_t *n, size_t *cap, pe_err *e)
{
    if (len == 0)
        return PE_OK;
    int cacheable = len <= PE_BPE_CACHE_MAX_WORD;
    if (cacheable) {
        int32_t ci = pe_strmap_get(&s->cache, w, len);
        if (ci >= 0) {
            const pe_bpe_cached *c = &s->cached[ci];
            for (uint32_t i = 0; i < c->n; i++)
                if (pe_ids_push(ids, n, cap, s->cache_ids[c->off + i], e))
                    return e->code;
            return PE_OK;
        }
    }
    if (m->ignore_merges) {
        int32_t id = pe_strmap_get(&m->vocab, w, len);
        if (id >= 0)
            return pe_ids_push(ids, n, cap, id, e);
    }
    size_t nsyms, first = *n;
    if (initial_symbols(m, s, w, len, &nsyms, e) || merge_word(m, s, nsyms, e))
        return e->code;
    for (int32_t i = nsyms ? 0 : -1; i >= 0; i = s->syms[i].next)
        if (pe_ids_push(ids, n, cap, s->syms[i].id, e))
            return e->code;
    if (cacheable)
        cache_store(s, w, len, *ids + first, *n - first);
    return PE_OK;
}
