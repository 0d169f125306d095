/* The engine's schedule with prefix reuse (engine.h, prefix_tree.h), through
 * a fake backend that checks every batch with pe_batch_check against its own
 * slot table and "computes" a reward that depends on the whole causal prefix:
 * a polynomial hash of the token ids up to the read-out, composed over the
 * ancestors' spans (in-batch segments or cache slots) as an attention would,
 * and the read-out's position. The oracle hashes each sequence's own tokens,
 * so every reward checks the tree, the positions, the ancestors and the
 * scatter exactly. The fake counts every slot kept, evicted and released:
 * after each schedule all it ever kept is freed, the release comes after the
 * last batch, and no batch beyond the schedule's is scored. A hand-worked shard gives the expected batches; random
 * shards are run for every token_budget and several cache bounds. */
#include <stdlib.h>
#include <string.h>

#include "backend/engine.h"
#include "check.h"

#define HB 0x100000001b3ull /* hash base (odd) */
#define FAKE_SLOTS 256
#define KV 10               /* the fake's bytes per kept token */

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t hpow(int64_t n)
{
    uint64_t r = 1;
    while (n-- > 0)
        r *= HB;
    return r;
}

static uint64_t hash_tokens(uint64_t h, const int32_t *t, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        h = h * HB + (uint64_t)(t[i] + 1);
    return h;
}

/* The two rewards of a read-out at position pos whose prefix hashes to h:
 * exact in float (24 bits and a small integer). */
static void reward_of(uint64_t h, int64_t pos, float *out)
{
    out[0] = (float)(mix64(h ^ (uint64_t)pos) >> 40);
    out[1] = (float)pos;
}

typedef struct fake {
    int64_t budget, bound;
    int nslots;                       /* the table's size: slots ever used */
    int64_t slot_pos0[FAKE_SLOTS], slot_len[FAKE_SLOTS];
    uint64_t slot_hash[FAKE_SLOTS];   /* hash of the slot's own tokens */
    int64_t held, peak, tokens;
    int calls, violations;
    int nbatches;                     /* the schedule's batches, set by run_shard */
    int keeps, evicts, releases, released; /* slots kept/evicted; release calls, slots released */
} fake;

static void violation(fake *f, const char *what, int64_t a)
{
    if (f->violations++ < 5)
        fprintf(stderr, "fake backend: %s (%lld)\n", what, (long long)a);
}

static int64_t fake_used_slots(const fake *f)
{
    int64_t n = 0;
    for (int k = 0; k < f->nslots; k++)
        n += f->slot_len[k] > 0;
    return n;
}

static int fake_score(pe_backend *b, const pe_batch *x, float *rewards, pe_err *e)
{
    fake *f = b->impl;
    int64_t max_len;
    f->calls++;
    if (pe_batch_check(x, 16, f->nslots, f->slot_pos0, f->slot_len, &max_len, e))
        return e->code;
    /* the budget: a batch past it is one segment with the ancestors it recomputes */
    if (x->ntok > f->budget && x->nseq > 1) {
        int last = x->nseq - 1;
        if (!x->ctx_start || x->ctx_start[last + 1] - x->ctx_start[last] < last)
            violation(f, "batch over the budget holds more than a segment and its ancestors", x->ntok);
    }
    if (f->releases > 0)
        violation(f, "a batch scored after the release", f->calls);
    for (int i = 0; i < x->nevict; i++) {
        f->held -= KV * f->slot_len[x->evict[i]];
        f->slot_len[x->evict[i]] = 0;
        f->evicts++;
    }
    uint64_t *local = malloc((size_t)x->nseq * sizeof *local);
    for (int s = 0; s < x->nseq; s++) {
        int64_t a = x->seq_start[s], n = x->seq_start[s + 1] - a, p0 = x->pos0 ? x->pos0[s] : 0;
        local[s] = hash_tokens(0, x->tokens + a, n);
        uint64_t h = 0; /* the prefix before the segment, from the ancestors in order */
        for (int c = x->ctx_start ? x->ctx_start[s] : 0; x->ctx_start && c < x->ctx_start[s + 1]; c++) {
            pe_kv_ref r = x->ctx[c];
            int64_t len = r.seg >= 0 ? x->seq_start[r.seg + 1] - x->seq_start[r.seg] : f->slot_len[r.slot];
            h = h * hpow(len) + (r.seg >= 0 ? local[r.seg] : f->slot_hash[r.slot]);
        }
        for (int64_t t = a; t < a + n; t++) {
            h = h * HB + (uint64_t)(x->tokens[t] + 1);
            for (int64_t k = 0; k < x->nread; k++)
                if (x->readout[k] == t)
                    reward_of(h, p0 + t - a, rewards + 2 * k);
        }
    }
    for (int s = 0; x->keep && s < x->nseq; s++) {
        int k = x->keep[s];
        if (k < 0)
            continue;
        if (k >= FAKE_SLOTS) {
            violation(f, "slot id past the fake's table", k);
            continue;
        }
        if (k >= f->nslots)
            f->nslots = k + 1;
        f->slot_pos0[k] = x->pos0[s];
        f->slot_len[k] = x->seq_start[s + 1] - x->seq_start[s];
        f->slot_hash[k] = local[s];
        f->held += KV * f->slot_len[k];
        f->keeps++;
    }
    free(local);
    if (f->held > f->peak)
        f->peak = f->held;
    int computes = x->nread > 0; /* as the CPU backend: nothing to read or keep, nothing to compute */
    for (int s = 0; x->keep && s < x->nseq; s++)
        computes |= x->keep[s] >= 0;
    f->tokens += computes ? x->ntok : 0;
    return PE_OK;
}

