/* pe_batch_check (src/backend/batch.c), the one validation of a batch both
 * backends make: a well-formed batch with prefix reuse passes, and each
 * malformed variant is refused with PE_EINPUT naming what is wrong. The same
 * for pe_release_check, the validation of a release list. */
#include <string.h>

#include "backend/backend.h"
#include "check.h"

/* Segments: 0 = tokens 0..2 at positions 4..6 after slot 1 (positions 0..3),
 * 1 = tokens 3..4 at positions 7..8 after slot 1 and segment 0, kept in slot 0
 * (freed first by the eviction). Slots: 0 (positions 0..1), 1 (0..3), 2 empty. */
typedef struct fixture {
    int32_t tokens[5];
    int64_t seq_start[3], readout[2], pos0[2];
    int ctx_start[3], keep[2], evict[1];
    pe_kv_ref ctx[3];
    int64_t slot_pos0[3], slot_len[3];
    pe_batch b;
} fixture;

static void setup(fixture *f)
{
    memset(f, 0, sizeof *f);
    for (int i = 0; i < 5; i++)
        f->tokens[i] = i + 1;
    f->seq_start[0] = 0, f->seq_start[1] = 3, f->seq_start[2] = 5;
    f->readout[0] = 2, f->readout[1] = 4;
    f->pos0[0] = 4, f->pos0[1] = 7;
    f->ctx_start[0] = 0, f->ctx_start[1] = 1, f->ctx_start[2] = 3;
    f->ctx[0] = (pe_kv_ref){-1, 1};
    f->ctx[1] = (pe_kv_ref){-1, 1};
    f->ctx[2] = (pe_kv_ref){0, -1};
    f->keep[0] = -1, f->keep[1] = 0;
    f->evict[0] = 0;
    f->slot_pos0[0] = 0, f->slot_len[0] = 2;
    f->slot_pos0[1] = 0, f->slot_len[1] = 4;
    f->b = (pe_batch){.tokens = f->tokens, .ntok = 5, .seq_start = f->seq_start, .nseq = 2, .readout = f->readout,
                      .nread = 2, .pos0 = f->pos0, .ctx_start = f->ctx_start, .ctx = f->ctx, .keep = f->keep,
                      .evict = f->evict, .nevict = 1};
}

static int check(fixture *f, pe_err *e, int64_t *max_len)
{
    pe_err_clear(e);
    return pe_batch_check(&f->b, 16, 3, f->slot_pos0, f->slot_len, max_len, e);
}

#define REFUSED(f, e, what) do { \
    int64_t ml_; \
    CHECK_INT(check(f, e, &ml_), PE_EINPUT); \
    if (!strstr((e)->msg, what)) fprintf(stderr, "message \"%s\" lacks \"%s\"\n", (e)->msg, what); \
    CHECK(strstr((e)->msg, what) != NULL); \
    setup(f); \
} while (0)

