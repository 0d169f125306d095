/* SentencePiece tokenizer.model: the protobuf reader (src/io/spm_model.c) on
 * models written byte by byte here (wire format by hand: tags, varints,
 * lengths, floats), its refusals of malformed input, and the LlamaConverter
 * conversion (src/io/tokenizer_spm.c) on a vocabulary whose merges and ids
 * are worked out by hand. The conversion of a real trained model is checked
 * against an independent oracle in tests/scripts/test_tokenizer_spm.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/tokenizer.h"
#include "io/spm_model.h"

/* ---- a minimal protobuf writer ---------------------------------------- */

typedef struct {
    uint8_t b[8192];
    size_t n;
} buf;

static void put_varint(buf *o, uint64_t v)
{
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        o->b[o->n++] = c | (v ? 0x80 : 0);
    } while (v);
}

static void put_tag(buf *o, unsigned field, unsigned wt)
{
    put_varint(o, (uint64_t)field << 3 | wt);
}

static void put_bytes(buf *o, unsigned field, const void *p, size_t n)
{
    put_tag(o, field, 2);
    put_varint(o, n);
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void put_float(buf *o, unsigned field, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_tag(o, field, 5);
    for (int i = 0; i < 4; i++)
        o->b[o->n++] = (uint8_t)(u >> (8 * i));
}

static void put_piece(buf *o, const char *piece, float score, int type)
{
    buf p = {.n = 0};
    put_bytes(&p, 1, piece, strlen(piece));
    put_float(&p, 2, score);
    if (type != 1) {
        put_tag(&p, 3, 0);
        put_varint(&p, (uint64_t)type);
    }
    put_bytes(o, 1, p.b, p.n);
}

/* A BPE model whose merges are worked out by hand:
 *   0 <unk> (UNKNOWN), 1 <s>, 2 </s> (CONTROL), 3 <sep> (USER_DEFINED),
 *   4 ▁ (-10), 5 a (-11), 6 b (-12), 7 ▁a (-1), 8 ab (-2), 9 ▁ab (-3), 10 ba (-4),
 *   11..13 <0x41> <0x42> <0xC3>, <0xA9> (BYTE).
 * Merges, by score: (▁,a)->▁a, (a,b)->ab, then ▁ab from (▁,ab) [left id 4]
 * before (▁a,b) [left id 7], then (b,a)->ba. */
static void tiny_model(buf *o, int model_type)
{
    o->n = 0;
    put_piece(o, "<unk>", 0, 2);
    put_piece(o, "<s>", 0, 3);
    put_piece(o, "</s>", 0, 3);
    put_piece(o, "<sep>", 0, 4);
    put_piece(o, "\xe2\x96\x81", -10, 1);
    put_piece(o, "a", -11, 1);
    put_piece(o, "b", -12, 1);
    put_piece(o, "\xe2\x96\x81" "a", -1, 1);
    put_piece(o, "ab", -2, 1);
    put_piece(o, "\xe2\x96\x81" "ab", -3, 1);
    put_piece(o, "ba", -4, 1);
    put_piece(o, "<0x41>", 0, 6);
    put_piece(o, "<0xC3>", 0, 6);
    put_piece(o, "<0xA9>", 0, 6);
    buf t = {.n = 0};
    put_tag(&t, 3, 0);
    put_varint(&t, (uint64_t)model_type);
    put_tag(&t, 35, 0); /* byte_fallback */
    put_varint(&t, 1);
    put_tag(&t, 43, 0); /* pad_id = -1: a negative int32 is a 10-byte varint */
    put_varint(&t, UINT64_MAX);
    put_tag(&t, 999, 0); /* an unknown field: skipped */
    put_varint(&t, 7);
    put_bytes(o, 2, t.b, t.n);
    buf nz = {.n = 0};
    put_bytes(&nz, 1, "identity", 8);
    put_tag(&nz, 4, 0); /* remove_extra_whitespaces false */
    put_varint(&nz, 0);
    put_bytes(o, 3, nz.b, nz.n);
    put_bytes(o, 4, "\x0a\x00", 2); /* self_test_data: unknown to us, skipped */
}

static char dir_tmpl[] = "/tmp/pe_spm_XXXXXX";
static const char *dir;

static void write_file(const char *name, const void *p, size_t n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    fwrite(p, 1, n, f);
    fclose(f);
}

static void remove_file(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

static void check_ids(const pe_tokenizer *t, const char *text, int add_special, const int32_t *want, size_t nw,
                      int line)
{
    int32_t *ids = NULL;
    size_t n = 0;
    pe_err e;
    pe_err_clear(&e);
    int rc = pe_tokenizer_encode(t, text, strlen(text), add_special, &ids, &n, &e);
    int ok = rc == 0 && n == nw && (nw == 0 || memcmp(ids, want, nw * sizeof *ids) == 0);
    if (ok) {
        pe_checks_passed++;
    } else {
        pe_checks_failed++;
        fprintf(stderr, "test_spm.c:%d: \"%s\" gave", line, text);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, " (rc %d %s)\n", rc, e.msg);
    }
    free(ids);
}
#define IDS(t, text, sp, ...) do { \
    const int32_t w_[] = {__VA_ARGS__}; \
    check_ids(t, text, sp, w_, sizeof w_ / sizeof w_[0], __LINE__); \
} while (0)