/* Checks the list on its own (not with pe_release_check, which the backends
 * use): every slot named is in the table, filled and named once. */
static int fake_release(pe_backend *b, const int *slots, int n, pe_err *e)
{
    fake *f = b->impl;
    f->releases++;
    if (f->calls != f->nbatches)
        violation(f, "release not right after the schedule's last batch: batches scored", f->calls);
    if (n <= 0 || !slots)
        return pe_fail(e, PE_EGENERIC, "fake backend: release of %d slots", n);
    for (int i = 0; i < n; i++) {
        int k = slots[i];
        if (k < 0 || k >= f->nslots || f->slot_len[k] <= 0)
            return pe_fail(e, PE_EGENERIC, "fake backend: release names slot %d, which holds nothing", k);
        for (int j = 0; j < i; j++)
            if (slots[j] == k)
                return pe_fail(e, PE_EGENERIC, "fake backend: release names slot %d twice", k);
    }
    for (int i = 0; i < n; i++) {
        f->held -= KV * f->slot_len[slots[i]];
        f->slot_len[slots[i]] = 0;
        f->released++;
    }
    return PE_OK;
}

/* After a schedule: every slot kept has been evicted or released, nothing is
 * held, and the fake scored exactly the schedule's batches. */
static int fake_clean(const fake *f)
{
    return f->keeps == f->evicts + f->released && fake_used_slots(f) == 0 && f->held == 0 && f->calls == f->nbatches &&
           f->releases <= 1;
}

/* ---- shards ---------------------------------------------------------------- */

typedef struct shard {
    int n;
    pe_seq s[48];
    int32_t tok[48][40];
    int64_t ro[48][40];
} shard;

static void add_seq(shard *sh, int group, const int32_t *t, int64_t n, const int64_t *ro, int64_t nr)
{
    int i = sh->n++;
    memcpy(sh->tok[i], t, (size_t)n * sizeof *t);
    if (nr > 0)
        memcpy(sh->ro[i], ro, (size_t)nr * sizeof *ro);
    sh->s[i] = (pe_seq){sh->tok[i], n, sh->ro[i], nr, 100 + i, group};
}

static float **alloc_rewards(const shard *sh)
{
    float **rw = calloc((size_t)(unsigned)sh->n + 1, sizeof *rw);
    for (int i = 0; i < sh->n; i++) {
        rw[i] = malloc((size_t)(sh->s[i].nread + 1) * 2 * sizeof **rw);
        for (int64_t k = 0; k < 2 * sh->s[i].nread; k++)
            rw[i][k] = -1.0f;
    }
    return rw;
}

