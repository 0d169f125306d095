/* Reader of SentencePiece's ModelProto (spm_model.h). The protobuf wire
 * format is small: each field is a varint tag (field number << 3 | wire type)
 * followed by a varint, 4 or 8 bytes, or a varint length and that many bytes.
 * Only the fields a Hugging Face conversion reads are kept; every other field
 * is skipped by its wire type, as protobuf parsers do. Every length is checked
 * against the bytes left, so no read leaves the buffer. Protobuf merges a
 * message that appears twice and lets the last scalar win; parsing the second
 * occurrence into the same struct does exactly that. */
#include "spm_model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

/* A forged count must not make the id table huge (tokenizer.json's limit). */
#define MAX_PIECES (1 << 24)
#define MAX_FILE (64u << 20)

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_SGROUP = 3, WT_EGROUP = 4, WT_I32 = 5 };

typedef struct {
    const uint8_t *p, *end;
    const uint8_t *base;   /* start of the file, for offsets in messages */
    const char *file;
    const char *path;      /* the message being read, e.g. "pieces[3]" */
    pe_err *e;
} rd;

static int bad(rd *r, const char *what)
{
    return pe_fail(r->e, PE_EINPUT, "%s: %s: %s (at byte %zu)", r->file, r->path, what, (size_t)(r->p - r->base));
}

static int varint(rd *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (r->p >= r->end)
            return bad(r, "truncated varint");
        uint8_t b = *r->p++;
        if (i == 9 && b > 1) /* the 10th byte holds bit 63 only */
            return bad(r, "varint longer than 64 bits");
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return PE_OK;
        }
    }
    return bad(r, "varint longer than 10 bytes");
}

static int tag(rd *r, uint32_t *field, int *wt)
{
    uint64_t v = 0;
    if (varint(r, &v))
        return r->e->code;
    if ((v >> 3) == 0 || (v >> 3) > 0x1fffffff)
        return bad(r, "field number 0 or beyond 2^29-1");
    *field = (uint32_t)(v >> 3);
    *wt = (int)(v & 7);
    return PE_OK;
}

/* A length-delimited field: its bytes as [*s, *s + *n). */
static int bytes(rd *r, const uint8_t **s, size_t *n)
{
    uint64_t len = 0;
    if (varint(r, &len))
        return r->e->code;
    if (len > (uint64_t)(r->end - r->p))
        return bad(r, "length runs past the end of its message");
    *s = r->p;
    *n = (size_t)len;
    r->p += len;
    return PE_OK;
}

static int skip(rd *r, int wt)
{
    uint64_t v = 0;
    const uint8_t *s = NULL;
    size_t n = 0;
    switch (wt) {
    case WT_VARINT: return varint(r, &v);
    case WT_LEN: return bytes(r, &s, &n);
    case WT_I64:
    case WT_I32: {
        size_t k = wt == WT_I64 ? 8 : 4;
        if ((size_t)(r->end - r->p) < k)
            return bad(r, "truncated fixed-size field");
        r->p += k;
        return PE_OK;
    }
    default: /* groups (3, 4) are unused by sentencepiece_model.proto; 6, 7 do not exist */
        return bad(r, "unsupported protobuf wire type (groups or an invalid type)");
    }
}

static int want_wt(rd *r, uint32_t field, int wt, int expected)
{
    if (wt == expected)
        return PE_OK;
    char what[96];
    snprintf(what, sizeof what, "field %u has wire type %d, expected %d", field, wt, expected);
    return bad(r, what);
}

static int read_int32(rd *r, int32_t *out)
{
    uint64_t v = 0;
    if (varint(r, &v))
        return r->e->code;
    int64_t s = (int64_t)v; /* negative int32 values are sign-extended to 64 bits */
    if (s < INT32_MIN || s > INT32_MAX)
        return bad(r, "value out of the int32 range");
    *out = (int32_t)s;
    return PE_OK;
}

static int read_bool(rd *r, int *out)
{
    uint64_t v = 0;
    if (varint(r, &v))
        return r->e->code;
    *out = v != 0;
    return PE_OK;
}

/* A string field as a NUL-terminated copy: valid UTF-8 without NUL. */
static int read_string(rd *r, char **out, size_t *out_len)
{
    const uint8_t *s = NULL;
    size_t n = 0;
    if (bytes(r, &s, &n))
        return r->e->code;
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0 || cp == 0)
            return bad(r, k <= 0 ? "string is not valid UTF-8" : "string holds a NUL character");
        i += (size_t)k;
    }
    char *c = pe_malloc(n + 1, r->e);
    if (!c)
        return r->e->code;
    memcpy(c, s, n);
    c[n] = '\0';
    free(*out); /* a field given twice: the last one wins */
    *out = c;
    if (out_len)
        *out_len = n;
    return PE_OK;
}

