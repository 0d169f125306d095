/* PRM families: prompt segments, read-out rules, label rules. Every format
 * choice below mirrors PRMBench's mr_eval/models/ (one .py per model) (see docs/families.md);
 * a quirk kept for compatibility says so where it is reproduced. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "family.h"

#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static const char *const arch_qwen_prm[] = {"Qwen2ForProcessRewardModel", NULL};
static const char *const arch_math_shepherd[] = {"MistralForCausalLM", "LlamaForCausalLM", NULL};
static const char *const arch_rlhflow[] = {"LlamaForCausalLM", NULL};
/* Skywork ships a Qwen2 causal LM plus v_head; its config names Qwen2ForPrmModel. */
static const char *const arch_skywork[] = {"Qwen2ForPrmModel", "Qwen2ForCausalLM", NULL};

static const pe_family families[PE_NFAMILIES] = {
    {PE_FAM_QWEN_PRM, "qwen-prm", "Qwen/Qwen2.5-Math-PRM-7B", arch_qwen_prm, 0.5},
    {PE_FAM_MATH_SHEPHERD, "math-shepherd", "peiyi9979/math-shepherd-mistral-7b-prm",
     arch_math_shepherd, 0.5},
    {PE_FAM_RLHFLOW, "rlhflow", "RLHFlow/Llama3.1-8B-PRM-Mistral-Data", arch_rlhflow, 0.5},
    {PE_FAM_SKYWORK, "skywork", "Skywork/Skywork-o1-Open-PRM-Qwen-2.5-1.5B", arch_skywork, -0.05},
};

/* When the job names no family, config.json's architectures[0] decides.
 * Qwen2ForCausalLM is left out on purpose: too many non-PRM checkpoints
 * carry it, so skywork must be named explicitly for it. */
static const struct { const char *arch; pe_family_id fam; } arch_default[] = {
    {"Qwen2ForProcessRewardModel", PE_FAM_QWEN_PRM},
    {"MistralForCausalLM", PE_FAM_MATH_SHEPHERD},
    {"LlamaForCausalLM", PE_FAM_RLHFLOW},
    {"Qwen2ForPrmModel", PE_FAM_SKYWORK},
};

void pe_family_opts_default(pe_family_opts *o)
{
    o->qwen_backspace_quirk = 1;
    o->rlhflow_system_block = 1;
    o->label_rule = PE_LABEL_CURRENT;
    o->max_tokens = 2048;
    o->bos_id = -1;
}

const pe_family *pe_family_get(pe_family_id id)
{
    return (id >= 0 && id < PE_NFAMILIES) ? &families[id] : NULL;
}

const pe_family *pe_family_by_name(const char *name)
{
    for (int i = 0; name && i < PE_NFAMILIES; i++)
        if (!strcmp(families[i].name, name))
            return &families[i];
    return NULL;
}

const char *pe_family_names(void) { return "qwen-prm, math-shepherd, rlhflow, skywork"; }

int pe_family_resolve(const char *arch, const char *family_name, const pe_family **out, pe_err *e)
{
    *out = NULL;
    if (!arch)
        arch = "";
    if (!family_name || !*family_name || !strcmp(family_name, "auto")) {
        for (size_t i = 0; i < sizeof arch_default / sizeof arch_default[0]; i++)
            if (!strcmp(arch_default[i].arch, arch)) {
                *out = &families[arch_default[i].fam];
                return PE_OK;
            }
        return pe_fail(e, PE_EUSAGE,
                       "family \"auto\": config.json architectures \"%s\" does not say which PRM "
                       "family this is; set \"family\" to one of: %s",
                       arch, pe_family_names());
    }
    const pe_family *f = pe_family_by_name(family_name);
    if (!f)
        return pe_fail(e, PE_EUSAGE, "unknown family \"%s\"; expected one of: auto, %s", family_name,
                       pe_family_names());
    for (int i = 0; f->architectures[i]; i++)
        if (!strcmp(f->architectures[i], arch)) {
            *out = f;
            return PE_OK;
        }
    char want[256] = "";
    for (int i = 0; f->architectures[i]; i++) {
        strncat(want, i ? " or " : "", sizeof want - strlen(want) - 1);
        strncat(want, f->architectures[i], sizeof want - strlen(want) - 1);
    }
    return pe_fail(e, PE_EUSAGE,
                   "family \"%s\" does not match the checkpoint: config.json architectures is \"%s\", "
                   "family %s expects %s (e.g. %s)",
                   family_name, arch, f->name, want, f->checkpoint);
}