static void free_rewards(const shard *sh, float **rw)
{
    for (int i = 0; i < sh->n; i++)
        free(rw[i]);
    free(rw);
}

/* Every reward equals the oracle's, bit for bit. */
static int rewards_ok(const shard *sh, float *const *rw)
{
    for (int i = 0; i < sh->n; i++)
        for (int64_t r = 0; r < sh->s[i].nread; r++) {
            float want[2];
            int64_t p = sh->s[i].readout[r];
            reward_of(hash_tokens(0, sh->s[i].tokens, p + 1), p, want);
            if (memcmp(want, rw[i] + 2 * r, sizeof want)) {
                fprintf(stderr, "sequence %d read-out %lld: reward %g/%g, expected %g/%g\n", i, (long long)r,
                        rw[i][2 * r], rw[i][2 * r + 1], want[0], want[1]);
                return 0;
            }
        }
    return 1;
}

/* Independent counts: tokens of the tree (distinct prefixes of each group's
 * sequences cut after their last read-out) and distinct read-outs. */
static int64_t lcp(const pe_seq *a, const pe_seq *b)
{
    int64_t n = 0;
    while (n < a->ntok && n < b->ntok && a->tokens[n] == b->tokens[n])
        n++;
    return n;
}

static void oracle_counts(const shard *sh, int64_t *tree_tokens, int64_t *distinct_reads)
{
    *tree_tokens = *distinct_reads = 0;
    for (int i = 0; i < sh->n; i++) {
        const pe_seq *a = &sh->s[i];
        if (a->nread == 0)
            continue;
        int64_t len = a->readout[a->nread - 1] + 1, shared = 0;
        for (int j = 0; j < i; j++) {
            const pe_seq *b = &sh->s[j];
            if (b->group != a->group || b->nread == 0)
                continue;
            int64_t blen = b->readout[b->nread - 1] + 1, l = lcp(a, b);
            if (l > blen) l = blen;
            if (l > shared) shared = l;
        }
        *tree_tokens += len - (shared < len ? shared : len);
        for (int64_t r = 0; r < a->nread; r++) {
            int seen = r > 0 && a->readout[r - 1] == a->readout[r];
            for (int j = 0; j < i && !seen; j++) {
                const pe_seq *b = &sh->s[j];
                if (b->group != a->group || lcp(a, b) <= a->readout[r])
                    continue;
                for (int64_t q = 0; q < b->nread; q++)
                    seen |= b->readout[q] == a->readout[r];
            }
            *distinct_reads += !seen;
        }
    }
}

typedef struct totals {
    int nbatches, sequences;
    int64_t tokens, prompt, readouts, recomputed, max_cache;
} totals;

/* Runs the shard through a fresh schedule on a fake; 0 when built and run. */
static int run_shard(const shard *sh, int reuse, int64_t budget, int64_t bound, float **rw, fake *f, totals *tt,
                     pe_schedule_stats *per_batch, int max_batches)
{
    memset(f, 0, sizeof *f);
    f->budget = budget;
    f->bound = bound;
    memset(tt, 0, sizeof *tt);
    pe_backend b = {.name = "fake", .impl = f, .nout = 2, .kv_bytes_per_token = KV, .score = fake_score,
                    .release = fake_release};
    pe_engine_opts o = {.token_budget = budget, .prefix_reuse = reuse, .cache_bytes = bound};
    pe_schedule *s;
    pe_err e = {0};
    if (pe_schedule_build(sh->s, sh->n, &o, KV, &s, &e)) {
        fprintf(stderr, "build: %s\n", e.msg);
        return 1;
    }
    tt->nbatches = f->nbatches = pe_schedule_nbatches(s);
    for (int bi = 0; bi < tt->nbatches; bi++) {
        pe_schedule_stats st;
        if (pe_schedule_run(&b, s, bi, rw, &st, &e)) {
            fprintf(stderr, "batch %d: %s\n", bi, e.msg);
            pe_schedule_free(s);
            return 1;
        }
        if (per_batch && bi < max_batches)
            per_batch[bi] = st;
        tt->sequences += st.sequences;
        tt->tokens += st.tokens;
        tt->prompt += st.prompt_tokens;
        tt->readouts += st.readouts;
        tt->recomputed += st.recomputed;
        if (st.cache_bytes > tt->max_cache)
            tt->max_cache = st.cache_bytes;
    }
    pe_schedule_free(s);
    return 0;
}

