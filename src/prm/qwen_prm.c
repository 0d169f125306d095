/* qwen-prm: Qwen/Qwen2.5-Math-PRM-7B (and -72B), PRMBench's mr_eval/models/qwen_prm.py. */
#include "build.h"

#include <stdlib.h>

static int prompt(const pe_family_opts *o, const char *q, int nsteps, char *const *steps, pe_step_cleaner *clean,
                  pe_segments *s, pe_err *e)
{
    /* The reference's Python literal "...within \boxed{}." holds "\b" = 0x08. */
    const char *sys = o->qwen_backspace_quirk
                          ? "Please reason step by step, and put your final answer within \boxed{}."
                          : "Please reason step by step, and put your final answer within \\boxed{}.";
    /* Qwen2.5 chat template, messages system/user/assistant,
     * add_generation_prompt=False: "<|im_start|>ROLE\nCONTENT<|im_end|>\n" each. */
    pe_sbuf b = {0};
    int rc = pe_seg_special(s, "<|im_start|>", 0, e);
    if (!rc && !(rc = pe_sb_str(&b, "system\n", e)) && !(rc = pe_sb_str(&b, sys, e)))
        rc = pe_seg_text(s, b.p, e);
    if (!rc) rc = pe_seg_special(s, "<|im_end|>", 0, e);
    if (!rc) rc = pe_seg_text(s, "\n", e);
    if (!rc) rc = pe_seg_special(s, "<|im_start|>", 0, e);
    b.n = 0;
    if (!rc && !(rc = pe_sb_str(&b, "user\n", e)) && !(rc = pe_sb_str(&b, q, e)))
        rc = pe_seg_text(s, b.p, e);
    if (!rc) rc = pe_seg_special(s, "<|im_end|>", 0, e);
    if (!rc) rc = pe_seg_text(s, "\n", e);
    if (!rc) rc = pe_seg_special(s, "<|im_start|>", 0, e);
    if (!rc) rc = pe_seg_text(s, "assistant\n", e);
    for (int i = 0; !rc && i < nsteps; i++) {
        char *c = pe_clean_step(clean, steps[i], e);
        if (!c)
            rc = e->code;
        if (!rc && *c)
            rc = pe_seg_text(s, c, e);
        free(c);
        if (!rc) rc = pe_seg_special(s, "<extra_0>", 1, e);
    }
    if (!rc) rc = pe_seg_special(s, "<|im_end|>", 0, e);
    if (!rc) rc = pe_seg_text(s, "\n", e);
    free(b.p);
    return rc;
}

static const char *const arch[] = {"Qwen2ForProcessRewardModel", NULL};

const pe_family pe_prm_qwen_prm = {
    .name = "qwen-prm",
    .checkpoint = "Qwen/Qwen2.5-Math-PRM-7B",
    .architectures = arch,
    .auto_architectures = arch,
    .prompt = prompt,
    .readout = {PE_RO_SPECIAL_ID, "<extra_0>", 0, NULL},
    /* score = Sequential(Linear(H,H), ReLU, Linear(H,2)); softmax; class 1 */
    .head = {.rows = PE_ROWS_TENSOR, .read = PE_READ_SOFTMAX_PICK, .nrows = 2, .nout = 1, .pick = 1,
             .mlp_w = "score.0.weight", .mlp_b = "score.0.bias", .w = "score.2.weight", .b = "score.2.bias"},
    .labels = {[PE_LABEL_CURRENT] = {.defined = 1, .threshold = 0.5}},
    .bos = PE_BOS_TOKENIZER,
    .reference_bf16 = 1, /* torch_dtype=torch.bfloat16 in the reference */
    .tiny = {.architecture = "Qwen2ForProcessRewardModel", .model_type = "qwen2", .tokenizer = PE_TINY_TOK_QWEN2,
             .attn_bias = 1, .qwen_window_keys = 1, .rope_theta = 10000.0, .rms_norm_eps = 1e-6, .max_pos = 4096},
};
