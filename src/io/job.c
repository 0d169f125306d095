/* Job configuration (job.h): every key lives in one table, so the parser,
 * `--set`, the serializer and the list of valid keys cannot drift apart. */
#include "job.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "infile.h"

typedef enum { K_STR, K_PATH, K_ENUM, K_INT, K_NUM, K_NUM_OR_NULL, K_BOOL } key_type;

typedef struct job_key {
    const char *name;
    key_type type;
    size_t off;
    size_t size;          /* char arrays */
    const char *choices;  /* K_ENUM: "a|b|c" */
    int64_t min;          /* K_INT; K_NUM: values must be > 0 when min > 0 */
} job_key;

#define F(field) offsetof(pe_job, field), sizeof(((pe_job *)0)->field)
#define N(field) offsetof(pe_job, field), 0
static const job_key keys[] = {
    {"model", K_PATH, F(model), NULL, 0},
    {"tokenizer", K_PATH, F(tokenizer), NULL, 0},
    /* choices NULL: "auto", a family of the registry (src/prm/registry.c) or a
     * family file (a value with '/' or ending in .json: a path, joined like K_PATH) */
    {"family", K_ENUM, F(family), NULL, 0},
    {"data", K_PATH, F(data), NULL, 0},
    {"output", K_PATH, F(output), NULL, 0},
    {"json", K_PATH, F(json), NULL, 0},
    {"backend", K_ENUM, F(backend), "auto|cpu|cuda", 0},
    {"max_tokens", K_INT, N(max_tokens), NULL, 1},
    {"token_budget", K_INT, N(token_budget), NULL, 1},
    {"threshold", K_NUM_OR_NULL, N(threshold), NULL, 0},
    {"limit", K_INT, N(limit), NULL, 0},
    {"seed", K_INT, N(seed), NULL, 0},
    {"checkpoint_dir", K_PATH, F(checkpoint_dir), NULL, 0},
    {"label_rule", K_ENUM, F(label_rule), "current|original", 0},
    {"qwen_backspace_quirk", K_BOOL, N(qwen_backspace_quirk), NULL, 0},
    {"rlhflow_system_block", K_BOOL, N(rlhflow_system_block), NULL, 0},
    {"reward_rounding", K_ENUM, F(reward_rounding), "auto|bf16|none", 0},
    {"progress_interval", K_NUM, N(progress_interval), NULL, 1},
    {"prefix_reuse", K_BOOL, N(prefix_reuse), NULL, 0},
    {"prefix_cache_mb", K_INT, N(prefix_cache_mb), NULL, 0},
};
#undef F
#undef N
static const int nkeys = (int)(sizeof keys / sizeof keys[0]);

const char *pe_job_keys(void)
{
    static char list[512];
    if (!list[0])
        for (int i = 0; i < nkeys; i++) {
            strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, keys[i].name, sizeof list - strlen(list) - 1);
        }
    return list;
}

void pe_job_default(pe_job *j)
{
    memset(j, 0, sizeof *j);
    strcpy(j->family, "auto");
    strcpy(j->backend, "auto");
    j->max_tokens = 2048;      /* the reference's cut */
    j->token_budget = 16384;   /* 8 full-length sequences per batch */
    j->threshold = NAN;
    strcpy(j->label_rule, "current");
    j->qwen_backspace_quirk = 1;
    j->rlhflow_system_block = 1;
    strcpy(j->reward_rounding, "auto"); /* as the reference does for the family */
    j->progress_interval = 10.0;
    j->prefix_reuse = 1;
    /* Kept keys/values are those of the shared prefixes of the problems that
     * straddle a batch boundary: a few thousand tokens at most, 0.2 GiB for a
     * 7B model in fp32 (112 KiB per token); 1 GiB leaves room. */
    j->prefix_cache_mb = 1024;
}

static const job_key *find_key(const char *name)
{
    for (int i = 0; i < nkeys; i++)
        if (!strcmp(keys[i].name, name))
            return &keys[i];
    return NULL;
}

static int enum_ok(const char *choices, const char *v)
{
    if (!choices)
        return !strcmp(v, "auto") || pe_family_by_name(v) != NULL || pe_family_value_is_file(v);
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p);
        if (l == n && !strncmp(p, v, n))
            return 1;
        p += l + (bar ? 1 : 0);
    }
    return 0;
}

/* base + "/" + v with each leading "../" of v taken off the end of base while
 * that last component is a folder and not a symbolic link: then "dir/.." is
 * exactly dir's parent, so "jobs/../build/x" becomes "build/x", the path as the
 * user would type it, naming the same file. A symbolic link is kept as is
 * (its ".." is the target's parent). */