/* ---- a hand-worked shard ----------------------------------------------------
 * group 0: A = 1 2 3 4 5 6 7 (read-outs at 1, 4), B = 1 2 3 8 9 (1, 4),
 *          C = 1 2 6 (2), E = 5 5 (no read-out: not run)
 * group 1: D = 1 2 3 4 5 6 7 (6): A's tokens, another problem, second in the input
 * Tree: S0 = [1 2] (0..1, A's and B's read-out at 1 once), S1 = [3] (2),
 * S2 = [4 5] (3..4, A cut after its last read-out), S3 = [8 9] (3..4),
 * S4 = [6] (2), S5 = D's 7 tokens. 15 tokens, 5 distinct read-outs. */
static void hand_shard(shard *sh, int with_d)
{
    memset(sh, 0, sizeof *sh);
    const int32_t A[] = {1, 2, 3, 4, 5, 6, 7}, B[] = {1, 2, 3, 8, 9}, C[] = {1, 2, 6}, E[] = {5, 5};
    const int64_t ra[] = {1, 4}, rc[] = {2}, rd[] = {6};
    add_seq(sh, 0, A, 7, ra, 2);
    if (with_d) /* the problems' prompts need not be adjacent */
        add_seq(sh, 1, A, 7, rd, 1);
    add_seq(sh, 0, E, 2, NULL, 0);
    add_seq(sh, 0, B, 5, ra, 2);
    add_seq(sh, 0, C, 3, rc, 1);
}

static void check_batches(const char *name, const pe_schedule_stats *got, int nb, const int64_t (*want)[5], int nwant)
{
    int ok = nb == nwant;
    for (int b = 0; ok && b < nb; b++)
        ok = got[b].tokens == want[b][0] && got[b].recomputed == want[b][1] && got[b].sequences == want[b][2] &&
             got[b].readouts == want[b][3] && got[b].cache_bytes == want[b][4];
    if (!ok) {
        fprintf(stderr, "%s: batches (tokens recomputed sequences readouts cache_bytes):\n", name);
        for (int b = 0; b < nb; b++)
            fprintf(stderr, "  %lld %lld %d %lld %lld\n", (long long)got[b].tokens, (long long)got[b].recomputed,
                    got[b].sequences, (long long)got[b].readouts, (long long)got[b].cache_bytes);
    }
    CHECK(ok);
}

