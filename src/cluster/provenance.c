#include "provenance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/sha256.h"
#include "core/version.h"

void pe_iso8601_utc(const struct timespec *t, char out[PE_ISO8601_LEN])
{
    struct tm tm;
    time_t s = t->tv_sec;
    gmtime_r(&s, &tm);
    char head[20];
    strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
    int ms = (int)(t->tv_nsec / 1000000);
    snprintf(out, PE_ISO8601_LEN, "%.19s.%03dZ", head, ms);
}

static void now_iso8601(char out[PE_ISO8601_LEN])
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    pe_iso8601_utc(&t, out);
}

char *pe_hosts_join_unique(const char *names, int n, size_t stride, pe_err *e)
{
    size_t cap = 1;
    for (int i = 0; i < n; i++)
        cap += strnlen(names + (size_t)i * stride, stride) + 1;
    char *out = pe_malloc(cap, e);
    if (!out)
        return NULL;
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *name = names + (size_t)i * stride;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = strncmp(name, names + (size_t)j * stride, stride) == 0;
        if (seen)
            continue;
        size_t l = strnlen(name, stride);
        if (len)
            out[len++] = ',';
        memcpy(out + len, name, l);
        len += l;
        out[len] = '\0';
    }
    return out;
}

int pe_gather_hosts(MPI_Comm comm, char **hosts, pe_err *e)
{
    *hosts = NULL;
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        char name[256] = {0};
        if (gethostname(name, sizeof name - 1) != 0)
            snprintf(name, sizeof name, "unknown");
        *hosts = pe_strdup(name, e);
        return *hosts ? PE_OK : PE_ERESOURCE;
    }
    int rank, nranks, len = 0;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &nranks);
    char name[MPI_MAX_PROCESSOR_NAME];
    memset(name, 0, sizeof name);
    if (MPI_Get_processor_name(name, &len) != MPI_SUCCESS)
        snprintf(name, sizeof name, "unknown");
    /* (nranks, MPI_MAX_PROCESSOR_NAME): size_t since nranks can be large */
    char *all = NULL;
    int ok = 1;
    if (rank == 0) {
        all = calloc((size_t)nranks, MPI_MAX_PROCESSOR_NAME);
        ok = all != NULL;
    }
    /* every rank must know whether root can receive, or the gather would hang or crash */
    MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
    if (!ok)
        return pe_fail(e, PE_ERESOURCE, "out of memory gathering the host names of %d ranks", nranks);
    int rc = MPI_Gather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0, comm);
    if (rc != MPI_SUCCESS) {
        free(all);
        return pe_fail(e, PE_EMPI, "MPI_Gather of the host names failed (error %d)", rc);
    }
    if (rank == 0) {
        *hosts = pe_hosts_join_unique(all, nranks, MPI_MAX_PROCESSOR_NAME, e);
        free(all);
    } else {
        *hosts = pe_strdup("", e);
    }
    return *hosts ? PE_OK : PE_ERESOURCE;
}

static char *dup_or_empty(const char *s, pe_err *e) { return pe_strdup(s ? s : "", e); }

/* Everything rank 0 does alone: copies and hashes. */
static int fill_root(pe_prov *p, pe_err *e)
{
    for (int i = 0; i < p->ndata_files; i++) {
        char hex[65];
        if (pe_sha256_file(p->data_files[i], hex, e) != PE_OK)
            return e ? e->code : PE_EIO;
        if (!(p->data_sha256[i] = pe_strdup(hex, e)))
            return PE_ERESOURCE;
    }
    if (p->predictions_path && pe_sha256_file(p->predictions_path, p->predictions_sha256, e) != PE_OK)
        return e ? e->code : PE_EIO;
    return PE_OK;
}

static void set_view(pe_prov *p, int nranks)
{
    pe_provenance *v = &p->view;
    v->tool_version = PRMEVAL_VERSION;
    v->git_commit = PRMEVAL_GIT_COMMIT;
    v->command = p->command;
    v->config_json = p->config_json;
    v->ndata_files = p->ndata_files;
    v->data_files = (const char *const *)p->data_files;
    v->data_sha256 = (const char *const *)p->data_sha256;
    v->predictions_path = p->predictions_path;
    v->predictions_sha256 = p->predictions_path ? p->predictions_sha256 : NULL;
    v->nranks = nranks;
    v->hosts = p->hosts;
    v->start_time = p->start_time;
    v->end_time = p->end_time;
    v->metric_definition = p->metric_definition;
}

int pe_prov_begin(pe_prov *p, MPI_Comm comm, const char *command, const char *config_json,
                  int ndata_files, const char *const *data_files, const char *predictions_path,
                  const char *metric_definition, pe_err *e)
{
    memset(p, 0, sizeof *p);
    now_iso8601(p->start_time);
    int inited = 0, rank = 0, nranks = 1;
    MPI_Initialized(&inited);
    if (inited) {
        MPI_Comm_rank(comm, &rank);
        MPI_Comm_size(comm, &nranks);
    }
    pe_err local = {0};
    int rc = pe_gather_hosts(comm, &p->hosts, &local);
    if (rc == PE_OK && ndata_files < 0)
        rc = pe_fail(&local, PE_EUSAGE, "provenance: negative number of data files (%d)", ndata_files);
    if (rc == PE_OK) {
        p->ndata_files = ndata_files;
        p->command = dup_or_empty(command, &local);
        p->config_json = dup_or_empty(config_json, &local);
        p->metric_definition = dup_or_empty(metric_definition, &local);
        p->data_files = pe_calloc((size_t)ndata_files, sizeof *p->data_files, &local);
        p->data_sha256 = pe_calloc((size_t)ndata_files, sizeof *p->data_sha256, &local);
        if (predictions_path)
            p->predictions_path = pe_strdup(predictions_path, &local);
        for (int i = 0; local.code == PE_OK && i < ndata_files; i++)
            p->data_files[i] = dup_or_empty(data_files[i], &local);
        rc = local.code;
    }
    if (rc == PE_OK && rank == 0)
        rc = fill_root(p, &local);
    if (rc == PE_OK && rank != 0)   /* only root hashes; keep the view's strings valid everywhere */
        for (int i = 0; local.code == PE_OK && i < ndata_files; i++)
            p->data_sha256[i] = pe_strdup("", &local);
    rc = local.code;
    /* ranks agree on failure: root's status (a root-only hashing error included) wins */
    if (inited) {
        int worst = rc;
        MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, comm);
        if (worst != PE_OK && rc == PE_OK)
            rc = pe_fail(&local, worst, "provenance failed on another rank (see its message)");
    }
    if (rc != PE_OK) {
        pe_fail(e, rc, "%s", local.msg);
        pe_prov_free(p);
        return rc;
    }
    set_view(p, nranks);
    return PE_OK;
}

void pe_prov_end(pe_prov *p) { now_iso8601(p->end_time); }

void pe_prov_free(pe_prov *p)
{
    for (int i = 0; i < p->ndata_files; i++) {
        if (p->data_files)
            free(p->data_files[i]);
        if (p->data_sha256)
            free(p->data_sha256[i]);
    }
    free(p->data_files);
    free(p->data_sha256);
    free(p->command);
    free(p->config_json);
    free(p->metric_definition);
    free(p->predictions_path);
    free(p->hosts);
    memset(p, 0, sizeof *p);
}
