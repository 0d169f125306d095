/* Reads a Hugging Face tokenizer.json into the structure of
 * src/core/tokenizer_impl.h. Supported: model BPE; normalizers NFC/NFD/NFKC/
 * NFKD, Prepend, Replace, Strip, Sequence; pre-tokenizers Split, ByteLevel,
 * Metaspace, Sequence; post-processors TemplateProcessing, ByteLevel,
 * RobertaProcessing, BertProcessing, Sequence; added_tokens. Anything else is
 * an error naming the file and the JSON path, never a silent approximation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <utf8proc.h>

#include "core/bytelevel.h"
#include "core/tokenizer_impl.h"
#include "io/json_check.h"
#include "io/tokenizer_io.h"
#include "infile.h"

/* The pattern of GPT-2's ByteLevel pre-tokenizer when use_regex is true. */
static const char gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

typedef struct {
    const char *file;
    pe_err *e;
} ctx;

static int bad(ctx *c, const char *path, const char *what)
{
    return pe_fail(c->e, PE_EINPUT, "%s: %s: %s", c->file, path, what);
}

/* Optional boolean: absent or null gives def. */
static int get_bool(ctx *c, const cJSON *o, const char *key, const char *path, int def, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return PE_OK;
    }
    if (!cJSON_IsBool(v)) {
        char p[640];
        snprintf(p, sizeof p, "%.500s.%.100s", path, key);
        return bad(c, p, "expected true or false");
    }
    *out = cJSON_IsTrue(v);
    return PE_OK;
}

/* Optional string: absent or null gives NULL. */
static int get_str(ctx *c, const cJSON *o, const char *key, const char *path, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return PE_OK;
    if (!cJSON_IsString(v)) {
        char p[640];
        snprintf(p, sizeof p, "%.500s.%.100s", path, key);
        return bad(c, p, "expected a string");
    }
    *out = v->valuestring;
    return PE_OK;
}

/* The id table is sized by the largest id: real vocabularies stay below
 * 300000, and a forged id near 2^31 must not make it 16 GB. */
#define MAX_TOKEN_ID ((1 << 24) - 1)

static int get_id(ctx *c, const cJSON *v, const char *path, int32_t *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > (double)MAX_TOKEN_ID ||
        v->valuedouble != (double)(int32_t)v->valuedouble)
        return bad(c, path, "expected a token id (an integer from 0 to 2^24-1)");
    *out = (int32_t)v->valuedouble;
    return PE_OK;
}

static const char *type_of(const cJSON *o)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

/* Compiles a {"Regex": ...} or {"String": ...} pattern with UTF and Unicode
 * properties (\s, \w, \d mean their Unicode classes, as in Rust's regex). */
static pcre2_code *compile_pattern(ctx *c, const cJSON *pat, const char *path)
{
    char p[512];
    snprintf(p, sizeof p, "%s.pattern", path);
    const cJSON *re = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
    const cJSON *lit = cJSON_GetObjectItemCaseSensitive(pat, "String");
    const char *src;
    uint32_t opts = PCRE2_UTF | PCRE2_UCP;
    if (cJSON_IsString(re)) {
        src = re->valuestring;
    } else if (cJSON_IsString(lit)) {
        src = lit->valuestring;
        opts = PCRE2_UTF | PCRE2_LITERAL; /* PCRE2 refuses UCP with LITERAL; it has no meaning there */
    } else {
        bad(c, p, "expected {\"Regex\": \"...\"} or {\"String\": \"...\"}");
        return NULL;
    }
    int err;
    PCRE2_SIZE off;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, opts, &err, &off, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        char what[512];
        snprintf(what, sizeof what, "regex does not compile at offset %zu: %s", (size_t)off, (char *)msg);
        bad(c, p, what);
        return NULL;
    }
    /* JIT makes pre-tokenization several times faster; without it (an exotic
     * platform) pcre2_match falls back to the interpreter with the same result. */
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    return code;
}

/* ---- pipeline stages ----------------------------------------------------- */

typedef int (*stage_fn)(ctx *c, pe_tokenizer *t, const cJSON *o, const char *path);

/* What the normalizer, pre-tokenizer and post-processor readers share: null (or
 * absent) is no step, a Sequence runs each entry of its `list_key` array through
 * add, in order. Anything else is one step: its type goes to *type for the
 * caller (NULL when there is nothing left to do). */
