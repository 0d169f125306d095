#include "cuda_ref.h"

#include <math.h>
#include <string.h>

#define PE_REF_MAX_D 512

float pe_round_bf16(float x) { return pe_f32_from_bf16(pe_bf16_from_f32(x)); }

int64_t pe_attn_plan(const pe_batch *b, const pe_bf16 *qkv, int64_t ld, int64_t qcols,
                     const pe_bf16 *const *slot_kv, const int64_t *slot_len, int64_t kv_ld,
                     pe_attn_tile *tiles, pe_attn_span *spans, int64_t *nspans)
{
    int64_t nt = 0, ns = 0;
    for (int s = 0; s < b->nseq; s++) {
        int64_t r0 = b->seq_start[s], r1 = b->seq_start[s + 1];
        if (r1 <= r0)
            continue;
        int64_t first = ns, pos = 0; /* ancestors are contiguous from position 0 (pe_batch_check) */
        int c0 = b->ctx_start ? b->ctx_start[s] : 0, c1 = b->ctx_start ? b->ctx_start[s + 1] : 0;
        for (int c = c0; c <= c1; c++, ns++) { /* c == c1: the segment's own rows */
            int seg = c < c1 ? b->ctx[c].seg : s, slot = c < c1 ? b->ctx[c].slot : -1;
            int64_t n = seg >= 0 ? b->seq_start[seg + 1] - b->seq_start[seg] : slot_len[slot];
            if (spans) {
                pe_attn_span *a = &spans[ns];
                if (seg >= 0)
                    *a = (pe_attn_span){qkv + (size_t)b->seq_start[seg] * (size_t)ld + (size_t)qcols, ld, 0, pos, n};
                else
                    *a = (pe_attn_span){slot_kv[slot], kv_ld, n * kv_ld, pos, n};
            }
            pos += n;
        }
        for (int64_t q0 = r0; q0 < r1; q0 += PE_ATTN_BQ, nt++)
            if (tiles)
                tiles[nt] = (pe_attn_tile){q0, r1, (b->pos0 ? b->pos0[s] : 0) + q0 - r0, (int32_t)first,
                                           (int32_t)ns};
    }
    if (nspans)
        *nspans = ns;
    return nt;
}

void pe_ref_embed_f32(float *out, const pe_bf16 *table, const int32_t *tokens, int64_t ntok, int H)
{
    for (int64_t t = 0; t < ntok; t++)
        for (int c = 0; c < H; c++)
            out[(size_t)t * H + c] = pe_f32_from_bf16(table[(size_t)tokens[t] * H + c]);
}

void pe_ref_embed_bf16(pe_bf16 *out, const pe_bf16 *table, const int32_t *tokens, int64_t ntok, int H)
{
    for (int64_t t = 0; t < ntok; t++)
        memcpy(out + (size_t)t * H, table + (size_t)tokens[t] * H, (size_t)H * sizeof *out);
}

void pe_ref_rmsnorm(pe_bf16 *out, const float *x, const pe_bf16 *w, int64_t nrow, int H, float eps)
{
    for (int64_t r = 0; r < nrow; r++) {
        const float *xr = x + (size_t)r * H;
        double ss = 0.0;
        for (int c = 0; c < H; c++)
            ss += (double)xr[c] * xr[c];
        float inv = (float)(1.0 / sqrt(ss / H + eps));
        for (int c = 0; c < H; c++)
            out[(size_t)r * H + c] = pe_bf16_from_f32(pe_round_bf16(xr[c] * inv) * pe_f32_from_bf16(w[c]));
    }
}

void pe_ref_rope(float *x, int64_t ntok, int64_t ld, int nheads, int D, const int32_t *pos,
                 const float *inv_freq)
{
    int half = D / 2;
    for (int64_t t = 0; t < ntok; t++)
        for (int h = 0; h < nheads; h++) {
            float *v = x + (size_t)t * ld + (size_t)h * D;
            for (int j = 0; j < half; j++) {
                float ang = (float)pos[t] * inv_freq[j];   /* fp32 product, as torch forms it */
                double c = cos(ang), s = sin(ang);
                double a = v[j], b = v[j + half];
                v[j] = (float)(a * c - b * s);
                v[j + half] = (float)(b * c + a * s);
            }
        }
}

void pe_ref_bias_add(float *x, const pe_bf16 *bias, int64_t nrow, int C)
{
    for (int64_t r = 0; r < nrow; r++)
        for (int c = 0; c < C; c++)
            x[(size_t)r * C + c] += pe_f32_from_bf16(bias[c]);
}

void pe_ref_bias_relu_bf16(pe_bf16 *out, const float *x, const pe_bf16 *bias, int64_t nrow, int C)
{
    for (int64_t r = 0; r < nrow; r++)
        for (int c = 0; c < C; c++) {
            float v = x[(size_t)r * C + c] + (bias ? pe_f32_from_bf16(bias[c]) : 0.0f);
            out[(size_t)r * C + c] = pe_bf16_from_f32(v > 0.0f ? v : 0.0f);
        }
}

void pe_ref_cast_bf16(pe_bf16 *out, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = pe_bf16_from_f32(x[i]);
}

void pe_ref_residual_add(float *h, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h[i] += x[i];
}

