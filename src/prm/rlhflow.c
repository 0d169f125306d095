/* rlhflow: RLHFlow/Llama3.1-8B-PRM-Mistral-Data (and -Deepseek-Data),
 * PRMBench's mr_eval/models/llama3_1_8b_prm.py. */
#include "build.h"

#include <stdlib.h>

static int prompt(const pe_family_opts *o, const char *q, int nsteps, char *const *steps, pe_step_cleaner *clean,
                  pe_segments *s, pe_err *e)
{
    /* Llama-3.1 chat template, user/assistant turns, add_generation_prompt=False;
     * each content goes through Jinja's `| trim` (= Python str.strip()). */
    int rc = pe_seg_add(s, PE_SEG_BOS, "", 0, 0, 0, e);
    if (!rc && o->rlhflow_system_block) {
        rc = pe_seg_special(s, "<|start_header_id|>", 0, e);
        if (!rc) rc = pe_seg_text(s, "system", e);
        if (!rc) rc = pe_seg_special(s, "<|end_header_id|>", 0, e);
        if (!rc) rc = pe_seg_text(s, "\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n", e);
        if (!rc) rc = pe_seg_special(s, "<|eot_id|>", 0, e);
    }
    pe_sbuf b = {0};
    for (int i = 0; !rc && i < nsteps; i++) {
        char *c = pe_clean_step(clean, steps[i], e);
        if (!c) {
            rc = e->code;
            break;
        }
        b.n = 0;
        if (i == 0) {
            rc = pe_sb_str(&b, q, e);
            if (!rc) rc = pe_sb_str(&b, " ", e);
        }
        if (!rc) rc = pe_sb_str(&b, c, e);
        free(c);
        char *content = rc ? NULL : pe_py_strip(b.p, b.n, NULL, e);
        if (!rc && !content)
            rc = e->code;
        if (!rc) rc = pe_seg_special(s, "<|start_header_id|>", 0, e);
        if (!rc) rc = pe_seg_text(s, "user", e);
        if (!rc) rc = pe_seg_special(s, "<|end_header_id|>", 0, e);
        b.n = 0;
        if (!rc && !(rc = pe_sb_str(&b, "\n\n", e)) && !(rc = pe_sb_str(&b, content, e)))
            rc = pe_seg_text(s, b.p, e);
        free(content);
        if (!rc) rc = pe_seg_special(s, "<|eot_id|>", 0, e);
        if (!rc) rc = pe_seg_special(s, "<|start_header_id|>", 0, e);
        if (!rc) rc = pe_seg_text(s, "assistant", e);
        if (!rc) rc = pe_seg_special(s, "<|end_header_id|>", 0, e);
        /* Read-out: the "\n\n" token, 3 after <|start_header_id|>, predicts "+". */
        if (!rc) rc = pe_seg_add(s, PE_SEG_TEXT, "\n\n", 2, 0, 1, e);
        if (!rc) rc = pe_seg_text(s, "+", e);
        if (!rc) rc = pe_seg_special(s, "<|eot_id|>", 0, e);
    }
    free(b.p);
    return rc;
}

static const char *const arch[] = {"LlamaForCausalLM", NULL};

const pe_family pe_prm_rlhflow = {
    .name = "rlhflow",
    .checkpoint = "RLHFlow/Llama3.1-8B-PRM-Mistral-Data",
    .architectures = arch,
    .auto_architectures = arch,
    .prompt = prompt,
    /* the reference's score_locations = [i + 3 ...] over matches of the
     * assistant turn's token pattern */
    .readout = {PE_RO_PATTERN, "<|start_header_id|>assistant<|end_header_id|>\n\n+<|eot_id|>", 3, NULL},
    .head = {.rows = PE_ROWS_LM_FULL, .read = PE_READ_VOCAB_PROB, .nrows = 1, .nout = 1, .tokens = "+"},
    .labels = {[PE_LABEL_CURRENT] = {.defined = 1, .threshold = 0.5}},
    .bos = PE_BOS_TOKENIZER,
    .tiny = {.architecture = "LlamaForCausalLM", .model_type = "llama", .tokenizer = PE_TINY_TOK_LLAMA3,
             .lm_head = 1, .rope_llama3 = 1, .llama_keys = 1, .rope_theta = 500000.0, .rms_norm_eps = 1e-5,
             .max_pos = 131072},
};