static int stage_type(ctx *c, pe_tokenizer *t, const cJSON *o, const char *path, const char *list_key,
                      stage_fn add, const char **type)
{
    *type = NULL;
    if (!o || cJSON_IsNull(o))
        return PE_OK;
    if (!cJSON_IsObject(o))
        return bad(c, path, "expected an object or null");
    const char *ty = type_of(o);
    if (!ty)
        return bad(c, path, "missing \"type\"");
    if (strcmp(ty, "Sequence")) {
        *type = ty;
        return PE_OK;
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(o, list_key);
    char p[512];
    snprintf(p, sizeof p, "%s.%s", path, list_key);
    if (!cJSON_IsArray(list))
        return bad(c, p, "expected an array");
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, list) {
        snprintf(p, sizeof p, "%s.%s[%d]", path, list_key, i++);
        if (add(c, t, it, p))
            return c->e->code;
    }
    return PE_OK;
}

/* ---- normalizer ---------------------------------------------------------- */

static int add_norm(ctx *c, pe_tokenizer *t, const cJSON *o, const char *path)
{
    const char *type;
    int rc = stage_type(c, t, o, path, "normalizers", add_norm, &type);
    if (rc || !type)
        return rc;
    pe_norm nm;
    memset(&nm, 0, sizeof nm);
    if (!strcmp(type, "NFC")) {
        nm.kind = PE_NORM_NFC;
    } else if (!strcmp(type, "NFD")) {
        nm.kind = PE_NORM_NFD;
    } else if (!strcmp(type, "NFKC")) {
        nm.kind = PE_NORM_NFKC;
    } else if (!strcmp(type, "NFKD")) {
        nm.kind = PE_NORM_NFKD;
    } else if (!strcmp(type, "Prepend")) {
        const char *s;
        if (get_str(c, o, "prepend", path, &s))
            return c->e->code;
        if (!s)
            return bad(c, path, "Prepend needs \"prepend\"");
        nm.kind = PE_NORM_PREPEND;
        nm.str = pe_strdup(s, c->e);
        if (!nm.str)
            return c->e->code;
        nm.str_len = strlen(s);
    } else if (!strcmp(type, "Replace")) {
        const char *s;
        if (get_str(c, o, "content", path, &s))
            return c->e->code;
        if (!s)
            return bad(c, path, "Replace needs \"content\"");
        nm.kind = PE_NORM_REPLACE;
        nm.re = compile_pattern(c, cJSON_GetObjectItemCaseSensitive(o, "pattern"), path);
        if (!nm.re)
            return c->e->code;
        nm.str = pe_strdup(s, c->e);
        if (!nm.str) {
            pcre2_code_free(nm.re);
            return c->e->code;
        }
        nm.str_len = strlen(s);
    } else if (!strcmp(type, "Strip")) {
        nm.kind = PE_NORM_STRIP;
        if (get_bool(c, o, "left", path, 1, &nm.left) || get_bool(c, o, "right", path, 1, &nm.right))
            return c->e->code;
    } else {
        char what[256];
        snprintf(what, sizeof what,
                 "unsupported normalizer type \"%.64s\" (supported: NFC, NFD, NFKC, NFKD, Prepend, Replace, Strip, "
                 "Sequence)", type);
        return bad(c, path, what);
    }
    pe_norm *n = pe_realloc(t->norms, (size_t)(t->nnorms + 1) * sizeof *n, c->e);
    if (!n) {
        free(nm.str);
        pcre2_code_free(nm.re);
        return c->e->code;
    }
    t->norms = n;
    t->norms[t->nnorms++] = nm;
    return PE_OK;
}

/* ---- pre-tokenizer ------------------------------------------------------- */

static int utf8_one_char(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return 0;
    unsigned char b = (unsigned char)s[0];
    size_t want = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    return want == n;
}

