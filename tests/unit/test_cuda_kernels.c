/* Every CUDA kernel (kernels/kernels.h) and the cuBLASLt GEMM wrapper against
 * its plain-C reference (src/backend/cuda_ref.c, itself checked by
 * test_cuda_ref.c) on fresh random inputs. Outputs are poisoned with NaN
 * (all bits set) before each launch, so an element the kernel forgets to
 * write fails the check. Errors are normalised: max |gpu - ref| / max |ref|.
 * Without CUDA, or without a usable GPU, prints why and exits 77 (skip). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "attn_layouts.h"
#include "backend/cuda_ref.h"
#include "check.h"

#ifndef PE_HAVE_CUDA

int main(void)
{
    printf("skipped: prmeval was built without CUDA\n");
    return 77;
}

#else

#include <cuda_runtime_api.h>

#include "../../kernels/kernels.h"
#include "backend/cuda_gemm.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static float frand(void)   /* uniform in [-1, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) * 0x1p-23) - 1.0f;
}

static pe_bf16 *rand_bf16(size_t n, float scale)
{
    pe_bf16 *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = pe_bf16_from_f32(scale * frand());
    return p;
}

static float *rand_f32(size_t n, float scale)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = scale * frand();
    return p;
}

static int cuda_ok(int r, const char *what)
{
    if (r != 0) {
        fprintf(stderr, "%s: CUDA error %d: %s\n", what, r, cudaGetErrorString((cudaError_t)r));
        pe_checks_failed++;
    }
    return r == 0;
}

static void *up(const void *h, size_t bytes)
{
    void *d = NULL;
    cuda_ok(cudaMalloc(&d, bytes ? bytes : 1), "cudaMalloc");
    if (h)
        cuda_ok(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice), "cudaMemcpy H2D");
    return d;
}

static void *poisoned(size_t bytes)
{
    void *d = up(NULL, bytes);
    cuda_ok(cudaMemset(d, 0xff, bytes), "cudaMemset");   /* 0xffff... is NaN in fp32 and bf16 */
    return d;
}

static void *down(const void *d, size_t bytes)
{
    void *h = malloc(bytes ? bytes : 1);
    cuda_ok(cudaDeviceSynchronize(), "kernel");
    cuda_ok(cudaMemcpy(h, d, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
    return h;
}

static void compare(const char *name, const float *got, const float *ref, size_t n, double tol)
{
    double maxref = 0.0, maxerr = 0.0;
    size_t nan = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(got[i]) && !isnan(ref[i])) {
            nan++;
            continue;
        }
        double a = fabs((double)ref[i]), d = fabs((double)got[i] - ref[i]);
        if (a > maxref)
            maxref = a;
        if (d > maxerr)
            maxerr = d;
    }
    double rel = maxerr / (maxref > 1e-30 ? maxref : 1e-30);
    int ok = nan == 0 && rel <= tol;
    printf("%-28s n=%-8zu max|ref|=%-10.4g normalised err=%-10.3g tol=%-8.2g %s%s\n", name, n,
           maxref, rel, tol, ok ? "ok" : "FAIL", nan ? " (unwritten/NaN elements)" : "");
    CHECK(ok);
}

static void compare_bf16(const char *name, const pe_bf16 *got, const pe_bf16 *ref, size_t n, double tol)
{
    float *g = malloc(n * sizeof *g), *r = malloc(n * sizeof *r);
    for (size_t i = 0; i < n; i++)
        g[i] = pe_f32_from_bf16(got[i]), r[i] = pe_f32_from_bf16(ref[i]);
    compare(name, g, r, n, tol);
    free(g);
    free(r);
}

/* One bf16 rounding step of difference (2^-8 relative) is allowed where the
 * kernel and the reference sum in different orders before rounding. */
#define TOL_BF16 8e-3

