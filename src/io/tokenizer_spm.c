/* A SentencePiece BPE tokenizer.model turned into the tokenizer that
 * transformers' LlamaTokenizerFast builds from it when a folder has no
 * tokenizer.json (convert_slow_tokenizer.LlamaConverter, transformers 4.x):
 *  - vocabulary: the pieces, id = position;
 *  - merges: for every piece, each split into two pieces of the vocabulary
 *    (at character boundaries), ordered by the piece's score, highest first
 *    (ids 0-2 count as score 0), ties in piece order, then by the ids of the
 *    left and right parts: SentencePieceExtractor.extract(vocab_scores);
 *  - BPE with byte_fallback and fuse_unk, unk_token = trainer_spec.unk_piece;
 *  - legacy (the default): normalizer Prepend("▁") (when add_prefix_space,
 *    default true) then Replace(" ", "▁"), no pre-tokenizer; legacy false:
 *    no normalizer, Metaspace("▁", prepend_scheme first, or never without
 *    add_prefix_space, split false);
 *  - added tokens: CONTROL pieces (special) and USER_DEFINED pieces (not
 *    special), unnormalized, in id order; then tokenizer_config.json's
 *    added_tokens_decoder and the special tokens, as PreTrainedTokenizerFast
 *    adds them after the conversion.
 * The post-processor (BOS/EOS) is set by the caller from the configuration
 * (src/io/tokenizer_load.c), as LlamaTokenizerFast.update_post_processor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/tokenizer_impl.h"
#include "io/spm_model.h"
#include "io/tokenizer_io.h"

/* Merge candidates kept in memory (16 bytes each): a 32000-piece Llama-2 model
 * gives about 10^5; a forged file with nested pieces ("a", "aa", "aaa", ...)
 * must not take GBs. */
#define MAX_CANDIDATES (1 << 22)
#define SPM_SPACE "\xe2\x96\x81" /* U+2581 "▁" */

typedef struct {
    float score;
    int32_t piece, left, right;
} cand;

static int cmp_cand(const void *pa, const void *pb)
{
    const cand *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1; /* highest score first */
    if (a->piece != b->piece)
        return a->piece < b->piece ? -1 : 1;
    if (a->left != b->left)
        return a->left < b->left ? -1 : 1;
    return (a->right > b->right) - (a->right < b->right);
}

static int utf8_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Finding the splits hashes every prefix and suffix of every piece: work
 * grows with the sum of the squared piece lengths. Real models (pieces of a
 * few dozen bytes) stay near 10^7; a forged file of long pieces would take hours. */
#define MAX_SPLIT_WORK ((uint64_t)1 << 30)

static int build_merges(pe_tokenizer *t, const pe_spm_model *m, const char *file, pe_err *e)
{
    uint64_t work = 0;
    for (int32_t k = 0; k < m->npieces; k++)
        work += (uint64_t)m->pieces[k].len * m->pieces[k].len;
    if (work > MAX_SPLIT_WORK)
        return pe_fail(e, PE_EINPUT, "%s: pieces too long to convert (the sum of their squared lengths is %llu, "
                       "over 2^30; real vocabularies stay near 10^7)", file, (unsigned long long)work);
    cand *cs = NULL;
    size_t n = 0, cap = 0;
    for (int32_t k = 0; k < m->npieces; k++) {
        const pe_spm_piece *p = &m->pieces[k];
        for (size_t b = 1; b < p->len; b++) {
            if (utf8_cont((unsigned char)p->piece[b]))
                continue; /* Python splits the string by characters */
            int32_t l = pe_strmap_get(&t->bpe.vocab, p->piece, b);
            int32_t r = l < 0 ? -1 : pe_strmap_get(&t->bpe.vocab, p->piece + b, p->len - b);
            if (r < 0)
                continue;
            if (n == cap) {
                if (cap >= MAX_CANDIDATES) {
                    free(cs);
                    return pe_fail(e, PE_EINPUT, "%s: more than 2^22 BPE merges (pieces nested into each other; "
                                   "not a real vocabulary)", file);
                }
                cap = cap ? 2 * cap : 4096;
                cand *nc = pe_realloc(cs, cap * sizeof *nc, e);
                if (!nc) {
                    free(cs);
                    return e->code;
                }
                cs = nc;
            }
            cs[n++] = (cand){k < 3 ? 0.0f : p->score, k, l, r};
        }
    }
    if (n) /* qsort(NULL, 0) is undefined */
        qsort(cs, n, sizeof *cs, cmp_cand);
    int rc = pe_pairmap_init(&t->bpe.merges, n, e);
    for (size_t i = 0; !rc && i < n; i++)
        rc = pe_pairmap_put(&t->bpe.merges, cs[i].left, cs[i].right, (int32_t)i, cs[i].piece, e);
    free(cs);
    return rc;
}

