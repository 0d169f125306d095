// labels: fuzz
/* Mutation fuzzing of the readers that have no command of their own yet: the
 * job configuration (pe_job_parse, pe_job_load, pe_job_set) and the per-shard
 * journals (pe_journal_read). A fixed seed and a fixed number of cases, so a
 * failure is reproduced by running the test again; runs in the sanitizer
 * build too (which is what catches out-of-bounds reads).
 * Outcomes checked, not only "no crash":
 *   - a job either parses, or fails with PE_EUSAGE and a message that starts
 *     with the file name; what parses serializes (pe_job_to_json), and the
 *     serialization parses back to the same serialization;
 *   - `--set key=value` either applies or fails naming --set, leaving the
 *     job as it was;
 *   - a journal whose bytes differ from the written one is never VALID: it is
 *     CORRUPT with a message naming the file. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "io/job.h"
#include "io/journal.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    /* xorshift64*: deterministic across platforms */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static size_t below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

static const char *GOOD_JOB =
    "{\n"
    "  \"model\": \"ckpt/tiny-qwen-prm\",\n"
    "  \"family\": \"qwen-prm\",\n"
    "  \"data\": \"data/subset400.jsonl\",\n"
    "  \"output\": \"out/demo.h5\",\n"
    "  \"json\": \"out/demo.json\",\n"
    "  \"backend\": \"cpu\",\n"
    "  \"max_tokens\": 2048,\n"
    "  \"token_budget\": 8192,\n"
    "  \"threshold\": null,\n"
    "  \"limit\": 0,\n"
    "  \"seed\": 1,\n"
    "  \"checkpoint_dir\": \"out/journal\",\n"
    "  \"label_rule\": \"current\",\n"
    "  \"qwen_backspace_quirk\": true,\n"
    "  \"rlhflow_system_block\": false,\n"
    "  \"progress_interval\": 2\n"
    "}\n";

static const char *TOKENS[] = {
    "0", "-1", "-0", "1e999", "-1e999", "NaN", "Infinity", "9223372036854775807", "9.3e18", "1.5", "1e-320",
    "null", "true", "false", "\"\"", "\"x\"", "[]", "{}", "[[[[[[[[1]]]]]]]]", "\"\\u0000\"", "\"\\ud800\"",
    "\"\xff\xfe\"", "\"model\": \"m\",", "\"seed\": 2,", "\"bogus\": 1,", "\"family\": \"skywork\",", ",", ":", "{",
    "}", "\"", "\\", "\n", "\x01", "2147483648", "4294967296",
};
#define NTOKENS (sizeof TOKENS / sizeof TOKENS[0])

/* One random change to text (in place, cap bytes available). */
static size_t mutate(char *t, size_t n, size_t cap)
{
    int rounds = 1 + (int)below(3);
    for (int r = 0; r < rounds; r++) {
        switch (below(7)) {
        case 0: /* bit flip */
            if (n)
                t[below(n)] ^= (char)(1u << below(8));
            break;
        case 1: /* truncate */
            n = below(n + 1);
            break;
        case 2: { /* insert a token */
            const char *k = TOKENS[below(NTOKENS)];
            size_t kl = strlen(k), at = below(n + 1);
            if (n + kl < cap) {
                memmove(t + at + kl, t + at, n - at);
                memcpy(t + at, k, kl);
                n += kl;
            }
            break;
        }
        case 3: { /* delete a chunk */
            size_t at = below(n + 1), len = 1 + below(16);
            if (at + len > n)
                len = n - at;
            memmove(t + at, t + at + len, n - at - len);
            n -= len;
            break;
        }
        case 4: { /* replace a value after a colon by a token */
            size_t from = below(n);
            char *c = n ? memchr(t + from, ':', n - from) : NULL;
            if (c) {
                size_t at = (size_t)(c - t) + 1, end = at;
                while (end < n && t[end] != ',' && t[end] != '\n' && t[end] != '}')
                    end++;
                const char *k = TOKENS[below(NTOKENS)];
                size_t kl = strlen(k);
                if (n - (end - at) + kl + 1 < cap) {
                    memmove(t + at + 1 + kl, t + end, n - end);
                    t[at] = ' ';
                    memcpy(t + at + 1, k, kl);
                    n = n - (end - at) + kl + 1;
                }
            }
            break;
        }
        case 5: { /* duplicate a line (a key given twice) */
            size_t at = below(n + 1);
            while (at > 0 && t[at - 1] != '\n')
                at--;
            size_t end = at;
            while (end < n && t[end] != '\n')
                end++;
            size_t len = end < n ? end - at + 1 : end - at;
            if (n + len < cap) {
                memmove(t + at + len, t + at, n - at);
                n += len;
            }
            break;
        }
        default: { /* a very long string value */
            const char *q = memchr(t, '"', n);
            if (q && n + 5000 < cap) {
                size_t at = (size_t)(q - t) + 1;
                memmove(t + at + 5000, t + at, n - at);
                memset(t + at, 'p', 5000);
                n += 5000;
            }
            break;
        }
        }
    }
    return n;
}

