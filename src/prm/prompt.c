/* The generic prompt stages (prm.h): a family's builder gives the segments;
 * here they become ids, the read-outs are found with the family's rule, and
 * the input is cut as the reference cuts it. */
#include "build.h"
#include "template.h"

#include <stdlib.h>
#include <string.h>

void pe_family_opts_default(pe_family_opts *o)
{
    o->qwen_backspace_quirk = 1;
    o->rlhflow_system_block = 1;
    o->label_rule = PE_LABEL_CURRENT;
    o->max_tokens = 2048;
    o->bos_id = -1;
    o->eos_id = -1;
}

int pe_family_segments(const pe_family *f, const pe_family_opts *o, const char *question, int nsteps,
                       char *const *steps, pe_segments *out, pe_err *e)
{
    memset(out, 0, sizeof *out);
    pe_step_cleaner *clean = pe_step_cleaner_new(e);
    if (!clean)
        return e->code;
    int rc = f->prompt ? f->prompt(o, question, nsteps, steps, clean, out, e)
                       : pe_template_segments(f->template, o, question, nsteps, steps, clean, out, e);
    pe_step_cleaner_free(clean);
    if (rc)
        pe_segments_free(out);
    return rc;
}

void pe_segments_free(pe_segments *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->seg[i].text);
    free(s->seg);
    memset(s, 0, sizeof *s);
}

char *pe_segments_render(const pe_segments *s, const char *bos_text, pe_err *e)
{
    pe_sbuf b = {0};
    if (pe_sb_str(&b, "", e))
        return NULL;
    for (int i = 0; i < s->n; i++) {
        const pe_segment *g = &s->seg[i];
        int rc = g->kind == PE_SEG_BOS ? pe_sb_str(&b, bos_text ? bos_text : "", e)
                                       : pe_sb_put(&b, g->text, g->len, e);
        if (rc) {
            free(b.p);
            return NULL;
        }
    }
    return b.p;
}

/* ---- stage 2: tokens ----------------------------------------------------- */

typedef struct { int32_t *p; int64_t n, cap; } ibuf;

static int ib_put(ibuf *b, const int32_t *ids, int64_t n, pe_err *e)
{
    if (b->n + n > b->cap) {
        int64_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n)
            cap *= 2;
        int32_t *p = pe_realloc(b->p, (size_t)cap * sizeof *p, e);
        if (!p)
            return e->code;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, ids, (size_t)n * sizeof *ids);
    b->n += n;
    return PE_OK;
}

static int encode_into(const pe_encoder *t, const char *text, size_t len, ibuf *b, pe_err *e)
{
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = t->encode(t->ctx, text, len, &ids, &n, e);
    if (!rc)
        rc = ib_put(b, ids, (int64_t)n, e);
    free(ids);
    return rc;
}

/* The last id of encode(text): the reference's tokenizer.encode(tag)[-1]. */
static int last_id(const pe_family *f, const pe_encoder *t, const char *text, int32_t *id, pe_err *e)
{
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = t->encode(t->ctx, text, strlen(text), &ids, &n, e);
    if (!rc && n == 0)
        rc = pe_fail(e, PE_EINPUT, "family %s: the tokenizer encodes \"%s\" to no token", f->name, text);
    if (!rc)
        *id = ids[n - 1];
    free(ids);
    return rc;
}

static int special_id(const pe_family *f, const pe_encoder *t, const char *tok, int32_t *id, pe_err *e)
{
    *id = t->token_id(t->ctx, tok);
    if (*id < 0)
        return pe_fail(e, PE_EINPUT, "family %s needs the token \"%s\", which the tokenizer does not have",
                       f->name, tok);
    return PE_OK;
}

int64_t pe_readouts_kept(const int64_t *readout, int64_t nread, int64_t max_tokens, int64_t pattern_after)
{
    int64_t k = 0;
    while (k < nread && (max_tokens <= 0 || readout[k] + pattern_after < max_tokens))
        k++;
    return k;
}

/* Read-out finders over ids[0..n): the reference's rules. Fill readout (may
 * be NULL to count only). */
