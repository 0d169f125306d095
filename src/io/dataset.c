#include "dataset.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <omp.h>

#include "../core/strmap.h"
#include "jsonl.h"

/* Bounds that no real record comes near; beyond them the input is refused. */
#define MAX_STEPS 100000
#define MAX_ERROR_STEP 1000000

/* One data line, parsed on its own (in parallel with the others). Strings are
 * taken out of the cJSON tree, not copied. */
typedef struct record {
    int cls;
    char *idx;            /* with a leading "<classification>_" removed */
    char *mq;             /* modified_question */
    int mn;
    char **ms;            /* (mn) modified_process */
    int nerr;
    int *err;             /* (nerr) 0-based */
    char *oq;             /* original_question: redundency only */
    int on;
    char **os;            /* (on) original_process: redundency only */
    char *msg;            /* error message, NULL when the line is good */
} record;

static void free_strs(char **s, int n)
{
    if (!s)
        return;
    for (int i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

static void record_free(record *r)
{
    free(r->idx);
    free(r->mq);
    free_strs(r->ms, r->mn);
    free(r->err);
    free(r->oq);
    free_strs(r->os, r->on);
    free(r->msg);
    memset(r, 0, sizeof *r);
}

/* The tree lives in a per-thread arena (jsonl.h): what is kept is copied. */
static char *take_string(cJSON *item)
{
    return strdup(item->valuestring);
}

static char *fmt_msg(const char *fmt, const char *path, int line, const char *field)
{
    char buf[1024];
    snprintf(buf, sizeof buf, fmt, path, line, field);
    return strdup(buf);
}

/* Checks a string field; copies it into *out unless out is NULL. */
static int get_string(cJSON *o, const char *field, char **out, const char *path, int line, char **msg)
{
    cJSON *it = cJSON_GetObjectItemCaseSensitive(o, field);
    if (!it) {
        *msg = fmt_msg("%s:%d: missing field \"%s\"", path, line, field);
        return -1;
    }
    if (!cJSON_IsString(it) || !it->valuestring) {
        *msg = fmt_msg("%s:%d: field \"%s\" must be a string", path, line, field);
        return -1;
    }
    if (out && !(*out = take_string(it))) {
        *msg = fmt_msg("%s:%d: out of memory reading \"%s\"", path, line, field);
        return -1;
    }
    return 0;
}

/* Checks an array of strings and sets *n; copies the strings into *out unless out is NULL. */
static int get_steps(cJSON *o, const char *field, char ***out, int *n, const char *path, int line, char **msg)
{
    cJSON *a = cJSON_GetObjectItemCaseSensitive(o, field);
    if (!a) {
        *msg = fmt_msg("%s:%d: missing field \"%s\"", path, line, field);
        return -1;
    }
    if (!cJSON_IsArray(a)) {
        *msg = fmt_msg("%s:%d: field \"%s\" must be an array of strings", path, line, field);
        return -1;
    }
    int cnt = cJSON_GetArraySize(a);
    if (cnt > MAX_STEPS) {
        *msg = fmt_msg("%s:%d: field \"%s\" has more steps than the 100000 allowed", path, line, field);
        return -1;
    }
    char **s = out ? calloc(cnt ? (size_t)cnt : 1, sizeof *s) : NULL;
    if (out && !s) {
        *msg = fmt_msg("%s:%d: out of memory reading \"%s\"", path, line, field);
        return -1;
    }
    int i = 0;
    for (cJSON *it = a->child; it; it = it->next, i++) {
        if (!cJSON_IsString(it) || !it->valuestring) {
            free_strs(s, i);
            *msg = fmt_msg("%s:%d: field \"%s\" must be an array of strings", path, line, field);
            return -1;
        }
        if (s && !(s[i] = take_string(it))) {
            free_strs(s, i);
            *msg = fmt_msg("%s:%d: out of memory reading \"%s\"", path, line, field);
            return -1;
        }
    }
    if (out)
        *out = s;
    *n = cnt;
    return 0;
}

static int get_error_steps(cJSON *o, record *r, const char *path, int line)
{
    cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "error_steps");
    if (!a) {
        r->msg = fmt_msg("%s:%d: missing field \"%s\"", path, line, "error_steps");
        return -1;
    }
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > MAX_STEPS) {
        r->msg = fmt_msg("%s:%d: field \"%s\" must be an array of 1-based step numbers", path, line, "error_steps");
        return -1;
    }
    int cnt = cJSON_GetArraySize(a);
    r->err = malloc((cnt ? (size_t)cnt : 1) * sizeof *r->err);
    if (!r->err) {
        r->msg = fmt_msg("%s:%d: out of memory reading \"%s\"", path, line, "error_steps");
        return -1;
    }
    int i = 0;
    for (cJSON *it = a->child; it; it = it->next, i++) {
        double v = cJSON_IsNumber(it) ? it->valuedouble : NAN;
        /* 1-based in the data; 0 or negative would be meaningless, huge ones absurd.
         * Numbers beyond the step count are kept (the reference keeps them). */
        if (!(v >= 1 && v <= MAX_ERROR_STEP) || v != floor(v)) {
            r->msg = fmt_msg("%s:%d: field \"%s\" must hold integers from 1 to 1000000 (1-based step numbers)",
                             path, line, "error_steps");
            return -1;
        }
        r->err[i] = (int)v - 1;
    }
    r->nerr = cnt;
    return 0;
}

