/* The batching engine: a hand-worked plan, then random sequence sets checked
 * for the invariants (every sequence exactly once and in order, budgets kept,
 * long sequences alone, no padding) and the read-out map, through a fake
 * backend whose reward at a position is the token there, with tokens that
 * encode (sequence, position). */
#include <stdlib.h>
#include <string.h>

#include "backend/engine.h"
#include "check.h"

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

typedef struct fake {
    int64_t budget;
    int calls, violations;
} fake;

/* token = seq * 4096 + position: checks the packing from inside the backend. */
static int fake_score(pe_backend *b, const pe_batch *x, float *rewards, pe_err *e)
{
    fake *f = b->impl;
    (void)e;
    f->calls++;
    if (x->seq_start[0] != 0 || x->seq_start[x->nseq] != x->ntok)
        f->violations++;
    if (x->nseq > 1 && x->ntok > f->budget)
        f->violations++;
    for (int s = 0; s < x->nseq; s++)
        for (int64_t i = x->seq_start[s]; i < x->seq_start[s + 1]; i++)
            if (x->tokens[i] % 4096 != i - x->seq_start[s])
                f->violations++; /* positions restart at 0, no padding */
    for (int64_t k = 0; k < x->nread; k++)
        rewards[k] = (float)x->tokens[x->readout[k]];
    return PE_OK;
}

/* pe_engine_score keeps no slot (whole sequences): a release is a violation. */
static int fake_release(pe_backend *b, const int *slots, int n, pe_err *e)
{
    fake *f = b->impl;
    (void)slots;
    f->violations++;
    return pe_fail(e, PE_EGENERIC, "fake backend: release of %d slots, none kept", n);
}

static void test_plan_by_hand(void)
{
    /* lengths 3,4,10,2,2,1 with budget 8: [3,4] [10 alone] [2,2,1] */
    int64_t len[6] = {3, 4, 10, 2, 2, 1};
    pe_seq s[6];
    memset(s, 0, sizeof s);
    for (int i = 0; i < 6; i++)
        s[i].ntok = len[i];
    int *first, nb;
    pe_err e = {0};
    CHECK_INT(pe_engine_plan(s, 6, 8, &first, &nb, &e), 0);
    CHECK_INT(nb, 3);
    CHECK(first[0] == 0 && first[1] == 2 && first[2] == 3 && first[3] == 6);
    free(first);
    /* exact fit: 4+4 = 8 stays one batch */
    s[0].ntok = 4;
    CHECK_INT(pe_engine_plan(s, 2, 8, &first, &nb, &e), 0);
    CHECK_INT(nb, 1);
    free(first);
    CHECK_INT(pe_engine_plan(s, 0, 8, &first, &nb, &e), 0);
    CHECK_INT(nb, 0);
    free(first);
    CHECK_INT(pe_engine_plan(s, 2, 0, &first, &nb, &e), PE_EUSAGE);
    CHECK(strstr(e.msg, "token_budget") != NULL);
}

