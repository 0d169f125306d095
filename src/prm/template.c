/* The template prompt builder of family files (template.h): the parts of
 * each section rendered into segments, which then go through the same token
 * stage as the built-in builders' (prompt.c). */
#include "template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The family options a part may depend on ("if"/"unless"). */
static const char *const option_names[] = {"qwen_backspace_quirk", "rlhflow_system_block", NULL};

int pe_template_option_known(const char *name)
{
    for (int i = 0; option_names[i]; i++)
        if (!strcmp(option_names[i], name))
            return 1;
    return 0;
}

static int option_value(const pe_family_opts *o, const char *name)
{
    if (!strcmp(name, "qwen_backspace_quirk"))
        return o->qwen_backspace_quirk != 0;
    return o->rlhflow_system_block != 0;
}

/* Appends tmpl with {question}, {step} and {i} replaced ("{{" and "}}" are
 * braces); the loader has checked every placeholder. */
static int render(pe_sbuf *b, const char *tmpl, const char *q, const char *step, int i, pe_err *e)
{
    int rc = PE_OK;
    for (const char *p = tmpl; !rc && *p;) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            rc = pe_sb_put(b, p, 1, e);
            p += 2;
        } else if (!strncmp(p, "{question}", 10)) {
            rc = pe_sb_str(b, q, e);
            p += 10;
        } else if (!strncmp(p, "{step}", 6)) {
            rc = pe_sb_str(b, step ? step : "", e);
            p += 6;
        } else if (!strncmp(p, "{i}", 3)) {
            char num[16];
            snprintf(num, sizeof num, "%d", i + 1);
            rc = pe_sb_str(b, num, e);
            p += 3;
        } else {
            size_t n = strcspn(p + 1, "{}") + 1;
            rc = pe_sb_put(b, p, n, e);
            p += n;
        }
    }
    return rc;
}

static int starts_with_any(const cJSON *list, const char *s)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
        if (!strncmp(s, it->valuestring, strlen(it->valuestring)))
            return 1;
    return 0;
}

/* The parts of one section; step is the cleaned step (NULL outside the step
 * section), i its index; resp non-NULL: text goes to the response that is
 * split afterwards. */
static int add_parts(const tpl_list *l, const pe_family_opts *o, const char *q, const char *step, int i,
                     pe_sbuf *resp, pe_segments *s, pe_err *e)
{
    pe_sbuf b = {0};
    int rc = PE_OK;
    for (int k = 0; !rc && k < l->n; k++) {
        const tpl_part *p = &l->p[k];
        if (p->option && option_value(o, p->option) != p->option_want)
            continue;
        if ((p->steps == TPL_FIRST && i != 0) || (p->steps == TPL_REST && i == 0))
            continue;
        if (p->unless_prefix && step && starts_with_any(p->unless_prefix, step))
            continue;
        if (p->kind == PE_SEG_BOS) {
            rc = pe_seg_add(s, PE_SEG_BOS, "", 0, 0, 0, e);
            continue;
        }
        if (p->kind != PE_SEG_TEXT) {
            rc = pe_seg_add(s, p->kind, p->text, strlen(p->text), p->separate, p->readout, e);
            continue;
        }
        b.n = 0;
        if ((rc = pe_sb_str(&b, "", e)) || (rc = render(&b, p->text, q, step, i, e)))
            break;
        const char *txt = b.p;
        size_t len = b.n;
        char *stripped = NULL;
        if (p->strip) {
            if (!(stripped = pe_py_strip(b.p, b.n, &len, e))) {
                rc = e->code;
                break;
            }
            txt = stripped;
        }
        /* An empty text adds nothing to the ids; it is kept only where a
         * read-out is expected after it (that count is the prompt's). */
        if (len || p->readout)
            rc = resp ? pe_sb_put(resp, txt, len, e) : pe_seg_add(s, PE_SEG_TEXT, txt, len, p->separate, p->readout, e);
        free(stripped);
    }
    free(b.p);
    return rc;
}

static char *remove_all(const char *s, const char *what, pe_err *e)
{
    size_t n = strlen(s), w = strlen(what), k = 0;
    char *t = pe_malloc(n + 1, e);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n;) {
        if (w && !strncmp(s + i, what, w)) {
            i += w;
            continue;
        }
        t[k++] = s[i++];
    }
    t[k] = '\0';
    return t;
}

static char *clean_step(const pe_prompt_template *t, pe_step_cleaner *clean, const char *step, pe_err *e)
{
    char *c = pe_malloc(strlen(step) + 1, e);
    if (!c)
        return NULL;
    strcpy(c, step);
    for (int k = 0; c && k < t->nclean; k++) {
        char *n = t->clean[k].op == CLEAN_STRIP          ? pe_py_strip(c, strlen(c), NULL, e)
                  : t->clean[k].op == CLEAN_STRIP_PREFIX ? pe_clean_step(clean, c, e)
                                                         : remove_all(c, t->clean[k].text, e);
        free(c);
        c = n;
    }
    return c;
}

int pe_template_segments(const pe_prompt_template *t, const pe_family_opts *o, const char *q, int nsteps,
                         char *const *steps, pe_step_cleaner *clean, pe_segments *s, pe_err *e)
{
    pe_sbuf resp = {0};
    pe_sbuf *r = t->split_on ? &resp : NULL;
    int rc = add_parts(&t->before, o, q, NULL, -1, NULL, s, e);
    for (int i = 0; !rc && i < nsteps; i++) {
        char *c = clean_step(t, clean, steps[i], e);
        if (!c)
            rc = e->code;
        else
            rc = add_parts(&t->step, o, q, c, i, r, s, e);
        free(c);
    }
    if (!rc && r)
        rc = pe_seg_split_on_tag(s, resp.p ? resp.p : "", t->split_on, e);
    if (!rc)
        rc = add_parts(&t->after, o, q, NULL, -1, NULL, s, e);
    free(resp.p);
    return rc;
}
