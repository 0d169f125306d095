/* The CPU backend with prefix reuse (backend.h, engine.h): tiny synthetic
 * models (prm_synth.h, as test_cpu_golden) score shards of problems whose
 * prompts share prefixes, through the engine's schedule. The oracle is the
 * same backend without reuse (each prompt whole, test_cpu_golden checks it
 * against PyTorch): rewards with reuse are within 1e-5 relative of it (the
 * same bits where the products' period was measured below the tile, blas.h:
 * a segment's rows and read-outs are placed by their absolute positions), and
 * bitwise identical to each other for every token_budget, cache bound (0:
 * every shared ancestor recomputed) and 1, 2 or 3 threads. One backend runs
 * every schedule of a model in turn, so a slot left behind would fail the
 * next schedule's first keep. The release of slots (backend.h) is checked
 * against the allocator's own count of bytes in use: a schedule whose last
 * batch leaves slots filled ends with the heap as it began, and releasing a
 * slot gives back at least its keys/values. */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/blas.h"
#include "backend/engine.h"
#include "check.h"
#include "prm_synth.h"

#define REL_TOL 1e-5

static int exact_products; /* the period is below the tile: reuse gives the same bits */

/* Bytes the allocator has handed out and not had back: ASan's count in the
 * sanitizer build (its malloc replaces glibc's; exact: HEAP_SLACK 0), glibc's
 * (main arena: blocks and mmapped chunks) otherwise; the backend allocates on
 * this thread. glibc counts small freed blocks waiting in its per-thread
 * cache (tcache) as in use, so its count moves by a few hundred bytes without
 * a leak (measured: 80 to 352): HEAP_SLACK bytes of it are let pass, less
 * than the slots a schedule checked here releases (2.8 to 5.4 KiB). */
#if defined(__SANITIZE_ADDRESS__)
#define HEAP_SLACK 0
size_t __sanitizer_get_current_allocated_bytes(void);
static int64_t heap_bytes(void)
{
    return (int64_t)__sanitizer_get_current_allocated_bytes();
}
#else
#define HEAP_SLACK 1024
static int64_t heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (int64_t)(mi.uordblks + mi.hblkhd);
}
#endif
#define MAXSEQ 40
#define MAXTOK 48

static uint64_t rng = 0x853c49e6748fea9bull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

typedef struct shard {
    int n;
    pe_seq s[MAXSEQ];
    int32_t tok[MAXSEQ][MAXTOK];
    int64_t ro[MAXSEQ][MAXTOK];
    int64_t prompt_tokens;
} shard;

/* Problems of 1 to 8 prompts that copy a random stretch of a common stem and
 * go on their own way (as PRMBench's error classes modify one step); some
 * prompts identical, some without read-outs. */
static void make_shard(shard *sh, int vocab)
{
    memset(sh, 0, sizeof *sh);
    for (int g = 0; sh->n < MAXSEQ - 8; g++) {
        int32_t stem[MAXTOK];
        for (int i = 0; i < MAXTOK; i++)
            stem[i] = (int32_t)rnd((uint32_t)vocab);
        int np = 1 + (int)rnd(8);
        for (int q = 0; q < np; q++) {
            int i = sh->n++;
            pe_seq *s = &sh->s[i];
            if (q > 0 && rnd(6) == 0) {
                memcpy(sh->tok[i], sh->tok[i - 1], sizeof sh->tok[i]);
                memcpy(sh->ro[i], sh->ro[i - 1], sizeof sh->ro[i]);
                *s = sh->s[i - 1];
                s->tokens = sh->tok[i];
                s->readout = sh->ro[i];
            } else {
                int64_t n = 8 + rnd(MAXTOK - 8), same = 4 + rnd((uint32_t)n - 3), nr = 0;
                for (int64_t t = 0; t < n; t++) {
                    sh->tok[i][t] = t < same ? stem[t] : (int32_t)rnd((uint32_t)vocab);
                    if (t > 2 && rnd(5) == 0)
                        sh->ro[i][nr++] = t;
                }
                if (rnd(10) == 0)
                    nr = 0;
                *s = (pe_seq){sh->tok[i], n, sh->ro[i], nr, 1000 + i, g};
            }
            s->sample = 1000 + i;
            if (s->nread)
                sh->prompt_tokens += s->ntok;
        }
    }
    for (int i = sh->n - 1; i > 0; i--) { /* the problems' prompts interleaved, as a shard's are */
        int j = (int)rnd((uint32_t)i + 1);
        pe_seq x = sh->s[i];
        sh->s[i] = sh->s[j];
        sh->s[j] = x;
    }
}

