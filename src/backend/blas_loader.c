#include "blas.h"

#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/module.h"

typedef void (*sgemm_fn)(int, int, int, float, const float *, int, const float *, int, float,
                         float *, int);
typedef void (*threads_fn)(int);

static sgemm_fn sgemm;

int pe_blas_load(pe_err *e)
{
    if (sgemm)
        return PE_OK;
    static void *m; /* kept open: a second attempt after a failure would fail the same way */
    char why[2 * PATH_MAX + 512];
    if (!m && !(m = pe_module_open("libprmeval_blas.so", "PRMEVAL_BLAS_MODULE", why, sizeof why)))
        return pe_fail(e, PE_ERESOURCE, "the CPU backend needs OpenBLAS: %s", why);
    sgemm_fn g = (sgemm_fn)dlsym(m, "pe_blas_module_sgemm_nt");
    threads_fn t = (threads_fn)dlsym(m, "pe_blas_module_threads");
    if (!g || !t)
        return pe_fail(e, PE_ERESOURCE, "the CPU backend needs OpenBLAS: the module lacks %s",
                       g ? "pe_blas_module_threads" : "pe_blas_module_sgemm_nt");
    t(1); /* blas.h: the threads are ours (OpenMP over fixed tiles), never OpenBLAS's */
    sgemm = g;
    return PE_OK;
}

/* The tile: TILE_M a multiple of every period seen (1, 12) and of the
 * register blocks (4 to 16 rows), TILE_N wide enough that packing (M + N) x K
 * per tile stays small next to its 2 M N K flops, both small enough that 2-3
 * threads share a 0.5B model's products evenly. Changing them changes results
 * in the last bits (blas.h) and the speed (bench/bench_cpu_forward.sh), never
 * the invariances. */
enum { TILE_M = 96, TILE_N = 256 };

/* ---- periods (blas.h) ------------------------------------------------------------ */

static const int candidates[] = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48}; /* divisors of TILE_M below it */
enum { NPROBES = 3, MAX_SHAPES = 64 };

typedef struct shape_period {
    int n, K, period;
} shape_period;

static shape_period shapes[MAX_SHAPES];
static int nshapes, forced;
static pthread_mutex_t shapes_lock = PTHREAD_MUTEX_INITIALIZER;

/* Probe numbers of varied magnitudes (a mantissa times 2^-8 .. 2^8), so that
 * two different orders of summation almost surely round differently
 * somewhere in a row of results. */
