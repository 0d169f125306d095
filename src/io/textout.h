/* A text output file written under "<path>.tmp" and renamed onto path only
 * when complete, so a failed or interrupted command never leaves a half
 * file under the final name (as the JSON and HDF5 writers do). */
#ifndef PE_TEXTOUT_H
#define PE_TEXTOUT_H

#include <stdio.h>

#include "../core/err.h"

typedef struct pe_textout {
    FILE *f;       /* write here */
    char *path;    /* the final name */
    char *tmp;     /* path + ".tmp" */
} pe_textout;

int pe_textout_open(pe_textout *t, const char *path, pe_err *e);
/* Closes, checks every write, renames. The temp file is removed on failure. */
int pe_textout_commit(pe_textout *t, pe_err *e);
/* Closes and removes the temp file (after an error elsewhere). */
void pe_textout_abort(pe_textout *t);

/* Whether an output file can be written at path, checked before the work that
 * fills it (a run can take hours): its folder exists and is writable, and path
 * is not a folder. PE_EIO naming `what` (e.g. "--out", "key \"output\"") and
 * the folder otherwise. Writes nothing. */
int pe_output_path_check(const char *path, const char *what, pe_err *e);

#endif
