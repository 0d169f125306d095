/* Provenance of one evaluation (docs/hdf5-schema.md, root attributes): when,
 * where, with what tool and on which exact bytes. Fills the pe_provenance
 * view that pe_results_h5_write() stores.
 *
 * Use:
 *   pe_prov p;
 *   pe_prov_begin(&p, MPI_COMM_WORLD, "eval", config_json, d->nfiles, d->files,
 *                 predictions_path, PE_METRIC_DEFINITION, &e);    // every rank
 *   ... evaluate ...
 *   pe_prov_end(&p);                                             // root, before writing
 *   pe_results_h5_write(out, &o, &p.view, &e);
 *   pe_prov_free(&p);
 */
#ifndef PE_PROVENANCE_H
#define PE_PROVENANCE_H

#include <mpi.h>
#include <time.h>

#include "core/err.h"
#include "io/results_h5.h"

/* The metric this build computes; files with another value are not comparable. */
#define PE_METRIC_DEFINITION "prmbench-reference-v1"

/* "YYYY-MM-DDThh:mm:ss.sssZ" plus NUL */
#define PE_ISO8601_LEN 25

typedef struct pe_prov {
    pe_provenance view;        /* points into the fields below; hand &view to the writer */
    char start_time[PE_ISO8601_LEN];
    char end_time[PE_ISO8601_LEN];
    char *command, *config_json, *metric_definition;
    int ndata_files;
    char **data_files;         /* (ndata_files) copies of the paths */
    char **data_sha256;        /* (ndata_files) 64 hex digits each; root only, "" elsewhere */
    char *predictions_path;    /* NULL when there is none */
    char predictions_sha256[65];
    char *hosts;               /* unique processor names, comma-separated, in rank order; root only */
} pe_prov;

/* ISO 8601 UTC with milliseconds, e.g. "2025-01-31T17:04:05.123Z". */
void pe_iso8601_utc(const struct timespec *t, char out[PE_ISO8601_LEN]);

/* names is (n, stride) rows, each NUL-terminated or exactly stride bytes long;
 * returns the distinct names in first-seen order, comma-separated (malloc'd). */
char *pe_hosts_join_unique(const char *names, int n, size_t stride, pe_err *e);

/* Collective over comm: MPI_Gather of MPI_Get_processor_name to rank 0, which
 * returns the unique names in rank order, comma-separated (malloc'd). Other
 * ranks get "" (malloc'd). Works without MPI_Init (then: this host's name). */
int pe_gather_hosts(MPI_Comm comm, char **hosts, pe_err *e);

/* Collective over comm (every rank calls it). Records the start time, the tool
 * version and git commit of this build, the rank count and host names; rank 0
 * also hashes the data files and the predictions file (predictions_path may be
 * NULL). Strings are copied. A failure on any rank (e.g. a data file root
 * cannot hash) is returned on every rank, so all ranks stop together; on
 * failure p is freed. config_json may be NULL (stored as ""). */
int pe_prov_begin(pe_prov *p, MPI_Comm comm, const char *command, const char *config_json,
                  int ndata_files, const char *const *data_files, const char *predictions_path,
                  const char *metric_definition, pe_err *e);

/* Records the end time (call right before writing the results). */
void pe_prov_end(pe_prov *p);

void pe_prov_free(pe_prov *p);

#endif
