/* A pickle reader for state dicts only (pickle.h). It is an interpreter of
 * a handful of opcodes over plain data values; nothing is ever called or
 * imported: a GLOBAL is only compared with the allow-list, REDUCE only builds
 * an OrderedDict or a tensor description.
 *
 * Values live in one arena and refer to each other by index, so a memo entry
 * used twice (one tensor under two names, the shared backward_hooks dict) and
 * even a dict that holds itself need no reference counts, and nothing here
 * walks a value recursively: a cycle cannot loop. Every array grows with the
 * input and each opcode adds at most a constant number of entries, so memory
 * is bounded by the pickle's length. */
#include "pickle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { V_NONE, V_BOOL, V_INT, V_STR, V_TUPLE, V_DICT, V_PAIR, V_GLOBAL, V_STORAGE, V_TENSOR } vkind;

static const char *const kind_name[] = {"None", "bool", "int", "str", "tuple", "dict",
                                        "pair", "global", "storage", "tensor"};

/* The globals a state dict may name. */
enum { G_ORDERED_DICT, G_REBUILD_V2, G_STORAGE_F32, G_STORAGE_F16, G_STORAGE_BF16 };
static const struct {
    const char *module, *name;
} allowed[] = {
    {"collections", "OrderedDict"}, {"torch._utils", "_rebuild_tensor_v2"}, {"torch", "FloatStorage"},
    {"torch", "HalfStorage"},       {"torch", "BFloat16Storage"},
};

typedef struct val {
    vkind kind;
    int a, b;        /* PAIR: key, value; DICT: first and last pair (-1: empty); STORAGE: a = pe_dtype */
    int next;        /* PAIR: the next pair of its dict */
    int64_t i;       /* INT, BOOL; GLOBAL: G_*; STORAGE: numel; TENSOR: index into specs */
    size_t off, len; /* STR, STORAGE key: bytes in the pickle; TUPLE: items[off .. off+len) */
} val;

typedef struct pk {
    const uint8_t *buf;
    size_t len, pos, at; /* at: the byte of the opcode being run */
    int op;
    const char *what;
    pe_err *e;
    val *v;
    size_t nv, capv, maxv;
    int *items;
    size_t nitems, capitems;
    int *stack;
    size_t sp, capstack;
    size_t *marks;
    size_t nmarks, capmarks;
    int *memo;           /* value index, -1: unset */
    size_t capmemo, nmemo; /* nmemo: indices set (MEMOIZE uses the next) */
    pk_tensor *specs;    /* one per _rebuild_tensor_v2 call, name unset */
    size_t nspecs, capspecs;
} pk;

static const char *op_name(int op)
{
    switch (op) {
    case 0x80: return "PROTO";
    case 0x95: return "FRAME";
    case '.': return "STOP";
    case '(': return "MARK";
    case ')': return "EMPTY_TUPLE";
    case 't': return "TUPLE";
    case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";
    case '}': return "EMPTY_DICT";
    case 's': return "SETITEM";
    case 'u': return "SETITEMS";
    case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT";
    case 0x94: return "MEMOIZE";
    case 'h': return "BINGET";
    case 'j': return "LONG_BINGET";
    case 'c': return "GLOBAL";
    case 0x93: return "STACK_GLOBAL";
    case 'X': return "BINUNICODE";
    case 0x8c: return "SHORT_BINUNICODE";
    case 'J': return "BININT";
    case 'K': return "BININT1";
    case 'M': return "BININT2";
    case 0x8a: return "LONG1";
    case 'N': return "NONE";
    case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";
    case 'Q': return "BINPERSID";
    case 'R': return "REDUCE";
    case 'b': return "BUILD";
    /* Refused, named for the message. */
    case 'P': return "PERSID";
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 0x81: return "NEWOBJ";
    case 0x92: return "NEWOBJ_EX";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case ']': return "EMPTY_LIST";
    case 'l': return "LIST";
    case 'a': return "APPEND";
    case 'e': return "APPENDS";
    case 'd': return "DICT";
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    case 'I': return "INT";
    case 'L': return "LONG";
    case 0x8b: return "LONG4";
    case 'F': return "FLOAT";
    case 'G': return "BINFLOAT";
    case 'S': return "STRING";
    case 'T': return "BINSTRING";
    case 'U': return "SHORT_BINSTRING";
    case 'V': return "UNICODE";
    case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES";
    case 0x8d: return "BINUNICODE8";
    case 0x8e: return "BINBYTES8";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    case 'g': return "GET";
    case 'p': return "PUT";
    }
    return "unknown opcode";
}