static void test_embed_norm(void)
{
    int V = 300, H = 1000;
    int64_t ntok = 37;
    pe_bf16 *table = rand_bf16((size_t)V * H, 1.0f);
    int32_t tok[37];
    for (int i = 0; i < ntok; i++)
        tok[i] = (int32_t)((i * 97 + 13) % V);
    tok[0] = V - 1;
    float *ref = malloc((size_t)ntok * H * 4);
    pe_bf16 *refb = malloc((size_t)ntok * H * 2);
    pe_ref_embed_f32(ref, table, tok, ntok, H);
    pe_ref_embed_bf16(refb, table, tok, ntok, H);
    void *dt = up(table, (size_t)V * H * 2), *dtok = up(tok, sizeof tok);
    float *dout = poisoned((size_t)ntok * H * 4);
    pe_bf16 *doutb = poisoned((size_t)ntok * H * 2);
    cuda_ok(pe_k_embed_f32(dout, dt, dtok, ntok, H, 0), "embed_f32");
    cuda_ok(pe_k_embed_bf16(doutb, dt, dtok, ntok, H, 0), "embed_bf16");
    float *got = down(dout, (size_t)ntok * H * 4);
    pe_bf16 *gotb = down(doutb, (size_t)ntok * H * 2);
    compare("embed (fp32 out)", got, ref, (size_t)ntok * H, 0.0);
    compare_bf16("embed (bf16 out)", gotb, refb, (size_t)ntok * H, 0.0);

    /* RMSNorm on rows with different scales, H not a multiple of the block. */
    float *x = rand_f32((size_t)ntok * H, 3.0f);
    for (int64_t r = 0; r < ntok; r++)
        for (int c = 0; c < H; c++)
            x[(size_t)r * H + c] *= (float)(r + 1);
    pe_bf16 *w = rand_bf16((size_t)H, 2.0f);
    pe_ref_rmsnorm(refb, x, w, ntok, H, 1e-6f);
    void *dx = up(x, (size_t)ntok * H * 4), *dw = up(w, (size_t)H * 2);
    cuda_ok(cudaMemset(doutb, 0xff, (size_t)ntok * H * 2), "poison");
    cuda_ok(pe_k_rmsnorm(doutb, dx, dw, ntok, H, 1e-6f, 0), "rmsnorm");
    free(gotb);
    gotb = down(doutb, (size_t)ntok * H * 2);
    compare_bf16("rmsnorm", gotb, refb, (size_t)ntok * H, TOL_BF16);

    free(table), free(ref), free(refb), free(got), free(gotb), free(x), free(w);
    cudaFree(dt), cudaFree(dtok), cudaFree(dout), cudaFree(doutb), cudaFree(dx), cudaFree(dw);
}

static void test_rope(void)
{
    /* Rows of (NH + 2 NKV) heads as in the backend; RoPE on the first 5 heads
     * must leave the rest of each row alone. Positions reach 2047. */
    int D = 64, nheads = 5;
    int64_t ntok = 40, ld = 8 * D;
    float inv[32];
    pe_rope_inv_freq(inv, D, 500000.0, 1, 8.0, 1.0, 4.0, 8192);
    int32_t pos[40];
    for (int t = 0; t < ntok; t++)
        pos[t] = t < 20 ? t : 2047 - t;
    float *x = rand_f32((size_t)ntok * ld, 2.0f);
    float *ref = malloc((size_t)ntok * ld * 4);
    memcpy(ref, x, (size_t)ntok * ld * 4);
    pe_ref_rope(ref, ntok, ld, nheads, D, pos, inv);
    void *dx = up(x, (size_t)ntok * ld * 4), *dp = up(pos, sizeof pos), *di = up(inv, sizeof inv);
    cuda_ok(pe_k_rope(dx, ntok, ld, nheads, D, dp, di, 0), "rope");
    float *got = down(dx, (size_t)ntok * ld * 4);
    compare("rope (llama3 table)", got, ref, (size_t)ntok * ld, 1e-5);
    free(x), free(ref), free(got);
    cudaFree(dx), cudaFree(dp), cudaFree(di);
}