/* ---- Python string semantics ------------------------------------------- */

/* Python's str.isspace(): general category Zs or bidi class WS, B or S.
 * Listed by code point (Unicode 15) so the result does not depend on the
 * utf8proc version. */
int pe_py_isspace(uint32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* Decodes one code point; invalid bytes count as one non-space unit, so
 * stripping never eats them (Python would have refused them earlier). */
static size_t next_cp(const char *s, size_t len, size_t i, uint32_t *cp)
{
    utf8proc_int32_t c;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &c);
    if (n <= 0) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = (uint32_t)c;
    return (size_t)n;
}

static void py_strip_range(const char *s, size_t len, size_t *b, size_t *end)
{
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = next_cp(s, len, i, &cp);
        if (!pe_py_isspace(cp))
            break;
        i += n;
    }
    size_t last = i; /* end of the last non-space code point */
    for (size_t j = i; j < len;) {
        uint32_t cp;
        size_t n = next_cp(s, len, j, &cp);
        j += n;
        if (!pe_py_isspace(cp))
            last = j;
    }
    *b = i;
    *end = last;
}

char *pe_py_strip(const char *s, size_t len, size_t *outlen, pe_err *e)
{
    size_t b, end;
    py_strip_range(s, len, &b, &end);
    char *r = pe_malloc(end - b + 1, e);
    if (!r)
        return NULL;
    memcpy(r, s + b, end - b);
    r[end - b] = '\0';
    if (outlen)
        *outlen = end - b;
    return r;
}

/* remove_step_prefix: re.sub(r"^(Step\s*\d+\.\s*|\d+\.\s*)", "", text.strip(), flags=re.I).
 * Python's \s is str.isspace() (spelled out below; PCRE2's \s differs on
 * U+001C..U+001F and U+0085), \d is Unicode Nd (PCRE2_UCP gives the same). */
#define PY_SPACE "[\\x{09}-\\x{0d}\\x{1c}-\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}" \
                 "\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}]"
static const char prefix_re[] = "^(?:Step" PY_SPACE "*\\d+\\." PY_SPACE "*|\\d+\\." PY_SPACE "*)";

static pcre2_code *prefix_compile(pe_err *e)
{
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)prefix_re, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS,
                                   &errcode, &erroff, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof msg);
        pe_fail(e, PE_EGENERIC, "step prefix regex: %s at %zu", (const char *)msg, (size_t)erroff);
    }
    return re;
}

static char *strip_prefix_with(pcre2_code *re, pcre2_match_data *md, const char *s, pe_err *e)
{
    size_t len;
    char *t = pe_py_strip(s, strlen(s), &len, e);
    if (!t)
        return NULL;
    /* No match, or invalid UTF-8 (a PCRE2 error): the text stays as it is. */
    int rc = pcre2_match(re, (PCRE2_SPTR)t, len, 0, 0, md, NULL);
    if (rc > 0) {
        size_t cut = pcre2_get_ovector_pointer(md)[1];
        memmove(t, t + cut, len - cut + 1);
    }
    return t;
}

char *pe_strip_prefix(const char *s, pe_err *e)
{
    pcre2_code *re = prefix_compile(e);
    if (!re)
        return NULL;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    char *r = md ? strip_prefix_with(re, md, s, e) : NULL;
    if (!md)
        pe_fail(e, PE_ERESOURCE, "out of memory (regex match data)");
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return r;
}

/* ---- stage 1: segments -------------------------------------------------- */

