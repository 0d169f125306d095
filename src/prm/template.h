/* The generic prompt builder of family files (internal to src/prm): a
 * template of parts (text with placeholders, added tokens, the step token,
 * BOS) in three sections (before, each step, after), the step clean-up and
 * SkyworkAI's response split. Filled by family_file.c, run by
 * pe_family_segments (prompt.c) for a family with a template. */
#ifndef PE_PRM_TEMPLATE_H
#define PE_PRM_TEMPLATE_H

#include <cjson/cJSON.h>

#include "build.h"

enum { TPL_ALL = 0, TPL_FIRST, TPL_REST };
enum { CLEAN_STRIP = 1, CLEAN_STRIP_PREFIX, CLEAN_REMOVE };
enum { TPL_MAX_CLEAN = 8 };

typedef struct tpl_part {
    pe_seg_kind kind;
    const char *text;         /* TEXT: a template ({question}, {step}, {i}); else the token's text */
    int separate, readout, strip;
    int steps;                /* TPL_*: which steps the part is for (step section only) */
    const char *option;       /* "if"/"unless": a family option, NULL: always */
    int option_want;          /* the value the option must have */
    const cJSON *unless_prefix; /* array of strings: skipped when the cleaned step starts with one */
} tpl_part;

typedef struct tpl_list {
    tpl_part *p;
    int n;
} tpl_list;

struct pe_prompt_template {
    tpl_list before, step, after;
    struct { int op; const char *text; } clean[TPL_MAX_CLEAN];
    int nclean;
    const char *split_on;     /* the response is split on this text (SkyworkAI's prepare_input) */
};

/* The family options a part may depend on ("if"/"unless"): 1 when name is one. */
int pe_template_option_known(const char *name);

/* The template's segments of one sample. */
int pe_template_segments(const pe_prompt_template *t, const pe_family_opts *o, const char *question, int nsteps,
                         char *const *steps, pe_step_cleaner *clean, pe_segments *out, pe_err *e);

#endif
