#include "textout.h"

#include <string.h>

int pe_textout_open(pe_textout *t, const char *path, pe_err *e)
{
    memset(t, 0, sizeof *t);
    int rc = pe_outfile_open(&t->o, path, e);
    t->f = rc == PE_OK ? t->o.f : NULL;
    return rc;
}

int pe_textout_commit(pe_textout *t, pe_err *e)
{
    t->f = NULL;
    return pe_outfile_publish(&t->o, 1, e);
}

void pe_textout_abort(pe_textout *t)
{
    t->f = NULL;
    pe_outfile_abort(&t->o);
}