static int bad(pk *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Every refusal names the file, the opcode and where it is. */
static int bad(pk *p, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pe_fail(p->e, PE_EINPUT, "%s: opcode %s (0x%02x) at byte %zu: %s", p->what, op_name(p->op), p->op, p->at,
                   msg);
}

static int grow(pk *p, void **arr, size_t *cap, size_t need, size_t esz)
{
    if (need <= *cap)
        return PE_OK;
    size_t nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    void *na = pe_realloc(*arr, nc * esz, p->e);
    if (!na)
        return p->e->code;
    *arr = na;
    *cap = nc;
    return PE_OK;
}

static int new_val(pk *p, vkind kind, int *out)
{
    /* torch.save's pickles make one value per 7 bytes; a pickle of 1-byte
     * opcodes could make 1.5 per byte: the cap bounds memory at 20 bytes of
     * values per byte of pickle. */
    if (p->nv >= p->maxv)
        return bad(p, "more than %zu values: not a state dict of this size (refused to bound memory)", p->maxv);
    if (grow(p, (void **)&p->v, &p->capv, p->nv + 1, sizeof *p->v))
        return p->e->code;
    val *x = &p->v[p->nv];
    memset(x, 0, sizeof *x);
    x->kind = kind;
    x->a = x->b = x->next = -1;
    *out = (int)p->nv++;
    return PE_OK;
}

static int push(pk *p, int id)
{
    if (grow(p, (void **)&p->stack, &p->capstack, p->sp + 1, sizeof *p->stack))
        return p->e->code;
    p->stack[p->sp++] = id;
    return PE_OK;
}

static int push_new(pk *p, vkind kind, int64_t i)
{
    int id = 0;
    if (new_val(p, kind, &id))
        return p->e->code;
    p->v[id].i = i;
    return push(p, id);
}

/* The bottom of the current frame: items above the last MARK are its. */
static size_t frame_base(const pk *p)
{
    return p->nmarks ? p->marks[p->nmarks - 1] : 0;
}

static int pop(pk *p, int *id)
{
    if (p->sp <= frame_base(p))
        return bad(p, "stack underflow");
    *id = p->stack[--p->sp];
    return PE_OK;
}

static int need(pk *p, size_t n)
{
    if (n > p->len - p->pos)
        return bad(p, "its argument runs past the end of the pickle (%zu bytes)", p->len);
    return PE_OK;
}

static uint64_t le(const uint8_t *b, int n)
{
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--)
        x = (x << 8) | b[i];
    return x;
}

/* Pops the items above the last MARK (and the mark) into a new tuple. */
static int tuple_from(pk *p, size_t base)
{
    size_t n = p->sp - base;
    if (grow(p, (void **)&p->items, &p->capitems, p->nitems + n, sizeof *p->items))
        return p->e->code;
    if (n)  /* items is still NULL before the first non-empty tuple */
        memcpy(p->items + p->nitems, p->stack + base, n * sizeof *p->items);
    int id = 0;
    if (new_val(p, V_TUPLE, &id))
        return p->e->code;
    p->v[id].off = p->nitems;
    p->v[id].len = n;
    p->nitems += n;
    p->sp = base;
    return push(p, id);
}

