/* skywork: Skywork/Skywork-o1-Open-PRM-Qwen-2.5-1.5B / -7B, PRMBench's
 * mr_eval/models/skywork_prm.py with SkyworkAI's prepare_input. */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>

static int prompt(const pe_family_opts *o, const char *q, int nsteps, char *const *steps, pe_step_cleaner *clean,
                  pe_segments *s, pe_err *e)
{
    (void)o;
    /* prepare_input: encode(bos_token + problem + "\n"), then the response
     * split on the step tag, each piece encoded alone + the step token id. */
    pe_sbuf b = {0};
    int rc = pe_seg_add(s, PE_SEG_BOS, "", 0, 0, 0, e);
    if (!rc && !(rc = pe_sb_str(&b, q, e)) && !(rc = pe_sb_str(&b, "\n", e)))
        rc = pe_seg_add(s, PE_SEG_TEXT, b.p, b.n, 1, 0, e);
    b.n = 0;
    for (int i = 0; !rc && i < nsteps; i++) {
        char *c = pe_clean_step(clean, steps[i], e);
        if (!c) {
            rc = e->code;
            break;
        }
        size_t len;
        char *cs = pe_py_strip(c, strlen(c), &len, e); /* clean_step.strip(): a no-op kept for clarity */
        free(c);
        if (!cs) {
            rc = e->code;
            break;
        }
        char head[32];
        snprintf(head, sizeof head, "Step %d: ", i + 1);
        if (!(rc = pe_sb_str(&b, head, e)) && !(rc = pe_sb_put(&b, cs, len, e)))
            rc = pe_sb_str(&b, " ки\n", e);
        free(cs);
    }
    /* response.split("ки"): every piece, the trailing "\n" one included (one
     * extra reward, as the reference has); an empty piece gives the step
     * token alone, as SkyworkAI's prepare_input does. */
    /* b.n, not b.p: with no steps the buffer still holds the question */
    if (!rc)
        rc = pe_seg_split_on_tag(s, b.n ? b.p : "", "ки", e);
    free(b.p);
    return rc;
}

/* Skywork ships a Qwen2 causal LM plus v_head; its config names Qwen2ForPrmModel.
 * Qwen2ForCausalLM is accepted but never automatic: too many non-PRM
 * checkpoints carry it, so skywork must be named for it. */
static const char *const arch[] = {"Qwen2ForPrmModel", "Qwen2ForCausalLM", NULL};
static const char *const arch_auto[] = {"Qwen2ForPrmModel", NULL};

const pe_family pe_prm_skywork = {
    .name = "skywork",
    .checkpoint = "Skywork/Skywork-o1-Open-PRM-Qwen-2.5-1.5B",
    .architectures = arch,
    .auto_architectures = arch_auto,
    .prompt = prompt,
    .readout = {PE_RO_MARKED, NULL, 0, NULL},
    /* ValueHead summary = Linear(H,1) with bias; sigmoid */
    .head = {.rows = PE_ROWS_TENSOR, .read = PE_READ_SIGMOID, .nrows = 1, .nout = 1,
             .w = "v_head.summary.weight", .b = "v_head.summary.bias"},
    /* current: PRMBench's difference rule; original: Skywork's r_i > 0.5 */
    .labels = {[PE_LABEL_CURRENT] = {.defined = 1, .difference = 1, .threshold = -0.05},
               [PE_LABEL_ORIGINAL] = {.defined = 1, .threshold = 0.5}},
    /* The reference writes tokenizer.bos_token + problem; Qwen2.5 tokenizer.json
     * files have no BOS, config.json's bos_token_id is the one meant. */
    .bos = PE_BOS_TOKEN_TEXT,
    /* Skywork's 1.5B PRM sits on Qwen2.5-1.5B, whose LM head is tied. */
    .tiny = {.architecture = "Qwen2ForPrmModel", .model_type = "qwen2", .tokenizer = PE_TINY_TOK_QWEN2,
             .bos_token = "<|endoftext|>", .attn_bias = 1, .tie_embeddings = 1, .qwen_window_keys = 1,
             .rope_theta = 10000.0, .rms_norm_eps = 1e-6, .max_pos = 4096},
};