static void probe_fill(float *v, size_t n, uint64_t *s)
{
    for (size_t k = 0; k < n; k++) {
        *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
        float m = (float)((*s >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
        v[k] = ldexpf(m, (int)((*s >> 20) % 17) - 8);
    }
}

static int rows_equal(const float *x, const float *y, int n)
{
    return memcmp(x, y, (size_t)n * sizeof(float)) == 0;
}

/* Whether period P holds for tiles of n columns of B and inner dimension K,
 * given C, the results of TILE_M copies of the row v (A): they repeat with
 * period P; calls of P rows and of about half TILE_M rows give the same
 * results; and copies of v among other rows (A2) give them too: the other
 * rows change nothing. D is TILE_M x n. */
static int period_holds(int P, int n, int K, const float *B, int ldb, const float *A, float *A2, const float *C,
                        float *D, const float *v, uint64_t *s)
{
    for (int i = P; i < TILE_M; i++)
        if (!rows_equal(C + (size_t)i * n, C + (size_t)(i % P) * n, n))
            return 0;
    const int shorter[2] = {P, (TILE_M / 2 + P - 1) / P * P};
    for (int c = 0; c < 2; c++) {
        sgemm(shorter[c], n, K, 1.0f, A, K, B, ldb, 0.0f, D, n);
        for (int i = 0; i < shorter[c]; i++)
            if (!rows_equal(D + (size_t)i * n, C + (size_t)i * n, n))
                return 0;
    }
    probe_fill(A2, (size_t)TILE_M * K, s);
    for (int i = 0; i < TILE_M; i += 5)
        memcpy(A2 + (size_t)i * K, v, (size_t)K * sizeof(float));
    sgemm(TILE_M, n, K, 1.0f, A2, K, B, ldb, 0.0f, D, n);
    for (int i = 0; i < TILE_M; i += 5)
        if (!rows_equal(D + (size_t)i * n, C + (size_t)i * n, n))
            return 0;
    return 1;
}

/* The smallest candidate that holds for NPROBES probe rows; TILE_M when none
 * does or memory is short (per-group tiling assumes nothing). */
static int measure_period(int n, int K, const float *B, int ldb)
{
    const size_t tile_a = (size_t)TILE_M * K, tile_c = (size_t)TILE_M * n;
    float *A = malloc((2 * tile_a + 2 * tile_c + (size_t)K) * sizeof(float));
    if (!A)
        return TILE_M;
    float *A2 = A + tile_a, *C = A2 + tile_a, *D = C + tile_c, *v = D + tile_c;
    const int ncand = (int)(sizeof candidates / sizeof candidates[0]);
    uint64_t s = 0x9e3779b97f4a7c15ull;
    int c = 0; /* the candidates below c failed a probe */
    for (int p = 0; p < NPROBES && c < ncand; p++) {
        probe_fill(v, (size_t)K, &s);
        for (int i = 0; i < TILE_M; i++)
            memcpy(A + (size_t)i * K, v, (size_t)K * sizeof(float));
        sgemm(TILE_M, n, K, 1.0f, A, K, B, ldb, 0.0f, C, n);
        while (c < ncand && !period_holds(candidates[c], n, K, B, ldb, A, A2, C, D, v, &s))
            c++;
    }
    free(A);
    return c < ncand ? candidates[c] : TILE_M;
}

/* The period of tiles of n columns, measured once per shape (a shape beyond
 * the table is measured again each time: slower, never wrong). */
static int tile_period(int n, int K, const float *B, int ldb)
{
    pthread_mutex_lock(&shapes_lock);
    int p = forced;
    for (int i = 0; i < nshapes && !p; i++)
        if (shapes[i].n == n && shapes[i].K == K)
            p = shapes[i].period;
    if (!p) {
        p = measure_period(n, K, B, ldb);
        if (nshapes < MAX_SHAPES)
            shapes[nshapes++] = (shape_period){n, K, p};
    }
    pthread_mutex_unlock(&shapes_lock);
    return p;
}

int pe_blas_period(int N, int K, const float *B, int ldb)
{
    int p = tile_period(N < TILE_N ? N : TILE_N, K, B, ldb);
    if (N > TILE_N && N % TILE_N) { /* the last column tile is another shape: both must hold */
        int q = tile_period(N % TILE_N, K, B + (size_t)(N / TILE_N) * TILE_N * (size_t)ldb, ldb), a = p, b = q;
        while (b) {
            int t = a % b;
            a = b;
            b = t;
        }
        p = p / a * q; /* the lcm of two divisors of TILE_M divides it */
    }
    return p;
}

int pe_blas_force_period(int period)
{
    pthread_mutex_lock(&shapes_lock);
    forced = period;
    pthread_mutex_unlock(&shapes_lock);
    return TILE_M;
}

/* ---- the placement of the rows ---------------------------------------------------- */

/* Rows are put in *places*: group g's rows at consecutive places from the
 * first place at or after the previous group's end that is congruent to
 * align[g] modulo P; with P = TILE_M (per-group tiling) from the next
 * multiple of TILE_M. Places in between are zero rows (gaps). */
typedef struct placement {
    const pe_row_groups *rows;
    int P;
} placement;

static int64_t group_len(const pe_row_groups *r, int g)
{
    return r->start[g + 1] - r->start[g];
}

static int64_t place_of(const placement *L, int g, int64_t end)
{
    int64_t a = L->P == TILE_M || !L->rows->align ? 0 : L->rows->align[g] % L->P;
    return end + ((a - end % L->P) % L->P + L->P) % L->P;
}

/* Group g and the place of its first row, walked forward. */
typedef struct cursor {
    int g;
    int64_t at;
} cursor;

static void cursor_next(const placement *L, cursor *c)
{
    int64_t end = c->at + group_len(L->rows, c->g);
    if (++c->g < L->rows->n)
        c->at = place_of(L, c->g, end);
}

/* The first group that ends after place q (cursors only move forward). */
static void cursor_seek(const placement *L, cursor *c, int64_t q)
{
    while (c->g < L->rows->n && c->at + group_len(L->rows, c->g) <= q)
        cursor_next(L, c);
}

/* The next run of rows within places q0 .. q1-1 from cursor c: places at ..
 * at+len-1 hold rows src .. src+len-1 of A. 0 when there is none. */
static int next_run(const placement *L, cursor *c, int64_t q0, int64_t q1, int64_t *at, int64_t *src,
                    int64_t *len)
{
    while (c->g < L->rows->n && c->at < q1) {
        int64_t lo = c->at > q0 ? c->at : q0, end = c->at + group_len(L->rows, c->g);
        int64_t hi = end < q1 ? end : q1, from = L->rows->start[c->g] + lo - c->at;
        cursor_next(L, c);
        if (lo < hi) {
            *at = lo;
            *src = from;
            *len = hi - lo;
            return 1;
        }
    }
    return 0;
}

/* ---- the product ------------------------------------------------------------------ */

size_t pe_blas_stage_floats(int K, int nthreads)
{
    return (size_t)nthreads * TILE_M * ((size_t)K + TILE_N);
}

/* The stage of one thread: a row tile of A (TILE_M x K) and of C (TILE_M x
 * TILE_N), with the row tile of A it holds (-1: none). */
typedef struct stage {
    float *a, *c;
    int64_t a_q0;
} stage;

/* One tile: places q0 .. q0+m-1 (from cursor c) and columns j .. j+n-1. Rows
 * that fill the tile consecutively are multiplied where they are (with
 * per-group tiling, a tile's rows always are: a shorter call); otherwise the
 * rows and the gaps are copied to the stage and back. */
static void run_tile(const placement *L, cursor c, int64_t q0, int m, int j, int n, int K, float alpha,
                     const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc, stage *st)
{
    const float *Bj = B + (size_t)j * (size_t)ldb;
    cursor first = c;
    int64_t at, src, len, next_at = q0, next_src = -1, covered = 0, src0 = -1;
    int consecutive = 1;
    while (next_run(L, &c, q0, q0 + m, &at, &src, &len)) {
        if (at != next_at || (next_src >= 0 && src != next_src))
            consecutive = 0;
        if (src0 < 0)
            src0 = src;
        next_at = at + len;
        next_src = src + len;
        covered += len;
    }
    if (consecutive && (covered == m || L->P == TILE_M)) {
        sgemm((int)covered, n, K, alpha, A + (size_t)src0 * (size_t)lda, lda, Bj, ldb, beta,
              C + (size_t)src0 * (size_t)ldc + (size_t)j, ldc);
        return;
    }
    if (st->a_q0 != q0) {
        memset(st->a, 0, (size_t)m * (size_t)K * sizeof(float));
        for (c = first; next_run(L, &c, q0, q0 + m, &at, &src, &len);)
            for (int64_t r = 0; r < len; r++)
                memcpy(st->a + (size_t)(at - q0 + r) * K, A + (size_t)(src + r) * (size_t)lda,
                       (size_t)K * sizeof(float));
        st->a_q0 = q0;
    }
    if (beta != 0.0f) {
        memset(st->c, 0, (size_t)m * (size_t)n * sizeof(float));
        for (c = first; next_run(L, &c, q0, q0 + m, &at, &src, &len);)
            for (int64_t r = 0; r < len; r++)
                memcpy(st->c + (size_t)(at - q0 + r) * n, C + (size_t)(src + r) * (size_t)ldc + j,
                       (size_t)n * sizeof(float));
    }
    sgemm(m, n, K, alpha, st->a, K, Bj, ldb, beta, st->c, n);
    for (c = first; next_run(L, &c, q0, q0 + m, &at, &src, &len);)
        for (int64_t r = 0; r < len; r++)
            memcpy(C + (size_t)(src + r) * (size_t)ldc + j, st->c + (size_t)(at - q0 + r) * n,
                   (size_t)n * sizeof(float));
}

void pe_blas_sgemm_nt_groups(const pe_row_groups *rows, int N, int K, float alpha, const float *A, int lda,
                             const float *B, int ldb, float beta, float *C, int ldc, float *stage_mem)
{
    if (!sgemm) { /* a caller that skipped pe_blas_load: a bug, not bad input */
        fprintf(stderr, "prmeval: internal error: matrix product before pe_blas_load\n");
        abort();
    }
    if (rows->start[rows->n] == 0 || N == 0)
        return;
    placement L = {rows, pe_blas_period(N, K, B, ldb)};
    cursor c = {0, 0};
    c.at = place_of(&L, 0, 0);
    int64_t end = 0;
    for (cursor w = c; w.g < rows->n; cursor_next(&L, &w))
        end = w.at + group_len(rows, w.g);
    int64_t total = (end + L.P - 1) / L.P * L.P;
    int64_t tiles_m = (total + TILE_M - 1) / TILE_M, tn = (N + TILE_N - 1) / TILE_N, tiles = tiles_m * tn;
    #pragma omp parallel if (tiles > 1)
    {
        float *mine = stage_mem + (size_t)omp_get_thread_num() * TILE_M * ((size_t)K + TILE_N);
        stage st = {mine, mine + (size_t)TILE_M * K, -1};
        cursor w = c;
        #pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < tiles; t++) { /* t ascends within a thread: the cursor only moves on */
            int64_t q0 = t / tn * TILE_M;
            int j = (int)(t % tn) * TILE_N;
            cursor_seek(&L, &w, q0);
            run_tile(&L, w, q0, (int)(total - q0 < TILE_M ? total - q0 : TILE_M), j, N - j < TILE_N ? N - j : TILE_N,
                     K, alpha, A, lda, B, ldb, beta, C, ldc, &st);
        }
    }
}
