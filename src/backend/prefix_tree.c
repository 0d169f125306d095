/* The prefix tree of a shard's sequences over token ids (prefix_tree.h). */
#include "prefix_tree.h"

#include <stdlib.h>
#include <string.h>

/* Sequences perm[lo .. hi-1] that share their first `depth` tokens, waiting
 * to become one segment below `parent`. */
typedef struct work {
    int lo, hi;
    int64_t depth;
    int parent;
} work;

typedef struct builder {
    const pe_seq *seqs;
    int64_t *len;  /* (nseqs) tokens up to and including the last read-out */
    int *perm;     /* (nseqs) sequence indices, partitioned in place */
    int *tmp;      /* (nseqs) */
    work *stack;   /* (2 nseqs + 1): at most one entry per segment to come */
    int nstack;
    pe_ptree *t;
} builder;

/* A distinct read-out before de-duplication: (segment, position) and one
 * sequence that holds it. */
typedef struct read_tuple {
    int seg, seq;
    int64_t pos, step;
} read_tuple;

static int check_seq(const pe_seq *s, int i, pe_err *e)
{
    if (s->nread <= 0 || !s->readout || !s->tokens)
        return pe_fail(e, PE_EGENERIC, "sequence %d (sample %d): no read-outs to share", i, s->sample);
    for (int64_t r = 0; r < s->nread; r++)
        if (s->readout[r] < 0 || s->readout[r] >= s->ntok || (r > 0 && s->readout[r] < s->readout[r - 1]))
            return pe_fail(e, PE_EGENERIC, "sequence %d (sample %d): read-out %lld at %lld is outside its %lld "
                           "tokens or out of order", i, s->sample, (long long)r, (long long)s->readout[r],
                           (long long)s->ntok);
    return PE_OK;
}

/* The end of the longest run of tokens from `depth` that every sequence of
 * perm[lo .. hi-1] holds, the same in all of them. */
static int64_t common_end(const builder *bd, int lo, int hi, int64_t depth)
{
    const int32_t *first = bd->seqs[bd->perm[lo]].tokens;
    for (int64_t at = depth;; at++)
        for (int i = lo; i < hi; i++) {
            int q = bd->perm[i];
            if (bd->len[q] <= at || bd->seqs[q].tokens[at] != first[at])
                return at;
        }
}

/* Splits the sequences of w that go on past `end` by their token there,
 * into children ordered by their first sequence, and pushes them so that the
 * first child is popped first. */
static void push_children(builder *bd, const work *w, int64_t end, int parent)
{
    int r = 0;
    for (int i = w->lo; i < w->hi; i++)
        if (bd->len[bd->perm[i]] > end)
            bd->tmp[r++] = bd->perm[i];
    int out = w->lo, first_child = bd->nstack;
    for (int i = 0; i < r; i++) {
        if (bd->tmp[i] < 0)
            continue;
        int32_t tok = bd->seqs[bd->tmp[i]].tokens[end];
        int lo = out;
        for (int j = i; j < r; j++)
            if (bd->tmp[j] >= 0 && bd->seqs[bd->tmp[j]].tokens[end] == tok) {
                bd->perm[out++] = bd->tmp[j];
                bd->tmp[j] = -1;
            }
        bd->stack[bd->nstack++] = (work){lo, out, end, parent};
    }
    for (int a = first_child, b = bd->nstack - 1; a < b; a++, b--) {
        work x = bd->stack[a];
        bd->stack[a] = bd->stack[b];
        bd->stack[b] = x;
    }
}

/* The segments of the group perm[lo .. hi-1], depth first. */
static void build_group(builder *bd, int lo, int hi)
{
    pe_ptree *t = bd->t;
    bd->stack[bd->nstack++] = (work){lo, hi, 0, -1};
    while (bd->nstack > 0) {
        work w = bd->stack[--bd->nstack];
        int64_t end = common_end(bd, w.lo, w.hi, w.depth);
        int id = w.parent;
        if (end > w.depth) { /* empty only at a root whose sequences differ from the first token */
            id = t->nseg++;
            t->seg_seq[id] = bd->perm[w.lo];
            t->seg_pos0[id] = w.depth;
            t->seg_len[id] = end - w.depth;
            t->parent[id] = w.parent;
        }
        for (int i = w.lo; i < w.hi; i++)
            if (bd->len[bd->perm[i]] == end)
                t->seq_last_seg[bd->perm[i]] = id;
        push_children(bd, &w, end, id);
    }
}

