#include "cpu_ops.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "blas.h"
#include "cpu_weights.h"

void pe_embed_forward(float *out, const int32_t *tokens, const void *table, pe_dtype dtype,
                      int64_t ntok, int H)
{
    #pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < ntok; t++)
        pe_cpu_convert_f32(table, dtype, (size_t)tokens[t] * (size_t)H, (size_t)H,
                           out + (size_t)t * (size_t)H);
}

void pe_rmsnorm_forward(float *out, const float *x, const float *w, int64_t ntok, int H, float eps)
{
    #pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < ntok; t++) {
        const float *xr = x + (size_t)t * (size_t)H;
        float *o = out + (size_t)t * (size_t)H;
        float ss = 0.0f;
        #pragma omp simd reduction(+:ss)
        for (int i = 0; i < H; i++)
            ss += xr[i] * xr[i];
        float r = 1.0f / sqrtf(ss / (float)H + eps);
        for (int i = 0; i < H; i++)
            o[i] = w[i] * (xr[i] * r);
    }
}

void pe_rope_inv_freq(float *inv_freq, int D, double theta, int llama3, double factor,
                      double low_freq_factor, double high_freq_factor, int original_max_pos)
{
    for (int i = 0; i < D / 2; i++) {
        double f = pow(theta, -2.0 * i / (double)D);
        if (llama3) {
            /* Long wavelengths (beyond the original context) are slowed down by
             * factor, short ones kept; in between a linear blend in 1/wavelen. */
            double low_wl = original_max_pos / low_freq_factor;
            double high_wl = original_max_pos / high_freq_factor;
            double wl = 2.0 * M_PI / f;
            if (wl > low_wl) {
                f = f / factor;
            } else if (wl >= high_wl) {
                double s = (original_max_pos / wl - low_freq_factor) /
                           (high_freq_factor - low_freq_factor);
                f = (1.0 - s) * f / factor + s * f;
            }
        }
        inv_freq[i] = (float)f;
    }
}

void pe_rope_table(float *cos_t, float *sin_t, const int32_t *pos, const float *inv_freq,
                   int64_t ntok, int D)
{
    int half = D / 2;
    #pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < ntok; t++) {
        for (int i = 0; i < half; i++) {
            /* The angle in double: pos * inv_freq reaches thousands of radians,
             * where fp32 would keep only 3-4 significant digits of the phase. */
            double a = (double)pos[t] * (double)inv_freq[i];
            cos_t[(size_t)t * half + i] = (float)cos(a);
            sin_t[(size_t)t * half + i] = (float)sin(a);
        }
    }
}

void pe_rope_forward(float *x, const float *cos_t, const float *sin_t, int64_t ntok,
                     size_t stride, int nheads, int D)
{
    int half = D / 2;
    #pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < ntok; t++) {
        const float *c = cos_t + (size_t)t * half;
        const float *s = sin_t + (size_t)t * half;
        for (int h = 0; h < nheads; h++) {
            float *v = x + (size_t)t * stride + (size_t)h * D;
            /* rotate_half: (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin) */
            for (int i = 0; i < half; i++) {
                float a = v[i], b = v[i + half];
                v[i] = a * c[i] - b * s[i];
                v[i + half] = b * c[i] + a * s[i];
            }
        }
    }
}

void pe_matmul_forward(float *out, const float *x, const float *w, const float *b, const pe_row_groups *rows,
                       int C, int OC, int accumulate, const pe_blas_stage *stage)
{
    int64_t ntok = rows->start[rows->n];
    float beta = accumulate ? 1.0f : 0.0f;
    if (b) {
        if (accumulate) {
            #pragma omp parallel for schedule(static)
            for (int64_t t = 0; t < ntok; t++)
                for (int o = 0; o < OC; o++)
                    out[(size_t)t * OC + o] += b[o];
        } else {
            #pragma omp parallel for schedule(static)
            for (int64_t t = 0; t < ntok; t++)
                memcpy(out + (size_t)t * OC, b, (size_t)OC * sizeof(float));
        }
        beta = 1.0f; /* the bias is already in out */
    }
    pe_blas_sgemm_nt_groups(rows, OC, C, 1.0f, x, C, w, C, beta, out, OC, stage);
}

/* The rows i0 .. i1-1 of a span that holds positions a .. a+n-1 which fall
 * in lo .. hi. */
