/* Head read-out rules (head.h): logits -> rewards, shared by every backend. */
#include "head.h"

#include <math.h>
#include <stddef.h>

#include "../core/half.h"

void pe_head_read_rewards(const pe_head_desc *h, const float *z, int64_t nread, float *out)
{
    int R = h->nrows, O = h->nout;
    for (int64_t r = 0; r < nread; r++) {
        const float *zr = z + (size_t)r * (size_t)R;
        float *o = out + (size_t)r * (size_t)O;
        switch (h->read) {
        case PE_READ_SOFTMAX_PICK:
            if (R == 2) {
                /* softmax over 2 = sigmoid of the difference, as the reference's
                 * two-class heads compute in fp32 */
                o[0] = 1.0f / (1.0f + expf(zr[1 - h->pick] - zr[h->pick]));
            } else {
                float mx = zr[0];
                for (int k = 1; k < R; k++)
                    if (zr[k] > mx) mx = zr[k];
                double s = 0.0;
                for (int k = 0; k < R; k++)
                    s += exp((double)(zr[k] - mx));
                o[0] = (float)(exp((double)(zr[h->pick] - mx)) / s);
            }
            break;
        case PE_READ_SIGMOID:
            o[0] = 1.0f / (1.0f + expf(-zr[0]));
            break;
        case PE_READ_RAW:
            o[0] = zr[0];
            break;
        case PE_READ_SOFTMAX_DIFF: {
            float mx = zr[0] > zr[1] ? zr[0] : zr[1];
            double e0 = exp((double)(zr[0] - mx)), e1 = exp((double)(zr[1] - mx));
            o[0] = (float)((e1 - e0) / (e0 + e1));
            break;
        }
        case PE_READ_VOCAB_PROB:
            o[0] = zr[0];
            break;
        case PE_READ_VALIDITY_REDUNDANCY: {
            float mx = zr[0];
            for (int k = 1; k < 3; k++)
                if (zr[k] > mx) mx = zr[k];
            double e0 = exp((double)(zr[0] - mx)), e1 = exp((double)(zr[1] - mx)), e2 = exp((double)(zr[2] - mx));
            double s = e0 + e1 + e2;
            o[0] = (float)((e1 + e2) / s);
            o[1] = (float)(e1 / s);
            break;
        }
        }
    }
}

void pe_head_round_bf16(const pe_head_desc *h, double *r)
{
    switch (h->read) {
    case PE_READ_SOFTMAX_DIFF: {
        /* torch: (p[:, 1] - p[:, 0]) on a bf16 tensor, the difference rounded again */
        double p1 = pe_bf16_round_f64((1.0 + r[0]) / 2.0), p0 = pe_bf16_round_f64((1.0 - r[0]) / 2.0);
        r[0] = pe_bf16_round_f64(p1 - p0);
        break;
    }
    case PE_READ_VALIDITY_REDUNDANCY: {
        /* softmax(...).tolist() gives bf16 values as Python floats; the
         * validity is their sum in double, the redundancy p1 itself */
        double p1 = pe_bf16_round_f64(r[1]), p2 = pe_bf16_round_f64(r[0] - r[1]);
        r[0] = p1 + p2;
        r[1] = p1;
        break;
    }
    case PE_READ_SOFTMAX_PICK:
    case PE_READ_SIGMOID:
    case PE_READ_RAW:
    case PE_READ_VOCAB_PROB:
        r[0] = pe_bf16_round_f64(r[0]);
        break;
    }
}

const char *pe_head_desc_problem(const pe_head_desc *h)
{
    if (h->rows < PE_ROWS_TENSOR || h->rows > PE_ROWS_LM_FULL)
        return "rows is not set";
    if (h->read < PE_READ_SOFTMAX_PICK || h->read > PE_READ_VALIDITY_REDUNDANCY)
        return "read is not set";
    if (h->nrows < 1 || h->nrows > PE_HEAD_MAX_ROWS)
        return "nrows must be 1..4";
    if (h->nout < 1 || h->nout > PE_HEAD_MAX_OUT)
        return "nout must be 1..2";
    if (h->rows == PE_ROWS_TENSOR && !h->w)
        return "a tensor head needs the tensor name w";
    if (h->rows != PE_ROWS_TENSOR && (h->w || h->b || h->mlp_w || h->mlp_b))
        return "an LM-head head names no head tensors";
    if (!h->mlp_w != !h->mlp_b)
        return "the hidden layer needs both mlp_w and mlp_b";
    if ((h->rows == PE_ROWS_LM_TOKENS || h->rows == PE_ROWS_LM_FULL) && !h->tokens)
        return "an LM-token head needs its token text";
    if (h->rows != PE_ROWS_LM_TOKENS && h->rows != PE_ROWS_LM_FULL && h->tokens)
        return "token text on a head that reads no tokens";
    if ((h->rows == PE_ROWS_LM_MEAN || h->rows == PE_ROWS_LM_FULL) && h->nrows != 1)
        return "LM-mean and full-vocabulary heads have one row";
    if ((h->rows == PE_ROWS_LM_FULL) != (h->read == PE_READ_VOCAB_PROB))
        return "the full-vocabulary head and the vocab-prob read go together";
    if ((h->read == PE_READ_SIGMOID || h->read == PE_READ_RAW) && h->nrows != 1)
        return "sigmoid and raw reads take one logit";
    if (h->read == PE_READ_SOFTMAX_DIFF && h->nrows != 2)
        return "softmax-diff takes two logits";
    if (h->read == PE_READ_SOFTMAX_PICK && (h->nrows < 2 || h->pick < 0 || h->pick >= h->nrows))
        return "softmax-pick needs 2+ logits and pick inside them";
    if (h->read == PE_READ_VALIDITY_REDUNDANCY)
        return h->nrows == 3 && h->nout == 2 ? "" : "validity-redundancy takes 3 logits and gives 2 rewards";
    if (h->nout != 1)
        return "this read gives one reward";
    return "";
}