typedef struct group_key {
    int group, seq;
} group_key;

/* By group, then by position in the input. */
static int cmp_group(const void *a, const void *b)
{
    const group_key *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* perm: the sequences ordered by group, then by input position. */
static int order_by_group(const pe_seq *seqs, int nseqs, int *perm, pe_err *e)
{
    group_key *k = pe_malloc(((size_t)nseqs + 1) * sizeof *k, e);
    if (!k)
        return e->code;
    for (int i = 0; i < nseqs; i++)
        k[i] = (group_key){seqs[i].group, i};
    qsort(k, (size_t)nseqs, sizeof *k, cmp_group);
    for (int i = 0; i < nseqs; i++)
        perm[i] = k[i].seq;
    free(k);
    return PE_OK;
}

static int cmp_tuple(const void *a, const void *b)
{
    const read_tuple *x = a, *y = b;
    if (x->seg != y->seg) return x->seg < y->seg ? -1 : 1;
    if (x->pos != y->pos) return x->pos < y->pos ? -1 : 1;
    if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
    return (x->step > y->step) - (x->step < y->step);
}

/* One tuple per read-out of every sequence, naming the segment on the
 * sequence's path that holds the read-out's position. path: nseg ints. */
static int64_t collect_reads(const pe_ptree *t, const pe_seq *seqs, int nseqs, int *path, read_tuple *tu)
{
    int64_t n = 0;
    for (int i = 0; i < nseqs; i++) {
        int depth = 0;
        for (int s = t->seq_last_seg[i]; s >= 0; s = t->parent[s])
            path[depth++] = s;
        int k = depth - 1; /* the root first */
        for (int64_t r = 0; r < seqs[i].nread; r++) {
            int64_t p = seqs[i].readout[r];
            while (p >= t->seg_pos0[path[k]] + t->seg_len[path[k]])
                k--; /* the last read-out ends the deepest segment, so k stays >= 0 */
            tu[n++] = (read_tuple){path[k], i, p, r};
        }
    }
    return n;
}

/* Distinct (segment, position) read-outs and their targets from the sorted tuples. */
static void dedup_reads(pe_ptree *t, const read_tuple *tu, int64_t n)
{
    int64_t r = 0;
    int s = 0;
    for (int64_t k = 0; k < n; k++) {
        if (k == 0 || tu[k].seg != tu[k - 1].seg || tu[k].pos != tu[k - 1].pos) {
            while (s <= tu[k].seg)
                t->read_start[s++] = r;
            t->read_pos[r] = tu[k].pos;
            t->tgt_start[r++] = k;
        }
        t->tgt_seq[k] = tu[k].seq;
        t->tgt_step[k] = tu[k].step;
    }
    while (s <= t->nseg)
        t->read_start[s++] = r;
    t->tgt_start[r] = n;
    t->nread = r;
}

static int alloc_tree(pe_ptree *t, int nseqs, int64_t ntarget, pe_err *e)
{
    size_t ns = 2 * (size_t)nseqs + 1, nt = (size_t)ntarget + 1;
    t->seg_seq = pe_malloc(ns * sizeof *t->seg_seq, e);
    t->seg_pos0 = pe_malloc(ns * sizeof *t->seg_pos0, e);
    t->seg_len = pe_malloc(ns * sizeof *t->seg_len, e);
    t->parent = pe_malloc(ns * sizeof *t->parent, e);
    t->last_desc = pe_malloc(ns * sizeof *t->last_desc, e);
    t->read_start = pe_malloc((ns + 1) * sizeof *t->read_start, e);
    t->read_pos = pe_malloc(nt * sizeof *t->read_pos, e);
    t->tgt_start = pe_malloc((nt + 1) * sizeof *t->tgt_start, e);
    t->tgt_seq = pe_malloc(nt * sizeof *t->tgt_seq, e);
    t->tgt_step = pe_malloc(nt * sizeof *t->tgt_step, e);
    t->seq_last_seg = pe_malloc(((size_t)nseqs + 1) * sizeof *t->seq_last_seg, e);
    if (!t->seg_seq || !t->seg_pos0 || !t->seg_len || !t->parent || !t->last_desc || !t->read_start ||
        !t->read_pos || !t->tgt_start || !t->tgt_seq || !t->tgt_step || !t->seq_last_seg)
        return e->code;
    return PE_OK;
}

static int build_segments(pe_ptree *t, const pe_seq *seqs, int nseqs, pe_err *e)
{
    builder bd = {.seqs = seqs, .t = t};
    size_t n1 = (size_t)nseqs + 1;
    bd.len = pe_malloc(n1 * sizeof *bd.len, e);
    bd.perm = pe_malloc(n1 * sizeof *bd.perm, e);
    bd.tmp = pe_malloc(n1 * sizeof *bd.tmp, e);
    bd.stack = pe_malloc((2 * n1 + 1) * sizeof *bd.stack, e);
    int rc = bd.len && bd.perm && bd.tmp && bd.stack ? PE_OK : e->code;
    for (int i = 0; rc == PE_OK && i < nseqs; i++)
        bd.len[i] = seqs[i].readout[seqs[i].nread - 1] + 1;
    if (rc == PE_OK)
        rc = order_by_group(seqs, nseqs, bd.perm, e);
    for (int lo = 0, hi; rc == PE_OK && lo < nseqs; lo = hi) {
        for (hi = lo + 1; hi < nseqs && seqs[bd.perm[hi]].group == seqs[bd.perm[lo]].group; hi++)
            ;
        build_group(&bd, lo, hi);
    }
    /* pre-order: a subtree ends where its last child's subtree ends */
    for (int s = t->nseg - 1; rc == PE_OK && s >= 0; s--)
        t->last_desc[s] = s;
    for (int s = t->nseg - 1; rc == PE_OK && s >= 0; s--)
        if (t->parent[s] >= 0 && t->last_desc[s] > t->last_desc[t->parent[s]])
            t->last_desc[t->parent[s]] = t->last_desc[s];
    free(bd.len);
    free(bd.perm);
    free(bd.tmp);
    free(bd.stack);
    return rc;
}

int pe_ptree_build(const pe_seq *seqs, int nseqs, pe_ptree *t, pe_err *e)
{
    memset(t, 0, sizeof *t);
    int64_t ntarget = 0;
    for (int i = 0; i < nseqs; i++) {
        if (check_seq(&seqs[i], i, e))
            return e->code;
        ntarget += seqs[i].nread;
    }
    if (alloc_tree(t, nseqs, ntarget, e) || build_segments(t, seqs, nseqs, e)) {
        pe_ptree_free(t);
        return e->code;
    }
    int *path = pe_malloc(((size_t)t->nseg + 1) * sizeof *path, e);
    read_tuple *tu = pe_malloc(((size_t)ntarget + 1) * sizeof *tu, e);
    if (!path || !tu) {
        free(path);
        free(tu);
        pe_ptree_free(t);
        return e->code;
    }
    int64_t n = collect_reads(t, seqs, nseqs, path, tu);
    qsort(tu, (size_t)n, sizeof *tu, cmp_tuple);
    dedup_reads(t, tu, n);
    free(path);
    free(tu);
    return PE_OK;
}

void pe_ptree_free(pe_ptree *t)
{
    free(t->seg_seq);
    free(t->seg_pos0);
    free(t->seg_len);
    free(t->parent);
    free(t->last_desc);
    free(t->read_start);
    free(t->read_pos);
    free(t->tgt_start);
    free(t->tgt_seq);
    free(t->tgt_step);
    free(t->seq_last_seg);
    memset(t, 0, sizeof *t);
}
