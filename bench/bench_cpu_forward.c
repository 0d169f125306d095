/* CPU forward throughput of the C backend on a Qwen2.5-0.5B-shaped random
 * model (hidden 896, 24 layers, 14 heads / 2 kv heads, head_dim 64, FFN 4864,
 * vocab 151936, tied embeddings, q/k/v biases), fp32 weights from
 * tests/unit/prm_synth.h, the same values torch_prm.py's bench makes.
 * Prints one JSON line; bench/bench_cpu_forward.sh runs it beside PyTorch.
 *   bench_cpu_forward [--seqs 4] [--len 512] [--reps 2] [--seed 7] */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "prm_synth.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    int seqs = 4, len = 512, reps = 2;
    uint64_t seed = 7;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--seqs")) seqs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--len")) len = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed")) seed = strtoull(argv[i + 1], NULL, 10);
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    pe_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.arch = PE_ARCH_QWEN2;
    cfg.hidden_size = 896; cfg.num_layers = 24; cfg.num_heads = 14; cfg.num_kv_heads = 2;
    cfg.head_dim = 64; cfg.intermediate_size = 4864; cfg.vocab_size = 151936;
    cfg.rope_theta = 1000000.0; cfg.rms_norm_eps = 1e-6;
    cfg.tie_word_embeddings = 1; cfg.attn_bias = 1;
    cfg.max_position_embeddings = 32768;
    synth_model_t m;
    double t0 = now();
    if (synth_model(&m, &cfg, seed, 24, PE_DT_F32)) { fprintf(stderr, "out of memory\n"); return 1; }
    double t_synth = now() - t0;

    int64_t ntok = (int64_t)seqs * len;
    int32_t *tokens = malloc((size_t)ntok * sizeof *tokens);
    int64_t *seq_start = malloc((size_t)(seqs + 1) * sizeof *seq_start);
    int64_t *readout = malloc((size_t)seqs * sizeof *readout);
    for (int64_t i = 0; i < ntok; i++) /* the token rule of torch_prm.py's bench */
        tokens[i] = (int32_t)(synth_mix64(seed + (uint64_t)(i + 1) * SYNTH_GAMMA) %
                              (uint64_t)cfg.vocab_size);
    for (int s = 0; s <= seqs; s++) seq_start[s] = (int64_t)s * len;
    for (int s = 0; s < seqs; s++) readout[s] = seq_start[s + 1] - 1;
    pe_batch batch = {.tokens = tokens, .ntok = ntok, .seq_start = seq_start, .nseq = seqs, .readout = readout,
                      .nread = seqs};

    pe_head_spec head;
    synth_bind_head(&m, "qwen_prm", 0, 0, &head);
    pe_backend b;
    pe_err e = {0};
    if (pe_backend_cpu_create(&b, &m.m, &head, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    float *rewards = malloc((size_t)seqs * sizeof *rewards);
    int64_t nwarm = ntok < 64 ? ntok : 64; /* the warm-up reads at most the tokens there are */
    int64_t warm_ss[2] = {0, nwarm}, warm_rd[1] = {nwarm - 1};
    pe_batch warm = {.tokens = tokens, .ntok = nwarm, .seq_start = warm_ss, .nseq = 1, .readout = warm_rd, .nread = 1};
    if (b.score(&b, &warm, rewards, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t = now();
        if (b.score(&b, &batch, rewards, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
        t = now() - t;
        if (t < best) best = t;
    }
    printf("{\"tokens\": %lld, \"seconds\": %.6f, \"tokens_per_s\": %.3f, \"threads\": %d, "
           "\"synth_seconds\": %.3f, \"rewards\": [", (long long)ntok, best, (double)ntok / best,
           omp_get_max_threads(), t_synth);
    for (int s = 0; s < seqs; s++) printf("%s%.9g", s ? ", " : "", rewards[s]);
    printf("]}\n");
    b.destroy(&b);
    synth_free_model(&m);
    free(tokens); free(seq_start); free(readout); free(rewards);
    return 0;
}
