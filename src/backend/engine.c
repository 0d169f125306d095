/* Packing, batching and reward scatter (engine.h). */
#include "engine.h"

#include <stdlib.h>
#include <string.h>

#include "prefix_tree.h"

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

/* The whole-sequence schedule (no prefix reuse), run to the end. */
int pe_engine_score(pe_backend *b, const pe_seq *seqs, int nseqs, int64_t budget, float *const *rewards,
                    pe_engine_stats *stats, pe_err *e)
{
    pe_engine_stats st = {0};
    pe_engine_opts o = {.token_budget = budget, .prefix_reuse = 0, .cache_bytes = 0};
    pe_schedule *s = NULL;
    int rc = pe_schedule_build(seqs, nseqs, &o, b->kv_bytes_per_token, &s, e);
    for (int bi = 0; !rc && bi < pe_schedule_nbatches(s); bi++) {
        pe_schedule_stats bs;
        if ((rc = pe_schedule_run(b, s, bi, rewards, &bs, e)))
            break;
        st.tokens += bs.tokens;
        st.readouts += bs.readouts;
        st.nbatches++;
        if (bs.tokens > st.max_batch_tokens)
            st.max_batch_tokens = bs.tokens;
    }
    pe_schedule_free(s);
    if (stats)
        *stats = st;
    return rc;
}

/* ---- the schedule ------------------------------------------------------------
 * Without prefix reuse: pe_engine_plan's batches of whole sequences.
 * With it: the segments of the prefix tree (prefix_tree.h) in depth-first
 * order, greedy under token_budget; the plan is made once, simulating the
 * backend's cache, so that every batch (its ancestors, kept and evicted
 * slots) and its statistics are known before anything runs. */

/* The planned batches with prefix reuse. An entry is a segment of one batch:
 * run for its read-outs, or recomputed for a later entry of the batch whose
 * ancestor is neither in the batch nor kept. */
typedef struct reuse_plan {
    pe_ptree tree;
    int nent, cap_ent;
    int *ent_seg;           /* (nent) tree segment */
    int *ent_keep;          /* (nent) slot it is kept in after its batch, or -1 */
    unsigned char *ent_rec; /* (nent) 1: recomputed, its read-outs are not read */
    int64_t *ent_ctx;       /* (nent+1) its ancestors are ctx[ent_ctx[i] .. ent_ctx[i+1]-1] */
    pe_kv_ref *ctx;         /* a ref's seg is the entry's index within its batch */
    int64_t nctx, cap_ctx;
    int nbat, cap_bat;
    int *bat_ent;           /* (nbat+1) batch b holds entries bat_ent[b] .. bat_ent[b+1]-1 */
    int *bat_evict;         /* (nbat+2) batch b frees evict[bat_evict[b] .. bat_evict[b+1]-1]; list nbat after the last */
    int *evict;
    int nevict;
    int64_t cap_evict;
    pe_schedule_stats *stats; /* (nbat) */
} reuse_plan;

struct pe_schedule {
    pe_seq *live;            /* the sequences with read-outs */
    int *orig;               /* live index -> index into the caller's seqs */
    int nlive;
    int reuse;
    /* without prefix reuse */
    int *first;              /* batch b holds live[first[b] .. first[b+1]-1] */
    int nbatches;
    /* with prefix reuse */
    reuse_plan plan;
};

/* Grows the block *p of *cap elements of sz bytes, doubling, to hold need
 * (extra more elements are allocated beyond the capacity). */
static int grow(void **p, int64_t *cap, int64_t need, int extra, size_t sz, pe_err *e)
{
    if (need <= *cap)
        return PE_OK;
    int64_t n = *cap > 0 ? 2 * *cap : 64;
    while (n < need)
        n *= 2;
    void *q = pe_realloc(*p, ((size_t)n + (size_t)extra) * sz, e);
    if (!q)
        return e->code;
    *p = q;
    *cap = n;
    return PE_OK;
}

/* Room for need entries in every per-entry array. */
static int grow_entries(reuse_plan *p, int need, pe_err *e)
{
    const int64_t cap = p->cap_ent;
    int64_t c = cap;
    void *a = p->ent_seg, *b = p->ent_keep, *r = p->ent_rec, *x = p->ent_ctx;
    int rc = grow(&a, &c, need, 0, sizeof *p->ent_seg, e);
    p->ent_seg = a;
    if (!rc && (c = cap, !(rc = grow(&b, &c, need, 0, sizeof *p->ent_keep, e))))
        p->ent_keep = b;
    if (!rc && (c = cap, !(rc = grow(&r, &c, need, 0, sizeof *p->ent_rec, e))))
        p->ent_rec = r;
    if (!rc && (c = cap, !(rc = grow(&x, &c, need, 1, sizeof *p->ent_ctx, e))))
        p->ent_ctx = x;
    if (!rc)
        p->cap_ent = (int)c;
    return rc;
}

