/* prmeval run: a PRM on PRMBench from a JSON job (docs/run.md). The flow
 * lives in src/cluster/run.c; this file is the command line. */
#include <stdio.h>
#include <string.h>

#include "cli/cli_option.h"
#include "cli/commands.h"
#include "cluster/cluster.h"
#include "cluster/run.h"
#include "cluster/signals.h"
#include "core/err.h"
#include "io/job.h"
#include "prm/prm.h"

static void run_usage(FILE *f)
{
    fprintf(f,
            "usage: prmeval run JOB.json [--set key=value ...] [--quiet] [--dump-tokens FILE]\n"
            "       mpirun -np N prmeval run JOB.json ...   (logical shards of 64 problems over the ranks)\n"
            "\n"
            "Runs a process reward model from a Hugging Face checkpoint folder on PRMBench and writes\n"
            "the same HDF5 and JSON results as `prmeval eval`, plus the raw step rewards, per-rank\n"
            "timing and token statistics. Keys of the job (docs/job-config.md):\n"
            "  %s\n"
            "PRM families (key \"family\", docs/families.md): auto, %s;\n"
            "  or your own PRM described by a family file: --set family=path/to/family.json (a value\n"
            "  containing '/' or ending in .json; families/ holds the built-ins as such files)\n"
            "\n"
            "  --set key=value     override one key of the job (repeatable; paths stay relative to the\n"
            "                      current folder)\n"
            "  --quiet             no table on stdout\n"
            "  --dump-tokens FILE  debug: every prompt's token ids and read-out positions as JSON lines\n"
            "                      (FILE with one rank, FILE.rank<k> with several)\n"
            "  -h, --help          this help\n"
            "\n"
            "Rank 0 prints progress on stderr every progress_interval seconds and a summary at the end.\n"
            "With checkpoint_dir set, finished shards are journalled and a rerun reuses them.\n"
            "SIGTERM or SIGUSR1: the ranks drop their current shard and exit with 75 (resume later).\n"
            "Exit codes: 0 ok, 1 internal, 2 job or usage, 3 malformed input, 4 file system,\n"
            "5 resources (memory, device), 6 MPI, 75 stopped by a signal before the end.\n",
            pe_job_keys(), pe_family_names());
}

typedef struct run_args {
    const char *job;
    const char *dump_tokens;
    int quiet, help;
    int nsets;
    const char **sets;   /* pointers into argv */
} run_args;

static int parse_args(int argc, char **argv, run_args *a, const char **sets, pe_err *e)
{
    memset(a, 0, sizeof *a);
    a->sets = sets;
    static const char *const names[] = {"--set", "--dump-tokens"};
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *v;
        int which;
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            a->help = 1;
            return PE_OK;
        } else if (!strcmp(s, "--quiet")) {
            a->quiet = 1;
        } else if ((which = pe_cli_option(argc, argv, &i, names, 2, &v)) >= 0) {
            if (!v || !*v)
                return pe_fail(e, PE_EUSAGE, "%s needs a value", names[which]);
            if (which == 0)
                a->sets[a->nsets++] = v;
            else if (a->dump_tokens)
                return pe_fail(e, PE_EUSAGE, "--dump-tokens given twice ('%s' and '%s')", a->dump_tokens, v);
            else
                a->dump_tokens = v;
        } else if (s[0] == '-' && s[1]) {
            return pe_fail(e, PE_EUSAGE, "unknown option '%s'", s);
        } else if (a->job) {
            return pe_fail(e, PE_EUSAGE, "one job file expected, got '%s' and '%s'", a->job, s);
        } else {
            a->job = s;
        }
    }
    if (!a->job)
        return pe_fail(e, PE_EUSAGE, "no job file given");
    return PE_OK;
}

int cmd_run(int argc, char **argv)
{
    pe_err e;
    pe_err_clear(&e);
    /* First: a stop request during start-up (MPI_Init, loading a model) is
     * kept and honoured (exit 75) before the first shard. */
    if (pe_signals_install(&e) != PE_OK) {
        fprintf(stderr, "prmeval run: %s\n", e.msg);
        return e.code;
    }
    pe_world w;
    if (pe_world_init(&argc, &argv, &w, &e) != PE_OK) {
        fprintf(stderr, "prmeval run: %s\n", e.msg);
        pe_signals_restore();
        return e.code;
    }
    const char *sets[argc > 0 ? argc : 1];
    run_args a;
    pe_job job;
    int rc = parse_args(argc, argv, &a, sets, &e);
    if (rc == PE_OK && a.help) {
        if (w.rank == 0)
            run_usage(stdout);
        goto done;
    }
    /* Every rank reads the job: the same file gives the same answer everywhere. */
    pe_job_default(&job);
    if (rc == PE_OK)
        rc = pe_job_load(&job, a.job, &e);
    for (int k = 0; rc == PE_OK && k < a.nsets; k++)
        rc = pe_job_set(&job, a.sets[k], &e);
    if (rc == PE_OK)
        rc = pe_job_check(&job, &e);
    rc = pe_world_agree(&w, rc, &e);
    if (rc == PE_OK) {
        pe_run_opts o = {a.dump_tokens, a.quiet};
        rc = pe_run(&w, &job, &o, &e);
    }
done:
    pe_signals_restore();
    if (rc != PE_OK && w.rank == 0) {
        fprintf(stderr, "prmeval run: %s\n", e.msg);
        if (rc == PE_EUSAGE)
            fprintf(stderr, "(prmeval run --help for usage; keys: docs/job-config.md)\n");
    }
    fflush(stdout);
    pe_world_finalize(&w);
    return rc;
}
