/* Reader of the results file (docs/hdf5-schema.md): shapes and types are
 * checked at the moment a dataset is asked for, and a mismatch names the file
 * and the object with what was expected and what was found. */
#include "results_h5_read.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "results_h5_types.h"

typedef struct reader {
    const char *path;
    pe_err *e;
    hid_t f;
} reader;

static int rfail(reader *rd, int code, const char *obj, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int rfail(reader *rd, int code, const char *obj, const char *fmt, ...)
{
    char what[512], why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    pe_h5_error_text(why, sizeof why);
    if (why[0])
        return pe_fail(rd->e, code, "%s: %s: %s (HDF5: %s)", rd->path, obj, what, why);
    return pe_fail(rd->e, code, "%s: %s: %s", rd->path, obj, what);
}

static const char *class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    case H5T_ENUM: return "enum";
    case H5T_COMPOUND: return "compound";
    default: return "other";
    }
}

/* Opens a 1-D dataset of the expected type class; its length goes to *len. */
static hid_t open_1d(reader *rd, const char *name, H5T_class_t want, hsize_t *len)
{
    hid_t d = H5Dopen2(rd->f, name, H5P_DEFAULT);
    if (d < 0) {
        /* missing, or there and unreadable (a checksum failed): HDF5's
         * reason is taken before H5Lexists clears the error stack */
        char why[512];
        pe_h5_error_text(why, sizeof why);
        int there = H5Lexists(rd->f, name, H5P_DEFAULT) != 0;  /* < 0: its group is unreadable */
        pe_fail(rd->e, PE_EINPUT, "%s: %s: %s%s%s%s", rd->path, name, there ? "cannot open" : "dataset missing",
                why[0] ? " (HDF5: " : "", why, why[0] ? ")" : "");
        return -1;
    }
    hid_t space = H5Dget_space(d), t = H5Dget_type(d);
    int ndims = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    H5T_class_t cls = t < 0 ? H5T_NO_CLASS : H5Tget_class(t);
    int ok = 1;
    if (ndims != 1) {
        rfail(rd, PE_EINPUT, name, "expected a 1-D dataset, found %d dimensions", ndims);
        ok = 0;
    } else if (cls != want) {
        rfail(rd, PE_EINPUT, name, "expected type %s, found %s", class_name(want), class_name(cls));
        ok = 0;
    } else {
        H5Sget_simple_extent_dims(space, len, NULL);
    }
    pe_h5_close(t);
    pe_h5_close(space);
    if (!ok) {
        H5Dclose(d);
        return -1;
    }
    return d;
}

/* Reads a 1-D dataset of exactly `expect` elements into a new buffer. */
static void *read_1d(reader *rd, const char *name, H5T_class_t want, hid_t mtype, size_t elsize, int64_t expect)
{
    hsize_t len = 0;
    hid_t d = open_1d(rd, name, want, &len);
    if (d < 0)
        return NULL;
    void *buf = NULL;
    if ((int64_t)len != expect) {
        rfail(rd, PE_EINPUT, name, "expected shape (%lld), found (%llu)", (long long)expect, (unsigned long long)len);
    } else if ((buf = pe_calloc((size_t)len, elsize, rd->e)) != NULL) {
        if (len > 0 && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
            rfail(rd, PE_EINPUT, name, "cannot read");
            free(buf);
            buf = NULL;
        }
    }
    H5Dclose(d);
    return buf;
}

/* ---- fixed-length strings ---- */

/* The element size of string type t, or 0 after an error: the type must be
 * fixed-length (schema 1's variable-length strings live in the unchecksummed
 * global heap) and at most PE_H5_MAX_STR + 1 bytes, so that no buffer is
 * sized from a forged value. */
static size_t str_size(reader *rd, const char *what, hid_t t)
{
    htri_t var = H5Tis_variable_str(t);
    if (var != 0) {
        rfail(rd, PE_EINPUT, what, "expected fixed-length strings, found %s",
              var > 0 ? "variable-length strings" : "an unreadable string type");
        return 0;
    }
    size_t size = H5Tget_size(t);
    if (size == 0 || size > (size_t)PE_H5_MAX_STR + 1) {
        rfail(rd, PE_EINPUT, what, "strings of %zu bytes, expected 1 to %u", size, PE_H5_MAX_STR + 1);
        return 0;
    }
    return size;
}

