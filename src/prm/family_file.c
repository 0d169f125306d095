/* Family files: JSON -> pe_family (family_file.h, docs/families.md "Write
 * your own"); the prompt builder it fills is template.c. Every value is checked
 * where it is read, and an error names the file and the key path, so that a
 * wrong file is refused before a run, never run one way silently. */
#include "family_file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

enum { MAX_PARTS = 256, MAX_ARCH = 32, MAX_TEXT = 65536 };

struct pe_family_file {
    cJSON *root;              /* every string of the family points into it */
    pe_family f;
    pe_prompt_template t;
    const char *arch[MAX_ARCH + 1];
};

/* ---- the loader ------------------------------------------------------------ */

typedef struct ld {
    const char *file;
    pe_err *e;
} ld;

static int bad(ld *L, const char *key, const char *fmt, const char *a)
{
    char why[1024];
    snprintf(why, sizeof why, fmt, a ? a : "");
    return pe_fail(L->e, PE_EINPUT, "%s: key \"%s\": %s", L->file, key, why);
}

/* "a|b|c" -> "a, b, c" into buf. */
static const char *listed_names(const char *choices, char *buf, size_t n)
{
    size_t k = 0;
    for (const char *p = choices; *p && k + 3 < n; p++) {
        if (*p == '|') {
            buf[k++] = ',';
            buf[k++] = ' ';
        } else {
            buf[k++] = *p;
        }
    }
    buf[k] = '\0';
    return buf;
}

/* Every member of obj must be one of the names in allowed ("a|b|c"), and
 * none may appear twice. */
static int only_keys(ld *L, const cJSON *obj, const char *path, const char *allowed)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        char key[256];
        snprintf(key, sizeof key, "%s%s%s", path, *path ? "." : "", it->string);
        size_t n = strlen(it->string);
        int ok = 0;
        for (const char *p = allowed; *p && !ok;) {
            const char *bar = strchr(p, '|');
            size_t l = bar ? (size_t)(bar - p) : strlen(p);
            ok = l == n && !strncmp(p, it->string, n);
            p += l + (bar ? 1 : 0);
        }
        if (!ok) {
            char names[300];
            return bad(L, key, "unknown key; expected one of: %s", listed_names(allowed, names, sizeof names));
        }
        for (const cJSON *p = obj->child; p != it; p = p->next)
            if (!strcmp(p->string, it->string))
                return bad(L, key, "appears twice", NULL);
    }
    return PE_OK;
}

static const cJSON *member(const cJSON *obj, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(obj, name);
}

/* A string member: required (PE_EINPUT when absent), or *out NULL when absent
 * and not required. Non-empty, at most MAX_TEXT bytes, no NUL. */
static int get_str(ld *L, const cJSON *obj, const char *path, const char *name, int required, const char **out)
{
    char key[256];
    snprintf(key, sizeof key, "%s%s%s", path, *path ? "." : "", name);
    const cJSON *v = member(obj, name);
    *out = NULL;
    if (!v)
        return required ? bad(L, key, "is required", NULL) : PE_OK;
    if (!cJSON_IsString(v) || !v->valuestring)
        return bad(L, key, "expected a string", NULL);
    if (!v->valuestring[0])
        return bad(L, key, "must not be empty", NULL);
    if (strlen(v->valuestring) > MAX_TEXT)
        return bad(L, key, "is longer than 65536 bytes", NULL);
    *out = v->valuestring;
    return PE_OK;
}

static int get_bool(ld *L, const cJSON *obj, const char *path, const char *name, int *out)
{
    char key[256];
    snprintf(key, sizeof key, "%s%s%s", path, *path ? "." : "", name);
    const cJSON *v = member(obj, name);
    if (!v)
        return PE_OK; /* the caller's default */
    if (!cJSON_IsBool(v))
        return bad(L, key, "expected true or false", NULL);
    *out = cJSON_IsTrue(v);
    return PE_OK;
}

/* An integer member in [lo, hi]; absent: *out unchanged unless required. */
static int get_int(ld *L, const cJSON *obj, const char *path, const char *name, int required, int lo, int hi,
                   int *out)
{
    char key[256], range[64];
    snprintf(key, sizeof key, "%s%s%s", path, *path ? "." : "", name);
    snprintf(range, sizeof range, "expected an integer in %d..%d", lo, hi);
    const cJSON *v = member(obj, name);
    if (!v)
        return required ? bad(L, key, "is required (%s)", range) : PE_OK;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < lo || v->valuedouble > hi)
        return bad(L, key, "%s", range);
    *out = (int)v->valuedouble;
    return PE_OK;
}

