/* The HDF5 results writer (layout: docs/hdf5-schema.md). Serial HDF5: only
 * rank 0 writes. The file is built in memory (HDF5's core driver, no backing
 * store) and its image published by outfile.c (temporary file, fsync, rename),
 * so that HDF5 never writes to the disk itself: a full disk is a plain failed
 * write() of ours, never an HDF5 file left open with unflushed metadata that
 * libhdf5 then tries to flush again at MPI_Finalize (which crashed). */
#include "results_h5.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "outfile.h"
#include "results_h5_types.h"

/* Elements per chunk of the per-sample and per-step datasets: 64 KiB to
 * 512 KiB chunks, large enough for deflate, small enough to read a slice. */
#define PE_H5_CHUNK 65536

typedef struct writer {
    const char *path;   /* the final path, for messages */
    pe_err *e;
} writer;

/* The error for a failed HDF5 call on object obj, with HDF5's own reason. */
static int h5fail(writer *w, const char *obj, const char *call)
{
    char why[512];
    pe_h5_error_text(why, sizeof why);
    return pe_fail(w->e, PE_EIO, "%s: cannot write %s: %s failed%s%s", w->path, obj, call,
                   why[0] ? ": " : "", why);
}

/* ---- attributes ---- */

/* n < 0: scalar; else a 1-D array of n elements. */
static int put_attr(writer *w, hid_t loc, const char *obj, const char *name, hid_t ftype, hid_t mtype,
                    long long n, const void *buf)
{
    hsize_t dim = n < 0 ? 0 : (hsize_t)n;
    hid_t space = n < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    if (space < 0)
        return h5fail(w, obj, "H5Screate");
    hid_t a = H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    int rc = PE_OK;
    if (a < 0)
        rc = h5fail(w, obj, name);
    else if (H5Awrite(a, mtype, buf) < 0)
        rc = h5fail(w, obj, name);
    pe_h5_close(a);
    H5Sclose(space);
    return rc;
}

static int attr_f64(writer *w, hid_t loc, const char *obj, const char *name, double v)
{
    return put_attr(w, loc, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, -1, &v);
}

static int attr_i64(writer *w, hid_t loc, const char *obj, const char *name, int64_t v)
{
    return put_attr(w, loc, obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, -1, &v);
}

/* ---- strings: fixed length, packed ---- */

/* The n strings (NULL = "") packed into one buffer of n elements of
 * *size = longest + 1 bytes each, NUL-padded: the memory layout of a
 * fixed-length string type of that size. A string longer than
 * PE_H5_MAX_STR is refused (the reader would refuse the file). name: the
 * attribute's name, NULL for a dataset (obj), for the message. */
static char *pack_strs(writer *w, const char *obj, const char *name, size_t n, const char *const *s,
                       size_t *size)
{
    size_t longest = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = s && s[i] ? strlen(s[i]) : 0;
        if (len > PE_H5_MAX_STR) {
            char what[256];
            if (name)
                snprintf(what, sizeof what, "attribute %s of %s", name, obj);
            else
                snprintf(what, sizeof what, "%s", obj);
            pe_fail(w->e, PE_EINPUT, "%s: cannot write %s: string %zu is %zu bytes, at most %u are stored",
                    w->path, what, i, len, PE_H5_MAX_STR);
            return NULL;
        }
        if (len > longest)
            longest = len;
    }
    *size = longest + 1;
    char *buf = pe_calloc(n ? n : 1, *size, w->e);
    for (size_t i = 0; buf && i < n; i++)
        if (s && s[i])
            memcpy(buf + i * *size, s[i], strlen(s[i]));
    return buf;
}

/* n < 0: one string s[0]; else an array of n. NULL strings are written as "". */
static int attr_strs(writer *w, hid_t loc, const char *obj, const char *name, long long n, const char *const *s)
{
    size_t count = n < 0 ? 1 : (size_t)n, size = 0;
    char *buf = pack_strs(w, obj, name, count, s, &size);
    if (!buf)
        return w->e->code;
    hid_t t = pe_h5_fixed_str(size);
    int rc = t < 0 ? h5fail(w, obj, "H5Tcopy") : put_attr(w, loc, obj, name, t, t, n, buf);
    pe_h5_close(t);
    free(buf);
    return rc;
}

static int attr_str(writer *w, hid_t loc, const char *obj, const char *name, const char *s)
{
    return attr_strs(w, loc, obj, name, -1, &s);
}

/* ---- datasets ---- */

/* What every dataset shares once its space and creation list are built:
 * create it, write buf (nelem elements; nothing for an empty one), close the
 * space and the list. rc: the error from building them, if any; then only
 * the closing is done. out: NULL, or the open dataset (on success only) for
 * the caller to add attributes to and close. */