static int64_t find_by_id(const int32_t *ids, int64_t n, int32_t id, int64_t *readout)
{
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (ids[i] == id) {
            if (readout)
                readout[k] = i;
            k++;
        }
    return k;
}

static int64_t find_by_pattern(const int32_t *ids, int64_t n, const int32_t *pat, int64_t plen,
                               int64_t offset, int64_t *readout)
{
    int64_t k = 0;
    for (int64_t i = 0; i + plen <= n; i++)
        if (!memcmp(ids + i, pat, (size_t)plen * sizeof *pat)) {
            if (readout)
                readout[k] = i + offset;
            k++;
        }
    return k;
}

/* PE_RO_SEP_REMOVED (ReasonEval): every separator id leaves the model input,
 * except one in front (where BOS is the separator, as on ReasonEval-7B, the
 * reference removes it with the others and puts one BOS back). The last
 * nsteps separators close the steps; the read-out of step i is the index,
 * in the model input, of the last id before its closing separator, plus
 * offset (the 7B's -1). Replaces *flags with the read-outs (ascending; an
 * empty step repeats the previous index). */
static int sep_removed(ibuf *ids, int32_t sep, int nsteps, int offset, int64_t **flags, int64_t *nflags, pe_err *e)
{
    int64_t *closing = pe_malloc((size_t)(ids->n + 1) * sizeof *closing, e);
    if (!closing)
        return e->code;
    int64_t k = 0, nsep = 0;
    for (int64_t j = 0; j < ids->n; j++) {
        if (ids->p[j] == sep && j > 0)
            closing[nsep++] = k; /* ids kept before this separator */
        else
            ids->p[k++] = ids->p[j];
    }
    ids->n = k;
    int64_t first = nsep > nsteps ? nsep - nsteps : 0;
    for (int64_t i = first; i < nsep; i++) {
        int64_t r = closing[i] - 1 + offset;
        closing[i - first] = r < 0 ? 0 : r;
    }
    free(*flags);
    *flags = closing;
    *nflags = nsep - first;
    return PE_OK;
}

/* encode(text) without its first id (the reference's [1:]: the "▁" a
 * Llama-2 tokenizer puts in front). */
static int tail_ids(const pe_family *f, const pe_encoder *t, const char *text, int32_t **ids, size_t *n, pe_err *e)
{
    int rc = t->encode(t->ctx, text, strlen(text), ids, n, e);
    if (!rc && *n < 2)
        rc = pe_fail(e, PE_EINPUT, "family %s: the tokenizer encodes \"%s\" to %zu tokens, expected at least 2",
                     f->name, text, *n);
    if (!rc)
        memmove(*ids, *ids + 1, (--*n) * sizeof **ids);
    return rc;
}

/* PE_RO_AFTER_MARKER (llemma): see prm.h. Replaces *flags with the read-outs. */
static int after_marker(const pe_family *f, const pe_encoder *t, const ibuf *ids, int32_t eos, int64_t **flags,
                        int64_t *nflags, pe_err *e)
{
    int32_t *b = NULL, *sep = NULL;
    size_t nb = 0, ns = 0;
    int64_t *cand = NULL, k = 0;
    int rc = tail_ids(f, t, f->readout.text, &b, &nb, e);
    if (!rc)
        rc = tail_ids(f, t, f->readout.text2, &sep, &ns, e);
    if (!rc && !(cand = pe_malloc((size_t)(ids->n + 1) * sizeof *cand, e)))
        rc = e->code;
    int found = 0;
    for (int64_t i = 0; !rc && i < ids->n; i++) {
        if (!found && i + (int64_t)nb <= ids->n && !memcmp(ids->p + i, b, nb * sizeof *b))
            found = 1;
        if (!found)
            continue;
        if (eos >= 0 && ids->p[i] == eos) {
            cand[k++] = i;
            break;
        }
        if (i + (int64_t)ns <= ids->n && !memcmp(ids->p + i, sep, ns * sizeof *sep))
            cand[k++] = i;
    }
    free(b);
    free(sep);
    if (rc) {
        free(cand);
        return rc;
    }
    /* the first candidate is the separator before the marker itself */
    if (k > 0)
        memmove(cand, cand + 1, (size_t)(--k) * sizeof *cand);
    free(*flags);
    *flags = cand;
    *nflags = k;
    return PE_OK;
}

