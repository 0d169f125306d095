#include "metrics_csv.h"

#include <string.h>

#include "../core/table.h"
#include "metrics_json.h"

static void field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* The leading key columns of a header or a row, each followed by a comma
 * (the table's columns always follow them). */
static void key_fields(FILE *f, int nkeys, const char *const *keys)
{
    for (int k = 0; k < nkeys; k++) {
        field(f, keys[k]);
        fputc(',', f);
    }
}

void pe_metrics_csv_header(FILE *f, int nkeys, const char *const *key_names)
{
    key_fields(f, nkeys, key_names);
    for (int col = 0; col < PE_TABLE_NCOLS; col++) {
        field(f, pe_table_col_name(col));
        fputc(col + 1 < PE_TABLE_NCOLS ? ',' : '\n', f);
    }
}

void pe_metrics_csv_row(FILE *f, int nkeys, const char *const *keys, const pe_metrics *m)
{
    char buf[32];
    key_fields(f, nkeys, keys);
    for (int col = 0; col < PE_TABLE_NCOLS; col++) {
        pe_json_double(pe_table_col_value(m, col), buf);
        fputs(buf, f);
        fputc(col + 1 < PE_TABLE_NCOLS ? ',' : '\n', f);
    }
}
