/* What the HDF5 writer and reader share (docs/hdf5-schema.md): the schema
 * version, the HDF5 types of enums and strings, the list of metric fields,
 * and the HDF5 error text. Internal to src/io/results_h5*.c. */
#ifndef PE_RESULTS_H5_TYPES_H
#define PE_RESULTS_H5_TYPES_H

#include <hdf5.h>
#include <stddef.h>

/* Bumped whenever a reader of the old layout would misread the new one.
 * Version 2: fixed-length strings (nothing in the global heap) and the
 * 1.10 file format (checksummed metadata). The reader takes only this one. */
#define PE_H5_SCHEMA "prmeval-results"
#define PE_H5_SCHEMA_VERSION 2

/* The longest string the writer stores and the reader accepts, in bytes
 * without the terminating NUL (a config_json is a few KiB; keys and paths
 * are short). A larger stored size is corruption, refused before any
 * buffer is sized from it. */
#define PE_H5_MAX_STR (1u << 20)
/* The most bytes one string dataset may occupy once read (elements x
 * element size): guards the allocation from a forged element size. */
#define PE_H5_MAX_STR_BYTES ((size_t)1 << 30)

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
/* The names of the enums' values (also the "names" attribute of /samples/class,
 * /samples/status and /samples/label_source). */
const char *pe_h5_class_name(int c);
const char *pe_h5_status_name(int s);
const char *pe_h5_label_source_name(int v);

/* Fixed-length UTF-8 string type of size bytes (the longest string + 1:
 * NUL-terminated, NUL-padded). Fixed-length strings live in the dataset's or
 * attribute's own storage; variable-length ones would live in the global
 * heap, which has no checksum and which libhdf5 1.10 trusts (a corrupt one
 * crashes or hangs H5Dread/H5Aread). Caller closes. */
hid_t pe_h5_fixed_str(size_t size);

/* File access list for the results file: serial (sec2) driver, file locking
 * on but ignored where the file system has it disabled (Lustre, NFS on
 * clusters), which would otherwise fail every open. for_create: also the
 * format bounds [1.10, latest], so that the superblock (version 3), object
 * headers (version 2), groups, attributes and chunk indexes are the
 * checksummed kinds. Caller closes. */
hid_t pe_h5_fapl(int for_create);

/* Creation list for the root group (a file creation list) or any other
 * group: up to 64 links and 64 attributes stay in the object header
 * (checksummed) instead of moving to dense storage past the default 8.
 * Caller closes. */
hid_t pe_h5_fcpl(void);
hid_t pe_h5_gcpl(void);

/* Closes id, whatever kind of object it is; nothing when id < 0 (never
 * opened). For clean-up paths, where an error may have left any of several
 * ids unopened and a failed close changes nothing for the caller. */
void pe_h5_close(hid_t id);

/* Keeps libhdf5 from registering its atexit clean-up (H5dont_atexit), when
 * called before any other HDF5 call of the process; later calls do nothing.
 * libhdf5 1.10.8 leaks internal free-list blocks when a corrupt object
 * header fails its checksum, and its clean-up at exit then prints "HDF5:
 * infinite loop closing library" and a list of package names under
 * prmeval's own error message. Every file is closed before exit, so the
 * clean-up has nothing to flush; the process's memory goes back anyway. */
void pe_h5_no_atexit(void);

/* The innermost message of the current HDF5 error stack, or "" (for
 * messages naming what failed: HDF5's own printing is switched off). */
void pe_h5_error_text(char *buf, size_t n);

#endif
