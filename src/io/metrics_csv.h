/* The paper's table as CSV (RFC 4180): the caller's key columns (e.g.
 * threshold and label rule, or file and label), then the 13 paper columns
 * (Overall, NR, ..., Sens.) as fractions in the shortest text that reads back
 * to the same double (full precision, unlike the x100 one-decimal table). */
#ifndef PE_METRICS_CSV_H
#define PE_METRICS_CSV_H

#include <stdio.h>

#include "../core/metrics.h"

/* The header line. */
void pe_metrics_csv_header(FILE *f, int nkeys, const char *const *key_names);
/* One row; keys are written quoted when they contain a comma, a quote or a line break. */
void pe_metrics_csv_row(FILE *f, int nkeys, const char *const *keys, const pe_metrics *m);

#endif
