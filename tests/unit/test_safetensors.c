/* The checkpoint reader against hand-made good and broken files: every defect
 * must give an error naming the file and the tensor (or config key), never a
 * crash; good files must read back the values written. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "io/config.h"
#include "io/model.h"
#include "io/safetensors.h"
#include "io/safetensors_write.h"
#include "io/tiny_model.h"

static char tmp[256];

static const char *path_of(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmp, name);
    return p[k];
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

static void write_text(const char *path, const char *text)
{
    write_bytes(path, text, strlen(text));
}

/* A safetensors file: u64 header length (or hlen_override when nonzero), header, data_len zero bytes. */
static void write_st(const char *path, const char *header, size_t data_len, uint64_t hlen_override)
{
    size_t hl = strlen(header);
    uint64_t n = hlen_override ? hlen_override : hl;
    unsigned char *buf = calloc(8 + hl + data_len + 1, 1);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(n >> (8 * i));
    memcpy(buf + 8, header, hl);
    write_bytes(path, buf, 8 + hl + data_len);
    free(buf);
}

/* Opens FILE expecting failure; checks the message holds every NULL-terminated needle. */
static void expect_st_error(const char *file, const char *needle1, const char *needle2)
{
    st_set s;
    pe_err e = {0};
    int rc = st_open_file(&s, file, &e);
    CHECK_INT(rc, PE_EINPUT);
    CHECK(strstr(e.msg, file) != NULL);
    if (needle1 && !strstr(e.msg, needle1))
        fprintf(stderr, "message '%s' lacks '%s'\n", e.msg, needle1);
    CHECK(!needle1 || strstr(e.msg, needle1));
    CHECK(!needle2 || strstr(e.msg, needle2));
    if (!rc)
        st_close(&s);
}