static int get_num(ld *L, const cJSON *obj, const char *path, const char *name, double *out)
{
    char key[256];
    snprintf(key, sizeof key, "%s%s%s", path, *path ? "." : "", name);
    const cJSON *v = member(obj, name);
    if (!v)
        return bad(L, key, "is required (a number)", NULL);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return bad(L, key, "expected a finite number", NULL);
    *out = v->valuedouble;
    return PE_OK;
}

/* One of the names in choices ("a|b|c"), as its index; absent: *out unchanged. */
static int get_choice(ld *L, const cJSON *obj, const char *path, const char *name, int required,
                      const char *choices, int *out)
{
    char key[256];
    snprintf(key, sizeof key, "%s%s%s", path, *path ? "." : "", name);
    const char *v;
    int rc = get_str(L, obj, path, name, required, &v);
    if (rc || !v)
        return rc;
    int i = 0;
    size_t n = strlen(v);
    for (const char *p = choices; *p; i++) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p);
        if (l == n && !strncmp(p, v, n)) {
            *out = i;
            return PE_OK;
        }
        p += l + (bar ? 1 : 0);
    }
    char why[520], names[300];
    snprintf(why, sizeof why, "\"%.100s\" is not one of %s", v, listed_names(choices, names, sizeof names));
    return bad(L, key, "%s", why);
}

/* Placeholders a text may hold in a section ({step} and {i}: the step section only). */
static int check_placeholders(ld *L, const char *key, const char *t, int in_step)
{
    for (const char *p = t; *p; p++) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            p++;
            continue;
        }
        if (*p == '}')
            return bad(L, key, "a lone '}' (write \"}}\" for a brace)", NULL);
        if (*p != '{')
            continue;
        if (!strncmp(p, "{question}", 10)) {
            p += 9;
            continue;
        }
        if (in_step && !strncmp(p, "{step}", 6)) {
            p += 5;
            continue;
        }
        if (in_step && !strncmp(p, "{i}", 3)) {
            p += 2;
            continue;
        }
        char shown[40];
        snprintf(shown, sizeof shown, "%.30s", p);
        char *end = strchr(shown, '}');
        if (end)
            end[1] = '\0';
        return bad(L, key,
                   in_step ? "unknown placeholder \"%s\" (expected {question}, {step}, {i}; \"{{\" for a brace)"
                           : "unknown placeholder \"%s\" (expected {question} here: {step} and {i} only in prompt.step; "
                             "\"{{\" for a brace)",
                   shown);
    }
    return PE_OK;
}

