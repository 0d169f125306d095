/* The CPU backend against PyTorch: every case of a file written by
 * tests/oracle/torch_prm.py (default: the committed tests/golden/cpu_forward.json;
 * tests/scripts/test_cpu_forward_torch.py passes freshly generated ones)
 * rebuilds the same synthetic weights, scores the packed batch with each of
 * the four heads and requires every reward within 1e-4 relative of PyTorch's.
 * Also: packing does not change a sequence's rewards, and bad models or
 * batches fail with a message naming the tensor or token. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "backend/backend.h"
#include "check.h"
#include "prm_synth.h"

#define REL_TOL 1e-4

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) { free(s); s = NULL; }
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) {
        fprintf(stderr, "case file: key %s missing or not a number\n", key);
        exit(2);
    }
    return v->valuedouble;
}

static pe_config parse_config(const cJSON *c)
{
    pe_config cfg;
    memset(&cfg, 0, sizeof cfg);
    const char *arch = cJSON_GetObjectItemCaseSensitive(c, "arch")->valuestring;
    cfg.arch = !strcmp(arch, "qwen2") ? PE_ARCH_QWEN2 : !strcmp(arch, "llama") ? PE_ARCH_LLAMA
                                                                              : PE_ARCH_MISTRAL;
    cfg.hidden_size = (int)num(c, "hidden_size");
    cfg.num_layers = (int)num(c, "num_layers");
    cfg.num_heads = (int)num(c, "num_heads");
    cfg.num_kv_heads = (int)num(c, "num_kv_heads");
    cfg.head_dim = (int)num(c, "head_dim");
    cfg.intermediate_size = (int)num(c, "intermediate_size");
    cfg.vocab_size = (int)num(c, "vocab_size");
    cfg.rope_theta = num(c, "rope_theta");
    cfg.rms_norm_eps = num(c, "rms_norm_eps");
    cfg.tie_word_embeddings = (int)num(c, "tie_word_embeddings");
    cfg.attn_bias = (int)num(c, "attn_bias");
    cfg.sliding_window = (int)num(c, "sliding_window");
    cfg.rope_llama3 = (int)num(c, "rope_llama3");
    cfg.rope_factor = num(c, "rope_factor");
    cfg.rope_low_freq_factor = num(c, "rope_low_freq_factor");
    cfg.rope_high_freq_factor = num(c, "rope_high_freq_factor");
    cfg.rope_original_max_pos = (int)num(c, "rope_original_max_pos");
    cfg.max_position_embeddings = 4096;
    cfg.bos_token_id = cfg.eos_token_id = -1;
    return cfg;
}

static int64_t *int_array(const cJSON *a, int64_t *n)
{
    *n = cJSON_GetArraySize(a);
    int64_t *v = malloc((size_t)(*n ? *n : 1) * sizeof *v), i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, a) v[i++] = (int64_t)x->valuedouble;
    return v;
}

/* Each sequence scored alone gives the rewards it gets inside the packed
 * batch (up to sgemm blocking differences: 1e-5 relative). */
static void check_packing(pe_backend *b, const pe_batch *pk, const float *packed, const char *name)
{
    double worst = 0;
    for (int s = 0; s < pk->nseq; s++) {
        int64_t lo = pk->seq_start[s], hi = pk->seq_start[s + 1];
        int64_t ss[2] = {0, hi - lo}, rd[64];
        float out[64];
        int64_t nr = 0, idx[64];
        for (int64_t r = 0; r < pk->nread && nr < 64; r++)
            if (pk->readout[r] >= lo && pk->readout[r] < hi) {
                rd[nr] = pk->readout[r] - lo;
                idx[nr++] = r;
            }
        pe_batch one = {.tokens = pk->tokens + lo, .ntok = hi - lo, .seq_start = ss, .nseq = 1, .readout = rd, .nread = nr};
        pe_err e = {0};
        CHECK_INT(b->score(b, &one, out, &e), 0);
        for (int64_t r = 0; r < nr; r++) {
            double d = fabs(out[r] - packed[idx[r]]) / fmax(fabs(packed[idx[r]]), 1e-30);
            if (d > worst) worst = d;
        }
    }
    if (worst > 1e-5) fprintf(stderr, "%s: packed vs alone differ by %.3g relative\n", name, worst);
    CHECK(worst <= 1e-5);
}

