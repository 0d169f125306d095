#include "predictions.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <omp.h>

#include "../core/strmap.h"
#include "jsonl.h"

const char *pe_format_name(int format)
{
    return format == PE_FMT_REFERENCE ? "reference"
           : format == PE_FMT_NATIVE  ? "native"
           : format == PE_FMT_CRITIC  ? "critic"
                                      : "auto";
}

static void pred_free(pe_pred *p)
{
    free(p->key);
    free(p->labels);
    free(p->scores);
    free(p->red);
    free(p->model);
}

void pe_predictions_free(pe_predictions *P)
{
    for (int64_t k = 0; k < P->n; k++)
        pred_free(&P->p[k]);
    free(P->p);
    free(P->path);
    free(P->model_name);
    memset(P, 0, sizeof *P);
}

/* Field names of the two formats. */
typedef struct {
    const char *key, *labels, *scores, *red;
    int nested;  /* reference: labels and scores live in a "scores" object */
} fmt_fields;

static const fmt_fields fmt_reference = {"idx", "step_level_validity_labels", "step_level_validity_scores",
                                         "step_level_redundancy_labels", 1};
static const fmt_fields fmt_native = {"key", "step_labels", "step_scores", "redundancy_labels", 0};

#define FAIL(...) do { snprintf(msg, msgsize, __VA_ARGS__); return -1; } while (0)

/* Bools, or the ints 0 and 1 (as the reference's Python accepts them).
 * `in` prefixes field names in messages ("results." in critic files). */
static int get_labels(const cJSON *a, const char *in, const char *field, int32_t *n, uint8_t **out, const char *path,
                      int line, char *msg, size_t msgsize)
{
    if (!cJSON_IsArray(a))
        FAIL("%s:%d: \"%s%s\" must be an array of booleans (or 0/1)", path, line, in, field);
    int cnt = cJSON_GetArraySize(a);
    if (cnt > PE_PRED_MAX_STEPS)
        FAIL("%s:%d: \"%s%s\" has %d entries, more than the %d allowed", path, line, in, field, cnt,
             PE_PRED_MAX_STEPS);
    uint8_t *v = malloc(cnt ? (size_t)cnt : 1);
    if (!v)
        FAIL("%s:%d: out of memory", path, line);
    int i = 0;
    for (const cJSON *it = a->child; it; it = it->next, i++) {
        if (cJSON_IsBool(it))
            v[i] = cJSON_IsTrue(it);
        else if (cJSON_IsNumber(it) && (it->valuedouble == 0 || it->valuedouble == 1))
            v[i] = it->valuedouble == 1;
        else {
            free(v);
            FAIL("%s:%d: \"%s%s\"[%d] must be true, false, 0 or 1", path, line, in, field, i);
        }
    }
    *n = cnt;
    *out = v;
    return 0;
}

static int get_scores(const cJSON *a, const char *in, const char *field, int32_t *n, double **out, const char *path,
                      int line, char *msg, size_t msgsize)
{
    if (!cJSON_IsArray(a))
        FAIL("%s:%d: \"%s%s\" must be an array of numbers", path, line, in, field);
    int cnt = cJSON_GetArraySize(a);
    if (cnt > PE_PRED_MAX_STEPS)
        FAIL("%s:%d: \"%s%s\" has %d entries, more than the %d allowed", path, line, in, field, cnt,
             PE_PRED_MAX_STEPS);
    double *v = malloc((cnt ? (size_t)cnt : 1) * sizeof *v);
    if (!v)
        FAIL("%s:%d: out of memory", path, line);
    int i = 0;
    for (const cJSON *it = a->child; it; it = it->next, i++) {
        if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) {
            free(v);
            FAIL("%s:%d: \"%s%s\"[%d] must be a finite number", path, line, in, field, i);
        }
        v[i] = it->valuedouble;
    }
    *n = cnt;
    *out = v;
    return 0;
}