static int add_pretok(ctx *c, pe_tokenizer *t, const cJSON *o, const char *path)
{
    const char *type;
    int rc = stage_type(c, t, o, path, "pretokenizers", add_pretok, &type);
    if (rc || !type)
        return rc;
    if (t->bpe.byte_level)
        /* The byte-level mapping is folded into the model (vocabulary keyed by
         * raw bytes), which is exact only when ByteLevel is the last step. */
        return bad(c, path, "a pre-tokenizer after ByteLevel is not supported");
    pe_pretok pt;
    memset(&pt, 0, sizeof pt);
    if (!strcmp(type, "Split")) {
        pt.kind = PE_PRETOK_SPLIT;
        const char *beh;
        if (get_str(c, o, "behavior", path, &beh) || get_bool(c, o, "invert", path, 0, &pt.invert))
            return c->e->code;
        if (!beh)
            return bad(c, path, "Split needs \"behavior\"");
        if (!strcmp(beh, "Removed"))
            pt.behavior = PE_SPLIT_REMOVED;
        else if (!strcmp(beh, "Isolated"))
            pt.behavior = PE_SPLIT_ISOLATED;
        else if (!strcmp(beh, "MergedWithPrevious"))
            pt.behavior = PE_SPLIT_MERGED_WITH_PREVIOUS;
        else if (!strcmp(beh, "MergedWithNext"))
            pt.behavior = PE_SPLIT_MERGED_WITH_NEXT;
        else if (!strcmp(beh, "Contiguous"))
            pt.behavior = PE_SPLIT_CONTIGUOUS;
        else
            return bad(c, path, "unknown Split behavior (expected Removed, Isolated, MergedWithPrevious, "
                                "MergedWithNext or Contiguous)");
        pt.re = compile_pattern(c, cJSON_GetObjectItemCaseSensitive(o, "pattern"), path);
        if (!pt.re)
            return c->e->code;
    } else if (!strcmp(type, "ByteLevel")) {
        pt.kind = PE_PRETOK_BYTELEVEL;
        if (get_bool(c, o, "add_prefix_space", path, 1, &pt.add_prefix_space) ||
            get_bool(c, o, "use_regex", path, 1, &pt.use_regex))
            return c->e->code;
        if (pt.use_regex) {
            cJSON *pat = cJSON_CreateObject();
            if (!pat || !cJSON_AddStringToObject(pat, "Regex", gpt2_pattern)) {
                cJSON_Delete(pat);
                return pe_fail(c->e, PE_ERESOURCE, "out of memory");
            }
            pt.re = compile_pattern(c, pat, path);
            cJSON_Delete(pat);
            if (!pt.re)
                return c->e->code;
        }
        t->bpe.byte_level = 1;
    } else if (!strcmp(type, "Metaspace")) {
        pt.kind = PE_PRETOK_METASPACE;
        const char *rep, *scheme;
        int legacy_prefix = 1;
        if (get_str(c, o, "replacement", path, &rep) || get_str(c, o, "prepend_scheme", path, &scheme) ||
            get_bool(c, o, "split", path, 1, &pt.split) ||
            get_bool(c, o, "add_prefix_space", path, 1, &legacy_prefix))
            return c->e->code;
        if (!rep || !utf8_one_char(rep))
            return bad(c, path, "Metaspace needs \"replacement\", one character");
        if (!scheme)
            pt.prepend_scheme = legacy_prefix ? PE_PREPEND_ALWAYS : PE_PREPEND_NEVER;
        else if (!strcmp(scheme, "always"))
            pt.prepend_scheme = PE_PREPEND_ALWAYS;
        else if (!strcmp(scheme, "first"))
            pt.prepend_scheme = PE_PREPEND_FIRST;
        else if (!strcmp(scheme, "never"))
            pt.prepend_scheme = PE_PREPEND_NEVER;
        else
            return bad(c, path, "unknown prepend_scheme (expected always, first or never)");
        pt.replacement = pe_strdup(rep, c->e);
        if (!pt.replacement)
            return c->e->code;
        pt.replacement_len = strlen(rep);
    } else {
        char what[256];
        snprintf(what, sizeof what,
                 "unsupported pre-tokenizer type \"%.64s\" (supported: Split, ByteLevel, Metaspace, Sequence)",
                 type);
        return bad(c, path, what);
    }
    pe_pretok *n = pe_realloc(t->pretoks, (size_t)(t->npretoks + 1) * sizeof *n, c->e);
    if (!n) {
        pcre2_code_free(pt.re);
        free(pt.replacement);
        return c->e->code;
    }
    t->pretoks = n;
    t->pretoks[t->npretoks++] = pt;
    return PE_OK;
}