static int add_norm(pe_tokenizer *t, pe_norm nm, pe_err *e)
{
    pe_norm *n = pe_realloc(t->norms, (size_t)(t->nnorms + 1) * sizeof *n, e);
    if (!n) {
        free(nm.str);
        pcre2_code_free(nm.re);
        return e->code;
    }
    t->norms = n;
    t->norms[t->nnorms++] = nm;
    return PE_OK;
}

/* legacy: Prepend("▁") when add_prefix_space, then Replace(" ", "▁");
 * otherwise Metaspace with prepend_scheme "first" ("never" without add_prefix_space). */
static int build_pipeline(pe_tokenizer *t, const pe_tok_config *cfg, pe_err *e)
{
    int legacy = pe_cfg_true(cfg->legacy, 1) || cfg->legacy == PE_CFG_NULL; /* None -> True in LlamaTokenizer */
    int prefix = pe_cfg_true(cfg->add_prefix_space, 1);
    if (!legacy) {
        pe_pretok *pt = pe_calloc(1, sizeof *pt, e);
        if (!pt || !(pt->replacement = pe_strdup(SPM_SPACE, e))) {
            free(pt);
            return e->code;
        }
        pt->kind = PE_PRETOK_METASPACE;
        pt->replacement_len = strlen(SPM_SPACE);
        pt->prepend_scheme = prefix ? PE_PREPEND_FIRST : PE_PREPEND_NEVER;
        pt->split = 0;
        t->pretoks = pt;
        t->npretoks = 1;
        return PE_OK;
    }
    pe_norm nm;
    if (prefix) {
        memset(&nm, 0, sizeof nm);
        nm.kind = PE_NORM_PREPEND;
        if (!(nm.str = pe_strdup(SPM_SPACE, e)))
            return e->code;
        nm.str_len = strlen(SPM_SPACE);
        if (add_norm(t, nm, e))
            return e->code;
    }
    memset(&nm, 0, sizeof nm);
    nm.kind = PE_NORM_REPLACE;
    int err;
    PCRE2_SIZE off;
    nm.re = pcre2_compile((PCRE2_SPTR) " ", 1, PCRE2_UTF | PCRE2_LITERAL, &err, &off, NULL);
    if (!nm.re)
        return pe_fail(e, PE_ERESOURCE, "out of memory (regex)");
    if (!(nm.str = pe_strdup(SPM_SPACE, e))) {
        pcre2_code_free(nm.re);
        return e->code;
    }
    nm.str_len = strlen(SPM_SPACE);
    return add_norm(t, nm, e);
}

/* ---- added tokens --------------------------------------------------------- */

typedef struct {
    pe_added_token *tok;
    int n, cap;
    pe_strmap index;  /* content -> position in tok: a forged model may hold millions of USER_DEFINED pieces */
} added_list;

/* Adds content unless an added token with the same text exists (the first
 * definition keeps its flags, as tokenizers keeps a special token's first
 * entry). New texts get the next id after the vocabulary. */
