/* prmeval eval: score a predictions file against PRMBench (docs/cli-eval.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli_option.h"
#include "cli/commands.h"
#include "cluster/cluster.h"
#include "cluster/provenance.h"
#include "core/err.h"
#include "io/dataset.h"
#include "io/predictions.h"
#include "io/results_h5.h"
#include "io/textout.h"

static void eval_usage(FILE *f)
{
    fprintf(f,
            "usage: prmeval eval --data PATH --predictions FILE [options]\n"
            "       mpirun -np N prmeval eval ...   (problems are sharded across ranks; rank 0 writes)\n"
            "\n"
            "Scores step-level predictions against PRMBench with the reference evaluator's metric,\n"
            "prints the paper's table (PRMScore x100) and warnings for everything skipped or odd.\n"
            "\n"
            "  --data PATH          a folder of *.jsonl (read in name order) or one .jsonl file\n"
            "  --predictions FILE   one JSON object per line (docs/predictions.md)\n"
            "  --format F           reference | native | critic | auto (default auto: decided by the\n"
            "                       first record: \"task_name\" and \"results\" -> critic (the\n"
            "                       reference's LLM-critic result files), \"idx\" -> reference,\n"
            "                       \"key\" -> native)\n"
            "  --threshold T        a step is valid when its score > T, for predictions that give\n"
            "                       scores without labels (default 0.5)\n"
            "  --json FILE          write every metric as JSON (the reference evaluator's keys,\n"
            "                       plus prmscore, prmscore_category, counts, warnings)\n"
            "  --out FILE           write the HDF5 results file (docs/hdf5-schema.md)\n"
            "  --quiet              no sample counts and no table (warnings and errors still print)\n"
            "  -h, --help           this help\n"
            "\n"
            "Output: per-class sample counts on stderr, the table on stdout, warnings on stderr.\n"
            "Exit codes: 0 ok, 2 usage, 3 malformed input (the message names file and line),\n"
            "4 file system, 5 out of memory, 6 MPI.\n");
}

typedef struct eval_opts {
    const char *data, *predictions, *json, *out;
    double threshold;
    int format, quiet, help;
} eval_opts;

static int parse_args(int argc, char **argv, eval_opts *o, pe_err *e)
{
    memset(o, 0, sizeof *o);
    o->threshold = 0.5;
    unsigned seen = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL, *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            o->help = 1;
            return PE_OK;
        } else if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
            continue;
        }
        static const char *const names[] = {"--data", "--predictions", "--json", "--out", "--threshold", "--format"};
        int which = pe_cli_option(argc, argv, &i, names, 6, &v);
        if (which < 0)
            return pe_fail(e, PE_EUSAGE, "unknown option '%s'", a);
        if (!v || !*v)
            return pe_fail(e, PE_EUSAGE, "%s needs a value", names[which]);
        /* a second value would silently win: one evaluation has one of each */
        const char *prev = which == 0 ? o->data : which == 1 ? o->predictions : which == 2 ? o->json
                         : which == 3 ? o->out : NULL;
        if (prev || (which >= 4 && (seen & (1u << which))))
            return pe_fail(e, PE_EUSAGE, "%s given twice%s%s%s%s%s", names[which], prev ? " ('" : "",
                           prev ? prev : "", prev ? "' and '" : "", prev ? v : "", prev ? "')" : "");
        seen |= 1u << which;
        if (which == 0)
            o->data = v;
        else if (which == 1)
            o->predictions = v;
        else if (which == 2)
            o->json = v;
        else if (which == 3)
            o->out = v;
        else if (which == 4) {
            char *end;
            o->threshold = strtod(v, &end);
            if (*end || !isfinite(o->threshold))
                return pe_fail(e, PE_EUSAGE, "--threshold: '%s' is not a finite number", v);
        } else {
            if (!strcmp(v, "reference"))
                o->format = PE_FMT_REFERENCE;
            else if (!strcmp(v, "native"))
                o->format = PE_FMT_NATIVE;
            else if (!strcmp(v, "critic"))
                o->format = PE_FMT_CRITIC;
            else if (!strcmp(v, "auto"))
                o->format = PE_FMT_AUTO;
            else
                return pe_fail(e, PE_EUSAGE, "--format: '%s' is not reference, native, critic or auto", v);
        }
    }
    if (!o->data || !o->predictions)
        return pe_fail(e, PE_EUSAGE, "--data and --predictions are required (prmeval eval --help)");
    return PE_OK;
}

