/* Encoding with a Hugging Face tokenizer: the order of tokenizers' pipeline.
 *   1. added tokens are found in the raw text first (leftmost-longest), with
 *      lstrip/rstrip eating whitespace around them and single_word requiring
 *      non-word characters on both sides;
 *   2. each stretch between them is normalized (NFC, Prepend, Replace, ...);
 *      added tokens marked `normalized` are then found in the normalized text;
 *   3. the pre-tokenizer cuts it into words (Split by a regex, ByteLevel,
 *      Metaspace), each step applied to every piece of the step before;
 *   4. the BPE model turns each word into ids (src/core/bpe.c).
 * The loader (src/io/tokenizer_json.c) fills the structure from tokenizer.json. */
#include "tokenizer_impl.h"

#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

/* ---- small helpers ---------------------------------------------------- */

static int reserve(char **buf, size_t *cap, size_t need, pe_err *e)
{
    if (need <= *cap)
        return PE_OK;
    size_t ncap = *cap ? *cap : 256;
    while (ncap < need)
        ncap *= 2;
    char *p = pe_realloc(*buf, ncap, e);
    if (!p)
        return e ? e->code : PE_ERESOURCE;
    *buf = p;
    *cap = ncap;
    return PE_OK;
}

static int is_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

/* Decodes the character at s (valid UTF-8 is assumed: encode checks it first). */
static size_t char_at(const char *s, size_t len, utf8proc_int32_t *cp)
{
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, cp);
    return k > 0 ? (size_t)k : 1;
}

/* Start of the character that ends at s[end-1]. */
static size_t char_before(const char *s, size_t end)
{
    size_t i = end - 1;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

/* Unicode White_Space, which is what Rust's char::is_whitespace tests. */
static int is_space_cp(utf8proc_int32_t c)
{
    if (c == ' ' || (c >= 9 && c <= 13))
        return 1;
    if (c < 0x80)
        return 0;
    if (c == 0x85 || c == 0x2028 || c == 0x2029)
        return 1;
    return utf8proc_category(c) == UTF8PROC_CATEGORY_ZS;
}

/* A "word" character for single_word added tokens: letters, digits, marks and '_'. */
static int is_word_cp(utf8proc_int32_t c)
{
    if (c == '_')
        return 1;
    if (c < 0x80)
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO: case UTF8PROC_CATEGORY_PC:
        return 1;
    default:
        return 0;
    }
}

static int check_utf8(const char *s, size_t len, pe_err *e)
{
    size_t i = 0;
    while (i < len) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (k <= 0)
            return pe_fail(e, PE_EINPUT, "invalid UTF-8 at byte %zu of the text", i);
        i += (size_t)k;
    }
    return PE_OK;
}

/* Next match of re in s[pos..len), as [*ms, *me). 0 = found, 1 = none. */
static int regex_next(const pe_tokenizer *t, const pcre2_code *re, const char *s, size_t len, size_t pos,
                      size_t *ms, size_t *me, pe_err *e)
{
    pe_tok_scratch *sc = t->scratch;
    int rc = pcre2_match(re, (PCRE2_SPTR)s, len, pos, PCRE2_NO_UTF_CHECK, sc->md, sc->mctx);
    if (rc == PCRE2_ERROR_NOMATCH)
        return 1;
    if (rc < 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof msg);
        return -pe_fail(e, PE_EINPUT, "%s: regex failed on the text at byte %zu: %s", t->source, pos, (char *)msg);
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(sc->md);
    *ms = ov[0];
    *me = ov[1];
    return 0;
}

/* ---- normalizers -------------------------------------------------------- */

static int norm_unicode(pe_norm_kind kind, const char *s, size_t len, char **buf, size_t *cap,
                        size_t *out_len, pe_err *e)
{
    utf8proc_option_t opt = UTF8PROC_STABLE;
    switch (kind) {
    case PE_NORM_NFC: opt |= UTF8PROC_COMPOSE; break;
    case PE_NORM_NFD: opt |= UTF8PROC_DECOMPOSE; break;
    case PE_NORM_NFKC: opt |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    default: opt |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    }
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst, opt);
    if (n < 0)
        return pe_fail(e, PE_EINPUT, "Unicode normalization failed: %s", utf8proc_errmsg(n));
    int rc = reserve(buf, cap, (size_t)n + 1, e);
    if (!rc)
        memcpy(*buf, dst, (size_t)n);
    free(dst);
    *out_len = (size_t)n;
    return rc;
}