static int str_eq(const pk *p, int id, const char *s)
{
    const val *x = &p->v[id];
    return x->kind == V_STR && x->len == strlen(s) && !memcmp(p->buf + x->off, s, x->len);
}

/* A string value as printable text for a message (bounded, non-ASCII as '?'). */
static void show(const uint8_t *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < cap; i++)
        out[k++] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
    if (n > 0 && k + 4 >= cap) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

static int global(pk *p, const uint8_t *mod, size_t nmod, const uint8_t *name, size_t nname)
{
    for (size_t g = 0; g < sizeof allowed / sizeof *allowed; g++)
        if (strlen(allowed[g].module) == nmod && !memcmp(allowed[g].module, mod, nmod) &&
            strlen(allowed[g].name) == nname && !memcmp(allowed[g].name, name, nname))
            return push_new(p, V_GLOBAL, (int64_t)g);
    char m[128], n[128];
    show(mod, nmod, m, sizeof m);
    show(name, nname, n, sizeof n);
    return bad(p, "global '%s.%s' is not allowed: a state dict needs only collections.OrderedDict, "
                  "torch._utils._rebuild_tensor_v2 and torch.{Float,Half,BFloat16}Storage (nothing is executed)",
               m, n);
}

/* GLOBAL's argument: "module\nname\n". */
static int op_global(pk *p)
{
    const uint8_t *s = p->buf + p->pos, *end = p->buf + p->len;
    const uint8_t *nl1 = memchr(s, '\n', (size_t)(end - s));
    const uint8_t *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1)) : NULL;
    if (!nl2)
        return bad(p, "module and name are not two lines inside the pickle");
    p->pos = (size_t)(nl2 + 1 - p->buf);
    return global(p, s, (size_t)(nl1 - s), nl1 + 1, (size_t)(nl2 - nl1 - 1));
}

static int get_int(pk *p, int id, int64_t *out, const char *what)
{
    if (p->v[id].kind != V_INT)
        return bad(p, "%s is a %s, expected an int", what, kind_name[p->v[id].kind]);
    *out = p->v[id].i;
    return PE_OK;
}

/* BINPERSID: ('storage', torch.<Type>Storage, key, location, numel). */
static int persistent(pk *p, int pid)
{
    const val *t = &p->v[pid];
    if (t->kind != V_TUPLE || t->len != 5)
        return bad(p, "persistent id is a %s of %zu items, expected ('storage', class, key, location, numel)",
                   kind_name[t->kind], t->kind == V_TUPLE ? t->len : (size_t)1);
    const int *it = p->items + t->off;
    if (!str_eq(p, it[0], "storage"))
        return bad(p, "persistent id does not start with 'storage'");
    const val *cls = &p->v[it[1]];
    if (cls->kind != V_GLOBAL || cls->i < G_STORAGE_F32)
        return bad(p, "persistent id's class is not torch.FloatStorage, HalfStorage or BFloat16Storage");
    const val *key = &p->v[it[2]];
    if (key->kind != V_STR || key->len == 0 || key->len >= PK_MAX_KEY)
        return bad(p, "storage key is not a string of 1 to %d characters", PK_MAX_KEY - 1);
    for (size_t i = 0; i < key->len; i++) {
        uint8_t c = p->buf[key->off + i];
        /* It names an archive entry: no path characters. */
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'))
            return bad(p, "storage key has a character other than letters, digits and '_'");
    }
    if (p->v[it[3]].kind != V_STR)
        return bad(p, "storage location is not a string");
    int64_t numel = 0;
    if (get_int(p, it[4], &numel, "storage size"))
        return p->e->code;
    if (numel < 0)
        return bad(p, "storage size %lld is negative", (long long)numel);
    /* new_val may move the arena: copy what is needed first. */
    int dt = cls->i == G_STORAGE_F32 ? PE_DT_F32 : cls->i == G_STORAGE_F16 ? PE_DT_F16 : PE_DT_BF16;
    size_t koff = key->off, klen = key->len;
    int id = 0;
    if (new_val(p, V_STORAGE, &id))
        return p->e->code;
    val *s = &p->v[id];
    s->a = dt;
    s->i = numel;
    s->off = koff;
    s->len = klen;
    return push(p, id);
}