static void test_elementwise(void)
{
    int64_t nrow = 33;
    int C = 777, F = 555;
    size_t n = (size_t)nrow * C;
    float *x = rand_f32(n, 4.0f), *h = rand_f32(n, 4.0f);
    pe_bf16 *bias = rand_bf16((size_t)C, 1.0f);
    float *dx = up(x, n * 4), *dh = up(h, n * 4);
    void *dbias = up(bias, (size_t)C * 2);

    pe_bf16 *refb = malloc(n * 2);
    pe_bf16 *db = poisoned(n * 2);
    pe_ref_bias_relu_bf16(refb, x, bias, nrow, C);
    cuda_ok(pe_k_bias_relu_bf16(db, dx, dbias, nrow, C, 0), "bias_relu");
    pe_bf16 *gotb = down(db, n * 2);
    compare_bf16("bias + relu -> bf16", gotb, refb, n, 0.0);
    free(gotb);

    pe_ref_cast_bf16(refb, x, n);
    cuda_ok(cudaMemset(db, 0xff, n * 2), "poison");
    cuda_ok(pe_k_cast_bf16(db, dx, n, 0), "cast");
    gotb = down(db, n * 2);
    compare_bf16("cast -> bf16", gotb, refb, n, 0.0);
    free(gotb);

    float *ref = malloc(n * 4);
    memcpy(ref, h, n * 4);
    pe_ref_residual_add(ref, x, n);
    cuda_ok(pe_k_residual_add(dh, dx, n, 0), "residual_add");
    float *got = down(dh, n * 4);
    compare("residual add", got, ref, n, 0.0);
    free(got);

    memcpy(ref, x, n * 4);
    pe_ref_bias_add(ref, bias, nrow, C);
    cuda_ok(pe_k_bias_add(dx, dbias, nrow, C, 0), "bias_add");
    got = down(dx, n * 4);
    compare("bias add", got, ref, n, 0.0);
    free(got);

    size_t ng = (size_t)nrow * 2 * F, nf = (size_t)nrow * F;
    pe_bf16 *gu = rand_bf16(ng, 6.0f), *refs = malloc(nf * 2);
    pe_ref_swiglu(refs, gu, nrow, F);
    void *dgu = up(gu, ng * 2);
    pe_bf16 *ds = poisoned(nf * 2);
    cuda_ok(pe_k_swiglu(ds, dgu, nrow, F, 0), "swiglu");
    gotb = down(ds, nf * 2);
    compare_bf16("swiglu", gotb, refs, nf, TOL_BF16);

    free(x), free(h), free(bias), free(refb), free(ref), free(gu), free(refs), free(gotb);
    cudaFree(dx), cudaFree(dh), cudaFree(dbias), cudaFree(db), cudaFree(dgu), cudaFree(ds);
}

/* Once per head_dim, as the backend does when it is created; the occupancy
 * must be what shared memory allows (the carveout preference is what makes it
 * 2 blocks of 110.5 KiB per SM on an H100 instead of 1). */
static void attention_prepare(int D, const struct cudaDeviceProp *prop)
{
    int blocks = 0;
    CHECK(cuda_ok(pe_k_attention_prepare(D, &blocks), "pe_k_attention_prepare"));
    size_t per_block = pe_k_attention_smem_bytes(D) + prop->reservedSharedMemPerBlock;
    int want = (int)(prop->sharedMemPerMultiprocessor / per_block);
    if (want > prop->maxThreadsPerMultiProcessor / (PE_ATTN_BQ / 16 * 32))
        want = prop->maxThreadsPerMultiProcessor / (PE_ATTN_BQ / 16 * 32);
    if (want > prop->maxBlocksPerMultiProcessor)
        want = prop->maxBlocksPerMultiProcessor;
    printf("attention D%-3d %zu bytes shared per block: %d blocks/SM (shared memory per SM allows %d)\n", D,
           pe_k_attention_smem_bytes(D), blocks, want);
    /* Up to 3 blocks nothing but shared memory can bind (registers would need
     * over 170 per thread); beyond, registers may: only at least 1 is asked. */
    CHECK(blocks >= 1 && (want > 3 || blocks >= want));
}