static int norm_replace(const pe_tokenizer *t, const pe_norm *nm, const char *s, size_t len, char **buf,
                        size_t *cap, size_t *out_len, pe_err *e)
{
    size_t pos = 0, o = 0, ms, me;
    for (;;) {
        int r = regex_next(t, nm->re, s, len, pos, &ms, &me, e);
        if (r < 0)
            return e->code;
        if (r == 1)
            break;
        if (me == ms) { /* an empty match replaces nothing; step over one character */
            if (ms >= len)
                break;
            utf8proc_int32_t cp;
            me = ms + char_at(s + ms, len - ms, &cp);
            if (reserve(buf, cap, o + (me - pos) + 1, e))
                return e->code;
            memcpy(*buf + o, s + pos, me - pos);
            o += me - pos;
            pos = me;
            continue;
        }
        if (reserve(buf, cap, o + (ms - pos) + nm->str_len + 1, e))
            return e->code;
        memcpy(*buf + o, s + pos, ms - pos);
        o += ms - pos;
        memcpy(*buf + o, nm->str, nm->str_len);
        o += nm->str_len;
        pos = me;
    }
    if (reserve(buf, cap, o + (len - pos) + 1, e))
        return e->code;
    memcpy(*buf + o, s + pos, len - pos);
    *out_len = o + (len - pos);
    return PE_OK;
}

int pe_tokenizer_normalize(const pe_tokenizer *t, const char *s, size_t len, const char **out,
                           size_t *out_len, pe_err *e)
{
    pe_tok_scratch *sc = t->scratch;
    const char *cur = s;
    size_t cur_len = len;
    int nb = 0; /* which ping-pong buffer the next output goes to */
    for (int i = 0; i < t->nnorms; i++) {
        const pe_norm *nm = &t->norms[i];
        char **buf = &sc->norm[nb];
        size_t *cap = &sc->norm_cap[nb];
        size_t n = 0;
        switch (nm->kind) {
        case PE_NORM_NFC: case PE_NORM_NFD: case PE_NORM_NFKC: case PE_NORM_NFKD:
            if (is_ascii(cur, cur_len)) /* ASCII is invariant under every normal form */
                continue;
            if (norm_unicode(nm->kind, cur, cur_len, buf, cap, &n, e))
                return e->code;
            break;
        case PE_NORM_PREPEND:
            if (cur_len == 0)
                continue;
            if (reserve(buf, cap, nm->str_len + cur_len + 1, e))
                return e->code;
            memcpy(*buf, nm->str, nm->str_len);
            memcpy(*buf + nm->str_len, cur, cur_len);
            n = nm->str_len + cur_len;
            break;
        case PE_NORM_REPLACE:
            if (norm_replace(t, nm, cur, cur_len, buf, cap, &n, e))
                return e->code;
            break;
        case PE_NORM_STRIP: {
            size_t a = 0, b = cur_len;
            utf8proc_int32_t cp;
            while (nm->left && a < b) {
                size_t k = char_at(cur + a, b - a, &cp);
                if (!is_space_cp(cp))
                    break;
                a += k;
            }
            while (nm->right && b > a) {
                size_t p = char_before(cur, b);
                char_at(cur + p, b - p, &cp);
                if (!is_space_cp(cp))
                    break;
                b = p;
            }
            if (reserve(buf, cap, b - a + 1, e))
                return e->code;
            memmove(*buf, cur + a, b - a);
            n = b - a;
            break;
        }
        }
        cur = *buf;
        cur_len = n;
        nb ^= 1;
    }
    *out = cur;
    *out_len = cur_len;
    return PE_OK;
}

/* ---- added tokens ------------------------------------------------------- */

