/* SHA-256 against the FIPS 180-2 / NIST example vectors, and against Python's
 * hashlib (an independent implementation, OpenSSL underneath) on every length
 * around the padding boundaries and on the bundled data files. */
#include "check.h"
#include "core/sha256.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* byte i of the pattern the Python oracle also builds */
static uint8_t pattern(size_t i) { return (uint8_t)((i * 7 + 3) & 255); }

static void check_vectors(void)
{
    char hex[65];
    pe_sha256_buf("abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    pe_sha256_buf("", 0, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK_INT(strlen(m448), 56);
    pe_sha256_buf(m448, strlen(m448), hex);
    CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    pe_sha256_buf(m896, strlen(m896), hex);
    CHECK_STR(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");

    /* one million 'a', fed in uneven pieces so the partial-block path is exercised */
    pe_sha256 s;
    pe_sha256_init(&s);
    char a[997];
    memset(a, 'a', sizeof a);
    size_t left = 1000000;
    for (size_t k = 1; left; k = k % 997 + 1) {
        size_t n = k < left ? k : left;
        pe_sha256_update(&s, a, n);
        left -= n;
    }
    uint8_t d[32];
    pe_sha256_final(&s, d);
    pe_sha256_hex(d, hex);
    CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Lengths 0..200 (every padding case: 55, 56, 63, 64, 119, 120, ...) against hashlib. */
static void check_lengths_against_hashlib(void)
{
    FILE *p = popen("/usr/bin/python3 -c 'import hashlib\n"
                    "for n in range(201): print(hashlib.sha256(bytes((i*7+3)&255 for i in range(n))).hexdigest())'",
                    "r");
    CHECK(p != NULL);
    if (!p)
        return;
    uint8_t buf[200];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = pattern(i);
    char line[128], hex[65];
    int n = 0;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = '\0';
        pe_sha256_buf(buf, (size_t)n, hex);
        CHECK_STR(hex, line);
        /* same message split in two at every point gives the same digest */
        for (int cut = 0; cut <= n; cut += 13) {
            pe_sha256 s;
            uint8_t d[32];
            char hx[65];
            pe_sha256_init(&s);
            pe_sha256_update(&s, buf, (size_t)cut);
            pe_sha256_update(&s, buf + cut, (size_t)(n - cut));
            pe_sha256_final(&s, d);
            pe_sha256_hex(d, hx);
            CHECK_STR(hx, line);
        }
        n++;
    }
    CHECK_INT(pclose(p), 0);
    CHECK_INT(n, 201);
}

static void check_file(const char *path)
{
    char cmd[4200], line[128], hex[65];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],\"rb\").read()).hexdigest())' '%s'",
             path);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    if (!p)
        return;
    CHECK(fgets(line, sizeof line, p) != NULL);
    line[strcspn(line, "\n")] = '\0';
    CHECK_INT(pclose(p), 0);
    pe_err e = {0};
    CHECK_INT(pe_sha256_file(path, hex, &e), PE_OK);
    CHECK_STR(hex, line);
}

/* The data files (run from the repository root, as ctest does). */
static void check_data_files(void)
{
    check_file("data/subset400.jsonl");
    int nfiles = 0;
    DIR *dir = opendir("data/prmbench");
    CHECK(dir != NULL);
    if (!dir)
        return;
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (!strstr(de->d_name, ".jsonl"))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "data/prmbench/%s", de->d_name);
        check_file(path);
        nfiles++;
    }
    closedir(dir);
    CHECK(nfiles >= 25);
}

static void check_errors(void)
{
    pe_err e = {0};
    char hex[65];
    CHECK_INT(pe_sha256_file("data/no-such-file.jsonl", hex, &e), PE_EIO);
    CHECK(strstr(e.msg, "data/no-such-file.jsonl") != NULL);
    pe_err_clear(&e);
    /* a directory opens but cannot be read */
    CHECK_INT(pe_sha256_file("data", hex, &e), PE_EIO);
    CHECK(strstr(e.msg, "data") != NULL);
}

int main(void)
{
    /* Both compressions: the portable C one, then the SHA-extension one where
     * the CPU has it (the same expected digests must come out of each). */
    int modes[2] = {0, 1};
    for (int i = 0; i < 2; i++) {
        int on = pe_sha256_accelerated(modes[i]);
        if (modes[i] == 1 && !on) {
            printf("SHA extensions not available on this CPU: portable path only\n");
            break;
        }
        printf("sha256: %s compression\n", on ? "SHA-NI" : "portable");
        check_vectors();
        check_lengths_against_hashlib();
        check_data_files();
        check_errors();
    }
    return pe_check_done();
}