static int parse_pred(const cJSON *o, const fmt_fields *F, const char *in, pe_pred *p, const char *path, int line,
                      char *msg, size_t msgsize)
{
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, F->key);
    if (!k)
        FAIL("%s:%d: missing field \"%s%s\" (%s format)", path, line, in, F->key,
             F == &fmt_native ? "native" : in[0] ? "critic" : "reference");
    if (!cJSON_IsString(k) || !k->valuestring)
        FAIL("%s:%d: field \"%s%s\" must be a string", path, line, in, F->key);
    if (!(p->key = strdup(k->valuestring)))
        FAIL("%s:%d: out of memory", path, line);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "validity");
    if (v) {
        p->has_validity = 1;
        if (cJSON_IsBool(v))
            p->validity = (int8_t)cJSON_IsTrue(v);
        else if (cJSON_IsNumber(v))
            p->validity = v->valuedouble != 0;
        else if (cJSON_IsNull(v))
            p->validity = 0;  /* None is falsy */
        else
            FAIL("%s:%d: field \"%svalidity\" must be true, false, a number or null", path, line, in);
    }
    const cJSON *src = o;
    if (F->nested) {
        src = cJSON_GetObjectItemCaseSensitive(o, "scores");
        if (!src) {
            if (p->has_validity && !p->validity)
                return 0;  /* skipped anyway: an unparsable critic output may carry no scores */
            FAIL("%s:%d: missing field \"%sscores\"", path, line, in);
        }
        if (!cJSON_IsObject(src))
            FAIL("%s:%d: field \"%sscores\" must be an object", path, line, in);
    }
    const cJSON *a;
    if ((a = cJSON_GetObjectItemCaseSensitive(src, F->labels)) &&
        get_labels(a, in, F->labels, &p->nlabels, &p->labels, path, line, msg, msgsize))
        return -1;
    if ((a = cJSON_GetObjectItemCaseSensitive(src, F->scores)) &&
        get_scores(a, in, F->scores, &p->nscores, &p->scores, path, line, msg, msgsize))
        return -1;
    if ((a = cJSON_GetObjectItemCaseSensitive(src, F->red)) &&
        get_labels(a, in, F->red, &p->nred, &p->red, path, line, msg, msgsize))
        return -1;
    if (p->nlabels < 0 && p->nscores < 0 && !(p->has_validity && !p->validity))
        FAIL("%s:%d: neither \"%s%s\" nor \"%s%s\" is present", path, line, in, F->labels, in, F->scores);
    return 0;
}

static int get_string(const cJSON *o, const char *field, const char **out, const char *path, int line, char *msg,
                      size_t msgsize)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);
    if (!v)
        FAIL("%s:%d: missing field \"%s\" (critic format)", path, line, field);
    if (!cJSON_IsString(v) || !v->valuestring)
        FAIL("%s:%d: field \"%s\" must be a string", path, line, field);
    *out = v->valuestring;
    return 0;
}

/* One line of a file: a critic line wraps a reference-format record in
 * {"task_name", "model_name", "results"} (what the reference writes to its
 * checkpoint file, one line per sample). */
static int parse_line(const cJSON *o, int format, pe_pred *p, const char *path, int line, char *msg, size_t msgsize)
{
    p->line = line;
    p->nlabels = p->nscores = p->nred = -1;
    if (format == PE_FMT_NATIVE)
        return parse_pred(o, &fmt_native, "", p, path, line, msg, msgsize);
    if (format == PE_FMT_REFERENCE)
        return parse_pred(o, &fmt_reference, "", p, path, line, msg, msgsize);
    const char *task, *model;
    if (get_string(o, "task_name", &task, path, line, msg, msgsize) ||
        get_string(o, "model_name", &model, path, line, msg, msgsize))
        return -1;
    if (!(p->model = strdup(model)))
        FAIL("%s:%d: out of memory", path, line);
    if (strcmp(task, PE_CRITIC_TASK) != 0) {
        /* another task's record: the reference evaluates each task from its
         * own records, so it is no prediction of this one (counted, reported) */
        p->other_task = 1;
        return 0;
    }
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "results");
    if (!r)
        FAIL("%s:%d: missing field \"results\" (critic format)", path, line);
    if (!cJSON_IsObject(r))
        FAIL("%s:%d: field \"results\" must be an object", path, line);
    return parse_pred(r, &fmt_reference, "results.", p, path, line, msg, msgsize);
}

