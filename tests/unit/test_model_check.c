/* pe_model_check_weights' scan for NaN and infinity (blocked, vectorized,
 * over the OpenMP threads) against where the bad values were planted: a tiny
 * checkpoint whose up_proj spans three scan blocks (2176 x 64 elements), in
 * f32, f16 and bf16, with Inf/NaN bit patterns written at chosen elements and
 * tensors; the error must name the first of them (the first such tensor in the
 * file's order, its first such element), the verdict and the content hash must
 * not depend on the thread count (1, 2, 3), and the largest finite values must
 * pass. */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "io/model_check.h"
#include "io/safetensors.h"
#include "io/tiny_model.h"

static const char *const UP = "model.layers.0.mlp.up_proj.weight";
enum { UP_N = 2176 * 64 };

static char dir[64];

/* Writes a fresh tiny model of dtype dt into dir. */
static void write_model(pe_dtype dt)
{
    pe_tiny_spec s;
    pe_tiny_spec_default(&s, pe_family_by_name("qwen-prm"));
    s.seed = 3;
    s.dtype = dt;
    s.layers = 1;
    s.hidden = 64;
    s.heads = 4;
    s.kv_heads = 2;
    s.ffn = 2176;
    s.merges = 16;
    pe_err e = {0};
    CHECK_INT(pe_tiny_model_write(dir, &s, &e), PE_OK);
    if (e.code)
        fprintf(stderr, "%s\n", e.msg);
}

/* Overwrites elements [from, from + count) of tensor `name` with the bit pattern v (esize bytes). */
static void plant_in(const char *name, size_t from, size_t count, uint32_t v, size_t esize)
{
    char path[128];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    st_set s;
    pe_err e = {0};
    CHECK_INT(st_open_file(&s, path, &e), PE_OK);
    size_t base = 0;
    for (int i = 0; i < s.n; i++)
        if (!strcmp(s.entries[i].name, name)) {
            CHECK(s.entries[i].end - s.entries[i].begin >= (from + count) * esize);
            base = s.files[0].data_off + s.entries[i].begin;
        }
    st_close(&s);
    CHECK(base > 0);
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (!f || !base)
        return;
    fseek(f, (long)(base + from * esize), SEEK_SET);
    for (size_t j = 0; j < count; j++)
        fwrite(&v, esize, 1, f);  /* little endian: the low esize bytes */
    fclose(f);
}

static void plant(size_t from, size_t count, uint32_t v, size_t esize)
{
    plant_in(UP, from, count, v, esize);
}

/* Runs the check with 1, 2 and 3 threads: the same code, message and hash
 * each time; returns the code, *msg the message of the first run. */
static int check(char *msg, size_t cap, uint64_t *hash)
{
    int code = -1;
    for (int th = 1; th <= 3; th++) {
        omp_set_num_threads(th);
        pe_model m;
        pe_err e = {0};
        CHECK_INT(pe_model_open(&m, dir, &e), PE_OK);
        uint64_t h = 0;
        int rc = pe_model_check_weights(&m, &h, &e);
        pe_model_close(&m);
        if (th == 1) {
            code = rc;
            snprintf(msg, cap, "%s", e.msg);
            *hash = h;
        } else {
            CHECK_INT(rc, code);
            CHECK_STR(e.msg, msg);
            CHECK(h == *hash);
        }
    }
    return code;
}

static void expect_element_in(const char *tensor, size_t want, const char *dtname)
{
    char msg[sizeof ((pe_err *)0)->msg], sub[96];
    uint64_t h;
    CHECK_INT(check(msg, sizeof msg, &h), PE_EINPUT);
    snprintf(sub, sizeof sub, "(element %zu of %s)", want, dtname);
    CHECK(strstr(msg, sub) != NULL);
    char name[128];
    snprintf(name, sizeof name, "tensor '%s'", tensor);
    CHECK(strstr(msg, name) != NULL);
    if (!strstr(msg, sub) || !strstr(msg, name))
        fprintf(stderr, "  wanted \"%s\" and \"%s\" in: %s\n", name, sub, msg);
}

static void expect_element(size_t want, const char *dtname)
{
    expect_element_in(UP, want, dtname);
}

static void test_dtype(pe_dtype dt, const char *dtname, size_t esize, uint32_t inf, uint32_t nan, uint32_t maxfin)
{
    char msg[sizeof ((pe_err *)0)->msg];
    uint64_t h0, h1;
    write_model(dt);
    CHECK_INT(check(msg, sizeof msg, &h0), PE_OK);
    /* the largest finite value everywhere in up_proj passes (and changes the hash) */
    plant(0, UP_N, maxfin, esize);
    plant(0, UP_N / 2, maxfin | (esize == 4 ? 0x80000000u : 0x8000u), esize);  /* and its negative */
    CHECK_INT(check(msg, sizeof msg, &h1), PE_OK);
    CHECK(h1 != h0);
    /* the last element alone */
    write_model(dt);
    plant(UP_N - 1, 1, inf, esize);
    expect_element(UP_N - 1, dtname);
    /* two bad values in the second and third blocks: the first one is named */
    write_model(dt);
    plant(131073, 1, inf, esize);
    plant(70001, 1, nan, esize);
    expect_element(70001, dtname);
    /* in the first block, before others */
    plant(5, 1, nan | (esize == 4 ? 0x80000000u : 0x8000u), esize);  /* a negative NaN */
    expect_element(5, dtname);
    /* bad values in three tensors: the first in the file's (sorted) order is
     * named, not the one with the lowest element index */
    plant_in("model.norm.weight", 0, 1, nan, esize);
    expect_element(5, dtname);
    plant_in("model.layers.0.mlp.down_proj.weight", 100000, 1, inf, esize);
    expect_element_in("model.layers.0.mlp.down_proj.weight", 100000, dtname);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/pe_model_check_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    int saved = omp_get_max_threads();
    test_dtype(PE_DT_F32, "F32", 4, 0x7f800000u, 0x7fc00001u, 0x7f7fffffu);
    test_dtype(PE_DT_F16, "F16", 2, 0x7c00u, 0x7c01u, 0x7bffu);
    test_dtype(PE_DT_BF16, "BF16", 2, 0x7f80u, 0x7f81u, 0x7f7fu);
    omp_set_num_threads(saved);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
    return pe_check_done();
}