/* Room for need batches in every per-batch array. */
static int grow_batches(reuse_plan *p, int need, pe_err *e)
{
    const int64_t cap = p->cap_bat;
    int64_t c = cap;
    void *st = p->stats, *be = p->bat_ent, *bv = p->bat_evict;
    int rc = grow(&st, &c, need, 0, sizeof *p->stats, e);
    p->stats = st;
    if (!rc && (c = cap, !(rc = grow(&be, &c, need, 1, sizeof *p->bat_ent, e))))
        p->bat_ent = be;
    if (!rc && (c = cap, !(rc = grow(&bv, &c, need, 2, sizeof *p->bat_evict, e))))
        p->bat_evict = bv;
    if (!rc)
        p->cap_bat = (int)c;
    return rc;
}

static void reuse_plan_free(reuse_plan *p)
{
    pe_ptree_free(&p->tree);
    free(p->ent_seg);
    free(p->ent_keep);
    free(p->ent_rec);
    free(p->ent_ctx);
    free(p->ctx);
    free(p->bat_ent);
    free(p->bat_evict);
    free(p->evict);
    free(p->stats);
    memset(p, 0, sizeof *p);
}

/* The planner's view of the open batch and of the backend's cache. */
typedef struct planner {
    reuse_plan *p;
    const pe_ptree *t;
    int64_t budget, cache_bound, kv_per_tok;
    int *in_batch;       /* (nseg) global entry index in the open batch, or -1 */
    int *slot_of;        /* (nseg) cache slot holding the segment, or -1 */
    int *slot_seg;       /* (nseg) segment held by slot i, or -1 (a slot holds one segment) */
    int nslots;          /* slots ever used */
    int64_t cache_used;  /* bytes held by the slots */
    int *path;           /* (nseg) ancestors of the segment being added, the root first */
    int64_t used;        /* tokens in the open batch */
    int last_run;        /* the last segment run for its read-outs (segments run in order) */
} planner;

static int ancestors(planner *pl, int s)
{
    int n = 0;
    for (int a = pl->t->parent[s]; a >= 0; a = pl->t->parent[a])
        n++;
    int k = n;
    for (int a = pl->t->parent[s]; a >= 0; a = pl->t->parent[a])
        pl->path[--k] = a;
    return n;
}

/* Tokens of the ancestors path[0 .. depth-1] neither in the open batch nor cached. */
static int64_t missing_tokens(const planner *pl, int depth)
{
    int64_t n = 0;
    for (int i = 0; i < depth; i++)
        if (pl->in_batch[pl->path[i]] < 0 && pl->slot_of[pl->path[i]] < 0)
            n += pl->t->seg_len[pl->path[i]];
    return n;
}

/* Appends segment seg to the open batch; its ancestors path[0 .. depth-1] are
 * all in the batch or cached by now. */
static int add_entry(planner *pl, int seg, int depth, int recomputed, pe_err *e)
{
    reuse_plan *p = pl->p;
    void *cx = p->ctx;
    if (grow_entries(p, p->nent + 1, e) || grow(&cx, &p->cap_ctx, p->nctx + depth, 0, sizeof *p->ctx, e))
        return e->code;
    p->ctx = cx;
    const int first = p->bat_ent[p->nbat];
    for (int i = 0; i < depth; i++) {
        int a = pl->path[i];
        p->ctx[p->nctx++] = pl->in_batch[a] >= 0 ? (pe_kv_ref){pl->in_batch[a] - first, -1}
                                                 : (pe_kv_ref){-1, pl->slot_of[a]};
    }
    int i = p->nent++;
    p->ent_seg[i] = seg;
    p->ent_keep[i] = -1;
    p->ent_rec[i] = (unsigned char)recomputed;
    p->ent_ctx[i + 1] = p->nctx;
    pl->in_batch[seg] = i;
    pl->used += pl->t->seg_len[seg];
    return PE_OK;
}

/* Segment s with the ancestors it must recompute, the root first. */
static int add_segment(planner *pl, int s, int depth, pe_err *e)
{
    for (int i = 0; i < depth; i++) {
        int a = pl->path[i];
        if (pl->in_batch[a] < 0 && pl->slot_of[a] < 0 && add_entry(pl, a, i, 1, e))
            return e->code;
    }
    pl->last_run = s;
    return add_entry(pl, s, depth, 0, e);
}

