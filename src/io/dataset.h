/* PRMBench reader: a folder of *.jsonl (read in name order) or one file,
 * turned into samples exactly as the reference evaluator builds them
 * (docs/metric.md, "Samples"). */
#ifndef PE_DATASET_H
#define PE_DATASET_H

#include "../core/err.h"
#include "../core/sample.h"

/* Loads path into d. Lines are parsed in parallel (OpenMP); samples are
 * assembled in file and line order, so the result does not depend on the
 * number of threads. On failure d is left empty and e names file and line. */
int pe_dataset_load(const char *path, pe_dataset *d, pe_err *e);

/* Flags for pe_dataset_load_ex. */
enum {
    /* Keep step counts and error steps only: question and steps stay NULL.
     * Scoring predictions needs no text, and dropping it inside the parallel
     * parse saves a third of the load time. */
    PE_DATA_NO_TEXT = 1
};
int pe_dataset_load_ex(const char *path, int flags, pe_dataset *d, pe_err *e);
void pe_dataset_free(pe_dataset *d);

/* Index of the sample with this key, or -1 (linear; for tests and tools). */
int pe_dataset_find(const pe_dataset *d, const char *key);

/* Total number of steps of all samples (size_t: a sum over samples). */
size_t pe_dataset_total_steps(const pe_dataset *d);

/* The warning about skipped duplicate records (d->nduplicates): 1 with the
 * line in buf, 0 when there were none. */
int pe_dataset_duplicates_note(const pe_dataset *d, char *buf, size_t n);

#endif