/* Next added token in s[pos..len): [*ms, *me) is the stretch it consumes,
 * including whitespace eaten by lstrip/rstrip. Returns its index or -1. */
static int next_added(const pe_tokenizer *t, const pe_added_matcher *m, const char *s, size_t len, size_t pos,
                      size_t *ms, size_t *me)
{
    if (!m->cand)
        return -1;
    for (size_t i = pos; i < len; i++) {
        unsigned char b = (unsigned char)s[i];
        for (size_t c = m->first[b]; c < m->first[b + 1]; c++) {
            const pe_added_token *a = &t->added[m->cand[c]];
            if (a->len > len - i || memcmp(s + i, a->content, a->len) != 0)
                continue;
            size_t st = i, en = i + a->len;
            utf8proc_int32_t cp;
            if (a->single_word) {
                if (st > 0) {
                    size_t p = char_before(s, st);
                    char_at(s + p, st - p, &cp);
                    if (is_word_cp(cp))
                        continue;
                }
                if (en < len) {
                    char_at(s + en, len - en, &cp);
                    if (is_word_cp(cp))
                        continue;
                }
            }
            while (a->lstrip && st > pos) {
                size_t p = char_before(s, st);
                char_at(s + p, st - p, &cp);
                if (!is_space_cp(cp))
                    break;
                st = p;
            }
            while (a->rstrip && en < len) {
                size_t k = char_at(s + en, len - en, &cp);
                if (!is_space_cp(cp))
                    break;
                en += k;
            }
            *ms = st;
            *me = en;
            return m->cand[c];
        }
    }
    return -1;
}

/* ---- pre-tokenizers ----------------------------------------------------- */

typedef struct {
    int32_t **ids;
    size_t *n, *cap;
} id_out;

static int pretokenize(const pe_tokenizer *t, int step, const char *s, size_t len, int first, id_out *o,
                       pe_err *e);

static int push_seg(pe_tok_scratch *sc, int step, size_t *nseg, size_t a, size_t b, int is_match, pe_err *e)
{
    if (3 * (*nseg + 1) > sc->step_seg_cap[step]) {
        size_t ncap = sc->step_seg_cap[step] ? sc->step_seg_cap[step] * 2 : 192;
        size_t *p = pe_realloc(sc->step_seg[step], ncap * sizeof *p, e);
        if (!p)
            return e ? e->code : PE_ERESOURCE;
        sc->step_seg[step] = p;
        sc->step_seg_cap[step] = ncap;
    }
    size_t *g = sc->step_seg[step] + 3 * (*nseg)++;
    g[0] = a;
    g[1] = b;
    g[2] = (size_t)is_match;
    return PE_OK;
}

/* Cuts s by re into segments (start, end, is_match) in this step's array. */
static int regex_segments(const pe_tokenizer *t, int step, const pcre2_code *re, int invert, const char *s,
                          size_t len, size_t *nseg, pe_err *e)
{
    pe_tok_scratch *sc = t->scratch;
    size_t pos = 0, last = 0, ms, me;
    *nseg = 0;
    while (pos <= len) {
        int r = regex_next(t, re, s, len, pos, &ms, &me, e);
        if (r < 0)
            return e->code;
        if (r == 1)
            break;
        if (me == ms) { /* empty matches delimit nothing */
            if (ms >= len)
                break;
            utf8proc_int32_t cp;
            pos = ms + char_at(s + ms, len - ms, &cp);
            continue;
        }
        if (ms > last && push_seg(sc, step, nseg, last, ms, invert, e))
            return e->code;
        if (push_seg(sc, step, nseg, ms, me, !invert, e))
            return e->code;
        last = pos = me;
    }
    if (last < len && push_seg(sc, step, nseg, last, len, invert, e))
        return e->code;
    return PE_OK;
}