/* Release lists against slots 0 (2 tokens), 1 (4 tokens), 2 (empty). */
static void test_release_check(void)
{
    const int64_t len[3] = {2, 4, 0};
    pe_err e = {0};
    const int ok[2] = {1, 0};
    CHECK_INT(pe_release_check(ok, 2, 3, len, &e), PE_OK);
    CHECK_INT(pe_release_check(NULL, 0, 3, len, &e), PE_OK);
    CHECK_INT(pe_release_check(NULL, 0, 0, NULL, &e), PE_OK);
    struct { int slots[2], n; const char *what; } bad[] = {
        {{2, 0}, 1, "entry 0 names slot 2, which holds nothing"}, /* empty: refused, as an eviction */
        {{0, 3}, 2, "entry 1 names slot 3, which holds nothing"}, /* past the table */
        {{-1, 0}, 1, "names slot -1"},
        {{1, 1}, 2, "slot 1 is named twice"},
        {{0, 0}, -1, "-1 slots"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pe_err_clear(&e);
        CHECK_INT(pe_release_check(bad[i].slots, bad[i].n, 3, len, &e), PE_EINPUT);
        if (!strstr(e.msg, bad[i].what))
            fprintf(stderr, "message \"%s\" lacks \"%s\"\n", e.msg, bad[i].what);
        CHECK(strstr(e.msg, bad[i].what) != NULL);
    }
    pe_err_clear(&e);
    CHECK_INT(pe_release_check(NULL, 1, 3, len, &e), PE_EINPUT);
    pe_err_clear(&e);
    CHECK_INT(pe_release_check(ok, 1, 0, NULL, &e), PE_EINPUT); /* no table: nothing to free */
}

int main(void)
{
    test_release_check();
    fixture f;
    pe_err e = {0};
    int64_t max_len = 0;
    setup(&f);
    CHECK_INT(check(&f, &e, &max_len), PE_OK);
    CHECK_INT(max_len, 9); /* segment 1 spans positions 0..8 */

    /* an ancestor later in the batch (or the segment itself) */
    f.ctx[0] = (pe_kv_ref){1, -1};
    REFUSED(&f, &e, "must come earlier in the batch");
    f.ctx[2] = (pe_kv_ref){1, -1};
    REFUSED(&f, &e, "must come earlier in the batch");
    /* wrong positions: the segment does not start where its ancestors end,
     * an ancestor does not start where the one before it ends */
    f.pos0[1] = 8;
    REFUSED(&f, &e, "starts at position 8 but its ancestors end at 7");
    f.ctx[1] = (pe_kv_ref){0, -1};
    f.ctx[2] = (pe_kv_ref){-1, 1};
    REFUSED(&f, &e, "ancestor 0 of segment 1 starts at position 4, expected 0");
    f.pos0[0] = -1;
    REFUSED(&f, &e, "negative position");
    /* a slot that holds nothing: empty, past the table, or evicted by this batch */
    f.ctx[0] = (pe_kv_ref){-1, 2};
    REFUSED(&f, &e, "reads cache slot 2, which holds nothing");
    f.ctx[0] = (pe_kv_ref){-1, 3};
    REFUSED(&f, &e, "reads cache slot 3, which holds nothing");
    f.evict[0] = 1;
    f.keep[1] = -1;
    REFUSED(&f, &e, "reads cache slot 1, which holds nothing");
    f.evict[0] = 2;
    REFUSED(&f, &e, "eviction 0 names slot 2, which holds nothing");
    /* a ref naming both or neither */
    f.ctx[2] = (pe_kv_ref){0, 1};
    REFUSED(&f, &e, "names neither one segment nor one slot");
    f.ctx[2] = (pe_kv_ref){-1, -1};
    REFUSED(&f, &e, "names neither one segment nor one slot");
    /* keeps: twice the same slot, a slot in use, an absurd slot */
    f.keep[0] = 0;
    REFUSED(&f, &e, "segments 0 and 1 keep into the same slot 0");
    f.keep[1] = 1;
    REFUSED(&f, &e, "keeps into slot 1, which is in use");
    f.b.nevict = 0;
    REFUSED(&f, &e, "keeps into slot 0, which is in use");
    f.keep[1] = 1000;
    REFUSED(&f, &e, "keeps into slot 1000");
    /* reuse fields without positions; a missing slot table */
    f.b.pos0 = NULL;
    REFUSED(&f, &e, "without segment positions");
    f.ctx_start[0] = 1;
    REFUSED(&f, &e, "ancestors must start at index 0");
    f.ctx_start[2] = 0;
    REFUSED(&f, &e, "ctx_start decreases at segment 1");
    pe_err_clear(&e);
    CHECK_INT(pe_batch_check(&f.b, 16, 3, NULL, NULL, &max_len, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "slot table is missing") != NULL);
    /* the fixture is still well-formed after all that */
    CHECK_INT(check(&f, &e, &max_len), PE_OK);
    return pe_check_done();
}
