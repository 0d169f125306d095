/* Metrics from a results file read back; see results_rescore.h. The labels
 * go through the same family rule functions as a model run
 * (src/core/family.h) and the same metric code as `eval`
 * (pe_sample_evaluate, pe_metrics_finish), so nothing is computed twice in
 * two ways. */
#include "results_rescore.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../prm/prm.h"

int pe_relabel_rule_from_name(const char *name)
{
    for (int r = PE_RELABEL_STORED; r <= PE_RELABEL_SKYWORK_CURRENT; r++)
        if (strcmp(name, pe_relabel_rule_name(r)) == 0)
            return r;
    return -1;
}

const char *pe_relabel_rule_name(int rule)
{
    switch (rule) {
    case PE_RELABEL_STORED: return "stored";
    case PE_RELABEL_THRESHOLD: return "threshold";
    case PE_RELABEL_SKYWORK_CURRENT: return "skywork-current";
    default: return "?";
    }
}

/* The same bounds the data reader (src/io/dataset.c) puts on what it reads. */
#define PE_RESULTS_MAX_STEPS 100000
#define PE_RESULTS_MAX_ERROR_STEP 1000000

static int bad(const pe_rescore *rs, pe_err *e, const char *dset, int i, const char *what, long long v)
{
    return pe_fail(e, PE_EINPUT, "%s: %s: sample %d (%s): %s (%lld)", rs->path, dset, i, rs->src->key[i], what, v);
}

int pe_rescore_init(pe_rescore *rs, const pe_results *r, const char *path, pe_err *e)
{
    memset(rs, 0, sizeof *rs);
    rs->src = r;
    rs->path = path;
    size_t n = (size_t)r->nsamples;
    rs->data.samples = pe_calloc(n + 1, sizeof *rs->data.samples, e);
    rs->err_store = pe_malloc(((size_t)r->nerr_total + 1) * sizeof *rs->err_store, e);
    rs->res = pe_calloc(n + 1, sizeof *rs->res, e);
    rs->labels = pe_malloc((size_t)r->nsteps_total + 1, e);
    if (!rs->data.samples || !rs->err_store || !rs->res || !rs->labels) {
        pe_rescore_free(rs);
        return PE_ERESOURCE;
    }
    int rc = PE_OK;
    int maxprob = -1;
    for (int i = 0; rc == PE_OK && i < r->nsamples; i++) {
        pe_sample *s = &rs->data.samples[i];
        int64_t nst = r->step_offset[i + 1] - r->step_offset[i];
        if (r->cls[i] < 0 || r->cls[i] >= PE_NCLASSES)
            rc = bad(rs, e, "/samples/class", i, "class out of range", r->cls[i]);
        else if (r->status[i] < PE_PRED_OK || r->status[i] > PE_PRED_INVALID)
            rc = bad(rs, e, "/samples/status", i, "status out of range", r->status[i]);
        else if (r->problem[i] < 0 || r->problem[i] >= r->nsamples)
            rc = bad(rs, e, "/samples/problem", i, "problem out of range", r->problem[i]);
        else if (r->status[i] == PE_PRED_OK && nst != r->nlabels[i])
            rc = bad(rs, e, "/samples/nlabels", i, "differs from the steps in /samples/step_offset", nst);
        else if (r->label_source && (r->label_source[i] < 0 || r->label_source[i] > PE_LABELS_REDUNDANCY))
            rc = bad(rs, e, "/samples/label_source", i, "label source out of range", r->label_source[i]);
        else if (r->nsteps[i] < 0 || r->nsteps[i] > PE_RESULTS_MAX_STEPS)
            rc = bad(rs, e, "/samples/nsteps", i, "step count out of range", r->nsteps[i]);
        else if (r->src_file[i] < 0 || r->src_file[i] >= r->prov.ndata_files)
            rc = bad(rs, e, "/samples/src_file", i, "not an index into the root attribute data_files", r->src_file[i]);
        if (rc != PE_OK)
            break;
        s->key = r->key[i];
        s->idx = r->idx[i];
        s->cls = r->cls[i];
        s->problem = r->problem[i];
        s->nsteps = r->nsteps[i];
        s->src_file = r->src_file[i];
        s->src_line = r->src_line[i];
        s->nerr = (int)(r->err_offset[i + 1] - r->err_offset[i]);
        s->err_steps = rs->err_store + r->err_offset[i];
        for (int k = 0; k < s->nerr; k++) {
            int32_t v = r->err_steps[r->err_offset[i] + k];
            /* The data reader's bound (1-based step numbers up to 10^6): the
             * metric adds 1 to a step, which must not overflow. */
            if (v < 0 || v >= PE_RESULTS_MAX_ERROR_STEP) {
                rc = bad(rs, e, "/samples/err_steps", i, "error step out of range", v);
                break;
            }
            s->err_steps[k] = v;
        }
        if (r->problem[i] > maxprob)
            maxprob = r->problem[i];
    }
    if (rc != PE_OK) {
        pe_rescore_free(rs);
        return rc;
    }
    rs->redundancy_threshold = 0.15;
    rs->data.nsamples = r->nsamples;
    rs->data.nproblems = maxprob + 1;
    rs->data.nfiles = r->prov.ndata_files;
    rs->data.files = r->prov.data_files;
    return PE_OK;
}

