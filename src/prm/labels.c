/* Rewards -> step labels (prm.h): the families' label rules, shared by a
 * model run and `prmeval rescore`. */
#include "prm.h"

#include <math.h>
#include <string.h>

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
    /* one reward per step: a two-reward head's rounding needs both (labels_cls) */
    int diff = rule_of(f, o)->difference, round = f->head.nout == 1 && pe_family_rounds_bf16(f, o);
    /* Python: the float32 rewards become doubles (tolist), then subtract. */
    double prev = 0.0;
    for (int i = 0; i < n; i++) {
        double cur = (double)r[i];
        if (round)
            pe_head_round_bf16(&f->head, &cur);
        labels[i] = label_of(diff, i, prev, cur, threshold);
        prev = cur;
    }
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

int pe_family_rounds_bf16(const pe_family *f, const pe_family_opts *o)
{
    if (o->reward_rounding == PE_ROUND_BF16)
        return 1;
    return o->reward_rounding == PE_ROUND_AUTO && f->reference_bf16;
}

static const char *const rounding_names[] = {"auto", "none", "bf16"};

const char *pe_reward_rounding_name(pe_reward_rounding r)
{
    return r >= PE_ROUND_AUTO && r <= PE_ROUND_BF16 ? rounding_names[r] : "?";
}

int pe_reward_rounding_from_name(const char *name)
{
    for (int r = PE_ROUND_AUTO; name && r <= PE_ROUND_BF16; r++)
        if (!strcmp(name, rounding_names[r]))
            return r;
    return -1;
}

static int redundancy_class(int cls)
{
    return cls == PE_CLS_REDUNDENCY || cls == PE_CLS_CIRCULAR;
}

void pe_family_labels_cls(const pe_family *f, const pe_family_opts *o, double threshold, double threshold2,
                          const float *r, int n, int cls, uint8_t *labels)
{
    const pe_label_desc *rule = rule_of(f, o);
    const int nout = f->head.nout, round = pe_family_rounds_bf16(f, o);
    /* two-reward heads label the redundancy classes by the second reward;
     * more rewards than the rule reads: the first one */
    const int by_u = rule->redundancy && nout >= 2 && redundancy_class(cls);
    if (isnan(threshold))
        threshold = rule->threshold;
    if (isnan(threshold2))
        threshold2 = rule->redundancy_threshold;
    /* Python compares the (float) probabilities with the thresholds as
     * doubles; rounded rewards are bf16 values (or their sum) in double */
    double prev = 0.0;
    for (int i = 0; i < n; i++) {
        double s[PE_HEAD_MAX_OUT] = {0};
        for (int k = 0; k < nout && k < PE_HEAD_MAX_OUT; k++)
            s[k] = (double)r[(size_t)i * (size_t)nout + (size_t)k];
        if (round)
            pe_head_round_bf16(&f->head, s);
        labels[i] = by_u ? !(s[1] > threshold2) : label_of(rule->difference, i, prev, s[0], threshold);
        prev = s[0];
    }
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
