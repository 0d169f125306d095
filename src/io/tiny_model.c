#include "tiny_model.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "safetensors_write.h"
#include "tiny_tokenizer.h"

void pe_tiny_spec_default(pe_tiny_spec *s, const pe_family *f)
{
    memset(s, 0, sizeof *s);
    s->family = f;
    s->dtype = PE_DT_F32;
    s->layers = 2;
    s->hidden = 64;
    s->heads = 4;
    s->kv_heads = 2;
    s->ffn = 128;
    s->merges = 320;
}

/* Steele, Lea and Flood's SplitMix64: one 64-bit state, full period, and
 * good enough statistics for random weights. */
uint64_t pe_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t pe_fnv1a64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* n values center + scale * U(-1, 1), U from the top 24 bits (exact in float). */
static float *random_tensor(uint64_t seed, const char *name, size_t n, float center, float scale, pe_err *e)
{
    float *d = pe_malloc(n * sizeof *d, e);
    if (!d)
        return NULL;
    uint64_t st = seed ^ pe_fnv1a64(name);
    st = pe_splitmix64(&st);
    for (size_t i = 0; i < n; i++) {
        float u = (float)(pe_splitmix64(&st) >> 40) * (1.0f / 16777216.0f);
        d[i] = center + scale * (2.0f * u - 1.0f);
    }
    return d;
}

typedef struct {
    st_writer w;
    const pe_tiny_spec *s;
} builder;

static int add(builder *b, const char *name, int64_t d0, int64_t d1, float center, float scale, pe_err *e)
{
    int64_t shape[2] = {d0, d1};
    int ndim = d1 ? 2 : 1;
    size_t n = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    float *d = random_tensor(b->s->seed, name, n, center, scale, e);
    if (!d)
        return e->code;
    return st_writer_add(&b->w, name, b->s->dtype, ndim, shape, d, e);
}

/* Linear(in -> out) stored [out, in], uniform with std 1/sqrt(in) (PyTorch's
 * default bound would shrink activations layer by layer even faster). */
static int linear(builder *b, const char *name, int64_t out, int64_t in, pe_err *e)
{
    return add(b, name, out, in, 0.0f, sqrtf(3.0f / (float)in), e);
}

static int build_weights(builder *b, int vocab, pe_err *e)
{
    const pe_tiny_spec *s = b->s;
    int64_t H = s->hidden, F = s->ffn, D = s->head_dim;
    int64_t QD = (int64_t)s->heads * D, KD = (int64_t)s->kv_heads * D;
    char n[256];
    const pe_tiny_recipe *rc = &s->family->tiny;
    const pe_head_desc *hd = &s->family->head;
    if (add(b, "model.embed_tokens.weight", vocab, H, 0.0f, 1.0f, e))
        return e->code;
    for (int l = 0; l < s->layers; l++) {
#define NAME(fmt) (snprintf(n, sizeof n, "model.layers.%d." fmt, l), n)
        if (add(b, NAME("input_layernorm.weight"), H, 0, 1.0f, 0.2f, e) ||
            linear(b, NAME("self_attn.q_proj.weight"), QD, H, e) || linear(b, NAME("self_attn.k_proj.weight"), KD, H, e) ||
            linear(b, NAME("self_attn.v_proj.weight"), KD, H, e) || linear(b, NAME("self_attn.o_proj.weight"), H, QD, e) ||
            add(b, NAME("post_attention_layernorm.weight"), H, 0, 1.0f, 0.2f, e) ||
            linear(b, NAME("mlp.gate_proj.weight"), F, H, e) || linear(b, NAME("mlp.up_proj.weight"), F, H, e) ||
            linear(b, NAME("mlp.down_proj.weight"), H, F, e))
            return e->code;
        if (rc->attn_bias && (add(b, NAME("self_attn.q_proj.bias"), QD, 0, 0.0f, 0.5f, e) ||
                     add(b, NAME("self_attn.k_proj.bias"), KD, 0, 0.0f, 0.5f, e) ||
                     add(b, NAME("self_attn.v_proj.bias"), KD, 0, 0.0f, 0.5f, e)))
            return e->code;
#undef NAME
    }
    if (add(b, "model.norm.weight", H, 0, 1.0f, 0.2f, e))
        return e->code;
    /* the head in the published layout: the family's tensor names and shapes */
    if (hd->rows == PE_ROWS_TENSOR) {
        if (hd->mlp_w && (linear(b, hd->mlp_w, H, H, e) || add(b, hd->mlp_b, H, 0, 0.0f, 0.1f, e)))
            return e->code;
        if (linear(b, hd->w, hd->nrows, H, e) || (hd->b && add(b, hd->b, hd->nrows, 0, 0.0f, 0.1f, e)))
            return e->code;
    }
    if (rc->lm_head && linear(b, "lm_head.weight", vocab, H, e))
        return e->code;
    return PE_OK;
}