/* After the open batch: keep the segments a later batch still needs while the
 * cache bound allows (the batch's order: ancestors first), then free the
 * slots whose every descendant has run (before the next batch). */
static int close_batch(planner *pl, pe_err *e)
{
    reuse_plan *p = pl->p;
    const pe_ptree *t = pl->t;
    const int b = p->nbat;
    void *ev = p->evict;
    if (grow_batches(p, b + 1, e) || grow(&ev, &p->cap_evict, p->nevict + pl->nslots, 0, sizeof *p->evict, e))
        return e->code;
    p->evict = ev;
    pe_schedule_stats *st = &p->stats[b];
    *st = (pe_schedule_stats){0};
    for (int i = p->bat_ent[b]; i < p->nent; i++) {
        int x = p->ent_seg[i];
        int64_t bytes = pl->kv_per_tok * t->seg_len[x];
        st->tokens += t->seg_len[x];
        if (p->ent_rec[i])
            st->recomputed += t->seg_len[x];
        else
            st->readouts += t->read_start[x + 1] - t->read_start[x];
        pl->in_batch[x] = -1;
        if (t->last_desc[x] > pl->last_run && pl->cache_used + bytes <= pl->cache_bound) {
            int k = 0;
            while (k < pl->nslots && pl->slot_seg[k] >= 0)
                k++;
            if (k == pl->nslots)
                pl->nslots++;
            pl->slot_seg[k] = x;
            pl->slot_of[x] = k;
            p->ent_keep[i] = k;
            pl->cache_used += bytes;
        }
    }
    st->cache_bytes = pl->cache_used;
    p->bat_ent[b + 1] = p->nent;
    p->bat_evict[b + 1] = p->nevict;
    for (int k = 0; k < pl->nslots; k++) {
        int x = pl->slot_seg[k];
        if (x >= 0 && t->last_desc[x] <= pl->last_run) {
            p->evict[p->nevict++] = k;
            pl->slot_seg[k] = pl->slot_of[x] = -1;
            pl->cache_used -= pl->kv_per_tok * t->seg_len[x];
        }
    }
    p->bat_evict[b + 2] = p->nevict;
    p->nbat++;
    pl->used = 0;
    return PE_OK;
}

/* Which batch completes each sequence: the one that runs the segment of its
 * last read-out (its other read-outs lie in ancestors, which run before). */
static int count_completions(reuse_plan *p, const pe_seq *live, int nlive, pe_err *e)
{
    const pe_ptree *t = &p->tree;
    int *seg_batch = pe_malloc(((size_t)t->nseg + 1) * sizeof *seg_batch, e);
    if (!seg_batch)
        return e->code;
    for (int b = 0; b < p->nbat; b++)
        for (int i = p->bat_ent[b]; i < p->bat_ent[b + 1]; i++)
            if (!p->ent_rec[i])
                seg_batch[p->ent_seg[i]] = b;
    for (int q = 0; q < nlive; q++) {
        pe_schedule_stats *st = &p->stats[seg_batch[t->seq_last_seg[q]]];
        st->sequences++;
        st->prompt_tokens += live[q].ntok;
    }
    free(seg_batch);
    return PE_OK;
}

/* The whole plan: segments in order, a batch closed when the next segment
 * (with the ancestors it would recompute) does not fit; a segment longer than
 * the budget goes alone. A segment without read-outs goes in the batch of its
 * first child (the next segment): alone at the end of a batch, it would be
 * work for nothing whenever the cache cannot keep it. */
static int plan_batches(planner *pl, pe_err *e)
{
    reuse_plan *p = pl->p;
    const pe_ptree *t = pl->t;
    if (grow_batches(p, 1, e) || grow_entries(p, 1, e))
        return e->code;
    p->bat_ent[0] = 0;
    p->bat_evict[0] = p->bat_evict[1] = 0;
    p->ent_ctx[0] = 0;
    for (int s = 0, end; s < t->nseg; s = end + 1) {
        int64_t cost = t->seg_len[s];
        for (end = s; end + 1 < t->nseg && t->read_start[end + 1] == t->read_start[end] && t->parent[end + 1] == end;)
            cost += t->seg_len[++end];
        int depth = ancestors(pl, s);
        if (pl->used > 0 && pl->used + cost + missing_tokens(pl, depth) > pl->budget && close_batch(pl, e))
            return e->code;
        for (int g = s; g <= end; g++)
            if (add_segment(pl, g, ancestors(pl, g), e))
                return e->code;
    }
    if (pl->used > 0 && close_batch(pl, e))
        return e->code;
    return PE_OK;
}

