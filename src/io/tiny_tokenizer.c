/* A deterministic BPE trainer and the tokenizer.json writer for tiny models.
 *
 * Training: the corpus is cut into pieces as the style's pre-tokenizer would
 * (PCRE2 with the real split regex for the byte-level styles; words at "▁" for
 * the SentencePiece style), each piece becomes a sequence of base symbols, and
 * the most frequent adjacent pair is merged until n_merges merges exist or no
 * pair occurs twice. Ties go to the pair with the smaller (left, right) ids,
 * so the result depends on nothing but the corpus and n_merges. */
#include "tiny_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <errno.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* The pre-tokenizer patterns of Qwen2 and Llama-3 (they differ in \p{N} vs \p{N}{1,3}). */
static const char QWEN2_REGEX[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char LLAMA3_REGEX[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char SPM_SPACE[] = "\xe2\x96\x81"; /* U+2581 "▁" */

typedef struct {
    char **sym;   /* token strings, index = id among the learned vocabulary */
    int nsym, cap;
    int (*merges)[2];
    int nmerges;
} vocab;

typedef struct {
    int *s;       /* symbol ids */
    int len;
    int count;    /* occurrences of this piece in the corpus */
} word;

static int vocab_find(const vocab *v, const char *s)
{
    for (int i = 0; i < v->nsym; i++)
        if (!strcmp(v->sym[i], s))
            return i;
    return -1;
}

static int vocab_add(vocab *v, const char *s, pe_err *e)
{
    if (v->nsym == v->cap) {
        int cap = v->cap ? 2 * v->cap : 512;
        char **ns = pe_realloc(v->sym, (size_t)cap * sizeof *ns, e);
        if (!ns)
            return -1;
        v->sym = ns;
        v->cap = cap;
    }
    char *d = pe_strdup(s, e);
    if (!d)
        return -1;
    v->sym[v->nsym] = d;
    return v->nsym++;
}

static void vocab_free(vocab *v)
{
    for (int i = 0; i < v->nsym; i++)
        free(v->sym[i]);
    free(v->sym);
    free(v->merges);
}

/* GPT-2's byte-to-unicode map: printable bytes stand for themselves, the rest
 * are shifted to U+0100.. so that every byte is a visible character. order[]
 * lists the bytes in the vocabulary order of GPT-2, Qwen2 and Llama-3. */
static void byte_level_map(uint32_t cp[256], int order[256])
{
    int n = 0, extra = 0;
    int printable[256] = {0};
    for (int b = 33; b <= 126; b++) printable[b] = 1;
    for (int b = 161; b <= 172; b++) printable[b] = 1;
    for (int b = 174; b <= 255; b++) printable[b] = 1;
    for (int b = 0; b < 256; b++)
        if (printable[b]) {
            cp[b] = (uint32_t)b;
            order[n++] = b;
        }
    for (int b = 0; b < 256; b++)
        if (!printable[b]) {
            cp[b] = 256u + (uint32_t)extra++;
            order[n++] = b;
        }
}

static int put_utf8(char *out, uint32_t c)
{
    return (int)utf8proc_encode_char((utf8proc_int32_t)c, (utf8proc_uint8_t *)out);
}

typedef struct {
    char **p;
    int n, cap;
} piece_list;

static int piece_add(piece_list *pl, const char *s, size_t len, pe_err *e)
{
    if (pl->n == pl->cap) {
        int cap = pl->cap ? 2 * pl->cap : 1024;
        char **np = pe_realloc(pl->p, (size_t)cap * sizeof *np, e);
        if (!np)
            return e->code;
        pl->p = np;
        pl->cap = cap;
    }
    char *d = pe_malloc(len + 1, e);
    if (!d)
        return e->code;
    memcpy(d, s, len);
    d[len] = '\0';
    pl->p[pl->n++] = d;
    return PE_OK;
}

/* Byte-level styles: regex split, matches and gaps both kept ("Isolated"). */
static int split_regex(const char *text, const char *pattern, piece_list *pl, pe_err *e)
{
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
    if (!re)
        return pe_fail(e, PE_EGENERIC, "tiny tokenizer: pre-tokenizer regex does not compile at offset %zu", (size_t)eo);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    size_t len = strlen(text), pos = 0;
    while (pos < len && !e->code) {
        int rc = pcre2_match(re, (PCRE2_SPTR)text, len, pos, 0, md, NULL);
        if (rc < 0) {
            piece_add(pl, text + pos, len - pos, e);
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t s = ov[0], t = ov[1];
        if (s > pos)
            piece_add(pl, text + pos, s - pos, e);
        if (t == s) { /* cannot happen with these patterns; never loop forever */
            t = s + 1;
            while (t < len && ((unsigned char)text[t] & 0xc0) == 0x80)
                t++;
        }
        piece_add(pl, text + s, t - s, e);
        pos = t;
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return e->code;
}

/* SentencePiece style: spaces become "▁", one is prepended (the normalizer),
 * and words start at each "▁"; newlines are left to byte fallback. */
static int split_spm(const char *text, piece_list *pl, pe_err *e)
{
    size_t len = strlen(text);
    char *buf = pe_malloc(3 * len + 4, e);
    if (!buf)
        return e->code;
    size_t start = 0, n = 0;
    int first = 1;
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? text[i] : '\n';
        if (c == ' ' || c == '\n' || first) {
            if (n > start && piece_add(pl, buf + start, n - start, e))
                break;
            start = n;
        }
        if (first || c == ' ') {
            memcpy(buf + n, SPM_SPACE, 3);
            n += 3;
        }
        if (c != ' ' && c != '\n')
            buf[n++] = c;
        first = c == '\n';
    }
    free(buf);
    return e->code;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Unique pieces with counts, each as symbols: bytes (byte-level) or
 * characters (SentencePiece). */
static int make_words(piece_list *pl, int byte_level, const uint32_t cp[256], vocab *v, word **out, int *nout,
                      pe_err *e)
{
    qsort(pl->p, (size_t)pl->n, sizeof *pl->p, cmp_str);
    word *w = pe_calloc((size_t)(pl->n ? pl->n : 1), sizeof *w, e);
    if (!w)
        return e->code;
    int nw = 0;
    for (int i = 0; i < pl->n;) {
        int j = i;
        while (j < pl->n && !strcmp(pl->p[i], pl->p[j]))
            j++;
        const char *s = pl->p[i];
        size_t len = strlen(s);
        word *x = &w[nw++];
        x->count = j - i;
        x->s = pe_malloc((len ? len : 1) * sizeof *x->s, e);
        if (!x->s)
            break;
        for (size_t k = 0; k < len;) {
            char sym[8];
            size_t adv;
            if (byte_level) {
                sym[put_utf8(sym, cp[(unsigned char)s[k]])] = '\0';
                adv = 1;
            } else {
                utf8proc_int32_t c;
                utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)s + k, (utf8proc_ssize_t)(len - k), &c);
                adv = r > 0 ? (size_t)r : 1;
                memcpy(sym, s + k, adv);
                sym[adv] = '\0';
            }
            int id = vocab_find(v, sym);
            if (id < 0 && (byte_level || (id = vocab_add(v, sym, e)) < 0)) {
                if (!e->code)
                    pe_fail(e, PE_EGENERIC, "tiny tokenizer: byte symbol missing from the base vocabulary");
                break;
            }
            x->s[x->len++] = id;
            k += adv;
        }
        if (e->code)
            break;
        i = j;
    }
    *out = w;
    *nout = nw;
    return e->code;
}

/* Replaces every (a, b) in every word by c. */
static void apply_merge(word *w, int nw, int a, int b, int c)
{
    for (int i = 0; i < nw; i++) {
        int k = 0;
        for (int j = 0; j < w[i].len; j++) {
            if (j + 1 < w[i].len && w[i].s[j] == a && w[i].s[j + 1] == b) {
                w[i].s[k++] = c;
                j++;
            } else {
                w[i].s[k++] = w[i].s[j];
            }
        }
        w[i].len = k;
    }
}

static int add_merge(vocab *v, int a, int b, pe_err *e)
{
    size_t la = strlen(v->sym[a]), lb = strlen(v->sym[b]);
    char *s = pe_malloc(la + lb + 1, e);
    if (!s)
        return -1;
    memcpy(s, v->sym[a], la);
    memcpy(s + la, v->sym[b], lb + 1);
    int c = vocab_add(v, s, e);
    free(s);
    if (c < 0)
        return -1;
    int (*nm)[2] = pe_realloc(v->merges, (size_t)(v->nmerges + 1) * sizeof *nm, e);
    if (!nm)
        return -1;
    v->merges = nm;
    v->merges[v->nmerges][0] = a;
    v->merges[v->nmerges][1] = b;
    v->nmerges++;
    return c;
}

static int train(vocab *v, word *w, int nw, int n_merges, pe_err *e)
{
    int maxsym = v->nsym + n_merges;
    /* Dense pair counts (maxsym^2 ints: about 4 MB for 1000 symbols), reset
     * through the list of touched cells. size_t: the product can be large. */
    size_t cells = (size_t)maxsym * (size_t)maxsym;
    int *cnt = pe_calloc(cells, sizeof *cnt, e);
    size_t *touched = NULL;
    size_t ntouched = 0, cap = 4096;
    if (cnt)
        touched = pe_malloc(cap * sizeof *touched, e);
    while (touched && v->nmerges < n_merges) {
        for (int i = 0; i < nw && !e->code; i++)
            for (int j = 0; j + 1 < w[i].len; j++) {
                size_t cell = (size_t)w[i].s[j] * (size_t)maxsym + (size_t)w[i].s[j + 1];
                if (cnt[cell] == 0) {
                    if (ntouched == cap) {
                        size_t *nt = pe_realloc(touched, 2 * cap * sizeof *nt, e);
                        if (!nt)
                            break;
                        touched = nt;
                        cap *= 2;
                    }
                    touched[ntouched++] = cell;
                }
                cnt[cell] += w[i].count;
            }
        if (e->code)
            break;
        size_t best = 0;
        int best_n = 0;
        for (size_t k = 0; k < ntouched; k++) {
            size_t c = touched[k];
            if (cnt[c] > best_n || (cnt[c] == best_n && c < best)) {
                best_n = cnt[c];
                best = c;
            }
        }
        for (size_t k = 0; k < ntouched; k++)
            cnt[touched[k]] = 0;
        ntouched = 0;
        if (best_n < 2)
            break;
        int a = (int)(best / (size_t)maxsym), b = (int)(best % (size_t)maxsym);
        int c = add_merge(v, a, b, e);
        if (c < 0)
            break;
        apply_merge(w, nw, a, b, c);
    }
    free(cnt);
    free(touched);
    return e->code;
}

/* SentencePiece style: the read-out tokens of math-shepherd ("▁+", "▁-",
 * "▁ки", and "ки" itself) must be single tokens whatever the corpus taught. */
static int force_tokens(vocab *v, pe_err *e)
{
    static const char *const need[][2] = {
        {"\xd0\xba", "\xd0\xb8"},      /* к + и */
        {SPM_SPACE, "\xd0\xba\xd0\xb8"}, /* ▁ + ки */
        {SPM_SPACE, "+"},
        {SPM_SPACE, "-"},
    };
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        char whole[32];
        snprintf(whole, sizeof whole, "%s%s", need[i][0], need[i][1]);
        if (vocab_find(v, whole) >= 0)
            continue;
        int a = vocab_find(v, need[i][0]), b = vocab_find(v, need[i][1]);
        if (a < 0 || b < 0)
            return pe_fail(e, PE_EGENERIC, "tiny tokenizer: corpus lacks the symbols of '%s'", whole);
        if (add_merge(v, a, b, e) < 0)
            return e->code;
    }
    return PE_OK;
}

static cJSON *added_token(int id, const char *content, int special)
{
    cJSON *t = cJSON_CreateObject();
    cJSON_AddNumberToObject(t, "id", id);
    cJSON_AddStringToObject(t, "content", content);
    cJSON_AddBoolToObject(t, "single_word", 0);
    cJSON_AddBoolToObject(t, "lstrip", 0);
    cJSON_AddBoolToObject(t, "rstrip", 0);
    cJSON_AddBoolToObject(t, "normalized", 0);
    cJSON_AddBoolToObject(t, "special", special);
    return t;
}

static cJSON *byte_level_obj(int add_prefix_space, int trim_offsets, int use_regex)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "ByteLevel");
    cJSON_AddBoolToObject(o, "add_prefix_space", add_prefix_space);
    cJSON_AddBoolToObject(o, "trim_offsets", trim_offsets);
    cJSON_AddBoolToObject(o, "use_regex", use_regex);
    return o;
}

