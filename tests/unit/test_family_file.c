// labels: fuzz
/* Family files (src/prm/family_file.c, src/io/family_load.c):
 *   - every families/<name>.json gives the built-in family's descriptor
 *     (read-out rule, head, label rules, BOS source, architectures) and, on
 *     hostile samples (braces and placeholders in the question, empty steps,
 *     "Step n." prefixes, step tags and separators inside the text) and under
 *     each prompt option, the same rendered prompt, expected read-outs, ids
 *     and read-out positions (a byte tokenizer with the added tokens);
 *   - bad files: each refused with PE_EINPUT and a message naming the file
 *     and the key;
 *   - mutation fuzzing (fixed seed): every mutated file either loads into a
 *     family that pe_family_problem accepts and whose prompts build, or is
 *     refused with PE_EINPUT naming the file.
 * The end-to-end comparison (real tokenizers, `prmeval run`, HDF5 bit for
 * bit) is tests/scripts/test_family_files.py. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "io/family_load.h"
#include "prm/prm.h"

/* ---- a byte tokenizer with added tokens ----------------------------------- */
static const char *const added[] = {"<|im_start|>", "<|im_end|>", "<extra_0>", "<|start_header_id|>",
                                    "<|end_header_id|>", "<|eot_id|>", "<s>", "<pad>", NULL};

static int32_t tok_id(const void *ctx, const char *t)
{
    (void)ctx;
    for (int i = 0; added[i]; i++)
        if (!strcmp(added[i], t))
            return 1000 + i;
    return -1;
}

static int tok_encode(const void *ctx, const char *text, size_t len, int32_t **ids, size_t *nids, pe_err *e)
{
    (void)ctx;
    int32_t *out = pe_malloc((len + 1) * sizeof *out, e);
    if (!out)
        return e->code;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        int hit = -1;
        for (int k = 0; added[k] && hit < 0; k++)
            if (strlen(added[k]) <= len - i && !memcmp(text + i, added[k], strlen(added[k])))
                hit = k;
        if (hit >= 0) {
            out[n++] = 1000 + hit;
            i += strlen(added[hit]);
        } else {
            out[n++] = (unsigned char)text[i++];
        }
    }
    *ids = out;
    *nids = n;
    return PE_OK;
}

static const pe_encoder enc = {NULL, tok_encode, tok_id, 1};

/* ---- samples ---------------------------------------------------------------- */
static char q1[] = "What is {question} + {{x}} } {? \xd0\xba\xd0\xb8 <extra_0> <s>";
static char *steps1[] = {"", "Step 2. Add 3 and 4.", "step three starts lower-case", "  1. spaced  ",
                         "a\n\nb\n\n\nc", "tag \xd0\xba\xd0\xb8 inside", "<s> and <pad> inside", "{step} {i}",
                         "Step 9: colon kept", "\xd0\xb8 last"};
static char q2[] = "  Plain question?  ";
static char *steps2[] = {"One.", "Two."};

static char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *t = malloc(1 << 20);
    *len = t ? fread(t, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (t)
        t[*len] = '\0';
    return t;
}

typedef struct built {
    char *render;
    int nexpected, rc;
    pe_prompt_tokens p;
} built;

static built build(const pe_family *f, const pe_family_opts *o, char *q, int n, char **steps)
{
    built b = {0};
    pe_segments s;
    pe_err e = {0};
    b.rc = pe_family_segments(f, o, q, n, steps, &s, &e);
    if (b.rc)
        return b;
    b.render = pe_segments_render(&s, "<BOS>", &e);
    b.nexpected = s.nexpected;
    b.rc = pe_family_encode(f, o, &s, &enc, &b.p, &e);
    pe_segments_free(&s);
    return b;
}

static void built_free(built *b)
{
    free(b->render);
    pe_prompt_tokens_free(&b->p);
}

static int same_head(const pe_head_desc *a, const pe_head_desc *b)
{
#define SAME_STR(x, y) ((!(x) && !(y)) || ((x) && (y) && !strcmp((x), (y))))
    return a->rows == b->rows && a->read == b->read && a->nrows == b->nrows && a->nout == b->nout &&
           a->pick == b->pick && SAME_STR(a->mlp_w, b->mlp_w) && SAME_STR(a->mlp_b, b->mlp_b) &&
           SAME_STR(a->w, b->w) && SAME_STR(a->b, b->b) && SAME_STR(a->tokens, b->tokens);
}

