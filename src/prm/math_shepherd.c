/* math-shepherd: peiyi9979/math-shepherd-mistral-7b-prm, PRMBench's
 * mr_eval/models/math_shepherd.py. */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>

static int prompt(const pe_family_opts *o, const char *q, int nsteps, char *const *steps, pe_step_cleaner *clean,
                  pe_segments *s, pe_err *e)
{
    (void)o;
    (void)clean; /* steps are only stripped, their "Step n" prefix is kept */
    /* encode(f"{question} {steps_str}") with the default add_special_tokens=True: BOS first. */
    pe_sbuf b = {0};
    int rc = pe_seg_add(s, PE_SEG_BOS, "", 0, 0, 0, e);
    if (!rc && !(rc = pe_sb_str(&b, q, e)) && !(rc = pe_sb_str(&b, " ", e)))
        rc = pe_seg_text(s, b.p, e);
    for (int i = 0; !rc && i < nsteps; i++) {
        size_t len;
        char *st = pe_py_strip(steps[i], strlen(steps[i]), &len, e);
        if (!st) {
            rc = e->code;
            break;
        }
        b.n = 0;
        char head[32];
        /* A step already starting with "Step"/"step" keeps its own numbering. */
        if (strncmp(st, "Step", 4) && strncmp(st, "step", 4)) {
            snprintf(head, sizeof head, "Step %d: ", i + 1);
            rc = pe_sb_str(&b, head, e);
        }
        if (!rc && !(rc = pe_sb_put(&b, st, len, e)))
            rc = pe_seg_text(s, b.p, e);
        free(st);
        if (!rc) rc = pe_seg_add(s, PE_SEG_TEXT, " ки", strlen(" ки"), 0, 1, e);
        if (!rc) rc = pe_seg_text(s, "\n", e);
    }
    free(b.p);
    return rc;
}

static const char *const arch[] = {"MistralForCausalLM", "LlamaForCausalLM", NULL};
static const char *const arch_auto[] = {"MistralForCausalLM", NULL};

const pe_family pe_prm_math_shepherd = {
    .name = "math-shepherd",
    .checkpoint = "peiyi9979/math-shepherd-mistral-7b-prm",
    .architectures = arch,
    .auto_architectures = arch_auto,
    .prompt = prompt,
    .readout = {PE_RO_LAST_ID, "ки", 0, NULL},
    /* candidate_tokens = encode("+ -")[1:]: the ids after BOS; softmax over
     * the two LM-head logits, "+" taken */
    .head = {.rows = PE_ROWS_LM_TOKENS, .read = PE_READ_SOFTMAX_PICK, .nrows = 2, .nout = 1, .pick = 0,
             .tokens = "+ -"},
    .labels = {[PE_LABEL_CURRENT] = {.defined = 1, .threshold = 0.5}},
    .bos = PE_BOS_TOKENIZER,
    .tiny = {.architecture = "MistralForCausalLM", .model_type = "mistral", .tokenizer = PE_TINY_TOK_SPM,
             .lm_head = 1, .mistral_window = 1, .rope_theta = 10000.0, .rms_norm_eps = 1e-5, .max_pos = 32768},
};
