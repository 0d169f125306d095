// labels: fuzz
/* The state-dict pickle reader (src/io/pickle.c) in process: pickles built
 * opcode by opcode as torch.save writes them (protocol 2) and as protocol 4
 * would (SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL, FRAME) must give the tensor
 * descriptions they encode; refused ones must name the opcode and its byte;
 * and 30000 mutations of a valid pickle must each be read or refused with a
 * message starting with the name given, never crash (run in the ASan build
 * too). Files written by real torch.save are tested in test_torch_bin.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "io/pickle.h"

typedef struct buf {
    uint8_t b[16384];
    size_t n;
} buf;

static void put(buf *p, const void *s, size_t n)
{
    if (p->n + n <= sizeof p->b) {
        memcpy(p->b + p->n, s, n);
        p->n += n;
    }
}

static void op(buf *p, int c)
{
    uint8_t x = (uint8_t)c;
    put(p, &x, 1);
}

static void str(buf *p, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    uint8_t le[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
    op(p, 'X');
    put(p, le, 4);
    put(p, s, n);
}

static void global(buf *p, const char *mod, const char *name)
{
    op(p, 'c');
    put(p, mod, strlen(mod));
    op(p, '\n');
    put(p, name, strlen(name));
    op(p, '\n');
}

static void num(buf *p, long long v)
{
    if (v >= 0 && v < 256) {
        op(p, 'K');
        op(p, (int)v);
    } else {
        op(p, 0x8a);  /* LONG1, 8 bytes */
        op(p, 8);
        for (int i = 0; i < 8; i++)
            op(p, (int)((unsigned long long)v >> (8 * i)) & 0xff);
    }
}

/* _rebuild_tensor_v2(('storage', torch.<cls>, key, 'cpu', numel), off, size, stride, False, OrderedDict()) */
static void tensor_h(buf *p, const char *cls, const char *key, long long numel, long long off, int nd,
                     const long long *size, const long long *stride, int hooks)
{
    global(p, "torch._utils", "_rebuild_tensor_v2");
    op(p, '(');
    op(p, '(');
    str(p, "storage");
    global(p, "torch", cls);
    str(p, key);
    str(p, "cpu");
    num(p, numel);
    op(p, 't');
    op(p, 'Q');
    num(p, off);
    op(p, '(');
    for (int i = 0; i < nd; i++)
        num(p, size[i]);
    op(p, 't');
    op(p, '(');
    for (int i = 0; i < nd; i++)
        num(p, stride[i]);
    op(p, 't');
    op(p, 0x89);
    if (hooks) {  /* {"k": 1} instead of OrderedDict() */
        op(p, '}');
        str(p, "k");
        num(p, 1);
        op(p, 's');
    } else {
        global(p, "collections", "OrderedDict");
        op(p, ')');
        op(p, 'R');
    }
    op(p, 't');
    op(p, 'R');
}

static void tensor(buf *p, const char *cls, const char *key, long long numel, long long off, int nd,
                   const long long *size, const long long *stride)
{
    tensor_h(p, cls, key, numel, off, nd, size, stride, 0);
}

/* OrderedDict {"a": t(bf16, key 0, 4x3), "tied": the same (memo), "v": view of key 1 at 5} + _metadata. */
static void good_pickle(buf *p)
{
    p->n = 0;
    op(p, 0x80);
    op(p, 2);
    global(p, "collections", "OrderedDict");
    op(p, ')');
    op(p, 'R');
    op(p, '(');
    str(p, "a");
    const long long s43[2] = {4, 3}, st43[2] = {3, 1}, s5[1] = {5}, st1[1] = {1};
    tensor(p, "BFloat16Storage", "0", 12, 0, 2, s43, st43);
    op(p, 'q');  /* BINPUT 7 */
    op(p, 7);
    str(p, "tied");
    op(p, 'h');  /* BINGET 7 */
    op(p, 7);
    str(p, "v");
    tensor(p, "FloatStorage", "1", 10, 5, 1, s5, st1);
    op(p, 'u');
    op(p, '}');
    str(p, "_metadata");
    op(p, '}');
    op(p, 's');
    op(p, 'b');
    op(p, '.');
}

