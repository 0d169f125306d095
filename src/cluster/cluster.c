#include "cluster.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>

#include "../core/shard.h"
#include "../core/table.h"
#include "../io/metrics_json.h"
#include "../io/outfile.h"
#include "provenance.h"

/* pe_counts travels as an array of int64 (MPI_INT64_T sums are exact). */
_Static_assert(sizeof(pe_counts) % sizeof(int64_t) == 0, "pe_counts must be a whole number of int64");
#define COUNTS_INT64 ((int)(sizeof(pe_counts) / sizeof(int64_t)))

static int launched_by_mpi(void)
{
    const char *force = getenv("PRMEVAL_MPI");
    if (force && *force)
        return strcmp(force, "0") != 0;
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK") || getenv("PMI_SIZE");
}

int pe_world_init(int *argc, char ***argv, pe_world *w, pe_err *e)
{
    memset(w, 0, sizeof *w);
    w->size = 1;
    if (!launched_by_mpi())
        return PE_OK;
    if (MPI_Init(argc, argv) != MPI_SUCCESS)
        return pe_fail(e, PE_EMPI, "MPI_Init failed");
    w->mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &w->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &w->size);
    return PE_OK;
}

void pe_world_finalize(pe_world *w)
{
    if (w->mpi)
        MPI_Finalize();
    w->mpi = 0;
}

int pe_world_agree(const pe_world *w, int rc, pe_err *e)
{
    if (!w->mpi)
        return rc;
    int mine = rc != PE_OK ? w->rank : w->size, first = w->size;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == w->size)
        return PE_OK;
    pe_err tmp;
    pe_err_clear(&tmp);
    if (w->rank == first) {
        tmp.code = rc;
        if (e)
            memcpy(tmp.msg, e->msg, sizeof tmp.msg);
        tmp.msg[sizeof tmp.msg - 1] = '\0';
    }
    MPI_Bcast(&tmp.code, 1, MPI_INT, first, MPI_COMM_WORLD);
    MPI_Bcast(tmp.msg, (int)sizeof tmp.msg, MPI_CHAR, first, MPI_COMM_WORLD);
    if (e) {
        pe_err_clear(e);
        pe_fail(e, tmp.code, "%s", tmp.msg);
        if (first != 0)  /* rank 0 prints it: say whose it is */
            pe_err_prefix(e, "rank %d: ", first);
    }
    return tmp.code;
}