typedef struct run_totals {
    int64_t tokens, recomputed, prompt;
} run_totals;

/* Scores the shard into rw (one array per sequence); 0 on success. */
static int score(pe_backend *b, const shard *sh, int reuse, int64_t budget, int64_t bound, float **rw,
                 run_totals *tt)
{
    pe_engine_opts o = {.token_budget = budget, .prefix_reuse = reuse, .cache_bytes = bound};
    pe_schedule *s;
    pe_err e = {0};
    memset(tt, 0, sizeof *tt);
    for (int i = 0; i < sh->n; i++)
        for (int64_t r = 0; r < sh->s[i].nread; r++)
            rw[i][r] = NAN;
    if (pe_schedule_build(sh->s, sh->n, &o, b->kv_bytes_per_token, &s, &e)) {
        fprintf(stderr, "build: %s\n", e.msg);
        return 1;
    }
    int rc = 0;
    for (int bi = 0; !rc && bi < pe_schedule_nbatches(s); bi++) {
        pe_schedule_stats st;
        if ((rc = pe_schedule_run(b, s, bi, rw, &st, &e)))
            fprintf(stderr, "budget %lld, bound %lld, batch %d: %s\n", (long long)budget, (long long)bound, bi,
                    e.msg);
        tt->tokens += st.tokens;
        tt->recomputed += st.recomputed;
        tt->prompt += st.prompt_tokens;
    }
    pe_schedule_free(s);
    return rc;
}

static int same_bits(const shard *sh, float *const *a, float *const *b)
{
    for (int i = 0; i < sh->n; i++)
        if (sh->s[i].nread && memcmp(a[i], b[i], (size_t)sh->s[i].nread * sizeof **a))
            return 0;
    return 1;
}

static double worst_rel(const shard *sh, float *const *a, float *const *ref)
{
    double w = 0;
    for (int i = 0; i < sh->n; i++)
        for (int64_t r = 0; r < sh->s[i].nread; r++) {
            double d = fabs((double)a[i][r] - ref[i][r]) / fmax(fabs((double)ref[i][r]), 1e-30);
            if (!(d <= w))
                w = isnan(d) ? INFINITY : d;
        }
    return w;
}

static float **alloc_rw(const shard *sh)
{
    float **rw = calloc(MAXSEQ, sizeof *rw);
    for (int i = 0; i < sh->n; i++)
        rw[i] = malloc((size_t)(sh->s[i].nread + 1) * sizeof **rw);
    return rw;
}

static void free_rw(float **rw)
{
    for (int i = 0; i < MAXSEQ; i++)
        free(rw[i]);
    free(rw);
}

static pe_config tiny_config(int arch, int H, int NH, int NKV, int D, int window, int llama3)
{
    pe_config c;
    memset(&c, 0, sizeof c);
    c.arch = arch;
    c.hidden_size = H;
    c.num_layers = 2;
    c.num_heads = NH;
    c.num_kv_heads = NKV;
    c.head_dim = D;
    c.intermediate_size = 2 * H;
    c.vocab_size = 64;
    c.rope_theta = arch == PE_ARCH_QWEN2 ? 1e6 : 5e5;
    c.rms_norm_eps = 1e-6;
    c.tie_word_embeddings = arch == PE_ARCH_QWEN2;
    c.attn_bias = arch == PE_ARCH_QWEN2;
    c.sliding_window = window;
    c.rope_llama3 = llama3;
    c.rope_factor = 8.0;
    c.rope_low_freq_factor = 1.0;
    c.rope_high_freq_factor = 4.0;
    c.rope_original_max_pos = 16;
    c.max_position_embeddings = 4096;
    c.bos_token_id = c.eos_token_id = -1;
    return c;
}

