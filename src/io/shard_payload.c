/* Journal payload of one shard (layout in shard_payload.h). */
#include "shard_payload.h"

#include "../core/metrics.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(pe_token_stats) % sizeof(int64_t) == 0, "pe_token_stats must be int64 fields only");

int pe_shard_preds_init(pe_shard_preds *p, int n, pe_err *e)
{
    return pe_shard_preds_init2(p, n, 1, e);
}

int pe_shard_preds_init2(pe_shard_preds *p, int n, int nrew, pe_err *e)
{
    memset(p, 0, sizeof *p);
    size_t k = (size_t)(n > 0 ? n : 1);
    p->n = n;
    p->nrew = nrew;
    if (nrew == 2 && !(p->scores2 = pe_calloc(k, sizeof *p->scores2, e)))
        return PE_ERESOURCE;
    p->sample = pe_calloc(k, sizeof *p->sample, e);
    p->status = pe_calloc(k, sizeof *p->status, e);
    p->m = pe_calloc(k, sizeof *p->m, e);
    p->labels = pe_calloc(k, sizeof *p->labels, e);
    p->scores = pe_calloc(k, sizeof *p->scores, e);
    if (!p->sample || !p->status || !p->m || !p->labels || !p->scores) {
        pe_shard_preds_free(p);
        return PE_ERESOURCE;
    }
    return PE_OK;
}

void pe_shard_preds_free(pe_shard_preds *p)
{
    for (int k = 0; k < p->n; k++) {
        if (p->labels)
            free(p->labels[k]);
        if (p->scores)
            free(p->scores[k]);
        if (p->scores2)
            free(p->scores2[k]);
    }
    free(p->scores2);
    free(p->sample);
    free(p->status);
    free(p->m);
    free(p->labels);
    free(p->scores);
    memset(p, 0, sizeof *p);
}

static uint8_t *put_u32(uint8_t *q, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        q[i] = (uint8_t)(v >> (8 * i));
    return q + 4;
}

static uint8_t *put_u64(uint8_t *q, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        q[i] = (uint8_t)(v >> (8 * i));
    return q + 8;
}

static uint32_t get_u32(const uint8_t *q)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)q[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const uint8_t *q)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)q[i] << (8 * i);
    return v;
}

int pe_shard_payload_encode(const pe_shard_preds *p, uint8_t **buf, size_t *len, pe_err *e)
{
    *buf = NULL;
    *len = 0;
    /* size_t: a shard's steps times 9 bytes stay far below, but products are not trusted */
    int nrew = p->nrew == 2 ? 2 : 1;
    size_t size = 12 + (size_t)PE_TOKEN_STATS_INT64 * 8;
    for (int k = 0; k < p->n; k++) {
        if (p->m[k] < 0)
            return pe_fail(e, PE_EGENERIC, "shard payload: sample %d has %d labels", p->sample[k], p->m[k]);
        size += 12 + (size_t)p->m[k] * (1 + 8 * (size_t)nrew);
    }
    uint8_t *b = pe_malloc(size, e), *q = b;
    if (!b)
        return PE_ERESOURCE;
    q = put_u32(q, PE_SHARD_PAYLOAD_VERSION);
    q = put_u32(q, (uint32_t)p->n);
    q = put_u32(q, (uint32_t)nrew);
    const int64_t *t = (const int64_t *)&p->tok;
    for (int i = 0; i < PE_TOKEN_STATS_INT64; i++)
        q = put_u64(q, (uint64_t)t[i]);
    for (int k = 0; k < p->n; k++) {
        q = put_u32(q, (uint32_t)p->sample[k]);
        q = put_u32(q, (uint32_t)p->status[k]);
        q = put_u32(q, (uint32_t)p->m[k]);
        for (int32_t j = 0; j < p->m[k]; j++)
            *q++ = p->labels[k][j];
        for (int32_t j = 0; j < p->m[k]; j++) {
            uint64_t bits;
            memcpy(&bits, &p->scores[k][j], 8);
            q = put_u64(q, bits);
        }
        for (int32_t j = 0; nrew == 2 && j < p->m[k]; j++) {
            uint64_t bits;
            memcpy(&bits, &p->scores2[k][j], 8);
            q = put_u64(q, bits);
        }
    }
    *buf = b;
    *len = (size_t)(q - b);
    return PE_OK;
}