static int read(const buf *p, pk_state_dict *sd, pe_err *e)
{
    memset(e, 0, sizeof *e);
    return pk_read_state_dict(p->b, p->n, "t.bin: archive/data.pkl", sd, e);
}

static void test_good(void)
{
    buf p;
    good_pickle(&p);
    pk_state_dict sd;
    pe_err e;
    CHECK_INT(read(&p, &sd, &e), PE_OK);
    CHECK_INT(sd.n, 3);
    if (sd.n == 3) {
        CHECK_STR(sd.t[0].name, "a");
        CHECK_STR(sd.t[1].name, "tied");
        CHECK_STR(sd.t[2].name, "v");
        CHECK_INT(sd.t[0].dtype, PE_DT_BF16);
        CHECK_INT(sd.t[1].dtype, PE_DT_BF16);
        CHECK_STR(sd.t[1].storage, "0");
        CHECK_INT(sd.t[0].ndim, 2);
        CHECK_INT(sd.t[0].size[0], 4);
        CHECK_INT(sd.t[0].size[1], 3);
        CHECK_INT(sd.t[0].stride[0], 3);
        CHECK_INT(sd.t[0].storage_numel, 12);
        CHECK_INT(sd.t[2].dtype, PE_DT_F32);
        CHECK_STR(sd.t[2].storage, "1");
        CHECK_INT(sd.t[2].offset, 5);
        CHECK_INT(sd.t[2].storage_numel, 10);
        CHECK_INT(sd.t[2].ndim, 1);
    }
    pk_free(&sd);

    /* Protocol 4 spellings and a 7th (None) argument: {"h": f16 (2,)} */
    buf q = {.n = 0};
    op(&q, 0x80);
    op(&q, 4);
    op(&q, 0x95);  /* FRAME */
    for (int i = 0; i < 8; i++)
        op(&q, 0);
    op(&q, '}');
    op(&q, 0x94);  /* MEMOIZE -> 0 */
    op(&q, 0x8c);  /* SHORT_BINUNICODE */
    op(&q, 1);
    op(&q, 'h');
    op(&q, 0x8c);
    op(&q, 12);
    put(&q, "torch._utils", 12);
    op(&q, 0x8c);
    op(&q, 18);
    put(&q, "_rebuild_tensor_v2", 18);
    op(&q, 0x93);  /* STACK_GLOBAL */
    op(&q, '(');
    op(&q, '(');
    str(&q, "storage");
    global(&q, "torch", "HalfStorage");
    str(&q, "k9");
    str(&q, "cuda:0");
    num(&q, 2);
    op(&q, 't');
    op(&q, 'Q');
    num(&q, 0);
    num(&q, 2);
    op(&q, 0x85);  /* TUPLE1 */
    num(&q, 1);
    op(&q, 0x85);
    op(&q, 0x88);  /* requires_grad True */
    op(&q, '}');
    op(&q, 'N');
    op(&q, 't');
    op(&q, 'R');
    op(&q, 's');
    op(&q, '.');
    CHECK_INT(read(&q, &sd, &e), PE_OK);
    CHECK_INT(sd.n, 1);
    if (sd.n == 1) {
        CHECK_STR(sd.t[0].name, "h");
        CHECK_INT(sd.t[0].dtype, PE_DT_F16);
        CHECK_STR(sd.t[0].storage, "k9");
        CHECK_INT(sd.t[0].size[0], 2);
    }
    pk_free(&sd);
}

/* Enough tensors that every array of the reader grows many times, at every
 * opcode position (values referenced across a reallocation must survive). */