int pe_family_encode(const pe_family *f, const pe_family_opts *o, const pe_segments *s,
                     const pe_encoder *t, pe_prompt_tokens *out, pe_err *e)
{
    memset(out, 0, sizeof *out);
    ibuf ids = {0};
    pe_sbuf run = {0};
    int64_t *flags = NULL; /* PE_RO_MARKED: positions of the marked segments' last ids, in order */
    int64_t nflags = 0;
    int32_t *pat = NULL;
    size_t plen = 0;
    int rc = PE_OK;
    if (s->n > 0 && !(flags = pe_malloc((size_t)s->n * sizeof *flags, e)))
        return e->code;
    for (int i = 0; !rc && i < s->n; i++) {
        const pe_segment *g = &s->seg[i];
        int32_t id;
        if (g->kind == PE_SEG_SPECIAL && (rc = special_id(f, t, g->text, &id, e)))
            break;
        if (!g->separate && g->kind != PE_SEG_BOS && g->kind != PE_SEG_LAST_ID) {
            /* Joined run: encoded as one string, added tokens matched inside it. */
            rc = pe_sb_put(&run, g->text, g->len, e);
            continue;
        }
        if (run.n) {
            rc = encode_into(t, run.p, run.n, &ids, e);
            run.n = 0;
            if (rc)
                break;
        }
        if (g->kind == PE_SEG_BOS) {
            id = o->bos_id >= 0 ? o->bos_id : t->bos_id;
            if (id < 0) {
                rc = pe_fail(e, PE_EINPUT, "family %s starts with a BOS token, but the tokenizer has none "
                             "and config.json gives no bos_token_id", f->name);
                break;
            }
            rc = ib_put(&ids, &id, 1, e);
        } else if (g->kind == PE_SEG_LAST_ID) {
            if (!(rc = last_id(f, t, g->text, &id, e)) && !(rc = ib_put(&ids, &id, 1, e)) && g->readout_after)
                flags[nflags++] = ids.n - 1;
        } else if (g->kind == PE_SEG_SPECIAL) {
            rc = ib_put(&ids, &id, 1, e);
        } else {
            int64_t before = ids.n;
            rc = encode_into(t, g->text, g->len, &ids, e);
            if (!rc && g->readout_after && ids.n > before)
                flags[nflags++] = ids.n - 1;
        }
    }
    if (!rc && run.n)
        rc = encode_into(t, run.p, run.n, &ids, e);
    free(run.p);

    /* The rule's parameters. */
    const pe_readout_rule *ro = &f->readout;
    int32_t tag = -1;
    if (!rc && ro->kind == PE_RO_SPECIAL_ID)
        rc = special_id(f, t, ro->text, &tag, e);
    else if (!rc && ro->kind == PE_RO_LAST_ID)
        rc = last_id(f, t, ro->text, &tag, e);
    else if (!rc && ro->kind == PE_RO_SEP_REMOVED) {
        if (!(rc = special_id(f, t, ro->text, &tag, e)))
            rc = sep_removed(&ids, tag, s->nexpected, ro->offset, &flags, &nflags, e);
    } else if (!rc && ro->kind == PE_RO_AFTER_MARKER) {
        rc = after_marker(f, t, &ids, o->eos_id, &flags, &nflags, e);
    } else if (!rc && ro->kind == PE_RO_PATTERN) {
        rc = t->encode(t->ctx, ro->text, strlen(ro->text), &pat, &plen, e);
        if (!rc && (plen < 1 || (int64_t)plen <= ro->offset))
            rc = pe_fail(e, PE_EINPUT, "family %s: the read-out pattern encodes to %zu tokens, "
                         "expected more than %d", f->name, plen, ro->offset);
    }

    int64_t n_full = ids.n;
    int64_t n = (o->max_tokens > 0 && n_full > o->max_tokens) ? o->max_tokens : n_full;
    if (!rc) {
        int64_t nfull = 0, nkept = 0;
        if (ro->kind == PE_RO_MARKED || ro->kind == PE_RO_SEP_REMOVED || ro->kind == PE_RO_AFTER_MARKER) {
            nfull = nflags;
            nkept = pe_readouts_kept(flags, nflags, n, 0);
        } else if (ro->kind == PE_RO_PATTERN) {
            nfull = find_by_pattern(ids.p, n_full, pat, (int64_t)plen, ro->offset, NULL);
            nkept = find_by_pattern(ids.p, n, pat, (int64_t)plen, ro->offset, NULL);
        } else {
            nfull = find_by_id(ids.p, n_full, tag, NULL);
            nkept = find_by_id(ids.p, n, tag, NULL);
        }
        out->readout = pe_malloc((size_t)(nkept ? nkept : 1) * sizeof *out->readout, e);
        if (!out->readout)
            rc = e->code;
        else if (ro->kind == PE_RO_MARKED || ro->kind == PE_RO_SEP_REMOVED || ro->kind == PE_RO_AFTER_MARKER)
            memcpy(out->readout, flags, (size_t)nkept * sizeof *flags);
        else if (ro->kind == PE_RO_PATTERN)
            find_by_pattern(ids.p, n, pat, (int64_t)plen, ro->offset, out->readout);
        else
            find_by_id(ids.p, n, tag, out->readout);
        out->nread = nkept;
        out->nread_full = nfull;
    }
    free(flags);
    free(pat);
    if (rc) {
        free(ids.p);
        pe_prompt_tokens_free(out);
        return rc;
    }
    out->ids = ids.p;
    out->n = n;
    out->n_full = n_full;
    out->truncated = n_full > n;
    return PE_OK;
}