/* Turns one parsed line into a record; on failure sets r->msg. */
static void parse_record(cJSON *o, record *r, const char *path, int line, int no_text)
{
    char *cls = NULL;
    if (get_string(o, "classification", &cls, path, line, &r->msg) != 0)
        return;
    r->cls = pe_class_from_name(cls);
    if (r->cls <= PE_CLS_CORRECT) {
        /* `correct` samples are synthesised from redundency records, never read. */
        char buf[1024];
        snprintf(buf, sizeof buf, "%s:%d: unknown classification \"%.200s\"", path, line, cls);
        r->msg = strdup(buf);
        free(cls);
        return;
    }
    free(cls);
    if (get_string(o, "idx", &r->idx, path, line, &r->msg) != 0)
        return;
    /* An idx that already carries the class prefix is accepted as the bare idx. */
    const char *name = pe_class_name(r->cls);
    size_t nl = strlen(name);
    if (strncmp(r->idx, name, nl) == 0 && r->idx[nl] == '_')
        memmove(r->idx, r->idx + nl + 1, strlen(r->idx + nl + 1) + 1);
    if (r->idx[0] == '\0') {
        r->msg = fmt_msg("%s:%d: field \"%s\" is empty", path, line, "idx");
        return;
    }
    /* Without text only the step counts are kept: nothing is copied. */
    if (get_string(o, "modified_question", no_text ? NULL : &r->mq, path, line, &r->msg) != 0 ||
        get_steps(o, "modified_process", no_text ? NULL : &r->ms, &r->mn, path, line, &r->msg) != 0 ||
        get_error_steps(o, r, path, line) != 0)
        return;
    if (r->cls == PE_CLS_REDUNDENCY &&
        (get_string(o, "original_question", no_text ? NULL : &r->oq, path, line, &r->msg) != 0 ||
         get_steps(o, "original_process", no_text ? NULL : &r->os, &r->on, path, line, &r->msg) != 0))
        return;
}

/* pe_jsonl_read_ex's check of line 1: a file that is not PRMBench data fails
 * before its other lines are indexed or parsed. */
static int first_record_ok(const pe_jsonl *one, const char *path, void *ctx, pe_err *e)
{
    (void)ctx;
    char msg[1024];
    cJSON *o = pe_jsonl_parse_object(one, 0, path, msg, sizeof msg);
    if (!o)
        return pe_fail(e, PE_EINPUT, "%s", msg);
    record r;
    memset(&r, 0, sizeof r);
    parse_record(o, &r, path, one->lineno[0], 1);
    cJSON_Delete(o);
    int rc = r.msg ? pe_fail(e, PE_EINPUT, "%s", r.msg) : PE_OK;
    record_free(&r);
    return rc;
}

/* The shortest line a record can be: five named fields (classification, idx,
 * modified_question, modified_process, error_steps) take more than this.
 * Parsing stops at the first shorter line, so the records (about 100 bytes
 * each in memory) never outnumber the file's bytes / MIN_RECORD_BYTES. */