static int build_reuse(pe_schedule *s, const pe_engine_opts *o, int64_t kv_bytes_per_token, pe_err *e)
{
    reuse_plan *p = &s->plan;
    if (pe_ptree_build(s->live, s->nlive, &p->tree, e))
        return e->code;
    const size_t n = (size_t)p->tree.nseg + 1;
    planner pl = {.p = p, .t = &p->tree, .budget = o->token_budget, .cache_bound = o->cache_bytes,
                  .kv_per_tok = kv_bytes_per_token, .last_run = -1};
    pl.in_batch = pe_malloc(n * sizeof *pl.in_batch, e);
    pl.slot_of = pe_malloc(n * sizeof *pl.slot_of, e);
    pl.slot_seg = pe_malloc(n * sizeof *pl.slot_seg, e);
    pl.path = pe_malloc(n * sizeof *pl.path, e);
    int rc = pl.in_batch && pl.slot_of && pl.slot_seg && pl.path ? PE_OK : e->code;
    for (size_t i = 0; rc == PE_OK && i < n; i++)
        pl.in_batch[i] = pl.slot_of[i] = pl.slot_seg[i] = -1;
    if (rc == PE_OK)
        rc = plan_batches(&pl, e);
    if (rc == PE_OK)
        rc = count_completions(p, s->live, s->nlive, e);
    free(pl.in_batch);
    free(pl.slot_of);
    free(pl.slot_seg);
    free(pl.path);
    return rc;
}

int pe_schedule_build(const pe_seq *seqs, int nseqs, const pe_engine_opts *o, int64_t kv_bytes_per_token,
                      pe_schedule **out, pe_err *e)
{
    *out = NULL;
    if (o->token_budget <= 0)
        return pe_fail(e, PE_EUSAGE, "token_budget must be positive, got %lld", (long long)o->token_budget);
    if (o->prefix_reuse && o->cache_bytes < 0)
        return pe_fail(e, PE_EUSAGE, "the prefix cache bound must not be negative, got %lld",
                       (long long)o->cache_bytes);
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
    /* a backend that cannot keep keys/values (kv_bytes_per_token 0) takes no segments */
    s->reuse = o->prefix_reuse != 0 && kv_bytes_per_token > 0;
    int rc = s->reuse ? build_reuse(s, o, kv_bytes_per_token, e)
                      : pe_engine_plan(s->live, s->nlive, o->token_budget, &s->first, &s->nbatches, e);
    if (rc) {
        pe_schedule_free(s);
        return e->code;
    }
    *out = s;
    return PE_OK;
}

int pe_schedule_nbatches(const pe_schedule *s)
{
    return s->reuse ? s->plan.nbat : s->nbatches;
}

