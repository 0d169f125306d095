/* The vocabulary of PRM heads: what a family computes from the final-normed
 * hidden state at each read-out position. Plain data shared by the PRM layer
 * (which chooses a head), the model layer (which validates its tensors once)
 * and the backends (which compute its logits and trust that validation).
 *
 * A head is two stages:
 *   rows: R logits per read-out, z = W h (+ b), optionally after a hidden
 *         Linear(H,H) + ReLU (qwen-prm's score.0); W is a head tensor, chosen
 *         rows of the LM head, or the mean of the LM head's rows;
 *   read: the rewards from the R logits (pe_head_read_rewards, shared by the
 *         backends so the rule lives once).
 * The full-vocabulary softmax (rlhflow) needs every LM-head row: its backend
 * path computes p(tok) directly (PE_ROWS_LM_FULL). */
#ifndef PE_PRM_HEAD_H
#define PE_PRM_HEAD_H

#include <stdint.h>

typedef enum {
    PE_ROWS_TENSOR = 1,  /* head tensor w (R, H) [+ bias b (R)], optional hidden mlp */
    PE_ROWS_LM_TOKENS,   /* LM-head rows of the R token ids tok[] */
    PE_ROWS_LM_MEAN,     /* one row: the mean of the LM head's rows (mean logit over the vocabulary) */
    PE_ROWS_LM_FULL      /* the whole LM head: full-vocabulary softmax, p(tok[0]) */
} pe_head_rows;

typedef enum {
    PE_READ_SOFTMAX_PICK = 1, /* softmax over the R logits, p[pick] */
    PE_READ_SIGMOID,          /* R = 1: sigmoid(z) */
    PE_READ_RAW,              /* R = 1: z itself */
    PE_READ_SOFTMAX_DIFF,     /* R = 2: p1 - p0 */
    PE_READ_VOCAB_PROB,       /* PE_ROWS_LM_FULL only: the backend's p(tok[0]) */
    PE_READ_VALIDITY_REDUNDANCY /* R = 3, softmax over [negative, neutral, positive]:
                                   two rewards, validity p1 + p2 and redundancy p1 (ReasonEval) */
} pe_head_read;

enum { PE_HEAD_MAX_ROWS = 4, PE_HEAD_MAX_OUT = 2 };

/* A family's head as its descriptor states it. */
typedef struct pe_head_desc {
    pe_head_rows rows;
    pe_head_read read;
    int nrows;             /* R: logits per read-out (1 for LM_MEAN and LM_FULL) */
    int nout;              /* rewards per read-out (1; 2 for multi-reward heads) */
    int pick;              /* PE_READ_SOFTMAX_PICK: the class taken */
    /* PE_ROWS_TENSOR: tensor names; mlp_* NULL = no hidden layer; b NULL = no bias */
    const char *mlp_w, *mlp_b, *w, *b;
    /* PE_ROWS_LM_TOKENS / LM_FULL: text whose ids (encoded without special
     * tokens) are the rows, e.g. "+ -" -> 2 ids; must give exactly nrows
     * ids (1 for LM_FULL). */
    const char *tokens;
} pe_head_desc;

/* The head of a run: the descriptor plus the token ids looked up in the
 * tokenizer. */
typedef struct pe_head_spec {
    pe_head_desc d;
    int32_t tok[PE_HEAD_MAX_ROWS];
} pe_head_spec;

/* Rewards from logits: z is (nread, R) row-major, out (nread, nout). Not for
 * PE_READ_VOCAB_PROB (the backend's probabilities are the rewards). */
void pe_head_read_rewards(const pe_head_desc *h, const float *z, int64_t nread, float *out);

/* The rewards of one read-out (h->nout values, in place) as the reference
 * sees them when its model runs in bf16: the probabilities the reward is made
 * of are bf16 tensors (round to nearest even) and the reward is computed from
 * them as the reference computes it (PRMBench's mr_eval/models/ files):
 *   softmax-pick, sigmoid, raw, vocab-prob: bf16(r);
 *   softmax-diff (pure-prm): p1 - p0 of two bf16 probabilities, in bf16:
 *     bf16(bf16(p1) - bf16(p0)), p1 = (1 + r)/2, p0 = (1 - r)/2 (a tie gives 0);
 *   validity-redundancy (reasoneval): u = bf16(p1), v = bf16(p1) + bf16(p2) in
 *     double (the reference adds Python floats), p2 = v - u.
 * The probabilities are rebuilt from the fp32 rewards, so a probability within
 * about 1e-7 of a bf16 rounding boundary may round the other way. */
void pe_head_round_bf16(const pe_head_desc *h, double *r);

/* "" when the descriptor is complete and consistent, else what is wrong
 * (static text), e.g. "nrows must be 2 for softmax-diff". */
const char *pe_head_desc_problem(const pe_head_desc *h);

#endif