static int same_labels(const pe_label_desc *a, const pe_label_desc *b)
{
    return a->defined == b->defined && a->difference == b->difference && a->threshold == b->threshold &&
           a->redundancy == b->redundancy && a->redundancy_threshold == b->redundancy_threshold;
}

static void compare_with_builtin(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "families/%s.json", name);
    pe_family_load l;
    pe_err e = {0};
    int rc = pe_family_load_file(path, &l, &e);
    if (rc)
        fprintf(stderr, "%s\n", e.msg);
    CHECK_INT(rc, PE_OK);
    if (rc)
        return;
    const pe_family *b = pe_family_by_name(name), *f = l.fam;
    CHECK(b != NULL);
    CHECK_STR(f->name, name);
    CHECK(f->from_file && f->template && !f->prompt);
    CHECK_INT(f->readout.kind, b->readout.kind);
    CHECK(SAME_STR(f->readout.text, b->readout.text) && SAME_STR(f->readout.text2, b->readout.text2));
    CHECK_INT(f->readout.offset, b->readout.offset);
    CHECK(same_head(&f->head, &b->head));
    CHECK(same_labels(&f->labels[0], &b->labels[0]) && same_labels(&f->labels[1], &b->labels[1]));
    CHECK_INT(f->bos, b->bos);
    CHECK_INT(f->no_readout_invalid, b->no_readout_invalid);
    CHECK_INT(f->reference_bf16, b->reference_bf16);
    for (int i = 0; b->architectures[i] || f->architectures[i]; i++)
        CHECK(SAME_STR(f->architectures[i], b->architectures[i]));
    int compared = 0;
    for (int opt = 0; opt < 4; opt++) {
        pe_family_opts o;
        pe_family_opts_default(&o);
        o.qwen_backspace_quirk = opt & 1;
        o.rlhflow_system_block = (opt >> 1) & 1;
        for (int smp = 0; smp < 3; smp++) {
            char *q = smp == 1 ? q2 : q1;
            char **st = smp == 1 ? steps2 : steps1;
            int n = smp == 0 ? 10 : smp == 1 ? 2 : 0;
            for (int cut = 0; cut < 2; cut++) {
                o.max_tokens = cut ? 60 : 2048;
                built x = build(b, &o, q, n, st), y = build(f, &o, q, n, st);
                CHECK_INT(y.rc, x.rc);
                int same = x.rc == y.rc && x.nexpected == y.nexpected && SAME_STR(x.render, y.render) &&
                           x.p.n == y.p.n && x.p.n_full == y.p.n_full && x.p.nread == y.p.nread &&
                           x.p.nread_full == y.p.nread_full &&
                           (!x.p.n || !memcmp(x.p.ids, y.p.ids, (size_t)x.p.n * sizeof *x.p.ids)) &&
                           (!x.p.nread || !memcmp(x.p.readout, y.p.readout, (size_t)x.p.nread * sizeof *x.p.readout));
                if (!same)
                    fprintf(stderr, "%s (options %d, sample %d, cut %d): the file differs from the built-in\n"
                            "built-in: %s\nfile:     %s\n", name, opt, smp, cut, x.render ? x.render : "-",
                            y.render ? y.render : "-");
                CHECK(same);
                compared += same;
                built_free(&x);
                built_free(&y);
            }
        }
    }
    printf("families/%s.json: descriptor and %d prompts equal to the built-in\n", name, compared);
    pe_family_load_free(&l);
}

/* ---- bad files ----------------------------------------------------------------- */
static const char *GOOD =
    "{\"prmeval_family\": 1, \"name\": \"x\", \"architectures\": [\"A\"],\n"
    " \"prompt\": {\"before\": [{\"bos\": true}, {\"text\": \"{question}\\n\"}],\n"
    "            \"step\": [{\"text\": \"{step}\", \"separate\": true}, {\"text\": \"\\n\\n\", \"separate\": true, "
    "\"readout\": true}]},\n"
    " \"readout\": {\"rule\": \"appended\"},\n"
    " \"head\": {\"rows\": \"tensor\", \"read\": \"sigmoid\", \"weight\": \"v.weight\"},\n"
    " \"labels\": {\"current\": {\"threshold\": 0.5}}}";