static void many(int m, int j)
{
    static buf p;
    p.n = 0;
    op(&p, 0x80);
    op(&p, 2);
    op(&p, '}');
    /* A state (ignored by BUILD) of m pairs, j of them with a tuple value:
     * 1 + 3m + j values before the first tensor, which moves the points at
     * which the value arena grows across every opcode of a tensor. */
    op(&p, '}');
    op(&p, '(');
    for (int i = 0; i < m; i++) {
        num(&p, i);
        num(&p, 0);
        if (i < j)
            op(&p, 0x85);
    }
    op(&p, 'u');
    op(&p, 'b');
    op(&p, '(');
    int n = 0;
    for (; p.n + 200 < sizeof p.b; n++) {
        char name[16], key[16];
        snprintf(name, sizeof name, "t%d", n);
        snprintf(key, sizeof key, "%d", n % 7);
        str(&p, name);
        const long long sz[2] = {n % 5 + 1, 3}, st[2] = {3, 1};
        tensor(&p, "FloatStorage", key, 100, n % 7, 2, sz, st);
    }
    op(&p, 'u');
    op(&p, '.');
    pk_state_dict sd;
    pe_err e;
    CHECK_INT(read(&p, &sd, &e), PE_OK);
    CHECK_INT(sd.n, n);
    CHECK(n > 15);
    int bad = 0;
    for (int i = 0; i < sd.n; i++) {
        char name[16], key[16];
        snprintf(name, sizeof name, "t%d", i);
        snprintf(key, sizeof key, "%d", i % 7);
        bad += strcmp(sd.t[i].name, name) || strcmp(sd.t[i].storage, key) || sd.t[i].size[0] != i % 5 + 1 ||
               sd.t[i].offset != (uint64_t)(i % 7) || sd.t[i].storage_numel != 100;
    }
    CHECK_INT(bad, 0);
    pk_free(&sd);
}

static void test_many(void)
{
    for (int m = 8; m <= 16; m++)
        for (int j = 0; j <= m; j++)
            many(m, j);
}

static void expect_bad(const buf *p, const char *frag, const char *frag2)
{
    pk_state_dict sd;
    pe_err e;
    int rc = read(p, &sd, &e);
    CHECK_INT(rc, PE_EINPUT);
    CHECK(strncmp(e.msg, "t.bin: archive/data.pkl: ", 25) == 0);
    if (!strstr(e.msg, frag) || (frag2 && !strstr(e.msg, frag2))) {
        fprintf(stderr, "message '%s' lacks '%s'%s%s\n", e.msg, frag, frag2 ? " or " : "", frag2 ? frag2 : "");
        CHECK(0);
    }
    CHECK_INT(sd.n, 0);
}

static void test_bad(void)
{
    buf p = {.n = 0};
    op(&p, 0x80);
    op(&p, 2);
    global(&p, "posix", "system");
    expect_bad(&p, "opcode GLOBAL (0x63) at byte 2", "'posix.system' is not allowed");

    p.n = 0;
    op(&p, 0x80);
    op(&p, 2);
    global(&p, "torch", "FloatStorage");
    op(&p, ')');
    op(&p, 'R');
    op(&p, '.');
    expect_bad(&p, "opcode REDUCE (0x52) at byte 23", "REDUCE of torch.FloatStorage");

    /* A dict holding itself under "x": read without looping, refused as not a tensor. */
    p.n = 0;
    op(&p, '}');
    op(&p, 'q');
    op(&p, 0);
    str(&p, "x");
    op(&p, 'h');
    op(&p, 0);
    op(&p, 's');
    op(&p, '.');
    expect_bad(&p, "state dict entry 'x' is a dict, not a tensor", NULL);

    /* Backward hooks that are not empty. */
    p.n = 0;
    op(&p, '}');
    str(&p, "w");
    const long long s1[1] = {1};
    tensor_h(&p, "FloatStorage", "0", 1, 0, 1, s1, s1, 1);
    op(&p, 's');
    op(&p, '.');
    expect_bad(&p, "backward_hooks is not an empty dict", NULL);

    /* More dimensions than an st_entry holds. */
    p.n = 0;
    op(&p, '}');
    str(&p, "w");
    const long long s5[5] = {1, 1, 1, 1, 1};
    tensor(&p, "FloatStorage", "0", 1, 0, 5, s5, s5);
    op(&p, 's');
    op(&p, '.');
    expect_bad(&p, "size has 5 dimensions, at most 4", NULL);

    /* Truncations of the good pickle: every prefix is refused. */
    buf g;
    good_pickle(&g);
    for (size_t n = 0; n < g.n; n++) {
        buf t = g;
        t.n = n;
        pk_state_dict sd;
        pe_err e;
        CHECK_INT(read(&t, &sd, &e), PE_EINPUT);
    }
    /* Bytes after STOP. */
    buf t = g;
    op(&t, 'N');
    expect_bad(&t, "1 bytes after STOP", NULL);
}

