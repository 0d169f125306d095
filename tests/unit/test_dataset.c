/* The dataset reader: the full benchmark's counts (docs/metric.md, "Samples")
 * and a hand-made file for the rules: synthetic correct twins, first
 * occurrence wins, 1-based error steps, out-of-range steps kept, an idx that
 * already carries its class prefix, problem numbering. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "io/dataset.h"

static void full_data(void)
{
    pe_dataset d;
    pe_err e;
    pe_err_clear(&e);
    int rc = pe_dataset_load("data/prmbench", &d, &e);
    CHECK_INT(rc, PE_OK);
    if (rc != PE_OK) {
        fprintf(stderr, "%s\n", e.msg);
        return;
    }
    int n[PE_NCLASSES] = {0};
    for (int i = 0; i < d.nsamples; i++)
        n[d.samples[i].cls]++;
    CHECK_INT(d.nsamples, 6969);
    CHECK_INT(d.nfiles, 25);
    CHECK_INT(n[PE_CLS_CORRECT], 758);
    CHECK_INT(d.nsamples - n[PE_CLS_CORRECT], 6211);
    CHECK_INT(n[PE_CLS_MULTI_SOLUTIONS], 160);
    CHECK_INT(d.nproblems, 758);
    /* the first file (by name) is ..._p1_4o_circular.jsonl: its first record makes sample 0 */
    CHECK_INT(d.samples[0].cls, PE_CLS_CIRCULAR);
    CHECK_INT(d.samples[0].src_line, 1);
    CHECK_INT(d.samples[0].problem, 0);
    pe_dataset_free(&d);
}

static const char *small =
    "{\"classification\":\"redundency\",\"idx\":\"a\",\"original_question\":\"Q\",\"original_process\":[\"s1\",\"s2\"],"
    "\"modified_question\":\"Q'\",\"modified_process\":[\"s1\",\"x\",\"s2\"],\"error_steps\":[2]}\n"
    "\n"
    "{\"classification\":\"circular\",\"idx\":\"circular_a\",\"modified_question\":\"Q\","
    "\"modified_process\":[\"s1\"],\"error_steps\":[1, 5]}\n"
    "{\"classification\":\"redundency\",\"idx\":\"a\",\"original_question\":\"other\",\"original_process\":[],"
    "\"modified_question\":\"dup\",\"modified_process\":[],\"error_steps\":[]}\n"
    "   \n"
    "{\"classification\":\"deception\",\"idx\":\"b\",\"modified_question\":\"Q\",\"modified_process\":[\"s\"],"
    "\"error_steps\":[1]}\n";

static void small_file(void)
{
    char path[] = "/tmp/pe_test_dataset_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    FILE *f = fdopen(fd, "w");
    fputs(small, f);
    fclose(f);
    pe_dataset d;
    pe_err e;
    pe_err_clear(&e);
    CHECK_INT(pe_dataset_load(path, &d, &e), PE_OK);
    /* correct_a (twin, first), redundency_a, circular_a (prefix not doubled), deception_b;
     * the second redundency record repeats keys: dropped */
    CHECK_INT(d.nsamples, 4);
    CHECK_INT(d.nrecords, 4);
    CHECK_STR(d.samples[0].key, "correct_a");
    CHECK_STR(d.samples[0].question, "Q");
    CHECK_INT(d.samples[0].nsteps, 2);
    CHECK_INT(d.samples[0].nerr, 0);
    CHECK_STR(d.samples[1].key, "redundency_a");
    CHECK_STR(d.samples[1].question, "Q'");
    CHECK_INT(d.samples[1].nerr, 1);
    CHECK_INT(d.samples[1].err_steps[0], 1);  /* 1-based 2 -> 0-based 1 */
    CHECK_STR(d.samples[2].key, "circular_a");
    CHECK_STR(d.samples[2].idx, "a");
    CHECK_INT(d.samples[2].nerr, 2);
    CHECK_INT(d.samples[2].err_steps[1], 4);  /* beyond the single step: kept */
    CHECK_INT(d.samples[2].src_line, 3);
    CHECK_STR(d.samples[3].key, "deception_b");
    CHECK_INT(d.samples[3].problem, 1);
    CHECK_INT(d.samples[2].problem, 0);
    CHECK_INT(d.nproblems, 2);
    pe_dataset_free(&d);
    /* without text: the same samples, no strings */
    pe_err_clear(&e);
    CHECK_INT(pe_dataset_load_ex(path, PE_DATA_NO_TEXT, &d, &e), PE_OK);
    CHECK_INT(d.nsamples, 4);
    CHECK(d.samples[1].question == NULL && d.samples[1].steps == NULL);
    CHECK_INT(d.samples[1].nsteps, 3);
    pe_dataset_free(&d);
    unlink(path);
}

int main(void)
{
    full_data();
    small_file();
    return pe_check_done();
}
