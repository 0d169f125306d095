/* Start-up of the CPU backend on a checkpoint folder: what `prmeval run`
 * does before its first forward pass with the weights (src/cluster/run.c
 * open_model, then pe_backend_cpu_create): open the weights (mmap, header),
 * the NaN/Inf scan and content hash (pe_model_check_weights), the fp32 copies
 * of every weight but the embedding (pe_backend_cpu_create, which also loads
 * OpenBLAS). The tokenizer is not loaded. Best of REPS, each from a fresh
 * open; prints one JSON line. bench/bench_load.sh runs it beside PyTorch.
 *   bench_load MODEL_DIR [--family qwen-prm] [--reps 3] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "backend/backend.h"
#include "io/model_check.h"
#include "prm/prm.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_load MODEL_DIR [--family NAME] [--reps N]\n");
        return 2;
    }
    const char *dir = argv[1], *family = "qwen-prm";
    int reps = 3;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--family")) family = argv[i + 1];
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    const pe_family *f = pe_family_by_name(family);
    if (!f) { fprintf(stderr, "unknown family %s\n", family); return 2; }
    double best[4] = {1e30, 1e30, 1e30, 1e30}; /* open, check, create, total */
    uint64_t hash = 0;
    for (int r = 0; r < reps; r++) {
        pe_model m;
        pe_err e = {0};
        double t0 = now();
        if (pe_model_open(&m, dir, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
        double t1 = now();
        if (pe_model_check_weights(&m, &hash, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
        double t2 = now();
        pe_head_spec head;
        memset(&head, 0, sizeof head);
        head.d = f->head;  /* a head that names token ids (an LM-head family) would need the tokenizer */
        pe_backend b;
        if (pe_model_bind_head(&m, &head, &e) || pe_backend_cpu_create(&b, &m, &head, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        double t3 = now();
        double t[4] = {t1 - t0, t2 - t1, t3 - t2, t3 - t0};
        for (int k = 0; k < 4; k++)
            if (t[k] < best[k]) best[k] = t[k];
        b.destroy(&b);
        pe_model_close(&m);
    }
    printf("{\"open\": %.4f, \"check\": %.4f, \"create\": %.4f, \"seconds\": %.4f, \"threads\": %d, "
           "\"hash\": \"%016llx\"}\n", best[0], best[1], best[2], best[3], omp_get_max_threads(),
           (unsigned long long)hash);
    return 0;
}