static void print_counts(const pe_dataset *d)
{
    int64_t n[PE_NCLASSES] = {0};
    for (int i = 0; i < d->nsamples; i++)
        n[d->samples[i].cls]++;
    fprintf(stderr, "data: %d samples (%d problems, %lld records, %d files):", d->nsamples, d->nproblems,
            (long long)d->nrecords, d->nfiles);
    for (int c = 0; c < PE_NCLASSES; c++)
        fprintf(stderr, " %s %lld%s", pe_class_name(c), (long long)n[c], c + 1 < PE_NCLASSES ? "," : "\n");
}

/* The caller's warning lines from matching predictions to samples. */
static int match_notes(const pe_match_report *r, const pe_predictions *P, char notes[][512])
{
    int n = 0;
    char ex[3 * 130];
#define EXAMPLES(arr, count) do { \
        ex[0] = '\0'; \
        for (int k_ = 0; k_ < PE_MATCH_EXAMPLES && k_ < (count); k_++) { \
            strcat(ex, k_ ? ", " : ""); strncat(ex, (arr)[k_], 127); } \
    } while (0)
    if (r->unknown) {
        EXAMPLES(r->unknown_ex, r->unknown);
        snprintf(notes[n++], 512, "%s: %lld predictions for keys that are not samples were ignored (e.g. %s)",
                 P->path, (long long)r->unknown, ex);
    }
    if (r->duplicate) {
        EXAMPLES(r->duplicate_ex, r->duplicate);
        snprintf(notes[n++], 512, "%s: %lld duplicated keys: the first prediction of each was kept (e.g. %s)",
                 P->path, (long long)r->duplicate, ex);
    }
    if (r->missing) {
        EXAMPLES(r->missing_ex, r->missing);
        snprintf(notes[n++], 512, "missing predictions, e.g. %s", ex);
    }
    if (P->other_task)
        snprintf(notes[n++], 512, "%s: %lld records of tasks other than %s were ignored (the first on line %d)",
                 P->path, (long long)P->other_task, PE_CRITIC_TASK, P->other_task_line);
    if (P->records_invalid)
        snprintf(notes[n++], 512, "%s: %lld of %lld records say validity: false (duplicates included): skipped",
                 P->path, (long long)P->records_invalid, (long long)P->n);
#undef EXAMPLES
    return n;
}

static char *config_json(const eval_opts *o, const pe_predictions *P)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "command", "eval");
    if (P->model_name)  /* a critic file's model_name names the run (report's row, plot legends) */
        cJSON_AddStringToObject(c, "name", P->model_name);
    cJSON_AddStringToObject(c, "data", o->data);
    cJSON_AddStringToObject(c, "predictions", o->predictions);
    cJSON_AddStringToObject(c, "format", pe_format_name(o->format));
    cJSON_AddNumberToObject(c, "threshold", o->threshold);
    if (o->json)
        cJSON_AddStringToObject(c, "json", o->json);
    if (o->out)
        cJSON_AddStringToObject(c, "out", o->out);
    char *s = cJSON_PrintUnformatted(c);
    cJSON_Delete(c);
    return s;
}