static cJSON *split_obj(const char *regex)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "Split");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "pattern"), "Regex", regex);
    cJSON_AddStringToObject(o, "behavior", "Isolated");
    cJSON_AddBoolToObject(o, "invert", 0);
    return o;
}

/* TemplateProcessing that puts BOS before each sequence (Llama-3 and Llama-2 style). */
static cJSON *bos_template(const char *bos, int bos_id)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "TemplateProcessing");
    const char *names[2] = {"single", "pair"};
    for (int p = 0; p < 2; p++) {
        cJSON *arr = cJSON_AddArrayToObject(o, names[p]);
        for (int k = 0; k <= p; k++) {
            cJSON *st = cJSON_CreateObject(), *sti = cJSON_AddObjectToObject(st, "SpecialToken");
            cJSON_AddStringToObject(sti, "id", bos);
            cJSON_AddNumberToObject(sti, "type_id", k);
            cJSON_AddItemToArray(arr, st);
            cJSON *sq = cJSON_CreateObject(), *sqi = cJSON_AddObjectToObject(sq, "Sequence");
            cJSON_AddStringToObject(sqi, "id", k ? "B" : "A");
            cJSON_AddNumberToObject(sqi, "type_id", k);
            cJSON_AddItemToArray(arr, sq);
        }
    }
    cJSON *sp = cJSON_AddObjectToObject(cJSON_AddObjectToObject(o, "special_tokens"), bos);
    cJSON_AddStringToObject(sp, "id", bos);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(sp, "ids"), cJSON_CreateNumber(bos_id));
    cJSON_AddItemToArray(cJSON_AddArrayToObject(sp, "tokens"), cJSON_CreateString(bos));
    return o;
}

