/* Node-local rank from the launcher's environment, and rank -> GPU. Kept out
 * of MPI on purpose: the cluster layer may compute the same number with
 * MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) and pass it instead. */
#include <stdlib.h>

#include "backend.h"

int pe_node_local_rank_env(void)
{
    /* Open MPI, SLURM srun, MPICH/Hydra, MVAPICH2: the first one set wins. */
    static const char *const vars[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID",
                                       "MPI_LOCALRANKID", "MV2_COMM_WORLD_LOCAL_RANK",
                                       "PMI_LOCAL_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *s = getenv(vars[i]);
        if (!s || !*s)
            continue;
        char *end;
        long v = strtol(s, &end, 10);
        if (*end == '\0' && v >= 0 && v < 1000000)
            return (int)v;
    }
    return -1;
}

int pe_device_for_local_rank(int local_rank, int ndevices)
{
    if (ndevices <= 0)
        return -1;
    if (local_rank < 0)
        return 0;
    /* More ranks than GPUs on a node: share round-robin rather than fail. */
    return local_rank % ndevices;
}