static int seg_add(pe_segments *s, pe_seg_kind kind, const char *text, size_t len, int separate,
                   int readout, pe_err *e)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 32;
        pe_segment *p = pe_realloc(s->seg, (size_t)cap * sizeof *p, e);
        if (!p)
            return e->code;
        s->seg = p;
        s->cap = cap;
    }
    char *t = pe_malloc(len + 1, e);
    if (!t)
        return e->code;
    memcpy(t, text, len);
    t[len] = '\0';
    s->seg[s->n++] = (pe_segment){t, len, (uint8_t)kind, (uint8_t)separate, (uint8_t)readout};
    s->nexpected += readout;
    return PE_OK;
}

static int seg_text(pe_segments *s, const char *text, pe_err *e)
{
    return seg_add(s, PE_SEG_TEXT, text, strlen(text), 0, 0, e);
}

static int seg_special(pe_segments *s, const char *tok, int readout, pe_err *e)
{
    return seg_add(s, PE_SEG_SPECIAL, tok, strlen(tok), 0, readout, e);
}

/* Text built from pieces, for steps ("Step 3: " + s + " ки\n"). */
typedef struct { char *p; size_t n, cap; } sbuf;

static int sb_put(sbuf *b, const char *s, size_t n, pe_err *e)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = pe_realloc(b->p, cap, e);
        if (!p)
            return e->code;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return PE_OK;
}
static int sb_str(sbuf *b, const char *s, pe_err *e) { return sb_put(b, s, strlen(s), e); }

static int segments_qwen_prm(const pe_family_opts *o, const char *q, int nsteps, char *const *steps,
                             pcre2_code *re, pcre2_match_data *md, pe_segments *s, pe_err *e)
{
    /* The reference's Python literal "...within \boxed{}." holds "\b" = 0x08. */
    const char *sys = o->qwen_backspace_quirk
                          ? "Please reason step by step, and put your final answer within \boxed{}."
                          : "Please reason step by step, and put your final answer within \\boxed{}.";
    /* Qwen2.5 chat template, messages system/user/assistant,
     * add_generation_prompt=False: "<|im_start|>ROLE\nCONTENT<|im_end|>\n" each. */
    sbuf b = {0};
    int rc = seg_special(s, "<|im_start|>", 0, e);
    if (!rc && !(rc = sb_str(&b, "system\n", e)) && !(rc = sb_str(&b, sys, e)))
        rc = seg_text(s, b.p, e);
    if (!rc) rc = seg_special(s, "<|im_end|>", 0, e);
    if (!rc) rc = seg_text(s, "\n", e);
    if (!rc) rc = seg_special(s, "<|im_start|>", 0, e);
    b.n = 0;
    if (!rc && !(rc = sb_str(&b, "user\n", e)) && !(rc = sb_str(&b, q, e)))
        rc = seg_text(s, b.p, e);
    if (!rc) rc = seg_special(s, "<|im_end|>", 0, e);
    if (!rc) rc = seg_text(s, "\n", e);
    if (!rc) rc = seg_special(s, "<|im_start|>", 0, e);
    if (!rc) rc = seg_text(s, "assistant\n", e);
    for (int i = 0; !rc && i < nsteps; i++) {
        char *c = strip_prefix_with(re, md, steps[i], e);
        if (!c)
            rc = e->code;
        if (!rc && *c)
            rc = seg_text(s, c, e);
        free(c);
        if (!rc) rc = seg_special(s, "<extra_0>", 1, e);
    }
    if (!rc) rc = seg_special(s, "<|im_end|>", 0, e);
    if (!rc) rc = seg_text(s, "\n", e);
    free(b.p);
    return rc;
}