/* One model and head: reuse against no reuse, then every budget, bound and thread count. */
static void check_model(const char *name, const pe_config *cfg, pe_dtype dt, const char *head_kind,
                        const shard *sh, int threads_too)
{
    synth_model_t sm;
    if (synth_model(&sm, cfg, 7, 8, dt)) {
        fprintf(stderr, "%s: out of memory\n", name);
        CHECK(0);
        return;
    }
    pe_head_spec spec;
    CHECK_INT(synth_bind_head(&sm, head_kind, 5, 9, &spec), 0);
    pe_backend b;
    pe_err e = {0};
    pe_backend_cpu_threads(1);
    if (pe_backend_cpu_create(&b, &sm.m, &spec, &e)) {
        fprintf(stderr, "%s: %s\n", name, e.msg);
        CHECK(0);
        synth_free_model(&sm);
        return;
    }
    const int64_t kv = b.kv_bytes_per_token;
    CHECK_INT(kv, (int64_t)cfg->num_layers * 2 * cfg->num_kv_heads * cfg->head_dim * 4);
    float **plain = alloc_rw(sh), **ref = alloc_rw(sh), **rw = alloc_rw(sh);
    run_totals t0, tr, tt;
    CHECK_INT(score(&b, sh, 0, 64, 0, plain, &t0), 0);
    CHECK_INT(score(&b, sh, 1, 1 << 20, (int64_t)1 << 40, ref, &tr), 0);
    double w = worst_rel(sh, ref, plain);
    printf("%-28s %-16s reuse vs whole prompts: worst %.2e relative; tokens %lld of %lld (%.3f)\n", name, head_kind,
           w, (long long)tr.tokens, (long long)t0.tokens, (double)tr.tokens / (double)t0.tokens);
    CHECK(w <= REL_TOL);
    if (exact_products)
        CHECK(w == 0.0);
    CHECK_INT(t0.tokens, sh->prompt_tokens);
    CHECK_INT(tr.prompt, sh->prompt_tokens);
    CHECK(tr.tokens < t0.tokens && tr.recomputed == 0);

    const int64_t budgets[] = {1, 3, 8, 17, 40, 64, 150};
    const int64_t bounds[] = {0, 8 * kv, 40 * kv, (int64_t)1 << 40};
    int differ = 0, fell_back = 0;
    for (int run = 0; run < 7 * 4 + (threads_too ? 4 : 0); run++) {
        /* every budget and bound at 1 thread, then a few at 2 and 3 (each
         * of their many parallel regions is slow on a busy machine) */
        int bi = run < 28 ? run / 4 : run == 28 || run == 29 ? 4 : 6;
        int ci = run < 28 ? run % 4 : run % 2 ? 1 : 0;
        int threads = run < 28 ? 1 : 2 + run % 2;
        pe_backend_cpu_threads(threads);
        CHECK_INT(score(&b, sh, 1, budgets[bi], bounds[ci], rw, &tt), 0);
        fell_back |= tt.recomputed > 0 && bounds[ci] == 0;
        if (!same_bits(sh, rw, ref) && differ++ < 3)
            fprintf(stderr, "%s %s: budget %lld, bound %lld, %d threads: rewards differ from the reference "
                    "(worst %.2e)\n", name, head_kind, (long long)budgets[bi], (long long)bounds[ci], threads,
                    worst_rel(sh, rw, ref));
    }
    CHECK_INT(differ, 0);
    CHECK(fell_back);
    if (threads_too) { /* without reuse, as before: the same bits at 3 threads as at 1 */
        pe_backend_cpu_threads(3);
        CHECK_INT(score(&b, sh, 0, 17, 0, rw, &tt), 0);
        CHECK(same_bits(sh, rw, plain));
    }
    pe_backend_cpu_threads(1);
    b.destroy(&b);
    free_rw(plain);
    free_rw(ref);
    free_rw(rw);
    synth_free_model(&sm);
}