/* One packed batch through the kernel and the reference. rows_from > 0 also
 * compares the rows at positions >= rows_from in their sequence on their own
 * scale (long rows average many values and are small: the batch-wide scale
 * would hide their errors). Returns the kernel's output (the caller frees it)
 * and, when qkv_out is not NULL, hands over the random input too. */
static pe_bf16 *attention_run(const char *what, const int64_t *starts, int nseq, int NH, int NKV, int D,
                              int window, int64_t rows_from, pe_bf16 **qkv_out)
{
    int64_t ntok = starts[nseq], ld = (int64_t)(NH + 2 * NKV) * D;
    size_t nq = (size_t)ntok * ld, no = (size_t)ntok * NH * D;
    pe_bf16 *qkv = rand_bf16(nq, 2.0f), *ref = malloc(no * 2);
    pe_attn_tile *tiles;
    pe_attn_span *spans;
    int64_t ntiles = pe_plain_plan(starts, nseq, qkv, ld, (int64_t)NH * D, &tiles, &spans);
    pe_ref_attention(ref, qkv, ld, tiles, ntiles, spans, 0, NH, NKV, D, window);
    free(tiles), free(spans);
    void *dq = up(qkv, nq * 2);
    ntiles = pe_plain_plan(starts, nseq, dq, ld, (int64_t)NH * D, &tiles, &spans);   /* device pointers */
    void *dt = up(tiles, (size_t)ntiles * sizeof *tiles), *ds = up(spans, (size_t)nseq * sizeof *spans);
    pe_bf16 *dout = poisoned(no * 2);
    cuda_ok(pe_k_attention(dout, dq, ld, dt, ntiles, ds, 0, NH, NKV, D, window, 0), "attention");
    pe_bf16 *got = down(dout, no * 2);
    char name[96];
    snprintf(name, sizeof name, "attention %s NH%d NKV%d D%d w%d", what, NH, NKV, D, window);
    printf("%s: %d sequences, %lld tokens, %lld tiles\n", name, nseq, (long long)ntok, (long long)ntiles);
    /* P is rounded to bf16 before P.V on the tensor cores: a few 2^-9. */
    compare_bf16(name, got, ref, no, 2e-2);
    if (rows_from > 0) {
        size_t nt = 0, w = (size_t)NH * D;
        pe_bf16 *g = malloc(no * 2), *r = malloc(no * 2);
        for (int i = 0; i < nseq; i++)
            for (int64_t t = starts[i] + rows_from; t < starts[i + 1]; t++, nt++) {
                memcpy(g + nt * w, got + (size_t)t * w, w * 2);
                memcpy(r + nt * w, ref + (size_t)t * w, w * 2);
            }
        snprintf(name, sizeof name, "  rows from position %lld", (long long)rows_from);
        compare_bf16(name, g, r, nt * w, 2e-2);
        free(g), free(r);
    }
    if (qkv_out)
        *qkv_out = qkv;
    else
        free(qkv);
    free(ref), free(tiles), free(spans);
    cudaFree(dq), cudaFree(dt), cudaFree(ds), cudaFree(dout);
    return got;
}

/* Packed sequences with lengths around the 64-row tile edges, including a
 * single-token sequence, in one batch. */
static void attention_case(int NH, int NKV, int D, int window)
{
    static const int64_t lens[] = {1, 63, 64, 65, 200, 7, 130};
    int nseq = (int)(sizeof lens / sizeof lens[0]);
    int64_t starts[8];
    starts[0] = 0;
    for (int i = 0; i < nseq; i++)
        starts[i + 1] = starts[i] + lens[i];
    free(attention_run("tile edges", starts, nseq, NH, NKV, D, window, 0, NULL));
}