/* Critic files: one critic per file (every record's model_name the same, so
 * two critics' files concatenated are not silently mixed: the first record of
 * an idx would win whichever critic wrote it), other tasks' records dropped. */
static int critic_finish(pe_predictions *P, pe_err *e)
{
    int64_t kept = 0;
    for (int64_t k = 0; k < P->n; k++) {
        pe_pred *p = &P->p[k];
        if (!P->model_name) {
            if (!(P->model_name = pe_strdup(p->model, e)))
                return PE_ERESOURCE;
        } else if (strcmp(p->model, P->model_name) != 0) {
            return pe_fail(e, PE_EINPUT,
                           "%s:%d: model_name \"%.100s\" differs from the first record's \"%.100s\" (one critic per "
                           "file: the first record of each idx would count, whichever critic wrote it)",
                           P->path, p->line, p->model, P->model_name);
        }
        free(p->model);
        p->model = NULL;
        if (p->other_task) {
            if (!P->other_task++)
                P->other_task_line = p->line;
            pred_free(p);
            memset(p, 0, sizeof *p);  /* P is freed whole if a later line fails */
            continue;
        }
        if (kept != k) {
            P->p[kept] = *p;
            memset(p, 0, sizeof *p);
        }
        kept++;
    }
    P->n = kept;
    return PE_OK;
}

/* pe_jsonl_read_ex's check of line 1 (ctx: the format asked for): a file that
 * is not predictions fails before its other lines are indexed or parsed. */
static int first_prediction_ok(const pe_jsonl *one, const char *path, void *ctx, pe_err *e)
{
    int format = *(const int *)ctx;
    char msg[1024];
    cJSON *o = pe_jsonl_parse_object(one, 0, path, msg, sizeof msg);
    if (!o)
        return pe_fail(e, PE_EINPUT, "%s", msg);
    if (format == PE_FMT_AUTO)  /* as pe_predictions_load tells it; none: reported there, in its own words */
        format = cJSON_HasObjectItem(o, "task_name") && cJSON_HasObjectItem(o, "results") ? PE_FMT_CRITIC
                 : cJSON_HasObjectItem(o, "idx")                                            ? PE_FMT_REFERENCE
                 : cJSON_HasObjectItem(o, "key")                                            ? PE_FMT_NATIVE
                                                                                             : -1;
    if (format < 0) {
        cJSON_Delete(o);
        return PE_OK;
    }
    pe_pred p;
    memset(&p, 0, sizeof p);
    int bad = parse_line(o, format, &p, path, one->lineno[0], msg, sizeof msg);
    cJSON_Delete(o);
    pred_free(&p);
    return bad ? pe_fail(e, PE_EINPUT, "%s", msg) : PE_OK;
}