/* The backend hands its slot table to pe_batch_check: reading a slot that
 * holds nothing, or one kept and then evicted, is refused. */
static void check_slot_table(const pe_config *cfg)
{
    synth_model_t sm;
    if (synth_model(&sm, cfg, 3, 8, PE_DT_F32))
        return;
    pe_head_spec spec;
    synth_bind_head(&sm, "value_sigmoid", 0, 0, &spec);
    pe_backend b;
    pe_err e = {0};
    CHECK_INT(pe_backend_cpu_create(&b, &sm.m, &spec, &e), 0);
    int32_t toks[4] = {1, 2, 3, 4};
    int64_t ss[2] = {0, 2}, ro[1] = {1}, p0a = 0, p0b = 2;
    int keep0 = 0, none = -1, ev0 = 0, cs[2] = {0, 1};
    pe_kv_ref slot0 = {-1, 0};
    float out[1];
    pe_batch read = {.tokens = toks + 2, .ntok = 2, .seq_start = ss, .nseq = 1, .readout = ro, .nread = 1,
                     .pos0 = &p0b, .ctx_start = cs, .ctx = &slot0, .keep = &none};
    CHECK_INT(b.score(&b, &read, out, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "slot 0") && strstr(e.msg, "holds nothing"));
    pe_batch first = {.tokens = toks, .ntok = 2, .seq_start = ss, .nseq = 1, .readout = ro, .nread = 1,
                      .pos0 = &p0a, .keep = &keep0};
    pe_err_clear(&e);
    CHECK_INT(b.score(&b, &first, out, &e), 0);
    CHECK_INT(b.score(&b, &read, out, &e), 0); /* now it holds tokens 0..1 */
    read.evict = &ev0;
    read.nevict = 1;
    CHECK_INT(b.score(&b, &read, out, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "holds nothing") != NULL);
    b.destroy(&b);
    synth_free_model(&sm);
}

/* No slot of the first 64 is readable: each read is refused as empty. */
static int all_slots_empty(pe_backend *b)
{
    int32_t tok[2] = {1, 2};
    int64_t ss[2] = {0, 2}, ro[1] = {1}, p0 = 0;
    int cs[2] = {0, 1}, none = -1;
    float out[4];
    for (int k = 0; k < 64; k++) {
        pe_kv_ref r = {-1, k};
        pe_batch x = {.tokens = tok, .ntok = 2, .seq_start = ss, .nseq = 1, .readout = ro, .nread = 1, .pos0 = &p0,
                      .ctx_start = cs, .ctx = &r, .keep = &none};
        pe_err e = {0};
        if (b->score(b, &x, out, &e) != PE_EINPUT || !strstr(e.msg, "holds nothing")) {
            fprintf(stderr, "slot %d is still filled after the schedule\n", k);
            return 0;
        }
    }
    return 1;
}

/* A schedule whose last batch still reads kept slots (its cache_bytes > 0):
 * the engine releases them, so that the heap ends as it began, within
 * HEAP_SLACK (a warm-up run
 * of the same schedule grew the work buffers and the slot table first), the
 * backend scored with the slots held (the peak is higher) and every slot is
 * empty afterwards. */