/* One long sequence: PRMBench prompts are cut at 2,048 tokens; 3,600 is past
 * any cut the tool makes (57 key tiles streamed through one block). */
static void attention_long(int64_t len, int NH, int NKV, int D, int window)
{
    int64_t starts[2] = {0, len};
    char what[32];
    snprintf(what, sizeof what, "%lld tokens", (long long)len);
    free(attention_run(what, starts, 1, NH, NKV, D, window, 1024, NULL));
}

/* The batch the backend packs at its default token budget: 16,384 tokens,
 * about 300 tiles, groups of 2 query heads per K/V head at D 128 (the
 * C reference's time, not the GPU's, bounds the head count here).
 * Then a sequence of it scored alone must give the same bits: a row's
 * attention must not depend on the other sequences of its batch. */
static void attention_full_batch(void)
{
    int64_t starts[PE_FULL_BATCH_MAX_SEQ + 1];
    int nseq = pe_full_batch_layout(starts);
    int NH = 4, NKV = 2, D = 128;
    int64_t ld = (int64_t)(NH + 2 * NKV) * D;
    pe_bf16 *qkv = NULL;
    pe_bf16 *got = attention_run("full batch", starts, nseq, NH, NKV, D, 0, 0, &qkv);
    pe_attn_tile *tiles;
    pe_attn_span *spans;
    int64_t nfull = pe_plain_plan(starts, nseq, qkv, ld, (int64_t)NH * D, &tiles, &spans);
    CHECK(nfull >= 280 && nfull <= 340);
    free(tiles), free(spans);
    int same = 1;
    const int pick[4] = {0, 7, nseq / 2, nseq - 1};   /* the first, a long one (every 16th from 7), ... */
    for (int j = 0; j < 4; j++) {
        int i = pick[j];
        int64_t len = starts[i + 1] - starts[i], one[2] = {0, len};
        void *dq = up(qkv + (size_t)starts[i] * ld, (size_t)len * ld * 2);
        int64_t nt = pe_plain_plan(one, 1, dq, ld, (int64_t)NH * D, &tiles, &spans);
        void *dt = up(tiles, (size_t)nt * sizeof *tiles), *ds = up(spans, sizeof *spans);
        pe_bf16 *dout = poisoned((size_t)len * NH * D * 2);
        cuda_ok(pe_k_attention(dout, dq, ld, dt, nt, ds, 0, NH, NKV, D, 0, 0), "attention (one sequence)");
        pe_bf16 *alone = down(dout, (size_t)len * NH * D * 2);
        int eq = memcmp(alone, got + (size_t)starts[i] * NH * D, (size_t)len * NH * D * 2) == 0;
        printf("attention: sequence %d (%lld tokens) alone vs in the full batch: %s\n", i, (long long)len,
               eq ? "bit-identical" : "DIFFERENT");
        same = same && eq;
        free(tiles), free(spans), free(alone);
        cudaFree(dq), cudaFree(dt), cudaFree(ds), cudaFree(dout);
    }
    CHECK(same);
    free(qkv), free(got);
}

/* Prefix reuse (attn_layouts.h's prompt tree): the segments B, C, D, E, G with
 * their ancestors in the batch and in device cache slots of 3 layers must give
 * every row the same bits as the prompts computed whole (the key tiles are
 * counted from absolute position 0), and agree with the reference on the
 * reuse layout. Lengths cross the 64-row tiles; the windows reach into the
 * ancestors. */
static float frand_fn(void) { return frand(); }