/* A tuple of non-negative ints (size or stride). */
static int dims(pk *p, int id, int64_t *out, int *n, const char *what)
{
    const val *t = &p->v[id];
    if (t->kind != V_TUPLE)
        return bad(p, "_rebuild_tensor_v2: %s is a %s, expected a tuple", what, kind_name[t->kind]);
    if (t->len > PK_MAX_DIM)
        return bad(p, "_rebuild_tensor_v2: %s has %zu dimensions, at most %d supported", what, t->len, PK_MAX_DIM);
    for (size_t i = 0; i < t->len; i++) {
        char w[64];
        snprintf(w, sizeof w, "%s[%zu]", what, i);
        if (get_int(p, p->items[t->off + i], &out[i], w))
            return p->e->code;
        if (out[i] < 0)
            return bad(p, "_rebuild_tensor_v2: %s is negative (%lld)", w, (long long)out[i]);
    }
    *n = (int)t->len;
    return PE_OK;
}

static int empty_dict(const pk *p, int id)
{
    return p->v[id].kind == V_DICT && p->v[id].a < 0;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
 * backward_hooks[, metadata]) -> a tensor description. */
static int rebuild(pk *p, const val *args)
{
    if (args->len != 6 && args->len != 7)
        return bad(p, "_rebuild_tensor_v2 with %zu arguments, expected 6 or 7", args->len);
    const int *a = p->items + args->off;
    const val *st = &p->v[a[0]];
    if (st->kind != V_STORAGE)
        return bad(p, "_rebuild_tensor_v2: the first argument is a %s, expected a storage (persistent id)",
                   kind_name[st->kind]);
    pk_tensor t;
    memset(&t, 0, sizeof t);
    int64_t off = 0;
    if (get_int(p, a[1], &off, "_rebuild_tensor_v2: storage offset"))
        return p->e->code;
    if (off < 0)
        return bad(p, "_rebuild_tensor_v2: storage offset %lld is negative", (long long)off);
    int nst;
    if (dims(p, a[2], t.size, &t.ndim, "size") || dims(p, a[3], t.stride, &nst, "stride"))
        return p->e->code;
    if (nst != t.ndim)
        return bad(p, "_rebuild_tensor_v2: size has %d dimensions, stride %d", t.ndim, nst);
    if (p->v[a[4]].kind != V_BOOL)
        return bad(p, "_rebuild_tensor_v2: requires_grad is a %s, expected a bool", kind_name[p->v[a[4]].kind]);
    /* Hooks would be code to run: only the empty OrderedDict torch writes. */
    if (!empty_dict(p, a[5]))
        return bad(p, "_rebuild_tensor_v2: backward_hooks is not an empty dict");
    if (args->len == 7 && p->v[a[6]].kind != V_NONE && !empty_dict(p, a[6]))
        return bad(p, "_rebuild_tensor_v2: metadata is not None or an empty dict");
    t.dtype = (pe_dtype)st->a;
    t.storage_numel = (uint64_t)st->i;
    t.offset = (uint64_t)off;
    memcpy(t.storage, p->buf + st->off, st->len);
    t.storage[st->len] = '\0';
    if (grow(p, (void **)&p->specs, &p->capspecs, p->nspecs + 1, sizeof *p->specs))
        return p->e->code;
    p->specs[p->nspecs] = t;
    return push_new(p, V_TENSOR, (int64_t)p->nspecs++);
}