/* Cuts s at every occurrence of the literal d (each occurrence a match). */
static int literal_segments(const pe_tokenizer *t, int step, const char *d, size_t dl, const char *s,
                            size_t len, size_t *nseg, pe_err *e)
{
    pe_tok_scratch *sc = t->scratch;
    size_t last = 0, i = 0;
    *nseg = 0;
    while (i + dl <= len) {
        if (memcmp(s + i, d, dl) != 0) {
            i++;
            continue;
        }
        if (i > last && push_seg(sc, step, nseg, last, i, 0, e))
            return e->code;
        if (push_seg(sc, step, nseg, i, i + dl, 1, e))
            return e->code;
        last = i = i + dl;
    }
    if (last < len && push_seg(sc, step, nseg, last, len, 0, e))
        return e->code;
    return PE_OK;
}

/* tokenizers' SplitDelimiterBehavior, applied in place to this step's
 * segments: leaves the pieces to keep as (start, end) in the same array. */
static size_t apply_behavior(pe_tok_scratch *sc, int step, size_t nseg, pe_split_behavior behavior)
{
    size_t *g = sc->step_seg[step], k = 0;
    int prev_match = 0;
    for (size_t i = 0; i < nseg; i++) {
        size_t a = g[3 * i], b = g[3 * i + 1];
        int m = (int)g[3 * i + 2];
        int extend = 0, keep = 1;
        switch (behavior) {
        case PE_SPLIT_REMOVED: keep = !m; break;
        case PE_SPLIT_ISOLATED: break;
        case PE_SPLIT_MERGED_WITH_PREVIOUS: extend = m && !prev_match; break;
        case PE_SPLIT_MERGED_WITH_NEXT: extend = prev_match; break;
        case PE_SPLIT_CONTIGUOUS: extend = m == prev_match; break;
        }
        prev_match = m;
        if (!keep)
            continue;
        if (extend && k > 0) {
            g[3 * (k - 1) + 1] = b;
        } else {
            g[3 * k] = a;
            g[3 * k + 1] = b;
            k++;
        }
    }
    return k;
}

static int split_regex(const pe_tokenizer *t, int step, const pcre2_code *re, pe_split_behavior behavior,
                       int invert, const char *s, size_t len, size_t *npieces, pe_err *e)
{
    size_t nseg;
    if (regex_segments(t, step, re, invert, s, len, &nseg, e))
        return e->code;
    *npieces = apply_behavior(t->scratch, step, nseg, behavior);
    return PE_OK;
}

static int run_pieces(const pe_tokenizer *t, int step, const char *s, size_t npieces, int first, id_out *o,
                      pe_err *e)
{
    for (size_t i = 0; i < npieces; i++) {
        /* Re-read the array each time: deeper steps never touch this step's. */
        size_t a = t->scratch->step_seg[step][3 * i], b = t->scratch->step_seg[step][3 * i + 1];
        if (b > a && pretokenize(t, step + 1, s + a, b - a, first && a == 0, o, e))
            return e->code;
    }
    return PE_OK;
}

static int pretok_bytelevel(const pe_tokenizer *t, int step, const pe_pretok *p, const char *s, size_t len,
                            int first, id_out *o, pe_err *e)
{
    pe_tok_scratch *sc = t->scratch;
    if (p->add_prefix_space && (len == 0 || s[0] != ' ')) {
        if (reserve(&sc->step_buf[step], &sc->step_cap[step], len + 1, e))
            return e->code;
        sc->step_buf[step][0] = ' ';
        memcpy(sc->step_buf[step] + 1, s, len);
        s = sc->step_buf[step];
        len++;
    }
    if (!p->use_regex)
        return pretokenize(t, step + 1, s, len, first, o, e);
    size_t np = 0;
    if (split_regex(t, step, p->re, PE_SPLIT_ISOLATED, 0, s, len, &np, e))
        return e->code;
    return run_pieces(t, step, s, np, first, o, e);
}

