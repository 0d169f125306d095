/* The registry: the only list of PRM families. Adding a family is one file
 * (src/prm/<family>.c with its descriptor) and one row below. */
#include "prm.h"

#include <stdio.h>
#include <string.h>

extern const pe_family pe_prm_qwen_prm, pe_prm_math_shepherd, pe_prm_rlhflow, pe_prm_skywork;
extern const pe_family pe_prm_reasoneval_7b, pe_prm_reasoneval_34b, pe_prm_math_minos, pe_prm_pure_prm;
extern const pe_family pe_prm_llemma_prm;

static const pe_family *const registry[] = {
    &pe_prm_qwen_prm,
    &pe_prm_math_shepherd,
    &pe_prm_rlhflow,
    &pe_prm_skywork,
    &pe_prm_reasoneval_7b,
    &pe_prm_reasoneval_34b,
    &pe_prm_math_minos,
    &pe_prm_pure_prm,
    &pe_prm_llemma_prm,
};
enum { NFAMILIES = sizeof registry / sizeof registry[0] };

int pe_family_count(void) { return NFAMILIES; }

const pe_family *pe_family_at(int i) { return i >= 0 && i < NFAMILIES ? registry[i] : NULL; }

const pe_family *pe_family_by_name(const char *name)
{
    for (int i = 0; name && i < NFAMILIES; i++)
        if (!strcmp(registry[i]->name, name))
            return registry[i];
    return NULL;
}

const char *pe_family_names(void)
{
    static char names[512];
    if (!names[0])
        for (int i = 0; i < NFAMILIES; i++) {
            strncat(names, i ? ", " : "", sizeof names - strlen(names) - 1);
            strncat(names, registry[i]->name, sizeof names - strlen(names) - 1);
        }
    return names;
}

static int listed(const char *const *list, const char *s)
{
    for (int i = 0; list && s && list[i]; i++)
        if (!strcmp(list[i], s))
            return 1;
    return 0;
}

const char *pe_family_problem(const pe_family *f)
{
    if (!f->name || !*f->name) return "name";
    if (!f->checkpoint) return "checkpoint";
    if (!f->architectures || !f->architectures[0]) return "architectures";
    for (int i = 0; f->auto_architectures && f->auto_architectures[i]; i++)
        if (!listed(f->architectures, f->auto_architectures[i]))
            return "auto_architectures (each must be one of architectures)";
    if (f->vocab_min < 0 || (f->vocab_max && f->vocab_max < f->vocab_min)) return "vocab_min/vocab_max";
    if (!f->prompt == !f->template) return "prompt"; /* a builder or a template, exactly one */
    switch (f->readout.kind) {
    case PE_RO_SPECIAL_ID:
    case PE_RO_LAST_ID:
    case PE_RO_PATTERN:
    case PE_RO_SEP_REMOVED:
    case PE_RO_AFTER_MARKER:
        if (!f->readout.text || !*f->readout.text) return "readout.text";
        if ((f->readout.kind == PE_RO_AFTER_MARKER) != (f->readout.text2 != NULL)) return "readout.text2";
        if (f->readout.kind != PE_RO_PATTERN && f->readout.kind != PE_RO_SEP_REMOVED && f->readout.offset)
            return "readout.offset (patterns and separators only)";
        break;
    case PE_RO_MARKED:
        if (f->readout.text) return "readout.text (a marked read-out has none)";
        break;
    default:
        return "readout.kind";
    }
    if (*pe_head_desc_problem(&f->head)) return "head";
    if (!f->labels[PE_LABEL_CURRENT].defined) return "labels[PE_LABEL_CURRENT]";
    for (int r = 0; r < 2; r++)
        if (f->labels[r].redundancy && f->head.nout < 2)
            return "labels (a redundancy rule needs a head with two rewards)";
    if (f->bos != PE_BOS_TOKENIZER && f->bos != PE_BOS_TOKEN_TEXT) return "bos";
    if (f->from_file)
        return ""; /* a family file has no tiny-model recipe */
    const pe_tiny_recipe *t = &f->tiny;
    if (!listed(f->architectures, t->architecture)) return "tiny.architecture (must be one of architectures)";
    if (!t->model_type) return "tiny.model_type";
    if (t->tokenizer < PE_TINY_TOK_QWEN2 || t->tokenizer > PE_TINY_TOK_LLAMA3) return "tiny.tokenizer";
    if (!(t->rope_theta > 0) || !(t->rms_norm_eps > 0) || t->max_pos <= 0)
        return "tiny.rope_theta/rms_norm_eps/max_pos";
    if ((f->head.rows != PE_ROWS_TENSOR) && !t->lm_head && !t->tie_embeddings)
        return "tiny.lm_head (an LM-head family needs an LM head)";
    return "";
}

