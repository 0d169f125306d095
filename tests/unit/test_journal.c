/* Per-shard journals: SHA-256 against FIPS 180 vectors and coreutils'
 * sha256sum, the byte layout of journal.h, round trips, and every way a
 * journal can be unusable (each truncation, each flipped byte, another job's,
 * another shard's, temporary files): always PE_JOURNAL_CORRUPT or ABSENT with
 * a message naming the file, never a trusted payload or a crash. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "io/journal.h"

static const char *HASH_A = "3f1c2a9b0e7d6c5b4a3928170615f4e3d2c1b0a99887766554433221100ffeed";
static const char *HASH_B = "3f1c2a9b0e7d6c5b4a3928170615f4e3d2c1b0a99887766554433221100ffeee";

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *ent;
    char p[4096];
    while ((ent = readdir(d)) != NULL) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, ent->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static size_t slurp(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void spit(const char *path, const uint8_t *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    if (n)
        fwrite(buf, 1, n, f);
    fclose(f);
}

static void test_sha256_vectors(void)
{
    static const struct { const char *msg; const char *digest; } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    };
    uint8_t d[32];
    char h[65];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        pe_journal_sha256(v[i].msg, strlen(v[i].msg), d);
        hex(d, 32, h);
        CHECK_STR(h, v[i].digest);
    }
    /* One million 'a' (FIPS 180-2 appendix B.3). */
    size_t n = 1000000;
    char *a = malloc(n);
    memset(a, 'a', n);
    pe_journal_sha256(a, n, d);
    hex(d, 32, h);
    CHECK_STR(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

/* Every length around the 55/56/64-byte padding boundaries, against coreutils. */
static void test_sha256_against_sha256sum(const char *tmp)
{
    char path[4096], cmd[4200], line[128], h[65];
    snprintf(path, sizeof path, "%s/sha_input", tmp);
    uint8_t buf[200];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 37 + 11);
    for (size_t n = 0; n <= 130; n++) {
        spit(path, buf, n);
        snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
        FILE *p = popen(cmd, "r");
        CHECK(p != NULL);
        if (!p)
            return;
        line[0] = '\0';
        CHECK(fgets(line, sizeof line, p) != NULL);
        pclose(p);
        line[64] = '\0';
        uint8_t d[32];
        pe_journal_sha256(buf, n, d);
        hex(d, 32, h);
        if (strcmp(h, line) != 0)
            fprintf(stderr, "sha256 of %zu bytes: %s, sha256sum says %s\n", n, h, line);
        CHECK_STR(h, line);
    }
}

static void test_layout_and_round_trip(const char *dir)
{
    pe_err e = {0};
    const char payload[] = "per-sample results \0 and step scores";
    size_t plen = sizeof payload;  /* includes an inner NUL on purpose */
    CHECK_INT(pe_journal_write(dir, HASH_A, 7, payload, plen, &e), PE_OK);
    CHECK_STR(e.msg, "");

    char path[4096];
    CHECK_INT(pe_journal_path(dir, 7, path, sizeof path, &e), PE_OK);
    uint8_t img[4096];
    size_t n = slurp(path, img, sizeof img);
    size_t hl = strlen(HASH_A);
    CHECK_INT(n, 64 + hl + plen);
    CHECK(memcmp(img, "PEJRNL\r\n", 8) == 0);
    CHECK_INT(img[8], 1);                      /* version 1, little-endian */
    CHECK_INT(img[9] | img[10] | img[11], 0);
    CHECK_INT(img[12], hl);
    CHECK(memcmp(img + 16, HASH_A, hl) == 0);
    CHECK_INT(img[16 + hl], 7);                /* shard id, little-endian u64 */
    CHECK_INT(img[16 + hl + 8], plen);         /* payload length */
    CHECK(memcmp(img + 32 + hl, payload, plen) == 0);
    uint8_t d[32];
    pe_journal_sha256(img, n - 32, d);
    CHECK(memcmp(d, img + n - 32, 32) == 0);

    void *got = NULL;
    size_t glen = 0;
    CHECK_INT(pe_journal_read(dir, HASH_A, 7, &got, &glen, &e), PE_JOURNAL_VALID);
    CHECK_INT(glen, plen);
    CHECK(got && memcmp(got, payload, plen) == 0);
    free(got);
    CHECK_INT(pe_journal_read(dir, HASH_B, 7, &got, &glen, &e), PE_JOURNAL_CORRUPT);
    CHECK(got == NULL);
    CHECK(strstr(e.msg, "another job") != NULL);
    pe_err_clear(&e);

    /* Rewriting replaces atomically; an empty payload is valid and non-NULL. */
    CHECK_INT(pe_journal_write(dir, HASH_A, 7, NULL, 0, &e), PE_OK);
    CHECK_INT(pe_journal_read(dir, HASH_A, 7, &got, &glen, &e), PE_JOURNAL_VALID);
    CHECK(got != NULL);
    CHECK_INT(glen, 0);
    free(got);

    /* A larger payload with every byte value, and a large shard id. */
    size_t big = 100000;
    uint8_t *bp = malloc(big);
    for (size_t i = 0; i < big; i++)
        bp[i] = (uint8_t)(i * 131 + (i >> 8));
    uint64_t huge = UINT64_C(18446744073709551615);
    CHECK_INT(pe_journal_write(dir, HASH_A, huge, bp, big, &e), PE_OK);
    CHECK_INT(pe_journal_read(dir, HASH_A, huge, &got, &glen, &e), PE_JOURNAL_VALID);
    CHECK_INT(glen, big);
    CHECK(got && memcmp(got, bp, big) == 0);
    free(got);
    free(bp);
    CHECK_INT(e.code, PE_OK);

    /* No temporary file is left behind. */
    DIR *dd = opendir(dir);
    struct dirent *ent;
    int stray = 0;
    while ((ent = readdir(dd)) != NULL)
        if (strstr(ent->d_name, ".tmp"))
            stray++;
    closedir(dd);
    CHECK_INT(stray, 0);
}

