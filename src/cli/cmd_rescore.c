/* prmeval rescore: threshold and label-rule ablations from the raw step
 * scores stored in a results file, without the data and without a model
 * (docs/cli-rescore-report.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli/cli_option.h"
#include "cli/commands.h"
#include "cluster/provenance.h"
#include "core/err.h"
#include "core/sweep.h"
#include "core/table.h"
#include "io/metrics_csv.h"
#include "io/metrics_json.h"
#include "io/results_h5.h"
#include "io/results_h5_read.h"
#include "io/results_rescore.h"
#include "io/textout.h"
#include "prm/prm.h"

static void rescore_usage(FILE *f)
{
    fprintf(f,
            "usage: prmeval rescore RESULTS.h5 [--threshold T | --threshold A:B:STEP] [options]\n"
            "\n"
            "Recomputes every metric from the raw step scores stored in RESULTS.h5 (written by\n"
            "`prmeval eval --out` or `prmeval run`) at each threshold; no data files, no model.\n"
            "Labels given directly (validity or redundancy labels, NaN scores) are kept as stored.\n"
            "\n"
            "  --threshold T        one threshold (default: the file's own, or -0.05 for\n"
            "                       --label-rule skywork-current)\n"
            "  --threshold A:B:STEP A, A+STEP, ... up to B (A <= B, STEP > 0, at most %d values);\n"
            "                       each value is A + i*STEP rounded to the decimals written\n"
            "  --label-rule R       threshold (default): a step is valid when score > T;\n"
            "                       skywork-current: r_1 > T and r_i - r_(i-1) > T (PRMBench's Skywork rule)\n"
            "  --csv FILE           one row per threshold: threshold, label_rule and the paper's\n"
            "                       columns as fractions at full precision\n"
            "  --json FILE          one threshold: the same document as `eval --json`;\n"
            "                       several: a JSON array of those documents, in threshold order\n"
            "  --out FILE           (one threshold only) a new results file with the new labels\n"
            "  --redundancy-threshold U  files with two rewards per step (ReasonEval): the\n"
            "                       redundency and circular samples are valid where\n"
            "                       redundancy <= U (default 0.15, the reference's); the others\n"
            "                       where score > T\n"
            "  --reward-rounding R  auto (default): the rewards as the run labelled them (its\n"
            "                       config_json reward_rounding; none for eval files); bf16: the\n"
            "                       family's rewards as the reference's bf16 tensors give them\n"
            "                       (qwen-prm, reasoneval, pure-prm runs default to it); none: raw\n"
            "  --quiet              no table\n"
            "  -h, --help           this help\n"
            "Values may also be written --opt=V.\n"
            "\n"
            "Output: the table on stdout; warnings (labels no threshold changes) and errors on\n"
            "stderr. Files are written under FILE.tmp and renamed when complete.\n"
            "Exit codes: 0 ok, 1 internal error, 2 usage, 3 malformed input, 4 file system,\n"
            "5 out of memory.\n",
            PE_SWEEP_MAX);
}

typedef struct rescore_opts {
    const char *in, *threshold, *csv, *json, *out, *redundancy, *rounding;
    int rule, quiet, help;
} rescore_opts;

static int parse_args(int argc, char **argv, rescore_opts *o, pe_err *e)
{
    memset(o, 0, sizeof *o);
    o->rule = PE_RELABEL_THRESHOLD;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL, *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            o->help = 1;
            return PE_OK;
        }
        if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
            continue;
        }
        if (a[0] != '-' || !a[1]) {
            if (o->in)
                return pe_fail(e, PE_EUSAGE, "one results file only ('%s' and '%s'); for several, "
                               "use prmeval report", o->in, a);
            o->in = a;
            continue;
        }
        static const char *const names[] = {"--threshold", "--label-rule", "--csv", "--json", "--out",
                                            "--redundancy-threshold", "--reward-rounding"};
        int which = pe_cli_option(argc, argv, &i, names, 7, &v);
        if (which < 0)
            return pe_fail(e, PE_EUSAGE, "unknown option '%s'", a);
        if (!v || !*v)
            return pe_fail(e, PE_EUSAGE, "%s needs a value", names[which]);
        if (which == 0)
            o->threshold = v;
        else if (which == 1) {
            o->rule = pe_relabel_rule_from_name(v);
            if (o->rule != PE_RELABEL_THRESHOLD && o->rule != PE_RELABEL_SKYWORK_CURRENT)
                return pe_fail(e, PE_EUSAGE, "--label-rule: '%s' is not threshold or skywork-current", v);
        } else if (which == 2)
            o->csv = v;
        else if (which == 3)
            o->json = v;
        else if (which == 4)
            o->out = v;
        else if (which == 5)
            o->redundancy = v;
        else if (pe_reward_rounding_from_name(v) < 0)
            return pe_fail(e, PE_EUSAGE, "--reward-rounding: '%s' is not auto, bf16 or none", v);
        else
            o->rounding = v;
    }
    if (!o->in)
        return pe_fail(e, PE_EUSAGE, "a results file is required (prmeval rescore --help)");
    return PE_OK;
}

/* The rescored file's provenance: the source's data, predictions and metric
 * definition (what the numbers are about), this binary and this command
 * (what computed them), and the rescore settings in config_json. */
