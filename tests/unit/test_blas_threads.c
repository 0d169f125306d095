/* The CPU backend's matrix product gives the same bits for any thread count,
 * and a group of rows (a sequence of a packed batch) gets the same bits
 * whichever other groups share its call (so for any packing, rank count or
 * resume). Shapes are Qwen2.5-0.5B's (hidden 896, FFN 4864): large enough that
 * OpenBLAS's own threading splits them differently at 1, 2 and 3 threads, and
 * OpenBLAS's single-threaded result for a row changes with the rows around it
 * (both seen on this project's CI machines before blas_loader.c tiled the
 * product). A double-precision product checks that the tiling computes the
 * right thing at all. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/blas.h"
#include "check.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static float urand(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

static float *rand_mat(size_t n)
{
    float *m = malloc(n * sizeof *m);
    for (size_t i = 0; i < n; i++)
        m[i] = urand();
    return m;
}

/* How far C is from the double-precision product, relative to sum |a b|. */
static double worst_error(const float *C, const float *A, const float *B, const float *C0, int M, int N, int K,
                          float beta)
{
    double worst = 0;
    for (int i = 0; i < M; i += 7)
        for (int j = 0; j < N; j += 5) {
            double s = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                s += (double)A[(size_t)i * K + k] * B[(size_t)j * K + k];
                mag += fabs((double)A[(size_t)i * K + k] * B[(size_t)j * K + k]);
            }
            s += beta * (double)C0[(size_t)i * N + j];
            double err = fabs(C[(size_t)i * N + j] - s) / (mag + 1e-30);
            if (err > worst)
                worst = err;
        }
    return worst;
}

static size_t count_differ(const float *a, const float *b, size_t n)
{
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return d;
}

static pe_blas_stage *stage_for(int K, int ngroups)
{
    pe_blas_stage *s = malloc(sizeof *s);
    s->floats = pe_blas_stage_floats(K, 3, ngroups);
    s->mem = malloc(s->floats * sizeof(float));
    return s;
}

static void stage_free(pe_blas_stage *s)
{
    free(s->mem);
    free(s);
}

/* M rows in the groups rows->start[0..n] (start[n] = M). */
static void one_shape(const pe_row_groups *rows, int N, int K, float beta)
{
    int M = (int)rows->start[rows->n], ngroups = rows->n;
    float *A = rand_mat((size_t)M * K), *B = rand_mat((size_t)N * K), *C0 = rand_mat((size_t)M * N);
    pe_blas_stage *stage = stage_for(K, ngroups);
    size_t bytes = (size_t)M * N * sizeof(float);
    float *ref = malloc(bytes), *C = malloc(bytes);
    for (int threads = 1; threads <= 3; threads++) {
        pe_backend_cpu_threads(threads);
        float *out = threads == 1 ? ref : C;
        memcpy(out, C0, bytes);
        pe_blas_sgemm_nt_groups(rows, N, K, 1.0f, A, K, B, K, beta, out, N, stage);
        size_t d = threads > 1 ? count_differ(ref, C, (size_t)M * N) : 0;
        if (d)
            fprintf(stderr, "M=%d (%d groups) N=%d K=%d beta=%g: %zu of %zu results differ between 1 and %d threads\n",
                    M, ngroups, N, K, beta, d, (size_t)M * N, threads);
        CHECK(d == 0);
    }
    double err = worst_error(ref, A, B, C0, M, N, K, beta);
    if (err > 1e-5)
        fprintf(stderr, "M=%d N=%d K=%d: error %.3g against the double product\n", M, N, K, err);
    CHECK(err <= 1e-5);

    /* Each group on its own (another batch, another rank): the same bits.
     * Computed into a fresh buffer at offset 0, so placement in memory and the
     * neighbouring groups both change. */
    pe_backend_cpu_threads(2);
    for (int g = 0; g < ngroups; g++) {
        int64_t lo = rows->start[g], n = rows->start[g + 1] - lo, alone[2] = {0, n};
        int64_t align = rows->align ? rows->align[g] : 0;
        const pe_row_groups one = {alone, &align, 1};
        float *Cg = malloc((size_t)n * N * sizeof(float) + 1);
        memcpy(Cg, C0 + (size_t)lo * N, (size_t)n * N * sizeof(float));
        pe_blas_sgemm_nt_groups(&one, N, K, 1.0f, A + (size_t)lo * K, K, B, K, beta, Cg, N, stage);
        size_t d = count_differ(Cg, ref + (size_t)lo * N, (size_t)n * N);
        if (d)
            fprintf(stderr, "N=%d K=%d: group %d (rows %lld..%lld) has %zu results that differ when computed alone\n",
                    N, K, g, (long long)lo, (long long)(lo + n - 1), d);
        CHECK(d == 0);
        free(Cg);
    }
    free(A); free(B); free(C0); free(ref); free(C); stage_free(stage);
}

