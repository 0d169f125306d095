/* What the HDF5 writer and reader share (docs/hdf5-schema.md): the schema
 * version, the HDF5 types of enums and strings, the list of metric fields,
 * and the HDF5 error text. Internal to src/io/results_h5*.c. */
#ifndef PE_RESULTS_H5_TYPES_H
#define PE_RESULTS_H5_TYPES_H

#include <hdf5.h>
#include <stddef.h>

/* Bumped whenever a reader of the old layout would misread the new one. */
#define PE_H5_SCHEMA "prmeval-results"
#define PE_H5_SCHEMA_VERSION 1

/* One numeric field of pe_metric_row: the attribute name in
 * /metrics/classes/<c> and the column name of /metrics/table. */
typedef struct pe_h5_field {
    const char *name;
    size_t offset;  /* in pe_metric_row */
    int is_double;  /* else int64 */
} pe_h5_field;

extern const pe_h5_field pe_h5_metric_fields[];
extern const int pe_h5_nmetric_fields;

/* Enum types (file and memory alike, base int8): class names as in the data
 * (pe_class_name), statuses "ok", "missing", "invalid". Caller closes. */
hid_t pe_h5_class_enum(void);
hid_t pe_h5_status_enum(void);
/* pe_label_source: "scores", "labels", "redundancy". Caller closes. */
hid_t pe_h5_label_source_enum(void);
const char *pe_h5_label_source_name(int v);

/* Variable-length UTF-8 string type. Caller closes. */
hid_t pe_h5_vlen_str(void);

/* File access list for the results file: serial (sec2) driver, file locking
 * on but ignored where the file system has it disabled (Lustre, NFS on
 * clusters), which would otherwise fail every open. Caller closes. */
hid_t pe_h5_fapl(void);

/* The innermost message of the current HDF5 error stack, or "" (for
 * messages naming what failed: HDF5's own printing is switched off). */
void pe_h5_error_text(char *buf, size_t n);

#endif