void pe_ref_swiglu(pe_bf16 *out, const pe_bf16 *gu, int64_t ntok, int F)
{
    for (int64_t t = 0; t < ntok; t++)
        for (int f = 0; f < F; f++) {
            double g = pe_f32_from_bf16(gu[(size_t)t * 2 * F + f]);
            double u = pe_f32_from_bf16(gu[(size_t)t * 2 * F + F + f]);
            out[(size_t)t * F + f] = pe_bf16_from_f32((float)(g / (1.0 + exp(-g)) * u));
        }
}

void pe_ref_attention(pe_bf16 *out, const pe_bf16 *qkv, int64_t ld, const pe_attn_tile *tiles,
                      int64_t ntiles, const pe_attn_span *spans, int layer, int NH, int NKV, int D,
                      int window)
{
    if (D > PE_REF_MAX_D)
        return;   /* documented precondition; the kernel itself stops at 128 */
    double scale = 1.0 / sqrt((double)D);
    int group = NH / NKV;
    /* Rows are independent: threads change the time (the GPU test's 16k-token
     * batch and 3,600-token sequences), never the result. */
    #pragma omp parallel for schedule(dynamic, 1)
    for (int64_t ti = 0; ti < ntiles; ti++) {
        const pe_attn_tile *t = &tiles[ti];
        int64_t rows = t->q_end - t->q0 < PE_ATTN_BQ ? t->q_end - t->q0 : PE_ATTN_BQ;
        for (int64_t r = 0; r < rows; r++)
            for (int h = 0; h < NH; h++) {
                int64_t qi = t->q0 + r, qp = t->qpos + r;
                const pe_bf16 *q = qkv + (size_t)qi * ld + (size_t)h * D;
                size_t kcol = (size_t)(h / group) * D, voff = (size_t)NKV * D;
                int64_t k_lo = window > 0 && qp - window + 1 > 0 ? qp - window + 1 : 0;
                double m = -INFINITY, l = 0.0, acc[PE_REF_MAX_D];
                for (int c = 0; c < D; c++)
                    acc[c] = 0.0;
                for (int j = t->span0; j < t->span1; j++) {
                    const pe_attn_span *a = &spans[j];
                    int64_t lo = k_lo > a->pos0 ? k_lo : a->pos0, hi = a->pos0 + a->n - 1 < qp ? a->pos0 + a->n - 1 : qp;
                    for (int64_t kp = lo; kp <= hi; kp++) {
                        const pe_bf16 *k = a->k + (size_t)layer * (size_t)a->layer_stride +
                                           (size_t)(kp - a->pos0) * (size_t)a->ld + kcol;
                        double dot = 0.0;
                        for (int c = 0; c < D; c++)
                            dot += (double)pe_f32_from_bf16(q[c]) * pe_f32_from_bf16(k[c]);
                        dot *= scale;
                        /* Running max keeps exp() in range, like the kernel's online softmax. */
                        double m_new = dot > m ? dot : m;
                        double alpha = exp(m - m_new), p = exp(dot - m_new);
                        for (int c = 0; c < D; c++)
                            acc[c] = acc[c] * alpha + p * pe_f32_from_bf16(k[voff + c]);
                        l = l * alpha + p;
                        m = m_new;
                    }
                }
                for (int c = 0; c < D; c++)
                    out[(size_t)qi * NH * D + (size_t)h * D + c] = pe_bf16_from_f32((float)(acc[c] / l));
            }
    }
}

void pe_ref_gather_rows(float *out, const float *h, const int64_t *rows, int64_t nrow, int H)
{
    for (int64_t i = 0; i < nrow; i++)
        memcpy(out + (size_t)i * H, h + (size_t)rows[i] * H, (size_t)H * sizeof *out);
}

static double pe_ref_dot_bf16(const pe_bf16 *x, const pe_bf16 *w, int H)
{
    double s = 0.0;
    for (int c = 0; c < H; c++)
        s += (double)pe_f32_from_bf16(x[c]) * pe_f32_from_bf16(w[c]);
    return s;
}

void pe_ref_head_rows(float *z, const pe_bf16 *x, const pe_bf16 *w, const pe_bf16 *b, int64_t nrow, int R, int H)
{
    for (int64_t r = 0; r < nrow; r++)
        for (int j = 0; j < R; j++)
            z[(size_t)r * R + j] = (float)(pe_ref_dot_bf16(x + (size_t)r * H, w + (size_t)j * H, H) +
                                           (b ? pe_f32_from_bf16(b[j]) : 0.0));
}

void pe_ref_lse_pick(float *reward, const float *logits, int64_t nrow, int V, int tok)
{
    for (int64_t r = 0; r < nrow; r++) {
        const float *z = logits + (size_t)r * V;
        double m = -INFINITY, s = 0.0;
        for (int c = 0; c < V; c++)
            if (z[c] > m)
                m = z[c];
        for (int c = 0; c < V; c++)
            s += exp(z[c] - m);
        reward[r] = (float)(exp(z[tok] - m) / s);
    }
}

void pe_ref_matmul_bf16(float *out, const pe_bf16 *x, const pe_bf16 *w, int64_t M, int64_t N,
                        int64_t K)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0.0;
            for (int64_t k = 0; k < K; k++)
                s += (double)pe_f32_from_bf16(x[(size_t)i * K + k]) *
                     pe_f32_from_bf16(w[(size_t)j * K + k]);
            out[(size_t)i * N + j] = (float)s;
        }
}