static int run_plain(pe_backend *b, pe_schedule *s, int bi, float *const *rewards, pe_schedule_stats *st,
                     pe_err *e)
{
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

/* A planned batch laid out for the backend; read_id maps each of its
 * read-outs to the tree's distinct read-out. */
typedef struct packed_segs {
    pe_batch batch;
    int32_t *tokens;
    int64_t *seq_start, *pos0, *readout, *read_id;
    int *ctx_start, *keep;
} packed_segs;

static void packed_segs_free(packed_segs *x)
{
    free(x->tokens);
    free(x->seq_start);
    free(x->pos0);
    free(x->readout);
    free(x->read_id);
    free(x->ctx_start);
    free(x->keep);
}

static int pack_segs(const pe_schedule *s, int bi, packed_segs *x, pe_err *e)
{
    const reuse_plan *p = &s->plan;
    const pe_ptree *t = &p->tree;
    const int e0 = p->bat_ent[bi], n = p->bat_ent[bi + 1] - e0;
    memset(x, 0, sizeof *x);
    int64_t ntok = p->stats[bi].tokens, nread = p->stats[bi].readouts;
    x->tokens = pe_malloc((size_t)ntok * sizeof *x->tokens, e);
    x->seq_start = pe_malloc(((size_t)n + 1) * sizeof *x->seq_start, e);
    x->pos0 = pe_malloc((size_t)n * sizeof *x->pos0, e);
    x->readout = pe_malloc(((size_t)nread + 1) * sizeof *x->readout, e);
    x->read_id = pe_malloc(((size_t)nread + 1) * sizeof *x->read_id, e);
    x->ctx_start = pe_malloc(((size_t)n + 1) * sizeof *x->ctx_start, e);
    x->keep = pe_malloc((size_t)n * sizeof *x->keep, e);
    if (!x->tokens || !x->seq_start || !x->pos0 || !x->readout || !x->read_id || !x->ctx_start || !x->keep) {
        packed_segs_free(x);
        return e->code;
    }
    int64_t at = 0, k = 0;
    for (int j = 0; j < n; j++) {
        int g = p->ent_seg[e0 + j];
        int64_t p0 = t->seg_pos0[g], len = t->seg_len[g];
        memcpy(x->tokens + at, s->live[t->seg_seq[g]].tokens + p0, (size_t)len * sizeof *x->tokens);
        x->seq_start[j] = at;
        x->pos0[j] = p0;
        x->ctx_start[j] = (int)(p->ent_ctx[e0 + j] - p->ent_ctx[e0]);
        x->keep[j] = p->ent_keep[e0 + j];
        for (int64_t r = t->read_start[g]; !p->ent_rec[e0 + j] && r < t->read_start[g + 1]; r++, k++) {
            x->readout[k] = at + t->read_pos[r] - p0;
            x->read_id[k] = r;
        }
        at += len;
    }
    x->seq_start[n] = at;
    x->ctx_start[n] = (int)(p->ent_ctx[e0 + n] - p->ent_ctx[e0]);
    const int *ev = p->evict + p->bat_evict[bi];
    x->batch = (pe_batch){.tokens = x->tokens, .ntok = ntok, .seq_start = x->seq_start, .nseq = n,
                          .readout = x->readout, .nread = nread, .pos0 = x->pos0,
                          .ctx_start = x->ctx_start[n] > 0 ? x->ctx_start : NULL,
                          .ctx = x->ctx_start[n] > 0 ? p->ctx + p->ent_ctx[e0] : NULL, .keep = x->keep,
                          .evict = ev, .nevict = p->bat_evict[bi + 1] - p->bat_evict[bi]};
    return PE_OK;
}

/* The backend frees a batch's evictions before it runs it; the slots the
 * last batch still read are freed after it with the backend's release, so
 * that the next schedule on this backend finds its cache empty. */
static int release_slots(pe_backend *b, const int *slots, int n, pe_err *e)
{
    if (!b->release)
        return pe_fail(e, PE_EGENERIC, "schedule: backend %s keeps keys/values but cannot release them",
                       b->name ? b->name : "?");
    return b->release(b, slots, n, e);
}

static int run_reuse(pe_backend *b, pe_schedule *s, int bi, float *const *rewards, pe_schedule_stats *st,
                     pe_err *e)
{
    const reuse_plan *p = &s->plan;
    const pe_ptree *t = &p->tree;
    const int nout = b->nout > 0 ? b->nout : 1;
    packed_segs x;
    if (pack_segs(s, bi, &x, e))
        return e->code;
    float *buf = pe_malloc(((size_t)x.batch.nread + 1) * (size_t)nout * sizeof *buf, e);
    int rc = buf ? b->score(b, &x.batch, buf, e) : e->code;
    for (int64_t k = 0; !rc && k < x.batch.nread; k++) {
        int64_t r = x.read_id[k];
        for (int64_t g = t->tgt_start[r]; g < t->tgt_start[r + 1]; g++)
            for (int o = 0; o < nout; o++)
                rewards[s->orig[t->tgt_seq[g]]][t->tgt_step[g] * nout + o] = buf[k * nout + o];
    }
    free(buf);
    packed_segs_free(&x);
    int nrel = p->bat_evict[p->nbat + 1] - p->bat_evict[p->nbat];
    if (!rc && bi == p->nbat - 1 && nrel > 0)
        rc = release_slots(b, p->evict + p->bat_evict[p->nbat], nrel, e);
    if (!rc && st)
        *st = p->stats[bi];
    return rc;
}

int pe_schedule_run(pe_backend *b, pe_schedule *s, int bi, float *const *rewards, pe_schedule_stats *st,
                    pe_err *e)
{
    if (bi < 0 || bi >= pe_schedule_nbatches(s))
        return pe_fail(e, PE_EGENERIC, "schedule: batch %d of %d", bi, pe_schedule_nbatches(s));
    return s->reuse ? run_reuse(b, s, bi, rewards, st, e) : run_plain(b, s, bi, rewards, st, e);
}

void pe_schedule_free(pe_schedule *s)
{
    if (!s)
        return;
    free(s->live);
    free(s->orig);
    free(s->first);
    reuse_plan_free(&s->plan);
    free(s);
}