int pe_predictions_load(const char *path, int format, pe_predictions *P, pe_err *e)
{
    memset(P, 0, sizeof *P);
    pe_jsonl j;
    int rc = pe_jsonl_read_ex(path, &j, first_prediction_ok, &format, e);
    if (rc != PE_OK)
        return rc;
    char **msgs = NULL;
    if (!(P->path = pe_strdup(path, e)) || !(P->p = pe_calloc((size_t)j.nlines, sizeof *P->p, e)) ||
        !(msgs = pe_calloc((size_t)j.nlines, sizeof *msgs, e))) {
        rc = PE_ERESOURCE;
        goto done;
    }
    P->n = j.nlines;
    if (format == PE_FMT_AUTO) {
        char msg[1024];
        cJSON *o = pe_jsonl_parse_object(&j, 0, path, msg, sizeof msg);
        if (!o) {
            rc = pe_fail(e, PE_EINPUT, "%s", msg);
            goto done;
        }
        format = cJSON_HasObjectItem(o, "task_name") && cJSON_HasObjectItem(o, "results") ? PE_FMT_CRITIC
                 : cJSON_HasObjectItem(o, "idx")                                            ? PE_FMT_REFERENCE
                 : cJSON_HasObjectItem(o, "key")                                            ? PE_FMT_NATIVE
                                                                                             : -1;
        cJSON_Delete(o);
        if (format < 0) {
            rc = pe_fail(e, PE_EINPUT,
                         "%s:%d: cannot tell the format: the record has neither \"task_name\" and \"results\" "
                         "(critic), \"idx\" (reference) nor \"key\" (native)",
                         path, j.lineno[0]);
            goto done;
        }
    }
    P->format = format;
    int nthreads = omp_get_max_threads();
    pe_arena *arenas = pe_calloc((size_t)nthreads, sizeof *arenas, e);
    if (!arenas) {
        rc = PE_ERESOURCE;
        goto done;
    }
    /* one cJSON arena per thread (jsonl.h): the trees are never deleted one by one */
#pragma omp parallel for schedule(dynamic, 64) num_threads(nthreads)
    for (int64_t k = 0; k < j.nlines; k++) {
        char msg[1024];
        cJSON *o = pe_jsonl_parse_in(&j, k, path, &arenas[omp_get_thread_num()], msg, sizeof msg);
        if (o && parse_line(o, format, &P->p[k], path, j.lineno[k], msg, sizeof msg) == 0)
            continue;
        msgs[k] = strdup(msg);
        if (!msgs[k])
            msgs[k] = (char *)"";  /* still marks the line as bad */
    }
    for (int t = 0; t < nthreads; t++)
        pe_arena_free(&arenas[t]);
    free(arenas);
    for (int64_t k = 0; k < j.nlines; k++)
        if (msgs[k]) {
            rc = msgs[k][0] ? pe_fail(e, PE_EINPUT, "%s", msgs[k])
                            : pe_fail(e, PE_ERESOURCE, "%s:%d: out of memory", path, j.lineno[k]);
            break;
        }
    if (rc == PE_OK && format == PE_FMT_CRITIC)
        rc = critic_finish(P, e);
    for (int64_t k = 0; rc == PE_OK && k < P->n; k++)
        P->records_invalid += P->p[k].has_validity && !P->p[k].validity;
done:
    if (msgs)
        for (int64_t k = 0; k < j.nlines; k++)
            if (msgs[k] && msgs[k][0])
                free(msgs[k]);
    free(msgs);
    pe_jsonl_free(&j);
    if (rc != PE_OK)
        pe_predictions_free(P);
    return rc;
}

void pe_pred_set_free(pe_pred_set *s)
{
    free(s->preds);
    free(s->labels);
    free(s->scores);
    memset(s, 0, sizeof *s);
}

static void add_example(char ex[PE_MATCH_EXAMPLES][128], int64_t count, const char *key)
{
    if (count <= PE_MATCH_EXAMPLES)
        snprintf(ex[count - 1], 128, "%s", key);
}

/* The labels the metric uses for one prediction; see pe_predictions_match. */
static int32_t label_count(const pe_pred *p, int cls)
{
    if ((cls == PE_CLS_REDUNDENCY || cls == PE_CLS_CIRCULAR) && p->nred >= 0)
        return p->nred;
    return p->nlabels >= 0 ? p->nlabels : p->nscores;
}

