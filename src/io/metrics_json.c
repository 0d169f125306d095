#include "metrics_json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "outfile.h"

void pe_json_double(double v, char buf[32])
{
    if (!isfinite(v)) {
        snprintf(buf, 32, "null");
        return;
    }
    /* shortest of %.15g..%.17g that reads back to the same bits */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, v);
        if (strtod(buf, NULL) == v && signbit(strtod(buf, NULL)) == signbit(v))
            break;
    }
    if (!strpbrk(buf, ".e"))
        strcat(buf, ".0");  /* a float to Python, so -0.0 keeps its sign */
}

/* cJSON prints -0.0 as 0 and integers through a double (exact only up to
 * 2^53); numbers go in as raw text instead. */
static cJSON *num(double v)
{
    char buf[32];
    pe_json_double(v, buf);
    return cJSON_CreateRaw(buf);
}

static cJSON *int_raw(int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return cJSON_CreateRaw(buf);
}

static void add_num(cJSON *o, const char *k, double v)
{
    cJSON_AddItemToObject(o, k, num(v));
}

static void add_int(cJSON *o, const char *k, int64_t v)
{
    cJSON_AddItemToObject(o, k, int_raw(v));
}

/* The reference's metric names, in its order, and where each lives in a row. */
typedef double (*row_get)(const pe_metric_row *);
#define GETTER(f) static double get_##f(const pe_metric_row *r) { return r->f; }
GETTER(correct_step_acc)
GETTER(wrong_step_acc)
GETTER(total_step_acc)
GETTER(first_error_acc)
GETTER(similarity)
GETTER(precision)
GETTER(recall)
GETTER(f1)
GETTER(negative_precision)
GETTER(negative_recall)
GETTER(negative_f1)
static const struct {
    const char *name;
    row_get get;
} metric_fields[] = {
    {"correct_step_acc", get_correct_step_acc}, {"wrong_step_acc", get_wrong_step_acc},
    {"total_step_acc", get_total_step_acc},     {"first_error_acc", get_first_error_acc},
    {"similarity", get_similarity},             {"precision", get_precision},
    {"recall", get_recall},                     {"f1", get_f1},
    {"negative_precision", get_negative_precision}, {"negative_recall", get_negative_recall},
    {"negative_f1", get_negative_f1},
};
#define NFIELDS ((int)(sizeof metric_fields / sizeof metric_fields[0]))

static cJSON *int_array(const int64_t *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(a, int_raw(v[i]));
    return a;
}

static cJSON *counts_obj(const pe_metric_row *r)
{
    const pe_counts *c = &r->c;
    cJSON *o = cJSON_CreateObject();
    add_int(o, "samples", c->samples);
    add_int(o, "evaluated", c->evaluated);
    add_int(o, "missing", c->missing);
    add_int(o, "invalid", c->invalid);
    add_int(o, "tp", c->tp);
    add_int(o, "fp", c->fp);
    add_int(o, "tn", c->tn);
    add_int(o, "fn", c->fn);
    add_int(o, "correct_step_ones", c->corr_ones);
    add_int(o, "correct_step_n", c->corr_n);
    add_int(o, "wrong_step_ones", c->wrong_ones);
    add_int(o, "wrong_step_n", c->wrong_n);
    add_int(o, "total_step_ones", c->total_ones);
    add_int(o, "total_step_n", c->total_n);
    add_int(o, "first_error_ones", c->fe_ones);
    add_int(o, "first_error_n", c->fe_n);
    add_int(o, "similarity_n", r->similarity_n);
    /* index p = 1-based error position (index 0 unused; the last bin pools the rest) */
    cJSON_AddItemToObject(o, "error_position_hits", int_array(c->pos_hits, PE_MAX_ERRPOS + 1));
    cJSON_AddItemToObject(o, "error_position_n", int_array(c->pos_n, PE_MAX_ERRPOS + 1));
    cJSON_AddItemToObject(o, "error_position_samples", int_array(c->pos_samples, PE_MAX_ERRPOS + 1));
    return o;
}