void pe_prompt_tokens_free(pe_prompt_tokens *p)
{
    free(p->ids);
    free(p->readout);
    memset(p, 0, sizeof *p);
}


/* ---- the token stage on a real tokenizer.json tokenizer ------------------ */

static int enc_encode(const void *ctx, const char *text, size_t len, int32_t **ids, size_t *nids, pe_err *e)
{
    /* The reference encodes with add_special_tokens=False (chat templates) or
     * adds BOS itself; family segments carry BOS explicitly. */
    return pe_tokenizer_encode((const pe_tokenizer *)ctx, text, len, 0, ids, nids, e);
}

static int32_t enc_token_id(const void *ctx, const char *token)
{
    return pe_tokenizer_token_id((const pe_tokenizer *)ctx, token);
}

void pe_encoder_from_tokenizer(pe_encoder *enc, const pe_tokenizer *t)
{
    enc->ctx = t;
    enc->encode = enc_encode;
    enc->token_id = enc_token_id;
    enc->bos_id = pe_tokenizer_bos_id(t);
}

int pe_family_tokens(const pe_family *f, const pe_family_opts *o, const pe_segments *s,
                     const pe_tokenizer *t, pe_prompt_tokens *out, pe_err *e)
{
    pe_encoder enc;
    pe_encoder_from_tokenizer(&enc, t);
    return pe_family_encode(f, o, s, &enc, out, e);
}

/* ---- the head's token ids ----------------------------------------------- */

int pe_family_head(const pe_family *f, const pe_encoder *enc, pe_head_spec *head, pe_err *e)
{
    memset(head, 0, sizeof *head);
    head->d = f->head;
    for (int i = 0; i < PE_HEAD_MAX_ROWS; i++)
        head->tok[i] = -1;
    if (!f->head.tokens)
        return PE_OK;
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = enc->encode(enc->ctx, f->head.tokens, strlen(f->head.tokens), &ids, &n, e);
    if (!rc && n != (size_t)f->head.nrows)
        rc = pe_fail(e, PE_EINPUT, "family %s: the tokenizer encodes \"%s\" to %zu tokens, expected %d", f->name,
                     f->head.tokens, n, f->head.nrows);
    for (size_t i = 0; !rc && i < n; i++)
        head->tok[i] = ids[i];
    free(ids);
    return rc;
}