static void attention_reuse(int NH, int NKV, int D, int window, int layer)
{
    static const int64_t lens[PE_TREE_NODES] = {700, 150, 300, 1, 64, 200};   /* A B C D E G */
    pe_tree_layout t;
    pe_tree_layout_make(&t, lens, NH, NKV, D, layer, frand_fn);
    size_t w = (size_t)NH * D, kv = (size_t)PE_TREE_L * (size_t)t.kvw;
    pe_attn_tile *tiles;
    pe_attn_span *spans;
    int64_t ns = 0;
    /* the whole prompts on the GPU */
    void *dw = up(t.whole, (size_t)t.whole_ntok * t.ld * 2);
    int64_t nw = pe_plain_plan(t.whole_starts, 4, dw, t.ld, (int64_t)w, &tiles, &spans);
    void *dwt = up(tiles, (size_t)nw * sizeof *tiles), *dws = up(spans, 4 * sizeof *spans);
    pe_bf16 *dwo = poisoned((size_t)t.whole_ntok * w * 2);
    cuda_ok(pe_k_attention(dwo, dw, t.ld, dwt, nw, dws, 0, NH, NKV, D, window, 0), "attention (whole prompts)");
    pe_bf16 *whole = down(dwo, (size_t)t.whole_ntok * w * 2);
    free(tiles), free(spans);
    /* the segments, ancestors in the batch and in device slots */
    void *dr = up(t.reuse, (size_t)t.reuse_ntok * t.ld * 2);
    const pe_bf16 *dslot[2] = {up(t.slot[0], kv * (size_t)t.slot_len[0] * 2), up(t.slot[1], kv * (size_t)t.slot_len[1] * 2)};
    int64_t nr = pe_tree_plan(&t, dr, dslot, &tiles, &spans);
    pe_attn_plan(&t.batch, NULL, 0, 0, NULL, t.slot_len, 0, NULL, NULL, &ns);
    void *drt = up(tiles, (size_t)nr * sizeof *tiles), *drs = up(spans, (size_t)ns * sizeof *spans);
    pe_bf16 *dro = poisoned((size_t)t.reuse_ntok * w * 2);
    cuda_ok(pe_k_attention(dro, dr, t.ld, drt, nr, drs, layer, NH, NKV, D, window, 0), "attention (prefix reuse)");
    pe_bf16 *got = down(dro, (size_t)t.reuse_ntok * w * 2);
    free(tiles), free(spans);
    /* the reference on the reuse layout (host pointers) */
    const pe_bf16 *hslot[2] = {t.slot[0], t.slot[1]};
    nr = pe_tree_plan(&t, t.reuse, hslot, &tiles, &spans);
    pe_bf16 *ref = malloc((size_t)t.reuse_ntok * w * 2);
    pe_ref_attention(ref, t.reuse, t.ld, tiles, nr, spans, layer, NH, NKV, D, window);
    char name[96];
    snprintf(name, sizeof name, "attention prefix reuse NH%d NKV%d D%d w%d", NH, NKV, D, window);
    compare_bf16(name, got, ref, (size_t)t.reuse_ntok * w, 2e-2);
    int64_t differ = 0;
    for (int64_t r = 0; r < t.reuse_ntok; r++)
        differ += memcmp(got + (size_t)r * w, whole + (size_t)t.row_of[r] * w, w * 2) != 0;
    printf("%s: %lld of %lld segment rows differ from the whole prompts' (must be 0)\n", name, (long long)differ,
           (long long)t.reuse_ntok);
    CHECK_INT(differ, 0);
    free(whole), free(got), free(ref), free(tiles), free(spans);
    cudaFree(dw), cudaFree(dwt), cudaFree(dws), cudaFree(dwo), cudaFree(dr), cudaFree(drt), cudaFree(drs);
    cudaFree(dro), cudaFree((void *)dslot[0]), cudaFree((void *)dslot[1]);
    pe_tree_layout_free(&t);
}

