/* The tokenizer on hand-written tokenizer.json files whose ids are worked out
 * by hand: merge order, byte-level alphabet, added tokens (lstrip, rstrip,
 * single_word), Split behaviours, Metaspace, Llama-2-style byte fallback and
 * unk fusing, NFC, ignore_merges, the post-processor. The real tokenizers are
 * checked against the JavaScript oracle in tests/scripts/test_tokenizer_*.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/bytelevel.h"
#include "core/tokenizer.h"

static pe_tokenizer *load_text(const char *json)
{
    char path[] = "/tmp/pe_tok_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "w");
    fputs(json, f);
    fclose(f);
    pe_err e;
    pe_err_clear(&e);
    pe_tokenizer *t = pe_tokenizer_load(path, &e);
    if (!t)
        fprintf(stderr, "load failed: %s\n", e.msg);
    unlink(path);
    return t;
}

/* Encodes text and compares with the expected ids (terminated by -1). */
static void check_ids(const pe_tokenizer *t, const char *text, int add_special, const int32_t *want, int line)
{
    int32_t *ids = NULL;
    size_t n = 0, nw = 0;
    pe_err e;
    pe_err_clear(&e);
    while (want[nw] >= 0)
        nw++;
    int rc = t ? pe_tokenizer_encode(t, text, strlen(text), add_special, &ids, &n, &e) : -1;
    int same = rc == 0 && n == nw && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0);
    if (same) {
        pe_checks_passed++;
    } else {
        pe_checks_failed++;
        fprintf(stderr, "%s:%d: \"%s\" gave [", __FILE__, line, text);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, i ? ",%d" : "%d", ids[i]);
        fprintf(stderr, "]%s%s, expected [", rc ? " error: " : "", rc ? e.msg : "");
        for (size_t i = 0; i < nw; i++)
            fprintf(stderr, i ? ",%d" : "%d", want[i]);
        fprintf(stderr, "]\n");
    }
    free(ids);
}
#define IDS(t, text, ...) check_ids(t, text, 0, (const int32_t[]){__VA_ARGS__, -1}, __LINE__)
#define IDS_SPECIAL(t, text, ...) check_ids(t, text, 1, (const int32_t[]){__VA_ARGS__, -1}, __LINE__)
#define NO_IDS(t, text) check_ids(t, text, 0, (const int32_t[]){-1}, __LINE__)

static void test_bytelevel_alphabet(void)
{
    pe_bytelevel bl;
    pe_bytelevel_init(&bl);
    /* GPT-2's table: printable bytes stand for themselves, the rest count up from U+0100. */
    CHECK_INT(bl.byte_to_cp['a'], 'a');
    CHECK_INT(bl.byte_to_cp['!'], '!');
    CHECK_INT(bl.byte_to_cp[0], 0x100);
    CHECK_INT(bl.byte_to_cp['\n'], 0x10A);  /* "Ċ" */
    CHECK_INT(bl.byte_to_cp[' '], 0x120);   /* "Ġ" */
    CHECK_INT(bl.byte_to_cp[0x7F], 0x121);
    CHECK_INT(bl.byte_to_cp[0xAD], 0x143);  /* "Ń", the last one */
    CHECK_INT(bl.byte_to_cp[0xAE], 0xAE);
    unsigned char raw[8];
    CHECK_INT(pe_bytelevel_unmap(&bl, "\xc4\xa0the", 5, raw), 4); /* "Ġthe" is " the" */
    CHECK(memcmp(raw, " the", 4) == 0);
    CHECK_INT(pe_bytelevel_unmap(&bl, "\xe2\x96\x81", 3, raw), -1); /* "▁" is no byte */
}