static int write_json(const char *dir, const char *file, cJSON *root, pe_err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    char *text = cJSON_Print(root);
    if (!text)
        return pe_fail(e, PE_ERESOURCE, "%s: cannot render JSON", path);
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        free(text);
        return pe_fail(e, PE_EIO, "%s: cannot create: %s", path, strerror(errno));
    }
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, fp) == n && fputc('\n', fp) != EOF;
    free(text);
    if (fclose(fp) != 0 || !ok)
        return pe_fail(e, PE_EIO, "%s: write failed", path);
    return PE_OK;
}

static cJSON *model_obj(const vocab *v, int id_base, pe_tok_style style)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "type", "BPE");
    cJSON_AddNullToObject(m, "dropout");
    if (style == PE_TOK_SPM)
        cJSON_AddStringToObject(m, "unk_token", "<unk>");
    else
        cJSON_AddNullToObject(m, "unk_token");
    if (style == PE_TOK_QWEN2) {
        cJSON_AddStringToObject(m, "continuing_subword_prefix", "");
        cJSON_AddStringToObject(m, "end_of_word_suffix", "");
    } else {
        cJSON_AddNullToObject(m, "continuing_subword_prefix");
        cJSON_AddNullToObject(m, "end_of_word_suffix");
    }
    cJSON_AddBoolToObject(m, "fuse_unk", style == PE_TOK_SPM);
    cJSON_AddBoolToObject(m, "byte_fallback", style == PE_TOK_SPM);
    cJSON_AddBoolToObject(m, "ignore_merges", style == PE_TOK_LLAMA3);
    cJSON *vo = cJSON_AddObjectToObject(m, "vocab");
    if (style == PE_TOK_SPM) {
        cJSON_AddNumberToObject(vo, "<unk>", 0);
        cJSON_AddNumberToObject(vo, "<s>", 1);
        cJSON_AddNumberToObject(vo, "</s>", 2);
        for (int b = 0; b < 256; b++) {
            char s[8];
            snprintf(s, sizeof s, "<0x%02X>", b);
            cJSON_AddNumberToObject(vo, s, 3 + b);
        }
    }
    for (int i = 0; i < v->nsym; i++)
        cJSON_AddNumberToObject(vo, v->sym[i], id_base + i);
    /* Qwen2's file lists merges as pairs; Llama-3's and Llama-2's as "a b"
     * strings (symbols never hold a space in either). */
    cJSON *mg = cJSON_AddArrayToObject(m, "merges");
    for (int i = 0; i < v->nmerges; i++) {
        const char *a = v->sym[v->merges[i][0]], *b = v->sym[v->merges[i][1]];
        if (style == PE_TOK_QWEN2) {
            cJSON *pair = cJSON_CreateArray();
            cJSON_AddItemToArray(pair, cJSON_CreateString(a));
            cJSON_AddItemToArray(pair, cJSON_CreateString(b));
            cJSON_AddItemToArray(mg, pair);
        } else {
            char *s = malloc(strlen(a) + strlen(b) + 2);
            if (s) {
                sprintf(s, "%s %s", a, b);
                cJSON_AddItemToArray(mg, cJSON_CreateString(s));
                free(s);
            }
        }
    }
    return m;
}