static int pretok_metaspace(const pe_tokenizer *t, int step, const pe_pretok *p, const char *s, size_t len,
                            int first, id_out *o, pe_err *e)
{
    pe_tok_scratch *sc = t->scratch;
    size_t nsp = 0;
    for (size_t i = 0; i < len; i++)
        nsp += s[i] == ' ';
    size_t rl = p->replacement_len;
    if (reserve(&sc->step_buf[step], &sc->step_cap[step], len + (nsp + 1) * rl + 1, e))
        return e->code;
    char *d = sc->step_buf[step];
    size_t n = 0;
    int starts = len > 0 && (s[0] == ' ' || (len >= rl && memcmp(s, p->replacement, rl) == 0));
    if (!starts && (p->prepend_scheme == PE_PREPEND_ALWAYS || (p->prepend_scheme == PE_PREPEND_FIRST && first))) {
        memcpy(d, p->replacement, rl);
        n = rl;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ') {
            memcpy(d + n, p->replacement, rl);
            n += rl;
        } else {
            d[n++] = s[i];
        }
    }
    if (!p->split)
        return pretokenize(t, step + 1, d, n, first, o, e);
    /* MergedWithNext on the replacement: each "▁" run starts a new word. */
    size_t nseg;
    if (literal_segments(t, step, p->replacement, rl, d, n, &nseg, e))
        return e->code;
    size_t np = apply_behavior(sc, step, nseg, PE_SPLIT_MERGED_WITH_NEXT);
    return run_pieces(t, step, d, np, first, o, e);
}

static int pretokenize(const pe_tokenizer *t, int step, const char *s, size_t len, int first, id_out *o,
                       pe_err *e)
{
    if (step == t->npretoks) {
        int rc = pe_bpe_encode_word(&t->bpe, &t->scratch->bpe, s, len, o->ids, o->n, o->cap, e);
        if (rc == PE_EINPUT) /* a character the vocabulary lacks: the tokenizer is at fault as much as the text */
            pe_err_prefix(e, "%s: ", t->source);
        return rc;
    }
    const pe_pretok *p = &t->pretoks[step];
    switch (p->kind) {
    case PE_PRETOK_SPLIT: {
        size_t np = 0;
        if (split_regex(t, step, p->re, p->behavior, p->invert, s, len, &np, e))
            return e->code;
        return run_pieces(t, step, s, np, first, o, e);
    }
    case PE_PRETOK_BYTELEVEL:
        return pretok_bytelevel(t, step, p, s, len, first, o, e);
    case PE_PRETOK_METASPACE:
        return pretok_metaspace(t, step, p, s, len, first, o, e);
    }
    return pe_fail(e, PE_EGENERIC, "unknown pre-tokenizer kind %d", (int)p->kind);
}

/* ---- encode ------------------------------------------------------------- */

/* One stretch of raw text between added tokens; off is its offset in the input. */
static int encode_section(const pe_tokenizer *t, const char *s, size_t len, size_t off, id_out *o, pe_err *e)
{
    if (len == 0)
        return PE_OK;
    const char *ns;
    size_t nlen;
    if (pe_tokenizer_normalize(t, s, len, &ns, &nlen, e))
        return e->code;
    if (nlen == 0)
        return PE_OK;
    if (t->nadded_norm == 0)
        return pretokenize(t, 0, ns, nlen, off == 0, o, e);
    size_t pos = 0, ms, me;
    int k;
    while ((k = next_added(t, &t->match_norm, ns, nlen, pos, &ms, &me)) >= 0) {
        if (ms > pos && pretokenize(t, 0, ns + pos, ms - pos, off == 0 && pos == 0, o, e))
            return e->code;
        if (pe_ids_push(o->ids, o->n, o->cap, t->added[k].id, e))
            return e->code;
        pos = me;
    }
    return nlen > pos ? pretokenize(t, 0, ns + pos, nlen - pos, off == 0 && pos == 0, o, e) : PE_OK;
}