static inline void clip_span(int64_t a, int64_t n, int64_t lo, int64_t hi, int64_t *i0, int64_t *i1)
{
    *i0 = lo > a ? lo - a : 0;
    *i1 = hi + 1 - a < n ? hi + 1 - a : n;
    if (*i1 < *i0)
        *i1 = *i0;
}

void pe_attention_forward(float *out, const float *qkv, size_t qkv_stride,
                          const int64_t *seq_start, int nseq, const int64_t *pos0,
                          const int *span_start, const pe_kv_span *spans,
                          int NH, int NKV, int D, int window, float *scratch, int64_t max_len)
{
    int group = NH / NKV;
    float scale = 1.0f / sqrtf((float)D);
    size_t koff = (size_t)NH * D, voff = koff + (size_t)NKV * D;
    int64_t ntok = seq_start[nseq];
    /* One (query, head) per iteration; the query's segment is found by a
     * binary search over seq_start, cheap next to the dot products. */
    #pragma omp parallel
    {
        float *p = scratch + (size_t)omp_get_thread_num() * (size_t)max_len;
        #pragma omp for schedule(dynamic, 16)
        for (int64_t th = 0; th < ntok * NH; th++) {
            int64_t t = th / NH;
            int h = (int)(th % NH);
            int lo = 0, hi = nseq - 1; /* the last segment starting at or before t */
            while (lo < hi) {
                int mid = (lo + hi + 1) / 2;
                if (seq_start[mid] <= t) lo = mid; else hi = mid - 1;
            }
            const int64_t own = seq_start[lo];
            const pe_kv_span self = {qkv + (size_t)own * qkv_stride + koff, qkv + (size_t)own * qkv_stride + voff, qkv_stride,
                                     seq_start[lo + 1] - own};
            /* the keys: the ancestors' spans c0 .. c1-1, then (c == c1) the segment's own rows */
            const int c0 = pos0 ? span_start[lo] : 0, c1 = pos0 ? span_start[lo + 1] : 0;
            const int64_t pos = (pos0 ? pos0[lo] : 0) + t - own;
            const int64_t first = window > 0 && pos >= window ? pos - window + 1 : 0;
            const float *q = qkv + (size_t)t * qkv_stride + (size_t)h * D;
            size_t kvh = (size_t)(h / group) * D;
            float mx = -INFINITY;
            int64_t n = 0, a = 0, i0, i1;
            for (int c = c0; c <= c1; a += (c < c1 ? spans[c].len : 0), c++) {
                const pe_kv_span *sp = c < c1 ? &spans[c] : &self;
                clip_span(a, sp->len, first, pos, &i0, &i1);
                for (int64_t i = i0; i < i1; i++) {
                    const float *k = sp->k + (size_t)i * sp->stride + kvh;
                    float s = 0.0f;
                    #pragma omp simd reduction(+:s)
                    for (int d = 0; d < D; d++)
                        s += q[d] * k[d];
                    s *= scale;
                    p[n++] = s;
                    if (s > mx) mx = s;
                }
            }
            float sum = 0.0f;
            for (int64_t j = 0; j < n; j++) {
                float e = expf(p[j] - mx);
                p[j] = e;
                sum += e;
            }
            float inv = 1.0f / sum;
            float *o = out + (size_t)t * (size_t)NH * D + (size_t)h * D;
            for (int d = 0; d < D; d++)
                o[d] = 0.0f;
            n = a = 0;
            for (int c = c0; c <= c1; a += (c < c1 ? spans[c].len : 0), c++) {
                const pe_kv_span *sp = c < c1 ? &spans[c] : &self;
                clip_span(a, sp->len, first, pos, &i0, &i1);
                for (int64_t i = i0; i < i1; i++) {
                    const float *v = sp->v + (size_t)i * sp->stride + kvh;
                    float pj = p[n++] * inv;
                    #pragma omp simd
                    for (int d = 0; d < D; d++)
                        o[d] += pj * v[d];
                }
            }
        }
    }
}

void pe_swiglu_forward(float *out, const float *gu, int64_t ntok, int F)
{
    #pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < ntok; t++) {
        const float *g = gu + (size_t)t * 2 * (size_t)F;
        const float *u = g + F;
        float *o = out + (size_t)t * (size_t)F;
        for (int i = 0; i < F; i++)
            o[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}