#define MIN_RECORD_BYTES 80

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* The files to read: path itself, or its *.jsonl sorted by name. */
static int list_files(const char *path, pe_dataset *d, pe_err *e)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return pe_fail(e, PE_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        d->files = pe_malloc(sizeof *d->files, e);
        if (!d->files || !(d->files[0] = pe_strdup(path, e)))
            return PE_ERESOURCE;
        d->nfiles = 1;
        return PE_OK;
    }
    DIR *dir = opendir(path);
    if (!dir)
        return pe_fail(e, PE_EIO, "%s: cannot open folder: %s", path, strerror(errno));
    int cap = 0;
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (de->d_name[0] == '.' || !has_suffix(de->d_name, ".jsonl"))
            continue;
        if (d->nfiles == cap) {
            cap = cap ? 2 * cap : 32;
            char **f = pe_realloc(d->files, (size_t)cap * sizeof *f, e);
            if (!f)
                break;
            d->files = f;
        }
        size_t n = strlen(path) + strlen(de->d_name) + 2;
        char *full = pe_malloc(n, e);
        if (!full)
            break;
        snprintf(full, n, "%s/%s", path, de->d_name);
        d->files[d->nfiles++] = full;
    }
    closedir(dir);
    if (e && e->code)
        return e->code;
    if (d->nfiles == 0)
        return pe_fail(e, PE_EINPUT, "%s: folder holds no *.jsonl file", path);
    qsort(d->files, (size_t)d->nfiles, sizeof *d->files, cmp_str);
    return PE_OK;
}

static char *make_key(const char *cls, const char *idx, pe_err *e)
{
    size_t n = strlen(cls) + strlen(idx) + 2;
    char *k = pe_malloc(n, e);
    if (k)
        snprintf(k, n, "%s_%s", cls, idx);
    return k;
}

/* Appends a sample, taking ownership of key, question, steps and err. */
static int add_sample(pe_dataset *d, int *cap, pe_strmap *problems, char *key, const char *idx, int cls,
                      char *q, char **steps, int nsteps, int *err, int nerr, int file, int line, pe_err *e)
{
    if (d->nsamples == *cap) {
        int nc = *cap ? 2 * *cap : 1024;
        pe_sample *s = pe_realloc(d->samples, (size_t)nc * sizeof *s, e);
        if (!s)
            return PE_ERESOURCE;
        d->samples = s;
        *cap = nc;
    }
    pe_sample *s = &d->samples[d->nsamples];
    memset(s, 0, sizeof *s);
    s->key = key;
    s->cls = cls;
    s->question = q;
    s->steps = steps;
    s->nsteps = nsteps;
    s->err_steps = err;
    s->nerr = nerr;
    s->src_file = file;
    s->src_line = line;
    d->nsamples++;  /* from here on pe_dataset_free releases what the sample owns */
    if (!(s->idx = pe_strdup(idx, e)))
        return PE_ERESOURCE;
    size_t idx_len = strlen(s->idx);
    int p = pe_strmap_get(problems, s->idx, idx_len);
    if (p < 0) {
        p = d->nproblems;
        if (pe_strmap_put(problems, s->idx, idx_len, p, e) != PE_OK)
            return PE_ERESOURCE;
        d->nproblems++;
    }
    s->problem = p;
    return PE_OK;
}

/* Builds the samples from the records, in order: the synthetic `correct`
 * twin of a redundency record first, then the record's own sample; the first
 * occurrence of a key wins. Takes what it keeps out of the records. */
