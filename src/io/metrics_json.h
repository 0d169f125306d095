/* The metrics as JSON (docs/cli-eval.md): the reference evaluator's keys
 * (`total_hallucination_results`, `hallucination_type_results`,
 * `validitiy_rate` [sic]) plus `validity_rate`, `prmscore`,
 * `prmscore_category`, `counts` and `warnings`. Doubles are written in the
 * shortest form that reads back to the same bits, always with a '.' or an
 * exponent so Python reads a float (-0.0 stays -0.0). */
#ifndef PE_METRICS_JSON_H
#define PE_METRICS_JSON_H

#include "../core/err.h"
#include "../core/metrics.h"
#include "run_info.h"

/* Writes to path via path.tmp + rename. warnings may be NULL. */
int pe_metrics_json_write(const char *path, const pe_metrics *m, const char *const *warnings, int nwarnings,
                          pe_err *e);

/* The same document as a malloc'ed string (caller frees). */
char *pe_metrics_json_string(const pe_metrics *m, const char *const *warnings, int nwarnings, pe_err *e);

/* The same plus a last member "run" (token statistics and per-rank timing of
 * `prmeval run`, docs/run.md); run NULL = exactly the functions above. */
int pe_metrics_json_write_run(const char *path, const pe_metrics *m, const char *const *warnings, int nwarnings,
                              const pe_run_info *run, pe_err *e);
char *pe_metrics_json_string_run(const pe_metrics *m, const char *const *warnings, int nwarnings,
                                 const pe_run_info *run, pe_err *e);

/* Shortest round-trip text of v ("-0.0", "0.5", "-1.0", "0.1234..."); buf of 32 bytes. */
void pe_json_double(double v, char buf[32]);

#endif