/* Reads shard `shard` and expects CORRUPT, a NULL payload, and a PE_EINPUT
 * message that names the file and contains `reason` (if given). */
static void expect_corrupt(const char *dir, const char *hash, uint64_t shard, const char *reason)
{
    pe_err e = {0};
    void *got = (void *)1;
    size_t glen = 99;
    char path[4096];
    pe_journal_path(dir, shard, path, sizeof path, NULL);
    pe_journal_status s = pe_journal_read(dir, hash, shard, &got, &glen, &e);
    CHECK_INT(s, PE_JOURNAL_CORRUPT);
    CHECK(got == NULL);
    CHECK_INT(glen, 0);
    CHECK_INT(e.code, PE_EINPUT);
    CHECK(strstr(e.msg, path) != NULL);
    if (reason && !strstr(e.msg, reason)) {
        fprintf(stderr, "message lacks '%s': %s\n", reason, e.msg);
        CHECK(0);
    }
    free(s == PE_JOURNAL_VALID ? got : NULL);
}

static void test_corruptions(const char *dir)
{
    pe_err e = {0};
    const uint8_t payload[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 255};
    const char *hash = "abc123";  /* small journal: every length and byte is cheap to try */
    CHECK_INT(pe_journal_write(dir, hash, 3, payload, sizeof payload, &e), PE_OK);
    char path[4096];
    pe_journal_path(dir, 3, path, sizeof path, NULL);
    uint8_t good[256], bad[256];
    size_t n = slurp(path, good, sizeof good);
    CHECK_INT(n, 64 + 6 + sizeof payload);

    /* Truncated at every length, the empty file included. */
    int all_corrupt = 1;
    for (size_t len = 0; len < n; len++) {
        spit(path, good, len);
        void *got = NULL;
        size_t glen = 0;
        pe_err e2 = {0};
        if (pe_journal_read(dir, hash, 3, &got, &glen, &e2) != PE_JOURNAL_CORRUPT || got) {
            fprintf(stderr, "truncation to %zu bytes not detected\n", len);
            all_corrupt = 0;
        }
        free(got);
    }
    CHECK(all_corrupt);
    spit(path, good, 20);
    expect_corrupt(dir, hash, 3, "truncated");

    /* Every byte flipped (all bits, then the lowest bit alone). */
    all_corrupt = 1;
    for (size_t i = 0; i < n; i++)
        for (int mask = 0xff; mask; mask = mask == 0xff ? 0x01 : 0) {
            memcpy(bad, good, n);
            bad[i] ^= (uint8_t)mask;
            spit(path, bad, n);
            void *got = NULL;
            size_t glen = 0;
            pe_err e2 = {0};
            if (pe_journal_read(dir, hash, 3, &got, &glen, &e2) != PE_JOURNAL_CORRUPT || got) {
                fprintf(stderr, "byte %zu ^ 0x%02x not detected\n", i, mask);
                all_corrupt = 0;
            }
            free(got);
        }
    CHECK(all_corrupt);
    memcpy(bad, good, n);
    bad[n - 40] ^= 1;  /* inside the payload */
    spit(path, bad, n);
    expect_corrupt(dir, hash, 3, "checksum mismatch");
    memcpy(bad, good, n);
    bad[0] = 'X';
    spit(path, bad, n);
    expect_corrupt(dir, hash, 3, "bad magic");

    /* Trailing garbage after a complete journal. */
    memcpy(bad, good, n);
    bad[n] = 0;
    spit(path, bad, n + 1);
    expect_corrupt(dir, hash, 3, "trailing bytes");

    /* The intact file reads again. */
    spit(path, good, n);
    void *got = NULL;
    size_t glen = 0;
    CHECK_INT(pe_journal_read(dir, hash, 3, &got, &glen, &e), PE_JOURNAL_VALID);
    CHECK(got && glen == sizeof payload && memcmp(got, payload, glen) == 0);
    free(got);

    /* Another job's journal (same length hash, one digit off; and a shorter one). */
    expect_corrupt(dir, "abc124", 3, "another job");
    expect_corrupt(dir, "abc12", 3, "another job");

    /* A journal renamed to another shard's name. */
    char other[4096];
    pe_journal_path(dir, 4, other, sizeof other, NULL);
    CHECK_INT(rename(path, other), 0);
    expect_corrupt(dir, hash, 4, "holds shard 3, expected shard 4");
    CHECK_INT(pe_journal_read(dir, hash, 3, &got, &glen, &e), PE_JOURNAL_ABSENT);

    /* A folder where a journal should be: the journal could never be written
     * there, so it is an error (known before the shard's work), not a redo. */
    char sub[4096];
    pe_journal_path(dir, 9, sub, sizeof sub, NULL);
    CHECK_INT(mkdir(sub, 0777), 0);
    pe_err_clear(&e);
    CHECK_INT(pe_journal_read(dir, hash, 9, &got, &glen, &e), PE_JOURNAL_ERROR);
    CHECK_INT(e.code, PE_EIO);
    CHECK(strstr(e.msg, sub) != NULL && strstr(e.msg, "is a folder") != NULL);
    /* A FIFO: corrupt at once (opened without blocking), never waited on. */
    char fifo[4096];
    pe_journal_path(dir, 10, fifo, sizeof fifo, NULL);
    CHECK_INT(mkfifo(fifo, 0666), 0);
    expect_corrupt(dir, hash, 10, "not a regular file");
    unlink(fifo);
    pe_err_clear(&e);
    rmdir(sub);
    CHECK_INT(e.code, PE_OK);
}