static void test_hand(void)
{
    shard sh;
    hand_shard(&sh, 1);
    float **rw = alloc_rewards(&sh);
    fake f;
    totals tt;
    pe_schedule_stats st[8];

    /* one batch holds the whole tree */
    CHECK_INT(run_shard(&sh, 1, 100, 1000, rw, &f, &tt, st, 8), 0);
    const int64_t one[][5] = {{15, 0, 4, 5, 0}};
    check_batches("budget 100", st, tt.nbatches, one, 1);
    CHECK(fake_clean(&f));
    CHECK(rewards_ok(&sh, rw));
    CHECK_INT(tt.prompt, 7 + 5 + 3 + 7);

    /* budget 3, everything fits the cache: S1 has no read-out, so it goes with
     * its first child S2; S0 kept after batch 0, S1 after batch 1, both freed
     * before batch 3; D longer than the budget goes alone */
    CHECK_INT(run_shard(&sh, 1, 3, 1000, rw, &f, &tt, st, 8), 0);
    const int64_t kept[][5] = {{2, 0, 0, 1, 20}, {3, 0, 1, 1, 30}, {3, 0, 2, 2, 30}, {7, 0, 1, 1, 0}};
    check_batches("budget 3, cache 1000", st, tt.nbatches, kept, 4);
    CHECK(fake_clean(&f));
    CHECK(rewards_ok(&sh, rw));
    CHECK_INT(f.violations, 0);
    CHECK_INT(f.peak, 30);

    /* budget 3, no cache: every later child recomputes its ancestors */
    CHECK_INT(run_shard(&sh, 1, 3, 0, rw, &f, &tt, st, 8), 0);
    const int64_t none[][5] = {{2, 0, 0, 1, 0}, {5, 2, 1, 1, 0}, {5, 3, 1, 1, 0}, {3, 2, 1, 1, 0}, {7, 0, 1, 1, 0}};
    check_batches("budget 3, cache 0", st, tt.nbatches, none, 5);
    CHECK(fake_clean(&f));
    CHECK(rewards_ok(&sh, rw));
    CHECK_INT(tt.recomputed, 7);
    CHECK_INT(f.peak, 0);

    /* budget 3, room for 2 tokens: S0 kept, S1 not, so S3 recomputes it */
    CHECK_INT(run_shard(&sh, 1, 3, 2 * KV, rw, &f, &tt, st, 8), 0);
    const int64_t some[][5] = {{2, 0, 0, 1, 20}, {3, 0, 1, 1, 20}, {3, 1, 1, 1, 20}, {1, 0, 1, 1, 20}, {7, 0, 1, 1, 0}};
    check_batches("budget 3, cache 20", st, tt.nbatches, some, 5);
    CHECK(fake_clean(&f));
    CHECK(rewards_ok(&sh, rw));
    CHECK_INT(f.peak, 20);
    CHECK_INT(f.violations, 0);

    /* without reuse: whole sequences, A and D twice the work */
    CHECK_INT(run_shard(&sh, 0, 100, 0, rw, &f, &tt, st, 8), 0);
    const int64_t plain[][5] = {{22, 0, 4, 6, 0}};
    check_batches("no reuse", st, tt.nbatches, plain, 1);
    CHECK(fake_clean(&f));
    CHECK(rewards_ok(&sh, rw));

    /* a backend that keeps nothing (kv_bytes_per_token 0) gets whole sequences */
    pe_engine_opts o = {.token_budget = 3, .prefix_reuse = 1, .cache_bytes = 1000};
    pe_schedule *s;
    pe_err e = {0};
    CHECK_INT(pe_schedule_build(sh.s, sh.n, &o, 0, &s, &e), 0);
    CHECK_INT(pe_schedule_nbatches(s), 4); /* A, D, B and C alone */
    pe_backend b0 = {.name = "fake", .impl = &f, .nout = 2, .score = fake_score, .release = fake_release};
    memset(&f, 0, sizeof f);
    f.budget = 3;
    f.nbatches = 4;
    int64_t tokens = 0;
    for (int bi = 0; bi < 4; bi++) {
        CHECK_INT(pe_schedule_run(&b0, s, bi, rw, &st[0], &e), 0);
        tokens += st[0].tokens;
    }
    CHECK_INT(tokens, 22);
    CHECK_INT(f.violations + f.nslots + f.releases, 0); /* nothing kept, nothing to release */
    CHECK(rewards_ok(&sh, rw));
    pe_schedule_free(s);
    free_rewards(&sh, rw);

    /* group 0 alone: S0 kept after batch 0, S1 after batch 1 (S1 S2), and the
     * last batch (S3 S4) reads both: they are released after it, with no
     * batch beyond the three */
    hand_shard(&sh, 0);
    rw = alloc_rewards(&sh);
    CHECK_INT(run_shard(&sh, 1, 3, 1000, rw, &f, &tt, st, 8), 0);
    CHECK_INT(tt.nbatches, 3);
    CHECK_INT(f.calls, 3);
    CHECK_INT(f.keeps, 2);
    CHECK_INT(f.evicts, 0);
    CHECK_INT(f.releases, 1);
    CHECK_INT(f.released, 2);
    CHECK(fake_clean(&f));
    CHECK_INT(f.violations, 0);
    CHECK(rewards_ok(&sh, rw));
    /* the release's error reaches the caller: a backend without release */
    {
        pe_engine_opts o2 = {.token_budget = 3, .prefix_reuse = 1, .cache_bytes = 1000};
        pe_schedule *s2;
        pe_backend nr = {.name = "norelease", .impl = &f, .nout = 2, .kv_bytes_per_token = KV,
                         .score = fake_score};
        memset(&f, 0, sizeof f);
        f.budget = 3;
        f.nbatches = 3;
        CHECK_INT(pe_schedule_build(sh.s, sh.n, &o2, KV, &s2, &e), 0);
        CHECK_INT(pe_schedule_nbatches(s2), 3);
        CHECK_INT(pe_schedule_run(&nr, s2, 0, rw, NULL, &e), 0);
        CHECK_INT(pe_schedule_run(&nr, s2, 1, rw, NULL, &e), 0);
        CHECK_INT(pe_schedule_run(&nr, s2, 2, rw, NULL, &e), PE_EGENERIC);
        CHECK(strstr(e.msg, "norelease") && strstr(e.msg, "cannot release"));
        CHECK_INT(f.calls, 3);
        pe_schedule_free(s2);
    }
    free_rewards(&sh, rw);
}

