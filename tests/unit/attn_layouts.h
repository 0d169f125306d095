/* Packed-batch layouts for the attention tests, shared by the GPU harness
 * (test_cuda_kernels.c) and the CPU checks of the references (test_cuda_ref.c),
 * so that both exercise the same sequence lengths and tile counts.
 *
 * The full batch is what the CUDA backend packs at its default token budget:
 * 16,384 tokens of PRMBench-like prompts (lengths 1..240, every 16th 1,500..2,047),
 * about 300 attention tiles of 64 query rows. */
#ifndef PE_ATTN_LAYOUTS_H
#define PE_ATTN_LAYOUTS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda_ref.h"

#define PE_FULL_BATCH_TOKENS 16384
#define PE_FULL_BATCH_MAX_SEQ 256

/* Fills starts (nseq + 1 prefix sums, at most PE_FULL_BATCH_MAX_SEQ + 1
 * entries) and returns nseq. Deterministic: the same layout every run. */
static inline int pe_full_batch_layout(int64_t *starts)
{
    uint32_t x = 12345u;
    int n = 0;
    starts[0] = 0;
    while (starts[n] < PE_FULL_BATCH_TOKENS && n < PE_FULL_BATCH_MAX_SEQ) {
        x = x * 1664525u + 1013904223u;   /* LCG: lengths 1..240, every 16th 1500..2047 */
        int64_t len = 1 + (int64_t)((x >> 8) % 240u);
        if (n % 16 == 7)
            len = 1500 + (int64_t)((x >> 8) % 548u);
        if (starts[n] + len > PE_FULL_BATCH_TOKENS)
            len = PE_FULL_BATCH_TOKENS - starts[n];
        starts[n + 1] = starts[n] + len;
        n++;
    }
    return n;
}

/* The attention plan (tiles and key spans) of whole sequences packed without
 * reuse, over qkv rows of width ld (NH q heads of D first): what the backend
 * builds for a batch without prefix reuse. Arrays allocated (nseq spans at
 * least, the unused ones zero); returns ntiles. */
static inline int64_t pe_plain_plan(const int64_t *starts, int nseq, const pe_bf16 *qkv, int64_t ld, int64_t qcols,
                                    pe_attn_tile **tiles, pe_attn_span **spans)
{
    static const int32_t tok0 = 0;
    pe_batch b = {.tokens = &tok0, .ntok = starts[nseq], .seq_start = starts, .nseq = nseq};
    int64_t ns = 0, nt = pe_attn_plan(&b, NULL, 0, 0, NULL, NULL, 0, NULL, NULL, &ns);
    *tiles = malloc((size_t)(nt ? nt : 1) * sizeof **tiles);
    *spans = calloc((size_t)(nseq > ns ? nseq : ns), sizeof **spans);
    pe_attn_plan(&b, qkv, ld, qcols, NULL, NULL, 0, *tiles, *spans, NULL);
    return nt;
}

/* Prefix reuse for the attention tests: the prompts of a prefix tree, laid out
 * twice with the same K/V values at the same absolute positions.
 *   prompts  P0 = A B C, P1 = A B D, P2 = A E, P3 = G
 *   whole    P0, P1, P2, P3 packed, no reuse (one sequence each);
 *   reuse    a batch of segments B, C, D, E, G (pos0 |A|, |A|+|B|, |A|+|B|, |A|, 0)
 *            whose ancestors are A in cache slot 0 (every one but G), B as
 *            segment 0 of the batch (for C) and B in cache slot 1 (for D: as
 *            if B had been kept by an earlier batch).
 * Slots hold (L, len, 2*NKV*D) K|V rows, layers outermost, as the CUDA
 * backend keeps them; layer `layer` of a slot holds the same K|V as the
 * whole layout, the other layers other random values. row_of[r] is the row
 * of the whole layout that reuse row r repeats. */
