#include "table.h"

/* Column col of the paper's table: 0 Overall, then each category's classes
 * followed by the category. Returns the class (>= 1), 0 for Overall, or
 * -1 - category for a category column. */
static int col_what(int col)
{
    if (col == 0)
        return 0;
    int k = 1;
    for (int g = 0; g < PE_NCATEGORIES; g++) {
        for (int c = 1; c < PE_NCLASSES; c++)
            if (pe_class_category(c) == g && k++ == col)
                return c;
        if (k++ == col)
            return -1 - g;
    }
    return 0;
}

const char *pe_table_col_name(int col)
{
    int w = col_what(col);
    return w == 0 ? "Overall" : w > 0 ? pe_class_abbrev(w) : pe_category_abbrev(-1 - w);
}

double pe_table_col_value(const pe_metrics *m, int col)
{
    int w = col_what(col);
    return w == 0 ? m->pooled.prmscore : w > 0 ? m->cls[w].prmscore : m->category[-1 - w];
}

/* A category column closes a group: a bar after it, except the last. */
static const char *after(int col)
{
    return col_what(col) < 0 && col + 1 < PE_TABLE_NCOLS ? " |" : "";
}

void pe_table_header(FILE *f, const char *title, int width)
{
    fprintf(f, "%-*s %7s |", width, title, "Overall");
    for (int col = 1; col < PE_TABLE_NCOLS; col++)
        fprintf(f, " %*s%s", col_what(col) < 0 ? 6 : 5, pe_table_col_name(col), after(col));
    fputc('\n', f);
}

/* One cell: x100, one decimal, as the paper prints it. */
void pe_table_row(FILE *f, const char *label, int width, const pe_metrics *m)
{
    fprintf(f, "%-*s %7.1f |", width, label, pe_table_col_value(m, 0) * 100);
    for (int col = 1; col < PE_TABLE_NCOLS; col++)
        fprintf(f, " %*.1f%s", col_what(col) < 0 ? 6 : 5, pe_table_col_value(m, col) * 100, after(col));
    fputc('\n', f);
}

void pe_table_print(FILE *f, const pe_metrics *m)
{
    pe_table_header(f, "", 10);
    pe_table_row(f, "PRMScore", 10, m);
    fprintf(f, "(pooled: f1 %.1f, negative_f1 %.1f, validity_rate %.1f; threshold %g)\n", m->pooled.f1 * 100,
            m->pooled.negative_f1 * 100, m->validity_rate * 100, m->threshold);
}