/* Serialization is stable: what a job writes reads back to the same text. */
static void check_round_trip(const pe_job *j)
{
    pe_err e = {0};
    char *a = pe_job_to_json(j, &e);
    CHECK(a != NULL);
    if (!a)
        return;
    pe_job k;
    pe_job_default(&k);
    int rc = pe_job_parse(&k, a, "roundtrip", NULL, &e);
    if (rc)
        fprintf(stderr, "round trip failed: %s\n%s\n", e.msg, a);
    CHECK_INT(rc, PE_OK);
    char *b = rc ? NULL : pe_job_to_json(&k, &e);
    if (b && strcmp(a, b))
        fprintf(stderr, "round trip differs:\n%s\n%s\n", a, b);
    CHECK(b && !strcmp(a, b));
    free(a);
    free(b);
}

static int bad_job_cases;

static void fuzz_job_text(int cases)
{
    enum { CAP = 1 << 15 };
    char *t = malloc(CAP + 1);
    int ok = 0, failed_ok = 0;
    for (int i = 0; i < cases; i++) {
        size_t n = strlen(GOOD_JOB);
        memcpy(t, GOOD_JOB, n);
        n = mutate(t, n, CAP);
        t[n] = '\0';
        pe_job j;
        pe_job_default(&j);
        pe_err e = {0};
        int rc = pe_job_parse(&j, t, "fuzz.json", "base", &e);
        if (rc == PE_OK) {
            ok++;
            check_round_trip(&j);
            pe_err ce = {0};
            int crc = pe_job_check(&j, &ce);
            CHECK(crc == PE_OK || (crc == PE_EUSAGE && strstr(ce.msg, "job") == ce.msg));
            continue;
        }
        int named = rc == PE_EUSAGE && strncmp(e.msg, "fuzz.json", 9) == 0;
        if (!named && bad_job_cases++ < 5)
            fprintf(stderr, "case %d: exit %d, message '%s' does not start with the file name; input:\n%s\n", i, rc,
                    e.msg, t);
        CHECK(named);
        failed_ok++;
    }
    printf("job text: %d cases, %d parsed, %d refused\n", cases, ok, failed_ok);
    free(t);
}

static void fuzz_job_set(int cases)
{
    static const char *keys[] = {"model", "tokenizer", "family", "data", "output", "json", "backend", "max_tokens", "token_budget",
                                 "threshold", "limit", "seed", "checkpoint_dir", "label_rule",
                                 "qwen_backspace_quirk", "rlhflow_system_block", "progress_interval", "bogus", "",
                                 "seed=1", "MODEL"};
    static const char *vals[] = {"", "0", "-1", "1", "2048", "1e999", "nan", "inf", "-inf", "0x10", "1.5", " 3",
                                 "3 ", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
                                 "null", "true", "false", "cpu", "cuda", "skywork", "original", "x=y", "\xff",
                                 "1e-320", "+5", "07"};
    char long_val[5000];
    memset(long_val, 'v', sizeof long_val - 1);
    long_val[sizeof long_val - 1] = '\0';
    int applied = 0;
    for (int i = 0; i < cases; i++) {
        pe_job j;
        pe_job_default(&j);
        pe_err e = {0};
        CHECK_INT(pe_job_parse(&j, GOOD_JOB, "good.json", NULL, &e), PE_OK);
        char *before = pe_job_to_json(&j, &e);
        char a[6000];
        const char *v = below(20) ? vals[below(sizeof vals / sizeof vals[0])] : long_val;
        snprintf(a, sizeof a, "%s%s%s", keys[below(sizeof keys / sizeof keys[0])], below(10) ? "=" : "", v);
        int rc = pe_job_set(&j, a, &e);
        char *after = pe_job_to_json(&j, &e);
        if (rc == PE_OK) {
            applied++;
            check_round_trip(&j);
        } else {
            CHECK_INT(rc, PE_EUSAGE);
            CHECK(strstr(e.msg, "--set") == e.msg);
            /* a refused setting leaves the job as it was */
            CHECK(before && after && !strcmp(before, after));
        }
        free(before);
        free(after);
    }
    printf("--set: %d cases, %d applied\n", cases, applied);
}