/* The "run" section of `prmeval run`: token statistics, then timing. */
static cJSON *run_obj(const pe_run_info *r)
{
    const pe_token_stats *t = &r->tok;
    cJSON *o = cJSON_CreateObject();
    add_int(o, "max_tokens", r->max_tokens);
    add_int(o, "sequences", t->sequences);
    add_int(o, "tokens", t->tokens);
    add_int(o, "tokens_full", t->tokens_full);
    add_int(o, "sequences_cut", t->sequences_cut);
    add_int(o, "readouts", t->readouts);
    add_int(o, "labels_lost", t->labels_lost);
    cJSON *lc = cJSON_AddObjectToObject(o, "labels_lost_by_class");
    for (int c = 0; c < PE_NCLASSES; c++)
        add_int(lc, pe_class_name(c), t->labels_lost_class[c]);
    add_int(o, "readout_mismatch", t->readout_mismatch);
    add_int(o, "shards", r->shards);
    add_int(o, "shards_reused", r->shards_reused);
    add_num(o, "seconds", r->seconds);
    cJSON_AddBoolToObject(o, "prefix_reuse", r->prefix_reuse != 0);
    add_int(o, "prefix_cache_bytes", r->prefix_cache_bytes);
    cJSON *ranks = cJSON_AddArrayToObject(o, "ranks");
    for (int k = 0; k < r->nranks; k++) {
        const pe_rank_timing *rt = &r->ranks[k];
        cJSON *x = cJSON_CreateObject();
        add_int(x, "rank", rt->rank);
        cJSON_AddStringToObject(x, "host", rt->host);
        cJSON_AddStringToObject(x, "backend", rt->backend);
        cJSON_AddStringToObject(x, "device", rt->device);
        add_int(x, "tokens", rt->tokens);
        add_int(x, "prompt_tokens", rt->prompt_tokens);
        add_int(x, "recomputed", rt->recomputed);
        add_int(x, "cache_bytes_max", rt->cache_bytes_max);
        add_int(x, "sequences", rt->sequences);
        add_int(x, "shards_run", rt->shards_run);
        add_int(x, "shards_reused", rt->shards_reused);
        add_num(x, "seconds", rt->seconds);
        add_num(x, "tokens_per_s", rt->tokens_per_s);
        cJSON_AddItemToArray(ranks, x);
    }
    return o;
}

static cJSON *build(const pe_metrics *m, const char *const *warnings, int nwarnings, const pe_run_info *run)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *tot = cJSON_AddObjectToObject(root, "total_hallucination_results");
    for (int k = 0; k < NFIELDS; k++)
        add_num(tot, metric_fields[k].name, metric_fields[k].get(&m->pooled));
    cJSON *typ = cJSON_AddObjectToObject(root, "hallucination_type_results");
    for (int k = 0; k < NFIELDS; k++) {
        cJSON *o = cJSON_AddObjectToObject(typ, metric_fields[k].name);
        for (int c = 0; c < PE_NCLASSES; c++)
            add_num(o, pe_class_name(c), metric_fields[k].get(&m->cls[c]));
    }
    add_num(root, "validitiy_rate", m->validity_rate);  /* sic: the reference's key */
    add_num(root, "validity_rate", m->validity_rate);
    cJSON *ps = cJSON_AddObjectToObject(root, "prmscore");
    add_num(ps, "overall", m->pooled.prmscore);
    for (int c = 1; c < PE_NCLASSES; c++)
        add_num(ps, pe_class_name(c), m->cls[c].prmscore);
    cJSON *pc = cJSON_AddObjectToObject(root, "prmscore_category");
    for (int g = 0; g < PE_NCATEGORIES; g++)
        add_num(pc, pe_category_name(g), m->category[g]);
    add_int(root, "valid_num", m->valid_num);
    add_int(root, "total_num", m->total_num);
    add_num(root, "threshold", m->threshold);
    cJSON *cnt = cJSON_AddObjectToObject(root, "counts");
    cJSON_AddItemToObject(cnt, "pooled", counts_obj(&m->pooled));
    for (int c = 0; c < PE_NCLASSES; c++)
        cJSON_AddItemToObject(cnt, pe_class_name(c), counts_obj(&m->cls[c]));
    cJSON *w = cJSON_AddArrayToObject(root, "warnings");
    for (int i = 0; i < nwarnings; i++)
        cJSON_AddItemToArray(w, cJSON_CreateString(warnings[i]));
    if (run)  /* last, so that everything before it is the same document as eval's */
        cJSON_AddItemToObject(root, "run", run_obj(run));
    return root;
}

char *pe_metrics_json_string(const pe_metrics *m, const char *const *warnings, int nwarnings, pe_err *e)
{
    return pe_metrics_json_string_run(m, warnings, nwarnings, NULL, e);
}

char *pe_metrics_json_string_run(const pe_metrics *m, const char *const *warnings, int nwarnings,
                                 const pe_run_info *run, pe_err *e)
{
    cJSON *root = build(m, warnings, nwarnings, run);
    char *s = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!s)
        pe_fail(e, PE_ERESOURCE, "out of memory while printing the metrics JSON");
    return s;
}

int pe_metrics_json_write(const char *path, const pe_metrics *m, const char *const *warnings, int nwarnings,
                          pe_err *e)
{
    return pe_metrics_json_write_run(path, m, warnings, nwarnings, NULL, e);
}

int pe_metrics_json_write_run(const char *path, const pe_metrics *m, const char *const *warnings, int nwarnings,
                              const pe_run_info *run, pe_err *e)
{
    char *s = pe_metrics_json_string_run(m, warnings, nwarnings, run, e);
    if (!s)
        return PE_ERESOURCE;
    pe_outfile o;
    int rc = pe_outfile_open(&o, path, e);
    if (rc == PE_OK) {
        pe_outfile_write(&o, s, strlen(s));
        pe_outfile_write(&o, "\n", 1);
        rc = pe_outfile_publish(&o, 1, e);
    }
    free(s);
    return rc;
}