static void test_raw_files(void)
{
    const char *f = path_of("raw.safetensors");
    /* Good: two F32 tensors and one BF16, metadata present. */
    write_st(f, "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[24,32]},"
                "\"c\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[32,34]}}", 34, 0);
    st_set s;
    pe_err e = {0};
    CHECK_INT(st_open_file(&s, f, &e), PE_OK);
    CHECK_INT(s.n, 3);
    pe_tensor t;
    int64_t sh23[2] = {2, 3}, sh32[2] = {3, 2}, any[2] = {-1, 3};
    CHECK_INT(st_get(&s, "a", PE_DT_F32, 2, sh23, &t, &e), PE_OK);
    CHECK_INT(t.nbytes, 24);
    CHECK_INT(st_get(&s, "a", -1, 2, any, &t, &e), PE_OK);
    pe_err_clear(&e);
    CHECK_INT(st_get(&s, "a", PE_DT_F32, 2, sh32, &t, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "'a'") && strstr(e.msg, "shape [2, 3], expected [3, 2]") && strstr(e.msg, f));
    pe_err_clear(&e);
    CHECK_INT(st_get(&s, "b", PE_DT_F32, 1, (int64_t[]){4}, &t, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "'b'") && strstr(e.msg, "dtype BF16, expected F32"));
    pe_err_clear(&e);
    CHECK_INT(st_get(&s, "zzz", -1, 1, (int64_t[]){4}, &t, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "'zzz' is missing"));
    pe_err_clear(&e);
    CHECK_INT(st_get(&s, "c", PE_DT_F16, 0, NULL, &t, &e), PE_OK);
    st_close(&s);

    /* Truncated: fewer than 8 bytes. */
    write_bytes(f, "\x10\0\0\0", 4);
    expect_st_error(f, "truncated", NULL);
    /* Empty file. */
    write_bytes(f, "", 0);
    expect_st_error(f, "truncated", NULL);
    /* Header length past the end of the file. */
    write_st(f, "{}", 0, 4096);
    expect_st_error(f, "past the end of the file", NULL);
    /* Header length absurdly large (a random or hostile file). */
    write_st(f, "{}", 0, (uint64_t)1 << 62);
    expect_st_error(f, "exceeds", NULL);
    /* Not JSON; JSON but not an object. */
    write_st(f, "{\"a\":{\"dtype\":\"F32\",", 0, 0);
    expect_st_error(f, "not valid JSON", NULL);
    write_st(f, "[1, 2]", 0, 0);
    expect_st_error(f, "not a JSON object", NULL);
    /* Unsupported dtype, named with the tensor. */
    write_st(f, "{\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}", 16, 0);
    expect_st_error(f, "'ids'", "dtype I64 is not supported");
    write_st(f, "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, 0);
    expect_st_error(f, "'w'", "F8_E4M3");
    /* Offsets past the data area. */
    write_st(f, "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, 0);
    expect_st_error(f, "'w'", "past the end of the data area");
    /* Offsets reversed, negative, fractional. */
    write_st(f, "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8, 0);
    expect_st_error(f, "'w'", "end before begin");
    write_st(f, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 8, 0);
    expect_st_error(f, "'w'", "data_offsets");
    write_st(f, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,6]}}", 8, 0);
    expect_st_error(f, "'w'", "shape[0]");
    /* Shape times element size differs from the byte range. */
    write_st(f, "{\"w\":{\"dtype\":\"BF16\",\"shape\":[3,2],\"data_offsets\":[0,8]}}", 8, 0);
    expect_st_error(f, "'w'", "needs 12 bytes");
    /* A shape whose element count overflows 64 bits must not wrap around. */
    write_st(f, "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 0, 0);
    expect_st_error(f, "'w'", "overflows");
    /* Overlapping tensors. */
    write_st(f, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, 0);
    expect_st_error(f, "overlaps", "'x'");
    /* Stored twice under the same name. */
    write_st(f, "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, 0);
    expect_st_error(f, "key x appears twice", NULL);
    /* Missing keys. */
    write_st(f, "{\"x\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 0);
    expect_st_error(f, "'x'", "dtype");
    write_st(f, "{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, 0);
    expect_st_error(f, "'x'", "dimensions");
}

static void test_half_conversions(void)
{
    /* Hand-worked half and bfloat16 values. */
    struct { uint16_t h; float f; } f16[] = {
        {0x3c00, 1.0f}, {0xc000, -2.0f}, {0x7bff, 65504.0f}, {0x0400, 6.103515625e-05f},
        {0x0001, 5.9604644775390625e-08f}, {0x03ff, 6.0975551605224609e-05f}, {0x8000, -0.0f}, {0x3555, 0.333251953125f}};
    for (size_t i = 0; i < sizeof f16 / sizeof f16[0]; i++) {
        pe_tensor t = {.dtype = PE_DT_F16, .data = &f16[i].h, .nbytes = 2};
        float out;
        pe_tensor_to_f32(&t, &out, 1);
        CHECK(memcmp(&out, &f16[i].f, 4) == 0);
        CHECK_INT(pe_f16_from_f32(f16[i].f), f16[i].h);
    }
    uint16_t inf = 0x7c00, ninf = 0xfc00, nan = 0x7e00;
    float out[3];
    pe_tensor t = {.dtype = PE_DT_F16};
    t.data = &inf; pe_tensor_to_f32(&t, &out[0], 1);
    t.data = &ninf; pe_tensor_to_f32(&t, &out[1], 1);
    t.data = &nan; pe_tensor_to_f32(&t, &out[2], 1);
    CHECK(isinf(out[0]) && out[0] > 0 && isinf(out[1]) && out[1] < 0 && isnan(out[2]));
    /* Every half widens and narrows back to itself (nan: stays nan). */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        uint16_t x = (uint16_t)h;
        float f;
        t.data = &x;
        pe_tensor_to_f32(&t, &f, 1);
        uint16_t y = pe_f16_from_f32(f);
        if (isnan(f) ? !((y & 0x7c00) == 0x7c00 && (y & 0x3ff)) : y != x)
            bad++;
    }
    CHECK_INT(bad, 0);
    /* Ties round to even: 1 + 2^-11 is halfway between 1 and 1 + 2^-10. */
    CHECK_INT(pe_f16_from_f32(1.0f + 0x1p-11f), 0x3c00);
    CHECK_INT(pe_f16_from_f32(1.0f + 3 * 0x1p-11f), 0x3c02);
    CHECK_INT(pe_f16_from_f32(65520.0f), 0x7c00);
    CHECK_INT(pe_f16_from_f32(0x1p-25f), 0x0000);          /* half the smallest subnormal: ties to 0 */
    CHECK_INT(pe_f16_from_f32(0x1.8p-25f), 0x0001);
    /* bfloat16: the top half, rounded to nearest even. */
    CHECK_INT(pe_bf16_from_f32(1.0f), 0x3f80);
    CHECK_INT(pe_bf16_from_f32(1.0f + 0x1p-8f), 0x3f80);   /* tie -> even */
    CHECK_INT(pe_bf16_from_f32(1.0f + 3 * 0x1p-8f), 0x3f82);
    CHECK_INT(pe_bf16_from_f32(-3.0f), 0xc040);
    uint16_t b = 0xc040;
    t.dtype = PE_DT_BF16;
    t.data = &b;
    pe_tensor_to_f32(&t, &out[0], 1);
    CHECK(out[0] == -3.0f);
    /* To bf16 (the CUDA backend's weights) from every stored dtype, at an
     * unaligned offset: the same bits as pe_bf16_from_f32 of the fp32 value. */
    unsigned char raw[1 + 4 * 4];
    float fv[4] = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, -3.0f, 65504.0f};
    uint16_t hv[4] = {0x3c00, 0xc000, 0x7bff, 0x3555}, bv[4] = {0x3f80, 0xc040, 0x7f80, 0x0001};
    uint16_t got[4];
    for (int dt = 0; dt < 3; dt++) {
        pe_tensor ct = {.dtype = dt == 0 ? PE_DT_F32 : dt == 1 ? PE_DT_F16 : PE_DT_BF16, .data = raw + 1};
        size_t esz = dt == 0 ? 4 : 2;
        memcpy(raw + 1, dt == 0 ? (const void *)fv : dt == 1 ? (const void *)hv : (const void *)bv, 4 * esz);
        pe_tensor_convert_bf16(&ct, 1, 3, got);
        for (int i = 0; i < 3; i++) {
            float f;
            pe_tensor_convert_f32(&ct, (size_t)i + 1, 1, &f);
            CHECK_INT(got[i], dt == 2 ? bv[i + 1] : pe_bf16_from_f32(f));
        }
    }
    CHECK_INT(pe_bf16_from_f32(fv[1]), 0x3f82);
}

static void mkdir_p(const char *d)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", d);
    CHECK_INT(system(cmd), 0);
}

/* Copies SRC's tensors into DST/FILE as f32, dropping DROP and adding EXTRA
 * (shape [n]) when given. */
static void rewrite(const char *src, const char *dst_file, const char *drop, const char *extra, int64_t extra_n)
{
    st_set s;
    pe_err e = {0};
    char p[512];
    snprintf(p, sizeof p, "%s/model.safetensors", src);
    CHECK_INT(st_open_file(&s, p, &e), PE_OK);
    st_writer w = {0};
    for (int i = 0; i < s.n; i++) {
        const st_entry *t = &s.entries[i];
        if (drop && !strcmp(t->name, drop))
            continue;
        pe_tensor pt;
        CHECK_INT(st_get(&s, t->name, -1, t->ndim, t->shape, &pt, &e), PE_OK);
        size_t n = pt.nbytes / (pt.dtype == PE_DT_F32 ? 4 : 2);
        float *d = malloc((n ? n : 1) * sizeof *d);
        pe_tensor_to_f32(&pt, d, n);
        st_writer_add(&w, t->name, PE_DT_F32, t->ndim, t->shape, d, &e);
    }
    if (extra)
        st_writer_add(&w, extra, PE_DT_F32, 1, &extra_n, calloc((size_t)extra_n, sizeof(float)), &e);
    CHECK_INT(st_writer_save(&w, dst_file, &e), PE_OK);
    st_writer_free(&w);
    st_close(&s);
}

static void copy_file(const char *a, const char *b)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", a, b);
    CHECK_INT(system(cmd), 0);
}

/* pe_model_open, then the head of the family "auto" recognises bound as a
 * run binds it (token ids 0: the tiny vocabularies have them). */
static int open_bound(pe_model *m, const char *dir, const char **family, pe_err *e)
{
    int rc = pe_model_open(m, dir, e);
    if (rc)
        return rc;
    pe_ckpt_facts ck;
    pe_model_facts(m, &ck);
    const pe_family *f = NULL;
    pe_head_spec h = {0};
    if (!(rc = pe_family_resolve_ckpt(&ck, "auto", &f, e))) {
        h.d = f->head;
        if (family)
            *family = f->name;
        rc = pe_model_bind_head(m, &h, e);
    }
    if (rc)
        pe_model_close(m);
    return rc;
}

static void expect_model_error(const char *dir, const char *n1, const char *n2)
{
    pe_model m;
    pe_err e = {0};
    int rc = open_bound(&m, dir, NULL, &e);
    CHECK(rc != PE_OK);
    if (n1 && !strstr(e.msg, n1))
        fprintf(stderr, "message '%s' lacks '%s'\n", e.msg, n1);
    CHECK(!n1 || strstr(e.msg, n1));
    if (n2 && !strstr(e.msg, n2))
        fprintf(stderr, "message '%s' lacks '%s'\n", e.msg, n2);
    CHECK(!n2 || strstr(e.msg, n2));
    if (!rc)
        pe_model_close(&m);
}

static const char *LLAMA_CFG =
    "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"hidden_size\":64,\"num_hidden_layers\":2,"
    "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"intermediate_size\":128,\"vocab_size\":%d,"
    "\"rope_theta\":500000.0,\"rms_norm_eps\":1e-05,\"tie_word_embeddings\":false,\"eos_token_id\":[7,8],"
    "\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
    "\"original_max_position_embeddings\":8192}%s}";

static void test_models(void)
{
    char good[512], bad[512], file[600];
    snprintf(good, sizeof good, "%s/llama", tmp);
    snprintf(bad, sizeof bad, "%s/bad", tmp);
    pe_tiny_spec spec;
    pe_tiny_spec_default(&spec, pe_family_by_name("rlhflow"));
    spec.dtype = PE_DT_BF16;
    pe_err e = {0};
    CHECK_INT(pe_tiny_model_write(good, &spec, &e), PE_OK);
    pe_model m;
    const char *fam = NULL;
    CHECK_INT(open_bound(&m, good, &fam, &e), PE_OK);
    if (e.code)
        fprintf(stderr, "%s\n", e.msg);
    int V = m.cfg.vocab_size;
    CHECK_INT(m.cfg.arch, PE_ARCH_LLAMA);
    CHECK_INT(m.cfg.hidden_size, 64);
    CHECK_INT(m.cfg.head_dim, 16);
    CHECK_INT(m.cfg.rope_llama3, 1);
    CHECK(m.cfg.rope_factor == 8.0 && m.cfg.rope_original_max_pos == 8192);
    CHECK(m.cfg.rope_theta == 500000.0 && m.cfg.rms_norm_eps == 1e-5);
    CHECK(m.w.lm_head.data && m.w.lm_head.data != m.w.embed.data && !m.w.head_w.data && !m.w.layers[0].bq.data);
    CHECK_STR(fam, "rlhflow");
    CHECK_INT(m.w.layers[1].wk.shape[0], 32);
    pe_model_close(&m);

    /* Config and tensors disagree: intermediate_size 96 vs stored 128. */
    mkdir_p(bad);
    char cfg[2048];
    snprintf(file, sizeof file, "%s/model.safetensors", good);
    char badst[600];
    snprintf(badst, sizeof badst, "%s/model.safetensors", bad);
    copy_file(file, badst);
    char badcfg[600];
    snprintf(badcfg, sizeof badcfg, "%s/config.json", bad);
    snprintf(cfg, sizeof cfg, LLAMA_CFG, V, "");
    write_text(badcfg, cfg);
    /* The hand-written config with the right sizes opens. */
    pe_err_clear(&e);
    CHECK_INT(pe_model_open(&m, bad, &e), PE_OK);
    if (!e.code) {
        CHECK_INT(m.cfg.eos_token_id, 7); /* first of a list */
        pe_model_close(&m);
    }
    char *p = strstr(cfg, "\"intermediate_size\":128");
    memcpy(p, "\"intermediate_size\":96 ", 23);
    write_text(badcfg, cfg);
    expect_model_error(bad, "model.layers.0.mlp.gate_proj.weight", "shape [128, 64], expected [96, 64]");
    snprintf(cfg, sizeof cfg, LLAMA_CFG, V + 64, "");
    write_text(badcfg, cfg);
    expect_model_error(bad, "model.embed_tokens.weight", badst);

    /* Missing and unexpected tensors. */
    snprintf(cfg, sizeof cfg, LLAMA_CFG, V, "");
    write_text(badcfg, cfg);
    rewrite(good, badst, "model.layers.1.self_attn.v_proj.weight", NULL, 0);
    expect_model_error(bad, "model.layers.1.self_attn.v_proj.weight", "missing");
    rewrite(good, badst, "lm_head.weight", NULL, 0);
    expect_model_error(bad, "lm_head.weight", "missing");
    rewrite(good, badst, NULL, "model.layers.2.input_layernorm.weight", 64);
    expect_model_error(bad, "model.layers.2.input_layernorm.weight", "unexpected");
    rewrite(good, badst, NULL, "model.layers.0.self_attn.q_proj.bias", 64);
    expect_model_error(bad, "model.layers.0.self_attn.q_proj.bias", "no biases");
    rewrite(good, badst, NULL, "model.layers.0.self_attn.rotary_emb.inv_freq", 8); /* ignored, as transformers does */
    pe_err_clear(&e);
    CHECK_INT(pe_model_open(&m, bad, &e), PE_OK);
    if (!e.code)
        pe_model_close(&m);
    copy_file(file, badst);

    /* Bad config values: each names config.json and the key. */
    struct { const char *extra; const char *key; } cases[] = {
        {",\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":4.0}", "yarn"},
        {",\"hidden_act\":\"gelu\"", "hidden_act"},
        {",\"mlp_bias\":true", "mlp_bias"},
        {",\"num_key_value_heads\":3", "num_key_value_heads"},
        {",\"head_dim\":15", "head_dim"},
        {",\"rms_norm_eps\":-1", "rms_norm_eps"},
        {",\"tie_word_embeddings\":\"yes\"", "tie_word_embeddings"},
        {",\"model_type\":\"gpt2\"", "gpt2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* The bad key replaces the good one (a key given twice is refused
         * on its own, tested below). */
        char c2[2048];
        snprintf(c2, sizeof c2, "{%s}", cases[i].extra + 1);
        snprintf(cfg, sizeof cfg, LLAMA_CFG, V, "");
        cJSON *base = cJSON_Parse(cfg), *ex = cJSON_Parse(c2);
        CHECK(base && ex && ex->child);
        cJSON_DeleteItemFromObjectCaseSensitive(base, ex->child->string);
        cJSON_AddItemToObject(base, ex->child->string, cJSON_Duplicate(ex->child, 1));
        char *txt = cJSON_PrintUnformatted(base);
        write_text(badcfg, txt);
        free(txt);
        cJSON_Delete(base);
        cJSON_Delete(ex);
        expect_model_error(bad, badcfg, cases[i].key);
    }
    /* A key given twice: Python's json (transformers) takes the last, cJSON
     * the first, so the file is refused rather than read one way. */
    snprintf(cfg, sizeof cfg, LLAMA_CFG, V, ",\"hidden_size\":32");
    write_text(badcfg, cfg);
    expect_model_error(bad, badcfg, "key hidden_size appears twice");
    /* Text after the object, invalid UTF-8. */
    snprintf(cfg, sizeof cfg, LLAMA_CFG, V, "");
    strcat(cfg, " {}");
    write_text(badcfg, cfg);
    expect_model_error(bad, badcfg, "text after the JSON value");
    snprintf(cfg, sizeof cfg, LLAMA_CFG, V, ",\"torch_dtype\":\"\xff\"");
    write_text(badcfg, cfg);
    expect_model_error(bad, badcfg, "invalid UTF-8");
    write_text(badcfg, "{\"model_type\":\"llama\",\"num_hidden_layers\":2}");
    expect_model_error(bad, badcfg, "\"hidden_size\" is missing");
    write_text(badcfg, "{\"model_type\":\"llama\",\"hidden_size\":0,\"num_hidden_layers\":2}");
    expect_model_error(bad, badcfg, "\"hidden_size\" must be a positive integer");
    write_text(badcfg, "{\"model_type\":\"llama\", \"hidden_size\": ");
    expect_model_error(bad, badcfg, "not valid JSON");
    write_text(badcfg, "{\"model_type\":\"qwen2\",\"architectures\":[\"LlamaForCausalLM\"]}");
    expect_model_error(bad, badcfg, "contradicts");
    unlink(badcfg);
    expect_model_error(bad, badcfg, "cannot open");

    /* Truncated weights file behind a good config. */
    snprintf(cfg, sizeof cfg, LLAMA_CFG, V, "");
    write_text(badcfg, cfg);
    {
        FILE *f = fopen(file, "rb");
        unsigned char buf[4096];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        write_bytes(badst, buf, n);
        expect_model_error(bad, badst, "past the end of the data area");
        write_bytes(badst, buf, 100);
        expect_model_error(bad, badst, "past the end of the file");
    }
}

/* Two shards and an index; and the index's defects. */
static void test_shards(void)
{
    char dir[512], src[512];
    snprintf(src, sizeof src, "%s/qwen", tmp);
    snprintf(dir, sizeof dir, "%s/sharded", tmp);
    pe_tiny_spec spec;
    pe_tiny_spec_default(&spec, pe_family_by_name("qwen-prm"));
    pe_err e = {0};
    CHECK_INT(pe_tiny_model_write(src, &spec, &e), PE_OK);
    mkdir_p(dir);
    char a[600], b[600], idx[600], cfg_s[600], cfg_d[600];
    snprintf(cfg_s, sizeof cfg_s, "%s/config.json", src);
    snprintf(cfg_d, sizeof cfg_d, "%s/config.json", dir);
    copy_file(cfg_s, cfg_d);
    snprintf(a, sizeof a, "%s/model-00001-of-00002.safetensors", dir);
    snprintf(b, sizeof b, "%s/model-00002-of-00002.safetensors", dir);
    snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
    /* Shard 1: everything but score.*; shard 2: the head. */
    st_set s;
    char p[600];
    snprintf(p, sizeof p, "%s/model.safetensors", src);
    CHECK_INT(st_open_file(&s, p, &e), PE_OK);
    st_writer w1 = {0}, w2 = {0};
    char map[16384];
    size_t k = (size_t)snprintf(map, sizeof map, "{\"metadata\":{\"total_size\":1},\"weight_map\":{");
    for (int i = 0; i < s.n; i++) {
        pe_tensor t;
        st_get(&s, s.entries[i].name, -1, s.entries[i].ndim, s.entries[i].shape, &t, &e);
        size_t n = t.nbytes / 4;
        float *d = malloc(n * sizeof *d);
        pe_tensor_to_f32(&t, d, n);
        int second = !strncmp(s.entries[i].name, "score.", 6);
        st_writer_add(second ? &w2 : &w1, s.entries[i].name, PE_DT_F32, t.ndim, t.shape, d, &e);
        k += (size_t)snprintf(map + k, sizeof map - k, "%s\"%s\":\"%s\"", i ? "," : "", s.entries[i].name,
                              second ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors");
    }
    snprintf(map + k, sizeof map - k, "}}");
    st_writer_save(&w1, a, &e);
    st_writer_save(&w2, b, &e);
    st_writer_free(&w1);
    st_writer_free(&w2);
    write_text(idx, map);
    pe_model m;
    const char *fam = NULL;
    CHECK_INT(open_bound(&m, dir, &fam, &e), PE_OK);
    if (!e.code) {
        const st_set *ms = m.impl;
        CHECK_INT(ms->nfiles, 2);
        CHECK_INT(ms->n, s.n);
        CHECK(m.w.head_w.data != NULL && m.w.layers[0].bq.data != NULL);
        CHECK_STR(fam, "qwen-prm");
        /* Same values as the single-file original. */
        float x, y;
        pe_tensor t0;
        st_get(&s, "score.2.bias", -1, 1, (int64_t[]){2}, &t0, &e);
        pe_tensor_to_f32(&t0, &x, 1);
        pe_tensor_to_f32(&m.w.head_b, &y, 1);
        CHECK(x == y);
        pe_model_close(&m);
    }
    st_close(&s);
    /* The index names the wrong shard for a tensor. */
    char *bad = strdup(map), *q = strstr(bad, "\"score.0.bias\":\"model-00002");
    memcpy(q + strlen("\"score.0.bias\":\"model-0000"), "1", 1);
    write_text(idx, bad);
    expect_model_error(dir, "score.0.bias", "does not hold it");
    free(bad);
    /* A tensor stored but not in the index. */
    bad = strdup(map);
    q = strstr(bad, "\"score.0.bias\":");
    memcpy(q, "\"score.0.biaX\"", 14);
    write_text(idx, bad);
    expect_model_error(dir, "'score.0.biaX' is listed", "does not hold it");
    free(bad);
    /* A tensor stored in a shard but absent from the index. */
    bad = strdup(map);
    q = strstr(bad, "\"score.0.bias\":");
    const char *entry_end = strchr(q, ',') + 1;
    memmove(q, entry_end, strlen(entry_end) + 1);
    write_text(idx, bad);
    expect_model_error(dir, "'score.0.bias' is stored but not listed", b);
    free(bad);
    /* A shard outside the folder, an index that is not JSON, a missing shard. */
    write_text(idx, "{\"weight_map\":{\"model.norm.weight\":\"../x.safetensors\"}}");
    expect_model_error(dir, "../x.safetensors", "plain file name");
    write_text(idx, "{\"weight_map\":");
    expect_model_error(dir, idx, "not valid JSON");
    write_text(idx, "{\"weight_map\":{\"model.norm.weight\":\"nope.safetensors\"}}");
    expect_model_error(dir, "nope.safetensors", "cannot open");
    unlink(idx);
    expect_model_error(dir, "no weights: none of model.safetensors", "pytorch_model.bin.index.json");
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/pe_test_safetensors_XXXXXX");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_raw_files();
    test_half_conversions();
    test_models();
    test_shards();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    return pe_check_done();
}