static char *rescore_config(const rescore_opts *o, const pe_results *r, const pe_rescore *rsc, double t,
                            pe_err *e)
{
    cJSON *root = cJSON_CreateObject(), *rs = cJSON_AddObjectToObject(root, "rescore");
    cJSON_AddStringToObject(rs, "source", o->in);
    cJSON_AddStringToObject(rs, "label_rule", pe_relabel_rule_name(o->rule));
    cJSON_AddNumberToObject(rs, "threshold", t);
    cJSON_AddNumberToObject(rs, "source_threshold", r->threshold);
    cJSON_AddStringToObject(rs, "reward_rounding", rsc->rounding);
    cJSON_AddStringToObject(rs, "source_command", r->prov.command);
    cJSON_AddStringToObject(rs, "source_start_time", r->prov.start_time);
    cJSON *src = cJSON_Parse(r->prov.config_json);
    cJSON_AddItemToObject(root, "source_config", src ? src : cJSON_CreateString(r->prov.config_json));
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!s)
        pe_fail(e, PE_ERESOURCE, "out of memory while building config_json");
    return s;
}

static int write_h5(const rescore_opts *o, const pe_results *r, const pe_rescore *rs, double t,
                    const char *start, pe_err *e)
{
    char *cfg = rescore_config(o, r, rs, t, e);
    if (!cfg)
        return PE_ERESOURCE;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char end[PE_ISO8601_LEN];
    pe_iso8601_utc(&now, end);
    pe_provenance p = r->prov.view;
    p.tool_version = PRMEVAL_VERSION;
    p.git_commit = PRMEVAL_GIT_COMMIT;
    p.command = "rescore";
    p.config_json = cfg;
    p.start_time = start;
    p.end_time = end;
    pe_eval_output out = {&rs->data, rs->res, r->step_offset, r->step_scores, rs->labels, &rs->m, NULL,
                          r->step_scores2};
    int rc = pe_results_h5_write(o->out, &out, &p, e);
    cJSON_free(cfg);
    return rc;
}

/* Warnings that hold for every threshold (whether labels move at all). */
static int rescore_notes(const pe_rescore *rs, int rule, char notes[][512])
{
    int n = 0;
    if (rs->kept > 0)
        snprintf(notes[n++], 512,
                 "%lld evaluated samples keep their stored labels (given as labels, not computed from scores): "
                 "no threshold or label rule changes them", (long long)rs->kept);
    if (rs->relabelled == 0)
        snprintf(notes[n++], 512, "no sample's labels came from scores: every %s gives the same metrics",
                 rule == PE_RELABEL_SKYWORK_CURRENT ? "threshold of the rule" : "threshold");
    return n;
}

/* A threshold as text: the shortest form that reads back to the same double. */
static void threshold_text(double t, char buf[32])
{
    pe_json_double(t, buf);
}