static int write_files(const char *dir, pe_tok_style style, const vocab *v, const char *qwen_bos, const char *pad,
                       pe_tiny_tok_info *info, pe_err *e)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    cJSON *cfg = cJSON_CreateObject();
    int id_base = style == PE_TOK_SPM ? 3 + 256 : 0;
    int next = id_base + v->nsym;
    if (style == PE_TOK_QWEN2) {
        static const char *const sp[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<extra_0>"};
        for (int i = 0; i < 4; i++)
            cJSON_AddItemToArray(added, added_token(next + i, sp[i], 1));
        info->pad_id = next;
        info->bos_id = qwen_bos ? next : -1;
        info->eos_id = next + 2;
        next += 4;
        cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "normalizer"), "type", "NFC");
        cJSON *pt = cJSON_AddObjectToObject(root, "pre_tokenizer");
        cJSON_AddStringToObject(pt, "type", "Sequence");
        cJSON *list = cJSON_AddArrayToObject(pt, "pretokenizers");
        cJSON_AddItemToArray(list, split_obj(QWEN2_REGEX));
        cJSON_AddItemToArray(list, byte_level_obj(0, 0, 0));
        cJSON_AddItemToObject(root, "post_processor", byte_level_obj(0, 0, 0));
        cJSON_AddItemToObject(root, "decoder", byte_level_obj(0, 0, 0));

        cJSON_AddBoolToObject(cfg, "add_bos_token", 0);
        cJSON_AddBoolToObject(cfg, "add_prefix_space", 0);
        cJSON *ast = cJSON_AddArrayToObject(cfg, "additional_special_tokens");
        for (int i = 1; i < 4; i++)
            cJSON_AddItemToArray(ast, cJSON_CreateString(sp[i]));
        if (qwen_bos)
            cJSON_AddStringToObject(cfg, "bos_token", qwen_bos);
        else
            cJSON_AddNullToObject(cfg, "bos_token");
        cJSON_AddBoolToObject(cfg, "clean_up_tokenization_spaces", 0);
        cJSON_AddStringToObject(cfg, "eos_token", "<|im_end|>");
        cJSON_AddStringToObject(cfg, "errors", "replace");
        cJSON_AddNumberToObject(cfg, "model_max_length", 4096);
        cJSON_AddStringToObject(cfg, "pad_token", "<|endoftext|>");
        cJSON_AddStringToObject(cfg, "tokenizer_class", "Qwen2Tokenizer");
        cJSON_AddNullToObject(cfg, "unk_token");
    } else if (style == PE_TOK_LLAMA3) {
        static const char *const sp[] = {"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                                         "<|end_header_id|>", "<|eot_id|>"};
        for (int i = 0; i < 5; i++)
            cJSON_AddItemToArray(added, added_token(next + i, sp[i], 1));
        info->bos_id = next;
        info->eos_id = next + 4;
        info->pad_id = -1;
        cJSON_AddNullToObject(root, "normalizer");
        cJSON *pt = cJSON_AddObjectToObject(root, "pre_tokenizer");
        cJSON_AddStringToObject(pt, "type", "Sequence");
        cJSON *list = cJSON_AddArrayToObject(pt, "pretokenizers");
        cJSON_AddItemToArray(list, split_obj(LLAMA3_REGEX));
        cJSON_AddItemToArray(list, byte_level_obj(0, 1, 0));
        cJSON *pp = cJSON_AddObjectToObject(root, "post_processor");
        cJSON_AddStringToObject(pp, "type", "Sequence");
        cJSON *procs = cJSON_AddArrayToObject(pp, "processors");
        cJSON_AddItemToArray(procs, byte_level_obj(1, 0, 1));
        cJSON_AddItemToArray(procs, bos_template(sp[0], next));
        cJSON_AddItemToObject(root, "decoder", byte_level_obj(1, 1, 1));
        next += 5;

        cJSON_AddStringToObject(cfg, "bos_token", sp[0]);
        cJSON_AddBoolToObject(cfg, "clean_up_tokenization_spaces", 1);
        cJSON_AddStringToObject(cfg, "eos_token", "<|eot_id|>");
        cJSON_AddNumberToObject(cfg, "model_max_length", 131072);
        cJSON_AddStringToObject(cfg, "tokenizer_class", "PreTrainedTokenizerFast");
    } else {
        static const char *const sp[] = {"<unk>", "<s>", "</s>"};
        for (int i = 0; i < 3; i++)
            cJSON_AddItemToArray(added, added_token(i, sp[i], 1));
        info->bos_id = 1;
        info->eos_id = 2;
        info->pad_id = -1;
        cJSON *nm = cJSON_AddObjectToObject(root, "normalizer");
        cJSON_AddStringToObject(nm, "type", "Sequence");
        cJSON *nl = cJSON_AddArrayToObject(nm, "normalizers");
        cJSON *pre = cJSON_CreateObject();
        cJSON_AddStringToObject(pre, "type", "Prepend");
        cJSON_AddStringToObject(pre, "prepend", SPM_SPACE);
        cJSON_AddItemToArray(nl, pre);
        cJSON *rep = cJSON_CreateObject();
        cJSON_AddStringToObject(rep, "type", "Replace");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(rep, "pattern"), "String", " ");
        cJSON_AddStringToObject(rep, "content", SPM_SPACE);
        cJSON_AddItemToArray(nl, rep);
        cJSON_AddNullToObject(root, "pre_tokenizer");
        cJSON_AddItemToObject(root, "post_processor", bos_template("<s>", 1));
        cJSON *dec = cJSON_AddObjectToObject(root, "decoder");
        cJSON_AddStringToObject(dec, "type", "Sequence");
        cJSON *dl = cJSON_AddArrayToObject(dec, "decoders");
        cJSON *d0 = cJSON_CreateObject();
        cJSON_AddStringToObject(d0, "type", "Replace");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(d0, "pattern"), "String", SPM_SPACE);
        cJSON_AddStringToObject(d0, "content", " ");
        cJSON_AddItemToArray(dl, d0);
        cJSON *d1 = cJSON_CreateObject();
        cJSON_AddStringToObject(d1, "type", "ByteFallback");
        cJSON_AddItemToArray(dl, d1);
        cJSON *d2 = cJSON_CreateObject();
        cJSON_AddStringToObject(d2, "type", "Fuse");
        cJSON_AddItemToArray(dl, d2);
        cJSON *d3 = cJSON_CreateObject();
        cJSON_AddStringToObject(d3, "type", "Strip");
        cJSON_AddStringToObject(d3, "content", " ");
        cJSON_AddNumberToObject(d3, "start", 1);
        cJSON_AddNumberToObject(d3, "stop", 0);
        cJSON_AddItemToArray(dl, d3);

        cJSON_AddBoolToObject(cfg, "add_bos_token", 1);
        cJSON_AddBoolToObject(cfg, "add_eos_token", 0);
        cJSON_AddStringToObject(cfg, "bos_token", "<s>");
        cJSON_AddBoolToObject(cfg, "clean_up_tokenization_spaces", 0);
        cJSON_AddStringToObject(cfg, "eos_token", "</s>");
        cJSON_AddBoolToObject(cfg, "legacy", 1);
        cJSON_AddNumberToObject(cfg, "model_max_length", 4096);
        cJSON_AddNullToObject(cfg, "pad_token");
        cJSON_AddBoolToObject(cfg, "spaces_between_special_tokens", 0);
        cJSON_AddStringToObject(cfg, "tokenizer_class", "LlamaTokenizer");
        cJSON_AddStringToObject(cfg, "unk_token", "<unk>");
    }
    if (pad) {
        /* one more added token after the others (ReasonEval-34B's "<pad>", id 32000 there) */
        cJSON_AddItemToArray(added, added_token(next, pad, 1));
        info->pad_id = next++;
        cJSON_ReplaceItemInObject(cfg, "pad_token", cJSON_CreateString(pad));
        if (!cJSON_GetObjectItem(cfg, "pad_token"))
            cJSON_AddStringToObject(cfg, "pad_token", pad);
    }
    cJSON_AddItemToObject(root, "model", model_obj(v, id_base, style));
    info->n_tokens = next;
    int rc = write_json(dir, "tokenizer.json", root, e);
    if (!rc)
        rc = write_json(dir, "tokenizer_config.json", cfg, e);
    cJSON_Delete(root);
    cJSON_Delete(cfg);
    return rc;
}

