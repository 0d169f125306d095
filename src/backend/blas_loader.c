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
 * per tile stays small next to its 2 M N K flops (OpenBLAS packs the B tile
 * again for every call: 192 rows spent 5-8% less CPU time than 96 on the
 * 0.5B-shaped bench model), both small enough that 2-3 threads share a 0.5B
 * model's products evenly. Changing them changes results
 * in the last bits (blas.h) and the speed (bench/bench_cpu_forward.sh), never
 * the invariances. */
enum { TILE_M = 192, TILE_N = 256 };

/* ---- periods (blas.h) ------------------------------------------------------------ */

static const int candidates[] = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96}; /* divisors of TILE_M below it */
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

/* Floats of work memory a probe of tiles of n <= TILE_N columns needs. */
static size_t probe_floats(int K)
{
    return 2 * (size_t)TILE_M * ((size_t)K + TILE_N) + (size_t)K;
}

/* The smallest candidate that holds for NPROBES probe rows; TILE_M when none
 * does (per-group tiling assumes nothing). work: probe_floats(K). */
static int measure_period(int n, int K, const float *B, int ldb, float *work)
{
    const size_t tile_a = (size_t)TILE_M * K, tile_c = (size_t)TILE_M * n;
    float *A = work, *A2 = A + tile_a, *C = A2 + tile_a, *D = C + tile_c, *v = D + tile_c;
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
    return c < ncand ? candidates[c] : TILE_M;
}

/* The period of tiles of n columns, measured once per shape (a shape beyond
 * the table is measured again each time: slower, never different). */
static int tile_period(int n, int K, const float *B, int ldb, float *work)
{
    pthread_mutex_lock(&shapes_lock);
    int p = forced;
    for (int i = 0; i < nshapes && !p; i++)
        if (shapes[i].n == n && shapes[i].K == K)
            p = shapes[i].period;
    if (!p) {
        p = measure_period(n, K, B, ldb, work);
        if (nshapes < MAX_SHAPES)
            shapes[nshapes++] = (shape_period){n, K, p};
    }
    pthread_mutex_unlock(&shapes_lock);
    return p;
}

/* The period of a product's tiles (work: probe_floats(K)). */
static int product_period(int N, int K, const float *B, int ldb, float *work)
{
    int p = tile_period(N < TILE_N ? N : TILE_N, K, B, ldb, work);
    if (N > TILE_N && N % TILE_N) { /* the last column tile is another shape: both must hold */
        int q = tile_period(N % TILE_N, K, B + (size_t)(N / TILE_N) * TILE_N * (size_t)ldb, ldb, work);
        int a = p, b = q;
        while (b) {
            int t = a % b;
            a = b;
            b = t;
        }
        p = p / a * q; /* the lcm of two divisors of TILE_M divides it */
    }
    return p;
}