static int op_reduce(pk *p)
{
    int args = 0, fn = 0;
    if (pop(p, &args) || pop(p, &fn))
        return p->e->code;
    const val *f = &p->v[fn], *ar = &p->v[args];
    if (f->kind != V_GLOBAL)
        return bad(p, "REDUCE calls a %s, not an allowed global", kind_name[f->kind]);
    if (ar->kind != V_TUPLE)
        return bad(p, "REDUCE arguments are a %s, expected a tuple", kind_name[ar->kind]);
    if (f->i == G_ORDERED_DICT) {
        if (ar->len != 0)
            return bad(p, "collections.OrderedDict called with %zu arguments, expected none", ar->len);
        return push_new(p, V_DICT, 0);
    }
    if (f->i == G_REBUILD_V2)
        return rebuild(p, ar);
    return bad(p, "REDUCE of torch.%s: a storage class is only allowed inside a persistent id",
               allowed[f->i].name);
}

static int set_item(pk *p, int dict, int key, int value)
{
    int id = 0;
    if (new_val(p, V_PAIR, &id))
        return p->e->code;
    val *pr = &p->v[id];
    pr->a = key;
    pr->b = value;
    val *d = &p->v[dict];
    if (d->b >= 0)
        p->v[d->b].next = id;
    else
        d->a = id;
    d->b = id;
    return PE_OK;
}

/* SETITEM / SETITEMS: pairs above the mark (or the top two) into the dict below. */
static int op_setitems(pk *p, size_t base)
{
    if (base == 0 || (p->sp - base) % 2)
        return bad(p, "no dict below the key/value pairs, or an odd number of items");
    int dict = p->stack[base - 1];
    if (p->v[dict].kind != V_DICT)
        return bad(p, "sets items of a %s, expected a dict", kind_name[p->v[dict].kind]);
    for (size_t i = base; i < p->sp; i += 2)
        if (set_item(p, dict, p->stack[i], p->stack[i + 1]))
            return p->e->code;
    p->sp = base;
    return PE_OK;
}

static int memo_put(pk *p, uint64_t idx)
{
    if (p->sp <= frame_base(p))
        return bad(p, "memoizes an empty stack");
    /* Picklers number memo entries from 0 up, one per value at most. */
    if (idx > p->nv)
        return bad(p, "memo index %llu is larger than the %zu values read so far", (unsigned long long)idx, p->nv);
    size_t old = p->capmemo;
    if (grow(p, (void **)&p->memo, &p->capmemo, (size_t)idx + 1, sizeof *p->memo))
        return p->e->code;
    for (size_t i = old; i < p->capmemo; i++)
        p->memo[i] = -1;
    if (p->memo[idx] < 0)
        p->nmemo++;
    p->memo[idx] = p->stack[p->sp - 1];
    return PE_OK;
}

static int memo_get(pk *p, uint64_t idx)
{
    if (idx >= p->capmemo || p->memo[idx] < 0)
        return bad(p, "memo index %llu was never set", (unsigned long long)idx);
    return push(p, p->memo[idx]);
}

static int op_string(pk *p, size_t lenbytes)
{
    if (need(p, lenbytes))
        return p->e->code;
    uint64_t n = le(p->buf + p->pos, (int)lenbytes);
    p->pos += lenbytes;
    if (need(p, (size_t)(n > p->len ? p->len + 1 : n)))
        return p->e->code;
    int id = 0;
    if (new_val(p, V_STR, &id))
        return p->e->code;
    p->v[id].off = p->pos;
    p->v[id].len = (size_t)n;
    p->pos += (size_t)n;
    return push(p, id);
}