static void test_list_and_strays(const char *dir)
{
    pe_err e = {0};
    CHECK_INT(pe_journal_write(dir, HASH_A, 0, "x", 1, &e), PE_OK);
    CHECK_INT(pe_journal_write(dir, HASH_A, 12, "y", 1, &e), PE_OK);
    CHECK_INT(pe_journal_write(dir, HASH_A, 2, "z", 1, &e), PE_OK);
    /* What a writer killed before its rename leaves, and other look-alikes. */
    static const char *strays[] = {"shard-5.journal.tmp", ".shard-5.journal.node1.123.tmp", "shard-05.journal",
                                   "shard-.journal", "shard-x.journal", "shard-5.journal~", "shard-5",
                                   "shard-99999999999999999999.journal", "SHARD-6.journal"};
    char p[4096];
    for (size_t i = 0; i < sizeof strays / sizeof strays[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, strays[i]);
        spit(p, (const uint8_t *)"junk", 4);
    }
    uint64_t *ids = NULL;
    size_t n = 0;
    CHECK_INT(pe_journal_list(dir, &ids, &n, &e), PE_OK);
    CHECK_INT(n, 3);
    if (n == 3) {
        CHECK_INT(ids[0], 0);
        CHECK_INT(ids[1], 2);
        CHECK_INT(ids[2], 12);
    }
    free(ids);
    void *got = NULL;
    size_t glen = 0;
    CHECK_INT(pe_journal_read(dir, HASH_A, 5, &got, &glen, &e), PE_JOURNAL_ABSENT);
    CHECK(got == NULL);
    CHECK_INT(e.code, PE_OK);

    /* A folder that does not exist yet: nothing listed, everything absent. */
    snprintf(p, sizeof p, "%s/not/yet", dir);
    CHECK_INT(pe_journal_list(p, &ids, &n, &e), PE_OK);
    CHECK_INT(n, 0);
    CHECK(ids == NULL);
    CHECK_INT(pe_journal_read(p, HASH_A, 0, &got, &glen, &e), PE_JOURNAL_ABSENT);
    /* ...and writing creates it, parents included. */
    CHECK_INT(pe_journal_write(p, HASH_A, 1, "w", 1, &e), PE_OK);
    CHECK_INT(pe_journal_read(p, HASH_A, 1, &got, &glen, &e), PE_JOURNAL_VALID);
    free(got);
}

