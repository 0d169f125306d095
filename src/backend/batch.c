/* The batch contract of backend.h checked once for every backend: the CPU
 * and CUDA backends call pe_batch_check before they trust a batch, and
 * pe_release_check before they free the slots a release names. */
#include <stdlib.h>

#include "backend.h"

/* 1 when slot appears in b->evict (freed before the batch runs). */
static int evicted(const pe_batch *b, int slot)
{
    for (int i = 0; i < b->nevict; i++)
        if (b->evict[i] == slot)
            return 1;
    return 0;
}

static int check_ctx(const pe_batch *b, int nslots, const int64_t *slot_pos0, const int64_t *slot_len,
                     int64_t *max_len, pe_err *e)
{
    for (int i = 0; i < b->nevict; i++)
        if (!b->evict || b->evict[i] < 0 || b->evict[i] >= nslots || slot_len[b->evict[i]] <= 0)
            return pe_fail(e, PE_EINPUT, "batch: eviction %d names slot %d, which holds nothing (%d slots)", i,
                           b->evict ? b->evict[i] : -1, nslots);
    if (b->ctx_start && (b->ctx_start[0] != 0 || !b->ctx))
        return pe_fail(e, PE_EINPUT, "batch: ancestors must start at index 0 of a present array");
    for (int s = 0; s < b->nseq; s++) {
        int64_t at = 0; /* the next position an ancestor must start at */
        int c0 = b->ctx_start ? b->ctx_start[s] : 0, c1 = b->ctx_start ? b->ctx_start[s + 1] : 0;
        if (c1 < c0)
            return pe_fail(e, PE_EINPUT, "batch: ctx_start decreases at segment %d", s);
        for (int c = c0; c < c1; c++) {
            const pe_kv_ref *r = &b->ctx[c];
            int64_t p0, len;
            if (r->seg >= 0 && r->slot < 0) {
                if (r->seg >= s)
                    return pe_fail(e, PE_EINPUT, "batch: segment %d names segment %d as its ancestor; an ancestor "
                                   "must come earlier in the batch", s, r->seg);
                p0 = b->pos0[r->seg];
                len = b->seq_start[r->seg + 1] - b->seq_start[r->seg];
            } else if (r->slot >= 0 && r->seg < 0) {
                if (r->slot >= nslots || slot_len[r->slot] <= 0 || evicted(b, r->slot))
                    return pe_fail(e, PE_EINPUT, "batch: segment %d reads cache slot %d, which holds nothing", s,
                                   r->slot);
                p0 = slot_pos0[r->slot];
                len = slot_len[r->slot];
            } else {
                return pe_fail(e, PE_EINPUT, "batch: ancestor %d of segment %d names neither one segment nor one "
                               "slot (seg %d, slot %d)", c - c0, s, r->seg, r->slot);
            }
            if (p0 != at)
                return pe_fail(e, PE_EINPUT, "batch: ancestor %d of segment %d starts at position %lld, expected "
                               "%lld", c - c0, s, (long long)p0, (long long)at);
            at += len;
        }
        if (at != b->pos0[s])
            return pe_fail(e, PE_EINPUT, "batch: segment %d starts at position %lld but its ancestors end at %lld",
                           s, (long long)b->pos0[s], (long long)at);
        int64_t span = b->pos0[s] + b->seq_start[s + 1] - b->seq_start[s];
        if (span > INT32_MAX / 2)
            return pe_fail(e, PE_EINPUT, "batch: segment %d reaches position %lld", s, (long long)span);
        if (span > *max_len)
            *max_len = span;
        if (b->keep && b->keep[s] >= 0) {
            int k = b->keep[s];
            if (k >= nslots + b->nseq) /* the backend grows its table; a slot id is small */
                return pe_fail(e, PE_EINPUT, "batch: segment %d keeps into slot %d, past the %d slots plus one per "
                               "segment", s, k, nslots);
            if (k < nslots && slot_len[k] > 0 && !evicted(b, k))
                return pe_fail(e, PE_EINPUT, "batch: segment %d keeps into slot %d, which is in use", s, k);
            for (int t = 0; t < s; t++)
                if (b->keep[t] == k)
                    return pe_fail(e, PE_EINPUT, "batch: segments %d and %d keep into the same slot %d", t, s, k);
        }
    }
    return PE_OK;
}