/* GOOD with the first occurrence of from replaced by to. */
static char *edit(const char *from, const char *to)
{
    const char *at = strstr(GOOD, from);
    if (!at)
        return NULL;
    size_t n = strlen(GOOD) - strlen(from) + strlen(to);
    char *t = malloc(n + 1);
    sprintf(t, "%.*s%s%s", (int)(at - GOOD), GOOD, to, at + strlen(from));
    return t;
}

static void bad_files(void)
{
    pe_family_load l;
    pe_err e = {0};
    int rc = pe_family_load_text(GOOD, strlen(GOOD), "good.json", &l, &e);
    if (rc)
        fprintf(stderr, "good.json: %s\n", e.msg);
    CHECK_INT(rc, PE_OK);
    if (!rc)
        pe_family_load_free(&l);
    static const struct { const char *from, *to, *want; } cases[] = {
        {"\"prmeval_family\": 1", "\"prmeval_family\": 2", "key \"prmeval_family\""},
        {"\"name\": \"x\", ", "", "key \"name\": is required"},
        {"\"name\": \"x\"", "\"name\": \"a b\"", "key \"name\""},
        {"\"architectures\": [\"A\"]", "\"architectures\": []", "key \"architectures\""},
        {"{\"text\": \"{question}\\n\"}", "{\"text\": \"{step}\"}", "key \"prompt.before[1].text\": unknown placeholder \"{step}\""},
        {"{\"text\": \"{question}\\n\"}", "{\"text\": \"{q}\"}", "key \"prompt.before[1].text\": unknown placeholder \"{q}\""},
        {"{\"text\": \"{question}\\n\"}", "{\"text\": \"}\"}", "key \"prompt.before[1].text\": a lone '}'"},
        {"{\"bos\": true}", "{\"bos\": true, \"text\": \"a\"}", "key \"prompt.before[0]\": a part is exactly one"},
        {"{\"bos\": true}", "{\"bos\": true, \"readout\": true}", "key \"prompt.before[0].bos\""},
        {"{\"bos\": true}", "{\"bos\": true, \"colour\": 1}", "key \"prompt.before[0].colour\": unknown key"},
        {"\"separate\": true, \"readout\": true", "\"readout\": true", "key \"prompt.step[1]\": the \"appended\" read-out"},
        {"\"separate\": true, \"readout\": true", "\"separate\": true", "key \"prompt\": no part has \"readout\""},
        {"{\"text\": \"{step}\", \"separate\": true}", "{\"text\": \"{step}\", \"if\": \"colour\"}",
         "key \"prompt.step[0].if\": \"colour\" is not an option"},
        {"{\"text\": \"{step}\", \"separate\": true}", "{\"text\": \"{step}\", \"steps\": \"odd\"}",
         "key \"prompt.step[0].steps\""},
        {"\"prompt\": {", "\"prompt\": {\"step_clean\": [\"lower\"], ", "key \"prompt.step_clean[0]\""},
        {"\"rule\": \"appended\"", "\"rule\": \"appendix\"", "key \"readout.rule\": \"appendix\" is not one of"},
        {"\"rule\": \"appended\"", "\"rule\": \"last_id\"", "key \"readout.text\": is required"},
        {"\"rule\": \"appended\"", "\"rule\": \"pattern\", \"text\": \"a\", \"offset\": -2", "key \"readout.offset\""},
        {"\"rule\": \"appended\"", "\"rule\": \"added_token\", \"text\": \"a\", \"separator\": \"b\"",
         "key \"readout.separator\""},
        {"\"read\": \"sigmoid\"", "\"read\": \"softmax_diff\"", "key \"head\": softmax-diff takes two logits"},
        {"\"read\": \"sigmoid\"", "\"read\": \"sigmoid\", \"nrows\": 5", "key \"head.nrows\""},
        {"\"rows\": \"tensor\"", "\"rows\": \"lm_tokens\"", "key \"head\": an LM-head head names no head tensors"},
        {"\"threshold\": 0.5", "\"threshold\": \"0.5\"", "key \"labels.current.threshold\""},
        {"\"threshold\": 0.5", "\"threshold\": 0.5, \"redundancy_threshold\": 0.1",
         "key \"labels.current.redundancy_threshold\": a redundancy rule needs"},
        {"{\"current\": {\"threshold\": 0.5}}", "{\"original\": {\"threshold\": 0.5}}", "key \"labels.current\": is required"},
        {"\"labels\"", "\"lables\"", "key \"lables\": unknown key"},
        {"\"name\": \"x\"", "\"name\": \"x\", \"name\": \"y\"", "key name appears twice"},
        {"1, \"name\"", "1,, \"name\"", "bad.json:1:"},
        {"{question}\\n", "{question}\\u0000tail", "bad.json:2:59: \\u0000 (a NUL character) in a string"},
        {"{question}\\n", "{question}\\\\u0000tail", ""}, /* an escaped backslash, then text: fine */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = edit(cases[i].from, cases[i].to);
        CHECK(t != NULL);
        if (!t)
            continue;
        pe_err be = {0};
        int brc = pe_family_load_text(t, strlen(t), "bad.json", &l, &be);
        int ok = !*cases[i].want ? brc == PE_OK
                                 : brc == PE_EINPUT && !strncmp(be.msg, "bad.json", 8) && strstr(be.msg, cases[i].want);
        if (!ok)
            fprintf(stderr, "bad case %zu: rc %d, message '%s', expected PE_EINPUT and '%s'\n", i, brc, be.msg,
                    cases[i].want);
        CHECK(ok);
        if (!brc)
            pe_family_load_free(&l);
        free(t);
    }
    pe_err me = {0};
    CHECK_INT(pe_family_load_file("families/no-such-file.json", &l, &me), PE_EUSAGE);
    CHECK(strstr(me.msg, "families/no-such-file.json") != NULL);
    /* the name test of a job's "family" value */
    CHECK(pe_family_value_is_file("families/qwen-prm.json") && pe_family_value_is_file("my.json") &&
          pe_family_value_is_file("./x") && !pe_family_value_is_file("qwen-prm") && !pe_family_value_is_file("auto") &&
          !pe_family_value_is_file(""));
}