int pe_family_registry_check(pe_err *e)
{
    for (int i = 0; i < NFAMILIES; i++) {
        const pe_family *f = registry[i];
        const char *p = pe_family_problem(f);
        if (*p) {
            const char *hp = pe_head_desc_problem(&f->head);
            return pe_fail(e, PE_EGENERIC, "PRM family %s (registry row %d): field %s is missing or inconsistent%s%s",
                           f->name ? f->name : "(unnamed)", i, p, *hp ? ": " : "", hp);
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(registry[j]->name, f->name))
                return pe_fail(e, PE_EGENERIC, "PRM family %s is registered twice (rows %d and %d)", f->name, j, i);
    }
    return PE_OK;
}

/* Does the checkpoint hold the family's head tensors in its shape? Only the
 * weight's row count tells heads apart whose tensors share a name. */
static int head_fits(const pe_family *f, const pe_ckpt_facts *ck)
{
    if (!ck->tensor_rows)
        return 1;
    const pe_head_desc *h = &f->head;
    if (h->rows == PE_ROWS_TENSOR)
        return ck->tensor_rows(ck->ctx, h->w) == h->nrows && (!h->mlp_w || ck->tensor_rows(ck->ctx, h->mlp_w) > 0);
    return 1;
}

static int vocab_fits(const pe_family *f, const pe_ckpt_facts *ck)
{
    if (ck->vocab_size < 0)
        return 1;
    return (!f->vocab_min || ck->vocab_size >= f->vocab_min) && (!f->vocab_max || ck->vocab_size <= f->vocab_max);
}

static void cat(char *buf, size_t n, const char *sep, const char *s)
{
    strncat(buf, sep, n - strlen(buf) - 1);
    strncat(buf, s, n - strlen(buf) - 1);
}

int pe_family_resolve_ckpt(const pe_ckpt_facts *ck, const char *family_name, const pe_family **out, pe_err *e)
{
    *out = NULL;
    if (pe_family_registry_check(e))
        return e->code;
    const char *arch = ck->architectures0 ? ck->architectures0 : "";
    if (!family_name || !*family_name || !strcmp(family_name, "auto")) {
        const pe_family *found[NFAMILIES];
        int n = 0;
        for (int i = 0; i < NFAMILIES; i++)
            if (listed(registry[i]->auto_architectures, arch) && vocab_fits(registry[i], ck) &&
                head_fits(registry[i], ck))
                found[n++] = registry[i];
        if (n == 1) {
            *out = found[0];
            return PE_OK;
        }
        if (n == 0)
            return pe_fail(e, PE_EUSAGE,
                           "family \"auto\": config.json architectures \"%s\" does not say which PRM "
                           "family this is; set \"family\" to one of: %s",
                           arch, pe_family_names());
        char names[256] = "";
        for (int i = 0; i < n; i++)
            cat(names, sizeof names, i ? ", " : "", found[i]->name);
        return pe_fail(e, PE_EUSAGE,
                       "family \"auto\": the checkpoint (architectures \"%s\", vocabulary %d) fits several "
                       "PRM families: %s; set \"family\" to the one it is",
                       arch, ck->vocab_size, names);
    }
    const pe_family *f = pe_family_by_name(family_name);
    if (!f)
        return pe_fail(e, PE_EUSAGE, "unknown family \"%s\"; expected one of: auto, %s, or a family file (a path "
                       "containing '/' or ending in .json)", family_name, pe_family_names());
    int rc = pe_family_accepts(f, ck, family_name, e);
    if (rc == PE_OK)
        *out = f;
    return rc;
}

int pe_family_value_is_file(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    return n && (strchr(v, '/') || (n >= 5 && !strcmp(v + n - 5, ".json")));
}

int pe_family_accepts(const pe_family *f, const pe_ckpt_facts *ck, const char *shown, pe_err *e)
{
    const char *arch = ck->architectures0 ? ck->architectures0 : "";
    if (listed(f->architectures, arch))
        return PE_OK;
    char want[256] = "";
    for (int i = 0; f->architectures[i]; i++)
        cat(want, sizeof want, i ? " or " : "", f->architectures[i]);
    return pe_fail(e, PE_EUSAGE,
                   "family \"%s\" does not match the checkpoint: config.json architectures is \"%s\", "
                   "family %s expects %s (e.g. %s)",
                   shown, arch, f->name, want, f->checkpoint);
}

int pe_family_resolve(const char *architectures0, const char *family_name, const pe_family **out, pe_err *e)
{
    pe_ckpt_facts ck = {architectures0, -1, NULL, NULL};
    return pe_family_resolve_ckpt(&ck, family_name, out, e);
}
