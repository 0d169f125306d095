/* prmeval report: one table across results files, CSV at full precision, and
 * a refusal to put runs side by side whose data or metric definition differ
 * (docs/cli-rescore-report.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli_option.h"
#include "cli/commands.h"
#include "core/err.h"
#include "core/table.h"
#include "io/metrics_csv.h"
#include "io/metrics_json.h"
#include "io/results_h5_read.h"
#include "io/results_rescore.h"
#include "io/textout.h"

static void report_usage(FILE *f)
{
    fprintf(f,
            "usage: prmeval report A.h5 B.h5 ... [--csv FILE] [--force] [--quiet]\n"
            "\n"
            "One row per results file (eval, run or rescore): the paper's columns (PRMScore x100),\n"
            "computed from the labels stored in each file at its own threshold.\n"
            "Runs are only compared when their data (the SHA-256 of every data file) and their\n"
            "metric definition are the same; otherwise report names the two files and what differs\n"
            "and exits with 2.\n"
            "\n"
            "  --csv FILE   file, label, command, threshold and the paper's columns as fractions\n"
            "               at full precision\n"
            "  --force      compare anyway (a warning still says what differs)\n"
            "  --quiet      no table\n"
            "  -h, --help   this help\n"
            "--csv=FILE works too. The CSV is written under FILE.tmp and renamed when complete.\n"
            "\n"
            "Output: the table on stdout; warnings (--force) and errors on stderr.\n"
            "Exit codes: 0 ok, 2 usage or runs not comparable, 3 malformed input, 4 file system,\n"
            "5 out of memory.\n");
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* The run's name from its configuration: an explicit "name", else the model
 * (run) or the predictions file (eval), else the results file; a rescored
 * file is named after its source's configuration. Written into buf. */
static void config_name(const cJSON *cfg, const char *fallback, char *buf, size_t n)
{
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(cfg, "source_config");
    if (cJSON_IsObject(src)) {
        config_name(src, fallback, buf, n);
        return;
    }
    const char *fields[] = {"name", "model", "predictions"};
    for (int k = 0; k < 3; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, fields[k]);
        if (cJSON_IsString(v) && v->valuestring[0]) {
            snprintf(buf, n, "%s", k ? base_name(v->valuestring) : v->valuestring);
            return;
        }
    }
    snprintf(buf, n, "%s", fallback);
}

/* "<name>@<threshold>"; a rescored file adds "rescore" and its label rule
 * when that is not the plain threshold. */
static void run_label(const pe_results *r, const char *path, char *buf, size_t n)
{
    char name[200], t[32];
    cJSON *cfg = cJSON_Parse(r->prov.config_json);
    config_name(cfg, base_name(path), name, sizeof name);
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(cfg, "rescore");
    const cJSON *rule = cJSON_GetObjectItemCaseSensitive(rs, "label_rule");
    int other_rule = cJSON_IsString(rule) && strcmp(rule->valuestring, "threshold") != 0;
    pe_json_double(r->threshold, t);
    snprintf(buf, n, "%s@%s%s%s%s", name, t, rs ? " rescore" : "", other_rule ? " " : "",
             other_rule ? rule->valuestring : "");
    cJSON_Delete(cfg);
}

/* Why runs a and b may not be compared, into why; 0 when they may. */
static int differs(const pe_results *a, const char *pa, const pe_results *b, const char *pb, char *why, size_t n)
{
    const pe_results_prov *x = &a->prov, *y = &b->prov;
    if (strcmp(x->metric_definition, y->metric_definition) != 0) {
        snprintf(why, n, "%s and %s use different metric definitions ('%s' vs '%s')", pa, pb,
                 x->metric_definition, y->metric_definition);
        return 1;
    }
    if (x->ndata_files != y->ndata_files) {
        snprintf(why, n, "%s and %s were computed on different data (%d data files vs %d; data_sha256 differ)", pa,
                 pb, x->ndata_files, y->ndata_files);
        return 1;
    }
    for (int k = 0; k < x->ndata_files; k++) {
        if (!x->data_sha256[k][0] || !y->data_sha256[k][0]) {
            snprintf(why, n, "%s and %s cannot be checked for the same data: no SHA-256 recorded for data file %d (%s)",
                     pa, pb, k + 1, x->data_sha256[k][0] ? y->data_files[k] : x->data_files[k]);
            return 1;
        }
        if (strcmp(x->data_sha256[k], y->data_sha256[k]) != 0) {
            snprintf(why, n, "%s and %s were computed on different data: data file %d differs (%s sha256 %.12s... vs "
                     "%s sha256 %.12s...)", pa, pb, k + 1, x->data_files[k], x->data_sha256[k], y->data_files[k],
                     y->data_sha256[k]);
            return 1;
        }
    }
    return 0;
}

