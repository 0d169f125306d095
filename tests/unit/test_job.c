/* Job configuration: defaults, a full file with relative paths, --set with
 * type checking, every error path (each message names the file or --set and
 * the key), and the JSON written back for provenance parsing to the same job. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "io/job.h"

static char dir[256];

static void write_file(const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
}

/* Loads dir/name; returns the code, e holds the message. */
static int load(pe_job *j, const char *name, pe_err *e)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    pe_job_default(j);
    pe_err_clear(e);
    return pe_job_load(j, p, e);
}

static void test_defaults(void)
{
    pe_job j;
    pe_job_default(&j);
    CHECK_STR(j.family, "auto");
    CHECK_STR(j.backend, "auto");
    CHECK_INT(j.max_tokens, 2048);
    CHECK(j.token_budget > 0);
    CHECK(isnan(j.threshold));
    CHECK_INT(j.limit, 0);
    CHECK_STR(j.label_rule, "current");
    CHECK_INT(j.qwen_backspace_quirk, 1);
    CHECK_INT(j.rlhflow_system_block, 1);
    CHECK(j.progress_interval > 0);
    CHECK_INT(j.prefix_reuse, 1);
    CHECK_INT(j.prefix_cache_mb, 1024);
    pe_err e = {0};
    CHECK_INT(pe_job_check(&j, &e), PE_EUSAGE); /* model, data, output are required */
    CHECK(strstr(e.msg, "\"model\"") != NULL);
}

static void test_full_file(void)
{
    write_file("full.json",
               "{\n  \"model\": \"../models/tiny\",\n  \"family\": \"skywork\",\n"
               "  \"data\": \"/abs/data.jsonl\",\n  \"output\": \"out/r.h5\",\n  \"json\": \"out/r.json\",\n"
               "  \"backend\": \"cpu\",\n  \"max_tokens\": 1024,\n  \"token_budget\": 4096,\n"
               "  \"threshold\": 0.25,\n  \"limit\": 7,\n  \"seed\": 3,\n  \"checkpoint_dir\": \"ck\",\n"
               "  \"label_rule\": \"original\",\n  \"qwen_backspace_quirk\": false,\n"
               "  \"rlhflow_system_block\": false,\n  \"progress_interval\": 2.5,\n"
               "  \"prefix_reuse\": false,\n  \"prefix_cache_mb\": 64\n}\n");
    pe_job j;
    pe_err e = {0};
    CHECK_INT(load(&j, "full.json", &e), 0);
    char want[512];
    /* "dir/../models/tiny": dir is a folder, not a link, so its ".." is its parent */
    snprintf(want, sizeof want, "%.*s/models/tiny", (int)(strrchr(dir, '/') - dir), dir);
    CHECK_STR(j.model, want);
    CHECK_STR(j.data, "/abs/data.jsonl"); /* absolute stays */
    snprintf(want, sizeof want, "%s/out/r.h5", dir);
    CHECK_STR(j.output, want);
    snprintf(want, sizeof want, "%s/ck", dir);
    CHECK_STR(j.checkpoint_dir, want);
    CHECK_STR(j.family, "skywork");
    CHECK_STR(j.backend, "cpu");
    CHECK_INT(j.max_tokens, 1024);
    CHECK_INT(j.token_budget, 4096);
    CHECK(j.threshold == 0.25);
    CHECK_INT(j.limit, 7);
    CHECK_INT(j.seed, 3);
    CHECK_STR(j.label_rule, "original");
    CHECK_INT(j.qwen_backspace_quirk, 0);
    CHECK_INT(j.rlhflow_system_block, 0);
    CHECK(j.progress_interval == 2.5);
    CHECK_INT(j.prefix_reuse, 0);
    CHECK_INT(j.prefix_cache_mb, 64);
    CHECK_INT(pe_job_check(&j, &e), 0);

    pe_family_opts o;
    pe_job_family_opts(&j, &o);
    CHECK_INT(o.label_rule, PE_LABEL_ORIGINAL);
    CHECK_INT(o.qwen_backspace_quirk, 0);
    CHECK_INT(o.rlhflow_system_block, 0);
    CHECK_INT(o.max_tokens, 1024);

    /* Round trip: the serialized job parses back to the same values. */
    char *js = pe_job_to_json(&j, &e);
    CHECK(js && strstr(js, "\"threshold\":\t0.25") != NULL);
    pe_job k;
    pe_job_default(&k);
    CHECK_INT(pe_job_parse(&k, js, "serialized", NULL, &e), 0);
    strcpy(k.source, j.source);
    CHECK(memcmp(&j, &k, sizeof j) == 0);
    free(js);
    /* null threshold serializes as null */
    pe_job_default(&k);
    js = pe_job_to_json(&k, &e);
    CHECK(js && strstr(js, "\"threshold\":\tnull") != NULL);
    free(js);
}