static int load_part(ld *L, const cJSON *v, const char *key, int in_step, tpl_part *p)
{
    memset(p, 0, sizeof *p);
    if (!cJSON_IsObject(v))
        return bad(L, key, "expected an object such as {\"text\": \"...\"}", NULL);
    int rc = only_keys(L, v, key, "text|special|last_id|bos|separate|readout|strip|steps|if|unless|"
                                  "unless_step_starts_with");
    const char *text = NULL, *special = NULL, *last = NULL;
    int bos = 0, nkind = 0;
    if (!rc) rc = get_str(L, v, key, "text", 0, &text);
    if (!rc) rc = get_str(L, v, key, "special", 0, &special);
    if (!rc) rc = get_str(L, v, key, "last_id", 0, &last);
    if (!rc) rc = get_bool(L, v, key, "bos", &bos);
    if (rc)
        return rc;
    nkind = !!text + !!special + !!last + !!member(v, "bos");
    if (nkind != 1)
        return bad(L, key, "a part is exactly one of \"text\", \"special\", \"last_id\" or \"bos\"", NULL);
    if (member(v, "bos") && !bos)
        return bad(L, key, "\"bos\" is only ever true", NULL);
    p->kind = text ? PE_SEG_TEXT : special ? PE_SEG_SPECIAL : last ? PE_SEG_LAST_ID : PE_SEG_BOS;
    p->text = text ? text : special ? special : last;
    char sub[300];
    if ((rc = get_bool(L, v, key, "separate", &p->separate)) || (rc = get_bool(L, v, key, "readout", &p->readout)) ||
        (rc = get_bool(L, v, key, "strip", &p->strip)))
        return rc;
    if (p->kind == PE_SEG_LAST_ID)
        p->separate = 1; /* the id is put in on its own */
    if (p->kind == PE_SEG_BOS && (p->readout || p->separate || p->strip)) {
        snprintf(sub, sizeof sub, "%s.bos", key);
        return bad(L, sub, "a BOS part takes no \"readout\", \"separate\" or \"strip\"", NULL);
    }
    if (p->strip && p->kind != PE_SEG_TEXT) {
        snprintf(sub, sizeof sub, "%s.strip", key);
        return bad(L, sub, "only a \"text\" part can be stripped", NULL);
    }
    if (text) {
        snprintf(sub, sizeof sub, "%s.text", key);
        if ((rc = check_placeholders(L, sub, text, in_step)))
            return rc;
    }
    int steps = TPL_ALL;
    if ((rc = get_choice(L, v, key, "steps", 0, "all|first|rest", &steps)))
        return rc;
    p->steps = steps;
    if (member(v, "steps") && !in_step) {
        snprintf(sub, sizeof sub, "%s.steps", key);
        return bad(L, sub, "only parts of prompt.step choose steps", NULL);
    }
    const char *opt_if = NULL, *opt_unless = NULL;
    if ((rc = get_str(L, v, key, "if", 0, &opt_if)) || (rc = get_str(L, v, key, "unless", 0, &opt_unless)))
        return rc;
    if (opt_if && opt_unless) {
        snprintf(sub, sizeof sub, "%s.unless", key);
        return bad(L, sub, "a part has \"if\" or \"unless\", not both", NULL);
    }
    p->option = opt_if ? opt_if : opt_unless;
    p->option_want = opt_if != NULL;
    if (p->option) {
        int known = pe_template_option_known(p->option);
        snprintf(sub, sizeof sub, "%s.%s", key, opt_if ? "if" : "unless");
        if (!known)
            return bad(L, sub, "\"%s\" is not an option (qwen_backspace_quirk, rlhflow_system_block)", p->option);
    }
    const cJSON *u = member(v, "unless_step_starts_with");
    if (u) {
        snprintf(sub, sizeof sub, "%s.unless_step_starts_with", key);
        if (!in_step)
            return bad(L, sub, "only parts of prompt.step look at the step", NULL);
        if (!cJSON_IsArray(u) || !u->child || cJSON_GetArraySize(u) > 64)
            return bad(L, sub, "expected a list of 1..64 non-empty strings", NULL);
        const cJSON *it;
        cJSON_ArrayForEach(it, u)
            if (!cJSON_IsString(it) || !it->valuestring || !it->valuestring[0])
                return bad(L, sub, "expected a list of 1..64 non-empty strings", NULL);
        p->unless_prefix = u;
    }
    return PE_OK;
}

static int load_parts(ld *L, const cJSON *prompt, const char *name, int in_step, tpl_list *out)
{
    char key[64];
    snprintf(key, sizeof key, "prompt.%s", name);
    const cJSON *a = member(prompt, name);
    out->p = NULL;
    out->n = 0;
    if (!a)
        return in_step ? bad(L, key, "is required (the parts of each step)", NULL) : PE_OK;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > MAX_PARTS)
        return bad(L, key, "expected a list of at most 256 parts", NULL);
    int n = cJSON_GetArraySize(a);
    if (!(out->p = pe_calloc((size_t)n + 1, sizeof *out->p, L->e)))
        return L->e->code;
    const cJSON *it;
    int i = 0, rc = PE_OK;
    cJSON_ArrayForEach(it, a) {
        char pk[80];
        snprintf(pk, sizeof pk, "%s[%d]", key, i);
        if ((rc = load_part(L, it, pk, in_step, &out->p[i])))
            return rc;
        out->n = ++i;
    }
    return PE_OK;
}

static int load_clean(ld *L, const cJSON *prompt, pe_prompt_template *t)
{
    const cJSON *a = member(prompt, "step_clean");
    if (!a)
        return PE_OK;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > TPL_MAX_CLEAN)
        return bad(L, "prompt.step_clean", "expected a list of at most 8 operations", NULL);
    const cJSON *it;
    int i = 0;
    cJSON_ArrayForEach(it, a) {
        char key[64];
        snprintf(key, sizeof key, "prompt.step_clean[%d]", i);
        if (cJSON_IsString(it) && it->valuestring && !strcmp(it->valuestring, "strip"))
            t->clean[i].op = CLEAN_STRIP;
        else if (cJSON_IsString(it) && it->valuestring && !strcmp(it->valuestring, "strip_prefix"))
            t->clean[i].op = CLEAN_STRIP_PREFIX;
        else if (cJSON_IsObject(it)) {
            int rc = only_keys(L, it, key, "remove");
            if (!rc)
                rc = get_str(L, it, key, "remove", 1, &t->clean[i].text);
            if (rc)
                return rc;
            t->clean[i].op = CLEAN_REMOVE;
        } else
            return bad(L, key, "expected \"strip\", \"strip_prefix\" or {\"remove\": \"text\"}", NULL);
        t->nclean = ++i;
    }
    return PE_OK;
}