enum { PE_TREE_A, PE_TREE_B, PE_TREE_C, PE_TREE_D, PE_TREE_E, PE_TREE_G, PE_TREE_NODES };
#define PE_TREE_L 3
typedef struct pe_tree_layout {
    int NH, NKV, D, layer;
    int64_t ld, kvw, len[PE_TREE_NODES];
    pe_bf16 *whole;            /* (whole_ntok, ld) */
    int64_t whole_starts[5], whole_ntok;
    pe_bf16 *reuse;            /* (reuse_ntok, ld) */
    int64_t reuse_starts[6], reuse_ntok, pos0[5];
    int ctx_start[6];
    pe_kv_ref ctx[6];
    int32_t *tokens;           /* zeros: the plan reads none */
    pe_batch batch;
    pe_bf16 *slot[2];          /* (PE_TREE_L, len, kvw) */
    int64_t slot_len[2], slot_pos0[2];
    int64_t *row_of;           /* (reuse_ntok) */
} pe_tree_layout;

/* Fills the layout with values from rnd() (uniform, the caller's generator). */
static inline void pe_tree_layout_make(pe_tree_layout *t, const int64_t len[PE_TREE_NODES], int NH, int NKV, int D,
                                       int layer, float (*rnd)(void))
{
    memset(t, 0, sizeof *t);
    t->NH = NH, t->NKV = NKV, t->D = D, t->layer = layer;
    t->ld = (int64_t)(NH + 2 * NKV) * D;
    t->kvw = 2 * (int64_t)NKV * D;
    memcpy(t->len, len, sizeof t->len);
    /* each node's rows once: its K|V do not depend on what follows (causal) */
    int64_t off[PE_TREE_NODES + 1] = {0};
    for (int n = 0; n < PE_TREE_NODES; n++)
        off[n + 1] = off[n] + len[n];
    pe_bf16 *node = malloc((size_t)off[PE_TREE_NODES] * (size_t)t->ld * sizeof *node);
    for (size_t i = 0; i < (size_t)off[PE_TREE_NODES] * (size_t)t->ld; i++)
        node[i] = pe_bf16_from_f32(2.0f * rnd());
    static const int prompt[4][4] = {{PE_TREE_A, PE_TREE_B, PE_TREE_C, -1}, {PE_TREE_A, PE_TREE_B, PE_TREE_D, -1},
                                     {PE_TREE_A, PE_TREE_E, -1, -1}, {PE_TREE_G, -1, -1, -1}};
    int64_t node_row[PE_TREE_NODES][4]; /* the whole layout's first row of node n in prompt p (-1: absent) */
    t->whole_starts[0] = 0;
    for (int p = 0; p < 4; p++) {
        int64_t at = t->whole_starts[p];
        for (int n = 0; n < PE_TREE_NODES; n++)
            node_row[n][p] = -1;
        for (int j = 0; j < 4 && prompt[p][j] >= 0; j++)
            node_row[prompt[p][j]][p] = at, at += len[prompt[p][j]];
        t->whole_starts[p + 1] = at;
    }
    t->whole_ntok = t->whole_starts[4];
    t->whole = malloc((size_t)t->whole_ntok * (size_t)t->ld * sizeof *t->whole);
    for (int p = 0; p < 4; p++)
        for (int n = 0; n < PE_TREE_NODES; n++)
            if (node_row[n][p] >= 0)
                memcpy(t->whole + (size_t)node_row[n][p] * (size_t)t->ld, node + (size_t)off[n] * (size_t)t->ld,
                       (size_t)len[n] * (size_t)t->ld * sizeof *node);

    static const int seg_node[5] = {PE_TREE_B, PE_TREE_C, PE_TREE_D, PE_TREE_E, PE_TREE_G};
    static const int seg_prompt[5] = {0, 0, 1, 2, 3};
    int64_t A = len[PE_TREE_A], B = len[PE_TREE_B];
    const int64_t pos0[5] = {A, A + B, A + B, A, 0};
    memcpy(t->pos0, pos0, sizeof pos0);
    /* B: slot 0; C: slot 0, segment 0; D: slot 0, slot 1; E: slot 0; G: none */
    const pe_kv_ref ctx[6] = {{-1, 0}, {-1, 0}, {0, -1}, {-1, 0}, {-1, 1}, {-1, 0}};
    const int ctx_start[6] = {0, 1, 3, 5, 6, 6};
    memcpy(t->ctx, ctx, sizeof ctx);
    memcpy(t->ctx_start, ctx_start, sizeof ctx_start);
    t->reuse_starts[0] = 0;
    for (int s = 0; s < 5; s++)
        t->reuse_starts[s + 1] = t->reuse_starts[s] + len[seg_node[s]];
    t->reuse_ntok = t->reuse_starts[5];
    t->reuse = malloc((size_t)t->reuse_ntok * (size_t)t->ld * sizeof *t->reuse);
    t->row_of = malloc((size_t)t->reuse_ntok * sizeof *t->row_of);
    for (int s = 0; s < 5; s++) {
        int n = seg_node[s];
        memcpy(t->reuse + (size_t)t->reuse_starts[s] * (size_t)t->ld, node + (size_t)off[n] * (size_t)t->ld,
               (size_t)len[n] * (size_t)t->ld * sizeof *node);
        for (int64_t r = 0; r < len[n]; r++)
            t->row_of[t->reuse_starts[s] + r] = node_row[n][seg_prompt[s]] + r;
    }
    /* slot 0 = A, slot 1 = B: the K|V columns of layer `layer`, other layers random */
    const int slot_node[2] = {PE_TREE_A, PE_TREE_B};
    for (int k = 0; k < 2; k++) {
        int n = slot_node[k];
        t->slot_len[k] = len[n];
        t->slot_pos0[k] = k == 0 ? 0 : A;
        t->slot[k] = malloc((size_t)PE_TREE_L * (size_t)len[n] * (size_t)t->kvw * sizeof *t->slot[k]);
        for (int l = 0; l < PE_TREE_L; l++)
            for (int64_t r = 0; r < len[n]; r++)
                for (int64_t c = 0; c < t->kvw; c++)
                    t->slot[k][((size_t)l * (size_t)len[n] + (size_t)r) * (size_t)t->kvw + (size_t)c] =
                        l == layer ? node[(size_t)(off[n] + r) * (size_t)t->ld + (size_t)NH * D + (size_t)c]
                                   : pe_bf16_from_f32(2.0f * rnd());
    }
    free(node);
    t->tokens = calloc((size_t)t->reuse_ntok, sizeof *t->tokens);
    t->batch = (pe_batch){.tokens = t->tokens, .ntok = t->reuse_ntok, .seq_start = t->reuse_starts, .nseq = 5,
                          .pos0 = t->pos0, .ctx_start = t->ctx_start, .ctx = t->ctx};
}

/* The reuse layout's plan with the given q|k|v rows and slot pointers (host
 * or device). Arrays allocated; returns ntiles. */
static inline int64_t pe_tree_plan(const pe_tree_layout *t, const pe_bf16 *qkv, const pe_bf16 *const slot[2],
                                   pe_attn_tile **tiles, pe_attn_span **spans)
{
    int64_t ns = 0, nt = pe_attn_plan(&t->batch, NULL, 0, 0, NULL, t->slot_len, 0, NULL, NULL, &ns);
    *tiles = malloc((size_t)nt * sizeof **tiles);
    *spans = malloc((size_t)ns * sizeof **spans);
    pe_attn_plan(&t->batch, qkv, t->ld, (int64_t)t->NH * t->D, slot, t->slot_len, t->kvw, *tiles, *spans, NULL);
    return nt;
}

static inline void pe_tree_layout_free(pe_tree_layout *t)
{
    free(t->whole), free(t->reuse), free(t->row_of), free(t->tokens), free(t->slot[0]), free(t->slot[1]);
}

#endif