int pe_tokenizer_encode(const pe_tokenizer *t, const char *text, size_t len, int add_special, int32_t **ids,
                        size_t *nids, pe_err *e)
{
    *ids = NULL;
    *nids = 0;
    if (check_utf8(text, len, e))
        return e->code;
    size_t cap = 0;
    id_out o = {ids, nids, &cap};
    for (int i = 0; add_special && i < t->nprefix; i++)
        if (pe_ids_push(ids, nids, &cap, t->special_prefix[i], e))
            goto fail;
    size_t pos = 0, ms, me;
    int k;
    while ((k = next_added(t, &t->match_raw, text, len, pos, &ms, &me)) >= 0) {
        if (encode_section(t, text + pos, ms - pos, pos, &o, e))
            goto fail;
        if (pe_ids_push(ids, nids, &cap, t->added[k].id, e))
            goto fail;
        pos = me;
    }
    if (encode_section(t, text + pos, len - pos, pos, &o, e))
        goto fail;
    for (int i = 0; add_special && i < t->nsuffix; i++)
        if (pe_ids_push(ids, nids, &cap, t->special_suffix[i], e))
            goto fail;
    if (!*ids) /* an empty result is still a valid (freeable) array */
        *ids = pe_malloc(sizeof(int32_t), e);
    return *ids ? PE_OK : e->code;
fail:
    free(*ids);
    *ids = NULL;
    *nids = 0;
    return e->code ? e->code : PE_EGENERIC;
}

/* ---- set-up, accessors, free --------------------------------------------- */

typedef struct {
    size_t len;
    int32_t idx;
} len_idx;