static void check_schedule_release(const pe_config *cfg, const shard *sh)
{
    synth_model_t sm;
    if (synth_model(&sm, cfg, 11, 8, PE_DT_F32)) {
        CHECK(0);
        return;
    }
    pe_head_spec spec;
    CHECK_INT(synth_bind_head(&sm, "qwen_prm", 5, 9, &spec), 0);
    pe_backend b;
    pe_err e = {0};
    pe_backend_cpu_threads(1);
    CHECK_INT(pe_backend_cpu_create(&b, &sm.m, &spec, &e), 0);
    float **rw = alloc_rw(sh);
    run_totals tt;
    int tried = 0;
    for (int64_t budget = 8; budget <= 64; budget *= 2) {
        CHECK_INT(score(&b, sh, 1, budget, (int64_t)1 << 40, rw, &tt), 0); /* warm-up */
        CHECK(all_slots_empty(&b));
        pe_engine_opts o = {.token_budget = budget, .prefix_reuse = 1, .cache_bytes = (int64_t)1 << 40};
        pe_schedule *s;
        CHECK_INT(pe_schedule_build(sh->s, sh->n, &o, b.kv_bytes_per_token, &s, &e), 0);
        int nb = pe_schedule_nbatches(s);
        int64_t before = heap_bytes(), peak = before, last_cache = 0;
        for (int bi = 0; bi < nb; bi++) {
            pe_schedule_stats st;
            if (pe_schedule_run(&b, s, bi, rw, &st, &e)) {
                fprintf(stderr, "release check, budget %lld, batch %d: %s\n", (long long)budget, bi, e.msg);
                CHECK(0);
                break;
            }
            int64_t now = heap_bytes();
            peak = now > peak ? now : peak;
            last_cache = st.cache_bytes;
        }
        int64_t after = heap_bytes();
        pe_schedule_free(s);
        if (last_cache <= 2 * HEAP_SLACK)
            continue; /* the last batch read too few slots to tell */
        tried++;
        if (llabs(after - before) > HEAP_SLACK)
            fprintf(stderr, "budget %lld: heap %lld bytes before the schedule, %lld after (last batch kept %lld)\n",
                    (long long)budget, (long long)before, (long long)after, (long long)last_cache);
        CHECK(llabs(after - before) <= HEAP_SLACK);
        CHECK(peak >= before + last_cache);
        CHECK(all_slots_empty(&b));
    }
    CHECK(tried > 0);
    b.destroy(&b);
    free_rw(rw);
    synth_free_model(&sm);
}

/* pe_backend.release on hand-made slots: the memory of a 40-token slot goes
 * back; an empty, out-of-range or repeated slot is refused and nothing is
 * freed; a released slot reads as empty and can be kept into again. */