static void test_merge_order(void)
{
    /* "b c" outranks "a b": "abc" -> a + bc, although "ab" comes first from the left. */
    pe_tokenizer *t = load_text("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3, "
                                "\"bc\": 4, \"aa\": 5}, \"merges\": [\"b c\", [\"a\", \"b\"], \"a a\"]}}");
    CHECK(t != NULL);
    IDS(t, "abc", 0, 4);
    IDS(t, "ab", 3);
    IDS(t, "aaa", 5, 0);    /* equal ranks: leftmost first */
    IDS(t, "aaaa", 5, 5);
    IDS(t, "abab", 3, 3);
    NO_IDS(t, "");
    CHECK_INT(pe_tokenizer_token_id(t, "bc"), 4);
    CHECK_INT(pe_tokenizer_token_id(t, "zz"), -1);
    CHECK_STR(pe_tokenizer_id_token(t, 3), "ab");
    CHECK(pe_tokenizer_id_token(t, 6) == NULL);
    CHECK_INT(pe_tokenizer_vocab_size(t), 6);
    CHECK_INT(pe_tokenizer_bos_id(t), -1);
    pe_tokenizer_free(t);
}

static void test_byte_level(void)
{
    /* ByteLevel with GPT-2's regex: " ab" is one word, its space is "Ġ". */
    pe_tokenizer *t = load_text(
        "{\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true},"
        " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"\xc4\xa0\": 2, \"ab\": 3, \"\xc4\xa0\x61\x62\": 4,"
        " \"\xc4\x8a\": 5, \"\xc3\x83\": 6, \"\xc2\xa9\": 7}, \"merges\": [\"a b\", \"\xc4\xa0 ab\"]}}");
    CHECK(t != NULL);
    IDS(t, "ab ab", 3, 4);
    IDS(t, "ab\n ab", 3, 5, 4);
    IDS(t, "\xc3\xa9", 6, 7); /* "é" is bytes C3 A9: "Ã" and "©" in the alphabet */
    IDS(t, "  ab", 2, 4);     /* \s+(?!\S) leaves the last space to the word */
    CHECK_INT(pe_tokenizer_token_id(t, "\xc4\xa0\x61\x62"), 4);
    pe_tokenizer_free(t);
    /* add_prefix_space: a space before each piece that lacks one. */
    t = load_text("{\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"use_regex\": false},"
                  " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"\xc4\xa0\": 2, \"ab\": 3,"
                  " \"\xc4\xa0\x61\x62\": 4}, \"merges\": [\"a b\", \"\xc4\xa0 ab\"]}}");
    IDS(t, "ab", 4);
    IDS(t, " ab", 4);
    pe_tokenizer_free(t);
}

static const char *chars_model =
    " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"-\": 2, \"a-\": 3, \"-b\": 4, \"--\": 5, \"x\": 6,"
    " \" \": 7, \"t\": 8, \"o\": 9, \"k\": 10}, \"merges\": [\"a -\", \"- b\", \"- -\"]}";

static pe_tokenizer *split_tokenizer(const char *behavior, int invert)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, \"behavior\": \"%s\","
             " \"invert\": %s}, %s}", behavior, invert ? "true" : "false", chars_model);
    return load_text(json);
}

static void test_split_behaviors(void)
{
    pe_tokenizer *t = split_tokenizer("Isolated", 0);
    IDS(t, "a-b", 0, 2, 1);
    IDS(t, "a--b", 0, 2, 2, 1);
    pe_tokenizer_free(t);
    t = split_tokenizer("Removed", 0);
    IDS(t, "a-b", 0, 1);
    pe_tokenizer_free(t);
    t = split_tokenizer("MergedWithPrevious", 0);
    IDS(t, "a-b", 3, 1);      /* "a-" "b" */
    IDS(t, "a--b", 3, 2, 1);  /* "a-" "-" "b": only the first of a run merges back */
    pe_tokenizer_free(t);
    t = split_tokenizer("MergedWithNext", 0);
    IDS(t, "a-b", 0, 4);      /* "a" "-b" */
    IDS(t, "a--b", 0, 2, 4);  /* "a" "--b": a run and what follows stay together; "- b" outranks "- -" */
    pe_tokenizer_free(t);
    t = split_tokenizer("Contiguous", 0);
    IDS(t, "a--b", 0, 5, 1);  /* "a" "--" "b" */
    pe_tokenizer_free(t);
    t = split_tokenizer("Isolated", 1); /* invert: the pattern is what to keep whole */
    IDS(t, "a-b", 0, 2, 1);
    pe_tokenizer_free(t);
}

