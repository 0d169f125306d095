/* pure-prm: jinachris/Qwen2.5-Math-7B-PRM800K (PURE; Qwen2.5-Math-7B + token
 * classification with two labels), PRMBench's mr_eval/models/pure_prm.py. */
#include "build.h"

/* ids(q) + for each step ids(step_i) + ids("\n\n"), every piece encoded on its
 * own without special tokens: no BOS, no template, nothing between q and
 * step 1, the steps raw (no strip, no prefix removal). */
static int prompt(const pe_family_opts *o, const char *q, int nsteps, char *const *steps, pe_step_cleaner *clean,
                  pe_segments *s, pe_err *e)
{
    (void)o;
    (void)clean;
    int rc = pe_seg_add(s, PE_SEG_TEXT, q, strlen(q), 1, 0, e);
    for (int i = 0; !rc && i < nsteps; i++) {
        if (*steps[i])
            rc = pe_seg_add(s, PE_SEG_TEXT, steps[i], strlen(steps[i]), 1, 0, e);
        /* read at the appended piece's last id: a "\n\n" inside a step is not read */
        if (!rc)
            rc = pe_seg_add(s, PE_SEG_TEXT, "\n\n", 2, 1, 1, e);
    }
    return rc;
}

static const char *const arch[] = {"Qwen2ForTokenClassification", NULL};

const pe_family pe_prm_pure_prm = {
    .name = "pure-prm",
    .checkpoint = "jinachris/Qwen2.5-Math-7B-PRM800K",
    .architectures = arch,
    .auto_architectures = arch,
    .prompt = prompt,
    .readout = {PE_RO_MARKED, NULL, 0, NULL},
    /* score: Linear(H, 2) with bias (the same tensor name as MATH-Minos' (1, H):
     * told apart by its rows); softmax, p1 - p0 */
    .head = {.rows = PE_ROWS_TENSOR, .read = PE_READ_SOFTMAX_DIFF, .nrows = 2, .nout = 1, .w = "score.weight",
             .b = "score.bias"},
    /* reward > 0 (a bf16 tie, p1 = p0, gives 0: false) */
    .labels = {[PE_LABEL_CURRENT] = {.defined = 1, .threshold = 0.0}},
    .bos = PE_BOS_TOKENIZER,
    .reference_bf16 = 1, /* torch_dtype=torch.bfloat16 in the reference */
    .tiny = {.architecture = "Qwen2ForTokenClassification", .model_type = "qwen2", .tokenizer = PE_TINY_TOK_QWEN2,
             .attn_bias = 1, .qwen_window_keys = 1, .rope_theta = 10000.0, .rms_norm_eps = 1e-6, .max_pos = 4096,
             .extra_config = "{\"id2label\": {\"0\": \"LABEL_0\", \"1\": \"LABEL_1\"}, "
                             "\"label2id\": {\"LABEL_0\": 0, \"LABEL_1\": 1}}"},
};