int cmd_eval(int argc, char **argv)
{
    pe_err e;
    pe_err_clear(&e);
    pe_world w;
    if (pe_world_init(&argc, &argv, &w, &e) != PE_OK) {
        fprintf(stderr, "prmeval eval: %s\n", e.msg);
        return e.code;
    }
    eval_opts o;
    pe_dataset d;
    pe_predictions P;
    pe_pred_set S;
    memset(&d, 0, sizeof d);
    memset(&P, 0, sizeof P);
    memset(&S, 0, sizeof S);
    char *cfg = NULL;
    pe_prov prov;
    int have_prov = 0;
    int rc = parse_args(argc, argv, &o, &e);
    if (rc == PE_OK && o.help) {
        if (w.rank == 0)
            eval_usage(stdout);
        goto done;
    }
    /* Before any work: only rank 0 writes, and what it cannot write is known now. */
    if (rc == PE_OK && o.out && w.rank == 0)
        rc = pe_output_path_check(o.out, "--out", &e);
    if (rc == PE_OK && o.json && w.rank == 0)
        rc = pe_output_path_check(o.json, "--json", &e);
    if (rc == PE_OK && w.rank == 0) {
        const char *in[2] = {o.data, o.predictions}, *outs[1] = {o.out};
        if (o.out)
            rc = pe_output_distinct(o.out, "--out", in, 2, NULL, 0, &e);
        if (rc == PE_OK && o.json)
            rc = pe_output_distinct(o.json, "--json", in, 2, outs, o.out ? 1 : 0, &e);
    }
    if (rc == PE_OK && o.out && w.rank == 0)
        rc = pe_results_h5_load(&e);
    rc = pe_world_agree(&w, rc, &e);
    if (rc != PE_OK)
        goto done;
    /* Every rank reads the data and the predictions (50 ms for the full
     * benchmark) and evaluates only its own shards. */
    rc = pe_world_agree(&w, pe_dataset_load_ex(o.data, PE_DATA_NO_TEXT, &d, &e), &e);
    if (rc != PE_OK)
        goto done;
    if (w.rank == 0 && !o.quiet)
        print_counts(&d);
    char dup[1536];
    if (w.rank == 0 && pe_dataset_duplicates_note(&d, dup, sizeof dup))
        fprintf(stderr, "warning: %s\n", dup);
    rc = pe_world_agree(&w, pe_predictions_load(o.predictions, o.format, &P, &e), &e);
    if (rc != PE_OK)
        goto done;
    pe_match_report rep;
    rc = pe_world_agree(&w, pe_predictions_match(&d, &P, o.threshold, &S, &rep, &e), &e);
    if (rc != PE_OK)
        goto done;
    char notes[6][512];
    int nnotes = match_notes(&rep, &P, notes);
    const char *note_ptr[6];
    for (int k = 0; k < nnotes; k++)
        note_ptr[k] = notes[k];
    cfg = config_json(&o, &P);
    /* Provenance (SHA-256 of the data and predictions files, hosts, times):
     * collective, and every rank stops together if root cannot hash a file.
     * `prmeval report` refuses to compare runs whose data hashes differ.
     * Only the HDF5 file records provenance, so the files are hashed only
     * when one is written (hashing is a third of a whole eval otherwise). */
    int nhash = o.out ? d.nfiles : 0;
    rc = pe_prov_begin(&prov, MPI_COMM_WORLD, "eval", cfg, nhash, (const char *const *)d.files,
                       o.out ? o.predictions : NULL, PE_METRIC_DEFINITION, &e);
    if (rc != PE_OK)
        goto done;
    have_prov = 1;
    pe_eval_request q = {
        .data = &d,
        .preds = S.preds,
        .threshold = o.threshold,
        .table = o.quiet ? NULL : stdout,
        .warn = stderr,
        .notes = note_ptr,
        .nnotes = nnotes,
        .json_path = o.json,
        .h5_path = o.out,
        .prov = &prov.view,
    };
    rc = pe_cluster_evaluate(&w, &q, NULL, &e);
done:
    if (rc != PE_OK && w.rank == 0) {
        fprintf(stderr, "prmeval eval: %s\n", e.msg);
        if (rc == PE_EUSAGE)
            fprintf(stderr, "(prmeval eval --help for usage)\n");
    }
    fflush(stdout);
    cJSON_free(cfg);
    if (have_prov)
        pe_prov_free(&prov);
    pe_pred_set_free(&S);
    pe_predictions_free(&P);
    pe_dataset_free(&d);
    pe_world_finalize(&w);
    return rc;
}
