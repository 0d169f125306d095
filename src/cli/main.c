/* prmeval: evaluate Process Reward Models on PRMBench. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/err.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} command;

static const command commands[] = {
    {"eval", cmd_eval, "score a predictions file against PRMBench (MPI-aware)"},
    {"run", cmd_run, "run a PRM on PRMBench from a JSON job configuration (MPI-aware)"},
    {"rescore", cmd_rescore, "recompute metrics from a results file at other thresholds"},
    {"report", cmd_report, "one table across several results files (text or CSV)"},
    {"tiny-model", cmd_tiny_model, "write a small random model in Hugging Face format"},
    {"inspect", cmd_inspect, "print what a checkpoint folder holds, after validating it"},
    {"tokenize", cmd_tokenize, "tokenize text with a tokenizer.json"},
};
static const int ncommands = (int)(sizeof commands / sizeof commands[0]);

static void usage(FILE *f)
{
    fprintf(f, "usage: prmeval <command> [options]   (prmeval <command> --help for details)\n\ncommands:\n");
    for (int i = 0; i < ncommands; i++)
        fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n  --version   print the version and git commit\n"
               "\nexit codes: 0 success, 1 internal error, 2 usage or job configuration,\n"
               "3 malformed input, 4 file system, 5 resources (memory, device), 6 MPI,\n"
               "75 stopped by SIGTERM/SIGUSR1 before finishing (requeue and resume)\n");
}

/* A table written to a full disk (> table.txt) is a failed command. */
static int stdout_checked(int rc)
{
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout))
        return rc;
    fprintf(stderr, "prmeval: writing the standard output failed%s%s\n", errno ? ": " : "",
            errno ? strerror(errno) : "");
    return rc == PE_OK ? PE_EIO : rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return PE_EUSAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return stdout_checked(PE_OK);
    }
    if (!strcmp(argv[1], "--version")) {
        printf("prmeval %s (git %s)\n", PRMEVAL_VERSION, PRMEVAL_GIT_COMMIT);
        return stdout_checked(PE_OK);
    }
    /* A file size limit (ulimit -f) then fails the write with EFBIG, reported
     * with the file's name and exit 4, instead of killing the process. */
    signal(SIGXFSZ, SIG_IGN);
    for (int i = 0; i < ncommands; i++)
        if (!strcmp(argv[1], commands[i].name))
            return stdout_checked(commands[i].fn(argc - 1, argv + 1));
    fprintf(stderr, "prmeval: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return PE_EUSAGE;
}