void pe_utc_now(char buf[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* This rank's part: results and step arrays of its samples, in canonical order. */
typedef struct local_part {
    int n;
    int *idx;                /* (n) sample indices */
    pe_sample_result *res;   /* (n) */
    int64_t nsteps;
    uint8_t *labels;         /* (nsteps) */
    double *scores;          /* (nsteps) */
    double *scores2;         /* (nsteps) when the request has a second score, else NULL */
    pe_counts counts[PE_NCLASSES];
} local_part;

static void local_free(local_part *l)
{
    free(l->idx);
    free(l->res);
    free(l->labels);
    free(l->scores);
    free(l->scores2);
}

static int evaluate_local(const pe_world *w, const pe_eval_request *q, local_part *l, pe_err *e)
{
    const pe_dataset *d = q->data;
    memset(l, 0, sizeof *l);
    if (!(l->idx = pe_malloc(((size_t)d->nsamples + 1) * sizeof *l->idx, e)))
        return PE_ERESOURCE;
    l->n = pe_shard_local_samples(d, w->rank, w->size, l->idx);
    for (int k = 0; k < l->n; k++) {
        const pe_sample_pred *p = &q->preds[l->idx[k]];
        if (p->status == PE_PRED_OK)
            l->nsteps += p->m;
    }
    l->res = pe_calloc((size_t)l->n + 1, sizeof *l->res, e);
    l->labels = pe_malloc((size_t)l->nsteps + 1, e);
    l->scores = pe_malloc(((size_t)l->nsteps + 1) * sizeof *l->scores, e);
    if (q->scores2)
        l->scores2 = pe_malloc(((size_t)l->nsteps + 1) * sizeof *l->scores2, e);
    if (!l->res || !l->labels || !l->scores || (q->scores2 && !l->scores2))
        return PE_ERESOURCE;
    size_t off = 0;
    for (int k = 0; k < l->n; k++) {
        const pe_sample *s = &d->samples[l->idx[k]];
        const pe_sample_pred *p = &q->preds[l->idx[k]];
        if (p->status == PE_PRED_OK) {
            pe_sample_evaluate(s, p->labels, p->m, &l->res[k]);
            l->res[k].label_source = p->label_source;
            if (p->m > 0)
                memcpy(l->labels + off, p->labels, (size_t)p->m);
            for (int32_t t = 0; t < p->m; t++)
                l->scores[off + (size_t)t] = p->scores ? p->scores[t] : NAN;
            for (int32_t t = 0; l->scores2 && t < p->m; t++)
                l->scores2[off + (size_t)t] = p->scores2 ? p->scores2[t] : NAN;
            off += (size_t)p->m;
        } else {
            pe_sample_skip(s, p->status, &l->res[k]);
        }
        l->res[k].pred_order = p->pred_order;
        pe_counts_add(&l->counts[s->cls], &l->res[k].c);
    }
    return PE_OK;
}

/* Everything root holds after the gather, in canonical sample order. */
typedef struct root_part {
    pe_counts counts[PE_NCLASSES];
    pe_sample_result *res;  /* (nsamples) */
    int64_t *step_offset;   /* (nsamples+1) */
    uint8_t *labels;
    double *scores;
    double *scores2;        /* NULL without a second score */
} root_part;

static void root_free(root_part *r)
{
    free(r->res);
    free(r->step_offset);
    free(r->labels);
    free(r->scores);
    free(r->scores2);
}

/* A single rank already holds everything in canonical order: root takes the
 * local arrays over instead of copying 6 MB of results twice. */
static int take_local(const pe_dataset *d, local_part *l, root_part *r, pe_err *e)
{
    memset(r, 0, sizeof *r);
    memcpy(r->counts, l->counts, sizeof r->counts);
    if (l->n != d->nsamples)
        return pe_fail(e, PE_EGENERIC, "one rank holds %d of %d samples", l->n, d->nsamples);
    if (!(r->step_offset = pe_malloc(((size_t)d->nsamples + 1) * sizeof *r->step_offset, e)))
        return PE_ERESOURCE;
    r->res = l->res;
    r->labels = l->labels;
    r->scores = l->scores;
    r->scores2 = l->scores2;
    l->res = NULL;
    l->labels = NULL;
    l->scores = NULL;
    l->scores2 = NULL;
    r->step_offset[0] = 0;
    for (int i = 0; i < d->nsamples; i++)
        r->step_offset[i + 1] = r->step_offset[i] + r->res[i].nlabels;
    return PE_OK;
}

/* Reduce the counts and gather results and steps to root. Collective. */
static int gather_to_root(const pe_world *w, const pe_dataset *d, const local_part *l, root_part *r, pe_err *e)
{
    memset(r, 0, sizeof *r);
    int rc = PE_OK;
    int64_t mine[2] = {l->n, l->nsteps}, *sizes = NULL;
    int *cnt_res = NULL, *dsp_res = NULL, *cnt_st = NULL, *dsp_st = NULL, *order = NULL;
    pe_sample_result *gres = NULL;
    uint8_t *glab = NULL;
    double *gsc = NULL, *gsc2 = NULL;
    int two = l->scores2 != NULL; /* the same on every rank: it follows the request */
    int64_t total_steps = 0;
    if (w->rank == 0) {
        sizes = pe_malloc(2 * sizeof *sizes * (size_t)w->size, e);
        cnt_res = pe_malloc(4 * sizeof(int) * (size_t)w->size, e);
        if (!sizes || !cnt_res)
            rc = PE_ERESOURCE;
    }
    if (w->mpi) {
        MPI_Reduce(l->counts, r->counts, PE_NCLASSES * COUNTS_INT64, MPI_INT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
        MPI_Gather(mine, 2, MPI_INT64_T, sizes, 2, MPI_INT64_T, 0, MPI_COMM_WORLD);
    } else {
        memcpy(r->counts, l->counts, sizeof r->counts);
        if (sizes)
            memcpy(sizes, mine, sizeof mine);
    }
    if (w->rank == 0 && rc == PE_OK) {
        dsp_res = cnt_res + w->size;
        cnt_st = dsp_res + w->size;
        dsp_st = cnt_st + w->size;
        int64_t nres = 0;
        for (int k = 0; k < w->size; k++) {
            /* MPI counts are int: refuse rather than wrap (2^31 steps is far beyond PRMBench) */
            if (nres + sizes[2 * k] > INT_MAX || total_steps + sizes[2 * k + 1] > INT_MAX) {
                rc = pe_fail(e, PE_ERESOURCE, "more than %d steps or samples to gather to rank 0", INT_MAX);
                break;
            }
            cnt_res[k] = (int)sizes[2 * k];
            dsp_res[k] = (int)nres;
            cnt_st[k] = (int)sizes[2 * k + 1];
            dsp_st[k] = (int)total_steps;
            nres += sizes[2 * k];
            total_steps += sizes[2 * k + 1];
        }
        if (rc == PE_OK && nres != d->nsamples)
            rc = pe_fail(e, PE_EMPI, "ranks hold %lld samples in all, the data has %d", (long long)nres,
                         d->nsamples);
        if (rc == PE_OK) {
            gres = pe_malloc(((size_t)d->nsamples + 1) * sizeof *gres, e);
            glab = pe_malloc((size_t)total_steps + 1, e);
            gsc = pe_malloc(((size_t)total_steps + 1) * sizeof *gsc, e);
            r->res = pe_malloc(((size_t)d->nsamples + 1) * sizeof *r->res, e);
            r->step_offset = pe_malloc(((size_t)d->nsamples + 1) * sizeof *r->step_offset, e);
            r->labels = pe_malloc((size_t)total_steps + 1, e);
            r->scores = pe_malloc(((size_t)total_steps + 1) * sizeof *r->scores, e);
            order = pe_malloc(((size_t)d->nsamples + 1) * sizeof *order, e);
            if (two) {
                gsc2 = pe_malloc(((size_t)total_steps + 1) * sizeof *gsc2, e);
                r->scores2 = pe_malloc(((size_t)total_steps + 1) * sizeof *r->scores2, e);
            }
            if (!gres || !glab || !gsc || !r->res || !r->step_offset || !r->labels || !r->scores || !order ||
                (two && (!gsc2 || !r->scores2)))
                rc = PE_ERESOURCE;
        }
    }
    /* root must not enter the Gatherv with bad buffers, nor the others without it */
    rc = pe_world_agree(w, rc, e);
    if (rc == PE_OK) {
        if (w->mpi) {
            MPI_Datatype res_type;
            MPI_Type_contiguous((int)sizeof(pe_sample_result), MPI_BYTE, &res_type);
            MPI_Type_commit(&res_type);
            MPI_Gatherv(l->res, l->n, res_type, gres, cnt_res, dsp_res, res_type, 0, MPI_COMM_WORLD);
            MPI_Type_free(&res_type);
            MPI_Gatherv(l->labels, (int)l->nsteps, MPI_UINT8_T, glab, cnt_st, dsp_st, MPI_UINT8_T, 0,
                        MPI_COMM_WORLD);
            MPI_Gatherv(l->scores, (int)l->nsteps, MPI_DOUBLE, gsc, cnt_st, dsp_st, MPI_DOUBLE, 0, MPI_COMM_WORLD);
            if (two)
                MPI_Gatherv(l->scores2, (int)l->nsteps, MPI_DOUBLE, gsc2, cnt_st, dsp_st, MPI_DOUBLE, 0,
                            MPI_COMM_WORLD);
        } else {
            memcpy(gres, l->res, (size_t)l->n * sizeof *gres);
            memcpy(glab, l->labels, (size_t)l->nsteps);
            memcpy(gsc, l->scores, (size_t)l->nsteps * sizeof *gsc);
            if (two)
                memcpy(gsc2, l->scores2, (size_t)l->nsteps * sizeof *gsc2);
        }
    }
    if (rc == PE_OK && w->rank == 0) {
        /* Rank k sent its samples in canonical order: place them back. */
        int64_t *src_step = pe_malloc(((size_t)d->nsamples + 1) * sizeof *src_step, e);
        if (!src_step)
            rc = PE_ERESOURCE;
        for (int k = 0; rc == PE_OK && k < w->size; k++) {
            int n = pe_shard_local_samples(d, k, w->size, order);
            int64_t st = dsp_st[k];
            for (int j = 0; j < n; j++) {
                pe_sample_result *g = &gres[dsp_res[k] + j];
                r->res[order[j]] = *g;
                src_step[order[j]] = st;
                st += g->nlabels;
            }
        }
        if (rc == PE_OK) {
            r->step_offset[0] = 0;
            for (int i = 0; i < d->nsamples; i++) {
                int64_t m = r->res[i].nlabels, o = r->step_offset[i];
                memcpy(r->labels + o, glab + src_step[i], (size_t)m);
                memcpy(r->scores + o, gsc + src_step[i], (size_t)m * sizeof *gsc);
                if (two)
                    memcpy(r->scores2 + o, gsc2 + src_step[i], (size_t)m * sizeof *gsc2);
                r->step_offset[i + 1] = o + m;
            }
        }
        free(src_step);
    }
    free(sizes);
    free(cnt_res);
    free(order);
    free(gres);
    free(glab);
    free(gsc);
    free(gsc2);
    return rc;
}

/* Warning lines for everything skipped or odd (root). Returns the count. */
static int collect_warnings(const pe_eval_request *q, const root_part *r, char ***out, pe_err *e)
{
    const pe_dataset *d = q->data;
    int64_t missing = 0, invalid = 0, shorter = 0, longer = 0, beyond = 0;
    for (int i = 0; i < d->nsamples; i++) {
        const pe_sample *s = &d->samples[i];
        missing += r->res[i].status == PE_PRED_MISSING;
        invalid += r->res[i].status == PE_PRED_INVALID;
        if (r->res[i].status == PE_PRED_OK) {
            shorter += r->res[i].nlabels < s->nsteps;
            longer += r->res[i].nlabels > s->nsteps;
        }
        for (int k = 0; k < s->nerr; k++)
            if (s->err_steps[k] >= s->nsteps) {
                beyond++;
                break;
            }
    }
    char **w = pe_calloc((size_t)q->nnotes + 8, sizeof *w, e);
    if (!w)
        return -1;
    int n = 0;
    char buf[1024];
#define ADD(...) do { snprintf(buf, sizeof buf, __VA_ARGS__); if (!(w[n++] = pe_strdup(buf, e))) goto oom; } while (0)
    if (missing)
        ADD("%lld of %d samples have no prediction: not evaluated", (long long)missing, d->nsamples);
    if (invalid)
        ADD("%lld predictions say validity: false: skipped, as the reference does (they lower validity_rate)",
            (long long)invalid);
    if (shorter)
        ADD("%lld predictions have fewer labels than the sample has steps (only the labelled steps count)",
            (long long)shorter);
    if (longer)
        ADD("%lld predictions have more labels than the sample has steps (the extra labels count as valid-step "
            "labels, as the reference does)", (long long)longer);
    if (beyond)
        ADD("%lld samples list error steps beyond their step count (kept, as the reference does; they never "
            "match a label)", (long long)beyond);
    for (int k = 0; k < q->nnotes; k++)
        ADD("%s", q->notes[k]);
#undef ADD
    *out = w;
    return n;
oom:
    for (int k = 0; k < n; k++)
        free(w[k]);
    free(w);
    return -1;
}

static int root_outputs(const pe_world *w, const pe_eval_request *q, const root_part *r, const char *hosts,
                        pe_metrics *m, pe_err *e)
{
    int rc = pe_metrics_finish(q->data, r->res, r->counts, q->threshold, m, e);
    if (rc != PE_OK)
        return rc;
    char **warn = NULL;
    int nwarn = collect_warnings(q, r, &warn, e);
    if (nwarn < 0)
        return PE_ERESOURCE;
    if (q->table) {
        pe_table_print(q->table, m);
        fflush(q->table);
    }
    if (q->warn)
        for (int k = 0; k < nwarn; k++)
            fprintf(q->warn, "warning: %s\n", warn[k]);
    /* Both files are built first, then published together (outfile.h): a
     * failure leaves the previous pair as it was. */
    char *json = NULL;
    void *image = NULL;
    size_t image_len = 0;
    if (q->json_path && !(json = pe_metrics_json_string_run(m, (const char *const *)warn, nwarn, q->run, e)))
        rc = PE_ERESOURCE;
    if (rc == PE_OK && q->h5_path) {
        pe_provenance prov;
        memset(&prov, 0, sizeof prov);
        if (q->prov)
            prov = *q->prov;
        char end[PE_ISO8601_LEN];
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        pe_iso8601_utc(&now, end);
        prov.nranks = w->size;
        if (!prov.hosts)
            prov.hosts = hosts;
        prov.end_time = end;
        pe_eval_output o = {q->data, r->res, r->step_offset, r->scores, r->labels, m, q->run, r->scores2};
        rc = pe_results_h5_image(q->h5_path, &o, &prov, &image, &image_len, e);
    }
    pe_outfile out[2];
    int nout = 0;
    if (rc == PE_OK && q->h5_path && (rc = pe_outfile_open(&out[nout], q->h5_path, e)) == PE_OK)
        pe_outfile_write(&out[nout++], image, image_len);
    if (rc == PE_OK && json && (rc = pe_outfile_open(&out[nout], q->json_path, e)) == PE_OK) {
        pe_outfile_write(&out[nout], json, strlen(json));
        pe_outfile_write(&out[nout++], "\n", 1);
    }
    if (rc == PE_OK)
        rc = pe_outfile_publish(out, nout, e);
    else
        for (int k = 0; k < nout; k++)
            pe_outfile_abort(&out[k]);
    free(image);
    free(json);
    for (int k = 0; k < nwarn; k++)
        free(warn[k]);
    free(warn);
    return rc;
}

int pe_cluster_evaluate(const pe_world *w, const pe_eval_request *q, pe_metrics *metrics, pe_err *e)
{
    local_part l;
    root_part r;
    memset(&l, 0, sizeof l);
    memset(&r, 0, sizeof r);
    /* Host names: the provenance's when the caller collected them with
     * pe_prov_begin, else gathered here (collective, same choice on every rank). */
    char *hosts = NULL;
    int rc = PE_OK;
    if (!(q->prov && q->prov->hosts))
        rc = pe_gather_hosts(MPI_COMM_WORLD, &hosts, e);
    if (rc == PE_OK)
        rc = evaluate_local(w, q, &l, e);
    rc = pe_world_agree(w, rc, e);
    if (rc == PE_OK)
        rc = w->mpi ? gather_to_root(w, q->data, &l, &r, e) : take_local(q->data, &l, &r, e);
    if (rc == PE_OK && w->rank == 0) {
        pe_metrics m;
        rc = root_outputs(w, q, &r, hosts, &m, e);
        if (metrics)
            *metrics = m;
    }
    rc = pe_world_agree(w, rc, e);
    local_free(&l);
    root_free(&r);
    free(hosts);
    return rc;
}