static void test_bad_arguments(const char *dir)
{
    pe_err e = {0};
    void *got = NULL;
    size_t glen = 0;
    CHECK_INT(pe_journal_write(dir, "", 1, "a", 1, &e), PE_EUSAGE);
    pe_err_clear(&e);
    CHECK_INT(pe_journal_write(dir, "ABC", 1, "a", 1, &e), PE_EUSAGE);  /* upper case is not canonical */
    pe_err_clear(&e);
    CHECK_INT(pe_journal_write(dir, "12 4", 1, "a", 1, &e), PE_EUSAGE);
    pe_err_clear(&e);
    CHECK_INT(pe_journal_write(dir, HASH_A, 1, NULL, 5, &e), PE_EUSAGE);
    pe_err_clear(&e);
    char long_hash[PE_JOURNAL_HASH_MAX + 2];
    memset(long_hash, 'a', sizeof long_hash - 1);
    long_hash[sizeof long_hash - 1] = '\0';
    CHECK_INT(pe_journal_write(dir, long_hash, 1, "a", 1, &e), PE_EUSAGE);
    pe_err_clear(&e);
    long_hash[PE_JOURNAL_HASH_MAX] = '\0';  /* exactly the maximum is fine */
    CHECK_INT(pe_journal_write(dir, long_hash, 1, "a", 1, &e), PE_OK);
    CHECK_INT(pe_journal_read(dir, long_hash, 1, &got, &glen, &e), PE_JOURNAL_VALID);
    free(got);
    CHECK_INT(pe_journal_read(dir, "xyz", 1, &got, &glen, &e), PE_JOURNAL_ERROR);
    CHECK_INT(e.code, PE_EUSAGE);
    pe_err_clear(&e);

    /* A file where the folder should be: an I/O error, not a crash. */
    char p[4096];
    snprintf(p, sizeof p, "%s/plainfile", dir);
    spit(p, (const uint8_t *)"x", 1);
    CHECK_INT(pe_journal_write(p, HASH_A, 1, "a", 1, &e), PE_EIO);
    CHECK(strstr(e.msg, "plainfile") != NULL);
    pe_err_clear(&e);
    snprintf(p, sizeof p, "%s/plainfile/sub", dir);
    CHECK_INT(pe_journal_write(p, HASH_A, 1, "a", 1, &e), PE_EIO);
    pe_err_clear(&e);
}

int main(void)
{
    char root[] = "/tmp/pe_test_journal_XXXXXX";
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    char d1[512], d2[512], d3[512], d4[512];
    snprintf(d1, sizeof d1, "%s/ckpt_roundtrip", root);
    snprintf(d2, sizeof d2, "%s/ckpt_corrupt", root);
    snprintf(d3, sizeof d3, "%s/ckpt_list", root);
    snprintf(d4, sizeof d4, "%s/ckpt_args", root);
    mkdir(d2, 0777);
    mkdir(d3, 0777);
    mkdir(d4, 0777);

    test_sha256_vectors();
    test_sha256_against_sha256sum(root);
    test_layout_and_round_trip(d1);
    test_corruptions(d2);
    test_list_and_strays(d3);
    test_bad_arguments(d4);

    rm_tree(root);
    return pe_check_done();
}
