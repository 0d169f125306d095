/* Packing, batching and reward scatter (engine.h). */
#include "engine.h"

#include <stdlib.h>
#include <string.h>

int pe_engine_plan(const pe_seq *seqs, int nseqs, int64_t budget, int **first, int *nbatches, pe_err *e)
{
    *first = NULL;
    *nbatches = 0;
    if (budget <= 0)
        return pe_fail(e, PE_EUSAGE, "token_budget must be positive, got %lld", (long long)budget);
    /* At most one batch per sequence: nseqs+1 boundaries is always enough. */
    int *f = pe_malloc((size_t)(nseqs + 1) * sizeof *f, e);
    if (!f)
        return e->code;
    int nb = 0;
    int64_t used = 0;
    for (int i = 0; i < nseqs; i++) {
        if (seqs[i].ntok < 0) {
            free(f);
            return pe_fail(e, PE_EGENERIC, "sequence %d has a negative length", i);
        }
        /* Open a new batch unless this one is empty or the sequence fits. */
        if (i == 0 || (used > 0 && used + seqs[i].ntok > budget)) {
            f[nb++] = i;
            used = 0;
        }
        used += seqs[i].ntok;
    }
    f[nb] = nseqs;
    *first = f;
    *nbatches = nb;
    return PE_OK;
}

int pe_engine_pack(const pe_seq *seqs, int first, int count, pe_packed *out, pe_err *e)
{
    memset(out, 0, sizeof *out);
    int64_t ntok = 0, nread = 0;
    for (int i = first; i < first + count; i++) {
        ntok += seqs[i].ntok;
        nread += seqs[i].nread;
    }
    out->tokens = pe_malloc((size_t)ntok * sizeof *out->tokens, e);
    out->seq_start = pe_malloc((size_t)(count + 1) * sizeof *out->seq_start, e);
    out->readout = pe_malloc((size_t)nread * sizeof *out->readout, e);
    out->read_seq = pe_malloc((size_t)nread * sizeof *out->read_seq, e);
    out->read_step = pe_malloc((size_t)nread * sizeof *out->read_step, e);
    if (!out->tokens || !out->seq_start || !out->readout || !out->read_seq || !out->read_step) {
        pe_packed_free(out);
        return e->code;
    }
    int64_t at = 0, k = 0;
    for (int j = 0; j < count; j++) {
        const pe_seq *s = &seqs[first + j];
        out->seq_start[j] = at;
        if (s->ntok)
            memcpy(out->tokens + at, s->tokens, (size_t)s->ntok * sizeof *s->tokens);
        for (int64_t r = 0; r < s->nread; r++, k++) {
            if (s->readout[r] < 0 || s->readout[r] >= s->ntok) {
                pe_packed_free(out);
                return pe_fail(e, PE_EGENERIC, "sequence %d (sample %d): read-out %lld at %lld is outside "
                               "its %lld tokens", first + j, s->sample, (long long)r,
                               (long long)s->readout[r], (long long)s->ntok);
            }
            out->readout[k] = at + s->readout[r];
            out->read_seq[k] = first + j;
            out->read_step[k] = r;
        }
        at += s->ntok;
    }
    out->seq_start[count] = at;
    out->batch = (pe_batch){.tokens = out->tokens, .ntok = ntok, .seq_start = out->seq_start, .nseq = count,
                            .readout = out->readout, .nread = nread};
    return PE_OK;
}

void pe_packed_free(pe_packed *p)
{
    free(p->tokens);
    free(p->seq_start);
    free(p->readout);
    free(p->read_seq);
    free(p->read_step);
    memset(p, 0, sizeof *p);
}