static cJSON *build_config(const pe_tiny_spec *s, int vocab, const pe_tiny_tok_info *tok)
{
    static const char *const dtypes[] = {"float32", "float16", "bfloat16"};
    const pe_tiny_recipe *r = &s->family->tiny;
    cJSON *c = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(c, "architectures"), cJSON_CreateString(r->architecture));
    cJSON_AddStringToObject(c, "model_type", r->model_type);
    cJSON_AddNumberToObject(c, "attention_dropout", 0.0);
    if (r->llama_keys) {
        cJSON_AddBoolToObject(c, "attention_bias", 0);
        cJSON_AddBoolToObject(c, "mlp_bias", 0);
    }
    if (tok->bos_id >= 0)
        cJSON_AddNumberToObject(c, "bos_token_id", tok->bos_id);
    else
        cJSON_AddNumberToObject(c, "bos_token_id", tok->pad_id); /* Qwen2 configs name <|endoftext|> */
    cJSON_AddNumberToObject(c, "eos_token_id", tok->eos_id);
    cJSON_AddNumberToObject(c, "head_dim", s->head_dim);
    cJSON_AddStringToObject(c, "hidden_act", "silu");
    cJSON_AddNumberToObject(c, "hidden_size", s->hidden);
    cJSON_AddNumberToObject(c, "initializer_range", 0.02);
    cJSON_AddNumberToObject(c, "intermediate_size", s->ffn);
    cJSON_AddNumberToObject(c, "max_position_embeddings", s->max_pos);
    cJSON_AddNumberToObject(c, "num_attention_heads", s->heads);
    cJSON_AddNumberToObject(c, "num_hidden_layers", s->layers);
    cJSON_AddNumberToObject(c, "num_key_value_heads", s->kv_heads);
    cJSON_AddNumberToObject(c, "rms_norm_eps", r->rms_norm_eps);
    if (r->rope_llama3) {
        /* Llama-3.1's published values: the scaling is what this family tests. */
        cJSON *rs = cJSON_AddObjectToObject(c, "rope_scaling");
        cJSON_AddNumberToObject(rs, "factor", 8.0);
        cJSON_AddNumberToObject(rs, "high_freq_factor", 4.0);
        cJSON_AddNumberToObject(rs, "low_freq_factor", 1.0);
        cJSON_AddNumberToObject(rs, "original_max_position_embeddings", 8192);
        cJSON_AddStringToObject(rs, "rope_type", "llama3");
    } else {
        cJSON_AddNullToObject(c, "rope_scaling");
    }
    cJSON_AddNumberToObject(c, "rope_theta", r->rope_theta);
    if (r->mistral_window)
        cJSON_AddNumberToObject(c, "sliding_window", 4096);
    if (r->qwen_window_keys) {
        cJSON_AddNumberToObject(c, "sliding_window", 4096);
        cJSON_AddBoolToObject(c, "use_sliding_window", 0);
    }
    cJSON_AddBoolToObject(c, "tie_word_embeddings", r->tie_embeddings);
    cJSON_AddStringToObject(c, "torch_dtype", dtypes[s->dtype]);
    cJSON_AddNumberToObject(c, "vocab_size", vocab);
    /* the published config's own keys (e.g. ReasonEval's score_dimension) */
    cJSON *extra = r->extra_config ? cJSON_Parse(r->extra_config) : NULL;
    for (cJSON *k = extra ? extra->child : NULL; k; k = k->next)
        cJSON_AddItemToObject(c, k->string, cJSON_Duplicate(k, 1));
    cJSON_Delete(extra);
    return c;
}

static int check_spec(const pe_tiny_spec *s, pe_err *e)
{
    struct { const char *opt; int v; } v[] = {{"--layers", s->layers}, {"--hidden", s->hidden}, {"--heads", s->heads},
                                               {"--kv-heads", s->kv_heads}, {"--ffn", s->ffn}, {"--merges", s->merges}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (v[i].v < 1 || v[i].v > 65536)
            return pe_fail(e, PE_EUSAGE, "tiny-model: %s %d: expected 1..65536", v[i].opt, v[i].v);
    if (s->heads % s->kv_heads)
        return pe_fail(e, PE_EUSAGE, "tiny-model: --kv-heads %d must divide --heads %d", s->kv_heads, s->heads);
    if (!s->head_dim && s->hidden % s->heads)
        return pe_fail(e, PE_EUSAGE, "tiny-model: --heads %d must divide --hidden %d (or give --head-dim)", s->heads,
                       s->hidden);
    int d = s->head_dim ? s->head_dim : s->hidden / s->heads;
    if (d % 2 || d < 2 || d > 65536)
        return pe_fail(e, PE_EUSAGE, "tiny-model: head_dim %d must be even (rotary embeddings pair its halves)", d);
    if (s->max_pos < 0)
        return pe_fail(e, PE_EUSAGE, "tiny-model: --max-pos %d must be positive", s->max_pos);
    return PE_OK;
}

static int write_text(const char *path, const char *text, pe_err *e)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return pe_fail(e, PE_EIO, "%s: cannot create: %s", path, strerror(errno));
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, fp) == n && fputc('\n', fp) != EOF;
    if (fclose(fp) != 0 || !ok)
        return pe_fail(e, PE_EIO, "%s: write failed", path);
    return PE_OK;
}