static void test_parse(void)
{
    buf o;
    tiny_model(&o, 2);
    pe_spm_model m;
    pe_err e;
    pe_err_clear(&e);
    CHECK_INT(pe_spm_parse(&m, o.b, o.n, "t.model", &e), 0);
    CHECK_INT(m.npieces, 14);
    CHECK_STR(m.pieces[7].piece, "\xe2\x96\x81" "a");
    CHECK(m.pieces[7].score == -1.0f);
    CHECK_INT(m.pieces[0].type, PE_SPM_UNKNOWN);
    CHECK_INT(m.pieces[1].type, PE_SPM_CONTROL);
    CHECK_INT(m.pieces[3].type, PE_SPM_USER_DEFINED);
    CHECK_INT(m.pieces[4].type, PE_SPM_NORMAL);
    CHECK_INT(m.pieces[11].type, PE_SPM_BYTE);
    CHECK_INT(m.model_type, PE_SPM_BPE);
    CHECK_INT(m.byte_fallback, 1);
    CHECK_INT(m.pad_id, -1);
    CHECK_INT(m.bos_id, 1); /* absent: the .proto default */
    CHECK_STR(m.unk_piece, "<unk>");
    CHECK_STR(m.normalizer_name, "identity");
    CHECK_INT(m.remove_extra_whitespaces, 0);
    CHECK_INT(m.add_dummy_prefix, 1);
    pe_spm_free(&m);

    /* A message given twice is merged (protobuf): the later model_type wins. */
    buf t2 = {.n = 0};
    put_tag(&t2, 3, 0);
    put_varint(&t2, 1);
    memcpy(o.b + o.n, "\x12", 1); /* field 2, wire type 2 */
    o.n++;
    put_varint(&o, t2.n);
    memcpy(o.b + o.n, t2.b, t2.n);
    o.n += t2.n;
    CHECK_INT(pe_spm_parse(&m, o.b, o.n, "t.model", &e), 0);
    CHECK_INT(m.model_type, PE_SPM_UNIGRAM);
    CHECK_INT(m.byte_fallback, 1);
    pe_spm_free(&m);
}

/* Each malformed input gives PE_EINPUT and a message naming the file and what is wrong. */
static void expect_bad(const uint8_t *p, size_t n, const char *needle, int line)
{
    pe_spm_model m;
    pe_err e;
    pe_err_clear(&e);
    int rc = pe_spm_parse(&m, p, n, "bad.model", &e);
    if (rc == PE_EINPUT && strstr(e.msg, needle) && strstr(e.msg, "bad.model")) {
        pe_checks_passed++;
    } else {
        pe_checks_failed++;
        fprintf(stderr, "test_spm.c:%d: rc %d, message \"%s\", expected \"%s\"\n", line, rc, e.msg, needle);
        if (rc == 0)
            pe_spm_free(&m);
    }
}
/* p: a string literal; its bytes without the terminating NUL */
#define BAD(p, needle) expect_bad((const uint8_t *)(p), sizeof(p) - 1, needle, __LINE__)