static int create_and_write(writer *w, int rc, hid_t loc, const char *obj, const char *name, hid_t ftype,
                            hid_t mtype, hid_t space, hid_t dcpl, size_t nelem, const void *buf, hid_t *out)
{
    hid_t d = -1;
    if (rc == PE_OK && (d = H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0)
        rc = h5fail(w, obj, "H5Dcreate2");
    if (rc == PE_OK && nelem > 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        rc = h5fail(w, obj, "H5Dwrite");
    if (rc == PE_OK && out)
        *out = d;
    else
        pe_h5_close(d);
    pe_h5_close(dcpl);
    pe_h5_close(space);
    return rc;
}

/* A 1-D dataset of n elements, chunked with shuffle + deflate(4) +
 * fletcher32 (last, so that the checksum covers the stored bytes and is
 * verified before inflate sees them: HDF5 checksums metadata, not raw
 * data). A chunk holds at most PE_H5_CHUNK elements and at most 1 MiB. An
 * empty dataset stays contiguous: chunk dimensions must be > 0 and may not
 * exceed fixed maximum dimensions. */
static int put_dset(writer *w, hid_t loc, const char *obj, const char *name, hid_t ftype, hid_t mtype,
                    size_t n, const void *buf, hid_t *out)
{
    hsize_t dim = n;
    hid_t space = H5Screate_simple(1, &dim, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    int rc = PE_OK;
    if (space < 0 || dcpl < 0)
        rc = h5fail(w, obj, "H5Screate/H5Pcreate");
    if (rc == PE_OK && n > 0) {
        size_t elsize = H5Tget_size(ftype);
        size_t most = elsize > 0 && elsize < ((size_t)1 << 20) ? ((size_t)1 << 20) / elsize : 1;
        hsize_t chunk = n < PE_H5_CHUNK ? n : PE_H5_CHUNK;
        if (chunk > most)
            chunk = most;
        if (H5Pset_chunk(dcpl, 1, &chunk) < 0 || H5Pset_shuffle(dcpl) < 0 || H5Pset_deflate(dcpl, 4) < 0 ||
            H5Pset_fletcher32(dcpl) < 0)
            rc = h5fail(w, obj, "H5Pset_chunk/shuffle/deflate/fletcher32");
    }
    return create_and_write(w, rc, loc, obj, name, ftype, mtype, space, dcpl, n, buf, out);
}

/* A 1-D dataset of n fixed-length strings (NULL = ""). */
static int put_str_dset(writer *w, hid_t loc, const char *obj, const char *name, size_t n, const char *const *s)
{
    size_t size = 0;
    char *buf = pack_strs(w, obj, NULL, n, s, &size);
    if (!buf)
        return w->e->code;
    hid_t t = pe_h5_fixed_str(size);
    int rc = t < 0 ? h5fail(w, obj, "H5Tcopy") : put_dset(w, loc, obj, name, t, t, n, buf, NULL);
    pe_h5_close(t);
    free(buf);
    return rc;
}

/* A small (rows, cols) dataset: one chunk with fletcher32, so that its raw
 * data is checksummed like the rest. */
static int put_dset2(writer *w, hid_t loc, const char *obj, const char *name, hid_t ftype, hid_t mtype,
                     size_t rows, size_t cols, const void *buf)
{
    hsize_t dims[2] = {rows, cols};
    hid_t space = H5Screate_simple(2, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    int rc = PE_OK;
    if (space < 0 || dcpl < 0)
        rc = h5fail(w, obj, "H5Screate_simple/H5Pcreate");
    if (rc == PE_OK && rows * cols > 0 && (H5Pset_chunk(dcpl, 2, dims) < 0 || H5Pset_fletcher32(dcpl) < 0))
        rc = h5fail(w, obj, "H5Pset_chunk/fletcher32");
    return create_and_write(w, rc, loc, obj, name, ftype, mtype, space, dcpl, rows * cols, buf, NULL);
}

/* Group name in loc, or -1. *rc carries the error of the steps before it, as
 * in the `rc = rc ? rc : ...` chains of the callers: nothing is created after
 * an error, and a failure here becomes *rc. */
static hid_t make_group(writer *w, int *rc, hid_t loc, const char *obj, const char *name)
{
    if (*rc != PE_OK)
        return -1;
    hid_t gcpl = pe_h5_gcpl();
    hid_t g = gcpl < 0 ? -1 : H5Gcreate2(loc, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    if (g < 0)
        *rc = h5fail(w, obj, "H5Gcreate2");
    pe_h5_close(gcpl);
    return g;
}

/* ---- provenance: root attributes ---- */

static int write_provenance(writer *w, hid_t f, const pe_provenance *p)
{
    int rc = PE_OK;
    const char *schema = PE_H5_SCHEMA;
    rc = rc ? rc : attr_str(w, f, "/", "schema", schema);
    rc = rc ? rc : attr_i64(w, f, "/", "schema_version", PE_H5_SCHEMA_VERSION);
    rc = rc ? rc : attr_str(w, f, "/", "tool_version", p->tool_version);
    rc = rc ? rc : attr_str(w, f, "/", "git_commit", p->git_commit);
    rc = rc ? rc : attr_str(w, f, "/", "command", p->command);
    rc = rc ? rc : attr_str(w, f, "/", "config_json", p->config_json);
    int nfiles = p->ndata_files > 0 ? p->ndata_files : 0;
    rc = rc ? rc : attr_strs(w, f, "/", "data_files", nfiles, p->data_files);
    rc = rc ? rc : attr_strs(w, f, "/", "data_sha256", nfiles, p->data_sha256);
    rc = rc ? rc : attr_str(w, f, "/", "predictions_path", p->predictions_path);
    rc = rc ? rc : attr_str(w, f, "/", "predictions_sha256", p->predictions_sha256);
    rc = rc ? rc : attr_i64(w, f, "/", "nranks", p->nranks);
    rc = rc ? rc : attr_str(w, f, "/", "hosts", p->hosts);
    rc = rc ? rc : attr_str(w, f, "/", "start_time", p->start_time);
    rc = rc ? rc : attr_str(w, f, "/", "end_time", p->end_time);
    rc = rc ? rc : attr_str(w, f, "/", "metric_definition", p->metric_definition);
    return rc;
}

/* ---- /metrics ---- */

static int write_row_attrs(writer *w, hid_t g, const char *obj, const pe_metric_row *r)
{
    const char *base = (const char *)r;
    int rc = PE_OK;
    for (int i = 0; rc == PE_OK && i < pe_h5_nmetric_fields; i++) {
        const pe_h5_field *fd = &pe_h5_metric_fields[i];
        if (fd->is_double) {
            double v;
            memcpy(&v, base + fd->offset, sizeof v);
            rc = attr_f64(w, g, obj, fd->name, v);
        } else {
            int64_t v;
            memcpy(&v, base + fd->offset, sizeof v);
            rc = attr_i64(w, g, obj, fd->name, v);
        }
    }
    return rc;
}

/* One group per row, named for it, its numbers as scalar attributes. */
static int write_row_group(writer *w, hid_t parent, const char *obj, const char *name,
                           const char *abbrev, const pe_metric_row *r)
{
    int rc = PE_OK;
    hid_t g = make_group(w, &rc, parent, obj, name);
    rc = rc ? rc : attr_str(w, g, obj, "abbrev", abbrev);
    rc = rc ? rc : write_row_attrs(w, g, obj, r);
    pe_h5_close(g);
    return rc;
}

/* The integer fields of b added into a. (Not pe_counts_add: that belongs to
 * metrics.c, and the writer must not depend on the metric's code.) */
static void add_counts(pe_counts *a, const pe_counts *b)
{
    a->tp += b->tp; a->fp += b->fp; a->tn += b->tn; a->fn += b->fn;
    a->corr_ones += b->corr_ones; a->corr_n += b->corr_n;
    a->wrong_ones += b->wrong_ones; a->wrong_n += b->wrong_n;
    a->total_ones += b->total_ones; a->total_n += b->total_n;
    a->fe_ones += b->fe_ones; a->fe_n += b->fe_n;
    a->samples += b->samples; a->evaluated += b->evaluated;
    a->missing += b->missing; a->invalid += b->invalid;
    for (int p = 0; p <= PE_MAX_ERRPOS; p++) {
        a->pos_hits[p] += b->pos_hits[p];
        a->pos_n[p] += b->pos_n[p];
        a->pos_samples[p] += b->pos_samples[p];
    }
}

enum { ROW_OVERALL = 0, ROW_CLASS = 1, ROW_CATEGORY = 2 };

typedef struct table_row {
    char name[32];
    char abbrev[16];
    int8_t kind;       /* ROW_* */
    pe_metric_row m;   /* without the error-position arrays, which are not columns */
} table_row;

/* The compound type of /metrics/table, in memory layout; the file type is a packed copy. */
static hid_t table_mem_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(table_row));
    hid_t s32 = H5Tcopy(H5T_C_S1), s16 = H5Tcopy(H5T_C_S1);
    int bad = t < 0 || s32 < 0 || s16 < 0;
    bad = bad || H5Tset_size(s32, 32) < 0 || H5Tset_size(s16, 16) < 0;
    bad = bad || H5Tinsert(t, "name", offsetof(table_row, name), s32) < 0;
    bad = bad || H5Tinsert(t, "abbrev", offsetof(table_row, abbrev), s16) < 0;
    bad = bad || H5Tinsert(t, "kind", offsetof(table_row, kind), H5T_NATIVE_INT8) < 0;
    for (int i = 0; !bad && i < pe_h5_nmetric_fields; i++) {
        const pe_h5_field *fd = &pe_h5_metric_fields[i];
        bad = H5Tinsert(t, fd->name, offsetof(table_row, m) + fd->offset,
                        fd->is_double ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64) < 0;
    }
    pe_h5_close(s32);
    pe_h5_close(s16);
    if (bad) {
        pe_h5_close(t);
        t = -1;
    }
    return t;
}

static void set_row_names(table_row *r, const char *name, const char *abbrev, int kind)
{
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->abbrev, sizeof r->abbrev, "%s", abbrev);
    r->kind = (int8_t)kind;
}

/* Rows: Overall (the pooled errors), the 9 error classes in table order, the
 * 3 categories. A category row holds its prmscore (the mean of its classes'),
 * the summed counts of its classes, and NaN for every rate, which the
 * reference does not define for categories. */
static int write_table(writer *w, hid_t g, const pe_metrics *m)
{
    enum { NROWS = 1 + (PE_NCLASSES - 1) + PE_NCATEGORIES };
    table_row rows[NROWS];
    memset(rows, 0, sizeof rows);
    int k = 0;
    set_row_names(&rows[k], "overall", "Overall", ROW_OVERALL);
    rows[k++].m = m->pooled;
    for (int c = 1; c < PE_NCLASSES; c++) {
        set_row_names(&rows[k], pe_class_name((pe_class)c), pe_class_abbrev((pe_class)c), ROW_CLASS);
        rows[k++].m = m->cls[c];
    }
    for (int cat = 0; cat < PE_NCATEGORIES; cat++) {
        table_row *r = &rows[k++];
        set_row_names(r, pe_category_name((pe_category)cat), pe_category_abbrev((pe_category)cat), ROW_CATEGORY);
        for (int c = 1; c < PE_NCLASSES; c++)
            if (pe_class_category((pe_class)c) == cat)
                add_counts(&r->m.c, &m->cls[c].c);
        char *base = (char *)&r->m;
        for (int i = 0; i < pe_h5_nmetric_fields; i++) {
            const pe_h5_field *fd = &pe_h5_metric_fields[i];
            if (fd->is_double) {
                double v = NAN;
                memcpy(base + fd->offset, &v, sizeof v);
            }
        }
        r->m.similarity_n = 0;
        r->m.prmscore = m->category[cat];
    }
    hid_t mt = table_mem_type(), ft = -1;
    int rc = PE_OK;
    if (mt < 0 || (ft = H5Tcopy(mt)) < 0 || H5Tpack(ft) < 0)
        rc = h5fail(w, "/metrics/table", "compound type");
    hid_t d = -1;
    if (rc == PE_OK)
        rc = put_dset(w, g, "/metrics/table", "table", ft, mt, NROWS, rows, &d);
    static const char *const kinds[3] = {"overall", "class", "category"};
    if (rc == PE_OK)
        rc = attr_strs(w, d, "/metrics/table", "kind_names", 3, kinds);
    pe_h5_close(d);
    pe_h5_close(ft);
    pe_h5_close(mt);
    return rc;
}

static int write_metrics(writer *w, hid_t f, const pe_metrics *m)
{
    int rc = PE_OK;
    hid_t g = make_group(w, &rc, f, "/metrics", "metrics");
    rc = rc ? rc : attr_f64(w, g, "/metrics", "validity_rate", m->validity_rate);
    rc = rc ? rc : attr_i64(w, g, "/metrics", "valid_num", m->valid_num);
    rc = rc ? rc : attr_i64(w, g, "/metrics", "total_num", m->total_num);
    rc = rc ? rc : attr_f64(w, g, "/metrics", "threshold", m->threshold);
    hid_t gc = make_group(w, &rc, g, "/metrics/classes", "classes");
    for (int c = 0; rc == PE_OK && c < PE_NCLASSES; c++) {
        char obj[96];
        snprintf(obj, sizeof obj, "/metrics/classes/%s", pe_class_name((pe_class)c));
        rc = write_row_group(w, gc, obj, pe_class_name((pe_class)c), pe_class_abbrev((pe_class)c), &m->cls[c]);
    }
    pe_h5_close(gc);
    rc = rc ? rc : write_row_group(w, g, "/metrics/pooled", "pooled", "Overall", &m->pooled);
    hid_t gk = make_group(w, &rc, g, "/metrics/categories", "categories");
    for (int cat = 0; rc == PE_OK && cat < PE_NCATEGORIES; cat++) {
        char obj[96];
        const char *name = pe_category_name((pe_category)cat);
        snprintf(obj, sizeof obj, "/metrics/categories/%s", name);
        hid_t gcat = make_group(w, &rc, gk, obj, name);
        if (gcat < 0)
            break;
        const char *members[PE_NCLASSES];
        int nm = 0;
        for (int c = 1; c < PE_NCLASSES; c++)
            if (pe_class_category((pe_class)c) == cat)
                members[nm++] = pe_class_name((pe_class)c);
        rc = attr_str(w, gcat, obj, "abbrev", pe_category_abbrev((pe_category)cat));
        rc = rc ? rc : attr_f64(w, gcat, obj, "prmscore", m->category[cat]);
        rc = rc ? rc : attr_strs(w, gcat, obj, "classes", nm, members);
        pe_h5_close(gcat);
    }
    pe_h5_close(gk);
    rc = rc ? rc : write_table(w, g, m);
    pe_h5_close(g);
    return rc;
}

/* ---- /samples and /steps ---- */

/* Column buffers for /samples, gathered from the per-sample structs. */
typedef struct sample_cols {
    const char **key, **idx;     /* (n) */
    int8_t *cls, *status, *first_error_hit, *label_source;
    int32_t *problem, *nsteps, *nlabels, *src_file, *src_line;
    double *response_acc;
    int64_t *pred_order, *tp, *fp, *tn, *fn;
    int64_t *err_offset;         /* (n+1) */
    int32_t *err_steps;          /* (err_offset[n]) */
} sample_cols;

static void free_cols(sample_cols *c)
{
    free(c->key); free(c->idx); free(c->cls); free(c->status); free(c->first_error_hit); free(c->label_source);
    free(c->problem); free(c->nsteps); free(c->nlabels); free(c->src_file); free(c->src_line);
    free(c->response_acc); free(c->pred_order); free(c->tp); free(c->fp); free(c->tn); free(c->fn);
    free(c->err_offset); free(c->err_steps);
}

static int gather_cols(const pe_eval_output *o, sample_cols *c, pe_err *e)
{
    size_t n = (size_t)o->data->nsamples;
    memset(c, 0, sizeof *c);
    c->key = pe_calloc(n, sizeof *c->key, e);
    c->idx = pe_calloc(n, sizeof *c->idx, e);
    c->cls = pe_calloc(n, 1, e);
    c->status = pe_calloc(n, 1, e);
    c->first_error_hit = pe_calloc(n, 1, e);
    c->label_source = pe_calloc(n, 1, e);
    c->problem = pe_calloc(n, sizeof(int32_t), e);
    c->nsteps = pe_calloc(n, sizeof(int32_t), e);
    c->nlabels = pe_calloc(n, sizeof(int32_t), e);
    c->src_file = pe_calloc(n, sizeof(int32_t), e);
    c->src_line = pe_calloc(n, sizeof(int32_t), e);
    c->response_acc = pe_calloc(n, sizeof(double), e);
    c->pred_order = pe_calloc(n, sizeof(int64_t), e);
    c->tp = pe_calloc(n, sizeof(int64_t), e);
    c->fp = pe_calloc(n, sizeof(int64_t), e);
    c->tn = pe_calloc(n, sizeof(int64_t), e);
    c->fn = pe_calloc(n, sizeof(int64_t), e);
    c->err_offset = pe_calloc(n + 1, sizeof(int64_t), e);
    if (e->code)
        return e->code;
    for (size_t i = 0; i < n; i++)
        c->err_offset[i + 1] = c->err_offset[i] + o->data->samples[i].nerr;
    c->err_steps = pe_calloc((size_t)c->err_offset[n], sizeof(int32_t), e);
    if (e->code)
        return e->code;
    for (size_t i = 0; i < n; i++) {
        const pe_sample *s = &o->data->samples[i];
        const pe_sample_result *r = &o->results[i];
        c->key[i] = s->key ? s->key : "";
        c->idx[i] = s->idx ? s->idx : "";
        c->cls[i] = (int8_t)s->cls;
        c->status[i] = (int8_t)r->status;
        c->first_error_hit[i] = (int8_t)r->first_error_hit;
        c->label_source[i] = (int8_t)r->label_source;
        c->problem[i] = s->problem;
        c->nsteps[i] = s->nsteps;
        c->nlabels[i] = r->nlabels;
        c->src_file[i] = s->src_file;
        c->src_line[i] = s->src_line;
        c->response_acc[i] = r->response_acc;
        c->pred_order[i] = r->pred_order;
        c->tp[i] = r->c.tp;
        c->fp[i] = r->c.fp;
        c->tn[i] = r->c.tn;
        c->fn[i] = r->c.fn;
        for (int k = 0; k < s->nerr; k++)
            c->err_steps[c->err_offset[i] + k] = s->err_steps[k];
    }
    return PE_OK;
}

/* A 1-D dataset with an enum type and, for readers that ignore HDF5 enums,
 * the names as an attribute. */
static int put_enum_dset(writer *w, hid_t g, const char *obj, const char *name, hid_t enum_type,
                         size_t n, const int8_t *v, int nnames, const char *(*namefn)(int))
{
    hid_t d = -1;
    int rc = put_dset(w, g, obj, name, enum_type, enum_type, n, v, &d);
    const char *names[PE_NCLASSES + 3];
    for (int i = 0; i < nnames; i++)
        names[i] = namefn(i);
    if (rc == PE_OK)
        rc = attr_strs(w, d, obj, "names", nnames, names);
    pe_h5_close(d);
    return rc;
}

static int write_samples(writer *w, hid_t f, const pe_eval_output *o)
{
    size_t n = (size_t)o->data->nsamples;
    sample_cols c;
    int rc = gather_cols(o, &c, w->e);
    hid_t g = make_group(w, &rc, f, "/samples", "samples");
    hid_t cls_t = rc ? -1 : pe_h5_class_enum();
    hid_t st_t = rc ? -1 : pe_h5_status_enum();
    hid_t ls_t = rc ? -1 : pe_h5_label_source_enum();
    if (rc == PE_OK && (cls_t < 0 || st_t < 0 || ls_t < 0))
        rc = h5fail(w, "/samples", "type creation");
#define COL(name, ft, mt, len, buf) \
    rc = rc ? rc : put_dset(w, g, "/samples/" name, name, ft, mt, len, buf, NULL)
    rc = rc ? rc : put_str_dset(w, g, "/samples/key", "key", n, c.key);
    rc = rc ? rc : put_str_dset(w, g, "/samples/idx", "idx", n, c.idx);
    rc = rc ? rc : put_enum_dset(w, g, "/samples/class", "class", cls_t, n, c.cls, PE_NCLASSES, pe_h5_class_name);
    COL("problem", H5T_STD_I32LE, H5T_NATIVE_INT32, n, c.problem);
    rc = rc ? rc : put_enum_dset(w, g, "/samples/status", "status", st_t, n, c.status, 3, pe_h5_status_name);
    rc = rc ? rc : put_enum_dset(w, g, "/samples/label_source", "label_source", ls_t, n, c.label_source, 3,
                                 pe_h5_label_source_name);
    COL("nsteps", H5T_STD_I32LE, H5T_NATIVE_INT32, n, c.nsteps);
    COL("nlabels", H5T_STD_I32LE, H5T_NATIVE_INT32, n, c.nlabels);
    COL("first_error_hit", H5T_STD_I8LE, H5T_NATIVE_INT8, n, c.first_error_hit);
    COL("response_acc", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, n, c.response_acc);
    COL("pred_order", H5T_STD_I64LE, H5T_NATIVE_INT64, n, c.pred_order);
    COL("tp", H5T_STD_I64LE, H5T_NATIVE_INT64, n, c.tp);
    COL("fp", H5T_STD_I64LE, H5T_NATIVE_INT64, n, c.fp);
    COL("tn", H5T_STD_I64LE, H5T_NATIVE_INT64, n, c.tn);
    COL("fn", H5T_STD_I64LE, H5T_NATIVE_INT64, n, c.fn);
    COL("src_file", H5T_STD_I32LE, H5T_NATIVE_INT32, n, c.src_file);
    COL("src_line", H5T_STD_I32LE, H5T_NATIVE_INT32, n, c.src_line);
    COL("step_offset", H5T_STD_I64LE, H5T_NATIVE_INT64, n + 1, o->step_offset);
    COL("err_offset", H5T_STD_I64LE, H5T_NATIVE_INT64, n + 1, c.err_offset);
    COL("err_steps", H5T_STD_I32LE, H5T_NATIVE_INT32, (size_t)c.err_offset[n], c.err_steps); /* only read when rc == PE_OK */
#undef COL
    pe_h5_close(ls_t);
    pe_h5_close(st_t);
    pe_h5_close(cls_t);
    pe_h5_close(g);
    free_cols(&c);
    return rc;
}

/* is_error[j] = 1 when step j (0-based, within the sample's stored steps) is
 * one of the sample's error steps. */
static int write_steps(writer *w, hid_t f, const pe_eval_output *o)
{
    size_t n = (size_t)o->data->nsamples;
    size_t total = (size_t)o->step_offset[n];
    uint8_t *is_error = pe_calloc(total, 1, w->e);
    if (!is_error)
        return PE_ERESOURCE;
    for (size_t i = 0; i < n; i++) {
        const pe_sample *s = &o->data->samples[i];
        int64_t len = o->step_offset[i + 1] - o->step_offset[i];
        for (int k = 0; k < s->nerr; k++)
            if (s->err_steps[k] >= 0 && s->err_steps[k] < len)
                is_error[o->step_offset[i] + s->err_steps[k]] = 1;
    }
    int rc = PE_OK;
    hid_t g = make_group(w, &rc, f, "/steps", "steps");
    rc = rc ? rc : put_dset(w, g, "/steps/score", "score", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, total, o->step_scores, NULL);
    rc = rc ? rc : put_dset(w, g, "/steps/label", "label", H5T_STD_U8LE, H5T_NATIVE_UINT8, total, o->step_labels, NULL);
    rc = rc ? rc : put_dset(w, g, "/steps/is_error", "is_error", H5T_STD_U8LE, H5T_NATIVE_UINT8, total, is_error, NULL);
    /* ReasonEval's second reward: rescore relabels the redundancy classes from it */
    if (o->step_scores2)
        rc = rc ? rc : put_dset(w, g, "/steps/score_redundancy", "score_redundancy", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                                total, o->step_scores2, NULL);
    pe_h5_close(g);
    free(is_error);
    return rc;
}

/* ---- /analysis/error_position ---- */

/* Rows: the classes in pe_class order (so /samples/class indexes them; the
 * correct class has no errors and is all -1), then the pooled errors.
 * Column p-1 is the 1-based error position p (the last one also holds larger
 * positions). */
static int write_analysis(writer *w, hid_t f, const pe_metrics *m)
{
    enum { R = PE_NCLASSES + 1, P = PE_MAX_ERRPOS };
    double wrong_acc[R][P], dist[R][P];
    int64_t hits[R][P], npos[R][P], nsamp[R][P];
    int32_t positions[P];
    const char *rows[R];
    for (int r = 0; r < R; r++) {
        const pe_counts *c = r < PE_NCLASSES ? &m->cls[r].c : &m->pooled.c;
        rows[r] = r < PE_NCLASSES ? pe_class_name((pe_class)r) : "pooled";
        for (int p = 1; p <= P; p++) {
            hits[r][p - 1] = c->pos_hits[p];
            npos[r][p - 1] = c->pos_n[p];
            nsamp[r][p - 1] = c->pos_samples[p];
            wrong_acc[r][p - 1] = c->pos_n[p] > 0 ? (double)c->pos_hits[p] / (double)c->pos_n[p] : -1.0;
            dist[r][p - 1] = c->samples > 0 ? 100.0 * (double)c->pos_samples[p] / (double)c->samples : -1.0;
            positions[p - 1] = p;
        }
    }
    int rc = PE_OK;
    hid_t g = make_group(w, &rc, f, "/analysis", "analysis");
    hid_t ge = make_group(w, &rc, g, "/analysis/error_position", "error_position");
    const char *obj = "/analysis/error_position";
    rc = rc ? rc : attr_strs(w, ge, obj, "rows", R, rows);
    rc = rc ? rc : put_dset2(w, ge, "/analysis/error_position/position", "position", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, P, positions);
    rc = rc ? rc : put_dset2(w, ge, "/analysis/error_position/wrong_acc", "wrong_acc", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, R, P, wrong_acc);
    rc = rc ? rc : put_dset2(w, ge, "/analysis/error_position/distribution_pct", "distribution_pct", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, R, P, dist);
    rc = rc ? rc : put_dset2(w, ge, "/analysis/error_position/hits", "hits", H5T_STD_I64LE, H5T_NATIVE_INT64, R, P, hits);
    rc = rc ? rc : put_dset2(w, ge, "/analysis/error_position/n", "n", H5T_STD_I64LE, H5T_NATIVE_INT64, R, P, npos);
    rc = rc ? rc : put_dset2(w, ge, "/analysis/error_position/samples", "samples", H5T_STD_I64LE, H5T_NATIVE_INT64, R, P, nsamp);
    pe_h5_close(ge);
    pe_h5_close(g);
    return rc;
}

/* ---- /timing and /run: `prmeval run` only ---- */

/* /timing: one row per rank (timing differs from run to run; it never enters
 * the metrics). */
static int write_timing(writer *w, hid_t f, const pe_run_info *r)
{
    size_t n = r->nranks > 0 ? (size_t)r->nranks : 0;
    int32_t *rank = pe_malloc((n + 1) * sizeof *rank, w->e);
    int64_t *i64 = pe_malloc((n + 1) * 7 * sizeof *i64, w->e);
    double *f64 = pe_malloc((n + 1) * 2 * sizeof *f64, w->e);
    const char **str = pe_malloc((n + 1) * 3 * sizeof *str, w->e);
    int rc = rank && i64 && f64 && str ? PE_OK : PE_ERESOURCE;
    int64_t *tokens = i64, *seqs = i64 + n, *run = i64 + 2 * n, *reused = i64 + 3 * n;
    int64_t *prompt = i64 + 4 * n, *recomp = i64 + 5 * n, *cache = i64 + 6 * n;
    double *secs = f64, *tps = f64 + n;
    const char **host = str, **backend = str + n, **device = str + 2 * n;
    for (size_t k = 0; rc == PE_OK && k < n; k++) {
        const pe_rank_timing *t = &r->ranks[k];
        rank[k] = t->rank;
        tokens[k] = t->tokens;
        prompt[k] = t->prompt_tokens;
        recomp[k] = t->recomputed;
        cache[k] = t->cache_bytes_max;
        seqs[k] = t->sequences;
        run[k] = t->shards_run;
        reused[k] = t->shards_reused;
        secs[k] = t->seconds;
        tps[k] = t->tokens_per_s;
        host[k] = t->host;
        backend[k] = t->backend;
        device[k] = t->device;
    }
    hid_t g = make_group(w, &rc, f, "/timing", "timing");
#define COL(name, ft, mt, buf) rc = rc ? rc : put_dset(w, g, "/timing/" name, name, ft, mt, n, buf, NULL)
    COL("rank", H5T_STD_I32LE, H5T_NATIVE_INT32, rank);
    rc = rc ? rc : put_str_dset(w, g, "/timing/host", "host", n, host);
    rc = rc ? rc : put_str_dset(w, g, "/timing/backend", "backend", n, backend);
    rc = rc ? rc : put_str_dset(w, g, "/timing/device", "device", n, device);
    COL("tokens", H5T_STD_I64LE, H5T_NATIVE_INT64, tokens);
    COL("prompt_tokens", H5T_STD_I64LE, H5T_NATIVE_INT64, prompt);
    COL("recomputed", H5T_STD_I64LE, H5T_NATIVE_INT64, recomp);
    COL("cache_bytes_max", H5T_STD_I64LE, H5T_NATIVE_INT64, cache);
    COL("sequences", H5T_STD_I64LE, H5T_NATIVE_INT64, seqs);
    COL("shards_run", H5T_STD_I64LE, H5T_NATIVE_INT64, run);
    COL("shards_reused", H5T_STD_I64LE, H5T_NATIVE_INT64, reused);
    COL("seconds", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, secs);
    COL("tokens_per_s", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, tps);
#undef COL
    pe_h5_close(g);
    free(rank);
    free(i64);
    free(f64);
    free(str);
    return rc;
}

/* /run: the token statistics of all prompts (the same for an interrupted and
 * an uninterrupted run) and the run's totals. */
static int write_run(writer *w, hid_t f, const pe_run_info *r)
{
    int rc = PE_OK;
    hid_t g = make_group(w, &rc, f, "/run", "run");
    const char *obj = "/run";
    const pe_token_stats *t = &r->tok;
    const char *names[PE_NCLASSES];
    for (int c = 0; c < PE_NCLASSES; c++)
        names[c] = pe_class_name((pe_class)c);
    rc = rc ? rc : attr_i64(w, g, obj, "max_tokens", r->max_tokens);
    rc = rc ? rc : attr_i64(w, g, obj, "sequences", t->sequences);
    rc = rc ? rc : attr_i64(w, g, obj, "tokens", t->tokens);
    rc = rc ? rc : attr_i64(w, g, obj, "tokens_full", t->tokens_full);
    rc = rc ? rc : attr_i64(w, g, obj, "sequences_cut", t->sequences_cut);
    rc = rc ? rc : attr_i64(w, g, obj, "readouts", t->readouts);
    rc = rc ? rc : attr_i64(w, g, obj, "labels_lost", t->labels_lost);
    rc = rc ? rc : attr_i64(w, g, obj, "readout_mismatch", t->readout_mismatch);
    rc = rc ? rc : attr_i64(w, g, obj, "shards", r->shards);
    rc = rc ? rc : attr_i64(w, g, obj, "shards_reused", r->shards_reused);
    rc = rc ? rc : attr_f64(w, g, obj, "seconds", r->seconds);
    rc = rc ? rc : attr_i64(w, g, obj, "prefix_reuse", r->prefix_reuse != 0);
    rc = rc ? rc : attr_i64(w, g, obj, "prefix_cache_bytes", r->prefix_cache_bytes);
    rc = rc ? rc : put_attr(w, g, obj, "labels_lost_by_class", H5T_STD_I64LE, H5T_NATIVE_INT64, PE_NCLASSES,
                            t->labels_lost_class);
    rc = rc ? rc : attr_strs(w, g, obj, "classes", PE_NCLASSES, names);
    pe_h5_close(g);
    return rc;
}

/* ---- the file ---- */

/* Inconsistent inputs are the caller's bug; they are caught before a file exists. */
static int check_output(const char *path, const pe_eval_output *o, const pe_provenance *p, pe_err *e)
{
    if (!o || !o->data || !o->metrics || !p)
        return pe_fail(e, PE_EGENERIC, "%s: internal: results, dataset, metrics and provenance are required", path);
    const pe_dataset *d = o->data;
    if (d->nsamples < 0 || (d->nsamples > 0 && (!d->samples || !o->results)))
        return pe_fail(e, PE_EGENERIC, "%s: internal: %d samples without sample or result arrays", path, d->nsamples);
    if (!o->step_offset || o->step_offset[0] != 0)
        return pe_fail(e, PE_EGENERIC, "%s: internal: step_offset must start at 0", path);
    for (int i = 0; i < d->nsamples; i++) {
        const pe_sample *s = &d->samples[i];
        if (o->step_offset[i + 1] < o->step_offset[i])
            return pe_fail(e, PE_EGENERIC, "%s: internal: step_offset decreases at sample %d", path, i);
        if (s->cls < 0 || s->cls >= PE_NCLASSES)
            return pe_fail(e, PE_EGENERIC, "%s: internal: sample %d has class %d", path, i, s->cls);
        if (o->results[i].status < PE_PRED_OK || o->results[i].status > PE_PRED_INVALID)
            return pe_fail(e, PE_EGENERIC, "%s: internal: sample %d has status %d", path, i, o->results[i].status);
        if (s->nerr < 0 || (s->nerr > 0 && !s->err_steps))
            return pe_fail(e, PE_EGENERIC, "%s: internal: sample %d has %d error steps and no array", path, i, s->nerr);
    }
    if (o->run && o->run->nranks > 0 && !o->run->ranks)
        return pe_fail(e, PE_EGENERIC, "%s: internal: run information without rank timing", path);
    if (o->step_offset[d->nsamples] > 0 && (!o->step_scores || !o->step_labels))
        return pe_fail(e, PE_EGENERIC, "%s: internal: %lld steps without score or label arrays", path,
                       (long long)o->step_offset[d->nsamples]);
    return PE_OK;
}

/* Bob Jenkins' lookup3 hash (hashlittle, byte by byte), the checksum of
 * HDF5's metadata. */
#define ROT(x, k) (((x) << (k)) | ((x) >> (32 - (k))))
static uint32_t lookup3(const uint8_t *k, size_t len)
{
    uint32_t a, b, c;
    a = b = c = 0xdeadbeefu + (uint32_t)len;
    while (len > 12) {
        a += k[0] + ((uint32_t)k[1] << 8) + ((uint32_t)k[2] << 16) + ((uint32_t)k[3] << 24);
        b += k[4] + ((uint32_t)k[5] << 8) + ((uint32_t)k[6] << 16) + ((uint32_t)k[7] << 24);
        c += k[8] + ((uint32_t)k[9] << 8) + ((uint32_t)k[10] << 16) + ((uint32_t)k[11] << 24);
        a -= c; a ^= ROT(c, 4);  c += b;
        b -= a; b ^= ROT(a, 6);  a += c;
        c -= b; c ^= ROT(b, 8);  b += a;
        a -= c; a ^= ROT(c, 16); c += b;
        b -= a; b ^= ROT(a, 19); a += c;
        c -= b; c ^= ROT(b, 4);  b += a;
        len -= 12;
        k += 12;
    }
    if (len == 0)
        return c;
    uint32_t w[3] = {0, 0, 0};
    for (size_t i = 0; i < len; i++)
        w[i / 4] += (uint32_t)k[i] << (8 * (i % 4));
    a += w[0];
    b += w[1];
    c += w[2];
    c ^= b; c -= ROT(b, 14);
    a ^= c; a -= ROT(c, 11);
    b ^= a; b -= ROT(a, 25);
    c ^= b; c -= ROT(b, 16);
    a ^= c; a -= ROT(c, 4);
    b ^= a; b -= ROT(a, 14);
    c ^= b; c -= ROT(b, 24);
    return c;
}
#undef ROT

/* H5Fget_file_image of a file open for writing clears the superblock's
 * status flags in the image (the file must not read as "still open") but,
 * in libhdf5 1.10.8, keeps the checksum computed with them set: readers then
 * refuse the file. Superblocks of version 2 and 3 end with a lookup3 checksum
 * of everything before it; it is recomputed here (a no-op where HDF5 did it). */
static int fix_superblock_checksum(uint8_t *img, size_t n)
{
    static const uint8_t sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (n < 12 || memcmp(img, sig, 8) != 0 || img[8] < 2)
        return img[8] < 2 ? 0 : -1;
    size_t body = 12 + 4 * (size_t)img[9];  /* four addresses of size_of_offsets bytes */
    if (body + 4 > n)
        return -1;
    uint32_t sum = lookup3(img, body);
    for (int i = 0; i < 4; i++)
        img[body + i] = (uint8_t)(sum >> (8 * i));
    return 0;
}

int pe_results_h5_image(const char *path, const pe_eval_output *o, const pe_provenance *p, void **image,
                        size_t *len, pe_err *e)
{
    *image = NULL;
    *len = 0;
    pe_h5_no_atexit();
    if (check_output(path, o, p, e) != PE_OK)
        return e ? e->code : PE_EGENERIC;
    pe_err local = {0};
    pe_err *err = e ? e : &local;

    /* HDF5 would print its error stack to stderr; the message goes through pe_err instead. */
    H5E_auto2_t old_func;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_func, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);

    writer w = {path, err};
    int rc = PE_OK;
    hid_t fapl = pe_h5_fapl(1), fcpl = pe_h5_fcpl();
    /* in memory only: grows by 1 MiB, never written by HDF5 */
    if (fapl >= 0 && H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) < 0) {
        pe_h5_close(fapl);
        fapl = -1;
    }
    hid_t f = fapl < 0 || fcpl < 0 ? -1 : H5Fcreate(path, H5F_ACC_TRUNC, fcpl, fapl);
    if (f < 0) {
        char why[512];
        pe_h5_error_text(why, sizeof why);  /* before any other HDF5 call clears the stack */
        rc = pe_fail(err, PE_ERESOURCE, "%s: cannot create the file in memory%s%s", path, why[0] ? ": " : "", why);
    }
    pe_h5_close(fapl);
    pe_h5_close(fcpl);
    rc = rc ? rc : write_provenance(&w, f, p);
    rc = rc ? rc : write_metrics(&w, f, o->metrics);
    rc = rc ? rc : write_samples(&w, f, o);
    rc = rc ? rc : write_steps(&w, f, o);
    rc = rc ? rc : write_analysis(&w, f, o->metrics);
    if (o->run) {
        rc = rc ? rc : write_timing(&w, f, o->run);
        rc = rc ? rc : write_run(&w, f, o->run);
    }
    if (rc == PE_OK && H5Fflush(f, H5F_SCOPE_GLOBAL) < 0)
        rc = h5fail(&w, "/", "H5Fflush");
    ssize_t n = rc == PE_OK ? H5Fget_file_image(f, NULL, 0) : -1;
    if (rc == PE_OK && n <= 0)
        rc = h5fail(&w, "/", "H5Fget_file_image");
    void *buf = rc == PE_OK ? pe_malloc((size_t)n, err) : NULL;
    if (rc == PE_OK && !buf)
        rc = PE_ERESOURCE;
    if (rc == PE_OK && H5Fget_file_image(f, buf, (size_t)n) != n)
        rc = h5fail(&w, "/", "H5Fget_file_image");
    if (rc == PE_OK && fix_superblock_checksum(buf, (size_t)n) != 0)
        rc = pe_fail(err, PE_EGENERIC, "%s: internal: the file image does not start with an HDF5 superblock", path);
    if (f >= 0 && H5Fclose(f) < 0 && rc == PE_OK)
        rc = h5fail(&w, "/", "H5Fclose");
    H5Eset_auto2(H5E_DEFAULT, old_func, old_data);
    if (rc != PE_OK) {
        free(buf);
        return rc;
    }
    *image = buf;
    *len = (size_t)n;
    return PE_OK;
}

int pe_results_h5_write(const char *path, const pe_eval_output *o, const pe_provenance *p, pe_err *e)
{
    void *img;
    size_t len;
    pe_err local = {0};
    pe_err *err = e ? e : &local;
    int rc = pe_results_h5_image(path, o, p, &img, &len, err);
    if (rc != PE_OK)
        return rc;
    pe_outfile f;
    if ((rc = pe_outfile_open(&f, path, err)) == PE_OK) {
        pe_outfile_write(&f, img, len);
        rc = pe_outfile_publish(&f, 1, err);
    }
    free(img);
    return rc;
}