static void test_added_tokens(void)
{
    char json[2048];
    snprintf(json, sizeof json,
             "{%s, \"added_tokens\": ["
             "{\"id\": 20, \"content\": \"<m>\", \"lstrip\": true, \"rstrip\": true, \"special\": true, \"normalized\": false},"
             "{\"id\": 21, \"content\": \"tok\", \"single_word\": true, \"special\": false, \"normalized\": false},"
             "{\"id\": 22, \"content\": \"<m>x\", \"special\": true, \"normalized\": false},"
             "{\"id\": 23, \"content\": \"<n>\", \"special\": true, \"normalized\": false}],"
             " \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<n>\","
             " \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, {\"SpecialToken\": {\"id\": \"<m>\","
             " \"type_id\": 0}}], \"pair\": [], \"special_tokens\": {\"<n>\": {\"id\": \"<n>\", \"ids\": [23],"
             " \"tokens\": [\"<n>\"]}, \"<m>\": {\"id\": \"<m>\", \"ids\": [20], \"tokens\": [\"<m>\"]}}}}",
             chars_model + 1);
    pe_tokenizer *t = load_text(json);
    CHECK(t != NULL);
    IDS(t, "a  <m>  b", 0, 20, 1);                  /* lstrip and rstrip eat the spaces */
    IDS(t, "a\xe3\x80\x80<m>", 0, 20);               /* U+3000 is whitespace too */
    IDS(t, "<m>xa", 22, 0);                          /* longest match wins */
    IDS(t, "a tok b", 0, 7, 21, 7, 1);
    IDS(t, "atok", 0, 8, 9, 10);                     /* single_word: not inside a word */
    IDS(t, "tok-", 21, 2);
    IDS(t, "<n><n>", 23, 23);
    IDS_SPECIAL(t, "ab", 23, 0, 1, 20);
    IDS_SPECIAL(t, "", 23, 20);
    CHECK_INT(pe_tokenizer_bos_id(t), 23);
    CHECK_INT(pe_tokenizer_token_id(t, "<m>"), 20);
    CHECK_STR(pe_tokenizer_id_token(t, 21), "tok");
    CHECK_INT(pe_tokenizer_vocab_size(t), 24);
    pe_tokenizer_free(t);
}

/* Llama-2/Mistral: Prepend "▁" and spaces to "▁", no pre-tokenizer, <0xXX> byte fallback. */
static void test_sentencepiece_style(void)
{
    pe_tokenizer *t = load_text(
        "{\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Prepend\", \"prepend\": \"\xe2\x96\x81\"},"
        " {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"\xe2\x96\x81\"}]},"
        " \"pre_tokenizer\": null,"
        " \"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"fuse_unk\": true, \"byte_fallback\": true,"
        " \"vocab\": {\"<unk>\": 0, \"<s>\": 1, \"<0xC3>\": 2, \"<0xA9>\": 3, \"\xe2\x96\x81\": 4, \"a\": 5, \"b\": 6,"
        " \"\xe2\x96\x81\x61\": 7, \"\xe2\x96\x81\x62\": 8, \"\xe2\x96\x81\xe2\x96\x81\": 9},"
        " \"merges\": [\"\xe2\x96\x81 a\", \"\xe2\x96\x81 b\", \"\xe2\x96\x81 \xe2\x96\x81\"]},"
        " \"added_tokens\": [{\"id\": 1, \"content\": \"<s>\", \"special\": true, \"normalized\": false}],"
        " \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\","
        " \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], \"special_tokens\": {\"<s>\":"
        " {\"id\": \"<s>\", \"ids\": [1], \"tokens\": [\"<s>\"]}}}}");
    CHECK(t != NULL);
    IDS(t, "a b", 7, 8);
    IDS(t, "a  b", 7, 4, 8);          /* "▁a▁▁b": ▁a first (rank 0), then ▁b (rank 1) */
    IDS(t, "\xc3\xa9", 4, 2, 3);      /* "é" is unknown: its bytes <0xC3><0xA9> */
    IDS(t, "\xc3\x9f\xc3\x9f", 4, 0); /* "ßß": <0x9F> is missing, so unk, fused once */
    IDS(t, "<s>a", 1, 7);             /* the normalizer runs per section: "▁a" (HF's legacy Llama-2 behaviour) */
    IDS_SPECIAL(t, "a", 1, 7);
    CHECK_INT(pe_tokenizer_bos_id(t), 1);
    pe_tokenizer_free(t);
}