/* One opcode; *stop set at STOP. */
static int step(pk *p, int *stop)
{
    int id = 0, x = 0, y = 0;
    uint64_t u;
    p->at = p->pos;
    p->op = p->buf[p->pos++];
    switch (p->op) {
    case 0x80: /* PROTO */
        if (need(p, 1))
            return p->e->code;
        if (p->buf[p->pos] < 2 || p->buf[p->pos] > 5)
            return bad(p, "protocol %d (torch.save writes 2)", p->buf[p->pos]);
        p->pos++;
        return PE_OK;
    case 0x95: /* FRAME: a length hint */
        if (need(p, 8))
            return p->e->code;
        p->pos += 8;
        return PE_OK;
    case '.':
        *stop = 1;
        return PE_OK;
    case '(':
        if (grow(p, (void **)&p->marks, &p->capmarks, p->nmarks + 1, sizeof *p->marks))
            return p->e->code;
        p->marks[p->nmarks++] = p->sp;
        return PE_OK;
    case ')':
        return tuple_from(p, p->sp);
    case 't':
        if (!p->nmarks)
            return bad(p, "no MARK before it");
        return tuple_from(p, p->marks[--p->nmarks]);
    case 0x85:
    case 0x86:
    case 0x87: {
        size_t n = (size_t)(p->op - 0x84);
        if (p->sp - frame_base(p) < n)
            return bad(p, "stack underflow");
        return tuple_from(p, p->sp - n);
    }
    case '}':
        return push_new(p, V_DICT, 0);
    case 's':
        if (p->sp - frame_base(p) < 2)
            return bad(p, "stack underflow");
        return op_setitems(p, p->sp - 2);
    case 'u':
        if (!p->nmarks)
            return bad(p, "no MARK before it");
        return op_setitems(p, p->marks[--p->nmarks]);
    case 'q':
    case 'r':
    case 'h':
    case 'j': {
        int n = p->op == 'q' || p->op == 'h' ? 1 : 4;
        if (need(p, (size_t)n))
            return p->e->code;
        u = le(p->buf + p->pos, n);
        p->pos += (size_t)n;
        return p->op == 'q' || p->op == 'r' ? memo_put(p, u) : memo_get(p, u);
    }
    case 0x94: /* MEMOIZE: the next free index */
        return memo_put(p, (uint64_t)p->nmemo);
    case 'c':
        return op_global(p);
    case 0x93: /* STACK_GLOBAL */
        if (pop(p, &y) || pop(p, &x))
            return p->e->code;
        if (p->v[x].kind != V_STR || p->v[y].kind != V_STR)
            return bad(p, "module and name are not strings");
        return global(p, p->buf + p->v[x].off, p->v[x].len, p->buf + p->v[y].off, p->v[y].len);
    case 'X':
        return op_string(p, 4);
    case 0x8c:
        return op_string(p, 1);
    case 'J':
        if (need(p, 4))
            return p->e->code;
        x = (int32_t)(uint32_t)le(p->buf + p->pos, 4);
        p->pos += 4;
        return push_new(p, V_INT, x);
    case 'K':
    case 'M': {
        int n = p->op == 'K' ? 1 : 2;
        if (need(p, (size_t)n))
            return p->e->code;
        u = le(p->buf + p->pos, n);
        p->pos += (size_t)n;
        return push_new(p, V_INT, (int64_t)u);
    }
    case 0x8a: { /* LONG1: n-byte two's complement, little-endian */
        if (need(p, 1))
            return p->e->code;
        int n = p->buf[p->pos++];
        if (n > 8)
            return bad(p, "a %d-byte integer, at most 8 supported", n);
        if (need(p, (size_t)n))
            return p->e->code;
        u = le(p->buf + p->pos, n);
        if (n > 0 && n < 8 && (p->buf[p->pos + n - 1] & 0x80))
            u |= ~(uint64_t)0 << (8 * n);
        p->pos += (size_t)n;
        return push_new(p, V_INT, (int64_t)u);
    }
    case 'N':
        return push_new(p, V_NONE, 0);
    case 0x88:
    case 0x89:
        return push_new(p, V_BOOL, p->op == 0x88);
    case 'Q':
        if (pop(p, &id))
            return p->e->code;
        return persistent(p, id);
    case 'R':
        return op_reduce(p);
    case 'b': /* BUILD: the state dict's _metadata attribute, ignored */
        if (pop(p, &y))
            return p->e->code;
        if (p->sp <= frame_base(p))
            return bad(p, "stack underflow");
        x = p->stack[p->sp - 1];
        if (p->v[x].kind != V_DICT || p->v[y].kind != V_DICT)
            return bad(p, "sets the state of a %s to a %s; only a dict's attribute dict is allowed",
                       kind_name[p->v[x].kind], kind_name[p->v[y].kind]);
        return PE_OK;
    }
    return bad(p, "not part of the state-dict subset (nothing is executed)");
}

