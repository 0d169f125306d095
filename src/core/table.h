/* The paper's table: PRMScore x100 with one decimal, columns
 * Overall | NR NCL Simp. | ES SC DC CI Sound. | PS DR MS Sens. */
#ifndef PE_TABLE_H
#define PE_TABLE_H

#include <stdio.h>

#include "metrics.h"

void pe_table_print(FILE *f, const pe_metrics *m);

#endif
