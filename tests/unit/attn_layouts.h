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

#endif