/* Small cases named in the spec: a sequence a prefix of another, identical
 * sequences, no sharing, identical sequences in two groups. */
static void test_small_trees(void)
{
    shard sh;
    float **rw;
    fake f;
    totals tt;
    const int32_t x[] = {3, 1, 4, 1, 5}, y[] = {2, 7, 1, 8};
    const int64_t r24[] = {2, 4}, r2[] = {2}, r13[] = {1, 3};
    struct { const char *name; int64_t tokens, reads; } want[4] = {
        {"prefix of another", 5, 2}, {"identical", 5, 2}, {"no sharing", 9, 4}, {"two groups", 10, 4}};
    for (int c = 0; c < 4; c++) {
        memset(&sh, 0, sizeof sh);
        if (c == 0) { add_seq(&sh, 0, x, 3, r2, 1); add_seq(&sh, 0, x, 5, r24, 2); }
        if (c == 1) { add_seq(&sh, 0, x, 5, r24, 2); add_seq(&sh, 0, x, 5, r24, 2); }
        if (c == 2) { add_seq(&sh, 0, x, 5, r24, 2); add_seq(&sh, 0, y, 4, r13, 2); }
        if (c == 3) { add_seq(&sh, 0, x, 5, r24, 2); add_seq(&sh, 1, x, 5, r24, 2); }
        rw = alloc_rewards(&sh);
        int64_t ot, orr;
        oracle_counts(&sh, &ot, &orr);
        CHECK_INT(ot, want[c].tokens);
        CHECK_INT(orr, want[c].reads);
        for (int64_t budget = 1; budget <= 12; budget++) {
            CHECK_INT(run_shard(&sh, 1, budget, 1000, rw, &f, &tt, NULL, 0), 0);
            if (tt.tokens != want[c].tokens || tt.readouts != want[c].reads)
                fprintf(stderr, "%s, budget %lld: %lld tokens, %lld read-outs\n", want[c].name, (long long)budget,
                        (long long)tt.tokens, (long long)tt.readouts);
            CHECK(tt.tokens == want[c].tokens && tt.readouts == want[c].reads);
            CHECK(rewards_ok(&sh, rw));
            CHECK_INT(f.violations + fake_used_slots(&f), 0);
            CHECK(fake_clean(&f));
        }
        free_rewards(&sh, rw);
    }
}

/* Random shards: a few groups whose sequences branch off each other (small
 * vocabulary, so chance sharing too), some identical, some without read-outs. */
static void random_shard(shard *sh)
{
    memset(sh, 0, sizeof *sh);
    int ngroups = 1 + (int)rnd(4);
    for (int g = 0; g < ngroups && sh->n < 40; g++) {
        int32_t base[40];
        for (int i = 0; i < 40; i++)
            base[i] = (int32_t)rnd(3);
        int nseq = 1 + (int)rnd(7);
        for (int q = 0; q < nseq && sh->n < 48; q++) {
            int32_t t[40];
            int64_t n = 1 + rnd(24), keep = rnd((uint32_t)n + 1), ro[40], nr = 0;
            for (int64_t i = 0; i < n; i++)
                t[i] = i < keep ? base[i] : (int32_t)rnd(8);
            if (q > 0 && rnd(5) == 0) { /* a copy of the previous one */
                const pe_seq *p = &sh->s[sh->n - 1];
                add_seq(sh, g, p->tokens, p->ntok, p->readout, p->nread);
                continue;
            }
            for (int64_t i = 0; i < n; i++)
                if (rnd(4) == 0)
                    ro[nr++] = i;
            if (rnd(6) == 0)
                nr = 0;
            add_seq(sh, g, t, n, ro, nr);
        }
    }
    for (int i = sh->n - 1; i > 0; i--) { /* the groups interleaved */
        int j = (int)rnd((uint32_t)i + 1);
        pe_seq x = sh->s[i];
        sh->s[i] = sh->s[j];
        sh->s[j] = x;
    }
}

