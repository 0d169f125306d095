/* Provenance: timestamps, host list, hashes, failure agreement. Runs as one
 * rank under ctest and under mpirun -np 3 (tests/scripts/test_provenance_mpi.sh). */
#include "check.h"
#include "cluster/provenance.h"
#include "core/sha256.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void check_time_format(void)
{
    char s[PE_ISO8601_LEN];
    struct timespec t = {0, 0};
    pe_iso8601_utc(&t, s);
    CHECK_STR(s, "1970-01-01T00:00:00.000Z");
    t.tv_sec = 1700000000; /* date -u -d @1700000000 */
    t.tv_nsec = 123999999;  /* truncated, not rounded: never a time in the future */
    pe_iso8601_utc(&t, s);
    CHECK_STR(s, "2023-11-14T22:13:20.123Z");
    t.tv_sec = 951782400;   /* a leap day */
    t.tv_nsec = 5000000;
    pe_iso8601_utc(&t, s);
    CHECK_STR(s, "2000-02-29T00:00:00.005Z");
}

static void check_join_unique(void)
{
    pe_err e = {0};
    /* 4 ranks on 2 nodes, interleaved; a name exactly as long as the row has no NUL */
    char names[5][8] = {"node-b", "node-a", "node-b", "node-a", {'n', 'o', 'd', 'e', '-', 'x', 'y', 'z'}};
    char *s = pe_hosts_join_unique(&names[0][0], 5, 8, &e);
    CHECK_STR(s, "node-b,node-a,node-xyz");
    free(s);
    s = pe_hosts_join_unique(&names[0][0], 1, 8, &e);
    CHECK_STR(s, "node-b");
    free(s);
    s = pe_hosts_join_unique(&names[0][0], 0, 8, &e);
    CHECK_STR(s, "");
    free(s);
}

static void check_begin(int rank, int nranks)
{
    const char *files[2] = {"data/subset400.jsonl", "data/NOTICE"};
    pe_err e = {0};
    pe_prov p;
    CHECK_INT(pe_prov_begin(&p, MPI_COMM_WORLD, "eval", "{\"threshold\":0.5}", 2, files,
                            "data/LICENSE", PE_METRIC_DEFINITION, &e), PE_OK);
    pe_prov_end(&p);
    const pe_provenance *v = &p.view;
    CHECK_STR(v->tool_version, PRMEVAL_VERSION);
    CHECK_STR(v->git_commit, PRMEVAL_GIT_COMMIT);
    CHECK_INT(strlen(v->git_commit) == 40 || strcmp(v->git_commit, "unknown") == 0, 1);
    CHECK_STR(v->command, "eval");
    CHECK_STR(v->config_json, "{\"threshold\":0.5}");
    CHECK_STR(v->metric_definition, "prmbench-reference-v1");
    CHECK_INT(v->nranks, nranks);
    CHECK_INT(v->ndata_files, 2);
    CHECK_STR(v->data_files[0], "data/subset400.jsonl");
    CHECK_STR(v->data_files[1], "data/NOTICE");
    CHECK_STR(v->predictions_path, "data/LICENSE");
    CHECK_INT(strlen(v->start_time), 24);
    CHECK(strcmp(v->start_time, v->end_time) <= 0);
    CHECK(v->start_time[4] == '-' && v->start_time[10] == 'T' && v->start_time[23] == 'Z');
    if (rank == 0) {
        char hex[65];
        CHECK_INT(pe_sha256_file("data/subset400.jsonl", hex, &e), PE_OK);
        CHECK_STR(v->data_sha256[0], hex);
        CHECK_INT(pe_sha256_file("data/NOTICE", hex, &e), PE_OK);
        CHECK_STR(v->data_sha256[1], hex);
        CHECK_INT(pe_sha256_file("data/LICENSE", hex, &e), PE_OK);
        CHECK_STR(v->predictions_sha256, hex);
        /* all ranks run on this machine: one unique name, the processor name */
        char name[MPI_MAX_PROCESSOR_NAME];
        int len;
        MPI_Get_processor_name(name, &len);
        CHECK_STR(v->hosts, name);
        CHECK(strchr(v->hosts, ',') == NULL);
    } else {
        CHECK_STR(v->data_sha256[0], "");
        CHECK_STR(v->hosts, "");
    }
    pe_prov_free(&p);

    /* no predictions, no config */
    pe_err_clear(&e);
    CHECK_INT(pe_prov_begin(&p, MPI_COMM_WORLD, "run", NULL, 0, NULL, NULL, PE_METRIC_DEFINITION, &e), PE_OK);
    CHECK(p.view.predictions_path == NULL && p.view.predictions_sha256 == NULL);
    CHECK_STR(p.view.config_json, "");
    CHECK_INT(p.view.ndata_files, 0);
    pe_prov_free(&p);
}

/* A file only root hashes is missing: every rank must fail, root naming the file. */
static void check_failure_agreement(int rank)
{
    const char *files[1] = {"data/does-not-exist.jsonl"};
    pe_err e = {0};
    pe_prov p;
    int rc = pe_prov_begin(&p, MPI_COMM_WORLD, "eval", NULL, 1, files, NULL, PE_METRIC_DEFINITION, &e);
    CHECK_INT(rc, PE_EIO);
    if (rank == 0)
        CHECK(strstr(e.msg, "data/does-not-exist.jsonl") != NULL);
    else
        CHECK(strstr(e.msg, "another rank") != NULL);
    CHECK(p.data_files == NULL && p.hosts == NULL); /* freed */
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, nranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    check_time_format();
    check_join_unique();
    check_begin(rank, nranks);
    check_failure_agreement(rank);
    int rc = pe_check_done();
    int worst = rc;
    MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return worst;
}
