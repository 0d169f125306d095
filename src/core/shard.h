/* Sharding arithmetic. Problems (not samples) are grouped into fixed logical
 * shards of PE_SHARD_PROBLEMS consecutive problems, so all classes of a
 * problem and its `correct` twin live together (similarity needs no
 * communication), and shard boundaries depend on the data only, never on the
 * number of ranks (a run resumed with another rank count reuses finished
 * shards). Shard s is served by rank s % nranks. */
#ifndef PE_SHARD_H
#define PE_SHARD_H

#include "sample.h"

#define PE_SHARD_PROBLEMS 64

int pe_shard_count(int nproblems);
int pe_shard_of_problem(int problem);
int pe_shard_rank(int shard, int nranks);
/* The rank that evaluates sample s. */
int pe_sample_rank(const pe_sample *s, int nranks);
/* Writes the indices of the samples rank evaluates, in canonical order, into
 * out (room for d->nsamples) and returns how many. */
int pe_shard_local_samples(const pe_dataset *d, int rank, int nranks, int *out);

#endif