static void test_random(int round)
{
    int n = 1 + (int)rnd(60);
    int64_t budget = 1 + rnd(300);
    pe_seq *s = calloc((size_t)n, sizeof *s);
    float **rw = calloc((size_t)n, sizeof *rw);
    for (int i = 0; i < n; i++) {
        int64_t len = 1 + rnd(rnd(4) == 0 ? 600 : 120);
        int32_t *t = malloc((size_t)len * sizeof *t);
        for (int64_t p = 0; p < len; p++)
            t[p] = i * 4096 + (int32_t)p;
        int64_t nr = rnd((uint32_t)(len < 8 ? len + 1 : 8));
        int64_t *ro = malloc((size_t)(nr ? nr : 1) * sizeof *ro);
        for (int64_t r = 0; r < nr; r++)
            ro[r] = (r == 0 ? 0 : ro[r - 1] + 1) + rnd((uint32_t)((len - nr) / (nr ? nr : 1) + 1));
        for (int64_t r = 0; r < nr; r++)
            if (ro[r] >= len)
                ro[r] = len - 1;
        s[i] = (pe_seq){t, len, ro, nr, 1000 + i, i};
        rw[i] = malloc((size_t)(nr ? nr : 1) * sizeof **rw);
        for (int64_t r = 0; r < nr; r++)
            rw[i][r] = -1.0f;
    }

    /* plan invariants */
    int *first, nb;
    pe_err e = {0};
    CHECK_INT(pe_engine_plan(s, n, budget, &first, &nb, &e), 0);
    int ok = first[0] == 0 && first[nb] == n;
    for (int b = 0; b < nb; b++) {
        int64_t tok = 0;
        ok &= first[b + 1] > first[b]; /* non-empty, in order: each sequence exactly once */
        for (int i = first[b]; i < first[b + 1]; i++)
            tok += s[i].ntok;
        ok &= tok <= budget || first[b + 1] - first[b] == 1;
        /* greedy: the next batch's first sequence did not fit */
        if (b + 1 < nb)
            ok &= tok + s[first[b + 1]].ntok > budget;
    }
    if (!ok)
        fprintf(stderr, "round %d: plan invariant broken (n=%d budget=%lld)\n", round, n, (long long)budget);
    CHECK(ok);
    free(first);

    /* the read-out map, through the fake backend */
    fake f = {budget, 0, 0};
    pe_backend b = {.name = "fake", .impl = &f, .score = fake_score, .release = fake_release};
    pe_engine_stats st;
    CHECK_INT(pe_engine_score(&b, s, n, budget, rw, &st, &e), 0);
    CHECK_INT(f.violations, 0);
    int64_t want_read = 0, want_tok = 0;
    int mapped = 1;
    for (int i = 0; i < n; i++) {
        want_read += s[i].nread;
        if (s[i].nread)
            want_tok += s[i].ntok;
        for (int64_t r = 0; r < s[i].nread; r++)
            mapped &= rw[i][r] == (float)(i * 4096 + s[i].readout[r]);
    }
    CHECK(mapped);
    CHECK_INT(st.readouts, want_read);
    CHECK_INT(st.tokens, want_tok); /* only sequences with read-outs run */
    CHECK_INT(st.nbatches, f.calls);
    for (int i = 0; i < n; i++) {
        free((void *)s[i].tokens);
        free((void *)s[i].readout);
        free(rw[i]);
    }
    free(s);
    free(rw);
}

static void test_bad_readout(void)
{
    int32_t t[3] = {1, 2, 3};
    int64_t ro[1] = {3};
    pe_seq s = {t, 3, ro, 1, 42, 0};
    pe_packed p;
    pe_err e = {0};
    CHECK_INT(pe_engine_pack(&s, 0, 1, &p, &e), PE_EGENERIC);
    CHECK(strstr(e.msg, "sample 42") != NULL);
}

static int toy_encode(const void *ctx, const char *text, size_t len, int32_t **ids, size_t *n, pe_err *e)
{
    (void)ctx;
    /* one id per non-space byte, like "▁+" "▁-" */
    int32_t *o = pe_malloc((len + 1) * sizeof *o, e);
    size_t k = 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] != ' ')
            o[k++] = 600 + (unsigned char)text[i];
    *ids = o;
    *n = k;
    return PE_OK;
}

static void test_head(void)
{
    pe_encoder enc = {NULL, toy_encode, NULL, 1};
    pe_head_spec h;
    pe_err e = {0};
    CHECK_INT(pe_family_head(pe_family_by_name("math-shepherd"), &enc, &h, &e), 0);
    CHECK(h.d.rows == PE_ROWS_LM_TOKENS && h.d.read == PE_READ_SOFTMAX_PICK && h.d.pick == 0 &&
          h.tok[0] == 600 + '+' && h.tok[1] == 600 + '-');
    CHECK_INT(pe_family_head(pe_family_by_name("rlhflow"), &enc, &h, &e), 0);
    CHECK(h.d.rows == PE_ROWS_LM_FULL && h.tok[0] == 600 + '+' && h.tok[1] == -1);
    CHECK_INT(pe_family_head(pe_family_by_name("qwen-prm"), &enc, &h, &e), 0);
    CHECK(h.d.rows == PE_ROWS_TENSOR && h.d.mlp_w && !strcmp(h.d.w, "score.2.weight") && h.d.pick == 1 &&
          h.tok[0] == -1);
    CHECK_INT(pe_family_head(pe_family_by_name("skywork"), &enc, &h, &e), 0);
    CHECK(h.d.rows == PE_ROWS_TENSOR && h.d.read == PE_READ_SIGMOID && !h.d.mlp_w && !strcmp(h.d.b, "v_head.summary.bias"));
}

int main(void)
{
    test_plan_by_hand();
    for (int r = 0; r < 300; r++)
        test_random(r);
    test_bad_readout();
    test_head();
    return pe_check_done();
}