static void test_heads(void)
{
    int H = 896, V = 5000, tok = 4321;
    int64_t ntok = 50, nread = 9;
    float *h = rand_f32((size_t)ntok * H, 5.0f);
    int64_t rows[9] = {0, 3, 3, 10, 17, 31, 42, 48, 49};
    float *ref = malloc((size_t)nread * H * 4);
    pe_ref_gather_rows(ref, h, rows, nread, H);
    void *dh = up(h, (size_t)ntok * H * 4), *dr = up(rows, sizeof rows);
    float *dout = poisoned((size_t)nread * H * 4);
    cuda_ok(pe_k_gather_rows(dout, dh, dr, nread, H, 0), "gather_rows");
    float *got = down(dout, (size_t)nread * H * 4);
    compare("gather read-out rows", got, ref, (size_t)nread * H, 0.0);
    free(got);

    /* the PRM heads' logits: R = 1, 2, 3 rows, with and without bias */
    pe_bf16 *x = rand_bf16((size_t)nread * H, 1.0f), *w = rand_bf16(3 * (size_t)H, 0.1f), *bb = rand_bf16(3, 1.0f);
    float r[27], *dz = poisoned(sizeof r);
    void *dx = up(x, (size_t)nread * H * 2), *dw = up(w, 3 * (size_t)H * 2), *db = up(bb, 6);
    for (int R = 1; R <= 3; R++)
        for (int bias = 0; bias <= 1; bias++) {
            pe_ref_head_rows(r, x, w, bias ? bb : NULL, nread, R, H);
            cuda_ok(cudaMemset(dz, 0xff, sizeof r), "poison");
            cuda_ok(pe_k_head_rows(dz, dx, dw, bias ? db : NULL, nread, R, H, 0), "head_rows");
            got = down(dz, (size_t)nread * R * 4);
            char what[64];
            snprintf(what, sizeof what, "head rows R=%d%s", R, bias ? " + bias" : "");
            compare(what, got, r, (size_t)nread * R, 1e-5);
            free(got);
        }

    float *logits = rand_f32((size_t)nread * V, 20.0f);
    logits[(size_t)2 * V + tok] = 40.0f;   /* one row where the token dominates */
    pe_ref_lse_pick(r, logits, nread, V, tok);
    void *dl = up(logits, (size_t)nread * V * 4);
    cuda_ok(cudaMemset(dz, 0xff, sizeof r), "poison");
    cuda_ok(pe_k_lse_pick(dz, dl, nread, V, tok, 0), "lse_pick");
    got = down(dz, (size_t)nread * 4);
    compare("full-vocab softmax pick", got, r, (size_t)nread, 1e-4);
    free(got);

    free(h), free(ref), free(x), free(w), free(bb), free(logits);
    cudaFree(dh), cudaFree(dr), cudaFree(dout), cudaFree(dz), cudaFree(dx), cudaFree(dw);
    cudaFree(db), cudaFree(dl);
}