/* count packed strings of size bytes -> owned, NUL-terminated copies (each
 * ends at its first NUL or after size bytes). NULL on failure. */
static char **unpack_strs(reader *rd, const char *buf, size_t count, size_t size)
{
    char **out = pe_calloc(count ? count : 1, sizeof *out, rd->e);
    for (size_t i = 0; out && i < count; i++) {
        const char *s = buf + i * size;
        size_t len = strnlen(s, size);
        if (!(out[i] = pe_malloc(len + 1, rd->e))) {
            for (size_t k = 0; k < i; k++)
                free(out[k]);
            free(out);
            return NULL;
        }
        memcpy(out[i], s, len);
        out[i][len] = '\0';
    }
    return out;
}

/* A 1-D dataset of exactly `expect` fixed-length strings -> owned char*
 * array. Read with a copy of its own type, so no conversion runs. */
static char **read_strs(reader *rd, const char *name, int64_t expect)
{
    hsize_t len = 0;
    hid_t d = open_1d(rd, name, H5T_STRING, &len);
    if (d < 0)
        return NULL;
    char **out = NULL;
    hid_t t = H5Dget_type(d);
    size_t size = t < 0 ? 0 : str_size(rd, name, t);
    if (t < 0)
        rfail(rd, PE_EINPUT, name, "cannot read its type");
    if (size == 0) {
        /* the error is set */
    } else if ((int64_t)len != expect) {
        rfail(rd, PE_EINPUT, name, "expected shape (%lld), found (%llu)", (long long)expect, (unsigned long long)len);
    } else if (len > 0 && (size_t)len > PE_H5_MAX_STR_BYTES / size) {
        rfail(rd, PE_EINPUT, name, "%llu strings of %zu bytes exceed %zu bytes", (unsigned long long)len, size,
              PE_H5_MAX_STR_BYTES);
    } else {
        char *buf = pe_calloc(len ? (size_t)len : 1, size, rd->e);
        if (buf && len > 0 && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
            rfail(rd, PE_EINPUT, name, "cannot read");
        else if (buf)
            out = unpack_strs(rd, buf, (size_t)len, size);
        free(buf);
    }
    pe_h5_close(t);
    H5Dclose(d);
    return out;
}

/* ---- attributes ---- */

/* Opens attribute name of loc and checks it has n elements (n < 0: scalar). */
static hid_t open_attr(reader *rd, hid_t loc, const char *obj, const char *name, H5T_class_t want, long long n)
{
    char full[256];
    snprintf(full, sizeof full, "attribute %s of %s", name, obj);
    htri_t there = H5Aexists_by_name(loc, obj, name, H5P_DEFAULT);
    if (there <= 0) {
        rfail(rd, PE_EINPUT, full, there == 0 ? "missing" : "cannot read");
        return -1;
    }
    hid_t a = H5Aopen_by_name(loc, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) {
        rfail(rd, PE_EINPUT, full, "cannot open");
        return -1;
    }
    hid_t space = H5Aget_space(a), t = H5Aget_type(a);
    H5S_class_t scls = H5Sget_simple_extent_type(space);
    hssize_t npoints = H5Sget_simple_extent_npoints(space);
    int ndims = H5Sget_simple_extent_ndims(space);
    H5T_class_t cls = H5Tget_class(t);
    int ok = 1;
    if (cls != want) {
        rfail(rd, PE_EINPUT, full, "expected type %s, found %s", class_name(want), class_name(cls));
        ok = 0;
    } else if (want == H5T_STRING && str_size(rd, full, t) == 0) {
        ok = 0;
    } else if (n < 0 && scls != H5S_SCALAR) {
        rfail(rd, PE_EINPUT, full, "expected a scalar");
        ok = 0;
    } else if (n >= 0 && (ndims != 1 || npoints != n)) {
        rfail(rd, PE_EINPUT, full, "expected shape (%lld), found %d dimensions, %lld elements", n, ndims,
              (long long)npoints);
        ok = 0;
    }
    H5Tclose(t);
    H5Sclose(space);
    if (!ok) {
        H5Aclose(a);
        return -1;
    }
    return a;
}

/* Length of a 1-D string-array attribute. */
static long long attr_len(reader *rd, hid_t loc, const char *obj, const char *name)
{
    hid_t a = H5Aopen_by_name(loc, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) {
        rfail(rd, PE_EINPUT, obj, "attribute %s missing", name);
        return -1;
    }
    hid_t space = H5Aget_space(a);
    long long n = H5Sget_simple_extent_ndims(space) == 1 ? (long long)H5Sget_simple_extent_npoints(space) : -1;
    H5Sclose(space);
    H5Aclose(a);
    if (n < 0)
        rfail(rd, PE_EINPUT, obj, "attribute %s: expected a 1-D array", name);
    return n;
}

/* n < 0: scalar string into out[0]; else n strings. */
static int read_attr_strs(reader *rd, hid_t loc, const char *obj, const char *name, long long n, char **out)
{
    hid_t a = open_attr(rd, loc, obj, name, H5T_STRING, n);  /* checks the size */
    if (a < 0)
        return rd->e->code;
    size_t count = n < 0 ? 1 : (size_t)n;
    hid_t t = H5Aget_type(a);
    size_t size = t < 0 ? 0 : H5Tget_size(t);
    char *buf = NULL;
    if (size == 0)
        rfail(rd, PE_EINPUT, obj, "cannot read the type of attribute %s", name);
    else if (count > PE_H5_MAX_STR_BYTES / size)
        rfail(rd, PE_EINPUT, obj, "attribute %s: %zu strings of %zu bytes exceed %zu bytes", name, count, size,
              PE_H5_MAX_STR_BYTES);
    else if ((buf = pe_calloc(count ? count : 1, size, rd->e)) != NULL) {
        if (count > 0 && H5Aread(a, t, buf) < 0)
            rfail(rd, PE_EINPUT, obj, "cannot read attribute %s", name);
        else {
            char **s = unpack_strs(rd, buf, count, size);
            if (s)
                memcpy(out, s, count * sizeof *out);
            free(s);
        }
    }
    free(buf);
    pe_h5_close(t);
    H5Aclose(a);
    return rd->e->code;
}

static int read_attr_num(reader *rd, hid_t loc, const char *obj, const char *name, H5T_class_t want,
                         hid_t mtype, void *out)
{
    hid_t a = open_attr(rd, loc, obj, name, want, -1);
    if (a < 0)
        return rd->e->code;
    if (H5Aread(a, mtype, out) < 0)
        rfail(rd, PE_EINPUT, obj, "cannot read attribute %s", name);
    H5Aclose(a);
    return rd->e->code;
}

static int read_prov(reader *rd, pe_results_prov *p)
{
    hid_t f = rd->f;
#define S(field) read_attr_strs(rd, f, "/", #field, -1, &p->field)
    /* The version first: it is an integer in every schema version, so an
     * older or newer file gets this message rather than one about its strings. */
    if (read_attr_num(rd, f, "/", "schema_version", H5T_INTEGER, H5T_NATIVE_INT64, &p->schema_version))
        return rd->e->code;
    if (p->schema_version != PE_H5_SCHEMA_VERSION)
        return pe_fail(rd->e, PE_EINPUT,
                       "%s: results schema version %lld, this prmeval reads version %d only (%s)",
                       rd->path, (long long)p->schema_version, PE_H5_SCHEMA_VERSION,
                       p->schema_version < PE_H5_SCHEMA_VERSION
                           ? "an older prmeval wrote it: run eval or run again to write the file anew"
                           : "a newer prmeval wrote it");
    if (S(schema))
        return rd->e->code;
    if (strcmp(p->schema, PE_H5_SCHEMA) != 0)
        return pe_fail(rd->e, PE_EINPUT, "%s: not a prmeval results file (attribute schema is \"%s\", expected \"%s\")",
                       rd->path, p->schema, PE_H5_SCHEMA);
    if (S(tool_version) || S(git_commit) || S(command) || S(config_json) || S(predictions_path) ||
        S(predictions_sha256) || S(hosts) || S(start_time) || S(end_time) || S(metric_definition))
        return rd->e->code;
#undef S
    if (read_attr_num(rd, f, "/", "nranks", H5T_INTEGER, H5T_NATIVE_INT64, &p->nranks))
        return rd->e->code;
    long long nf = attr_len(rd, f, "/", "data_files");
    if (nf < 0)
        return rd->e->code;
    if (nf > 1000000)
        return pe_fail(rd->e, PE_EINPUT, "%s: /: attribute data_files has %lld entries", rd->path, nf);
    p->ndata_files = (int)nf;
    p->data_files = pe_calloc((size_t)nf, sizeof(char *), rd->e);
    p->data_sha256 = pe_calloc((size_t)nf, sizeof(char *), rd->e);
    if (rd->e->code || read_attr_strs(rd, f, "/", "data_files", nf, p->data_files) ||
        read_attr_strs(rd, f, "/", "data_sha256", nf, p->data_sha256))
        return rd->e->code;
    pe_provenance *v = &p->view;
    v->tool_version = p->tool_version;
    v->git_commit = p->git_commit;
    v->command = p->command;
    v->config_json = p->config_json;
    v->ndata_files = p->ndata_files;
    v->data_files = (const char *const *)p->data_files;
    v->data_sha256 = (const char *const *)p->data_sha256;
    v->predictions_path = p->predictions_path[0] ? p->predictions_path : NULL;
    v->predictions_sha256 = p->predictions_path[0] ? p->predictions_sha256 : NULL;
    v->nranks = (int)p->nranks;
    v->hosts = p->hosts;
    v->start_time = p->start_time;
    v->end_time = p->end_time;
    v->metric_definition = p->metric_definition;
    return PE_OK;
}

/* offsets (n+1) must start at 0, never decrease, and end at total. */
static int check_offsets(reader *rd, const char *name, const int64_t *off, int n, int64_t total)
{
    if (off[0] != 0)
        return rfail(rd, PE_EINPUT, name, "expected element 0 to be 0, found %lld", (long long)off[0]);
    for (int i = 0; i < n; i++)
        if (off[i + 1] < off[i])
            return rfail(rd, PE_EINPUT, name, "decreases at element %d (%lld < %lld)", i + 1,
                         (long long)off[i + 1], (long long)off[i]);
    if (total >= 0 && off[n] != total)
        return rfail(rd, PE_EINPUT, name, "last element %lld, expected %lld", (long long)off[n], (long long)total);
    return PE_OK;
}

static int read_arrays(reader *rd, pe_results *r)
{
    hsize_t len = 0;
    hid_t d = open_1d(rd, "/samples/key", H5T_STRING, &len);
    if (d < 0)
        return rd->e->code;
    H5Dclose(d);
    if (len > (hsize_t)0x7fffffff)
        return rfail(rd, PE_EINPUT, "/samples/key", "%llu samples, at most 2^31-1 supported", (unsigned long long)len);
    int n = r->nsamples = (int)len;
    hid_t cls_t = pe_h5_class_enum(), st_t = pe_h5_status_enum(), ls_t = pe_h5_label_source_enum();
    if (cls_t < 0 || st_t < 0 || ls_t < 0)
        rfail(rd, PE_EGENERIC, "/samples", "cannot create enum types");
    if (!rd->e->code) r->cls = read_1d(rd, "/samples/class", H5T_ENUM, cls_t, 1, n);
    if (!rd->e->code) r->status = read_1d(rd, "/samples/status", H5T_ENUM, st_t, 1, n);
    if (!rd->e->code) r->problem = read_1d(rd, "/samples/problem", H5T_INTEGER, H5T_NATIVE_INT32, 4, n);
    if (!rd->e->code) r->nsteps = read_1d(rd, "/samples/nsteps", H5T_INTEGER, H5T_NATIVE_INT32, 4, n);
    if (!rd->e->code) r->nlabels = read_1d(rd, "/samples/nlabels", H5T_INTEGER, H5T_NATIVE_INT32, 4, n);
    if (!rd->e->code) r->pred_order = read_1d(rd, "/samples/pred_order", H5T_INTEGER, H5T_NATIVE_INT64, 8, n);
    if (!rd->e->code) r->src_file = read_1d(rd, "/samples/src_file", H5T_INTEGER, H5T_NATIVE_INT32, 4, n);
    if (!rd->e->code) r->src_line = read_1d(rd, "/samples/src_line", H5T_INTEGER, H5T_NATIVE_INT32, 4, n);
    /* Optional: files written before it was added have no label_source
     * (rescore refuses them, report does not need it). */
    if (!rd->e->code && H5Lexists(rd->f, "/samples/label_source", H5P_DEFAULT) > 0)
        r->label_source = read_1d(rd, "/samples/label_source", H5T_ENUM, ls_t, 1, n);
    if (!rd->e->code) r->step_offset = read_1d(rd, "/samples/step_offset", H5T_INTEGER, H5T_NATIVE_INT64, 8, (int64_t)n + 1);
    if (!rd->e->code) r->err_offset = read_1d(rd, "/samples/err_offset", H5T_INTEGER, H5T_NATIVE_INT64, 8, (int64_t)n + 1);
    /* The strings last: by now n is the length of every per-sample array,
     * not only of /samples/key itself. */
    if (!rd->e->code) r->key = read_strs(rd, "/samples/key", n);
    if (!rd->e->code) r->idx = read_strs(rd, "/samples/idx", n);
    pe_h5_close(cls_t);
    pe_h5_close(st_t);
    pe_h5_close(ls_t);
    if (rd->e->code)
        return rd->e->code;
    if (check_offsets(rd, "/samples/step_offset", r->step_offset, n, -1) ||
        check_offsets(rd, "/samples/err_offset", r->err_offset, n, -1))
        return rd->e->code;
    r->nsteps_total = r->step_offset[n];
    r->nerr_total = r->err_offset[n];
    r->err_steps = read_1d(rd, "/samples/err_steps", H5T_INTEGER, H5T_NATIVE_INT32, 4, r->nerr_total);
    if (!rd->e->code) r->step_scores = read_1d(rd, "/steps/score", H5T_FLOAT, H5T_NATIVE_DOUBLE, 8, r->nsteps_total);
    if (!rd->e->code) r->step_labels = read_1d(rd, "/steps/label", H5T_INTEGER, H5T_NATIVE_UINT8, 1, r->nsteps_total);
    if (!rd->e->code) r->step_is_error = read_1d(rd, "/steps/is_error", H5T_INTEGER, H5T_NATIVE_UINT8, 1, r->nsteps_total);
    /* optional: ReasonEval's second reward (files of other families have none) */
    if (!rd->e->code && H5Lexists(rd->f, "/steps", H5P_DEFAULT) > 0 &&
        H5Lexists(rd->f, "/steps/score_redundancy", H5P_DEFAULT) > 0)
        r->step_scores2 = read_1d(rd, "/steps/score_redundancy", H5T_FLOAT, H5T_NATIVE_DOUBLE, 8, r->nsteps_total);
    return rd->e->code;
}

int pe_results_h5_read(const char *path, pe_results *r, pe_err *e)
{
    memset(r, 0, sizeof *r);
    pe_h5_no_atexit();
    pe_err local = {0};
    reader rd = {path, e ? e : &local, -1};
    H5E_auto2_t old_func;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_func, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int rc;
    hid_t fapl = -1;
    htri_t is_h5 = H5Fis_hdf5(path);
    if (is_h5 <= 0) {
        FILE *probe = fopen(path, "rb");
        if (probe)
            fclose(probe);
        rc = pe_fail(rd.e, probe ? PE_EINPUT : PE_EIO, "%s: %s", path,
                     probe ? "not an HDF5 file" : "cannot open (missing or unreadable)");
    } else if ((fapl = pe_h5_fapl(0)) < 0 || (rd.f = H5Fopen(path, H5F_ACC_RDONLY, fapl)) < 0) {
        /* the file is there, readable and starts like HDF5: what HDF5
         * refuses in it (a checksum, a truncation) is malformed input */
        rc = rfail(&rd, fapl < 0 ? PE_EGENERIC : PE_EINPUT, "/", "cannot open");
    } else {
        rc = read_prov(&rd, &r->prov);
        rc = rc ? rc : read_arrays(&rd, r);
        rc = rc ? rc : read_attr_num(&rd, rd.f, "/metrics", "threshold", H5T_FLOAT, H5T_NATIVE_DOUBLE, &r->threshold);
        H5Fclose(rd.f);
    }
    pe_h5_close(fapl);
    H5Eset_auto2(H5E_DEFAULT, old_func, old_data);
    if (rc != PE_OK)
        pe_results_free(r);
    return rc;
}