static int load_prompt(ld *L, const cJSON *root, pe_family_file *ff)
{
    const cJSON *pr = member(root, "prompt");
    if (!pr)
        return bad(L, "prompt", "is required", NULL);
    if (!cJSON_IsObject(pr))
        return bad(L, "prompt", "expected an object", NULL);
    pe_prompt_template *t = &ff->t;
    int rc = only_keys(L, pr, "prompt", "step_clean|before|step|after|split_steps_on");
    if (!rc) rc = load_clean(L, pr, t);
    if (!rc) rc = load_parts(L, pr, "before", 0, &t->before);
    if (!rc) rc = load_parts(L, pr, "step", 1, &t->step);
    if (!rc) rc = load_parts(L, pr, "after", 0, &t->after);
    if (!rc) rc = get_str(L, pr, "prompt", "split_steps_on", 0, &t->split_on);
    if (rc)
        return rc;
    int nread = 0;
    const tpl_list *sec[3] = {&t->before, &t->step, &t->after};
    for (int s = 0; s < 3; s++)
        for (int k = 0; k < sec[s]->n; k++) {
            nread += sec[s]->p[k].readout;
            if (t->split_on && s == 1 && (sec[s]->p[k].kind != PE_SEG_TEXT || sec[s]->p[k].readout ||
                                          sec[s]->p[k].separate)) {
                char key[80];
                snprintf(key, sizeof key, "prompt.step[%d]", k);
                return bad(L, key, "with split_steps_on the steps are text parts that are neither read nor "
                                   "separate (the split decides both)", NULL);
            }
            if (ff->f.readout.kind == PE_RO_MARKED && sec[s]->p[k].readout && !sec[s]->p[k].separate) {
                char key[80];
                snprintf(key, sizeof key, "prompt.%s[%d]", s == 0 ? "before" : s == 1 ? "step" : "after", k);
                return bad(L, key, "the \"appended\" read-out reads a part's own last id: a part with "
                                   "\"readout\": true must be \"separate\": true", NULL);
            }
        }
    if (!nread && !t->split_on)
        return bad(L, "prompt", "no part has \"readout\": true (where the family expects each step's read-out)", NULL);
    ff->f.template = t;
    return PE_OK;
}

static int load_readout(ld *L, const cJSON *root, pe_family *f)
{
    const cJSON *r = member(root, "readout");
    if (!r)
        return bad(L, "readout", "is required", NULL);
    if (!cJSON_IsObject(r))
        return bad(L, "readout", "expected an object", NULL);
    int rc = only_keys(L, r, "readout", "rule|text|offset|separator");
    int kind = 0;
    static const pe_readout_kind kinds[] = {PE_RO_SPECIAL_ID, PE_RO_LAST_ID, PE_RO_PATTERN, PE_RO_MARKED,
                                            PE_RO_SEP_REMOVED, PE_RO_AFTER_MARKER};
    if (!rc)
        rc = get_choice(L, r, "readout", "rule", 1,
                        "added_token|last_id|pattern|appended|separator_removed|after_marker", &kind);
    if (rc)
        return rc;
    f->readout.kind = kinds[kind];
    int wants_text = f->readout.kind != PE_RO_MARKED;
    if ((rc = get_str(L, r, "readout", "text", wants_text, &f->readout.text)))
        return rc;
    if (!wants_text && f->readout.text)
        return bad(L, "readout.text", "the \"appended\" rule reads the parts marked \"readout\" and takes no text",
                   NULL);
    int takes_offset = f->readout.kind == PE_RO_PATTERN || f->readout.kind == PE_RO_SEP_REMOVED;
    if (member(r, "offset") && !takes_offset)
        return bad(L, "readout.offset", "only the \"pattern\" and \"separator_removed\" rules take an offset", NULL);
    if ((rc = get_int(L, r, "readout", "offset", 0, f->readout.kind == PE_RO_PATTERN ? 0 : -1,
                      f->readout.kind == PE_RO_PATTERN ? 4096 : 0, &f->readout.offset)))
        return rc;
    int is_after = f->readout.kind == PE_RO_AFTER_MARKER;
    if ((rc = get_str(L, r, "readout", "separator", is_after, &f->readout.text2)))
        return rc;
    if (!is_after && f->readout.text2)
        return bad(L, "readout.separator", "only the \"after_marker\" rule takes a separator", NULL);
    return PE_OK;
}

