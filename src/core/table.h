/* The paper's table: PRMScore x100 with one decimal, columns
 * Overall | NR NCL Simp. | ES SC DC CI Sound. | PS DR MS Sens. */
#ifndef PE_TABLE_H
#define PE_TABLE_H

#include <stdio.h>

#include "metrics.h"

/* One run: the header, the PRMScore row and a line of pooled figures (`eval`). */
void pe_table_print(FILE *f, const pe_metrics *m);

/* Several runs in one table (`rescore` thresholds, `report` files): the
 * header with a first column of the given width and title, then one row per
 * run, labelled (labels longer than width push the row right; never cut). */
void pe_table_header(FILE *f, const char *title, int width);
void pe_table_row(FILE *f, const char *label, int width, const pe_metrics *m);

/* The 13 paper columns in order, for CSV and other machine output:
 * names "Overall", "NR", ..., "Sens." and their values (fractions, not x100). */
#define PE_TABLE_NCOLS 13
const char *pe_table_col_name(int col);
double pe_table_col_value(const pe_metrics *m, int col);

#endif