int cmd_report(int argc, char **argv)
{
    pe_err e;
    pe_err_clear(&e);
    const char *csv_path = NULL;
    int force = 0, quiet = 0, nfiles = 0, rc = PE_OK;
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    if (!files) {
        fprintf(stderr, "prmeval report: out of memory\n");
        return PE_ERESOURCE;
    }
    static const char *const csv_opt[] = {"--csv"};
    for (int i = 1; i < argc && rc == PE_OK; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            report_usage(stdout);
            free(files);
            return PE_OK;
        } else if (!strcmp(a, "--force"))
            force = 1;
        else if (!strcmp(a, "--quiet"))
            quiet = 1;
        else if (pe_cli_option(argc, argv, &i, csv_opt, 1, &csv_path) == 0)
            csv_path = csv_path ? csv_path : "";
        else if (a[0] == '-' && a[1])
            rc = pe_fail(&e, PE_EUSAGE, "unknown option '%s'", a);
        else
            files[nfiles++] = a;
    }
    if (rc == PE_OK && csv_path && !*csv_path)
        rc = pe_fail(&e, PE_EUSAGE, "--csv needs a value");
    if (rc == PE_OK && nfiles == 0)
        rc = pe_fail(&e, PE_EUSAGE, "no results files given (prmeval report --help)");
    pe_results *res = rc ? NULL : pe_calloc((size_t)nfiles, sizeof *res, &e);
    pe_metrics *met = rc ? NULL : pe_calloc((size_t)nfiles, sizeof *met, &e);
    char (*label)[256] = rc ? NULL : pe_calloc((size_t)nfiles, sizeof *label, &e);
    if (rc == PE_OK && (!res || !met || !label))
        rc = PE_ERESOURCE;
    /* Read every file and compute its metrics from its stored labels. */
    for (int i = 0; rc == PE_OK && i < nfiles; i++) {
        if ((rc = pe_results_h5_read(files[i], &res[i], &e)) != PE_OK)
            break;
        pe_rescore rs;
        rc = pe_rescore_init(&rs, &res[i], files[i], &e);
        rc = rc ? rc : pe_rescore_run(&rs, PE_RELABEL_STORED, res[i].threshold, &e);
        if (rc == PE_OK)
            met[i] = rs.m;
        pe_rescore_free(&rs);
        if (rc == PE_OK)
            run_label(&res[i], files[i], label[i], sizeof label[i]);
    }
    /* Every file against the first: the same data and the same metric. */
    for (int i = 1; rc == PE_OK && i < nfiles; i++) {
        char why[1024];
        if (!differs(&res[0], files[0], &res[i], files[i], why, sizeof why))
            continue;
        if (!force)
            rc = pe_fail(&e, PE_EUSAGE, "not comparable: %s (--force compares anyway)", why);
        else
            fprintf(stderr, "warning: --force: %s\n", why);
    }
    if (rc == PE_OK && !quiet) {
        int width = 10;
        for (int i = 0; i < nfiles; i++)
            if ((int)strlen(label[i]) > width)
                width = (int)strlen(label[i]);
        pe_table_header(stdout, "run", width);
        for (int i = 0; i < nfiles; i++)
            pe_table_row(stdout, label[i], width, &met[i]);
    }
    if (rc == PE_OK && csv_path) {
        pe_textout csv;
        if ((rc = pe_textout_open(&csv, csv_path, &e)) == PE_OK) {
            const char *names[4] = {"file", "label", "command", "threshold"};
            pe_metrics_csv_header(csv.f, 4, names);
            for (int i = 0; i < nfiles; i++) {
                char t[32];
                pe_json_double(res[i].threshold, t);
                const char *keys[4] = {files[i], label[i], res[i].prov.command, t};
                pe_metrics_csv_row(csv.f, 4, keys, &met[i]);
            }
            rc = pe_textout_commit(&csv, &e);
        }
    }
    if (rc != PE_OK) {
        fprintf(stderr, "prmeval report: %s\n", e.msg);
        if (rc == PE_EUSAGE && nfiles == 0)
            fprintf(stderr, "(prmeval report --help for usage)\n");
    }
    fflush(stdout);
    for (int i = 0; res && i < nfiles; i++)
        pe_results_free(&res[i]);
    free(res);
    free(met);
    free(label);
    free(files);
    return rc;
}