/* A job file with a NUL byte or one that is not there: named in the message. */
static void job_files(const char *dir)
{
    char p[512];
    snprintf(p, sizeof p, "%s/nul.json", dir);
    FILE *f = fopen(p, "wb");
    fwrite("{\"model\": \"m\0\"}", 1, 15, f);
    fclose(f);
    pe_job j;
    pe_job_default(&j);
    pe_err e = {0};
    CHECK_INT(pe_job_load(&j, p, &e), PE_EUSAGE);
    CHECK(strstr(e.msg, p) == e.msg && strstr(e.msg, "NUL"));
    pe_err_clear(&e);
    snprintf(p, sizeof p, "%s/missing.json", dir);
    CHECK_INT(pe_job_load(&j, p, &e), PE_EIO);
    CHECK(strstr(e.msg, p) != NULL);
}

static void fuzz_journal(const char *dir, int cases)
{
    static const char *hash = "0123456789abcdef0123456789abcdef";
    uint8_t payload[300];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7);
    pe_err e = {0};
    CHECK_INT(pe_journal_write(dir, hash, 5, payload, sizeof payload, &e), PE_OK);
    char path[512];
    CHECK_INT(pe_journal_path(dir, 5, path, sizeof path, &e), PE_OK);
    uint8_t good[1024], img[1024 + 64];
    FILE *f = fopen(path, "rb");
    size_t n = fread(good, 1, sizeof good, f);
    fclose(f);
    int corrupt = 0, same = 0;
    for (int i = 0; i < cases; i++) {
        memcpy(img, good, n);
        size_t m = n;
        int rounds = 1 + (int)below(4);
        for (int r = 0; r < rounds; r++) {
            switch (below(5)) {
            case 0: img[below(m)] ^= (uint8_t)(1u << below(8)); break;
            case 1: m = below(m + 1); break;
            case 2: if (m + 8 < sizeof img) { memset(img + m, (int)below(256), 8); m += 8; } break;
            case 3: { /* a header field (lengths, version, shard id) set to an extreme */
                static const size_t at[] = {8, 12, 16 + 32, 24 + 32};
                size_t k = at[below(4)];
                uint64_t v = below(2) ? UINT64_MAX : (uint64_t)1 << (below(64));
                if (k + 8 <= m)
                    memcpy(img + k, &v, k < 16 ? 4 : 8);
                break;
            }
            default: img[below(m ? m : 1)] = (uint8_t)below(256); break;
            }
        }
        f = fopen(path, "wb");
        fwrite(img, 1, m, f);
        fclose(f);
        void *p = NULL;
        size_t len = 0;
        pe_err_clear(&e);
        pe_journal_status st = pe_journal_read(dir, hash, 5, &p, &len, &e);
        if (m == n && !memcmp(img, good, n)) {
            same++;
            CHECK_INT(st, PE_JOURNAL_VALID);
            CHECK(len == sizeof payload && p && !memcmp(p, payload, len));
        } else {
            corrupt++;
            CHECK_INT(st, PE_JOURNAL_CORRUPT);
            CHECK(p == NULL && strstr(e.msg, path) == e.msg);
        }
        free(p);
    }
    unlink(path);
    printf("journal: %d cases, %d corrupt, %d unchanged\n", cases, corrupt, same);
}

int main(void)
{
    char dir[] = "/tmp/pe_test_fuzz_job_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    fuzz_job_text(20000);
    fuzz_job_set(5000);
    job_files(dir);
    fuzz_journal(dir, 3000);
    char p[600];
    snprintf(p, sizeof p, "%s/nul.json", dir);
    unlink(p);
    rmdir(dir);
    return pe_check_done();
}