/* ---- mutation fuzzing ----------------------------------------------------------- */
static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static const char *TOKENS[] = {
    "0", "-1", "1e999", "NaN", "null", "true", "false", "\"\"", "\"x\"", "[]", "{}", "[[[[[[[[1]]]]]]]]",
    "\"\\u0000\"", "\"\\ud800\"", "\"\xff\"", ",", ":", "{", "}", "\"", "\\", "\n", "2147483648",
    "\"readout\": true,", "\"separate\": true,", "{\"bos\": true},", "{\"text\": \"{step}\"},", "\"{i}\"", "\"{x}\"",
    "\"}\"", "\"{{\"", "\"rule\": \"appended\",", "\"rule\": \"pattern\",", "\"rows\": \"lm_full\",",
    "\"read\": \"vocab_prob\",", "\"nrows\": 4,", "\"pick\": 3,", "\"offset\": -1,", "\"offset\": 4096,",
    "\"split_steps_on\": \"\xd0\xba\xd0\xb8\",", "\"strip\": true,", "\"steps\": \"first\",", "\"steps\": \"rest\",",
    "\"if\": \"rlhflow_system_block\",", "\"unless\": \"qwen_backspace_quirk\",", "{\"special\": \"<s>\"},",
    "{\"special\": \"<unknown>\", \"readout\": true},", "{\"last_id\": \"\\n\"},", "{\"remove\": \"a\"}",
    "\"strip_prefix\",", "\"unless_step_starts_with\": [\"S\"],", "\"redundancy_threshold\": 0.1,",
    "\"difference\": true,", "\"bos\": \"token_text\",", "\"no_readout_invalid\": true,",
};
#define NTOKENS (sizeof TOKENS / sizeof TOKENS[0])