static int segments_math_shepherd(const char *q, int nsteps, char *const *steps, pe_segments *s,
                                  pe_err *e)
{
    /* encode(f"{question} {steps_str}") with the default add_special_tokens=True: BOS first. */
    sbuf b = {0};
    int rc = seg_add(s, PE_SEG_BOS, "", 0, 0, 0, e);
    if (!rc && !(rc = sb_str(&b, q, e)) && !(rc = sb_str(&b, " ", e)))
        rc = seg_text(s, b.p, e);
    for (int i = 0; !rc && i < nsteps; i++) {
        size_t len;
        char *st = pe_py_strip(steps[i], strlen(steps[i]), &len, e);
        if (!st) {
            rc = e->code;
            break;
        }
        b.n = 0;
        char head[32];
        /* A step already starting with "Step"/"step" keeps its own numbering. */
        if (strncmp(st, "Step", 4) && strncmp(st, "step", 4)) {
            snprintf(head, sizeof head, "Step %d: ", i + 1);
            rc = sb_str(&b, head, e);
        }
        if (!rc && !(rc = sb_put(&b, st, len, e)))
            rc = seg_text(s, b.p, e);
        free(st);
        if (!rc) rc = seg_add(s, PE_SEG_TEXT, " ки", strlen(" ки"), 0, 1, e);
        if (!rc) rc = seg_text(s, "\n", e);
    }
    free(b.p);
    return rc;
}

static int segments_rlhflow(const pe_family_opts *o, const char *q, int nsteps, char *const *steps,
                            pcre2_code *re, pcre2_match_data *md, pe_segments *s, pe_err *e)
{
    /* Llama-3.1 chat template, user/assistant turns, add_generation_prompt=False;
     * each content goes through Jinja's `| trim` (= Python str.strip()). */
    int rc = seg_add(s, PE_SEG_BOS, "", 0, 0, 0, e);
    if (!rc && o->rlhflow_system_block) {
        rc = seg_special(s, "<|start_header_id|>", 0, e);
        if (!rc) rc = seg_text(s, "system", e);
        if (!rc) rc = seg_special(s, "<|end_header_id|>", 0, e);
        if (!rc) rc = seg_text(s, "\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n", e);
        if (!rc) rc = seg_special(s, "<|eot_id|>", 0, e);
    }
    sbuf b = {0};
    for (int i = 0; !rc && i < nsteps; i++) {
        char *c = strip_prefix_with(re, md, steps[i], e);
        if (!c) {
            rc = e->code;
            break;
        }
        b.n = 0;
        if (i == 0) {
            rc = sb_str(&b, q, e);
            if (!rc) rc = sb_str(&b, " ", e);
        }
        if (!rc) rc = sb_str(&b, c, e);
        free(c);
        char *content = rc ? NULL : pe_py_strip(b.p, b.n, NULL, e);
        if (!rc && !content)
            rc = e->code;
        if (!rc) rc = seg_special(s, "<|start_header_id|>", 0, e);
        if (!rc) rc = seg_text(s, "user", e);
        if (!rc) rc = seg_special(s, "<|end_header_id|>", 0, e);
        b.n = 0;
        if (!rc && !(rc = sb_str(&b, "\n\n", e)) && !(rc = sb_str(&b, content, e)))
            rc = seg_text(s, b.p, e);
        free(content);
        if (!rc) rc = seg_special(s, "<|eot_id|>", 0, e);
        if (!rc) rc = seg_special(s, "<|start_header_id|>", 0, e);
        if (!rc) rc = seg_text(s, "assistant", e);
        if (!rc) rc = seg_special(s, "<|end_header_id|>", 0, e);
        /* Read-out: the "\n\n" token, 3 after <|start_header_id|>, predicts "+". */
        if (!rc) rc = seg_add(s, PE_SEG_TEXT, "\n\n", 2, 0, 1, e);
        if (!rc) rc = seg_text(s, "+", e);
        if (!rc) rc = seg_special(s, "<|eot_id|>", 0, e);
    }
    free(b.p);
    return rc;
}