static int load_head(ld *L, const cJSON *root, pe_family *f)
{
    const cJSON *h = member(root, "head");
    if (!h)
        return bad(L, "head", "is required", NULL);
    if (!cJSON_IsObject(h))
        return bad(L, "head", "expected an object", NULL);
    pe_head_desc *d = &f->head;
    int rows = 0, read = 0;
    int rc = only_keys(L, h, "head", "rows|read|nrows|pick|weight|bias|hidden_weight|hidden_bias|tokens");
    if (!rc) rc = get_choice(L, h, "head", "rows", 1, "tensor|lm_tokens|lm_mean|lm_full", &rows);
    if (!rc)
        rc = get_choice(L, h, "head", "read", 1, "softmax_pick|sigmoid|raw|softmax_diff|vocab_prob|validity_redundancy",
                        &read);
    if (rc)
        return rc;
    d->rows = (pe_head_rows)(PE_ROWS_TENSOR + rows);
    d->read = (pe_head_read)(PE_READ_SOFTMAX_PICK + read);
    d->nrows = 1;
    d->nout = d->read == PE_READ_VALIDITY_REDUNDANCY ? 2 : 1;
    if (!rc) rc = get_int(L, h, "head", "nrows", 0, 1, PE_HEAD_MAX_ROWS, &d->nrows);
    if (!rc) rc = get_int(L, h, "head", "pick", 0, 0, PE_HEAD_MAX_ROWS - 1, &d->pick);
    if (!rc && member(h, "pick") && d->read != PE_READ_SOFTMAX_PICK)
        return bad(L, "head.pick", "only the \"softmax_pick\" read picks a class", NULL);
    if (!rc) rc = get_str(L, h, "head", "weight", 0, &d->w);
    if (!rc) rc = get_str(L, h, "head", "bias", 0, &d->b);
    if (!rc) rc = get_str(L, h, "head", "hidden_weight", 0, &d->mlp_w);
    if (!rc) rc = get_str(L, h, "head", "hidden_bias", 0, &d->mlp_b);
    if (!rc) rc = get_str(L, h, "head", "tokens", 0, &d->tokens);
    if (rc)
        return rc;
    const char *why = pe_head_desc_problem(d);
    if (*why)
        return bad(L, "head", "%s", why);
    return PE_OK;
}

static int load_rule(ld *L, const cJSON *labels, const char *name, pe_label_desc *r)
{
    char key[64];
    snprintf(key, sizeof key, "labels.%s", name);
    const cJSON *v = member(labels, name);
    if (!v)
        return PE_OK;
    if (!cJSON_IsObject(v))
        return bad(L, key, "expected an object such as {\"threshold\": 0.5}", NULL);
    int rc = only_keys(L, v, key, "threshold|difference|redundancy_threshold");
    if (!rc) rc = get_num(L, v, key, "threshold", &r->threshold);
    if (!rc) rc = get_bool(L, v, key, "difference", &r->difference);
    if (!rc && member(v, "redundancy_threshold")) {
        r->redundancy = 1;
        rc = get_num(L, v, key, "redundancy_threshold", &r->redundancy_threshold);
    }
    r->defined = 1;
    return rc;
}

static int load_labels(ld *L, const cJSON *root, pe_family *f)
{
    const cJSON *l = member(root, "labels");
    if (!l)
        return bad(L, "labels", "is required ({\"current\": {\"threshold\": ...}})", NULL);
    if (!cJSON_IsObject(l))
        return bad(L, "labels", "expected an object", NULL);
    int rc = only_keys(L, l, "labels", "current|original");
    if (!rc && !member(l, "current"))
        return bad(L, "labels.current", "is required (the default rule)", NULL);
    if (!rc) rc = load_rule(L, l, "current", &f->labels[PE_LABEL_CURRENT]);
    if (!rc) rc = load_rule(L, l, "original", &f->labels[PE_LABEL_ORIGINAL]);
    for (int r = 0; !rc && r < 2; r++)
        if (f->labels[r].redundancy && f->head.nout < 2)
            return bad(L, r ? "labels.original.redundancy_threshold" : "labels.current.redundancy_threshold",
                       "a redundancy rule needs a head with two rewards (read \"validity_redundancy\")", NULL);
    return rc;
}