static void test_metaspace(void)
{
    const char *model = " \"model\": {\"type\": \"BPE\", \"vocab\": {\"\xe2\x96\x81\": 0, \"a\": 1, \"b\": 2,"
                        " \"\xe2\x96\x81\x61\": 3, \"\xe2\x96\x81\x62\": 4, \"\xe2\x96\x81\x61\xe2\x96\x81\x62\": 5},"
                        " \"merges\": [\"\xe2\x96\x81 a\", \"\xe2\x96\x81 b\", \"\xe2\x96\x81\x61 \xe2\x96\x81\x62\"]}";
    char json[1024];
    snprintf(json, sizeof json, "{\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\xe2\x96\x81\","
             " \"prepend_scheme\": \"always\", \"split\": true},%s}", model);
    pe_tokenizer *t = load_text(json);
    IDS(t, "a b", 3, 4);  /* words "▁a" "▁b" cannot merge across the split */
    pe_tokenizer_free(t);
    snprintf(json, sizeof json, "{\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\xe2\x96\x81\","
             " \"prepend_scheme\": \"never\", \"split\": false},%s}", model);
    t = load_text(json);
    IDS(t, " a b", 5);    /* one word "▁a▁b" */
    IDS(t, "a", 1);       /* never: no "▁" in front */
    pe_tokenizer_free(t);
}

static void test_nfc_and_ignore_merges(void)
{
    pe_tokenizer *t = load_text("{\"normalizer\": {\"type\": \"NFC\"}, \"model\": {\"type\": \"BPE\", \"ignore_merges\": true,"
                                " \"vocab\": {\"\xc3\xa9\": 0, \"e\": 1, \"a\": 2, \"b\": 3, \"c\": 4, \"abc\": 5},"
                                " \"merges\": []}}");
    IDS(t, "e\xcc\x81", 0); /* e + combining acute -> é */
    IDS(t, "abc", 5);       /* in the vocabulary whole, though no merge builds it */
    IDS(t, "abcc", 2, 3, 4, 4);
    pe_tokenizer_free(t);
}

static void test_load_errors(void)
{
    pe_err e;
    pe_err_clear(&e);
    CHECK(pe_tokenizer_load("/nonexistent/tokenizer.json", &e) == NULL);
    CHECK_INT(e.code, PE_EIO);
    char path[] = "/tmp/pe_tok_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": []}}", f);
    fclose(f);
    pe_err_clear(&e);
    CHECK(pe_tokenizer_load(path, &e) == NULL);
    CHECK_INT(e.code, PE_EINPUT);
    CHECK(strstr(e.msg, "model.vocab[\"a\"]") != NULL);
    CHECK(strstr(e.msg, path) != NULL);
    unlink(path);
}

int main(void)
{
    test_bytelevel_alphabet();
    test_merge_order();
    test_byte_level();
    test_split_behaviors();
    test_added_tokens();
    test_sentencepiece_style();
    test_metaspace();
    test_nfc_and_ignore_merges();
    test_load_errors();
    return pe_check_done();
}