static void join_path(char *dst, size_t size, const char *base, const char *v)
{
    char b[PE_JOB_PATH];
    snprintf(b, sizeof b, "%s", base);
    for (;;) {
        while (!strncmp(v, "./", 2))
            v += 2;
        if (strncmp(v, "../", 3) != 0)
            break;
        char *slash = strrchr(b, '/');
        const char *last = slash ? slash + 1 : b;
        struct stat st;
        if (!*last || !strcmp(last, ".") || !strcmp(last, "..") || lstat(b, &st) != 0 || !S_ISDIR(st.st_mode))
            break;
        v += 3;
        if (slash == b) {          /* "/x" -> "/" */
            b[1] = '\0';
            break;
        }
        if (slash)
            *slash = '\0';
        else
            b[0] = '\0';
        if (!b[0])
            break;
    }
    if (!b[0])
        snprintf(dst, size, "%s", *v ? v : ".");
    else
        snprintf(dst, size, "%s%s%s", b, b[strlen(b) - 1] == '/' ? "" : "/", v);
}

/* Stores a string value (already type-checked as a string). */
static int set_string(pe_job *j, const job_key *k, const char *where, const char *v, const char *base,
                      pe_err *e)
{
    char *dst = (char *)j + k->off;
    if (k->type == K_ENUM && !enum_ok(k->choices, v)) {
        if (!k->choices)
            return pe_fail(e, PE_EUSAGE, "%s: key \"%s\": \"%s\" is not one of auto, %s, or a family file (a path "
                           "containing '/' or ending in .json)", where, k->name, v, pe_family_names());
        return pe_fail(e, PE_EUSAGE, "%s: key \"%s\": \"%s\" is not one of %s", where, k->name, v, k->choices);
    }
    int is_path = k->type == K_PATH || (k->type == K_ENUM && !k->choices && pe_family_value_is_file(v));
    int join = is_path && v[0] && v[0] != '/' && base && base[0];
    size_t need = strlen(v) + (join ? strlen(base) + 1 : 0);
    if (need >= k->size) /* checked first: a failed setting leaves the old value */
        return pe_fail(e, PE_EUSAGE, "%s: key \"%s\": value is too long (at most %zu bytes)", where, k->name,
                       k->size - 1);
    if (join)
        join_path(dst, k->size, base, v);
    else
        snprintf(dst, k->size, "%s", v);
    return PE_OK;
}

static int set_int(pe_job *j, const job_key *k, const char *where, double v, const char *shown, pe_err *e)
{
    /* Integral, inside int64 and at least the key's minimum. */
    if (!(v == floor(v)) || v < (double)k->min || v > 9.0e18)
        return pe_fail(e, PE_EUSAGE, "%s: key \"%s\": expected an integer >= %lld, got %s", where, k->name,
                       (long long)k->min, shown);
    *(int64_t *)((char *)j + k->off) = (int64_t)v;
    return PE_OK;
}

static int set_num(pe_job *j, const job_key *k, const char *where, double v, const char *shown, pe_err *e)
{
    if (!isfinite(v) || (k->min > 0 && !(v > 0)))
        return pe_fail(e, PE_EUSAGE, "%s: key \"%s\": expected a %snumber, got %s", where, k->name,
                       k->min > 0 ? "positive " : "", shown);
    *(double *)((char *)j + k->off) = v;
    return PE_OK;
}

static const char *type_word(const job_key *k)
{
    switch (k->type) {
    case K_STR: return "a string";
    case K_PATH: return "a path (string)";
    case K_ENUM: return "a string";
    case K_INT: return "an integer";
    case K_NUM: return "a number";
    case K_NUM_OR_NULL: return "a number or null";
    case K_BOOL: return "true or false";
    }
    return "?";
}

static int set_json(pe_job *j, const job_key *k, const char *where, const cJSON *v, const char *base, pe_err *e)
{
    char shown[96];
    char *txt = cJSON_PrintUnformatted(v);
    snprintf(shown, sizeof shown, "%s", txt ? txt : "?");
    free(txt);
    switch (k->type) {
    case K_STR:
    case K_PATH:
    case K_ENUM:
        if (cJSON_IsString(v))
            return set_string(j, k, where, v->valuestring, base, e);
        break;
    case K_INT:
        if (cJSON_IsNumber(v))
            return set_int(j, k, where, v->valuedouble, shown, e);
        break;
    case K_NUM_OR_NULL:
        if (cJSON_IsNull(v)) {
            *(double *)((char *)j + k->off) = NAN;
            return PE_OK;
        }
        /* fall through */
    case K_NUM:
        if (cJSON_IsNumber(v))
            return set_num(j, k, where, v->valuedouble, shown, e);
        break;
    case K_BOOL:
        if (cJSON_IsBool(v)) {
            *(int *)((char *)j + k->off) = cJSON_IsTrue(v);
            return PE_OK;
        }
        break;
    }
    return pe_fail(e, PE_EUSAGE, "%s: key \"%s\": expected %s, got %s", where, k->name, type_word(k), shown);
}

