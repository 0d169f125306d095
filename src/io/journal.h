/* Per-shard journals: what makes a killed or requeued run resumable.
 *
 * A checkpoint folder holds one file per finished logical shard,
 * `shard-<id>.journal` (id in decimal, no leading zeros). A journal is written
 * under a temporary name in the same folder, fsync'ed, renamed over the final
 * name and the folder fsync'ed, so a reader only ever sees a complete file or
 * none, whatever moment the writer was killed at (SIGKILL included).
 *
 * File layout (integers little-endian, whatever the host):
 *   offset 0   8 bytes  magic "PEJRNL\r\n" (the \r\n catches text-mode mangling)
 *          8   u32      format version (PE_JOURNAL_VERSION)
 *         12   u32      H = length of the job hash in bytes (1..PE_JOURNAL_HASH_MAX)
 *         16   H bytes  job hash: lower-case hex digits, given by the caller
 *       16+H   u64      shard id
 *       24+H   u64      P = payload length in bytes
 *       32+H   P bytes  payload, opaque to this module
 *     32+H+P   32 bytes SHA-256 of every byte before it
 * The file size must be exactly 64 + H + P.
 *
 * The job hash ties a journal to one job: the caller hashes the resolved job
 * configuration, the data and the model, so a journal left by another job (or
 * by the same job with other data) is recognised as foreign and redone, never
 * trusted. */
#ifndef PE_JOURNAL_H
#define PE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define PE_JOURNAL_VERSION 1u
#define PE_JOURNAL_HASH_MAX 128   /* hex digits: room for SHA-512 */
/* A larger file is corrupt, never read: a shard of 64 problems journals about
 * 100 KB (PRMBench), so this is hundreds of times what a real one needs, and a
 * sparse or hostile file cannot make a rank allocate its size. */
#define PE_JOURNAL_MAX_BYTES ((uint64_t)64 << 20)

typedef enum {
    PE_JOURNAL_ERROR = -1,  /* could not tell: I/O error or bad argument; e says why */
    PE_JOURNAL_ABSENT = 0,  /* no journal for this shard: do the shard */
    PE_JOURNAL_VALID = 1,   /* complete, checksummed, this job's, this shard's: skip the shard */
    PE_JOURNAL_CORRUPT = 2  /* present but unusable (truncated, bad checksum, wrong magic,
                               version, shard id or job hash): e names the file and the reason
                               (code PE_EINPUT); the caller warns, clears e and redoes the shard */
} pe_journal_status;

/* Writes the journal of `shard` into `dir` (created, with its parents, if
 * absent), replacing any previous one atomically. `job_hash` is 1..128 hex
 * digits. Returns PE_OK or an error code (PE_EUSAGE for a bad hash, PE_EIO). */
int pe_journal_write(const char *dir, const char *job_hash, uint64_t shard,
                     const void *payload, size_t len, pe_err *e);

/* Reads the journal of `shard` from `dir`. On PE_JOURNAL_VALID, *payload is a
 * malloc'ed copy of the payload (never NULL, even for len 0; the caller frees
 * it) and *len its length; otherwise *payload is NULL and *len 0. A missing
 * folder counts as PE_JOURNAL_ABSENT. Not a regular file (a FIFO, a device:
 * never waited on) or larger than PE_JOURNAL_MAX_BYTES: PE_JOURNAL_CORRUPT; a
 * folder under the journal's name: PE_JOURNAL_ERROR (PE_EIO). */
pe_journal_status pe_journal_read(const char *dir, const char *job_hash, uint64_t shard,
                                  void **payload, size_t *len, pe_err *e);

/* Lists the shard ids that have a file named like a journal in `dir`, sorted
 * ascending, without reading them (use pe_journal_read to trust one).
 * Temporary files and other names are ignored. *shards is malloc'ed (the caller
 * frees it; NULL when *n is 0). A missing folder gives *n = 0. Returns PE_OK or
 * PE_EIO / PE_ERESOURCE. */
int pe_journal_list(const char *dir, uint64_t **shards, size_t *n, pe_err *e);

/* Writes "<dir>/shard-<id>.journal" into buf (for messages and tests).
 * Returns PE_OK, or PE_EUSAGE when it does not fit. */
int pe_journal_path(const char *dir, uint64_t shard, char *buf, size_t size, pe_err *e);

/* Creates dir (and its parents) when missing and checks that it is a folder
 * this process can write in: before any work, not at the first journal. */
int pe_journal_dir_check(const char *dir, pe_err *e);

/* The journal's checksum: SHA-256 of the n bytes at data (src/core/sha256.h). */
void pe_journal_sha256(const void *data, size_t n, uint8_t out[32]);

#endif
