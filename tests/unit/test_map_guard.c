/* A checkpoint or data file that shrinks under its mapping during a run
 * (io/map_guard.h): reading a tensor whose pages were cut off ends the process
 * with exit 4 and a message naming the file, not SIGBUS; a SIGBUS outside any
 * mapped input keeps its default action. Each case runs in a child process
 * (fork), whose exit status and stderr the parent checks. */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "io/jsonl.h"
#include "io/safetensors.h"

static char dir[512];

/* A safetensors file with one F32 tensor "w" of n elements (1.0f each). */
static void write_st(const char *path, int n)
{
    char hdr[256];
    int hl = snprintf(hdr, sizeof hdr, "{\"w\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[0,%d]}}", n, 4 * n);
    while (hl % 8)
        hdr[hl++] = ' ';
    FILE *f = fopen(path, "wb");
    uint64_t len = (uint64_t)hl;
    fwrite(&len, 8, 1, f);
    fwrite(hdr, 1, (size_t)hl, f);
    float one = 1.0f;
    for (int i = 0; i < n; i++)
        fwrite(&one, 4, 1, f);
    fclose(f);
}

/* Runs fn in a child with stderr into a file; returns the wait status. */
static int in_child(void (*fn)(void), const char *errpath)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        fn();
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
}

static char st_path[600], jl_path[600], err_path[600];

static void read_truncated_tensor(void)
{
    st_set s;
    pe_err e = {0};
    if (st_open_file(&s, st_path, &e) != PE_OK)
        _exit(10);
    pe_tensor t;
    int64_t shape[1] = {1 << 16};
    if (st_get(&s, "w", -1, 1, shape, &t, &e) != PE_OK)
        _exit(11);
    if (truncate(st_path, 4096) != 0)  /* another process cuts the file */
        _exit(12);
    volatile float sum = 0;
    for (size_t i = 0; i < t.nbytes / 4; i += 1024) {
        float v;
        memcpy(&v, (const char *)t.data + 4 * i, 4);
        sum += v;
    }
    _exit(13);  /* not reached: the last pages are gone */
}

static void read_truncated_jsonl(void)
{
    pe_jsonl j;
    pe_err e = {0};
    if (pe_jsonl_read(jl_path, &j, &e) != PE_OK)
        _exit(10);
    if (truncate(jl_path, 10) != 0)
        _exit(12);
    volatile unsigned sum = 0;
    for (size_t i = 0; i < j.size; i += 512)
        sum += (unsigned char)j.buf[i];
    _exit(13);
}

/* An unrelated mapping cut short: not an input file, so a plain SIGBUS. */
static void unrelated_sigbus(void)
{
    char p[700];
    snprintf(p, sizeof p, "%s/other", dir);
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 1 << 16) != 0)
        _exit(10);
    volatile char *m = mmap(NULL, 1 << 16, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED || ftruncate(fd, 0) != 0)
        _exit(11);
    /* a guarded mapping exists too (the handler is installed) */
    st_set s;
    pe_err e = {0};
    write_st(st_path, 1 << 16);
    if (st_open_file(&s, st_path, &e) != PE_OK)
        _exit(12);
    volatile char c = m[100];
    (void)c;
    _exit(13);
}

static int err_has(const char *needle)
{
    FILE *f = fopen(err_path, "r");
    char buf[4096] = "";
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    if (!strstr(buf, needle)) {
        fprintf(stderr, "stderr was: %s\n", buf);
        return 0;
    }
    return 1;
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/pe_map_guard_%ld", (long)getpid());
    mkdir(dir, 0755);
    snprintf(st_path, sizeof st_path, "%s/model.safetensors", dir);
    snprintf(jl_path, sizeof jl_path, "%s/data.jsonl", dir);
    snprintf(err_path, sizeof err_path, "%s/stderr", dir);

    write_st(st_path, 1 << 16);
    int st = in_child(read_truncated_tensor, err_path);
    CHECK(WIFEXITED(st));
    if (WIFSIGNALED(st))
        fprintf(stderr, "the child died of signal %d\n", WTERMSIG(st));
    CHECK_INT(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 4);
    CHECK(err_has("model.safetensors: the file shrank while it was being read"));

    FILE *f = fopen(jl_path, "w");
    for (int i = 0; i < 4000; i++)
        fprintf(f, "{\"idx\": \"k%d\", \"pad\": \"................................\"}\n", i);
    fclose(f);
    st = in_child(read_truncated_jsonl, err_path);
    CHECK_INT(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 4);
    CHECK(err_has("data.jsonl: the file shrank while it was being read"));

    st = in_child(unrelated_sigbus, err_path);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS);

    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return pe_check_done();
}