/* ---- model --------------------------------------------------------------- */

static int set_token(ctx *c, pe_tokenizer *t, int32_t id, const char *s, const char *path)
{
    if (id >= t->vocab_size)
        return bad(c, path, "token id beyond the largest id counted");
    if (t->id_to_token[id])
        return PE_OK; /* the vocabulary's own string wins over an added token's */
    t->id_to_token[id] = pe_strdup(s, c->e);
    return t->id_to_token[id] ? PE_OK : c->e->code;
}

/* The left and right halves of merge i, in either form tokenizers writes:
 * "a b" (before 0.20) or ["a", "b"]. */
static int merge_parts(ctx *c, const cJSON *m, int i, const char **a, size_t *al, const char **b, size_t *bl)
{
    char p[64];
    snprintf(p, sizeof p, "model.merges[%d]", i);
    if (cJSON_IsString(m)) {
        const char *s = m->valuestring, *sp = strchr(s, ' ');
        if (!sp || strchr(sp + 1, ' '))
            return bad(c, p, "expected \"left right\" with exactly one space");
        *a = s;
        *al = (size_t)(sp - s);
        *b = sp + 1;
        *bl = strlen(sp + 1);
    } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(cJSON_GetArrayItem(m, 0)) &&
               cJSON_IsString(cJSON_GetArrayItem(m, 1))) {
        *a = cJSON_GetArrayItem(m, 0)->valuestring;
        *al = strlen(*a);
        *b = cJSON_GetArrayItem(m, 1)->valuestring;
        *bl = strlen(*b);
    } else {
        return bad(c, p, "expected \"left right\" or [\"left\", \"right\"]");
    }
    return PE_OK;
}