int pe_engine_score(pe_backend *b, const pe_seq *seqs, int nseqs, int64_t budget, float *const *rewards,
                    pe_engine_stats *stats, pe_err *e)
{
    pe_engine_stats st = {0};
    const int nout = b->nout > 0 ? b->nout : 1;
    /* A sequence without read-outs (all cut away) needs no forward pass. */
    pe_seq *live = pe_malloc((size_t)(nseqs ? nseqs : 1) * sizeof *live, e);
    int *orig = pe_malloc((size_t)(nseqs ? nseqs : 1) * sizeof *orig, e);
    if (!live || !orig) {
        free(live);
        free(orig);
        return e->code;
    }
    int nlive = 0;
    for (int i = 0; i < nseqs; i++)
        if (seqs[i].nread > 0) {
            orig[nlive] = i;
            live[nlive++] = seqs[i];
        }
    int *first = NULL, nb = 0;
    int rc = pe_engine_plan(live, nlive, budget, &first, &nb, e);
    float *buf = NULL;
    for (int bi = 0; !rc && bi < nb; bi++) {
        pe_packed p;
        if ((rc = pe_engine_pack(live, first[bi], first[bi + 1] - first[bi], &p, e)))
            break;
        float *nbuf = pe_realloc(buf, (size_t)p.batch.nread * (size_t)nout * sizeof *buf, e);
        if (!nbuf) {
            pe_packed_free(&p);
            rc = e->code;
            break;
        }
        buf = nbuf;
        rc = b->score(b, &p.batch, buf, e);
        for (int64_t k = 0; !rc && k < p.batch.nread; k++)
            for (int o = 0; o < nout; o++)
                rewards[orig[p.read_seq[k]]][p.read_step[k] * nout + o] = buf[k * nout + o];
        if (!rc) {
            st.tokens += p.batch.ntok;
            st.readouts += p.batch.nread;
            st.nbatches++;
            if (p.batch.ntok > st.max_batch_tokens)
                st.max_batch_tokens = p.batch.ntok;
        }
        pe_packed_free(&p);
    }
    free(buf);
    free(first);
    free(live);
    free(orig);
    if (stats)
        *stats = st;
    return rc;
}

/* ---- the schedule ------------------------------------------------------------ */

struct pe_schedule {
    pe_seq *live;            /* the sequences with read-outs */
    int *orig;               /* live index -> index into the caller's seqs */
    int nlive;
    int *first;              /* batch b holds live[first[b] .. first[b+1]-1] */
    int nbatches;
};

int pe_schedule_build(const pe_seq *seqs, int nseqs, const pe_engine_opts *o, int64_t kv_bytes_per_token,
                      pe_schedule **out, pe_err *e)
{
    (void)kv_bytes_per_token; /* prefix reuse: not built yet, every sequence is one segment */
    *out = NULL;
    pe_schedule *s = pe_calloc(1, sizeof *s, e);
    if (!s)
        return e->code;
    s->live = pe_malloc((size_t)(nseqs ? nseqs : 1) * sizeof *s->live, e);
    s->orig = pe_malloc((size_t)(nseqs ? nseqs : 1) * sizeof *s->orig, e);
    if (!s->live || !s->orig) {
        pe_schedule_free(s);
        return e->code;
    }
    for (int i = 0; i < nseqs; i++)
        if (seqs[i].nread > 0) {
            s->orig[s->nlive] = i;
            s->live[s->nlive++] = seqs[i];
        }
    if (pe_engine_plan(s->live, s->nlive, o->token_budget, &s->first, &s->nbatches, e)) {
        pe_schedule_free(s);
        return e->code;
    }
    *out = s;
    return PE_OK;
}

int pe_schedule_nbatches(const pe_schedule *s)
{
    return s->nbatches;
}

int pe_schedule_run(pe_backend *b, pe_schedule *s, int bi, float *const *rewards, pe_schedule_stats *st,
                    pe_err *e)
{
    if (bi < 0 || bi >= s->nbatches)
        return pe_fail(e, PE_EGENERIC, "schedule: batch %d of %d", bi, s->nbatches);
    const int nout = b->nout > 0 ? b->nout : 1;
    pe_packed p;
    if (pe_engine_pack(s->live, s->first[bi], s->first[bi + 1] - s->first[bi], &p, e))
        return e->code;
    float *buf = pe_malloc((size_t)(p.batch.nread ? p.batch.nread : 1) * (size_t)nout * sizeof *buf, e);
    int rc = buf ? b->score(b, &p.batch, buf, e) : e->code;
    for (int64_t k = 0; !rc && k < p.batch.nread; k++)
        for (int o = 0; o < nout; o++)
            rewards[s->orig[p.read_seq[k]]][p.read_step[k] * nout + o] = buf[k * nout + o];
    if (!rc && st) {
        *st = (pe_schedule_stats){0};
        st->tokens = st->prompt_tokens = p.batch.ntok;
        st->sequences = p.batch.nseq;
        st->readouts = p.batch.nread;
    }
    free(buf);
    pe_packed_free(&p);
    return rc;
}

void pe_schedule_free(pe_schedule *s)
{
    if (!s)
        return;
    free(s->live);
    free(s->orig);
    free(s->first);
    free(s);
}