static void test_set(void)
{
    pe_job j;
    pe_err e = {0};
    pe_job_default(&j);
    CHECK_INT(pe_job_set(&j, "max_tokens=512", &e), 0);
    CHECK_INT(j.max_tokens, 512);
    CHECK_INT(pe_job_set(&j, "threshold=0.3", &e), 0);
    CHECK(j.threshold == 0.3);
    CHECK_INT(pe_job_set(&j, "threshold=null", &e), 0);
    CHECK(isnan(j.threshold));
    CHECK_INT(pe_job_set(&j, "threshold=-0.05", &e), 0);
    CHECK(j.threshold == -0.05);
    CHECK_INT(pe_job_set(&j, "qwen_backspace_quirk=false", &e), 0);
    CHECK_INT(j.qwen_backspace_quirk, 0);
    CHECK_INT(pe_job_set(&j, "model=rel/dir", &e), 0);
    CHECK_STR(j.model, "rel/dir"); /* relative to the current directory */
    CHECK_INT(pe_job_set(&j, "family=rlhflow", &e), 0);
    CHECK_STR(j.family, "rlhflow");
    CHECK_INT(pe_job_set(&j, "json=", &e), 0);
    CHECK_STR(j.json, "");
    CHECK_INT(pe_job_set(&j, "progress_interval=0.5", &e), 0);
    CHECK(j.progress_interval == 0.5);
    /* reward_rounding: the job's word reaches the family options */
    pe_family_opts fo;
    CHECK_STR(j.reward_rounding, "auto");
    pe_job_family_opts(&j, &fo);
    CHECK_INT(fo.reward_rounding, PE_ROUND_AUTO);
    CHECK_INT(pe_job_set(&j, "reward_rounding=none", &e), 0);
    pe_job_family_opts(&j, &fo);
    CHECK_INT(fo.reward_rounding, PE_ROUND_NONE);
    CHECK_INT(pe_job_set(&j, "reward_rounding=bf16", &e), 0);
    pe_job_family_opts(&j, &fo);
    CHECK_INT(fo.reward_rounding, PE_ROUND_BF16);
    CHECK_INT(pe_job_set(&j, "prefix_reuse=false", &e), 0);
    CHECK_INT(j.prefix_reuse, 0);
    CHECK_INT(pe_job_set(&j, "prefix_cache_mb=0", &e), 0);  /* keep nothing: always recompute */
    CHECK_INT(j.prefix_cache_mb, 0);
    /* the bound's ceiling is checked with the whole job */
    pe_job big;
    pe_job_default(&big);
    snprintf(big.model, sizeof big.model, "m");
    snprintf(big.data, sizeof big.data, "d");
    snprintf(big.output, sizeof big.output, "o.h5");
    CHECK_INT(pe_job_check(&big, &e), 0);
    big.prefix_cache_mb = PE_JOB_PREFIX_CACHE_MB_MAX;
    CHECK_INT(pe_job_check(&big, &e), 0);
    big.prefix_cache_mb++;
    CHECK_INT(pe_job_check(&big, &e), PE_EUSAGE);
    CHECK(strstr(e.msg, "key \"prefix_cache_mb\": 1048577 is more than 1048576") != NULL);
    pe_err_clear(&e);

    static const char *bad[][2] = {
        {"max_tokens=abc", "--set: key \"max_tokens\": expected an integer >= 1, got \"abc\""},
        {"max_tokens=0", "--set: key \"max_tokens\": expected an integer >= 1, got \"0\""},
        {"max_tokens=", "--set: key \"max_tokens\": expected an integer"},
        {"limit=-1", "--set: key \"limit\": expected an integer >= 0"},
        {"token_budget=12x", "--set: key \"token_budget\": expected an integer"},
        {"threshold=high", "--set: key \"threshold\": expected a number or null, got \"high\""},
        {"progress_interval=0", "--set: key \"progress_interval\": expected a positive number"},
        {"qwen_backspace_quirk=yes", "--set: key \"qwen_backspace_quirk\": expected true or false, got \"yes\""},
        {"prefix_reuse=1", "--set: key \"prefix_reuse\": expected true or false, got \"1\""},
        {"prefix_cache_mb=-1", "--set: key \"prefix_cache_mb\": expected an integer >= 0, got \"-1\""},
        {"prefix_cache_mb=0.5", "--set: key \"prefix_cache_mb\": expected an integer >= 0"},
        {"backend=gpu", "--set: key \"backend\": \"gpu\" is not one of auto|cpu|cuda"},
        {"family=shepherd", "not one of auto, qwen-prm, math-shepherd, rlhflow, skywork"},
        {"label_rule=new", "\"new\" is not one of current|original"},
        {"modle=x", "--set: unknown key \"modle\"; valid keys: model, tokenizer, family, data, output, json, backend, "
                    "max_tokens, token_budget, threshold, limit, seed, checkpoint_dir, label_rule, "
                    "qwen_backspace_quirk, rlhflow_system_block, reward_rounding, progress_interval, prefix_reuse, "
                    "prefix_cache_mb"},
        {"reward_rounding=fp16", "--set: key \"reward_rounding\": \"fp16\" is not one of auto|bf16|none"},
        {"model", "--set model: expected key=value"},
        {"=3", "expected key=value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pe_err_clear(&e);
        CHECK_INT(pe_job_set(&j, bad[i][0], &e), PE_EUSAGE);
        if (!strstr(e.msg, bad[i][1]))
            fprintf(stderr, "--set %s: message \"%s\" lacks \"%s\"\n", bad[i][0], e.msg, bad[i][1]);
        CHECK(strstr(e.msg, bad[i][1]) != NULL);
    }
    CHECK_INT(j.max_tokens, 512); /* failed overrides change nothing */
    char longv[PE_JOB_PATH + 16];
    memset(longv, 'a', sizeof longv);
    memcpy(longv, "model=", 6);
    longv[sizeof longv - 1] = '\0';
    pe_err_clear(&e);
    CHECK_INT(pe_job_set(&j, longv, &e), PE_EUSAGE);
    CHECK(strstr(e.msg, "too long") != NULL);
    CHECK_STR(j.model, "rel/dir");
}

static void test_file_errors(void)
{
    static const char *cases[][3] = {
        {"e1.json", "{\n  \"model\": \"m\",\n  \"data\" \"d\"\n}\n", ":3:"},          /* line of the error */
        {"e2.json", "[1, 2]", "a job file is one JSON object"},
        {"e3.json", "{\"modle\": \"m\"}", "unknown key \"modle\"; valid keys: model, tokenizer, family"},
        {"e4.json", "{\"max_tokens\": \"2048\"}", "key \"max_tokens\": expected an integer, got \"2048\""},
        {"e5.json", "{\"max_tokens\": 2048.5}", "key \"max_tokens\": expected an integer >= 1, got 2048.5"},
        {"e6.json", "{\"limit\": -3}", "key \"limit\": expected an integer >= 0, got -3"},
        {"e7.json", "{\"model\": 5}", "key \"model\": expected a path (string), got 5"},
        {"e8.json", "{\"backend\": \"tpu\"}", "key \"backend\": \"tpu\" is not one of auto|cpu|cuda"},
        {"e9.json", "{\"threshold\": \"0.5\"}", "key \"threshold\": expected a number or null"},
        {"e10.json", "{\"qwen_backspace_quirk\": 1}", "key \"qwen_backspace_quirk\": expected true or false, got 1"},
        {"e11.json", "{\"seed\": 1, \"seed\": 2}", "key \"seed\" appears twice"},
        {"e12.json", "", "not valid JSON"},
        {"e13.json", "{\"model\": \"m\"} trailing", "not valid JSON"},
        {"e14.json", "{\"progress_interval\": -1}", "expected a positive number, got -1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(cases[i][0], cases[i][1]);
        pe_job j;
        pe_err e = {0};
        CHECK_INT(load(&j, cases[i][0], &e), PE_EUSAGE);
        int ok = strstr(e.msg, cases[i][0]) && strstr(e.msg, cases[i][2]);
        if (!ok)
            fprintf(stderr, "%s: message \"%s\" lacks the file name or \"%s\"\n", cases[i][0], e.msg, cases[i][2]);
        CHECK(ok);
    }
    pe_job j;
    pe_err e = {0};
    CHECK_INT(load(&j, "missing.json", &e), PE_EIO);
    CHECK(strstr(e.msg, "missing.json") && strstr(e.msg, "cannot open"));

    /* check(): required keys and the skywork-only label rule */
    write_file("c1.json", "{\"model\": \"m\", \"data\": \"d\"}");
    CHECK_INT(load(&j, "c1.json", &e), 0);
    CHECK_INT(pe_job_check(&j, &e), PE_EUSAGE);
    CHECK(strstr(e.msg, "c1.json") && strstr(e.msg, "\"output\""));
    write_file("c2.json", "{\"model\": \"m\", \"data\": \"d\", \"output\": \"o.h5\", \"family\": \"qwen-prm\", "
                          "\"label_rule\": \"original\"}");
    CHECK_INT(load(&j, "c2.json", &e), 0);
    pe_err_clear(&e);
    CHECK_INT(pe_job_check(&j, &e), PE_EUSAGE);
    CHECK(strstr(e.msg, "label_rule") && strstr(e.msg, "skywork"));
}

static void test_demo_job(void)
{
    /* jobs/demo.json must stay loadable and complete (ctest runs from the repo root). */
    pe_job j;
    pe_err e = {0};
    pe_job_default(&j);
    int rc = pe_job_load(&j, "jobs/demo.json", &e);
    if (rc)
        fprintf(stderr, "%s\n", e.msg);
    CHECK_INT(rc, 0);
    CHECK_INT(pe_job_check(&j, &e), 0);
    CHECK_STR(j.family, "qwen-prm");
    CHECK_STR(j.backend, "cpu");
    CHECK_STR(j.data, "data/subset400.jsonl");  /* as the user would type it, not jobs/../data/... */
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/pe_test_job_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_defaults();
    test_full_file();
    test_set();
    test_file_errors();
    test_demo_job();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return pe_check_done();
}
