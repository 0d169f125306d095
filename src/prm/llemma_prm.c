/* llemma-prm: ScalableMath/llemma-7b-prm-prm800k-level-1to3-hf (and the
 * -metamath- and -oprm- variants), PRMBench's mr_eval/models/llemma7b_prm.py.
 * Published without a tokenizer: the reference uses EleutherAI/llemma_7b's,
 * which a job names with the "tokenizer" key. */
#include "build.h"

#include <stdlib.h>

/* t_i = step_i with every "\n\n" removed, then stripped (no prefix removal:
 * "1. " stays). */
static char *clean(const char *step, pe_err *e)
{
    size_t n = strlen(step), k = 0;
    char *t = pe_malloc(n + 1, e);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n;) {
        if (step[i] == '\n' && step[i + 1] == '\n') {
            i += 2;
            continue;
        }
        t[k++] = step[i++];
    }
    t[k] = '\0';
    char *s = pe_py_strip(t, k, NULL, e);
    free(t);
    return s;
}

/* "# Question\n\n" + q + "\n\n# Solution\n\n" + concat(t_i + "\n\n"), encoded
 * with BOS, no EOS. */
static int prompt(const pe_family_opts *o, const char *q, int nsteps, char *const *steps, pe_step_cleaner *cl,
                  pe_segments *s, pe_err *e)
{
    (void)o;
    (void)cl;
    pe_sbuf b = {0};
    int rc = pe_seg_add(s, PE_SEG_BOS, "", 0, 0, 0, e);
    if (!rc && !(rc = pe_sb_str(&b, "# Question\n\n", e)) && !(rc = pe_sb_str(&b, q, e)))
        rc = pe_sb_str(&b, "\n\n# Solution", e);
    if (!rc)
        rc = pe_seg_text(s, b.p, e);
    free(b.p);
    /* the read-out before the first step: "\n\n" after "# Solution" */
    if (!rc)
        rc = pe_seg_add(s, PE_SEG_TEXT, "\n\n", 2, 0, 1, e);
    for (int i = 0; !rc && i < nsteps; i++) {
        char *t = clean(steps[i], e);
        if (!t) {
            rc = e->code;
            break;
        }
        if (*t)
            rc = pe_seg_text(s, t, e);
        free(t);
        if (!rc)
            rc = pe_seg_add(s, PE_SEG_TEXT, "\n\n", 2, 0, 1, e);
    }
    return rc;
}

static const char *const arch[] = {"LlamaForCausalLM", NULL};

const pe_family pe_prm_llemma_prm = {
    .name = "llemma-prm",
    .checkpoint = "ScalableMath/llemma-7b-prm-prm800k-level-1to3-hf",
    .architectures = arch,
    /* LlamaForCausalLM with llemma's 32016-token vocabulary; it also fits
     * rlhflow's architecture, so such a checkpoint is reported as ambiguous
     * and the job names its family */
    .auto_architectures = arch,
    .vocab_min = 32016,
    .vocab_max = 32016,
    .prompt = prompt,
    /* after "\n\n# Solution" has matched, every match of "\n\n" (overlapping;
     * both encoded without their first id) or EOS; the first is dropped: n + 1
     * read-outs for n steps */
    .readout = {PE_RO_AFTER_MARKER, "\n\n# Solution", 0, "\n\n"},
    /* the mean over the vocabulary of the LM-head logits, as one precomputed
     * row (mean of lm_head's rows); sigmoid */
    .head = {.rows = PE_ROWS_LM_MEAN, .read = PE_READ_SIGMOID, .nrows = 1, .nout = 1},
    .labels = {[PE_LABEL_CURRENT] = {.defined = 1, .threshold = 0.5}},
    .bos = PE_BOS_TOKENIZER,
    .tiny = {.architecture = "LlamaForCausalLM", .model_type = "llama", .tokenizer = PE_TINY_TOK_SPM, .lm_head = 1,
             .llama_keys = 1, .rope_theta = 10000.0, .rms_norm_eps = 1e-5, .max_pos = 4096},
};
