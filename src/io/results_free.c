/* pe_results_free: plain memory, so it stays in the library while the reader
 * that fills a pe_results lives in libprmeval_h5.so (results_h5_loader.c). */
#include "results_h5_read.h"

#include <stdlib.h>
#include <string.h>

static void free_strs(char **s, int64_t n)
{
    for (int64_t i = 0; s && i < n; i++)
        free(s[i]);
    free(s);
}

void pe_results_free(pe_results *r)
{
    free_strs(r->key, r->nsamples);
    free_strs(r->idx, r->nsamples);
    free(r->cls); free(r->problem); free(r->status); free(r->nsteps); free(r->nlabels);
    free(r->pred_order); free(r->label_source); free(r->src_file); free(r->src_line); free(r->step_offset); free(r->err_offset); free(r->err_steps);
    free(r->step_scores); free(r->step_scores2); free(r->step_labels); free(r->step_is_error);
    pe_results_prov *p = &r->prov;
    free(p->schema); free(p->tool_version); free(p->git_commit); free(p->command); free(p->config_json);
    free_strs(p->data_files, p->ndata_files);
    free_strs(p->data_sha256, p->ndata_files);
    free(p->predictions_path); free(p->predictions_sha256); free(p->hosts); free(p->start_time);
    free(p->end_time); free(p->metric_definition);
    memset(r, 0, sizeof *r);
}