static int push_added(pe_tokenizer *t, added_list *a, const char *content, int special, int lstrip, int rstrip,
                      int single_word, int normalized, pe_err *e)
{
    size_t len = strlen(content);
    if (pe_strmap_get(&a->index, content, len) >= 0)
        return PE_OK;
    if (a->n == a->cap) {
        int ncap = a->cap ? 2 * a->cap : 16;
        pe_added_token *nt = pe_realloc(a->tok, (size_t)ncap * sizeof *nt, e);
        if (!nt)
            return e->code;
        a->tok = nt;
        a->cap = ncap;
    }
    pe_added_token *x = &a->tok[a->n];
    memset(x, 0, sizeof *x);
    if (!(x->content = pe_strdup(content, e)))
        return e->code;
    if (pe_strmap_put(&a->index, content, len, a->n, e)) {
        free(x->content);
        return e->code;
    }
    a->n++;
    x->len = len;
    x->special = special;
    x->lstrip = lstrip;
    x->rstrip = rstrip;
    x->single_word = single_word;
    x->normalized = normalized;
    x->id = pe_strmap_get(&t->token_to_id, content, x->len);
    if (x->id < 0) {
        if (t->vocab_size >= (1 << 24) - 1)
            return pe_fail(e, PE_EINPUT, "%s: too many added tokens", t->source);
        x->id = t->vocab_size++;
        if (pe_strmap_put(&t->token_to_id, content, x->len, x->id, e))
            return e->code;
    }
    return PE_OK;
}

static int cfg_normalized(const pe_cfg_token *c, int special)
{
    return c->normalized != PE_CFG_ABSENT ? c->normalized : !special;
}

static int build_added(pe_tokenizer *t, const pe_spm_model *m, const pe_tok_config *cfg, pe_err *e)
{
    added_list a = {0};
    int rc = pe_strmap_init(&a.index, 64, e);
    for (int32_t k = 0; !rc && k < m->npieces; k++) {
        int ty = m->pieces[k].type;
        if (ty == PE_SPM_CONTROL || ty == PE_SPM_USER_DEFINED)
            rc = push_added(t, &a, m->pieces[k].piece, ty == PE_SPM_CONTROL, 0, 0, 0, 0, e);
    }
    for (int i = 0; !rc && i < cfg->nadded; i++) {
        const pe_cfg_token *c = &cfg->added[i];
        rc = push_added(t, &a, c->content, c->special, c->lstrip, c->rstrip, c->single_word,
                        cfg_normalized(c, c->special), e);
    }
    /* The special tokens named in the configuration, when not added yet:
     * a plain string is AddedToken(text, special=True) (unnormalized). */
    const pe_cfg_token *sp[] = {&cfg->bos, &cfg->eos, &cfg->unk, &cfg->pad};
    static const char *const def[] = {"<s>", "</s>", "<unk>", NULL};
    for (int i = 0; !rc && i < 4; i++) {
        const char *text = sp[i]->set ? sp[i]->content : def[i];
        if (text)
            rc = push_added(t, &a, text, 1, sp[i]->lstrip, sp[i]->rstrip, sp[i]->single_word,
                            sp[i]->set ? cfg_normalized(sp[i], sp[i]->special) : 0, e);
    }
    for (int i = 0; !rc && i < cfg->nextra; i++) {
        const pe_cfg_token *c = &cfg->extra[i];
        rc = push_added(t, &a, c->content, 1, c->lstrip, c->rstrip, c->single_word, cfg_normalized(c, c->special),
                        e);
    }
    t->added = a.tok;
    t->nadded = a.n;
    pe_strmap_free(&a.index);
    return rc;
}

/* ---- the whole conversion -------------------------------------------------- */