int pe_blas_period(int N, int K, const float *B, int ldb)
{
    float *work = malloc(probe_floats(K) * sizeof(float));
    if (!work) { /* tests and docs only */
        fprintf(stderr, "prmeval: no memory to probe OpenBLAS's period\n");
        abort();
    }
    int p = product_period(N, K, B, ldb, work);
    free(work);
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

/* Rows are put in *places*: each group's rows at consecutive places from a
 * place congruent to its align modulo P (with P = TILE_M, per-group tiling:
 * from a multiple of TILE_M); places no row takes are zero rows (gaps). Only
 * the congruence matters to the results, so the groups may go in any order:
 * after a group that ends at place e, the next is one whose align is
 * congruent to e if there is one (no gap), else the one with the smallest gap,
 * the first in the input among equals. The plan lives in the stage. */
typedef struct plan {
    const pe_row_groups *rows;
    int P;
    int ngroups;
    int64_t *place; /* (ngroups) place of the k-th group placed */
    int32_t *order; /* (ngroups) which group it is */
    int64_t total;  /* places in all: a multiple of P */
} plan;

static int64_t group_len(const pe_row_groups *r, int g)
{
    return r->start[g + 1] - r->start[g];
}

static void plan_places(plan *L, int32_t *next)
{
    const pe_row_groups *r = L->rows;
    const int P = L->P;
    int32_t head[TILE_M], tail[TILE_M]; /* per residue, a list of the groups not yet placed */
    for (int i = 0; i < P; i++)
        head[i] = tail[i] = -1;
    for (int g = 0; g < r->n; g++) {
        int a = P == TILE_M || !r->align ? 0 : (int)(r->align[g] % P);
        next[g] = -1;
        if (tail[a] < 0)
            head[a] = g;
        else
            next[tail[a]] = g;
        tail[a] = g;
    }
    int64_t end = 0;
    for (int k = 0; k < r->n; k++) {
        int e = (int)(end % P), a = e;
        while (head[a] < 0) /* some list is not empty: k < n */
            a = a + 1 < P ? a + 1 : 0;
        int g = head[a];
        head[a] = next[g];
        L->order[k] = g;
        L->place[k] = end + (a - e + P) % P;
        end = L->place[k] + group_len(r, g);
    }
    L->total = (end + P - 1) / P * P;
}

/* A walk over the placed groups in place order: the k-th group placed. */
typedef struct cursor {
    int k;
} cursor;

/* The first placed group that ends after place q (cursors only move forward). */
static void cursor_seek(const plan *L, cursor *c, int64_t q)
{
    while (c->k < L->ngroups && L->place[c->k] + group_len(L->rows, L->order[c->k]) <= q)
        c->k++;
}

/* The next run of rows within places q0 .. q1-1 from cursor c: places at ..
 * at+len-1 hold rows src .. src+len-1 of A. 0 when there is none. */
static int next_run(const plan *L, cursor *c, int64_t q0, int64_t q1, int64_t *at, int64_t *src, int64_t *len)
{
    while (c->k < L->ngroups && L->place[c->k] < q1) {
        int g = L->order[c->k];
        int64_t p = L->place[c->k], end = p + group_len(L->rows, g);
        int64_t lo = p > q0 ? p : q0, hi = end < q1 ? end : q1;
        c->k++;
        if (lo < hi) {
            *at = lo;
            *src = L->rows->start[g] + lo - p;
            *len = hi - lo;
            return 1;
        }
    }
    return 0;
}

/* ---- the product ------------------------------------------------------------------ */

/* The stage: the plan (16 bytes a group), then per thread a row tile of A
 * (TILE_M x K) and of C (TILE_M x TILE_N); at least the room of a probe
 * (a shape's first product measures its period there, before the plan). */
static size_t plan_floats(int ngroups)
{
    return ((size_t)ngroups * (sizeof(int64_t) + 2 * sizeof(int32_t)) + sizeof(float) - 1) / sizeof(float);
}

size_t pe_blas_stage_floats(int K, int nthreads, int ngroups)
{
    size_t tiles = (size_t)nthreads * TILE_M * ((size_t)K + TILE_N);
    return plan_floats(ngroups) + (tiles > probe_floats(K) ? tiles : probe_floats(K));
}

typedef struct tile_stage {
    float *a, *c;
    int64_t a_q0; /* the row tile of A held, -1: none */
} tile_stage;

/* One tile: places q0 .. q0+m-1 (from cursor c) and columns j .. j+n-1. Rows
 * that fill the tile consecutively are multiplied where they are (with
 * per-group tiling a tile's rows always are, in a shorter call); otherwise the
 * rows and the gaps are copied to the stage and back. */
static void run_tile(const plan *L, cursor c, int64_t q0, int m, int j, int n, int K, float alpha,
                     const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc, tile_stage *st)
{
    const float *Bj = B + (size_t)j * (size_t)ldb;
    const cursor first = c;
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
                             const float *B, int ldb, float beta, float *C, int ldc, const pe_blas_stage *stage)
{
    const int nthreads = omp_get_max_threads();
    if (!sgemm || stage->floats < pe_blas_stage_floats(K, nthreads, rows->n)) { /* a bug, not bad input */
        fprintf(stderr, "prmeval: internal error: matrix product %s\n",
                sgemm ? "with too small a stage" : "before pe_blas_load");
        abort();
    }
    if (rows->start[rows->n] == 0 || N == 0)
        return;
    /* the period first: a shape's first product probes OpenBLAS in the stage, before the plan is written */
    plan L = {.rows = rows, .P = product_period(N, K, B, ldb, stage->mem), .ngroups = rows->n};
    L.place = (int64_t *)(void *)stage->mem;
    L.order = (int32_t *)(L.place + rows->n);
    plan_places(&L, L.order + rows->n);
    float *tiles_mem = stage->mem + plan_floats(rows->n);
    int64_t tiles_m = (L.total + TILE_M - 1) / TILE_M, tn = (N + TILE_N - 1) / TILE_N, tiles = tiles_m * tn;
    #pragma omp parallel if (tiles > 1)
    {
        float *mine = tiles_mem + (size_t)omp_get_thread_num() * TILE_M * ((size_t)K + TILE_N);
        tile_stage st = {mine, mine + (size_t)TILE_M * K, -1};
        cursor c = {0};
        #pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < tiles; t++) { /* t ascends within a thread: the cursor only moves on */
            int64_t q0 = t / tn * TILE_M;
            int j = (int)(t % tn) * TILE_N;
            cursor_seek(&L, &c, q0);
            run_tile(&L, c, q0, (int)(L.total - q0 < TILE_M ? L.total - q0 : TILE_M), j,
                     N - j < TILE_N ? N - j : TILE_N, K, alpha, A, lda, B, ldb, beta, C, ldc, &st);
        }
    }
}
