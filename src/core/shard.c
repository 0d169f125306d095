#include "shard.h"

int pe_shard_count(int nproblems)
{
    return (nproblems + PE_SHARD_PROBLEMS - 1) / PE_SHARD_PROBLEMS;
}

int pe_shard_of_problem(int problem)
{
    return problem / PE_SHARD_PROBLEMS;
}

int pe_shard_rank(int shard, int nranks)
{
    return shard % nranks;
}

int pe_sample_rank(const pe_sample *s, int nranks)
{
    return pe_shard_rank(pe_shard_of_problem(s->problem), nranks);
}

int pe_shard_local_samples(const pe_dataset *d, int rank, int nranks, int *out)
{
    int n = 0;
    for (int i = 0; i < d->nsamples; i++)
        if (pe_sample_rank(&d->samples[i], nranks) == rank)
            out[n++] = i;
    return n;
}