static size_t mutate(char *t, size_t n, size_t cap)
{
    int rounds = 1 + (int)below(3);
    for (int r = 0; r < rounds; r++) {
        switch (below(5)) {
        case 0:
            if (n)
                t[below(n)] ^= (char)(1u << below(8));
            break;
        case 1:
            n = below(n + 1);
            break;
        case 2:
        case 3: {
            const char *k = TOKENS[below(NTOKENS)];
            size_t kl = strlen(k), at = below(n + 1);
            if (r == 0 && below(2)) { /* after an opening brace or bracket: a well-formed insertion */
                const char *o = NULL;
                for (size_t tries = 0; tries < 8 && !o; tries++) {
                    size_t from = below(n);
                    const char *c = strpbrk(t + from, "{[");
                    if (c && (size_t)(c - t) < n)
                        o = c;
                }
                if (o)
                    at = (size_t)(o - t) + 1;
            }
            if (n + kl < cap) {
                memmove(t + at + kl, t + at, n - at);
                memcpy(t + at, k, kl);
                n += kl;
            }
            break;
        }
        default: {
            size_t at = below(n + 1), len = 1 + below(24);
            if (at + len > n)
                len = n - at;
            memmove(t + at, t + at + len, n - at - len);
            n -= len;
            break;
        }
        }
        t[n] = '\0';
    }
    return n;
}

static void fuzz(int cases)
{
    static const char *const names[] = {"qwen-prm", "math-shepherd", "rlhflow", "skywork", "reasoneval-7b",
                                        "reasoneval-34b", "math-minos", "pure-prm", "llemma-prm"};
    char *seeds[9];
    size_t lens[9];
    for (int i = 0; i < 9; i++) {
        char path[128];
        snprintf(path, sizeof path, "families/%s.json", names[i]);
        seeds[i] = read_text(path, &lens[i]);
        CHECK(seeds[i] != NULL);
        if (!seeds[i])
            return;
    }
    enum { CAP = 1 << 16 };
    char *t = malloc(CAP + 1);
    int loaded = 0, refused = 0, built_ok = 0, unnamed = 0;
    for (int c = 0; c < cases; c++) {
        int s = (int)below(9);
        memcpy(t, seeds[s], lens[s] + 1);
        size_t n = mutate(t, lens[s], CAP);
        pe_family_load l;
        pe_err e = {0};
        int rc = pe_family_load_text(t, n, "fuzz.json", &l, &e);
        if (rc) {
            int named = rc == PE_EINPUT && !strncmp(e.msg, "fuzz.json", 9);
            if (!named && unnamed++ < 5)
                fprintf(stderr, "case %d: rc %d, message '%s'\ninput:\n%s\n", c, rc, e.msg, t);
            CHECK(named);
            refused++;
            continue;
        }
        loaded++;
        CHECK_STR(pe_family_problem(l.fam), "");
        pe_family_opts o;
        pe_family_opts_default(&o);
        o.max_tokens = (int)below(300);
        built b = build(l.fam, &o, q1, 10, steps1);
        /* a file may name a token the tokenizer lacks: an input error, never a crash */
        CHECK(b.rc == PE_OK || b.rc == PE_EINPUT);
        if (b.rc == PE_OK) {
            built_ok++;
            for (int64_t k = 0; k < b.p.nread; k++)
                CHECK(b.p.readout[k] >= 0 && b.p.readout[k] < b.p.n);
        }
        built_free(&b);
        pe_family_load_free(&l);
    }
    printf("fuzz: %d mutated family files, %d loaded (%d built prompts), %d refused with a message naming the file\n",
           cases, loaded, built_ok, refused);
    /* both paths explored: about 5% of the mutants still load */
    CHECK(loaded > cases / 40 && refused > cases / 4);
    free(t);
    for (int i = 0; i < 9; i++)
        free(seeds[i]);
}

int main(void)
{
    static const char *const names[] = {"qwen-prm", "math-shepherd", "rlhflow", "skywork", "reasoneval-7b",
                                        "reasoneval-34b", "math-minos", "pure-prm", "llemma-prm"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        compare_with_builtin(names[i]);
    /* skywork with no steps: the response "" splits into one piece, one step
     * token (the built-in once re-read the question there) */
    pe_family_opts o;
    pe_family_opts_default(&o);
    built sk = build(pe_family_by_name("skywork"), &o, q2, 0, steps2);
    CHECK_STR(sk.render, "<BOS>  Plain question?  \n\xd0\xba\xd0\xb8");
    CHECK_INT(sk.nexpected, 1);
    built_free(&sk);
    CHECK_INT(pe_family_count(), 9); /* a new built-in: add its families/<name>.json and a row above */
    bad_files();
    fuzz(20000);
    return pe_check_done();
}