int pe_batch_check(const pe_batch *b, int vocab, int nslots, const int64_t *slot_pos0, const int64_t *slot_len,
                   int64_t *max_len, pe_err *e)
{
    *max_len = 1;
    if (b->nseq <= 0 || b->ntok <= 0 || !b->seq_start || !b->tokens)
        return pe_fail(e, PE_EINPUT, "batch: empty (%d segments, %lld tokens)", b->nseq, (long long)b->ntok);
    if (b->ntok > INT32_MAX / 2)
        return pe_fail(e, PE_ERESOURCE, "batch: %lld tokens, too many for one batch", (long long)b->ntok);
    if (b->seq_start[0] != 0 || b->seq_start[b->nseq] != b->ntok)
        return pe_fail(e, PE_EINPUT, "batch: seq_start must run from 0 to ntok %lld (found %lld..%lld)",
                       (long long)b->ntok, (long long)b->seq_start[0], (long long)b->seq_start[b->nseq]);
    for (int s = 0; s < b->nseq; s++) {
        int64_t len = b->seq_start[s + 1] - b->seq_start[s];
        if (len < 0)
            return pe_fail(e, PE_EINPUT, "batch: seq_start decreases at segment %d", s);
        if (b->pos0 && b->pos0[s] < 0)
            return pe_fail(e, PE_EINPUT, "batch: segment %d starts at negative position %lld", s,
                           (long long)b->pos0[s]);
        if (len > *max_len)
            *max_len = len;
    }
    for (int64_t t = 0; t < b->ntok; t++)
        if (b->tokens[t] < 0 || b->tokens[t] >= vocab)
            return pe_fail(e, PE_EINPUT, "batch: token %lld has id %d outside the vocabulary (%d)", (long long)t,
                           b->tokens[t], vocab);
    if (b->nread < 0 || (b->nread > 0 && !b->readout))
        return pe_fail(e, PE_EINPUT, "batch: %lld read-outs without positions", (long long)b->nread);
    for (int64_t r = 0; r < b->nread; r++) {
        if (b->readout[r] < 0 || b->readout[r] >= b->ntok)
            return pe_fail(e, PE_EINPUT, "batch: read-out %lld at %lld outside the %lld tokens", (long long)r,
                           (long long)b->readout[r], (long long)b->ntok);
        if (r > 0 && b->readout[r] < b->readout[r - 1]) /* the head groups them by segment */
            return pe_fail(e, PE_EINPUT, "batch: read-out %lld at %lld comes before the one ahead of it (%lld)",
                           (long long)r, (long long)b->readout[r], (long long)b->readout[r - 1]);
    }
    if (!b->pos0) {
        if (b->ctx_start || b->keep || b->nevict)
            return pe_fail(e, PE_EINPUT, "batch: ancestors, kept or evicted slots without segment positions");
        return PE_OK;
    }
    if (nslots < 0 || (nslots > 0 && (!slot_pos0 || !slot_len)))
        return pe_fail(e, PE_EINPUT, "batch: the backend's slot table is missing");
    return check_ctx(b, nslots, slot_pos0, slot_len, max_len, e);
}

int pe_release_check(const int *slots, int n, int nslots, const int64_t *slot_len, pe_err *e)
{
    if (n < 0 || (n > 0 && !slots))
        return pe_fail(e, PE_EINPUT, "release: %d slots without a list", n);
    for (int i = 0; i < n; i++) {
        int k = slots[i];
        if (k < 0 || k >= nslots || !slot_len || slot_len[k] <= 0)
            return pe_fail(e, PE_EINPUT, "release: entry %d names slot %d, which holds nothing (%d slots)", i, k,
                           nslots);
        for (int j = 0; j < i; j++) /* a list is a few slots: the ones kept across a batch boundary */
            if (slots[j] == k)
                return pe_fail(e, PE_EINPUT, "release: slot %d is named twice (entries %d and %d)", k, j, i);
    }
    return PE_OK;
}

void pe_batch_positions(const pe_batch *b, int32_t *pos)
{
    for (int s = 0; s < b->nseq; s++) {
        int64_t p0 = b->pos0 ? b->pos0[s] : 0;
        for (int64_t t = b->seq_start[s]; t < b->seq_start[s + 1]; t++)
            pos[t] = (int32_t)(p0 + t - b->seq_start[s]);
    }
}