static void test_bad(void)
{
    BAD("", "no pieces");
    BAD("\x0a", "truncated varint");
    BAD("\x0a\x05\x0a\x01", "length runs past the end");
    BAD("\x0a\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", "varint");
    BAD("\x0b", "wire type");                      /* field 1 as a group */
    BAD("\x00", "field number 0");
    BAD("\x0a\x00", "piece is missing or empty");  /* a piece without its text */
    BAD("\x0a\x04\x0a\x02\xc3\x28", "not valid UTF-8");
    BAD("\x0a\x03\x0a\x01\x00", "NUL");
    BAD("\x0a\x05\x0a\x01" "a" "\x18\x09", "piece type");
    BAD("\x0a\x08\x0a\x01" "a" "\x15\x00\x00\xc0\x7f", "finite");   /* score NaN */
    BAD("\x0a\x04\x0a\x01" "a" "\x15\x00", "truncated score");        /* a float of 1 byte */
    BAD("\x0a\x03\x0a\x01" "a" "\x12\x02\x18\x07", "model_type");      /* model_type 7 */
    BAD("\x0a\x03\x0a\x01" "a" "\x12\x02\x1a\x00", "wire type");       /* model_type as bytes */
    BAD("\x0a\x03\x0a\x01" "a" "\x12\x0b\xc0\x02\xff\xff\xff\xff\x0f\x00\x00\x00\x00", "int32");
}

