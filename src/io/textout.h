/* A text output file published whole (outfile.h): written under a unique
 * temporary name and renamed onto path only when complete, so a failed or
 * interrupted command never leaves a half file under the final name. */
#ifndef PE_TEXTOUT_H
#define PE_TEXTOUT_H

#include <stdio.h>

#include "../core/err.h"
#include "outfile.h"

typedef struct pe_textout {
    FILE *f;       /* write here */
    pe_outfile o;
} pe_textout;

int pe_textout_open(pe_textout *t, const char *path, pe_err *e);
/* Closes, checks every write, renames. The temp file is removed on failure. */
int pe_textout_commit(pe_textout *t, pe_err *e);
/* Closes and removes the temp file (after an error elsewhere). */
void pe_textout_abort(pe_textout *t);

#endif