static int copy_file(const char *from, const char *to, int optional, pe_err *e)
{
    FILE *in = fopen(from, "rb");
    if (!in)
        return optional && errno == ENOENT ? PE_OK : pe_fail(e, PE_EIO, "%s: cannot open: %s", from, strerror(errno));
    FILE *out = fopen(to, "wb");
    if (!out) {
        fclose(in);
        return pe_fail(e, PE_EIO, "%s: cannot create: %s", to, strerror(errno));
    }
    char buf[65536];
    size_t n;
    int ok = 1;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    ok = ok && !ferror(in);
    fclose(in);
    if (fclose(out) != 0 || !ok)
        return pe_fail(e, PE_EIO, "%s: copying %s failed", to, from);
    return PE_OK;
}

/* --tokenizer: a real tokenizer.json (and its tokenizer_config.json) instead
 * of the trained tiny one; the vocabulary and special ids come from it. */
static int use_tokenizer(const char *dir, const char *from, pe_tiny_tok_info *tok, pe_err *e)
{
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s/tokenizer.json", from);
    snprintf(b, sizeof b, "%s/tokenizer.json", dir);
    if (copy_file(a, b, 0, e))
        return e->code;
    snprintf(a, sizeof a, "%s/tokenizer_config.json", from);
    snprintf(b, sizeof b, "%s/tokenizer_config.json", dir);
    if (copy_file(a, b, 1, e))
        return e->code;
    pe_tokenizer *t = pe_tokenizer_load(dir, e);
    if (!t)
        return e->code ? e->code : PE_EINPUT;
    memset(tok, 0, sizeof *tok);
    tok->n_tokens = pe_tokenizer_vocab_size(t);
    tok->bos_id = pe_tokenizer_bos_id(t);
    tok->eos_id = pe_tokenizer_token_id(t, "</s>");
    if (tok->eos_id < 0)
        tok->eos_id = pe_tokenizer_token_id(t, "<|endoftext|>");
    tok->pad_id = tok->eos_id;
    pe_tokenizer_free(t);
    return PE_OK;
}

int pe_tiny_model_write(const char *dir, const pe_tiny_spec *spec, pe_err *e)
{
    if (!spec->family)
        return pe_fail(e, PE_EUSAGE, "tiny-model: no family");
    if (pe_family_registry_check(e) || check_spec(spec, e))
        return e->code;
    pe_tiny_spec s = *spec;
    if (!s.head_dim)
        s.head_dim = s.hidden / s.heads;
    if (!s.max_pos)
        s.max_pos = s.family->tiny.max_pos;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return pe_fail(e, PE_EIO, "%s: cannot create the folder: %s", dir, strerror(errno));

    const pe_tiny_recipe *r = &s.family->tiny;
    pe_tok_style style = r->tokenizer == PE_TINY_TOK_SPM      ? PE_TOK_SPM
                         : r->tokenizer == PE_TINY_TOK_LLAMA3 ? PE_TOK_LLAMA3
                                                              : PE_TOK_QWEN2;
    pe_tiny_tok_info tok;
    if (s.tokenizer_dir ? use_tokenizer(dir, s.tokenizer_dir, &tok, e)
                        : pe_tiny_tokenizer_write(dir, style, s.merges, r->bos_token, r->pad_token, &tok, e))
        return e->code;
    /* Padded to a multiple of 64 as real checkpoints are (Qwen2.5: 151665
     * tokens, vocab_size 152064): rows past the tokenizer exist but are never used. */
    int vocab = (tok.n_tokens + 63) / 64 * 64;

    cJSON *cfg = build_config(&s, vocab, &tok);
    char *text = cJSON_Print(cfg);
    cJSON_Delete(cfg);
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (!text)
        return pe_fail(e, PE_ERESOURCE, "%s: cannot render JSON", path);
    int rc = write_text(path, text, e);
    free(text);
    if (rc)
        return rc;

    builder b = {{0}, &s};
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (!build_weights(&b, vocab, e))
        st_writer_save(&b.w, path, e);
    st_writer_free(&b.w);
    return e->code;
}