int pe_predictions_match(const pe_dataset *d, const pe_predictions *P, double threshold, pe_pred_set *out,
                         pe_match_report *rep, pe_err *e)
{
    memset(out, 0, sizeof *out);
    memset(rep, 0, sizeof *rep);
    pe_strmap keys;
    if (pe_strmap_init(&keys, (size_t)d->nsamples, e) != PE_OK)
        return PE_ERESOURCE;
    int64_t *which = pe_malloc(((size_t)d->nsamples + 1) * sizeof *which, e);
    out->preds = pe_calloc((size_t)d->nsamples, sizeof *out->preds, e);
    int rc = which && out->preds ? PE_OK : PE_ERESOURCE;
    for (int i = 0; rc == PE_OK && i < d->nsamples; i++) {
        which[i] = -1;
        if (pe_strmap_put(&keys, d->samples[i].key, strlen(d->samples[i].key), i, e) != PE_OK)
            rc = PE_ERESOURCE;
    }
    for (int64_t k = 0; rc == PE_OK && k < P->n; k++) {
        int i = pe_strmap_get(&keys, P->p[k].key, strlen(P->p[k].key));
        if (i < 0) {
            rep->unknown++;
            add_example(rep->unknown_ex, rep->unknown, P->p[k].key);
        } else if (which[i] >= 0) {
            rep->duplicate++;  /* QUIRK kept: the first prediction of a key wins */
            add_example(rep->duplicate_ex, rep->duplicate, P->p[k].key);
        } else {
            which[i] = k;
        }
    }
    /* size_t: a sum of step counts over samples */
    size_t total = 0;
    for (int i = 0; rc == PE_OK && i < d->nsamples; i++) {
        const pe_pred *p = which[i] >= 0 ? &P->p[which[i]] : NULL;
        if (p && !(p->has_validity && !p->validity))
            total += (size_t)label_count(p, d->samples[i].cls);
    }
    if (rc == PE_OK) {
        out->labels = pe_malloc(total + 1, e);
        out->scores = pe_malloc((total + 1) * sizeof *out->scores, e);
        if (!out->labels || !out->scores)
            rc = PE_ERESOURCE;
    }
    size_t off = 0;
    for (int i = 0; rc == PE_OK && i < d->nsamples; i++) {
        const pe_sample *s = &d->samples[i];
        pe_sample_pred *sp = &out->preds[i];
        const pe_pred *p = which[i] >= 0 ? &P->p[which[i]] : NULL;
        sp->pred_order = which[i];
        if (!p) {
            sp->status = PE_PRED_MISSING;
            rep->missing++;
            add_example(rep->missing_ex, rep->missing, s->key);
            continue;
        }
        if (p->has_validity && !p->validity) {
            sp->status = PE_PRED_INVALID;
            rep->invalid++;
            continue;
        }
        int32_t m = label_count(p, s->cls);
        uint8_t *L = out->labels + off;
        double *S = out->scores + off;
        for (int32_t t = 0; t < m; t++)
            S[t] = p->nscores > t ? p->scores[t] : NAN;
        if ((s->cls == PE_CLS_REDUNDENCY || s->cls == PE_CLS_CIRCULAR) && p->nred >= 0) {
            for (int32_t t = 0; t < m; t++)
                L[t] = !p->red[t];
            sp->label_source = PE_LABELS_REDUNDANCY;
            rep->from_redundancy++;
        } else if (p->nlabels >= 0) {
            memcpy(L, p->labels, (size_t)m);
            sp->label_source = PE_LABELS_GIVEN;
        } else {
            for (int32_t t = 0; t < m; t++)
                L[t] = p->scores[t] > threshold;
            rep->from_scores++;
        }
        sp->status = PE_PRED_OK;
        sp->m = m;
        sp->labels = L;
        sp->scores = S;
        off += (size_t)m;
    }
    out->nsamples = d->nsamples;
    free(which);
    pe_strmap_free(&keys);
    if (rc != PE_OK)
        pe_pred_set_free(out);
    return rc;
}