/* Line and column of a byte offset, for parse errors. */
static void line_col(const char *text, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && text[i]; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

int pe_job_parse(pe_job *j, const char *text, const char *name, const char *base_dir, pe_err *e)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    if (!root) {
        int line, col;
        size_t off = end ? (size_t)(end - text) : 0;
        const char *ep = cJSON_GetErrorPtr();
        if (ep && ep >= text && ep <= text + strlen(text))
            off = (size_t)(ep - text);
        line_col(text, off, &line, &col);
        return pe_fail(e, PE_EUSAGE, "%s:%d:%d: not valid JSON", name, line, col);
    }
    int rc = PE_OK;
    if (!cJSON_IsObject(root))
        rc = pe_fail(e, PE_EUSAGE, "%s: a job file is one JSON object ({\"model\": ..., ...})", name);
    for (const cJSON *it = root->child; !rc && it; it = it->next) {
        const job_key *k = find_key(it->string);
        if (!k) {
            rc = pe_fail(e, PE_EUSAGE, "%s: unknown key \"%s\"; valid keys: %s", name, it->string, pe_job_keys());
            break;
        }
        for (const cJSON *p = root->child; p != it; p = p->next)
            if (!strcmp(p->string, it->string))
                rc = pe_fail(e, PE_EUSAGE, "%s: key \"%s\" appears twice", name, it->string);
        if (!rc)
            rc = set_json(j, k, name, it, base_dir, e);
    }
    cJSON_Delete(root);
    return rc;
}

int pe_job_load(pe_job *j, const char *path, pe_err *e)
{
    FILE *f = pe_fopen_input(path);
    if (!f)
        return pe_fail(e, PE_EIO, "%s: cannot open job file: %s", path, strerror(errno));
    char *text = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 8192;
            char *p = pe_realloc(text, cap, e);
            if (!p) {
                free(text);
                fclose(f);
                return e->code;
            }
            text = p;
        }
        size_t got = fread(text + n, 1, 4096, f);
        n += got;
        if (got < 4096)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(text);
        return pe_fail(e, PE_EIO, "%s: read error", path);
    }
    text[n] = '\0';
    if (strlen(text) != n) {
        free(text);
        return pe_fail(e, PE_EUSAGE, "%s: contains a NUL byte; a job file is JSON text", path);
    }
    char base[PE_JOB_PATH] = "";
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(base, sizeof base, "%.*s", (int)(slash - path), path);
    if (slash == path)
        strcpy(base, "/");
    snprintf(j->source, sizeof j->source, "%s", path);
    int rc = pe_job_parse(j, text, path, base, e);
    free(text);
    return rc;
}

int pe_job_set(pe_job *j, const char *assignment, pe_err *e)
{
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return pe_fail(e, PE_EUSAGE, "--set %s: expected key=value", assignment);
    char name[64];
    size_t kl = (size_t)(eq - assignment);
    if (kl >= sizeof name)
        kl = sizeof name - 1;
    memcpy(name, assignment, kl);
    name[kl] = '\0';
    const char *v = eq + 1;
    const job_key *k = find_key(name);
    if (!k)
        return pe_fail(e, PE_EUSAGE, "--set: unknown key \"%s\"; valid keys: %s", name, pe_job_keys());
    const char *where = "--set";
    char shown[96];
    snprintf(shown, sizeof shown, "\"%s\"", v);
    char *endp;
    switch (k->type) {
    case K_STR:
    case K_PATH:
    case K_ENUM:
        return set_string(j, k, where, v, NULL, e);
    case K_INT: {
        errno = 0;
        long long x = strtoll(v, &endp, 10);
        if (!*v || *endp || errno)
            return pe_fail(e, PE_EUSAGE, "%s: key \"%s\": expected an integer >= %lld, got %s", where, k->name,
                           (long long)k->min, shown);
        return set_int(j, k, where, (double)x, shown, e);
    }
    case K_NUM_OR_NULL:
        if (!strcmp(v, "null")) {
            *(double *)((char *)j + k->off) = NAN;
            return PE_OK;
        }
        /* fall through */
    case K_NUM: {
        double x = strtod(v, &endp);
        if (!*v || *endp)
            return pe_fail(e, PE_EUSAGE, "%s: key \"%s\": expected %s, got %s", where, k->name, type_word(k), shown);
        return set_num(j, k, where, x, shown, e);
    }
    case K_BOOL:
        if (!strcmp(v, "true") || !strcmp(v, "false")) {
            *(int *)((char *)j + k->off) = v[0] == 't';
            return PE_OK;
        }
        return pe_fail(e, PE_EUSAGE, "%s: key \"%s\": expected true or false, got %s", where, k->name, shown);
    }
    return pe_fail(e, PE_EGENERIC, "%s: unhandled key type", where);
}