static uint64_t rng = 88172645463325252ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Mutations of the good pickle: read or refused with the name, nothing else. */
static void test_mutations(void)
{
    buf g;
    good_pickle(&g);
    static const uint8_t interesting[] = {0x00, 0xff, 0x7f, 0x80, '(', 't', 'R', 'Q', 'b', 'u', 's', 'h', 'q', 'j',
                                          'r', '}', ')', '.', 0x85, 0x8a, 0x93, 0x94, 'K', 'J', 'X', 'c', '\n'};
    int ok = 0, refused = 0, other = 0;
    for (int it = 0; it < 30000; it++) {
        buf t = g;
        int k = 1 + (int)(next() % 4);
        for (int m = 0; m < k && t.n > 1; m++) {
            size_t i = (size_t)(next() % t.n);
            switch (next() % 5) {
            case 0: t.b[i] ^= (uint8_t)(1u << (next() % 8)); break;
            case 1: t.b[i] = interesting[next() % sizeof interesting]; break;
            case 2: /* delete a chunk */ {
                size_t len = 1 + (size_t)(next() % 8);
                if (i + len > t.n)
                    len = t.n - i;
                memmove(t.b + i, t.b + i + len, t.n - i - len);
                t.n -= len;
                break;
            }
            case 3: /* duplicate a chunk */ {
                size_t len = 1 + (size_t)(next() % 32);
                if (i + len > t.n)
                    len = t.n - i;
                if (t.n + len <= sizeof t.b) {
                    memmove(t.b + i + len, t.b + i, t.n - i);
                    t.n += len;
                }
                break;
            }
            default: /* an extreme 4-byte value */ {
                static const uint32_t v[] = {0xffffffffu, 0x7fffffffu, 0x80000000u, 0, 1, 4096};
                uint32_t x = v[next() % 6];
                if (i + 4 <= t.n)
                    memcpy(t.b + i, &x, 4);
            }
            }
        }
        pk_state_dict sd;
        pe_err e;
        int rc = read(&t, &sd, &e);
        if (rc == PE_OK) {
            ok++;
            for (int j = 0; j < sd.n; j++)
                if (sd.t[j].ndim < 0 || sd.t[j].ndim > PK_MAX_DIM || !sd.t[j].name || !sd.t[j].storage[0])
                    other++;
            pk_free(&sd);
        } else if (rc == PE_EINPUT && !strncmp(e.msg, "t.bin: archive/data.pkl: ", 25)) {
            refused++;
        } else {
            if (other < 5)
                fprintf(stderr, "mutation %d: code %d: %s\n", it, rc, e.msg);
            other++;
        }
    }
    printf("mutations: %d read, %d refused, %d otherwise\n", ok, refused, other);
    CHECK_INT(other, 0);
    CHECK(refused > 20000);
    CHECK(ok > 10);
}

int main(void)
{
    test_good();
    test_many();
    test_bad();
    test_mutations();
    return pe_check_done();
}