static void test_convert(void)
{
    buf o;
    tiny_model(&o, 2);
    write_file("tokenizer.model", o.b, o.n);
    pe_err e;
    pe_err_clear(&e);
    pe_tokenizer *t = pe_tokenizer_load(dir, &e);
    CHECK(t != NULL);
    if (!t) {
        fprintf(stderr, "%s\n", e.msg);
        return;
    }
    CHECK_STR(pe_tokenizer_kind(t), "tokenizer.model (converted as LlamaConverter)");
    /* legacy: "▁" prepended, spaces replaced; (▁,a) rank 0, then ▁ab from (▁a,b) */
    IDS(t, "ab", 0, 9);
    IDS(t, "ab", 1, 1, 9);
    IDS(t, "b a", 0, 4, 6, 7);
    IDS(t, "ba", 0, 4, 10);
    /* added tokens: CONTROL and USER_DEFINED pieces, matched before normalization */
    IDS(t, "<s>a<sep>", 0, 1, 7, 3);
    /* byte fallback: é is <0xC3><0xA9>; "C" has no byte piece (<0x43>): unk */
    IDS(t, "\xc3\xa9", 0, 4, 12, 13);
    IDS(t, "CC", 0, 4, 0);
    CHECK_INT(pe_tokenizer_bos_id(t), 1);
    CHECK_STR(pe_tokenizer_special_text(t, PE_TOK_BOS), "<s>");
    CHECK_STR(pe_tokenizer_special_text(t, PE_TOK_EOS), "</s>");
    CHECK(pe_tokenizer_special_text(t, PE_TOK_PAD) == NULL);
    pe_tokenizer_free(t);

    /* legacy false: Metaspace prepend "first"; add_eos_token; an added token
     * after the vocabulary gets the next id (14). */
    const char *cfg = "{\"tokenizer_class\": \"LlamaTokenizer\", \"legacy\": false, \"add_eos_token\": true,"
                      " \"added_tokens_decoder\": {\"14\": {\"content\": \"<x>\", \"special\": true}},"
                      " \"pad_token\": \"<x>\"}";
    write_file("tokenizer_config.json", cfg, strlen(cfg));
    t = pe_tokenizer_load(dir, &e);
    CHECK(t != NULL);
    if (t) {
        IDS(t, "ab", 1, 1, 9, 2);
        IDS(t, "<x>ab", 0, 14, 8); /* not the first section: no "▁" */
        IDS(t, "ab<x>ab", 0, 9, 14, 8);
        CHECK_STR(pe_tokenizer_special_text(t, PE_TOK_PAD), "<x>");
        CHECK_INT(pe_tokenizer_vocab_size(t), 15);
        pe_tokenizer_free(t);
    }
    /* special_tokens_map.json wins only without added_tokens_decoder */
    cfg = "{\"tokenizer_class\": \"LlamaTokenizer\", \"bos_token\": \"<s>\"}";
    write_file("tokenizer_config.json", cfg, strlen(cfg));
    write_file("special_tokens_map.json", "{\"bos_token\": \"</s>\"}", 21);
    t = pe_tokenizer_load(dir, &e);
    CHECK(t != NULL);
    if (t) {
        IDS(t, "ab", 1, 2, 9);
        CHECK_STR(pe_tokenizer_special_text(t, PE_TOK_BOS), "</s>");
        pe_tokenizer_free(t);
    }
    remove_file("special_tokens_map.json");

    /* refused: a Unigram model; another tokenizer class; add_bos_token without bos_token */
    tiny_model(&o, 1);
    write_file("tokenizer.model", o.b, o.n);
    pe_err_clear(&e);
    CHECK(pe_tokenizer_load(dir, &e) == NULL && e.code == PE_EINPUT && strstr(e.msg, "Unigram"));
    tiny_model(&o, 2);
    write_file("tokenizer.model", o.b, o.n);
    cfg = "{\"tokenizer_class\": \"GemmaTokenizer\"}";
    write_file("tokenizer_config.json", cfg, strlen(cfg));
    pe_err_clear(&e);
    CHECK(pe_tokenizer_load(dir, &e) == NULL && e.code == PE_EINPUT && strstr(e.msg, "GemmaTokenizer"));
    cfg = "{\"tokenizer_class\": \"LlamaTokenizer\", \"bos_token\": null}";
    write_file("tokenizer_config.json", cfg, strlen(cfg));
    pe_err_clear(&e);
    CHECK(pe_tokenizer_load(dir, &e) == NULL && e.code == PE_EINPUT && strstr(e.msg, "bos_token is null"));
    cfg = "{\"add_bos_token\": \"yes\"}";
    write_file("tokenizer_config.json", cfg, strlen(cfg));
    pe_err_clear(&e);
    CHECK(pe_tokenizer_load(dir, &e) == NULL && e.code == PE_EINPUT && strstr(e.msg, "add_bos_token"));
    remove_file("tokenizer_config.json");
    /* a piece given twice */
    buf d = {.n = 0};
    put_piece(&d, "<unk>", 0, 2);
    put_piece(&d, "<s>", 0, 3);
    put_piece(&d, "</s>", 0, 3);
    put_piece(&d, "a", 0, 1);
    put_piece(&d, "a", 0, 1);
    put_tag(&d, 2, 2);
    put_varint(&d, 2);
    put_tag(&d, 3, 0);
    put_varint(&d, 2);
    write_file("tokenizer.model", d.b, d.n);
    pe_err_clear(&e);
    CHECK(pe_tokenizer_load(dir, &e) == NULL && e.code == PE_EINPUT && strstr(e.msg, "repeats pieces[3]"));
    remove_file("tokenizer.model");
    pe_err_clear(&e);
    CHECK(pe_tokenizer_load(dir, &e) == NULL && e.code == PE_EIO && strstr(e.msg, "no tokenizer.json"));
}

int main(void)
{
    dir = mkdtemp(dir_tmpl);
    if (!dir)
        return 1;
    test_parse();
    test_bad();
    test_convert();
    rmdir(dir);
    return pe_check_done();
}