static int segments_skywork(const char *q, int nsteps, char *const *steps, pcre2_code *re,
                            pcre2_match_data *md, pe_segments *s, pe_err *e)
{
    /* prepare_input: encode(bos_token + problem + "\n"), then the response
     * split on the step tag, each piece encoded alone + the step token id. */
    sbuf b = {0};
    int rc = seg_add(s, PE_SEG_BOS, "", 0, 0, 0, e);
    if (!rc && !(rc = sb_str(&b, q, e)) && !(rc = sb_str(&b, "\n", e)))
        rc = seg_add(s, PE_SEG_TEXT, b.p, b.n, 1, 0, e);
    b.n = 0;
    for (int i = 0; !rc && i < nsteps; i++) {
        char *c = strip_prefix_with(re, md, steps[i], e);
        if (!c) {
            rc = e->code;
            break;
        }
        size_t len;
        char *cs = pe_py_strip(c, strlen(c), &len, e); /* clean_step.strip(): a no-op kept for clarity */
        free(c);
        if (!cs) {
            rc = e->code;
            break;
        }
        char head[32];
        snprintf(head, sizeof head, "Step %d: ", i + 1);
        if (!(rc = sb_str(&b, head, e)) && !(rc = sb_put(&b, cs, len, e)))
            rc = sb_str(&b, " ки\n", e);
        free(cs);
    }
    /* response.split("ки"): every piece, the trailing "\n" one included (one
     * extra reward, as the reference has); an empty piece gives the step
     * token alone, as SkyworkAI's prepare_input does. */
    const char *tag = "ки";
    size_t tl = strlen(tag);
    const char *p = b.p ? b.p : "";
    while (!rc) {
        const char *hit = strstr(p, tag);
        size_t n = hit ? (size_t)(hit - p) : strlen(p);
        if (n)
            rc = seg_add(s, PE_SEG_TEXT, p, n, 1, 0, e);
        if (!rc)
            rc = seg_add(s, PE_SEG_LAST_ID, tag, tl, 1, 1, e);
        if (!hit)
            break;
        p = hit + tl;
    }
    free(b.p);
    return rc;
}