int pe_tiny_tokenizer_write(const char *dir, pe_tok_style style, int n_merges, const char *qwen_bos,
                            const char *pad_token, pe_tiny_tok_info *info, pe_err *e)
{
    vocab v = {0};
    piece_list pl = {0};
    word *w = NULL;
    int nw = 0;
    uint32_t cp[256] = {0};
    int order[256];
    char *text = NULL;
    memset(info, 0, sizeof *info);
    if (style == PE_TOK_SPM) {
        /* Base symbols: "▁", then every character of the corpus in order of
         * first appearance in the sorted pieces (make_words adds them). */
        if (vocab_add(&v, SPM_SPACE, e) < 0 || split_spm(pe_tiny_corpus, &pl, e) ||
            make_words(&pl, 0, cp, &v, &w, &nw, e))
            goto done;
    } else {
        byte_level_map(cp, order);
        for (int i = 0; i < 256; i++) {
            char s[8];
            s[put_utf8(s, cp[order[i]])] = '\0';
            if (vocab_add(&v, s, e) < 0)
                goto done;
        }
        /* NFC as Qwen2's normalizer does (a no-op on NFC text, but the
         * corpus should not have to be careful about it). */
        text = (char *)utf8proc_NFC((const utf8proc_uint8_t *)pe_tiny_corpus);
        if (!text) {
            pe_fail(e, PE_ERESOURCE, "tiny tokenizer: NFC failed");
            goto done;
        }
        if (split_regex(text, style == PE_TOK_QWEN2 ? QWEN2_REGEX : LLAMA3_REGEX, &pl, e) ||
            make_words(&pl, 1, cp, &v, &w, &nw, e))
            goto done;
    }
    if (train(&v, w, nw, n_merges, e))
        goto done;
    if (style == PE_TOK_SPM && force_tokens(&v, e))
        goto done;
    write_files(dir, style, &v, qwen_bos, pad_token, info, e);
done:
    for (int i = 0; i < pl.n; i++)
        free(pl.p[i]);
    free(pl.p);
    for (int i = 0; i < nw; i++)
        free(w[i].s);
    free(w);
    free(text);
    vocab_free(&v);
    return e->code;
}