static void test_random(int round)
{
    shard sh;
    random_shard(&sh);
    float **rw = alloc_rewards(&sh);
    int64_t tree, reads, prompt = 0;
    int live = 0;
    oracle_counts(&sh, &tree, &reads);
    for (int i = 0; i < sh.n; i++)
        if (sh.s[i].nread > 0) {
            prompt += sh.s[i].ntok;
            live++;
        }
    fake f;
    totals tt;
    int bad = 0;

    /* without reuse: today's batches of whole sequences */
    bad |= run_shard(&sh, 0, 1 + rnd(100), 0, rw, &f, &tt, NULL, 0);
    bad |= !rewards_ok(&sh, rw) || tt.tokens != prompt || tt.prompt != prompt || tt.sequences != live;

    const int64_t bounds[] = {0, KV, 3 * KV, 12 * KV, (int64_t)1 << 40};
    for (int bi = 0; bi < 5 && !bad; bi++)
        for (int64_t budget = 1; budget <= tree + 1 && !bad; budget++) {
            free_rewards(&sh, rw);
            rw = alloc_rewards(&sh);
            bad |= run_shard(&sh, 1, budget, bounds[bi], rw, &f, &tt, NULL, 0);
            bad |= !rewards_ok(&sh, rw);
            bad |= f.violations != 0 || !fake_clean(&f) || f.peak > bounds[bi];
            bad |= tt.tokens != tree + tt.recomputed || tt.tokens != f.tokens || tt.readouts != reads;
            bad |= tt.sequences != live || tt.prompt != prompt || tt.max_cache > bounds[bi];
            if (bounds[bi] >= (int64_t)tree * KV)
                bad |= tt.recomputed != 0;
            if (bad)
                fprintf(stderr, "round %d: budget %lld, bound %lld: %lld tokens (tree %lld, recomputed %lld, fake %lld), "
                        "%lld read-outs (%lld), %d sequences (%d), peak %lld\n", round, (long long)budget,
                        (long long)bounds[bi], (long long)tt.tokens, (long long)tree, (long long)tt.recomputed,
                        (long long)f.tokens, (long long)tt.readouts, (long long)reads, tt.sequences, live,
                        (long long)f.peak);
        }
    CHECK(!bad);
    free_rewards(&sh, rw);
}

static void test_bad_input(void)
{
    shard sh;
    memset(&sh, 0, sizeof sh);
    const int32_t x[] = {1, 2, 3};
    const int64_t r[] = {2, 1};
    add_seq(&sh, 0, x, 3, r, 2);
    pe_engine_opts o = {.token_budget = 8, .prefix_reuse = 1, .cache_bytes = 0};
    pe_schedule *s;
    pe_err e = {0};
    CHECK_INT(pe_schedule_build(sh.s, sh.n, &o, KV, &s, &e), PE_EGENERIC);
    CHECK(strstr(e.msg, "sample 100") != NULL);
    sh.ro[0][1] = 3;
    pe_err_clear(&e);
    CHECK_INT(pe_schedule_build(sh.s, sh.n, &o, KV, &s, &e), PE_EGENERIC);
    o.cache_bytes = -1;
    pe_err_clear(&e);
    CHECK_INT(pe_schedule_build(sh.s, sh.n, &o, KV, &s, &e), PE_EUSAGE);
    o.cache_bytes = 0;
    o.token_budget = 0;
    pe_err_clear(&e);
    CHECK_INT(pe_schedule_build(sh.s, sh.n, &o, KV, &s, &e), PE_EUSAGE);
}

int main(void)
{
    test_hand();
    test_small_trees();
    for (int r = 0; r < 150; r++)
        test_random(r);
    test_bad_input();
    return pe_check_done();
}