static int load_arch(ld *L, const cJSON *root, pe_family_file *ff)
{
    const cJSON *a = member(root, "architectures");
    if (!a)
        return bad(L, "architectures", "is required (config.json architectures[0] values the family runs on)", NULL);
    if (!cJSON_IsArray(a) || !a->child || cJSON_GetArraySize(a) > MAX_ARCH)
        return bad(L, "architectures", "expected a list of 1..32 non-empty strings", NULL);
    const cJSON *it;
    int i = 0;
    cJSON_ArrayForEach(it, a) {
        if (!cJSON_IsString(it) || !it->valuestring || !it->valuestring[0] || strlen(it->valuestring) > 200)
            return bad(L, "architectures", "expected a list of 1..32 non-empty strings", NULL);
        ff->arch[i++] = it->valuestring;
    }
    ff->arch[i] = NULL;
    ff->f.architectures = ff->arch;
    ff->f.auto_architectures = NULL; /* a file family is always named */
    return PE_OK;
}

static int load_family(ld *L, pe_family_file *ff)
{
    const cJSON *root = ff->root;
    pe_family *f = &ff->f;
    if (!cJSON_IsObject(root))
        return pe_fail(L->e, PE_EINPUT, "%s: a family file is one JSON object ({\"prmeval_family\": 1, ...})",
                       L->file);
    int rc = only_keys(L, root, "", "prmeval_family|name|checkpoint|architectures|bos|no_readout_invalid|reference_bf16|prompt|"
                                    "readout|head|labels|description");
    int version = 0;
    if (!rc) rc = get_int(L, root, "", "prmeval_family", 1, 1, 1000000, &version);
    if (!rc && version != PE_FAMILY_FILE_VERSION)
        return bad(L, "prmeval_family", "this prmeval reads version 1 family files", NULL);
    const char *desc;
    if (!rc) rc = get_str(L, root, "", "description", 0, &desc);
    if (!rc) rc = get_str(L, root, "", "name", 1, &f->name);
    if (!rc) {
        for (const char *p = f->name; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                  strchr("-_.+", *p)) || p - f->name >= 64)
                return bad(L, "name", "expected 1..64 letters, digits or \"-_.+\"", NULL);
    }
    if (!rc) rc = get_str(L, root, "", "checkpoint", 0, &f->checkpoint);
    if (!rc && !f->checkpoint)
        f->checkpoint = L->file;
    if (!rc) rc = load_arch(L, root, ff);
    int bos = 0;
    if (!rc) rc = get_choice(L, root, "", "bos", 0, "tokenizer|token_text", &bos);
    f->bos = bos ? PE_BOS_TOKEN_TEXT : PE_BOS_TOKENIZER;
    if (!rc) rc = get_bool(L, root, "", "no_readout_invalid", &f->no_readout_invalid);
    if (!rc) rc = get_bool(L, root, "", "reference_bf16", &f->reference_bf16);
    if (!rc) rc = load_readout(L, root, f); /* before the prompt: its checks depend on the rule */
    if (!rc) rc = load_prompt(L, root, ff);
    if (!rc) rc = load_head(L, root, f);
    if (!rc) rc = load_labels(L, root, f);
    if (rc)
        return rc;
    f->from_file = 1;
    const char *p = pe_family_problem(f);
    if (*p) /* the registry's check: whatever the keys above let through */
        return pe_fail(L->e, PE_EINPUT, "%s: family %s: field %s is missing or inconsistent", L->file, f->name, p);
    return PE_OK;
}

int pe_family_file_from_json(cJSON *root, const char *name, pe_family_file **out, pe_err *e)
{
    *out = NULL;
    pe_family_file *ff = pe_calloc(1, sizeof *ff, e);
    if (!ff) {
        cJSON_Delete(root);
        return e->code;
    }
    ff->root = root;
    ld L = {name, e};
    int rc = load_family(&L, ff);
    if (rc) {
        pe_family_file_free(ff);
        return rc;
    }
    *out = ff;
    return PE_OK;
}

const pe_family *pe_family_file_family(const pe_family_file *ff) { return &ff->f; }

void pe_family_file_free(pe_family_file *ff)
{
    if (!ff)
        return;
    free(ff->t.before.p);
    free(ff->t.step.p);
    free(ff->t.after.p);
    cJSON_Delete(ff->root);
    free(ff);
}
