#include "table.h"

/* One cell: x100, one decimal, as the paper prints it. */
static void cell(FILE *f, double v, int width)
{
    fprintf(f, " %*.1f", width, v * 100);
}

void pe_table_print(FILE *f, const pe_metrics *m)
{
    fprintf(f, "%-10s %7s |", "", "Overall");
    for (int g = 0; g < PE_NCATEGORIES; g++) {
        for (int c = 1; c < PE_NCLASSES; c++)
            if (pe_class_category(c) == g)
                fprintf(f, " %5s", pe_class_abbrev(c));
        fprintf(f, " %6s%s", pe_category_abbrev(g), g + 1 < PE_NCATEGORIES ? " |" : "\n");
    }
    fprintf(f, "%-10s", "PRMScore");
    cell(f, m->pooled.prmscore, 7);
    fprintf(f, " |");
    for (int g = 0; g < PE_NCATEGORIES; g++) {
        for (int c = 1; c < PE_NCLASSES; c++)
            if (pe_class_category(c) == g)
                cell(f, m->cls[c].prmscore, 5);
        cell(f, m->category[g], 6);
        fprintf(f, "%s", g + 1 < PE_NCATEGORIES ? " |" : "\n");
    }
    fprintf(f, "(pooled: f1 %.1f, negative_f1 %.1f, validity_rate %.1f; threshold %g)\n", m->pooled.f1 * 100,
            m->pooled.negative_f1 * 100, m->validity_rate * 100, m->threshold);
}
