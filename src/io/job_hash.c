/* Job hash for resume journals (job_hash.h). */
#define _GNU_SOURCE  /* struct stat's st_mtim */
#include "job_hash.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/sha256.h"
#include "../core/shard.h"
#include "../core/version.h"
#include "infile.h"

/* The safetensors header limit of src/io/safetensors.c: a larger one is not a checkpoint. */
#define HEADER_MAX (100u << 20)

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* name size mtime sha256(first 8 bytes + JSON header) of one safetensors file. */
static int weights_line(FILE *out, const char *dir, const char *name, pe_err *e)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    if (stat(path, &st) != 0)
        return pe_fail(e, PE_EIO, "%s: cannot stat: %s", path, strerror(errno));
    FILE *f = pe_fopen_input(path);
    if (!f)
        return pe_fail(e, PE_EIO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t len8[8];
    int rc = PE_OK;
    uint64_t hlen = 0;
    if (fread(len8, 1, 8, f) != 8)
        rc = pe_fail(e, PE_EINPUT, "%s: shorter than the 8-byte header length", path);
    for (int i = 0; rc == PE_OK && i < 8; i++)
        hlen |= (uint64_t)len8[i] << (8 * i);
    if (rc == PE_OK && (hlen > HEADER_MAX || hlen > (uint64_t)st.st_size - 8))
        rc = pe_fail(e, PE_EINPUT, "%s: header length %llu does not fit the file", path, (unsigned long long)hlen);
    char *hdr = rc ? NULL : pe_malloc((size_t)hlen + 1, e);
    if (rc == PE_OK && !hdr)
        rc = PE_ERESOURCE;
    if (rc == PE_OK && fread(hdr, 1, (size_t)hlen, f) != (size_t)hlen)
        rc = pe_fail(e, PE_EIO, "%s: cannot read the header", path);
    if (rc == PE_OK) {
        pe_sha256 s;
        uint8_t d[32];
        char hex[65];
        pe_sha256_init(&s);
        pe_sha256_update(&s, len8, 8);
        pe_sha256_update(&s, hdr, (size_t)hlen);
        pe_sha256_final(&s, d);
        pe_sha256_hex(d, hex);
        fprintf(out, "weights %s size=%lld mtime=%lld.%09ld header_sha256=%s\n", name, (long long)st.st_size,
                (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec, hex);
    }
    free(hdr);
    fclose(f);
    return rc;
}

/* pytorch_model.bin and its shards (not training_args.bin and the like,
 * which no run reads). */
static int is_torch_weights(const char *name)
{
    return !strncmp(name, "pytorch_model", 13) && ends_with(name, ".bin");
}

/* name size mtime sha256(first MiB) of one PyTorch .bin file: torch.save
 * writes data.pkl, the state dict's names, shapes and storages, first. */
static int bin_line(FILE *out, const char *dir, const char *name, pe_err *e)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    if (stat(path, &st) != 0)
        return pe_fail(e, PE_EIO, "%s: cannot stat: %s", path, strerror(errno));
    FILE *f = fopen(path, "rb");
    if (!f)
        return pe_fail(e, PE_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1u << 20;
    uint8_t *buf = pe_malloc(cap, e);
    size_t n = buf ? fread(buf, 1, cap, f) : 0;
    int rc = !buf ? PE_ERESOURCE : ferror(f) ? pe_fail(e, PE_EIO, "%s: read error", path) : PE_OK;
    fclose(f);
    if (rc == PE_OK) {
        pe_sha256 s;
        uint8_t d[32];
        char hex[65];
        pe_sha256_init(&s);
        pe_sha256_update(&s, buf, n);
        pe_sha256_final(&s, d);
        pe_sha256_hex(d, hex);
        fprintf(out, "weights %s size=%lld mtime=%lld.%09ld head_sha256=%s\n", name, (long long)st.st_size,
                (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec, hex);
    }
    free(buf);
    return rc;
}

/* The files a tokenizer is read from (src/io/tokenizer_load.c). */
int pe_is_tokenizer_file(const char *name)
{
    return !strcmp(name, "tokenizer.json") || !strcmp(name, "tokenizer.model") ||
           !strcmp(name, "tokenizer_config.json") || !strcmp(name, "special_tokens_map.json");
}

/* The job key "tokenizer": SHA-256 of the file it names (or of each tokenizer
 * file of the folder) and of the configuration files beside it. */
static int tokenizer_lines(FILE *out, const char *path, pe_err *e)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return pe_fail(e, PE_EIO, "%s: %s", path, strerror(errno));
    char dir[8192];
    const char *single = NULL;
    if (S_ISDIR(st.st_mode)) {
        snprintf(dir, sizeof dir, "%s", path);
    } else {
        const char *slash = strrchr(path, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
        single = path;
    }
    static const char *const names[] = {"tokenizer.json", "tokenizer.model", "tokenizer_config.json",
                                        "special_tokens_map.json"};
    char hex[65], p[8300];
    if (single) {
        int rc = pe_sha256_file(single, hex, e);
        if (rc)
            return rc;
        const char *base = strrchr(single, '/');
        fprintf(out, "tokenizer %s sha256=%s\n", base ? base + 1 : single, hex);
    }
    for (int i = single ? 2 : 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        if (stat(p, &st) != 0)
            continue;
        int rc = pe_sha256_file(p, hex, e);
        if (rc)
            return rc;
        fprintf(out, "tokenizer %s sha256=%s\n", names[i], hex);
    }
    return PE_OK;
}

int pe_model_fingerprint(const char *dir, char **text, pe_err *e)
{
    *text = NULL;
    DIR *d = opendir(dir);
    if (!d)
        return pe_fail(e, PE_EIO, "%s: cannot list the model folder: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = PE_OK;
    struct dirent *de;
    while (rc == PE_OK && (de = readdir(d))) {
        const char *nm = de->d_name;
        int want = ends_with(nm, ".safetensors") || !strcmp(nm, "config.json") || pe_is_tokenizer_file(nm) ||
                   !strcmp(nm, "model.safetensors.index.json") || is_torch_weights(nm) ||
                   !strcmp(nm, "pytorch_model.bin.index.json");
        if (!want)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nn = pe_realloc(names, cap * sizeof *names, e);
            if (!nn) {
                rc = PE_ERESOURCE;
                break;
            }
            names = nn;
        }
        if (!(names[n] = pe_strdup(nm, e)))
            rc = PE_ERESOURCE;
        else
            n++;
    }
    closedir(d);
    if (rc == PE_OK && n)
        qsort(names, n, sizeof *names, cmp_str);  /* readdir order is the file system's */
    char *buf = NULL;
    size_t blen = 0;
    FILE *out = rc ? NULL : open_memstream(&buf, &blen);
    if (rc == PE_OK && !out)
        rc = pe_fail(e, PE_ERESOURCE, "out of memory");
    for (size_t i = 0; rc == PE_OK && i < n; i++) {
        if (ends_with(names[i], ".safetensors")) {
            rc = weights_line(out, dir, names[i], e);
        } else if (is_torch_weights(names[i])) {
            rc = bin_line(out, dir, names[i], e);
        } else {
            char path[8192], hex[65];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            rc = pe_sha256_file(path, hex, e);
            if (rc == PE_OK)
                fprintf(out, "file %s sha256=%s\n", names[i], hex);
        }
    }
    if (out)
        fclose(out);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc != PE_OK) {
        free(buf);
        return rc;
    }
    *text = buf;
    return PE_OK;
}

int pe_job_hash_text(const pe_job_hash_in *in, char **text, pe_err *e)
{
    *text = NULL;
    const pe_job *j = in->job;
    char *model = NULL;
    int rc = pe_model_fingerprint(j->model, &model, e);
    if (rc != PE_OK)
        return rc;
    char *buf = NULL;
    size_t blen = 0;
    FILE *out = open_memstream(&buf, &blen);
    if (!out) {
        free(model);
        return pe_fail(e, PE_ERESOURCE, "out of memory");
    }
    /* The threshold as exact bits: 0.5 and 0.5000000000000001 label differently. */
    fprintf(out, "prmeval-journal-job v1\ntool %s %s\nmetric %s\nshard_problems %d\n", PRMEVAL_VERSION,
            PRMEVAL_GIT_COMMIT, in->metric_definition ? in->metric_definition : "", PE_SHARD_PROBLEMS);
    fprintf(out, "family %s\nmax_tokens %lld\ntoken_budget %lld\nthreshold %a\nlabel_rule %s\n", in->family,
            (long long)j->max_tokens, (long long)j->token_budget, in->threshold, j->label_rule);
    fprintf(out, "qwen_backspace_quirk %d\nrlhflow_system_block %d\nlimit %lld\nbackends %s\n",
            j->qwen_backspace_quirk, j->rlhflow_system_block, (long long)j->limit, in->backends);
    fprintf(out, "reward_rounding %s\n", in->reward_rounding ? in->reward_rounding : "none");
    /* Reuse changes rewards by the rounding of tiles from another first row
     * (within 1e-5): a resume never mixes shards computed with and without it. */
    fprintf(out, "prefix_reuse %d\n", j->prefix_reuse != 0);
    /* The cache bound changes which batch computes an ancestor's rows, never
     * their values on the CPU (a segment's rows are one group of the tiled
     * product wherever they run): out of the hash there, so a rank killed for
     * memory resumes with a smaller bound and keeps its journals. cuBLASLt
     * picks its algorithm by the batch's shape, as with token_budget. */
    if (j->prefix_reuse && in->backends && strstr(in->backends, "cuda"))
        fprintf(out, "prefix_cache_mb %lld\n", (long long)j->prefix_cache_mb);
    for (int i = 0; i < in->ndata; i++)
        fprintf(out, "data sha256=%s\n", in->data_sha256[i]);
    fputs(model, out);
    free(model);
    /* Only when set, so the hashes (and journals) of jobs without it stay as they were. */
    if (j->tokenizer[0] && (rc = tokenizer_lines(out, j->tokenizer, e)) != PE_OK) {
        fclose(out);
        free(buf);
        return rc;
    }
    fclose(out);
    if (!buf)
        return pe_fail(e, PE_ERESOURCE, "out of memory");
    *text = buf;
    return PE_OK;
}

int pe_job_hash(const pe_job_hash_in *in, char hex[65], pe_err *e)
{
    char *text = NULL;
    int rc = pe_job_hash_text(in, &text, e);
    if (rc != PE_OK)
        return rc;
    pe_sha256_buf(text, strlen(text), hex);
    free(text);
    return PE_OK;
}