/* Runs one sub-message [s, s+n) through fn with a narrowed reader. */
typedef int (*msg_fn)(rd *r, pe_spm_model *m, void *arg);

static int sub(rd *r, pe_spm_model *m, const char *path, msg_fn fn, void *arg)
{
    const uint8_t *s = NULL;
    size_t n = 0;
    if (bytes(r, &s, &n))
        return r->e->code;
    rd in = {s, s + n, r->base, r->file, path, r->e};
    return fn(&in, m, arg);
}

static int piece_msg(rd *r, pe_spm_model *m, void *arg)
{
    pe_spm_piece *pc = &m->pieces[*(int32_t *)arg];
    while (r->p < r->end) {
        uint32_t f = 0;
        int wt = 0;
        if (tag(r, &f, &wt))
            return r->e->code;
        if (f == 1) {
            if (want_wt(r, f, wt, WT_LEN) || read_string(r, &pc->piece, &pc->len))
                return r->e->code;
        } else if (f == 2) {
            if (want_wt(r, f, wt, WT_I32))
                return r->e->code;
            if (r->end - r->p < 4)
                return bad(r, "truncated score");
            uint32_t bits = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
                            (uint32_t)r->p[3] << 24;
            r->p += 4;
            memcpy(&pc->score, &bits, 4);
            if (!isfinite(pc->score))
                return bad(r, "score is not a finite number");
        } else if (f == 3) {
            int32_t t = 0;
            if (want_wt(r, f, wt, WT_VARINT) || read_int32(r, &t))
                return r->e->code;
            if (t < PE_SPM_NORMAL || t > PE_SPM_BYTE)
                return bad(r, "type is not a SentencePiece piece type (1 to 6)");
            pc->type = t;
        } else if (skip(r, wt)) {
            return r->e->code;
        }
    }
    if (!pc->piece || !pc->len)
        return bad(r, "piece is missing or empty");
    return PE_OK;
}

static int trainer_msg(rd *r, pe_spm_model *m, void *arg)
{
    (void)arg;
    while (r->p < r->end) {
        uint32_t f = 0;
        int wt = 0;
        if (tag(r, &f, &wt))
            return r->e->code;
        int rc;
        switch (f) {
        case 3: {
            int32_t t = 0;
            rc = want_wt(r, f, wt, WT_VARINT) || read_int32(r, &t);
            if (!rc && (t < PE_SPM_UNIGRAM || t > PE_SPM_CHAR))
                return bad(r, "model_type is not UNIGRAM, BPE, WORD or CHAR (1 to 4)");
            m->model_type = t;
            break;
        }
        case 35: rc = want_wt(r, f, wt, WT_VARINT) || read_bool(r, &m->byte_fallback); break;
        case 40: rc = want_wt(r, f, wt, WT_VARINT) || read_int32(r, &m->unk_id); break;
        case 41: rc = want_wt(r, f, wt, WT_VARINT) || read_int32(r, &m->bos_id); break;
        case 42: rc = want_wt(r, f, wt, WT_VARINT) || read_int32(r, &m->eos_id); break;
        case 43: rc = want_wt(r, f, wt, WT_VARINT) || read_int32(r, &m->pad_id); break;
        case 45: rc = want_wt(r, f, wt, WT_LEN) || read_string(r, &m->unk_piece, NULL); break;
        default: rc = skip(r, wt);
        }
        if (rc)
            return r->e->code;
    }
    return PE_OK;
}

static int normalizer_msg(rd *r, pe_spm_model *m, void *arg)
{
    (void)arg;
    while (r->p < r->end) {
        uint32_t f = 0;
        int wt = 0;
        if (tag(r, &f, &wt))
            return r->e->code;
        int rc;
        switch (f) {
        case 1: rc = want_wt(r, f, wt, WT_LEN) || read_string(r, &m->normalizer_name, NULL); break;
        case 2: {
            const uint8_t *s = NULL;
            rc = want_wt(r, f, wt, WT_LEN) || bytes(r, &s, &m->charsmap_len);
            break;
        }
        case 3: rc = want_wt(r, f, wt, WT_VARINT) || read_bool(r, &m->add_dummy_prefix); break;
        case 4: rc = want_wt(r, f, wt, WT_VARINT) || read_bool(r, &m->remove_extra_whitespaces); break;
        case 5: rc = want_wt(r, f, wt, WT_VARINT) || read_bool(r, &m->escape_whitespaces); break;
        default: rc = skip(r, wt);
        }
        if (rc)
            return r->e->code;
    }
    return PE_OK;
}