static int load_model(ctx *c, pe_tokenizer *t, const cJSON *model, const cJSON *added)
{
    if (!cJSON_IsObject(model))
        return bad(c, "model", "missing or not an object");
    const char *type = type_of(model);
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (type ? strcmp(type, "BPE") != 0 : !merges) {
        char what[256];
        snprintf(what, sizeof what, "unsupported model type \"%.64s\" (supported: BPE)", type ? type : "(none)");
        return bad(c, "model.type", what);
    }
    if (!cJSON_IsObject(vocab))
        return bad(c, "model.vocab", "expected an object of token: id");
    if (!cJSON_IsArray(merges))
        return bad(c, "model.merges", "expected an array");
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (dropout && !cJSON_IsNull(dropout) && !(cJSON_IsNumber(dropout) && dropout->valuedouble == 0.0))
        return bad(c, "model.dropout", "BPE dropout is random and not supported (expected null)");
    const char *prefix, *suffix, *unk;
    if (get_str(c, model, "continuing_subword_prefix", "model", &prefix) ||
        get_str(c, model, "end_of_word_suffix", "model", &suffix) || get_str(c, model, "unk_token", "model", &unk) ||
        get_bool(c, model, "byte_fallback", "model", 0, &t->bpe.byte_fallback) ||
        get_bool(c, model, "ignore_merges", "model", 0, &t->bpe.ignore_merges) ||
        get_bool(c, model, "fuse_unk", "model", 0, &t->bpe.fuse_unk))
        return c->e->code;
    if (prefix && *prefix)
        return bad(c, "model.continuing_subword_prefix", "not supported (expected null or \"\")");
    if (suffix && *suffix)
        return bad(c, "model.end_of_word_suffix", "not supported (expected null or \"\")");

    /* Ids: the vocabulary's and the added tokens' together decide vocab_size. */
    int32_t max_id = -1, id = -1;
    int nv = 0;
    char p[640];
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab) {
        snprintf(p, sizeof p, "model.vocab[\"%.500s\"]", it->string);
        if (get_id(c, it, p, &id))
            return c->e->code;
        if (id > max_id)
            max_id = id;
        nv++;
    }
    int i = 0;
    cJSON_ArrayForEach(it, added) {
        snprintf(p, sizeof p, "added_tokens[%d].id", i++);
        if (get_id(c, cJSON_GetObjectItemCaseSensitive(it, "id"), p, &id))
            return c->e->code;
        if (id > max_id)
            max_id = id;
    }
    t->vocab_size = max_id + 1;
    t->id_to_token = pe_calloc((size_t)t->vocab_size, sizeof *t->id_to_token, c->e);
    if (!t->id_to_token)
        return c->e->code;
    if (pe_strmap_init(&t->token_to_id, (size_t)nv + 256, c->e) || pe_strmap_init(&t->bpe.vocab, (size_t)nv, c->e))
        return c->e->code;

    pe_bytelevel bl;
    pe_bytelevel_init(&bl);
    unsigned char *raw = NULL;
    size_t raw_cap = 0;
    cJSON_ArrayForEach(it, vocab) {
        snprintf(p, sizeof p, "model.vocab[\"%.500s\"]", it->string);
        id = (int32_t)it->valuedouble;
        size_t len = strlen(it->string);
        if (set_token(c, t, id, it->string, p) || pe_strmap_put(&t->token_to_id, it->string, len, id, c->e))
            goto fail;
        if (!t->bpe.byte_level) {
            if (pe_strmap_put(&t->bpe.vocab, it->string, len, id, c->e))
                goto fail;
            continue;
        }
        if (len > raw_cap) {
            unsigned char *r = pe_realloc(raw, len * 2, c->e);
            if (!r)
                goto fail;
            raw = r;
            raw_cap = len * 2;
        }
        /* Strings outside the byte alphabet can never be produced from text. */
        long n = pe_bytelevel_unmap(&bl, it->string, len, raw);
        if (n > 0 && pe_strmap_put(&t->bpe.vocab, (const char *)raw, (size_t)n, id, c->e))
            goto fail;
    }
    free(raw);
    raw = NULL;

    int nm = cJSON_GetArraySize(merges);
    if (pe_pairmap_init(&t->bpe.merges, (size_t)nm, c->e))
        return c->e->code;
    char *joined = NULL;
    size_t joined_cap = 0;
    i = 0;
    cJSON_ArrayForEach(it, merges) {
        const char *a = NULL, *b = NULL;
        size_t al = 0, bl2 = 0;
        if (merge_parts(c, it, i, &a, &al, &b, &bl2))
            goto merge_fail;
        if (al + bl2 + 1 > joined_cap) {
            joined_cap = 2 * (al + bl2 + 1);
            char *j = pe_realloc(joined, joined_cap, c->e);
            if (!j)
                goto merge_fail;
            joined = j;
        }
        memcpy(joined, a, al);
        joined[al] = '\0';
        int32_t ia = pe_strmap_get(&t->token_to_id, joined, al);
        memcpy(joined, b, bl2);
        int32_t ib = pe_strmap_get(&t->token_to_id, joined, bl2);
        memcpy(joined, a, al);
        memcpy(joined + al, b, bl2);
        int32_t ir = pe_strmap_get(&t->token_to_id, joined, al + bl2);
        if (ia < 0 || ib < 0 || ir < 0) {
            snprintf(p, sizeof p, "model.merges[%d]", i);
            bad(c, p, ia < 0 || ib < 0 ? "a part of the merge is not in model.vocab"
                                       : "the merged token is not in model.vocab");
            goto merge_fail;
        }
        if (pe_pairmap_put(&t->bpe.merges, ia, ib, i, ir, c->e))
            goto merge_fail;
        i++;
    }
    free(joined);

    for (int b = 0; b < 256; b++) {
        char s[8];
        t->bpe.byte_ids[b] = -1;
        t->bpe.fallback_ids[b] = -1;
        if (t->bpe.byte_level) {
            utf8proc_ssize_t n = utf8proc_encode_char((utf8proc_int32_t)bl.byte_to_cp[b], (utf8proc_uint8_t *)s);
            t->bpe.byte_ids[b] = pe_strmap_get(&t->token_to_id, s, (size_t)n);
        }
        if (t->bpe.byte_fallback) {
            snprintf(s, sizeof s, "<0x%02X>", b);
            t->bpe.fallback_ids[b] = pe_strmap_get(&t->token_to_id, s, strlen(s));
        }
    }
    t->bpe.unk_id = unk ? pe_strmap_get(&t->token_to_id, unk, strlen(unk)) : -1;
    return PE_OK;
merge_fail:
    free(joined);
    return c->e->code;
