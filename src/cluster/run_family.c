/* The family of a run (run_impl.h): a registered family by name or "auto",
 * or a family file (docs/families.md, "Write your own"), and what the results
 * record of it. Kept apart from the run flow (run.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "run_impl.h"

static const char *job_name(const pe_job *j) { return j->source[0] ? j->source : "job"; }

int pe_run_family(run_ctx *c, const pe_ckpt_facts *ck, pe_err *e)
{
    const pe_job *j = c->job;
    int rc;
    if (!pe_family_value_is_file(j->family)) {
        if ((rc = pe_family_resolve_ckpt(ck, j->family, &c->fam, e)) != PE_OK) {
            pe_err_prefix(e, "%s: key \"family\": ", job_name(j));
            return rc;
        }
        snprintf(c->fam_id, sizeof c->fam_id, "%s", c->fam->name);
        return PE_OK;
    }
    if ((rc = pe_family_load_file(j->family, &c->famfile, e)) != PE_OK) {
        pe_err_prefix(e, "%s: key \"family\": ", job_name(j));
        return rc;
    }
    c->fam = c->famfile.fam;
    if ((rc = pe_family_accepts(c->fam, ck, j->family, e)) != PE_OK) {
        pe_err_prefix(e, "%s: key \"family\": ", job_name(j));
        return rc;
    }
    /* the rule pe_job_check applies to registered families */
    if (!strcmp(j->label_rule, "original") && !c->fam->labels[PE_LABEL_ORIGINAL].defined)
        return pe_fail(e, PE_EUSAGE, "%s: key \"label_rule\" \"original\": the family file %s (family %s) has no "
                       "\"labels.original\" rule", job_name(j), j->family, c->fam->name);
    /* journals of another file, or of an edited one, are never reused */
    snprintf(c->fam_id, sizeof c->fam_id, "%s file sha256=%s", c->fam->name, c->famfile.sha256);
    return PE_OK;
}

/* The job as the results file records it (config_json): "auto" family and
 * reward_rounding replaced by what this run resolved them to, so that
 * `prmeval rescore` can draw labels the way the run did (docs/job-config.md),
 * and a family file's name, SHA-256 and text. */
char *pe_run_config_json(const run_ctx *c, pe_err *e)
{
    pe_job *j = pe_malloc(sizeof *j, e);
    if (!j)
        return NULL;
    *j = *c->job;
    if (!strcmp(j->family, "auto"))
        snprintf(j->family, sizeof j->family, "%s", c->fam->name);
    snprintf(j->reward_rounding, sizeof j->reward_rounding, "%s", pe_reward_rounding_name(c->fo.reward_rounding));
    char *cfg = pe_job_to_json(j, e);
    free(j);
    if (!cfg || !c->famfile.file)
        return cfg;
    cJSON *o = cJSON_Parse(cfg);
    cJSON_free(cfg);
    cJSON *ff = o ? cJSON_AddObjectToObject(o, "family_file") : NULL;
    char *out = NULL;
    if (ff && cJSON_AddStringToObject(ff, "path", c->job->family) &&
        cJSON_AddStringToObject(ff, "name", c->fam->name) && cJSON_AddStringToObject(ff, "sha256", c->famfile.sha256) &&
        cJSON_AddStringToObject(ff, "text", c->famfile.text))
        out = cJSON_Print(o);
    cJSON_Delete(o);
    if (!out)
        pe_fail(e, PE_ERESOURCE, "out of memory (job JSON)");
    return out;
}

int pe_run_family_preflight(run_ctx *c, pe_err *e)
{
    if (!c->famfile.file)
        return PE_OK;
    /* A family file may name tokens this tokenizer lacks, or a head text that
     * does not encode to its rows: found here on a probe sample, before any
     * work, with the file named (the token stage would name only the family). */
    char q[] = "1 + 1 = ?", s1[] = "Step 1. 1 + 1 = 2.", s2[] = "The answer is 2.";
    char *steps[] = {s1, s2};
    pe_segments segs;
    pe_prompt_tokens pt;
    pe_head_spec head;
    pe_encoder enc;
    pe_encoder_from_tokenizer(&enc, c->tok);
    int rc = pe_family_segments(c->fam, &c->fo, q, 2, steps, &segs, e);
    if (rc == PE_OK) {
        rc = pe_family_tokens(c->fam, &c->fo, &segs, c->tok, &pt, e);
        pe_segments_free(&segs);
        if (rc == PE_OK)
            pe_prompt_tokens_free(&pt);
    }
    if (rc == PE_OK)
        rc = pe_family_head(c->fam, &enc, &head, e);
    if (rc != PE_OK)
        pe_err_prefix(e, "%s: key \"family\": %s (with the tokenizer of %s): ", job_name(c->job), c->job->family,
                      pe_tokenizer_source(c->tok));
    return rc;
}
