/* Backend selection without a GPU: the node-local rank read from the
 * launcher's environment, rank -> device, and the CUDA entry points on a
 * machine without a usable GPU (CI: nvcc but no driver; sanitizer build:
 * built without CUDA) must answer "0 devices" with a reason, and creating the
 * backend must fail cleanly with PE_ERESOURCE, never crash. */
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "check.h"

static void clear_env(void)
{
    unsetenv("OMPI_COMM_WORLD_LOCAL_RANK");
    unsetenv("SLURM_LOCALID");
    unsetenv("MPI_LOCALRANKID");
    unsetenv("MV2_COMM_WORLD_LOCAL_RANK");
    unsetenv("PMI_LOCAL_RANK");
}

int main(void)
{
    clear_env();
    CHECK_INT(pe_node_local_rank_env(), -1);
    setenv("SLURM_LOCALID", "3", 1);
    CHECK_INT(pe_node_local_rank_env(), 3);
    setenv("OMPI_COMM_WORLD_LOCAL_RANK", "1", 1);   /* Open MPI's variable is read first */
    CHECK_INT(pe_node_local_rank_env(), 1);
    setenv("OMPI_COMM_WORLD_LOCAL_RANK", "x1", 1);  /* garbage is skipped, not read as 0 */
    CHECK_INT(pe_node_local_rank_env(), 3);
    clear_env();
    setenv("PMI_LOCAL_RANK", "-2", 1);
    CHECK_INT(pe_node_local_rank_env(), -1);
    clear_env();

    CHECK_INT(pe_device_for_local_rank(0, 4), 0);
    CHECK_INT(pe_device_for_local_rank(5, 4), 1);   /* 8 ranks on 4 GPUs share round-robin */
    CHECK_INT(pe_device_for_local_rank(-1, 2), 0);
    CHECK_INT(pe_device_for_local_rank(2, 0), -1);

    char why[256] = "unchanged";
    int n = -1;
    int r = pe_backend_cuda_available(&n, why, sizeof why);
    CHECK_INT(r, n);
    if (n == 0) {
        /* Both the no-CUDA build and a driverless machine must say why. */
        CHECK(strlen(why) > 0 && strcmp(why, "unchanged") != 0);
        printf("no GPU here: %s\n", why);
        pe_model m;
        memset(&m, 0, sizeof m);
        pe_head_spec head = {pe_family_by_name("skywork")->head, {0}};
        pe_backend b;
        pe_err e = {0, ""};
        CHECK_INT(pe_backend_cuda_create(&b, &m, &head, 0, &e), PE_ERESOURCE);
        CHECK_INT(e.code, PE_ERESOURCE);
        CHECK(strlen(e.msg) > 0);
        printf("create says: %s\n", e.msg);
    } else {
        printf("%d CUDA device(s): the no-GPU path is not exercised here\n", n);
    }
    return pe_check_done();
}