static void test_gemm(void)
{
    pe_gemm g;
    pe_err e = {0, ""};
    if (pe_gemm_init(&g, (size_t)32 << 20, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        CHECK(0);
        return;
    }
    int64_t M = 37, N = 96, K = 200;
    pe_bf16 *x = rand_bf16((size_t)M * K, 1.0f), *w = rand_bf16((size_t)N * K, 1.0f);
    float *ref = malloc((size_t)M * N * 4), *c0 = rand_f32((size_t)M * N, 3.0f);
    pe_ref_matmul_bf16(ref, x, w, M, N, K);
    void *dx = up(x, (size_t)M * K * 2), *dw = up(w, (size_t)N * K * 2);
    float *dout = poisoned((size_t)M * N * 4);
    CHECK(pe_gemm_bf16(&g, dout, 1, 0, dx, dw, M, N, K, 0, &e) == PE_OK);
    float *got = down(dout, (size_t)M * N * 4);
    compare("cuBLASLt bf16 -> fp32", got, ref, (size_t)M * N, 1e-5);
    free(got);

    pe_bf16 *refb = malloc((size_t)M * N * 2), *db = poisoned((size_t)M * N * 2);
    pe_ref_cast_bf16(refb, ref, (size_t)M * N);
    CHECK(pe_gemm_bf16(&g, db, 0, 0, dx, dw, M, N, K, 0, &e) == PE_OK);
    pe_bf16 *gotb = down(db, (size_t)M * N * 2);
    compare_bf16("cuBLASLt bf16 -> bf16", gotb, refb, (size_t)M * N, TOL_BF16);

    /* accumulate = residual add fused as beta = 1 */
    cuda_ok(cudaMemcpy(dout, c0, (size_t)M * N * 4, cudaMemcpyHostToDevice), "H2D");
    CHECK(pe_gemm_bf16(&g, dout, 1, 1, dx, dw, M, N, K, 0, &e) == PE_OK);
    for (size_t i = 0; i < (size_t)M * N; i++)
        ref[i] += c0[i];
    got = down(dout, (size_t)M * N * 4);
    compare("cuBLASLt accumulate (beta 1)", got, ref, (size_t)M * N, 1e-5);
    if (e.code)
        fprintf(stderr, "%s\n", e.msg);
    free(x), free(w), free(ref), free(c0), free(got), free(refb), free(gotb);
    cudaFree(dx), cudaFree(dw), cudaFree(dout), cudaFree(db);
    pe_gemm_free(&g);
}

int main(void)
{
    char why[256];
    int n = 0;
    if (!pe_backend_cuda_available(&n, why, sizeof why)) {
        printf("skipped: no usable GPU (%s)\n", why);
        return 77;
    }
    struct cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    printf("device 0: %s, sm_%d%d\n", prop.name, prop.major, prop.minor);
    /* The backend refuses a device whose opt-in limit is below what the
     * attention kernel asks for; on the GPUs it targets (sm_80, sm_90) even
     * head_dim 128 fits. 110.5 KiB at D = 128, as docs/backend-cuda.md says. */
    CHECK_INT(pe_k_attention_smem_bytes(128), 113152);
    CHECK(pe_k_attention_smem_bytes(128) <= prop.sharedMemPerBlockOptin);
    /* Sizes the kernel cannot take are refused before any launch. */
    CHECK_INT(pe_k_attention(NULL, NULL, 48, NULL, 1, NULL, 0, 2, 1, 24, 0, 0), (int)cudaErrorInvalidValue);
    CHECK_INT(pe_k_attention(NULL, NULL, 432, NULL, 1, NULL, 0, 1, 1, 144, 0, 0), (int)cudaErrorInvalidValue);
    CHECK_INT(pe_k_attention(NULL, NULL, 64, NULL, 1, NULL, 0, 3, 2, 16, 0, 0), (int)cudaErrorInvalidValue);
    CHECK_INT(pe_k_attention(NULL, NULL, 64, NULL, 1, NULL, -1, 2, 1, 16, 0, 0), (int)cudaErrorInvalidValue);
    test_embed_norm();
    test_rope();
    test_elementwise();
    attention_prepare(64, &prop);
    attention_prepare(128, &prop);
    attention_prepare(16, &prop);    /* a smaller D later must not lower what D 128 set */
    attention_case(4, 2, 64, 0);     /* Qwen2.5-0.5B-like: D 64, groups of 2 */
    attention_case(7, 1, 128, 0);    /* Qwen2.5-7B-like: D 128, groups of 7 */
    attention_case(4, 4, 128, 50);   /* Mistral-style sliding window, shortened */
    attention_case(2, 1, 16, 0);     /* smallest head_dim the kernel takes */
    attention_long(2048, 4, 2, 128, 0);
    attention_long(3600, 2, 1, 128, 0);
    attention_long(3600, 4, 4, 128, 1000);   /* sliding window inside a long sequence */
    attention_full_batch();
    attention_reuse(4, 2, 64, 0, 1);      /* Qwen2.5-0.5B-like */
    attention_reuse(7, 1, 128, 0, 2);     /* Qwen2.5-7B-like */
    attention_reuse(4, 4, 128, 100, 1);   /* a sliding window that reaches into the ancestors */
    test_heads();
    test_gemm();
    return pe_check_done();
}

#endif
