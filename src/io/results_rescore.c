/* Metrics from a results file read back; see results_rescore.h. The labels
 * go through the same family rule functions as a model run
 * (src/core/family.h) and the same metric code as `eval`
 * (pe_sample_evaluate, pe_metrics_finish), so nothing is computed twice in
 * two ways. */
#include "results_rescore.h"

#include <cjson/cJSON.h>
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
    rs->scratch = pe_malloc((2 * (size_t)r->nsteps_total + 2) * sizeof *rs->scratch, e);
    if (!rs->data.samples || !rs->err_store || !rs->res || !rs->labels || !rs->scratch) {
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
    rs->rounding = "none";
    rs->data.nsamples = r->nsamples;
    rs->data.nproblems = maxprob + 1;
    rs->data.nfiles = r->prov.ndata_files;
    rs->data.files = r->prov.data_files;
    return PE_OK;
}

/* A string member of the config object, or of the config of the run it was
 * rescored from (a rescored file keeps its source's under "source_config"). */
static const char *config_str(const cJSON *cfg, const char *key)
{
    for (int depth = 0; cfg && depth < 64; depth++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
        if (cJSON_IsString(v))
            return v->valuestring;
        cfg = cJSON_GetObjectItemCaseSensitive(cfg, "source_config");
    }
    return NULL;
}

int pe_rescore_set_rounding(pe_rescore *rs, const char *want, pe_err *e)
{
    int w = pe_reward_rounding_from_name(want ? want : "auto");
    if (w < 0)
        return pe_fail(e, PE_EUSAGE, "reward rounding '%s' is not one of auto, bf16, none", want);
    cJSON *cfg = cJSON_Parse(rs->src->prov.config_json);
    /* the rounding the file's own labels were drawn with: a rescore's, else its run's */
    const cJSON *rsc = cJSON_GetObjectItemCaseSensitive(cfg, "rescore");
    const cJSON *own = cJSON_GetObjectItemCaseSensitive(rsc, "reward_rounding");
    const char *recorded = cJSON_IsString(own) ? own->valuestring : config_str(cfg, "reward_rounding");
    const char *fname = config_str(cfg, "family");
    const pe_family *f = fname ? pe_family_by_name(fname) : NULL;
    int rc = PE_OK;
    int eff = w;
    if (w == PE_ROUND_AUTO) {
        eff = recorded ? pe_reward_rounding_from_name(recorded) : PE_ROUND_NONE;
        if (eff < 0)
            rc = pe_fail(e, PE_EINPUT, "%s: root attribute config_json: \"reward_rounding\" is \"%s\", not one of "
                         "auto, bf16, none", rs->path, recorded);
        else if (eff == PE_ROUND_AUTO)  /* a job's own word: what it means for the family */
            eff = f && f->reference_bf16 ? PE_ROUND_BF16 : PE_ROUND_NONE;
    }
    rs->round_head = NULL;
    rs->rounding = "none";
    if (rc == PE_OK && eff == PE_ROUND_BF16) {
        if (!f)
            rc = pe_fail(e, w == PE_ROUND_AUTO ? PE_EINPUT : PE_EUSAGE,
                         "%s: bf16 reward rounding needs the family whose head gave the scores, and the file's "
                         "config_json names %s%s%s (a file written by `prmeval run` names it)", rs->path,
                         fname ? "an unknown family \"" : "none", fname ? fname : "", fname ? "\"" : "");
        else if (f->head.nout > 1 && !rs->src->step_scores2)
            rc = pe_fail(e, PE_EINPUT, "%s: family %s has %d rewards per step but /steps/score_redundancy is "
                         "missing: its bf16 rounding needs both", rs->path, f->name, f->head.nout);
        else {
            rs->round_head = &f->head;
            rs->rounding = "bf16";
        }
    }
    cJSON_Delete(cfg);
    return rc;
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
            const double *v = r->step_scores + off, *u = r->step_scores2 ? r->step_scores2 + off : NULL;
            if (rs->round_head) {
                /* the rewards as the reference's bf16 tensors give them (as `run` labels) */
                double *rv = rs->scratch, *ru = rs->scratch + m;
                for (int32_t j = 0; j < m; j++) {
                    double st[PE_HEAD_MAX_OUT] = {v[j], u ? u[j] : 0.0};
                    pe_head_round_bf16(rs->round_head, st);
                    rv[j] = st[0];
                    ru[j] = st[1];
                }
                v = rv;
                u = u ? ru : NULL;
            }
            if (u && rule == PE_RELABEL_THRESHOLD &&
                (s->cls == PE_CLS_REDUNDENCY || s->cls == PE_CLS_CIRCULAR)) {
                const pe_label_desc red = {.defined = 1, .threshold = rs->redundancy_threshold};
                pe_label_apply_f64(&red, rs->redundancy_threshold, u, m, L);
                for (int32_t j = 0; j < m; j++)
                    L[j] = !L[j]; /* the redundancy label says "redundant": the step is valid when it is not */
            } else {
                pe_label_apply_f64(lr, threshold, v, m, L);
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
    free(rs->scratch);
    memset(rs, 0, sizeof *rs);
}