int pe_job_check(const pe_job *j, pe_err *e)
{
    const char *name = j->source[0] ? j->source : "job";
    if (!j->model[0])
        return pe_fail(e, PE_EUSAGE, "%s: key \"model\" (the checkpoint folder) is required", name);
    if (!j->data[0])
        return pe_fail(e, PE_EUSAGE, "%s: key \"data\" (PRMBench JSONL file or folder) is required", name);
    if (!j->output[0])
        return pe_fail(e, PE_EUSAGE, "%s: key \"output\" (the HDF5 results path) is required", name);
    if (j->prefix_cache_mb > PE_JOB_PREFIX_CACHE_MB_MAX)
        return pe_fail(e, PE_EUSAGE, "%s: key \"prefix_cache_mb\": %lld is more than %lld (1 TiB)", name,
                       (long long)j->prefix_cache_mb, (long long)PE_JOB_PREFIX_CACHE_MB_MAX);
    /* a rule the family does not have is refused here, not silently replaced */
    const pe_family *f = pe_family_by_name(j->family);
    if (strcmp(j->label_rule, "current") && f && !f->labels[PE_LABEL_ORIGINAL].defined) {
        char with[256] = "";
        for (int i = 0; i < pe_family_count(); i++)
            if (pe_family_at(i)->labels[PE_LABEL_ORIGINAL].defined) {
                strncat(with, with[0] ? ", " : "", sizeof with - strlen(with) - 1);
                strncat(with, pe_family_at(i)->name, sizeof with - strlen(with) - 1);
            }
        return pe_fail(e, PE_EUSAGE, "%s: key \"label_rule\" \"%s\": family %s has only the \"current\" rule "
                       "(\"original\" is a rule of: %s)", name, j->label_rule, j->family, with);
    }
    return PE_OK;
}

char *pe_job_to_json(const pe_job *j, pe_err *e)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o && i < nkeys; i++) {
        const job_key *k = &keys[i];
        const char *p = (const char *)j + k->off;
        cJSON *v = NULL;
        switch (k->type) {
        case K_STR:
        case K_PATH:
        case K_ENUM: v = cJSON_CreateString(p); break;
        case K_INT: v = cJSON_CreateNumber((double)*(const int64_t *)p); break;
        case K_NUM: v = cJSON_CreateNumber(*(const double *)p); break;
        case K_NUM_OR_NULL: {
            double d = *(const double *)p;
            v = isnan(d) ? cJSON_CreateNull() : cJSON_CreateNumber(d);
            break;
        }
        case K_BOOL: v = cJSON_CreateBool(*(const int *)p); break;
        }
        if (!v || !cJSON_AddItemToObject(o, k->name, v)) {
            cJSON_Delete(v);
            cJSON_Delete(o);
            o = NULL;
        }
    }
    char *s = o ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (!s)
        pe_fail(e, PE_ERESOURCE, "out of memory (job JSON)");
    return s;
}

void pe_job_family_opts(const pe_job *j, pe_family_opts *o)
{
    pe_family_opts_default(o);
    o->qwen_backspace_quirk = j->qwen_backspace_quirk;
    o->rlhflow_system_block = j->rlhflow_system_block;
    o->label_rule = strcmp(j->label_rule, "original") ? PE_LABEL_CURRENT : PE_LABEL_ORIGINAL;
    int r = pe_reward_rounding_from_name(j->reward_rounding);
    o->reward_rounding = r < 0 ? PE_ROUND_AUTO : (pe_reward_rounding)r;
    o->max_tokens = j->max_tokens > 0x7fffffff ? 0x7fffffff : (int)j->max_tokens;
}