int cmd_rescore(int argc, char **argv)
{
    pe_err e;
    pe_err_clear(&e);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char start[PE_ISO8601_LEN];
    pe_iso8601_utc(&now, start);
    rescore_opts o;
    pe_results r;
    pe_rescore rs;
    pe_textout csv = {0}, json = {0};
    memset(&r, 0, sizeof r);
    memset(&rs, 0, sizeof rs);
    char notes[2][512];
    const char *note_ptr[2] = {notes[0], notes[1]};
    int nnotes = 0;
    int rc = parse_args(argc, argv, &o, &e);
    if (rc == PE_OK && o.help) {
        rescore_usage(stdout);
        return PE_OK;
    }
    if (rc != PE_OK)
        goto done;
    if ((rc = pe_results_h5_read(o.in, &r, &e)) != PE_OK)
        goto done;
    pe_sweep sw;
    if (o.threshold) {
        if ((rc = pe_sweep_parse(o.threshold, &sw, &e)) != PE_OK)
            goto done;
    } else {
        /* the file's own threshold, or the Skywork rule's own c */
        double t = o.rule == PE_RELABEL_SKYWORK_CURRENT ? -0.05 : r.threshold;
        sw = (pe_sweep){.a = t, .b = t, .step = 0, .count = 1, .decimals = -1};
    }
    if (o.out && sw.count != 1) {
        rc = pe_fail(&e, PE_EUSAGE, "--out writes one results file: give one --threshold, not %d", sw.count);
        goto done;
    }
    if ((rc = pe_rescore_init(&rs, &r, o.in, &e)) != PE_OK)
        goto done;
    if ((rc = pe_rescore_set_rounding(&rs, o.rounding ? o.rounding : "auto", &e)) != PE_OK)
        goto done;
    if (o.redundancy) {
        char *end;
        double u = strtod(o.redundancy, &end);
        if (end == o.redundancy || *end || !isfinite(u)) {
            rc = pe_fail(&e, PE_EUSAGE, "--redundancy-threshold: '%s' is not a number", o.redundancy);
            goto done;
        }
        if (!r.step_scores2) {
            rc = pe_fail(&e, PE_EUSAGE, "--redundancy-threshold: %s has no /steps/score_redundancy (only "
                         "ReasonEval runs store a redundancy reward)", o.in);
            goto done;
        }
        rs.redundancy_threshold = u;
    }
    if (o.csv && (rc = pe_textout_open(&csv, o.csv, &e)) != PE_OK)
        goto done;
    /* several thresholds: a JSON array of eval documents, streamed */
    if (o.json && sw.count > 1) {
        if ((rc = pe_textout_open(&json, o.json, &e)) != PE_OK)
            goto done;
        fputs("[", json.f);
    }
    const char *key_names[2] = {"threshold", "label_rule"};
    if (csv.f)
        pe_metrics_csv_header(csv.f, 2, key_names);
    const char *title = o.rule == PE_RELABEL_SKYWORK_CURRENT ? "c (skywork)" : "threshold";
    for (int i = 0; i < sw.count; i++) {
        double t = pe_sweep_value(&sw, i);
        if ((rc = pe_rescore_run(&rs, o.rule, t, &e)) != PE_OK)
            goto done;
        if (i == 0) {
            nnotes = rescore_notes(&rs, o.rule, notes);
            for (int k = 0; k < nnotes; k++)
                fprintf(stderr, "warning: %s\n", notes[k]);
            if (!o.quiet) {
                fprintf(stdout, "%s: %s rule, %d threshold%s, %lld samples relabelled from scores\n", o.in,
                        pe_relabel_rule_name(o.rule), sw.count, sw.count > 1 ? "s" : "", (long long)rs.relabelled);
                pe_table_header(stdout, title, 11);
            }
        }
        char tt[32];
        threshold_text(t, tt);
        if (!o.quiet)
            pe_table_row(stdout, tt, 11, &rs.m);
        if (csv.f) {
            const char *keys[2] = {tt, pe_relabel_rule_name(o.rule)};
            pe_metrics_csv_row(csv.f, 2, keys, &rs.m);
        }
        if (json.f) {
            char *doc = pe_metrics_json_string(&rs.m, note_ptr, nnotes, &e);
            if (!doc) {
                rc = e.code ? e.code : PE_ERESOURCE;
                goto done;
            }
            fprintf(json.f, "%s%s", i ? ",\n" : "\n", doc);
            cJSON_free(doc);
        } else if (o.json && (rc = pe_metrics_json_write(o.json, &rs.m, note_ptr, nnotes, &e)) != PE_OK) {
            goto done;
        }
        if (o.out && (rc = write_h5(&o, &r, &rs, t, start, &e)) != PE_OK)
            goto done;
    }
    if (json.f) {
        fputs("\n]\n", json.f);
        if ((rc = pe_textout_commit(&json, &e)) != PE_OK)
            goto done;
    }
    if (csv.f && (rc = pe_textout_commit(&csv, &e)) != PE_OK)
        goto done;
done:
    pe_textout_abort(&json);
    pe_textout_abort(&csv);
    if (rc != PE_OK) {
        fprintf(stderr, "prmeval rescore: %s\n", e.msg);
        if (rc == PE_EUSAGE)
            fprintf(stderr, "(prmeval rescore --help for usage)\n");
    }
    fflush(stdout);
    pe_rescore_free(&rs);
    pe_results_free(&r);
    return rc;
}
