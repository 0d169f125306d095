/* The prompts of real PRMBench records (3 records, original and modified
 * processes, every family and option) against the JS oracle's renderings in
 * tests/data/family_render.jsonl: chat templates rendered by @lenml/tokenizers'
 * Jinja engine (tests/js/family_oracle.mjs regenerates the file; the script
 * test test_family_oracle.sh checks it is current). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "prm/prm.h"

static const char *bos_text(const char *name)
{
    if (!strcmp(name, "math-shepherd")) return "<s>";
    if (!strcmp(name, "rlhflow")) return "<|begin_of_text|>";
    if (!strcmp(name, "skywork")) return "<|endoftext|>";
    return "";
}

int main(void)
{
    FILE *f = fopen("tests/data/family_render.jsonl", "r");
    CHECK(f != NULL);
    if (!f)
        return pe_check_done();
    static char line[1 << 20];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        cJSON *r = cJSON_Parse(line);
        CHECK(r != NULL);
        if (!r)
            continue;
        const pe_family *fam = pe_family_by_name(cJSON_GetObjectItem(r, "family")->valuestring);
        CHECK(fam != NULL);
        pe_family_opts o;
        pe_family_opts_default(&o);
        o.qwen_backspace_quirk = cJSON_IsTrue(cJSON_GetObjectItem(r, "quirk"));
        o.rlhflow_system_block = cJSON_IsTrue(cJSON_GetObjectItem(r, "block"));
        const cJSON *st = cJSON_GetObjectItem(r, "steps");
        int ns = cJSON_GetArraySize(st);
        char **steps = calloc((size_t)ns + 1, sizeof *steps);
        for (int i = 0; i < ns; i++)
            steps[i] = cJSON_GetArrayItem(st, i)->valuestring;
        pe_segments s;
        pe_err e = {0};
        CHECK_INT(pe_family_segments(fam, &o, cJSON_GetObjectItem(r, "question")->valuestring, ns, steps, &s, &e), 0);
        char *txt = pe_segments_render(&s, bos_text(fam->name), &e);
        const char *want = cJSON_GetObjectItem(r, "text")->valuestring;
        if (!txt || strcmp(txt, want))
            fprintf(stderr, "%s %s %s: rendering differs from the oracle\n",
                    cJSON_GetObjectItem(r, "idx")->valuestring, cJSON_GetObjectItem(r, "process")->valuestring,
                    fam->name);
        CHECK_STR(txt, want);
        CHECK_INT(s.nexpected, ns + !strcmp(fam->name, "skywork"));
        free(txt);
        free(steps);
        pe_segments_free(&s);
        cJSON_Delete(r);
        n++;
    }
    fclose(f);
    CHECK_INT(n, 36);
    return pe_check_done();
}
