/* Output files published whole, and several of them together: each is
 * written under a temporary name unique to this process (beside its final
 * name), checked and fsync'ed, and only when every one of them is complete
 * are they renamed onto their final names, one after the other, while the
 * folders are locked (flock), so that two runs writing the same outputs never
 * leave a pair made of one run's JSON and the other's HDF5 file. A failure
 * before the renames leaves the previous files untouched.
 *
 * What the final name is decides how it is written: a regular file (or no
 * file) is replaced; a symbolic link is written through (its target is
 * replaced, the link stays); a character device (/dev/null) or a FIFO
 * (/dev/stdout into a pipe) is written in place, a FIFO only when a process
 * reads it (no hang); a folder, socket or block device is refused. */
#ifndef PE_OUTFILE_H
#define PE_OUTFILE_H

#include <stddef.h>
#include <stdio.h>

#include "../core/err.h"

typedef struct pe_outfile {
    char *path;    /* as the user gave it (messages) */
    char *target;  /* the file replaced: path, or where its symbolic links lead */
    char *tmp;     /* the temporary file; NULL when written in place (a character device) */
    int fd;
    FILE *f;       /* write here */
    int err;       /* errno of the first failed pe_outfile_write */
} pe_outfile;

/* Opens the temporary file (or the device). PE_EIO naming path on failure. */
int pe_outfile_open(pe_outfile *o, const char *path, pe_err *e);

/* fwrite that remembers why it failed (for the message at publish). */
int pe_outfile_write(pe_outfile *o, const void *buf, size_t n);

/* Checks every write, fsyncs and renames all n files (see above). On failure
 * the temporary files are removed and nothing was renamed, except when a
 * rename fails after an earlier one succeeded (the message says which file
 * was published). Always releases the files. */
int pe_outfile_publish(pe_outfile *o, int n, pe_err *e);

/* Releases and removes the temporary file (after an error elsewhere). */
void pe_outfile_abort(pe_outfile *o);

/* Whether path can be an output: not a folder, socket or block device
 * (after symbolic links), in a folder that exists and is writable. Writes
 * nothing. PE_EIO naming `what` (e.g. "--out") otherwise. */
int pe_output_path_check(const char *path, const char *what, pe_err *e);

/* Whether output `out` (named `what`) is the same file as one of the inputs
 * (files, or folders whose files are all inputs: a model folder, a data
 * folder) or the same file as an earlier output: PE_EUSAGE naming both. */
int pe_output_distinct(const char *out, const char *what, const char *const *inputs, int ninputs,
                       const char *const *outputs, int noutputs, pe_err *e);

#endif
