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

/* A reference to keys/values an attention row may read besides its own
 * segment's: an earlier segment of the same batch (seg >= 0, slot -1) or a
 * slot of the backend's cache filled by an earlier batch (slot >= 0, seg -1). */
typedef struct pe_kv_ref {
    int seg;
    int slot;
} pe_kv_ref;

/* A packed batch: nseq segments laid end to end, no padding.
 * seq_start has nseq+1 entries (prefix sums of lengths).
 * readout holds nread indices into the packed tokens, ascending.
 *
 * Without prefix reuse (pos0 == NULL) every segment is a whole sequence:
 * positions restart at 0 in each, and attention is causal within it.
 *
 * With prefix reuse (engine.h) a segment continues a prompt whose first pos0[s]
 * tokens are its ancestors ctx[ctx_start[s] .. ctx_start[s+1]-1], in prompt
 * order (their lengths add up to pos0[s]). The segment's rows have positions
 * pos0[s], pos0[s]+1, ... and attend causally to the ancestors' keys/values and
 * their own. keep[s] >= 0 asks the backend to store the segment's keys/values
 * of every layer in that cache slot (an unused slot), for later batches;
 * the slots evict[0 .. nevict-1] are freed before the batch runs. Slots
 * still filled after a schedule's last batch are freed with
 * pe_backend.release, not with a batch. */
typedef struct pe_batch {
    const int32_t *tokens;     /* (ntok) */
    int64_t ntok;
    const int64_t *seq_start;  /* (nseq+1) */
    int nseq;
    const int64_t *readout;    /* (nread) */
    int64_t nread;
    /* prefix reuse; all NULL/0 without it */
    const int64_t *pos0;       /* (nseq) */
    const int *ctx_start;      /* (nseq+1), NULL when no segment has ancestors */
    const pe_kv_ref *ctx;      /* (ctx_start[nseq]) */
    const int *keep;           /* (nseq) slot or -1; NULL: none */
    const int *evict;          /* (nevict) */
    int nevict;
} pe_batch;

/* The checks every backend makes on a batch before it trusts it (batch.c):
 * arrays present, seq_start from 0 to ntok and not decreasing, token ids
 * below vocab, read-outs inside and ascending, and with prefix reuse: every
 * ancestor an earlier segment of the batch or a slot in [0, nslots) that is
 * filled (slot_len[slot] > 0 tokens, slot_pos0[slot] its first position) and
 * not evicted, ancestors contiguous from position 0 up to pos0[s], keep slots
 * unused and distinct. *max_len receives the longest attention span
 * (pos0 + length) of a segment. Errors are PE_EINPUT naming what is wrong. */
int pe_batch_check(const pe_batch *b, int vocab, int nslots, const int64_t *slot_pos0,
                   const int64_t *slot_len, int64_t *max_len, pe_err *e);
/* The check every backend makes on a release list (pe_backend.release)
 * before it frees anything (batch.c): n >= 0, slots present when n > 0, and
 * each slot in [0, nslots), filled (slot_len > 0) and named once. Releasing
 * an empty slot is refused, as evicting one is: the engine frees only what it
 * kept, so an empty slot in the list is a bookkeeping bug, not a no-op.
 * Errors are PE_EINPUT naming the slot. */
int pe_release_check(const int *slots, int n, int nslots, const int64_t *slot_len, pe_err *e);
/* Absolute positions of the packed rows: pos[t] = pos0[s] + t - seq_start[s]
 * (pos0 NULL: 0). */
void pe_batch_positions(const pe_batch *b, int32_t *pos);

typedef struct pe_backend pe_backend;
struct pe_backend {
    const char *name;          /* "cpu" or "cuda" */
    char device[256];          /* human-readable: "cpu (2 threads)", "NVIDIA H100 (device 0)" */
    void *impl;
    int nout;                  /* rewards per read-out (the head's nout) */
    /* bytes one token's keys and values of every layer take in the backend's
     * cache (prefix reuse); 0: the backend cannot keep them (no reuse) */
    int64_t kv_bytes_per_token;
    /* rewards: (nread, nout) floats, nout per read-out position */
    int (*score)(pe_backend *b, const pe_batch *batch, float *rewards, pe_err *e);
    /* Frees the cache slots slots[0 .. n-1] (their memory goes back: host or
     * device) without running anything; the engine calls it after a schedule's
     * last batch so that the next schedule finds the cache empty. The list is
     * checked whole with pe_release_check first: on an error nothing is freed.
     * Required when kv_bytes_per_token > 0; NULL otherwise (never called).
     * Like score, not to overlap another call on the same backend. */
    int (*release)(pe_backend *b, const int *slots, int n, pe_err *e);
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