/* Longest first, equal lengths in file order. */
static int cmp_longest(const void *pa, const void *pb)
{
    const len_idx *a = pa, *b = pb;
    if (a->len != b->len)
        return a->len > b->len ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static int build_matcher(pe_tokenizer *t, pe_added_matcher *m, int normalized, pe_err *e)
{
    memset(m, 0, sizeof *m);
    size_t count[256] = {0}, total = 0;
    for (int i = 0; i < t->nadded; i++)
        if (t->added[i].normalized == normalized && t->added[i].len > 0) {
            count[(unsigned char)t->added[i].content[0]]++;
            total++;
        }
    if (total == 0)
        return PE_OK;
    m->cand = pe_malloc(total * sizeof *m->cand, e);
    if (!m->cand)
        return e->code;
    for (int b = 0; b < 256; b++)
        m->first[b + 1] = m->first[b] + count[b];
    size_t fill[256];
    for (int b = 0; b < 256; b++)
        fill[b] = m->first[b];
    for (int i = 0; i < t->nadded; i++)
        if (t->added[i].normalized == normalized && t->added[i].len > 0)
            m->cand[fill[(unsigned char)t->added[i].content[0]]++] = i;
    /* Longest first within each bucket, equal lengths in file order (sorted,
     * not inserted one by one: a forged file may put 10^5 tokens in one bucket). */
    len_idx *tmp = pe_malloc(total * sizeof *tmp, e);
    if (!tmp)
        return e->code;
    for (size_t i = 0; i < total; i++)
        tmp[i] = (len_idx){t->added[m->cand[i]].len, m->cand[i]};
    for (int b = 0; b < 256; b++)
        qsort(tmp + m->first[b], m->first[b + 1] - m->first[b], sizeof *tmp, cmp_longest);
    for (size_t i = 0; i < total; i++)
        m->cand[i] = tmp[i].idx;
    free(tmp);
    return PE_OK;
}

int pe_tokenizer_finish(pe_tokenizer *t, pe_err *e)
{
    pe_tok_scratch *sc = pe_calloc(1, sizeof *sc, e);
    if (!sc)
        return e->code;
    t->scratch = sc;
    if (pe_bpe_scratch_init(&sc->bpe, e))
        return e->code;
    sc->md = pcre2_match_data_create(1, NULL);
    sc->mctx = pcre2_match_context_create(NULL);
    sc->jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
    if (!sc->md || !sc->mctx || !sc->jit_stack)
        return pe_fail(e, PE_ERESOURCE, "out of memory for regex matching");
    pcre2_jit_stack_assign(sc->mctx, NULL, sc->jit_stack);
    int n = t->npretoks > 0 ? t->npretoks : 1;
    sc->step_buf = pe_calloc((size_t)n, sizeof *sc->step_buf, e);
    sc->step_cap = pe_calloc((size_t)n, sizeof *sc->step_cap, e);
    sc->step_seg = pe_calloc((size_t)n, sizeof *sc->step_seg, e);
    sc->step_seg_cap = pe_calloc((size_t)n, sizeof *sc->step_seg_cap, e);
    if (!sc->step_buf || !sc->step_cap || !sc->step_seg || !sc->step_seg_cap)
        return e->code;
    /* Added tokens marked `normalized` are matched in normalized text, so their
     * own content is normalized the same way (as tokenizers does). */
    t->nadded_norm = 0;
    for (int i = 0; i < t->nadded; i++) {
        pe_added_token *a = &t->added[i];
        if (!a->normalized)
            continue;
        t->nadded_norm++;
        const char *ns;
        size_t nlen;
        if (pe_tokenizer_normalize(t, a->content, a->len, &ns, &nlen, e))
            return e->code;
        char *c = pe_malloc(nlen + 1, e);
        if (!c)
            return e->code;
        memcpy(c, ns, nlen);
        c[nlen] = '\0';
        free(a->content);
        a->content = c;
        a->len = nlen;
    }
    if (build_matcher(t, &t->match_raw, 0, e) || build_matcher(t, &t->match_norm, 1, e))
        return e->code;
    return PE_OK;
}

int32_t pe_tokenizer_token_id(const pe_tokenizer *t, const char *token)
{
    return pe_strmap_get(&t->token_to_id, token, strlen(token));
}

const char *pe_tokenizer_id_token(const pe_tokenizer *t, int32_t id)
{
    if (id < 0 || id >= t->vocab_size)
        return NULL;
    return t->id_to_token[id];
}

int32_t pe_tokenizer_vocab_size(const pe_tokenizer *t)
{
    return t->vocab_size;
}

int32_t pe_tokenizer_bos_id(const pe_tokenizer *t)
{
    return t->nprefix > 0 ? t->special_prefix[0] : -1;
}

const char *pe_tokenizer_special_text(const pe_tokenizer *t, pe_tok_special which)
{
    return (unsigned)which < PE_TOK_NSPECIAL ? t->special_text[which] : NULL;
}

const char *pe_tokenizer_source(const pe_tokenizer *t)
{
    return t->source;
}

const char *pe_tokenizer_kind(const pe_tokenizer *t)
{
    return t->kind ? t->kind : "tokenizer.json";
}

void pe_tokenizer_free(pe_tokenizer *t)
{
    if (!t)
        return;
    free(t->source);
    free(t->kind);
    for (int i = 0; i < PE_TOK_NSPECIAL; i++)
        free(t->special_text[i]);
    pe_bpe_free(&t->bpe);
    for (int i = 0; i < t->nnorms; i++) {
        free(t->norms[i].str);
        pcre2_code_free(t->norms[i].re);
    }
    free(t->norms);
    for (int i = 0; i < t->npretoks; i++) {
        pcre2_code_free(t->pretoks[i].re);
        free(t->pretoks[i].replacement);
    }
    free(t->pretoks);
    for (int i = 0; i < t->nadded; i++)
        free(t->added[i].content);
    free(t->added);
    free(t->match_raw.cand);
    free(t->match_norm.cand);
    free(t->special_prefix);
    free(t->special_suffix);
    if (t->id_to_token) {
        for (int32_t i = 0; i < t->vocab_size; i++)
            free(t->id_to_token[i]);
        free(t->id_to_token);
    }
    pe_strmap_free(&t->token_to_id);
    pe_tok_scratch *sc = t->scratch;
    if (sc) {
        pe_bpe_scratch_free(&sc->bpe);
        pcre2_match_data_free(sc->md);
        pcre2_match_context_free(sc->mctx);
        pcre2_jit_stack_free(sc->jit_stack);
        free(sc->norm[0]);
        free(sc->norm[1]);
        int n = t->npretoks > 0 ? t->npretoks : 1;
        for (int i = 0; i < n; i++) {
            if (sc->step_buf)
                free(sc->step_buf[i]);
            if (sc->step_seg)
                free(sc->step_seg[i]);
        }
        free(sc->step_buf);
        free(sc->step_cap);
        free(sc->step_seg);
        free(sc->step_seg_cap);
        free(sc);
    }
    free(t);
}