static int convert(pe_tokenizer *t, const pe_spm_model *m, const pe_tok_config *cfg, const char *file, pe_err *e)
{
    if (!pe_tok_config_is_llama(cfg, 1))
        return pe_fail(e, PE_EINPUT, "%s/tokenizer_config.json: tokenizer_class \"%s\": only LlamaTokenizer "
                       "SentencePiece models are converted (Llama-2, Mistral)", cfg->dir, cfg->tokenizer_class);
    if (m->model_type != PE_SPM_BPE)
        return pe_fail(e, PE_EINPUT, "%s: trainer_spec.model_type is %s: only BPE models (Llama-2, Mistral) are "
                       "supported", file, pe_spm_model_type_name(m->model_type));
    if (m->npieces < 3)
        return pe_fail(e, PE_EINPUT, "%s: %d pieces: a Llama vocabulary starts with <unk>, <s>, </s>", file,
                       (int)m->npieces);
    /* LlamaConverter names ids 0-2 by the slow tokenizer's tokens, which are
     * the pieces unless added_tokens_decoder renames them: refused, not guessed. */
    for (int i = 0; i < cfg->nadded && cfg->added[i].id < 3; i++)
        if (strcmp(cfg->added[i].content, m->pieces[cfg->added[i].id].piece))
            return pe_fail(e, PE_EINPUT, "%s/tokenizer_config.json: added_tokens_decoder[\"%d\"] is \"%s\" but "
                           "piece %d of %s is \"%s\" (not supported)", cfg->dir, (int)cfg->added[i].id,
                           cfg->added[i].content, (int)cfg->added[i].id, file, m->pieces[cfg->added[i].id].piece);
    t->vocab_size = m->npieces;
    if (pe_strmap_init(&t->token_to_id, (size_t)m->npieces + 256, e) ||
        pe_strmap_init(&t->bpe.vocab, (size_t)m->npieces, e))
        return e->code;
    for (int32_t k = 0; k < m->npieces; k++) {
        const pe_spm_piece *p = &m->pieces[k];
        int32_t prev = pe_strmap_get(&t->token_to_id, p->piece, p->len);
        if (prev >= 0)
            return pe_fail(e, PE_EINPUT, "%s: pieces[%d]: \"%.200s\" repeats pieces[%d]", file, (int)k, p->piece,
                           (int)prev);
        if (pe_strmap_put(&t->token_to_id, p->piece, p->len, k, e) ||
            pe_strmap_put(&t->bpe.vocab, p->piece, p->len, k, e))
            return e->code;
    }
    if (build_merges(t, m, file, e) || build_pipeline(t, cfg, e) || build_added(t, m, cfg, e))
        return e->code;

    t->bpe.byte_fallback = 1; /* LlamaConverter.handle_byte_fallback */
    t->bpe.fuse_unk = 1;
    t->bpe.unk_id = pe_strmap_get(&t->token_to_id, m->unk_piece, strlen(m->unk_piece));
    for (int b = 0; b < 256; b++) {
        char s[8];
        snprintf(s, sizeof s, "<0x%02X>", b);
        t->bpe.byte_ids[b] = -1;
        t->bpe.fallback_ids[b] = pe_strmap_get(&t->token_to_id, s, strlen(s));
    }
    if (!(t->id_to_token = pe_calloc((size_t)t->vocab_size, sizeof *t->id_to_token, e)))
        return e->code;
    for (int32_t k = 0; k < m->npieces; k++)
        if (!(t->id_to_token[k] = pe_strdup(m->pieces[k].piece, e)))
            return e->code;
    for (int i = 0; i < t->nadded; i++) {
        int32_t id = t->added[i].id;
        if (!t->id_to_token[id] && !(t->id_to_token[id] = pe_strdup(t->added[i].content, e)))
            return e->code;
    }
    return pe_tokenizer_finish(t, e);
}

pe_tokenizer *pe_tokenizer_from_spm(const char *file, const pe_tok_config *cfg, pe_err *e)
{
    pe_spm_model m;
    if (pe_spm_load(&m, file, e))
        return NULL;
    pe_tokenizer *t = pe_calloc(1, sizeof *t, e);
    if (t && !(t->source = pe_strdup(file, e))) {
        free(t);
        t = NULL;
    }
    if (t && convert(t, &m, cfg, file, e)) {
        pe_tokenizer_free(t);
        t = NULL;
    }
    pe_spm_free(&m);
    return t;
}