static int assemble(pe_dataset *d, record *recs, const int *rec_file, const int *rec_line, int64_t nrec, pe_err *e)
{
    pe_strmap keys, problems;
    int cap = 0, rc = PE_OK;
    if (pe_strmap_init(&keys, (size_t)nrec + 1024, e) || pe_strmap_init(&problems, (size_t)nrec / 4 + 16, e)) {
        pe_strmap_free(&keys);
        return PE_ERESOURCE;
    }
    for (int64_t k = 0; k < nrec && rc == PE_OK; k++) {
        record *r = &recs[k];
        if (r->cls == PE_CLS_REDUNDENCY) {
            char *key = make_key("correct", r->idx, e);
            if (!key) {
                rc = PE_ERESOURCE;
                break;
            }
            if (pe_strmap_get(&keys, key, strlen(key)) < 0) {
                rc = add_sample(d, &cap, &problems, key, r->idx, PE_CLS_CORRECT, r->oq, r->os, r->on, NULL, 0,
                                rec_file[k], rec_line[k], e);
                r->oq = NULL;
                r->os = NULL;
                if (rc == PE_OK && pe_strmap_put(&keys, key, strlen(key), d->nsamples - 1, e) != PE_OK)
                    rc = PE_ERESOURCE;
            } else {
                free(key);
            }
        }
        if (rc != PE_OK)
            break;
        char *key = make_key(pe_class_name(r->cls), r->idx, e);
        if (!key) {
            rc = PE_ERESOURCE;
            break;
        }
        int prev = pe_strmap_get(&keys, key, strlen(key));
        if (prev < 0) {
            rc = add_sample(d, &cap, &problems, key, r->idx, r->cls, r->mq, r->ms, r->mn, r->err, r->nerr,
                            rec_file[k], rec_line[k], e);
            r->mq = NULL;
            r->ms = NULL;
            r->err = NULL;
            if (rc == PE_OK && pe_strmap_put(&keys, key, strlen(key), d->nsamples - 1, e) != PE_OK)
                rc = PE_ERESOURCE;
        } else {
            /* the rule: files in name order, lines in order, the first record of a key wins */
            const pe_sample *first = &d->samples[prev];
            if (d->nduplicates++ == 0)
                snprintf(d->duplicate_example, sizeof d->duplicate_example,
                         "%.300s:%d repeats sample %.200s of %.300s:%d", d->files[rec_file[k]], rec_line[k], key,
                         d->files[first->src_file], first->src_line);
            free(key);
        }
    }
    /* sample keys and idx strings are owned by the samples; the maps only borrowed them */
    pe_strmap_free(&keys);
    pe_strmap_free(&problems);
    return rc;
}

int pe_dataset_load(const char *path, pe_dataset *d, pe_err *e)
{
    return pe_dataset_load_ex(path, 0, d, e);
}

