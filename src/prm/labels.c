/* Rewards -> step labels (prm.h): the families' label rules, shared by a
 * model run and `prmeval rescore`. */
#include "prm.h"

#include <math.h>

#include "../core/sample.h"

/* The family's rule the options select; the default rule when the family
 * has no such rule (the job refuses that combination before a run). */
static const pe_label_desc *rule_of(const pe_family *f, const pe_family_opts *o)
{
    int r = o->label_rule == PE_LABEL_ORIGINAL ? PE_LABEL_ORIGINAL : PE_LABEL_CURRENT;
    return f->labels[r].defined ? &f->labels[r] : &f->labels[PE_LABEL_CURRENT];
}

double pe_family_threshold(const pe_family *f, const pe_family_opts *o)
{
    return rule_of(f, o)->threshold;
}

/* One step's label under the family's rule; prev is r_{i-1} (unused for i = 0
 * or a rule without differences). Shared by the float (model) and double
 * (stored scores, `prmeval rescore`) entry points, so the rule lives once. */
static uint8_t label_of(int diff, int i, double prev, double cur, double threshold)
{
    double v = diff && i > 0 ? cur - prev : cur;
    return v > threshold;
}


void pe_family_labels(const pe_family *f, const pe_family_opts *o, double threshold, const float *r,
                      int n, uint8_t *labels)
{
    if (isnan(threshold))
        threshold = pe_family_threshold(f, o);
    int diff = rule_of(f, o)->difference;
    /* Python: the float32 rewards become doubles (tolist), then subtract. */
    for (int i = 0; i < n; i++)
        labels[i] = label_of(diff, i, i > 0 ? (double)r[i - 1] : 0, (double)r[i], threshold);
}

void pe_label_apply_f64(const pe_label_desc *rule, double threshold, const double *r, int n, uint8_t *labels)
{
    if (isnan(threshold))
        threshold = rule->threshold;
    for (int i = 0; i < n; i++)
        labels[i] = label_of(rule->difference, i, i > 0 ? r[i - 1] : 0, r[i], threshold);
}

void pe_family_labels_f64(const pe_family *f, const pe_family_opts *o, double threshold, const double *r,
                          int n, uint8_t *labels)
{
    pe_label_apply_f64(rule_of(f, o), threshold, r, n, labels);
}

double pe_family_redundancy_threshold(const pe_family *f, const pe_family_opts *o)
{
    return rule_of(f, o)->redundancy_threshold;
}

static int redundancy_class(int cls)
{
    return cls == PE_CLS_REDUNDENCY || cls == PE_CLS_CIRCULAR;
}

void pe_family_labels_cls(const pe_family *f, const pe_family_opts *o, double threshold, double threshold2,
                          const float *r, int n, int cls, uint8_t *labels)
{
    const pe_label_desc *rule = rule_of(f, o);
    int nout = f->head.nout;
    if (!rule->redundancy || nout < 2) {
        if (nout == 1) {
            pe_family_labels(f, o, threshold, r, n, labels);
            return;
        }
        /* more rewards than the rule reads: the first one */
        if (isnan(threshold))
            threshold = rule->threshold;
        for (int i = 0; i < n; i++)
            labels[i] = label_of(rule->difference, i, i > 0 ? (double)r[(i - 1) * nout] : 0, (double)r[i * nout],
                                 threshold);
        return;
    }
    if (isnan(threshold))
        threshold = rule->threshold;
    if (isnan(threshold2))
        threshold2 = rule->redundancy_threshold;
    /* Python compares the (float) probabilities with the thresholds as doubles */
    for (int i = 0; i < n; i++)
        labels[i] = redundancy_class(cls) ? !((double)r[i * nout + 1] > threshold2) : (double)r[i * nout] > threshold;
}

void pe_family_labels_cls_f64(const pe_family *f, const pe_family_opts *o, double threshold, double threshold2,
                              const double *v, const double *u, int n, int cls, uint8_t *labels)
{
    const pe_label_desc *rule = rule_of(f, o);
    if (!rule->redundancy || !u) {
        pe_family_labels_f64(f, o, threshold, v, n, labels);
        return;
    }
    if (isnan(threshold))
        threshold = rule->threshold;
    if (isnan(threshold2))
        threshold2 = rule->redundancy_threshold;
    for (int i = 0; i < n; i++)
        labels[i] = redundancy_class(cls) ? !(u[i] > threshold2) : v[i] > threshold;
}