/* Prefix reuse: the rows from index a of a group of len rows, computed as a
 * group of their own aligned at a, get the bits of the whole group, when the
 * period was measured (below the tile). Returns the number of differing
 * results; *period the period. */
static size_t suffix_vs_whole(int len, int a, int N, int K, int *period)
{
    float *A = rand_mat((size_t)len * K), *B = rand_mat((size_t)N * K);
    pe_blas_stage *stage = stage_for(K, 1);
    float *whole = calloc((size_t)len * N, sizeof(float)), *part = calloc((size_t)len * N, sizeof(float));
    const int64_t w_rows[2] = {0, len}, p_rows[2] = {0, len - a}, at = a;
    const pe_row_groups w = {w_rows, NULL, 1}, p = {p_rows, &at, 1};
    pe_blas_sgemm_nt_groups(&w, N, K, 1.0f, A, K, B, K, 0.0f, whole, N, stage);
    pe_blas_sgemm_nt_groups(&p, N, K, 1.0f, A + (size_t)a * K, K, B, K, 0.0f, part, N, stage);
    *period = pe_blas_period(N, K, B, K);
    size_t d = count_differ(part, whole + (size_t)a * N, (size_t)(len - a) * N);
    free(A); free(B); stage_free(stage); free(whole); free(part);
    return d;
}

static void all_shapes(void)
{
    const int64_t one[2] = {0, 300};                      /* a single sequence */
    const int64_t packed[5] = {0, 1, 38, 290, 517};       /* four, one of them longer than a tile */
    const int64_t reads[4] = {0, 37, 120, 160};           /* read-out rows of three sequences */
    const int64_t small[3] = {0, 2, 3};
    const int64_t segs[7] = {0, 5, 17, 18, 140, 151, 160}; /* prefix-reuse segments */
    const int64_t seg_pos[6] = {0, 5, 22, 5, 230, 7};      /* their positions in their prompts */
    const pe_row_groups g_one = {one, NULL, 1}, g_packed = {packed, NULL, 4}, g_reads = {reads, NULL, 3};
    const pe_row_groups g_small = {small, NULL, 2}, g_segs = {segs, seg_pos, 6};
    one_shape(&g_one, 896, 896, 0.0f);        /* o_proj */
    one_shape(&g_packed, 1152, 896, 1.0f);    /* q/k/v with the bias already in C */
    one_shape(&g_reads, 896, 4864, 1.0f);     /* down_proj accumulating into the residual */
    one_shape(&g_packed, 9728, 896, 0.0f);    /* gate and up together */
    one_shape(&g_small, 5, 7, 0.0f);          /* smaller than any tile */
    one_shape(&g_segs, 1152, 896, 1.0f);      /* segments placed by their positions */
    one_shape(&g_segs, 896, 4864, 0.0f);
}

int main(void)
{
    pe_err e = {0};
    if (pe_blas_load(&e) != PE_OK) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    all_shapes();
    /* The measured periods: a segment after its prefix gets the whole prompt's bits. */
    int period = 0;
    const int lens[3] = {300, 97, 40}, offs[3] = {37, 1, 12};
    for (int i = 0; i < 3; i++) {
        size_t d = suffix_vs_whole(lens[i], offs[i], 1152, 896, &period);
        fprintf(stderr, "period of 1152 x 896 tiles: %d; rows %d.. of %d alone: %zu results differ\n", period,
                offs[i], lens[i], d);
        CHECK(period == pe_blas_force_period(0) || d == 0);
    }
    /* Per-group tiling (what happens when no period passes the probe): the
     * same invariances, with align ignored. */
    const int tile_m = pe_blas_force_period(pe_blas_force_period(0));
    all_shapes();
    CHECK(pe_blas_period(1152, 896, NULL, 896) == tile_m);
    pe_blas_force_period(0);
    return pe_check_done();
}
