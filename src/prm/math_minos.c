/* math-minos: MATH-Minos (Mistral + token classification with one label),
 * PRMBench's mr_eval/models/math_minos.py. The checkpoint was not published:
 * users bring their own. */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>

/* "Human: " + q + "\n\nAssistant:" + concat("Step " + i + ": " + strip_prefix(step_i) + " и\n"),
 * i from 1, encoded with BOS as one string; "и" is U+0438 (not Math-Shepherd's
 * "ки"), and there is no space after "Assistant:". */
static int prompt(const pe_family_opts *o, const char *q, int nsteps, char *const *steps, pe_step_cleaner *clean,
                  pe_segments *s, pe_err *e)
{
    (void)o;
    pe_sbuf b = {0};
    int rc = pe_seg_add(s, PE_SEG_BOS, "", 0, 0, 0, e);
    if (!rc && !(rc = pe_sb_str(&b, "Human: ", e)) && !(rc = pe_sb_str(&b, q, e)) &&
        !(rc = pe_sb_str(&b, "\n\nAssistant:", e)))
        rc = pe_seg_text(s, b.p, e);
    for (int i = 0; !rc && i < nsteps; i++) {
        char *c = pe_clean_step(clean, steps[i], e);
        if (!c) {
            rc = e->code;
            break;
        }
        char head[32];
        snprintf(head, sizeof head, "Step %d: ", i + 1);
        b.n = 0;
        if (!(rc = pe_sb_str(&b, head, e)) && !(rc = pe_sb_str(&b, c, e)))
            rc = pe_seg_text(s, b.p, e);
        free(c);
        if (!rc)
            rc = pe_seg_add(s, PE_SEG_TEXT, " и", strlen(" и"), 0, 1, e);
        if (!rc)
            rc = pe_seg_text(s, "\n", e);
    }
    free(b.p);
    return rc;
}

static const char *const arch[] = {"MistralForTokenClassification", NULL};

const pe_family pe_prm_math_minos = {
    .name = "math-minos",
    .checkpoint = "MATH-Minos (Mistral-7B, token classification; not published)",
    .architectures = arch,
    .auto_architectures = arch,
    .prompt = prompt,
    /* every position holding encode("и")[-1] (839 on Mistral), the question's included */
    .readout = {PE_RO_LAST_ID, "и", 0, NULL},
    /* score: Linear(H, 1) with bias; the raw logit is the reward */
    .head = {.rows = PE_ROWS_TENSOR, .read = PE_READ_RAW, .nrows = 1, .nout = 1, .w = "score.weight", .b = "score.bias"},
    .labels = {[PE_LABEL_CURRENT] = {.defined = 1, .threshold = 0.0}},
    .bos = PE_BOS_TOKENIZER,
    .tiny = {.architecture = "MistralForTokenClassification", .model_type = "mistral", .tokenizer = PE_TINY_TOK_SPM,
             .mistral_window = 1, .rope_theta = 10000.0, .rms_norm_eps = 1e-5, .max_pos = 32768,
             .extra_config = "{\"id2label\": {\"0\": \"LABEL_0\"}, \"label2id\": {\"LABEL_0\": 0}}"},
};