int pe_family_segments(const pe_family *f, const pe_family_opts *o, const char *question, int nsteps,
                       char *const *steps, pe_segments *out, pe_err *e)
{
    memset(out, 0, sizeof *out);
    pcre2_code *re = prefix_compile(e);
    if (!re)
        return e->code;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc;
    if (!md)
        rc = pe_fail(e, PE_ERESOURCE, "out of memory (regex match data)");
    else if (f->id == PE_FAM_QWEN_PRM)
        rc = segments_qwen_prm(o, question, nsteps, steps, re, md, out, e);
    else if (f->id == PE_FAM_MATH_SHEPHERD)
        rc = segments_math_shepherd(question, nsteps, steps, out, e);
    else if (f->id == PE_FAM_RLHFLOW)
        rc = segments_rlhflow(o, question, nsteps, steps, re, md, out, e);
    else if (f->id == PE_FAM_SKYWORK)
        rc = segments_skywork(question, nsteps, steps, re, md, out, e);
    else
        rc = pe_fail(e, PE_EGENERIC, "family %d has no prompt builder", (int)f->id);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
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
    sbuf b = {0};
    if (sb_str(&b, "", e))
        return NULL;
    for (int i = 0; i < s->n; i++) {
        const pe_segment *g = &s->seg[i];
        int rc = g->kind == PE_SEG_BOS ? sb_str(&b, bos_text ? bos_text : "", e)
                                       : sb_put(&b, g->text, g->len, e);
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

int pe_family_encode(const pe_family *f, const pe_family_opts *o, const pe_segments *s,
                     const pe_encoder *t, pe_prompt_tokens *out, pe_err *e)
{
    memset(out, 0, sizeof *out);
    ibuf ids = {0};
    sbuf run = {0};
    int64_t *flags = NULL; /* skywork: positions of the step tokens, in order */
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
            rc = sb_put(&run, g->text, g->len, e);
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
            rc = encode_into(t, g->text, g->len, &ids, e);
        }
    }
    if (!rc && run.n)
        rc = encode_into(t, run.p, run.n, &ids, e);
    free(run.p);

    /* The rule's parameters. */
    int32_t tag = -1;
    int64_t offset = 0;
    if (!rc && f->id == PE_FAM_QWEN_PRM)
        rc = special_id(f, t, "<extra_0>", &tag, e);
    else if (!rc && f->id == PE_FAM_MATH_SHEPHERD)
        rc = last_id(f, t, "ки", &tag, e);
    else if (!rc && f->id == PE_FAM_RLHFLOW) {
        static const char p[] = "<|start_header_id|>assistant<|end_header_id|>\n\n+<|eot_id|>";
        rc = t->encode(t->ctx, p, strlen(p), &pat, &plen, e);
        offset = 3; /* the reference's score_locations = [i + 3 ...] */
        if (!rc && plen < 4)
            rc = pe_fail(e, PE_EINPUT, "family rlhflow: the assistant-turn pattern encodes to %zu tokens, "
                         "expected at least 4", plen);
    }

    int64_t n_full = ids.n;
    int64_t n = (o->max_tokens > 0 && n_full > o->max_tokens) ? o->max_tokens : n_full;
    if (!rc) {
        int64_t nfull = 0, nkept = 0;
        if (f->id == PE_FAM_SKYWORK) {
            nfull = nflags;
            nkept = pe_readouts_kept(flags, nflags, n, 0);
        } else if (f->id == PE_FAM_RLHFLOW) {
            nfull = find_by_pattern(ids.p, n_full, pat, (int64_t)plen, offset, NULL);
            nkept = find_by_pattern(ids.p, n, pat, (int64_t)plen, offset, NULL);
        } else {
            nfull = find_by_id(ids.p, n_full, tag, NULL);
            nkept = find_by_id(ids.p, n, tag, NULL);
        }
        out->readout = pe_malloc((size_t)(nkept ? nkept : 1) * sizeof *out->readout, e);
        if (!out->readout)
            rc = e->code;
        else if (f->id == PE_FAM_SKYWORK)
            memcpy(out->readout, flags, (size_t)nkept * sizeof *flags);
        else if (f->id == PE_FAM_RLHFLOW)
            find_by_pattern(ids.p, n, pat, (int64_t)plen, offset, out->readout);
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

/* ---- labels -------------------------------------------------------------- */

double pe_family_threshold(const pe_family *f, const pe_family_opts *o)
{
    if (f->id == PE_FAM_SKYWORK && o->label_rule == PE_LABEL_ORIGINAL)
        return 0.5;
    return f->default_threshold;
}

/* One step's label under the family's rule; prev is r_{i-1} (unused for i = 0
 * or a rule without differences). Shared by the float (model) and double
 * (stored scores, `prmeval rescore`) entry points, so the rule lives once. */
static uint8_t label_of(int diff, int i, double prev, double cur, double threshold)
{
    double v = diff && i > 0 ? cur - prev : cur;
    return v > threshold;
}

static int uses_difference(const pe_family *f, const pe_family_opts *o)
{
    return f->id == PE_FAM_SKYWORK && o->label_rule == PE_LABEL_CURRENT;
}

void pe_family_labels(const pe_family *f, const pe_family_opts *o, double threshold, const float *r,
                      int n, uint8_t *labels)
{
    if (isnan(threshold))
        threshold = pe_family_threshold(f, o);
    int diff = uses_difference(f, o);
    /* Python: the float32 rewards become doubles (tolist), then subtract. */
    for (int i = 0; i < n; i++)
        labels[i] = label_of(diff, i, i > 0 ? (double)r[i - 1] : 0, (double)r[i], threshold);
}

void pe_family_labels_f64(const pe_family *f, const pe_family_opts *o, double threshold, const double *r,
                          int n, uint8_t *labels)
{
    if (isnan(threshold))
        threshold = pe_family_threshold(f, o);
    int diff = uses_difference(f, o);
    for (int i = 0; i < n; i++)
        labels[i] = label_of(diff, i, i > 0 ? r[i - 1] : 0, r[i], threshold);
}
