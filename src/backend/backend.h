/* The compute backends behind one small interface, chosen once at start-up:
 * `cpu` (fp32, OpenBLAS + OpenMP; the reference) and `cuda` (bf16 weights,
 * cuBLASLt, custom kernels). A backend turns a packed batch of token
 * sequences into step rewards at given read-out positions. */
#ifndef PE_BACKEND_H
#define PE_BACKEND_H

#include <stdint.h>

#include "../core/err.h"
#include "../io/model.h"
#include "../prm/head.h"

/* The head a backend applies at each read-out: pe_head_spec (src/prm/head.h).
 * A backend computes the head's logits and reads them with
 * pe_head_read_rewards; it trusts the model checked by pe_model_check. */

/* A packed batch: nseq sequences laid end to end, no padding.
 * seq_start has nseq+1 entries (prefix sums of lengths); positions restart at 0
 * in each sequence; attention is causal within a sequence only.
 * readout holds nread indices into the packed tokens. */
typedef struct pe_batch {
    const int32_t *tokens;     /* (ntok) */
    int64_t ntok;
    const int64_t *seq_start;  /* (nseq+1) */
    int nseq;
    const int64_t *readout;    /* (nread) */
    int64_t nread;
} pe_batch;

typedef struct pe_backend pe_backend;
struct pe_backend {
    const char *name;          /* "cpu" or "cuda" */
    char device[256];          /* human-readable: "cpu (2 threads)", "NVIDIA H100 (device 0)" */
    void *impl;
    int nout;                  /* rewards per read-out (the head's nout) */
    /* rewards: (nread, nout) floats, nout per read-out position */
    int (*score)(pe_backend *b, const pe_batch *batch, float *rewards, pe_err *e);
    void (*destroy)(pe_backend *b);
};

int pe_backend_cpu_create(pe_backend *b, const pe_model *m, const pe_head_spec *head, pe_err *e);
/* Threads of the CPU backend from now on (OpenMP and OpenBLAS), at least 1.
 * `prmeval run` shares a node's cores among the ranks on it (docs/run.md). */
void pe_backend_cpu_threads(int n);
/* Returns PE_ERESOURCE with a clear message when built without CUDA or when no GPU is present. */
int pe_backend_cuda_create(pe_backend *b, const pe_model *m, const pe_head_spec *head,
                           int device, pe_err *e);
/* Sets *ndevices to the number of usable CUDA devices and returns it. 0 when
 * built without CUDA, when the driver is missing or too old (cudaGetDeviceCount
 * fails: "CUDA driver version is insufficient"), or when no device is present;
 * then why (whylen bytes, may be NULL) says which. */
int pe_backend_cuda_available(int *ndevices, char *why, int whylen);
/* Implemented in the CUDA module (cuda.c, libprmeval_cuda.so) and reached through
 * cuda_loader.c, which defines the two functions above in every build. */
int pe_cuda_module_available(int *ndevices, char *why, int whylen);
int pe_cuda_module_create(pe_backend *b, const pe_model *m, const pe_head_spec *head, int device, pe_err *e);

/* Rank -> GPU (src/backend/local_rank.c). The node-local rank from the
 * launcher's environment (OMPI_COMM_WORLD_LOCAL_RANK, SLURM_LOCALID,
 * MPI_LOCALRANKID, MV2_COMM_WORLD_LOCAL_RANK, PMI_LOCAL_RANK), -1 when none is
 * set; and the device a local rank uses: local_rank % ndevices (0 for -1). */
int pe_node_local_rank_env(void);
int pe_device_for_local_rank(int local_rank, int ndevices);

#endif