int pe_shard_payload_decode(const uint8_t *buf, size_t len, const int32_t *expected, int n,
                            const char *what, pe_shard_preds *out, pe_err *e)
{
    memset(out, 0, sizeof *out);
    if (len < 8)
        return pe_fail(e, PE_EINPUT, "%s: payload of %zu bytes is shorter than its header", what, len);
    uint32_t version = get_u32(buf), count = get_u32(buf + 4);
    if (version != 1 && version != PE_SHARD_PAYLOAD_VERSION)
        return pe_fail(e, PE_EINPUT, "%s: payload version %u, expected 1 or %u", what, version,
                       PE_SHARD_PAYLOAD_VERSION);
    size_t fixed = version == 1 ? 8 : 12, head = fixed + (size_t)PE_TOKEN_STATS_INT64 * 8;
    if (len < head)
        return pe_fail(e, PE_EINPUT, "%s: payload of %zu bytes is shorter than its %zu-byte header", what, len, head);
    uint32_t nrew = version == 1 ? 1 : get_u32(buf + 8);
    if (nrew != 1 && nrew != 2)
        return pe_fail(e, PE_EINPUT, "%s: %u rewards per step, expected 1 or 2", what, nrew);
    if (count != (uint32_t)n)
        return pe_fail(e, PE_EINPUT, "%s: holds %u samples, this job's shard has %d", what, count, n);
    int rc = pe_shard_preds_init2(out, n, (int)nrew, e);
    if (rc != PE_OK)
        return rc;
    int64_t *t = (int64_t *)&out->tok;
    for (int i = 0; i < PE_TOKEN_STATS_INT64; i++)
        t[i] = (int64_t)get_u64(buf + fixed + 8 * (size_t)i);
    size_t per = 1 + 8 * (size_t)nrew;
    size_t at = head;
    for (int k = 0; k < n && rc == PE_OK; k++) {
        if (len - at < 12) {
            rc = pe_fail(e, PE_EINPUT, "%s: payload ends inside sample %d of %d", what, k, n);
            break;
        }
        int32_t sample = (int32_t)get_u32(buf + at), status = (int32_t)get_u32(buf + at + 4);
        int32_t m = (int32_t)get_u32(buf + at + 8);
        at += 12;
        if (sample != expected[k])
            rc = pe_fail(e, PE_EINPUT, "%s: entry %d is sample %d, this job's shard has sample %d there", what, k,
                         sample, expected[k]);
        else if (status < PE_PRED_OK || status > PE_PRED_INVALID)
            rc = pe_fail(e, PE_EINPUT, "%s: sample %d has status %d", what, sample, status);
        else if (m < 0 || (size_t)m > (len - at) / per)
            rc = pe_fail(e, PE_EINPUT, "%s: sample %d claims %d labels, more than the payload holds", what, sample, m);
        if (rc != PE_OK)
            break;
        out->sample[k] = sample;
        out->status[k] = status;
        out->m[k] = m;
        if (m == 0)
            continue;
        out->labels[k] = pe_malloc((size_t)m, e);
        out->scores[k] = pe_malloc((size_t)m * sizeof(double), e);
        if (nrew == 2)
            out->scores2[k] = pe_malloc((size_t)m * sizeof(double), e);
        if (!out->labels[k] || !out->scores[k] || (nrew == 2 && !out->scores2[k])) {
            rc = PE_ERESOURCE;
            break;
        }
        for (int32_t j = 0; j < m; j++) {
            uint8_t l = buf[at + (size_t)j];
            if (l > 1) {
                rc = pe_fail(e, PE_EINPUT, "%s: sample %d step %d has label %u (0 or 1 expected)", what, sample, j, l);
                break;
            }
            out->labels[k][j] = l;
        }
        at += (size_t)m;
        for (int32_t j = 0; j < m; j++) {
            uint64_t bits = get_u64(buf + at + 8 * (size_t)j);
            memcpy(&out->scores[k][j], &bits, 8);
        }
        at += 8 * (size_t)m;
        for (int32_t j = 0; nrew == 2 && j < m; j++) {
            uint64_t bits = get_u64(buf + at + 8 * (size_t)j);
            memcpy(&out->scores2[k][j], &bits, 8);
        }
        if (nrew == 2)
            at += 8 * (size_t)m;
    }
    if (rc == PE_OK && at != len)
        rc = pe_fail(e, PE_EINPUT, "%s: %zu bytes after the last sample", what, len - at);
    if (rc != PE_OK)
        pe_shard_preds_free(out);
    return rc;
}