static int set_default_str(char **s, const char *def, pe_err *e)
{
    if (*s)
        return PE_OK;
    *s = pe_strdup(def, e);
    return *s ? PE_OK : e->code;
}

int pe_spm_parse(pe_spm_model *m, const uint8_t *buf, size_t len, const char *file, pe_err *e)
{
    memset(m, 0, sizeof *m);
    m->model_type = PE_SPM_UNIGRAM;
    m->unk_id = 0;
    m->bos_id = 1;
    m->eos_id = 2;
    m->pad_id = -1;
    m->add_dummy_prefix = m->remove_extra_whitespaces = m->escape_whitespaces = 1;
    rd r = {buf, buf + len, buf, file, "ModelProto", e};
    int32_t cap = 0;
    char path[64];
    while (r.p < r.end) {
        uint32_t f = 0;
        int wt = 0;
        if (tag(&r, &f, &wt))
            goto fail;
        if (f == 1) {
            if (want_wt(&r, f, wt, WT_LEN))
                goto fail;
            if (m->npieces == MAX_PIECES) {
                bad(&r, "more than 2^24 pieces");
                goto fail;
            }
            if (m->npieces == cap) {
                int32_t ncap = cap ? (cap > MAX_PIECES / 2 ? MAX_PIECES : 2 * cap) : 1024;
                pe_spm_piece *np = pe_realloc(m->pieces, (size_t)ncap * sizeof *np, e);
                if (!np)
                    goto fail;
                m->pieces = np;
                cap = ncap;
            }
            int32_t i = m->npieces++;
            memset(&m->pieces[i], 0, sizeof m->pieces[i]);
            m->pieces[i].type = PE_SPM_NORMAL;
            snprintf(path, sizeof path, "pieces[%d]", (int)i);
            if (sub(&r, m, path, piece_msg, &i))
                goto fail;
        } else if (f == 2 || f == 3) {
            if (want_wt(&r, f, wt, WT_LEN) ||
                sub(&r, m, f == 2 ? "trainer_spec" : "normalizer_spec", f == 2 ? trainer_msg : normalizer_msg, NULL))
                goto fail;
        } else if (skip(&r, wt)) {
            goto fail;
        }
    }
    if (m->npieces == 0) {
        pe_fail(e, PE_EINPUT, "%s: no pieces: not a SentencePiece model", file);
        goto fail;
    }
    if (set_default_str(&m->unk_piece, "<unk>", e) || set_default_str(&m->normalizer_name, "", e))
        goto fail;
    return PE_OK;
fail:
    pe_spm_free(m);
    return e->code ? e->code : PE_EINPUT;
}

int pe_spm_load(pe_spm_model *m, const char *path, pe_err *e)
{
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "rb");
    if (!f)
        return pe_fail(e, PE_EIO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = PE_OK;
    for (;;) {
        if (n == cap) {
            if (cap >= MAX_FILE) {
                rc = pe_fail(e, PE_EINPUT, "%s: larger than %u MB (real tokenizer.model files are under 5 MB)", path,
                             MAX_FILE >> 20);
                break;
            }
            cap = cap ? 2 * cap : 1 << 20;
            uint8_t *b = pe_realloc(buf, cap, e);
            if (!b) {
                rc = e->code;
                break;
            }
            buf = b;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0)
            break;
    }
    if (!rc && ferror(f))
        rc = pe_fail(e, PE_EIO, "%s: read error", path);
    fclose(f);
    if (!rc)
        rc = pe_spm_parse(m, buf, n, path, e);
    free(buf);
    return rc;
}

void pe_spm_free(pe_spm_model *m)
{
    if (!m)
        return;
    for (int32_t i = 0; i < m->npieces; i++)
        free(m->pieces[i].piece);
    free(m->pieces);
    free(m->unk_piece);
    free(m->normalizer_name);
    memset(m, 0, sizeof *m);
}

const char *pe_spm_model_type_name(int t)
{
    switch (t) {
    case PE_SPM_UNIGRAM: return "Unigram";
    case PE_SPM_BPE: return "BPE";
    case PE_SPM_WORD: return "Word";
    case PE_SPM_CHAR: return "Char";
    default: return "unknown";
    }
}