static void check_release(const pe_config *cfg)
{
    synth_model_t sm;
    if (synth_model(&sm, cfg, 3, 8, PE_DT_F32)) {
        CHECK(0);
        return;
    }
    pe_head_spec spec;
    synth_bind_head(&sm, "value_sigmoid", 0, 0, &spec);
    pe_backend b;
    pe_err e = {0};
    CHECK_INT(pe_backend_cpu_create(&b, &sm.m, &spec, &e), 0);
    CHECK(b.release != NULL);
    int32_t toks[42];
    for (int i = 0; i < 42; i++)
        toks[i] = 1 + i;
    int64_t ss2[3] = {0, 40, 42}, p0[2] = {0, 0}, ro[1] = {41};
    int keeps[2] = {0, 1};
    float out[4];
    /* slot 0: 40 tokens, slot 1: 2 tokens (two prompts, both kept) */
    pe_batch two = {.tokens = toks, .ntok = 42, .seq_start = ss2, .nseq = 2, .readout = ro, .nread = 1,
                    .pos0 = p0, .keep = keeps};
    CHECK_INT(b.score(&b, &two, out, &e), 0);
    int bad[][2] = {{2, -1}, {-1, -1}, {1, 1}, {0, 7}};
    for (int i = 0; i < 4; i++) {
        int n = bad[i][1] < 0 && bad[i][0] != 0 ? 1 : 2;
        int64_t h = heap_bytes();
        pe_err_clear(&e);
        CHECK_INT(b.release(&b, bad[i], n, &e), PE_EINPUT);
        CHECK(strstr(e.msg, "cpu backend: release") != NULL);
        CHECK(heap_bytes() == h);
    }
    pe_err_clear(&e);
    CHECK_INT(b.release(&b, NULL, 1, &e), PE_EINPUT);
    CHECK_INT(b.release(&b, NULL, 0, &e), 0);
    int slot0 = 0, slot1 = 1;
    int64_t h0 = heap_bytes();
    CHECK_INT(b.release(&b, &slot0, 1, &e), 0);
    int64_t h1 = heap_bytes();
    if (h0 - h1 < 40 * b.kv_bytes_per_token)
        fprintf(stderr, "release of 40 tokens gave back %lld bytes (%lld expected)\n", (long long)(h0 - h1),
                (long long)(40 * b.kv_bytes_per_token));
    CHECK(h0 - h1 >= 40 * b.kv_bytes_per_token);
    pe_err_clear(&e);
    CHECK_INT(b.release(&b, &slot0, 1, &e), PE_EINPUT); /* now empty */
    CHECK(strstr(e.msg, "slot 0") && strstr(e.msg, "holds nothing"));
    /* slot 1 is still there: a segment continues from it */
    int64_t ss1[2] = {0, 1}, p2 = 2, ro0[1] = {0};
    int cs[2] = {0, 1}, none = -1;
    pe_kv_ref r1 = {-1, 1};
    pe_batch cont = {.tokens = toks, .ntok = 1, .seq_start = ss1, .nseq = 1, .readout = ro0, .nread = 1,
                     .pos0 = &p2, .ctx_start = cs, .ctx = &r1, .keep = &none};
    CHECK_INT(b.score(&b, &cont, out, &e), 0);
    CHECK_INT(b.release(&b, &slot1, 1, &e), 0);
    CHECK(all_slots_empty(&b));
    /* a released slot takes a keep again */
    int k0 = 0;
    int64_t ss1b[2] = {0, 2};
    pe_batch again = {.tokens = toks, .ntok = 2, .seq_start = ss1b, .nseq = 1, .readout = ro0, .nread = 1,
                      .pos0 = p0, .keep = &k0};
    CHECK_INT(b.score(&b, &again, out, &e), 0);
    CHECK_INT(b.release(&b, &k0, 1, &e), 0);
    b.destroy(&b);
    synth_free_model(&sm);
}

int main(void)
{
    pe_err e = {0};
    if (pe_blas_load(&e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    /* Does OpenBLAS here compute rows by a period below the tile (blas.h)?
     * Then reuse changes no bit (checked on one product shape of the models). */
    float B[64 * 32]; /* its own numbers: the shards below stay as they were */
    for (uint32_t i = 0, x = 12345; i < 64 * 32; i++) {
        x = x * 1664525u + 1013904223u;
        B[i] = (float)(x >> 8) / 8388608.0f - 1.0f;
    }
    const int tile = pe_blas_force_period(0), period = pe_blas_period(64, 32, B, 32);
    exact_products = period < tile;
    printf("products' period %d (tile %d): reuse %s\n", period, tile,
           exact_products ? "must give the same bits" : "within 1e-5");
    shard sh;
    make_shard(&sh, 64);
    pe_config qwen = tiny_config(PE_ARCH_QWEN2, 32, 4, 2, 8, 0, 0);
    pe_config mistral = tiny_config(PE_ARCH_MISTRAL, 24, 3, 1, 6, 5, 0); /* odd row strides, window 5 */
    pe_config llama = tiny_config(PE_ARCH_LLAMA, 32, 4, 1, 8, 0, 1);
    const char *heads[] = {"qwen_prm", "lm_two_tokens", "lm_full_softmax", "value_sigmoid"};
    for (int h = 0; h < 4; h++)
        check_model("qwen2 f32", &qwen, PE_DT_F32, heads[h], &sh, h == 0);
    check_model("mistral bf16 window 5", &mistral, PE_DT_BF16, "value_sigmoid", &sh, 1);
    check_model("mistral bf16 window 5", &mistral, PE_DT_BF16, "lm_full_softmax", &sh, 0);
    check_model("llama3 rope f16", &llama, PE_DT_F16, "qwen_prm", &sh, 1);
    check_slot_table(&qwen);
    check_release(&qwen);
    check_schedule_release(&qwen, &sh);
    return pe_check_done();
}