static void free_state(pk *p)
{
    free(p->v);
    free(p->items);
    free(p->stack);
    free(p->marks);
    free(p->memo);
    free(p->specs);
}

int pk_read_state_dict(const uint8_t *buf, size_t len, const char *what, pk_state_dict *out, pe_err *e)
{
    memset(out, 0, sizeof *out);
    pk p;
    memset(&p, 0, sizeof p);
    p.buf = buf;
    p.len = len;
    p.what = what;
    p.e = e;
    p.maxv = len / 2 + 64;
    int stop = 0;
    while (!stop) {
        if (p.pos >= len) {
            p.at = len;
            p.op = 0;
            pe_fail(e, PE_EINPUT, "%s: the pickle ends at byte %zu without STOP (truncated?)", what, len);
            goto fail;
        }
        if (step(&p, &stop))
            goto fail;
    }
    if (p.pos != len) {
        pe_fail(e, PE_EINPUT, "%s: %zu bytes after STOP at byte %zu", what, len - p.pos, p.at);
        goto fail;
    }
    if (p.sp != 1 || p.nmarks) {
        pe_fail(e, PE_EINPUT, "%s: STOP at byte %zu leaves %zu values and %zu marks, expected one value", what,
                p.at, p.sp, p.nmarks);
        goto fail;
    }
    const val *top = &p.v[p.stack[0]];
    if (top->kind != V_DICT) {
        pe_fail(e, PE_EINPUT, "%s: the pickle holds a %s, not a state dict", what, kind_name[top->kind]);
        goto fail;
    }
    size_t n = 0;
    for (int q = top->a; q >= 0; q = p.v[q].next)
        n++;
    out->t = pe_calloc(n ? n : 1, sizeof *out->t, e);
    if (!out->t)
        goto fail;
    for (int q = top->a; q >= 0; q = p.v[q].next) {
        const val *k = &p.v[p.v[q].a], *v = &p.v[p.v[q].b];
        if (k->kind != V_STR) {
            pe_fail(e, PE_EINPUT, "%s: state dict key number %d is a %s, not a string", what, out->n + 1,
                    kind_name[k->kind]);
            goto fail;
        }
        char name[200];
        show(buf + k->off, k->len, name, sizeof name);
        if (memchr(buf + k->off, '\0', k->len)) {
            pe_fail(e, PE_EINPUT, "%s: state dict key '%s' holds a NUL byte", what, name);
            goto fail;
        }
        if (v->kind != V_TENSOR) {
            pe_fail(e, PE_EINPUT, "%s: state dict entry '%s' is a %s, not a tensor", what, name,
                    kind_name[v->kind]);
            goto fail;
        }
        pk_tensor *t = &out->t[out->n];
        *t = p.specs[v->i];
        t->name = pe_malloc(k->len + 1, e);
        if (!t->name)
            goto fail;
        memcpy(t->name, buf + k->off, k->len);
        t->name[k->len] = '\0';
        out->n++;
    }
    free_state(&p);
    return PE_OK;
fail:
    free_state(&p);
    pk_free(out);
    return e->code;
}

void pk_free(pk_state_dict *sd)
{
    for (int i = 0; i < sd->n; i++)
        free(sd->t[i].name);
    free(sd->t);
    memset(sd, 0, sizeof *sd);
}
