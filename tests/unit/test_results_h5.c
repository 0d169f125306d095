/* The HDF5 results file: a hand-built evaluation (NaN, -0.0, -1 sentinels, a
 * sample with no labels, out-of-range error steps, UTF-8 keys) is written,
 * read back with the reader and with the raw HDF5 API, and compared bit for
 * bit. Also: no temp file after success, no file under the final name after
 * a failure, clear reader errors for wrong files and shapes.
 *
 * The files stay in the scratch folder ($PRMEVAL_TMP, else
 * $PRMEVAL_BUILD/tests/tmp/unit_results_h5): tests/scripts/test_results_h5.py
 * runs this program and checks them with h5py and h5dump. */
#include "check.h"
#include "io/results_h5.h"
#include "io/results_h5_read.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[900];

static void mkdir_p(const char *dir)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    }
    mkdir(buf, 0755);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- the synthetic evaluation ---- */

enum { NS = 4, NSTEPS = 3 + 4 + 0 + 3 };
static int err1[2] = {1, 7};  /* step 7 is beyond the 4 steps: kept, as the reference does */
static int err3[1] = {2};
static pe_sample samples[NS] = {
    {.key = "correct_p1", .idx = "p1", .cls = PE_CLS_CORRECT, .problem = 0, .nsteps = 3, .nerr = 0, .src_file = 0, .src_line = 1},
    {.key = "redundency_p1", .idx = "p1", .cls = PE_CLS_REDUNDENCY, .problem = 0, .nsteps = 4, .nerr = 2, .err_steps = err1, .src_file = 0, .src_line = 1},
    {.key = "circular_p\xcf\x80", .idx = "p\xcf\x80", .cls = PE_CLS_CIRCULAR, .problem = 1, .nsteps = 2, .nerr = 0, .src_file = 1, .src_line = 7},
    {.key = "multi_solutions_p3", .idx = "p3", .cls = PE_CLS_MULTI_SOLUTIONS, .problem = 2, .nsteps = 3, .nerr = 1, .err_steps = err3, .src_file = 1, .src_line = 12},
};
static const int64_t step_offset[NS + 1] = {0, 3, 7, 7, 10};
static double scores[NSTEPS];
static const uint8_t labels[NSTEPS] = {1, 0, 1, 1, 0, 0, 1, 0, 1, 1};
static const uint8_t is_error_expected[NSTEPS] = {0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
static pe_sample_result results[NS];
static pe_metrics metrics;

static double neg_zero(void) { return -0.0; }

static void build(void)
{
    const double s[NSTEPS] = {0.9, neg_zero(), 0.75, NAN, NAN, NAN, NAN, -1.0, 1e-300, 5e300};
    memcpy(scores, s, sizeof s);
    results[0] = (pe_sample_result){.status = PE_PRED_OK, .nlabels = 3, .first_error_hit = -1, .pred_order = 2, .response_acc = 2.0 / 3.0};
    results[0].c.tp = 2; results[0].c.fn = 1; results[0].c.samples = 1;
    results[1] = (pe_sample_result){.status = PE_PRED_OK, .nlabels = 4, .first_error_hit = 1, .pred_order = 0, .response_acc = 0.5};
    results[1].c.tp = 2; results[1].c.tn = 1; results[1].c.fp = 1; results[1].c.samples = 1;
    results[2] = (pe_sample_result){.status = PE_PRED_MISSING, .nlabels = 0, .first_error_hit = -1, .pred_order = -1, .response_acc = -1.0};
    results[3] = (pe_sample_result){.status = PE_PRED_INVALID, .nlabels = 3, .first_error_hit = 0, .pred_order = 1, .response_acc = neg_zero()};
    results[3].c.fn = 1; results[3].c.tp = 1; results[3].c.fp = 1; results[3].c.samples = 1;

    memset(&metrics, 0, sizeof metrics);
    for (int c = 0; c < PE_NCLASSES; c++) {
        pe_metric_row *r = &metrics.cls[c];
        /* distinct values per class and field so a swapped row or column shows */
        r->precision = 0.1 + c / 64.0;
        r->recall = 0.2 + c / 64.0;
        r->f1 = 1.0 / 3.0 + c;
        r->negative_precision = -1.0;
        r->negative_recall = neg_zero();
        r->negative_f1 = c == 2 ? NAN : 0.5;
        r->prmscore = 0.25 * c;
        r->correct_step_acc = 0.7;
        r->wrong_step_acc = 0.3 - c / 128.0;
        r->total_step_acc = 1e-17 * c;
        r->first_error_acc = -1.0;
        r->similarity = c ? 0.125 : -1.0;
        r->similarity_n = c;
        r->c.tp = 10 + c; r->c.fp = 20 + c; r->c.tn = 30 + c; r->c.fn = 40 + c;
        r->c.corr_ones = 1; r->c.corr_n = 2; r->c.wrong_ones = 3; r->c.wrong_n = 4;
        r->c.total_ones = 5; r->c.total_n = 6; r->c.fe_ones = 7; r->c.fe_n = 8;
        r->c.samples = c == 0 ? 0 : 100 + c; /* correct: zero samples -> distribution -1 */
        r->c.evaluated = 90; r->c.missing = 9; r->c.invalid = 1;
        for (int p = 1; p <= PE_MAX_ERRPOS; p++) {
            r->c.pos_n[p] = c == 0 || p > 5 ? 0 : p + c;
            r->c.pos_hits[p] = r->c.pos_n[p] / 2;
            r->c.pos_samples[p] = c == 0 ? 0 : (p % 3) + c;
        }
    }
    metrics.pooled = metrics.cls[PE_CLS_DECEPTION];
    metrics.pooled.prmscore = 0.457;
    metrics.pooled.c.samples = 4000;
    metrics.pooled.c.pos_n[32] = 9;
    metrics.pooled.c.pos_hits[32] = 3;
    metrics.category[0] = 0.5;
    metrics.category[1] = -0.0;
    metrics.category[2] = 1.0 / 7.0;
    metrics.validity_rate = 0.75;
    metrics.valid_num = 3;
    metrics.total_num = 4;
    metrics.threshold = 0.5;
}

static const char *files[2] = {"data/prmbench/a.jsonl", "data/prmbench/b \xc3\xa9.jsonl"};
static const char *shas[2] = {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                              "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"};

static pe_provenance prov(void)
{
    return (pe_provenance){
        .tool_version = "0.1.0", .git_commit = "abc123", .command = "eval",
        .config_json = "{\"threshold\": 0.5, \"data\": \"data/prmbench\"}",
        .ndata_files = 2, .data_files = files, .data_sha256 = shas,
        .predictions_path = "preds.jsonl", .predictions_sha256 = shas[1],
        .nranks = 3, .hosts = "node-a,node-b", .start_time = "2025-01-31T17:04:05.123Z",
        .end_time = "2025-01-31T17:04:06.000Z", .metric_definition = "prmbench-reference-v1"};
}

static pe_dataset dataset(int n)
{
    return (pe_dataset){.nsamples = n, .samples = samples, .nproblems = 3, .nfiles = 2, .files = (char **)files};
}

/* ---- raw HDF5 reads of the metrics, which the reader does not load ---- */

static double attr_f64(hid_t f, const char *obj, const char *name)
{
    double v = 12345.0;
    hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(a >= 0);
    if (a >= 0) {
        CHECK(H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0);
        H5Aclose(a);
    }
    return v;
}

static int64_t attr_i64(hid_t f, const char *obj, const char *name)
{
    int64_t v = -12345;
    hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(a >= 0);
    if (a >= 0) {
        CHECK(H5Aread(a, H5T_NATIVE_INT64, &v) >= 0);
        H5Aclose(a);
    }
    return v;
}

static void check_row_attrs(hid_t f, const char *obj, const pe_metric_row *r)
{
    CHECK_BITS(attr_f64(f, obj, "precision"), r->precision);
    CHECK_BITS(attr_f64(f, obj, "recall"), r->recall);
    CHECK_BITS(attr_f64(f, obj, "f1"), r->f1);
    CHECK_BITS(attr_f64(f, obj, "negative_precision"), r->negative_precision);
    CHECK_BITS(attr_f64(f, obj, "negative_recall"), r->negative_recall);
    CHECK_BITS(attr_f64(f, obj, "negative_f1"), r->negative_f1);
    CHECK_BITS(attr_f64(f, obj, "prmscore"), r->prmscore);
    CHECK_BITS(attr_f64(f, obj, "correct_step_acc"), r->correct_step_acc);
    CHECK_BITS(attr_f64(f, obj, "wrong_step_acc"), r->wrong_step_acc);
    CHECK_BITS(attr_f64(f, obj, "total_step_acc"), r->total_step_acc);
    CHECK_BITS(attr_f64(f, obj, "first_error_acc"), r->first_error_acc);
    CHECK_BITS(attr_f64(f, obj, "similarity"), r->similarity);
    CHECK_INT(attr_i64(f, obj, "similarity_n"), r->similarity_n);
    CHECK_INT(attr_i64(f, obj, "tp"), r->c.tp);
    CHECK_INT(attr_i64(f, obj, "fp"), r->c.fp);
    CHECK_INT(attr_i64(f, obj, "tn"), r->c.tn);
    CHECK_INT(attr_i64(f, obj, "fn"), r->c.fn);
    CHECK_INT(attr_i64(f, obj, "wrong_n"), r->c.wrong_n);
    CHECK_INT(attr_i64(f, obj, "fe_ones"), r->c.fe_ones);
    CHECK_INT(attr_i64(f, obj, "samples"), r->c.samples);
    CHECK_INT(attr_i64(f, obj, "evaluated"), r->c.evaluated);
    CHECK_INT(attr_i64(f, obj, "missing"), r->c.missing);
    CHECK_INT(attr_i64(f, obj, "invalid"), r->c.invalid);
}

static void read_2d(hid_t f, const char *name, hid_t mtype, void *buf, hsize_t rows, hsize_t cols)
{
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    CHECK(d >= 0);
    if (d < 0)
        return;
    hid_t s = H5Dget_space(d);
    hsize_t dims[2] = {0, 0};
    CHECK_INT(H5Sget_simple_extent_ndims(s), 2);
    H5Sget_simple_extent_dims(s, dims, NULL);
    CHECK_INT(dims[0], rows);
    CHECK_INT(dims[1], cols);
    if (dims[0] == rows && dims[1] == cols)
        CHECK(H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Sclose(s);
    H5Dclose(d);
}

static void check_metrics_raw(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0);
    if (f < 0)
        return;
    for (int c = 0; c < PE_NCLASSES; c++) {
        char obj[128];
        snprintf(obj, sizeof obj, "/metrics/classes/%s", pe_class_name((pe_class)c));
        check_row_attrs(f, obj, &metrics.cls[c]);
    }
    check_row_attrs(f, "/metrics/pooled", &metrics.pooled);
    CHECK_BITS(attr_f64(f, "/metrics", "validity_rate"), 0.75);
    CHECK_INT(attr_i64(f, "/metrics", "valid_num"), 3);
    CHECK_INT(attr_i64(f, "/metrics", "total_num"), 4);
    CHECK_BITS(attr_f64(f, "/metrics", "threshold"), 0.5);
    CHECK_BITS(attr_f64(f, "/metrics/categories/Simplicity", "prmscore"), 0.5);
    CHECK_BITS(attr_f64(f, "/metrics/categories/Soundness", "prmscore"), neg_zero());
    CHECK_BITS(attr_f64(f, "/metrics/categories/Sensitivity", "prmscore"), 1.0 / 7.0);

    /* error-position analysis: rows = classes then pooled, column p-1 = position p */
    enum { R = PE_NCLASSES + 1, P = PE_MAX_ERRPOS };
    static double wrong_acc[R][P], dist[R][P];
    static int64_t n[R][P];
    read_2d(f, "/analysis/error_position/wrong_acc", H5T_NATIVE_DOUBLE, wrong_acc, R, P);
    read_2d(f, "/analysis/error_position/distribution_pct", H5T_NATIVE_DOUBLE, dist, R, P);
    read_2d(f, "/analysis/error_position/n", H5T_NATIVE_INT64, n, R, P);
    for (int p = 1; p <= P; p++) {
        CHECK_BITS(wrong_acc[PE_CLS_CORRECT][p - 1], -1.0);
        CHECK_BITS(dist[PE_CLS_CORRECT][p - 1], -1.0);  /* zero samples */
    }
    /* NR (c = 1), position 2: pos_n = 3, hits = 1 -> 1/3; samples 101, pos_samples = 2 % 3 + 1 = 3 */
    CHECK_BITS(wrong_acc[PE_CLS_REDUNDENCY][1], 1.0 / 3.0);
    CHECK_BITS(dist[PE_CLS_REDUNDENCY][1], 100.0 * 3.0 / 101.0);
    CHECK_INT(n[PE_CLS_REDUNDENCY][1], 3);
    /* MS (c = 9), position 5: pos_n = 14, hits = 7 -> 0.5; position 6: no data -> -1 */
    CHECK_BITS(wrong_acc[PE_CLS_MULTI_SOLUTIONS][4], 0.5);
    CHECK_BITS(wrong_acc[PE_CLS_MULTI_SOLUTIONS][5], -1.0);
    /* pooled row: position 32 (the last bin) 3/9; position 1: pos_samples 1 % 3 + 8 = 9 of 4000 */
    CHECK_BITS(wrong_acc[PE_NCLASSES][31], 3.0 / 9.0);
    CHECK_BITS(dist[PE_NCLASSES][0], 100.0 * 9.0 / 4000.0);
    H5Fclose(f);
}

/* ---- what the reader gives back ---- */

static void check_read_back(const char *path, int n)
{
    pe_results r;
    pe_err e = {0};
    CHECK_INT(pe_results_h5_read(path, &r, &e), PE_OK);
    if (e.code) {
        fprintf(stderr, "%s\n", e.msg);
        return;
    }
    CHECK_INT(r.nsamples, n);
    CHECK_INT(r.nsteps_total, step_offset[n]);
    CHECK_INT(r.nerr_total, n == NS ? 3 : 0);
    for (int i = 0; i < n; i++) {
        CHECK_STR(r.key[i], samples[i].key);
        CHECK_STR(r.idx[i], samples[i].idx);
        CHECK_INT(r.cls[i], samples[i].cls);
        CHECK_INT(r.problem[i], samples[i].problem);
        CHECK_INT(r.status[i], results[i].status);
        CHECK_INT(r.nsteps[i], samples[i].nsteps);
        CHECK_INT(r.nlabels[i], results[i].nlabels);
        CHECK_INT(r.pred_order[i], results[i].pred_order);
        CHECK_INT(r.err_offset[i + 1] - r.err_offset[i], samples[i].nerr);
        for (int k = 0; k < samples[i].nerr; k++)
            CHECK_INT(r.err_steps[r.err_offset[i] + k], samples[i].err_steps[k]);
    }
    for (int i = 0; i <= n; i++)
        CHECK_INT(r.step_offset[i], step_offset[i]);
    for (int64_t j = 0; j < r.nsteps_total; j++) {
        CHECK_BITS(r.step_scores[j], scores[j]);  /* NaN payload and the sign of -0.0 included */
        CHECK_INT(r.step_labels[j], labels[j]);
        CHECK_INT(r.step_is_error[j], is_error_expected[j]);
    }
    CHECK_BITS(r.threshold, 0.5);
    pe_results_prov *p = &r.prov;
    CHECK_STR(p->schema, "prmeval-results");
    CHECK_INT(p->schema_version, 2);
    CHECK_STR(p->tool_version, "0.1.0");
    CHECK_STR(p->git_commit, "abc123");
    CHECK_STR(p->command, "eval");
    CHECK_STR(p->config_json, "{\"threshold\": 0.5, \"data\": \"data/prmbench\"}");
    CHECK_INT(p->ndata_files, 2);
    if (p->ndata_files == 2) {
        CHECK_STR(p->data_files[1], files[1]);
        CHECK_STR(p->data_sha256[0], shas[0]);
    }
    CHECK_STR(p->predictions_path, "preds.jsonl");
    CHECK_STR(p->predictions_sha256, shas[1]);
    CHECK_INT(p->nranks, 3);
    CHECK_STR(p->hosts, "node-a,node-b");
    CHECK_STR(p->start_time, "2025-01-31T17:04:05.123Z");
    CHECK_STR(p->end_time, "2025-01-31T17:04:06.000Z");
    CHECK_STR(p->metric_definition, "prmbench-reference-v1");
    CHECK_STR(p->view.predictions_path, "preds.jsonl");
    CHECK_STR(p->view.data_sha256[1], shas[1]);
    pe_results_free(&r);
}

static int write_file(const char *path, int n, const pe_provenance *p, pe_err *e)
{
    pe_dataset d = dataset(n);
    pe_eval_output o = {.data = &d, .results = results, .step_offset = step_offset,
                        .step_scores = scores, .step_labels = labels, .metrics = &metrics};
    return pe_results_h5_write(path, &o, p, e);
}

static void check_synthetic(void)
{
    char path[1024], tmp[1100];
    snprintf(path, sizeof path, "%s/synthetic.h5", scratch);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    remove(path);
    pe_provenance p = prov();
    pe_err e = {0};
    CHECK_INT(write_file(path, NS, &p, &e), PE_OK);
    if (e.code)
        fprintf(stderr, "%s\n", e.msg);
    CHECK(exists(path));
    CHECK(!exists(tmp));
    check_read_back(path, NS);
    check_metrics_raw(path);
    /* writing again replaces the file */
    CHECK_INT(write_file(path, NS, &p, &e), PE_OK);
    CHECK(!exists(tmp));
    check_read_back(path, NS);
}

/* No samples, no steps, NULL provenance strings, no data files. */
static void check_empty(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/empty.h5", scratch);
    pe_provenance p = {.nranks = 1};
    pe_err e = {0};
    CHECK_INT(write_file(path, 0, &p, &e), PE_OK);
    if (e.code)
        fprintf(stderr, "%s\n", e.msg);
    pe_results r;
    CHECK_INT(pe_results_h5_read(path, &r, &e), PE_OK);
    CHECK_INT(r.nsamples, 0);
    CHECK_INT(r.nsteps_total, 0);
    CHECK_STR(r.prov.tool_version, "");
    CHECK_STR(r.prov.predictions_path, "");
    CHECK(r.prov.view.predictions_path == NULL);
    CHECK_INT(r.prov.ndata_files, 0);
    pe_results_free(&r);
}

static void check_write_failures(void)
{
    char path[1024], tmp[1100];
    pe_provenance p = prov();
    pe_err e = {0};
    /* the target folder does not exist */
    snprintf(path, sizeof path, "%s/no-such-dir/out.h5", scratch);
    CHECK_INT(write_file(path, NS, &p, &e), PE_EIO);
    CHECK(strstr(e.msg, path) != NULL);
    CHECK(!exists(path));
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(!exists(tmp));
    /* the final name is a folder: everything is written, the rename fails, the temp file goes */
    pe_err_clear(&e);
    snprintf(path, sizeof path, "%s/a-folder.h5", scratch);
    mkdir_p(path);
    CHECK_INT(write_file(path, NS, &p, &e), PE_EIO);
    CHECK(strstr(e.msg, "rename") != NULL && strstr(e.msg, path) != NULL);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(!exists(tmp));
    /* inconsistent inputs: refused before any file exists */
    pe_err_clear(&e);
    snprintf(path, sizeof path, "%s/bad.h5", scratch);
    remove(path);
    samples[2].cls = 42;
    CHECK_INT(write_file(path, NS, &p, &e), PE_EGENERIC);
    CHECK(strstr(e.msg, "class 42") != NULL);
    samples[2].cls = PE_CLS_CIRCULAR;
    CHECK(!exists(path));
    /* strings are fixed-length, at most PE_H5_MAX_STR bytes (1 MiB): one
     * byte more is refused, naming the attribute; the temp file goes */
    size_t big = ((size_t)1 << 20) + 1;
    char *cfg = malloc(big + 1);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    memset(cfg, 'x', big);
    cfg[big] = '\0';
    p.config_json = cfg;
    pe_err_clear(&e);
    CHECK_INT(write_file(path, NS, &p, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "cannot write attribute config_json of /: string 0 is 1048577 bytes, at most 1048576") != NULL);
    CHECK(!exists(path));
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(!exists(tmp));
    /* exactly 1 MiB: written and read back whole */
    cfg[big - 1] = '\0';
    pe_err_clear(&e);
    CHECK_INT(write_file(path, NS, &p, &e), PE_OK);
    pe_results r;
    CHECK_INT(pe_results_h5_read(path, &r, &e), PE_OK);
    if (e.code == PE_OK) {
        CHECK_INT((long long)strlen(r.prov.config_json), (long long)(big - 1));
        CHECK(r.prov.config_json[0] == 'x' && r.prov.config_json[big - 2] == 'x');
        pe_results_free(&r);
    }
    free(cfg);
}

/* Replaces dataset name by a 1-D uint8 dataset of length len. */
static void replace_dataset(const char *path, const char *name, hsize_t len)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK(f >= 0);
    CHECK(H5Ldelete(f, name, H5P_DEFAULT) >= 0);
    hid_t s = H5Screate_simple(1, &len, NULL);
    hid_t d = H5Dcreate2(f, name, H5T_STD_U8LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(d >= 0);
    H5Dclose(d);
    H5Sclose(s);
    H5Fclose(f);
}

static void check_read_failures(void)
{
    pe_results r;
    pe_err e = {0};
    char path[1024];
    snprintf(path, sizeof path, "%s/missing.h5", scratch);
    CHECK_INT(pe_results_h5_read(path, &r, &e), PE_EIO);
    CHECK(strstr(e.msg, path) != NULL);
    pe_err_clear(&e);
    CHECK_INT(pe_results_h5_read("data/NOTICE", &r, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "data/NOTICE: not an HDF5 file") != NULL);

    /* a step array one element short */
    snprintf(path, sizeof path, "%s/broken-shape.h5", scratch);
    pe_provenance p = prov();
    pe_err_clear(&e);
    CHECK_INT(write_file(path, NS, &p, &e), PE_OK);
    replace_dataset(path, "/steps/label", NSTEPS - 1);
    CHECK_INT(pe_results_h5_read(path, &r, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "/steps/label: expected shape (10), found (9)") != NULL);
    CHECK(r.key == NULL && r.step_scores == NULL);  /* freed on failure */
    /* a dataset missing */
    pe_err_clear(&e);
    CHECK_INT(write_file(path, NS, &p, &e), PE_OK);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, "/samples/nlabels", H5P_DEFAULT);
    H5Fclose(f);
    CHECK_INT(pe_results_h5_read(path, &r, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "/samples/nlabels: dataset missing") != NULL);
    /* a class column of the wrong type (integers, not the enum) */
    pe_err_clear(&e);
    CHECK_INT(write_file(path, NS, &p, &e), PE_OK);
    replace_dataset(path, "/samples/class", NS);
    CHECK_INT(pe_results_h5_read(path, &r, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "/samples/class: expected type enum, found integer") != NULL);
    fprintf(stderr, "reader error, as a user sees it: %s\n", e.msg);
}

int main(void)
{
    const char *t = getenv("PRMEVAL_TMP"), *b = getenv("PRMEVAL_BUILD");
    if (t && *t)
        snprintf(scratch, sizeof scratch, "%s", t);
    else if (b && *b)
        snprintf(scratch, sizeof scratch, "%s/tests/tmp/unit_results_h5", b);
    else
        snprintf(scratch, sizeof scratch, "/tmp/prmeval_unit_results_h5");
    mkdir_p(scratch);
    build();
    check_synthetic();
    check_empty();
    check_write_failures();
    check_read_failures();
    return pe_check_done();
}