static int run_case(const cJSON *cs)
{
    const char *name = cJSON_GetObjectItemCaseSensitive(cs, "name")->valuestring;
    const char *dts = cJSON_GetObjectItemCaseSensitive(cs, "dtype")->valuestring;
    pe_dtype dt = !strcmp(dts, "f32") ? PE_DT_F32 : !strcmp(dts, "bf16") ? PE_DT_BF16 : PE_DT_F16;
    pe_config cfg = parse_config(cJSON_GetObjectItemCaseSensitive(cs, "config"));
    synth_model_t sm;
    pe_model *mp = &sm.m;
    if (synth_model(&sm, &cfg, (uint64_t)num(cs, "seed"), (int)num(cs, "bits"), dt)) {
        fprintf(stderr, "%s: out of memory\n", name);
        return 1;
    }
    int64_t ntok, nss, nread;
    int64_t *tok64 = int_array(cJSON_GetObjectItemCaseSensitive(cs, "tokens"), &ntok);
    int64_t *seq_start = int_array(cJSON_GetObjectItemCaseSensitive(cs, "seq_start"), &nss);
    int64_t *readout = int_array(cJSON_GetObjectItemCaseSensitive(cs, "readout"), &nread);
    int32_t *tokens = malloc((size_t)ntok * sizeof *tokens);
    for (int64_t i = 0; i < ntok; i++) tokens[i] = (int32_t)tok64[i];
    pe_batch batch = {.tokens = tokens, .ntok = ntok, .seq_start = seq_start, .nseq = (int)nss - 1,
                      .readout = readout, .nread = nread};
    float *rewards = malloc((size_t)nread * sizeof *rewards);
    const cJSON *h;
    int first = 1;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(cs, "heads")) {
        const char *kind = cJSON_GetObjectItemCaseSensitive(h, "kind")->valuestring;
        pe_head_spec spec;
        CHECK_INT(synth_bind_head(&sm, kind, (int32_t)num(h, "tok_a"), (int32_t)num(h, "tok_b"), &spec), 0);
        pe_backend b;
        pe_err e = {0};
        int rc = pe_backend_cpu_create(&b, mp, &spec, &e);
        CHECK_INT(rc, 0);
        if (rc) { fprintf(stderr, "%s %s: %s\n", name, kind, e.msg); continue; }
        CHECK_INT(b.score(&b, &batch, rewards, &e), 0);
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(h, "rewards");
        CHECK_INT(cJSON_GetArraySize(want), nread);
        double worst = 0;
        int64_t r = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, want) {
            double d = fabs(rewards[r] - x->valuedouble) / fmax(fabs(x->valuedouble), 1e-30);
            if (d > worst) worst = d;
            r++;
        }
        printf("%-22s %-16s worst relative difference %.2e over %lld read-outs\n", name, kind,
               worst, (long long)nread);
        CHECK(worst <= REL_TOL);
        if (first) check_packing(&b, &batch, rewards, name);
        first = 0;
        b.destroy(&b);
    }
    free(rewards); free(tokens); free(tok64); free(seq_start); free(readout);
    synth_free_model(&sm);
    return 0;
}

/* Bad models and batches: a clear error, no crash. Uses the first case's model. */
static void check_errors(const cJSON *cs)
{
    pe_config cfg = parse_config(cJSON_GetObjectItemCaseSensitive(cs, "config"));
    synth_model_t sm;
    if (synth_model(&sm, &cfg, 1, 8, PE_DT_BF16)) return;
    pe_model m = sm.m;
    pe_head_spec vh;
    synth_bind_head(&sm, "value_sigmoid", 0, 0, &vh);
    m.w = sm.m.w;
    pe_backend b;
    pe_err e = {0};

    int64_t saved = m.w.layers[1].wk.shape[0];
    m.w.layers[1].wk.shape[0] = saved + 1;
    CHECK_INT(pe_backend_cpu_create(&b, &m, &vh, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "model.layers.1.self_attn.k_proj.weight") != NULL);
    m.w.layers[1].wk.shape[0] = saved;

    const void *vd = m.w.head_w.data;
    m.w.head_w.data = NULL;
    pe_err_clear(&e);
    CHECK_INT(pe_backend_cpu_create(&b, &m, &vh, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "v_head.summary.weight") && strstr(e.msg, "missing"));
    m.w.head_w.data = vd;
    /* the bias is required on every backend (model.c is the one contract) */
    const void *bd = m.w.head_b.data;
    m.w.head_b.data = NULL;
    pe_err_clear(&e);
    CHECK_INT(pe_backend_cpu_create(&b, &m, &vh, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "v_head.summary.bias") && strstr(e.msg, "missing"));
    m.w.head_b.data = bd;

    pe_head_spec bad_tok;
    synth_bind_head(&sm, "lm_two_tokens", cfg.vocab_size, 0, &bad_tok);
    pe_err_clear(&e);
    CHECK_INT(pe_backend_cpu_create(&b, &m, &bad_tok, &e), PE_EINPUT);

    pe_config c2 = m.cfg;
    m.cfg.num_kv_heads = 3;
    pe_err_clear(&e);
    CHECK_INT(pe_backend_cpu_create(&b, &m, &vh, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "num_key_value_heads") != NULL);
    m.cfg = c2;

    pe_err_clear(&e);
    CHECK_INT(pe_backend_cpu_create(&b, &m, &vh, &e), 0);
    int32_t toks[4] = {1, 2, cfg.vocab_size, 3};
    int64_t ss[2] = {0, 4}, rd[1] = {3};
    float out[1];
    pe_batch bb = {.tokens = toks, .ntok = 4, .seq_start = ss, .nseq = 1, .readout = rd, .nread = 1};
    CHECK_INT(b.score(&b, &bb, out, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "token 2") != NULL);
    toks[2] = 0;
    rd[0] = 4;
    pe_err_clear(&e);
    CHECK_INT(b.score(&b, &bb, out, &e), PE_EINPUT);
    ss[1] = 3;
    rd[0] = 0;
    pe_err_clear(&e);
    CHECK_INT(b.score(&b, &bb, out, &e), PE_EINPUT);
    ss[1] = 4;
    pe_err_clear(&e);
    CHECK_INT(b.score(&b, &bb, out, &e), 0);
    CHECK(out[0] > 0.0f && out[0] < 1.0f);
    b.destroy(&b);
    synth_free_model(&sm);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "tests/golden/cpu_forward.json";
    char *text = slurp(path);
    if (!text) { fprintf(stderr, "cannot read %s\n", path); return 1; }
    cJSON *doc = cJSON_Parse(text);
    free(text);
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(doc, "cases");
    if (!cJSON_IsArray(cases) || cJSON_GetArraySize(cases) == 0) {
        fprintf(stderr, "%s: no cases\n", path);
        return 1;
    }
    const cJSON *cs;
    cJSON_ArrayForEach(cs, cases) run_case(cs);
    check_errors(cJSON_GetArrayItem(cases, 0));
    cJSON_Delete(doc);
    return pe_check_done();
}
