/* reasoneval: GAIR/ReasonEval-7B (Mistral body) and GAIR/ReasonEval-34B
 * (Llama body), PRMBench's mr_eval/models/reasoneval.py. Two descriptors,
 * one per checkpoint, since their read-outs differ: the reference's index
 * arithmetic reads the 7B one token early (the second-to-last token of each
 * step), and the published numbers are that reading's, so it is kept. */
#include "build.h"

#include <stdlib.h>

/* "Question:\n" + q + "\nAnswer:\nLet's think step by step.\n" + SEP + s_1 + SEP + ... + s_n + SEP,
 * s_i = strip_prefix(step_i), SEP the tokenizer's pad token text, encoded
 * once with special tokens (BOS first; SEP matched as an added token). */
static int prompt_with(const char *sep, const char *q, int nsteps, char *const *steps, pe_step_cleaner *clean,
                       pe_segments *s, pe_err *e)
{
    pe_sbuf b = {0};
    int rc = pe_seg_add(s, PE_SEG_BOS, "", 0, 0, 0, e);
    if (!rc && !(rc = pe_sb_str(&b, "Question:\n", e)) && !(rc = pe_sb_str(&b, q, e)) &&
        !(rc = pe_sb_str(&b, "\nAnswer:\nLet's think step by step.\n", e)))
        rc = pe_seg_text(s, b.p, e);
    free(b.p);
    if (!rc)
        rc = pe_seg_special(s, sep, 0, e);
    for (int i = 0; !rc && i < nsteps; i++) {
        char *c = pe_clean_step(clean, steps[i], e);
        if (!c) {
            rc = e->code;
            break;
        }
        if (*c)
            rc = pe_seg_text(s, c, e);
        free(c);
        /* the separator closing step i: the step's read-out is just before it */
        if (!rc)
            rc = pe_seg_special(s, sep, 1, e);
    }
    return rc;
}

static int prompt_7b(const pe_family_opts *o, const char *q, int nsteps, char *const *steps, pe_step_cleaner *clean,
                     pe_segments *s, pe_err *e)
{
    (void)o;
    return prompt_with("<s>", q, nsteps, steps, clean, s, e); /* the 7B's pad token is "<s>", BOS itself */
}

static int prompt_34b(const pe_family_opts *o, const char *q, int nsteps, char *const *steps, pe_step_cleaner *clean,
                      pe_segments *s, pe_err *e)
{
    (void)o;
    return prompt_with("<pad>", q, nsteps, steps, clean, s, e);
}

/* score_head: Linear(H, 3, bias=False) on the final-norm hidden state;
 * softmax over [negative, neutral, positive]: validity p1 + p2, redundancy p1. */
#define REASONEVAL_HEAD                                                                                    \
    {.rows = PE_ROWS_TENSOR, .read = PE_READ_VALIDITY_REDUNDANCY, .nrows = 3, .nout = 2, .w = "score_head.weight"}
/* validity v > 0.5; the redundency and circular classes: not (u > 0.15) */
#define REASONEVAL_LABELS {[PE_LABEL_CURRENT] = {.defined = 1, .threshold = 0.5, .redundancy = 1, .redundancy_threshold = 0.15}}

static const char *const arch_7b[] = {"ReasonEval_7B", NULL};
static const char *const arch_34b[] = {"ReasonEval_34B", NULL};

const pe_family pe_prm_reasoneval_7b = {
    .name = "reasoneval-7b",
    .checkpoint = "GAIR/ReasonEval-7B",
    .architectures = arch_7b,
    .auto_architectures = arch_7b,
    .prompt = prompt_7b,
    /* e_i - 1: the reference's off-by-one on the 7B */
    .readout = {PE_RO_SEP_REMOVED, "<s>", -1, NULL},
    .head = REASONEVAL_HEAD,
    .labels = REASONEVAL_LABELS,
    .bos = PE_BOS_TOKENIZER,
    .no_readout_invalid = 1,
    .reference_bf16 = 1, /* torch_dtype=torch.bfloat16 in the reference */
    .tiny = {.architecture = "ReasonEval_7B", .model_type = "mistral", .tokenizer = PE_TINY_TOK_SPM,
             .mistral_window = 1, .rope_theta = 10000.0, .rms_norm_eps = 1e-5, .max_pos = 32768,
             .extra_config = "{\"score_dimension\": 3, \"use_bias\": false}"},
};

const pe_family pe_prm_reasoneval_34b = {
    .name = "reasoneval-34b",
    .checkpoint = "GAIR/ReasonEval-34B",
    .architectures = arch_34b,
    .auto_architectures = arch_34b,
    .prompt = prompt_34b,
    .readout = {PE_RO_SEP_REMOVED, "<pad>", 0, NULL},
    .head = REASONEVAL_HEAD,
    .labels = REASONEVAL_LABELS,
    .bos = PE_BOS_TOKENIZER,
    .no_readout_invalid = 1,
    .reference_bf16 = 1, /* torch_dtype=torch.bfloat16 in the reference */
    /* the tiny SPM tokenizer has no "<pad>": pad_token adds it (as the 34B's vocabulary of 32032 does) */
    .tiny = {.architecture = "ReasonEval_34B", .model_type = "llama", .tokenizer = PE_TINY_TOK_SPM,
             .pad_token = "<pad>", .llama_keys = 1, .rope_theta = 1000000.0, .rms_norm_eps = 1e-5, .max_pos = 4096,
             .extra_config = "{\"score_dim\": 3, \"bias\": false}"},
};