int pe_dataset_load_ex(const char *path, int flags, pe_dataset *d, pe_err *e)
{
    memset(d, 0, sizeof *d);
    pe_jsonl *files = NULL;
    record *recs = NULL;
    int *rec_file = NULL, *rec_line = NULL;
    int64_t nrec = 0;
    int rc = list_files(path, d, e);
    if (rc != PE_OK)
        goto done;
    files = pe_calloc((size_t)d->nfiles, sizeof *files, e);
    if (!files) {
        rc = PE_ERESOURCE;
        goto done;
    }
    for (int f = 0; f < d->nfiles; f++) {
        if ((rc = pe_jsonl_read_ex(d->files[f], &files[f], first_record_ok, NULL, e)) != PE_OK)
            goto done;
        nrec += files[f].nlines;
    }
    /* a line too short to be a record: one of the lines up to it is wrong, parse no further */
    int cut_file = -1, cut_line = 0;
    size_t cut_len = 0;
    for (int f = 0, done_cut = 0; f < d->nfiles && !done_cut; f++)
        for (int64_t k = 0; k < files[f].nlines; k++)
            if (files[f].len[k] < MIN_RECORD_BYTES) {
                cut_file = f;
                cut_line = files[f].lineno[k];
                cut_len = files[f].len[k];
                for (int g = f + 1; g < d->nfiles; g++)
                    nrec -= files[g].nlines;
                nrec -= files[f].nlines - (k + 1);
                files[f].nlines = k + 1;
                for (int g = f + 1; g < d->nfiles; g++)
                    files[g].nlines = 0;
                done_cut = 1;
                break;
            }
    recs = pe_calloc((size_t)nrec, sizeof *recs, e);
    rec_file = pe_malloc((size_t)nrec * sizeof *rec_file, e);
    rec_line = pe_malloc((size_t)nrec * sizeof *rec_line, e);
    if (!recs || !rec_file || !rec_line) {
        rc = PE_ERESOURCE;
        goto done;
    }
    int64_t *first = pe_malloc(((size_t)d->nfiles + 1) * sizeof *first, e);
    if (!first) {
        rc = PE_ERESOURCE;
        goto done;
    }
    first[0] = 0;
    for (int f = 0; f < d->nfiles; f++) {
        first[f + 1] = first[f] + files[f].nlines;
        for (int64_t k = 0; k < files[f].nlines; k++) {
            rec_file[first[f] + k] = f;
            rec_line[first[f] + k] = files[f].lineno[k];
        }
    }
    /* Lines are independent: parse them in parallel (one cJSON arena per
     * thread), report in order. */
    int nthreads = omp_get_max_threads();
    pe_arena *arenas = pe_calloc((size_t)nthreads, sizeof *arenas, e);
    if (!arenas) {
        free(first);
        rc = PE_ERESOURCE;
        goto done;
    }
#pragma omp parallel for schedule(dynamic, 32) num_threads(nthreads)
    for (int64_t k = 0; k < nrec; k++) {
        int f = rec_file[k];
        char msg[1024];
        cJSON *o = pe_jsonl_parse_in(&files[f], k - first[f], d->files[f], &arenas[omp_get_thread_num()], msg,
                                     sizeof msg);
        if (!o) {
            recs[k].msg = strdup(msg);
            continue;
        }
        parse_record(o, &recs[k], d->files[f], rec_line[k], flags & PE_DATA_NO_TEXT);
    }
    for (int t = 0; t < nthreads; t++)
        pe_arena_free(&arenas[t]);
    free(arenas);
    free(first);
    for (int64_t k = 0; k < nrec; k++) {
        if (recs[k].msg) {
            rc = pe_fail(e, PE_EINPUT, "%s", recs[k].msg);
            goto done;
        }
        if (!recs[k].idx) {  /* strdup of the message itself failed */
            rc = pe_fail(e, PE_ERESOURCE, "%s:%d: out of memory", d->files[rec_file[k]], rec_line[k]);
            goto done;
        }
    }
    if (cut_file >= 0) {  /* every line before parsed well: the short one is the first wrong one */
        rc = pe_fail(e, PE_EINPUT, "%s:%d: a line of %zu bytes, too short for a record (missing fields)",
                     d->files[cut_file], cut_line, cut_len);
        goto done;
    }
    d->nrecords = nrec;
    rc = assemble(d, recs, rec_file, rec_line, nrec, e);
done:
    if (files)
        for (int f = 0; f < d->nfiles; f++)
            pe_jsonl_free(&files[f]);
    free(files);
    if (recs)
        for (int64_t k = 0; k < nrec; k++)
            record_free(&recs[k]);
    free(recs);
    free(rec_file);
    free(rec_line);
    if (rc != PE_OK)
        pe_dataset_free(d);
    return rc;
}

int pe_dataset_duplicates_note(const pe_dataset *d, char *buf, size_t n)
{
    if (!d->nduplicates)
        return 0;
    snprintf(buf, n, "%lld data records repeat the sample key of an earlier record and were skipped (the first "
             "record of a key wins: files in name order, lines in order), e.g. %s", (long long)d->nduplicates,
             d->duplicate_example);
    return 1;
}

void pe_dataset_free(pe_dataset *d)
{
    for (int i = 0; i < d->nsamples; i++) {
        pe_sample *s = &d->samples[i];
        free(s->key);
        free(s->idx);
        free(s->question);
        free_strs(s->steps, s->nsteps);
        free(s->err_steps);
    }
    free(d->samples);
    for (int f = 0; f < d->nfiles; f++)
        free(d->files[f]);
    free(d->files);
    memset(d, 0, sizeof *d);
}

int pe_dataset_find(const pe_dataset *d, const char *key)
{
    for (int i = 0; i < d->nsamples; i++)
        if (strcmp(d->samples[i].key, key) == 0)
            return i;
    return -1;
}

size_t pe_dataset_total_steps(const pe_dataset *d)
{
    size_t n = 0;
    for (int i = 0; i < d->nsamples; i++)
        n += (size_t)d->samples[i].nsteps;
    return n;
}