fail:
    free(raw);
    return c->e->code;
}

/* ---- added tokens ------------------------------------------------------- */

static int load_added(ctx *c, pe_tokenizer *t, const cJSON *added)
{
    int n = cJSON_GetArraySize(added);
    if (n == 0)
        return PE_OK;
    t->added = pe_calloc((size_t)n, sizeof *t->added, c->e);
    if (!t->added)
        return c->e->code;
    const cJSON *it;
    int i = 0;
    char p[64];
    cJSON_ArrayForEach(it, added) {
        snprintf(p, sizeof p, "added_tokens[%d]", i);
        pe_added_token *a = &t->added[i];
        const char *content;
        if (!cJSON_IsObject(it))
            return bad(c, p, "expected an object");
        if (get_str(c, it, "content", p, &content) || get_bool(c, it, "special", p, 0, &a->special) ||
            get_bool(c, it, "lstrip", p, 0, &a->lstrip) || get_bool(c, it, "rstrip", p, 0, &a->rstrip) ||
            get_bool(c, it, "single_word", p, 0, &a->single_word) ||
            /* tokenizers' default: special tokens are not normalized, others are */
            get_bool(c, it, "normalized", p, !a->special, &a->normalized))
            return c->e->code;
        if (!content || !*content)
            return bad(c, p, "needs a non-empty \"content\"");
        a->id = (int32_t)cJSON_GetObjectItemCaseSensitive(it, "id")->valuedouble;
        a->content = pe_strdup(content, c->e);
        if (!a->content)
            return c->e->code;
        a->len = strlen(content);
        t->nadded = ++i;
        if (set_token(c, t, a->id, content, p) || pe_strmap_put(&t->token_to_id, content, a->len, a->id, c->e))
            return c->e->code;
    }
    return PE_OK;
}

/* ---- post-processor ----------------------------------------------------- */

static int push_special(ctx *c, int32_t **arr, int *n, int32_t id)
{
    int32_t *p = pe_realloc(*arr, (size_t)(*n + 1) * sizeof *p, c->e);
    if (!p)
        return c->e->code;
    *arr = p;
    p[(*n)++] = id;
    return PE_OK;
}

static int load_template(ctx *c, pe_tokenizer *t, const cJSON *o, const char *path)
{
    char p[512];
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(o, "single");
    const cJSON *specials = cJSON_GetObjectItemCaseSensitive(o, "special_tokens");
    snprintf(p, sizeof p, "%s.single", path);
    if (!cJSON_IsArray(single))
        return bad(c, p, "expected an array");
    int seen_a = 0, i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, single) {
        snprintf(p, sizeof p, "%s.single[%d]", path, i++);
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(it, "SpecialToken");
        const cJSON *sq = cJSON_GetObjectItemCaseSensitive(it, "Sequence");
        if (sq) {
            const char *which;
            if (get_str(c, sq, "id", p, &which))
                return c->e->code;
            if (!which || strcmp(which, "A") || seen_a)
                return bad(c, p, "a single-sequence template takes sequence \"A\" once");
            seen_a = 1;
            continue;
        }
        const char *name;
        if (!sp || get_str(c, sp, "id", p, &name))
            return sp ? c->e->code : bad(c, p, "expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
        if (!name)
            return bad(c, p, "SpecialToken needs \"id\"");
        const cJSON *def = cJSON_GetObjectItemCaseSensitive(specials, name);
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(def, "ids");
        if (!cJSON_IsArray(ids)) {
            snprintf(p, sizeof p, "%s.special_tokens[\"%.200s\"].ids", path, name);
            return bad(c, p, "missing: the template names a special token that is not defined");
        }
        int j = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, ids) {
            int32_t id = -1;
            snprintf(p, sizeof p, "%s.special_tokens[\"%.200s\"].ids[%d]", path, name, j++);
            if (get_id(c, v, p, &id) ||
                push_special(c, seen_a ? &t->special_suffix : &t->special_prefix, seen_a ? &t->nsuffix : &t->nprefix,
                             id))
                return c->e->code;
        }
    }
    if (!seen_a)
        return bad(c, path, "the single template lacks sequence \"A\"");
    return PE_OK;
}