/* Labels of a sample come from its scores when the file says so and every
 * score is a number (a NaN means the step had no score). */
static int from_scores(const pe_results *r, int i)
{
    if (r->label_source[i] != PE_LABELS_FROM_SCORES)
        return 0;
    for (int64_t j = r->step_offset[i]; j < r->step_offset[i + 1]; j++)
        if (isnan(r->step_scores[j]) || (r->step_scores2 && isnan(r->step_scores2[j])))
            return 0;
    return 1;
}

int pe_rescore_run(pe_rescore *rs, int rule, double threshold, pe_err *e)
{
    const pe_results *r = rs->src;
    if (rule < PE_RELABEL_STORED || rule > PE_RELABEL_SKYWORK_CURRENT)
        return pe_fail(e, PE_EUSAGE, "unknown label rule %d", rule);
    if (rule != PE_RELABEL_STORED && !r->label_source)
        return pe_fail(e, PE_EINPUT,
                       "%s: /samples/label_source: dataset missing (the file predates it), so labels given "
                       "by the predictions cannot be told from labels computed from scores; run eval again",
                       rs->path);
    /* The two label rules of the PRM layer (src/prm/labels.c): score > T, the
     * comparison `eval` applies to scores, and PRMBench's difference rule
     * (Skywork's `current`). The threshold is always passed explicitly. */
    const pe_label_desc by_threshold = {.defined = 1, .threshold = 0.5},
                        by_difference = {.defined = 1, .difference = 1, .threshold = -0.05};
    const pe_label_desc *lr = rule == PE_RELABEL_SKYWORK_CURRENT ? &by_difference : &by_threshold;
    rs->relabelled = rs->kept = 0;
    for (int i = 0; i < r->nsamples; i++) {
        const pe_sample *s = &rs->data.samples[i];
        pe_sample_result *res = &rs->res[i];
        if (r->status[i] != PE_PRED_OK) {
            pe_sample_skip(s, r->status[i], res);
            res->pred_order = r->pred_order[i];
            continue;
        }
        int64_t off = r->step_offset[i];
        int32_t m = r->nlabels[i];
        uint8_t *L = rs->labels + off;
        if (rule != PE_RELABEL_STORED && from_scores(r, i)) {
            if (r->step_scores2 && rule == PE_RELABEL_THRESHOLD &&
                (s->cls == PE_CLS_REDUNDENCY || s->cls == PE_CLS_CIRCULAR)) {
                const pe_label_desc red = {.defined = 1, .threshold = rs->redundancy_threshold};
                pe_label_apply_f64(&red, rs->redundancy_threshold, r->step_scores2 + off, m, L);
                for (int32_t j = 0; j < m; j++)
                    L[j] = !L[j]; /* the redundancy label says "redundant": the step is valid when it is not */
            } else {
                pe_label_apply_f64(lr, threshold, r->step_scores + off, m, L);
            }
            rs->relabelled++;
        } else {
            if (m > 0)
                memcpy(L, r->step_labels + off, (size_t)m);
            rs->kept += rule != PE_RELABEL_STORED;
        }
        pe_sample_evaluate(s, L, m, res);
        res->pred_order = r->pred_order[i];
        res->label_source = r->label_source ? r->label_source[i] : PE_LABELS_FROM_SCORES;
    }
    return pe_metrics_finish(&rs->data, rs->res, NULL, threshold, &rs->m, e);
}

void pe_rescore_free(pe_rescore *rs)
{
    free(rs->data.samples);
    free(rs->err_store);
    free(rs->res);
    free(rs->labels);
    memset(rs, 0, sizeof *rs);
}