static int load_post(ctx *c, pe_tokenizer *t, const cJSON *o, const char *path)
{
    const char *type;
    int rc = stage_type(c, t, o, path, "processors", load_post, &type);
    if (rc || !type)
        return rc;
    char p[512];
    if (!strcmp(type, "ByteLevel"))
        return PE_OK; /* adjusts offsets only; ids are unchanged */
    if (t->nprefix || t->nsuffix)
        return bad(c, path, "a second post-processor that adds tokens is not supported");
    if (!strcmp(type, "TemplateProcessing"))
        return load_template(c, t, o, path);
    if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "BertProcessing")) {
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(o, "cls");
        const cJSON *sep = cJSON_GetObjectItemCaseSensitive(o, "sep");
        int32_t ci = -1, si = -1;
        snprintf(p, sizeof p, "%s.cls[1]", path);
        if (get_id(c, cJSON_GetArrayItem(cls, 1), p, &ci))
            return c->e->code;
        snprintf(p, sizeof p, "%s.sep[1]", path);
        if (get_id(c, cJSON_GetArrayItem(sep, 1), p, &si))
            return c->e->code;
        return push_special(c, &t->special_prefix, &t->nprefix, ci) ||
               push_special(c, &t->special_suffix, &t->nsuffix, si);
    }
    char what[256];
    snprintf(what, sizeof what,
             "unsupported post-processor type \"%.64s\" (supported: TemplateProcessing, ByteLevel, "
             "RobertaProcessing, BertProcessing, Sequence)", type);
    return bad(c, path, what);
}

/* ---- file ---------------------------------------------------------------- */

/* A bound on the file, so a huge or endless input (a FIFO, /dev/zero) is
 * refused instead of filling memory; cJSON's tree is several times larger. */
#define MAX_FILE (256 << 20)

char *pe_tok_read_text(const char *path, size_t *len, pe_err *e)
{
    FILE *f = pe_fopen_input(path);
    if (!f) {
        pe_fail(e, PE_EIO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap && n >= MAX_FILE) {
            free(buf);
            fclose(f);
            pe_fail(e, PE_EINPUT, "%s: larger than %d MB (the largest real tokenizer.json is under 40 MB)", path,
                    MAX_FILE >> 20);
            return NULL;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 20;
            char *b = pe_realloc(buf, cap + 1, e);
            if (!b) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        pe_fail(e, PE_EIO, "%s: read error", path);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int load_json(pe_tokenizer *t, const cJSON *root, ctx *c)
{
    if (!cJSON_IsObject(root))
        return bad(c, "(top level)", "expected a JSON object");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (added && !cJSON_IsNull(added) && !cJSON_IsArray(added))
        return bad(c, "added_tokens", "expected an array");
    if (cJSON_IsNull(added))
        added = NULL;
    /* The pre-tokenizer first: whether it is byte-level decides the model's keys. */
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if ((pre && add_pretok(c, t, pre, "pre_tokenizer")) || (norm && add_norm(c, t, norm, "normalizer")) ||
        load_model(c, t, cJSON_GetObjectItemCaseSensitive(root, "model"), added) ||
        (added && load_added(c, t, added)) ||
        load_post(c, t, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), "post_processor"))
        return c->e->code;
    return pe_tokenizer_finish(t, c->e);
}

pe_tokenizer *pe_tokenizer_from_json(const char *path, pe_err *e)
{
    char *file = pe_strdup(path, e);
    if (!file)
        return NULL;
    size_t len;
    char *text = pe_tok_read_text(file, &len, e);
    if (!text) {
        free(file);
        return NULL;
    }
    cJSON *root = NULL;
    if (strlen(text) != len)
        pe_fail(e, PE_EINPUT, "%s: NUL byte (binary data, not JSON)", file);
    else
        root = pe_json_parse_strict(text, len, file, e);
    if (!root) {
        free(text);
        free(file);
        return NULL;
    }
    free(text);
    pe_tokenizer *t = pe_calloc(1, sizeof *t, e);
    if (!t) {
        cJSON_Delete(root);
        free(file);
        return NULL;
    }
    t->source = file;
    ctx c = {file, e};
    int rc = load_json(t, root, &c);
    cJSON_Delete(root);
    if (rc) {
        pe_tokenizer_free(t);
        return NULL;
    }
    return t;
}
