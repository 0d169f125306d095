/* PRM families: the prompts of a hand-made sample for every family against
 * hand-written strings (what the reference renders), strip_prefix, the read-out
 * rules and the 2048-style cut on a toy tokenizer, label rules, and the
 * family/checkpoint check. Token ids from the real tokenizers are compared
 * with the JS oracle in tests/pending/test_family_tokens.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/sample.h"
#include "prm/prm.h"

/* ---- a toy tokenizer: added tokens first, then a few words, then bytes ---- */
static const char *const toy_added[] = {"<|im_start|>", "<|im_end|>", "<extra_0>", "<|start_header_id|>",
                                        "<|end_header_id|>", "<|eot_id|>", "<|begin_of_text|>", "<s>", "<pad>", NULL};
enum { TOY_ADDED = 1000, TOY_KI = 500, TOY_WORD = 600 };
static const char *const toy_words[] = {"assistant", "\n\n", "user", "system", NULL};
static int toy_no_extra; /* 1: the toy lacks "<extra_0>" (error path) */

static int32_t toy_token_id(const void *ctx, const char *tok)
{
    (void)ctx;
    for (int i = 0; toy_added[i]; i++)
        if (!strcmp(toy_added[i], tok))
            return (toy_no_extra && i == 2) ? -1 : TOY_ADDED + i;
    return -1;
}

static int toy_encode(const void *ctx, const char *text, size_t len, int32_t **ids, size_t *nids, pe_err *e)
{
    (void)ctx;
    int32_t *out = pe_malloc((len + 1) * sizeof *out, e);
    if (!out)
        return e->code;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t best = 0;
        int32_t id = -1;
        for (int k = 0; toy_added[k]; k++) {
            size_t l = strlen(toy_added[k]);
            if (!(toy_no_extra && k == 2) && l <= len - i && !memcmp(text + i, toy_added[k], l) && l > best)
                best = l, id = TOY_ADDED + k;
        }
        for (int k = 0; !best && toy_words[k]; k++) {
            size_t l = strlen(toy_words[k]);
            if (l <= len - i && !memcmp(text + i, toy_words[k], l))
                best = l, id = TOY_WORD + k;
        }
        if (!best && len - i >= 4 && !memcmp(text + i, "ки", 4))
            best = 4, id = TOY_KI;
        if (!best)
            best = 1, id = (unsigned char)text[i];
        out[n++] = id;
        i += best;
    }
    *ids = out;
    *nids = n;
    return PE_OK;
}

static pe_encoder toy = {NULL, toy_encode, toy_token_id, 1};

/* ---- the hand-made sample ---- */
static const char *Q = "What is 1+1?";
static char *STEPS[] = {"Step 1. Add one and one.", "  2. We get 2.  ", "So the answer is 2."};

static char *render(const char *id, const pe_family_opts *o, const char *bos, pe_segments *segs)
{
    pe_err e = {0};
    int rc = pe_family_segments(pe_family_by_name(id), o, Q, 3, STEPS, segs, &e);
    CHECK_INT(rc, 0);
    return rc ? NULL : pe_segments_render(segs, bos, &e);
}

static void test_strip_prefix(void)
{
    static const char *cases[][2] = {
        {"Step 1. foo", "foo"},
        {"step 12.bar", "bar"},
        {"STEP 3.  x", "x"},
        {"  4. y ", "y"},
        {"Step 1: foo", "Step 1: foo"},  /* a colon is not the reference's prefix */
        {"1.5 is half", "5 is half"},    /* the reference's regex eats "1." here too */
        {"Step1.x", "x"},
        {"3) z", "3) z"},
        {"\xc2\xa0Step 2.\xe3\x80\x80w", "w"},          /* NBSP and ideographic space */
        {"Step \xd9\xa3. arabic digit", "arabic digit"}, /* U+0663 is \d in Python */
        {"Step 1.", ""},
        {"", ""},
        {"Steps 1. no", "Steps 1. no"},
        {"\x1c a \xc2\x85", "a"}, /* str.strip() removes U+001C and U+0085 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pe_err e = {0};
        char *r = pe_strip_prefix(cases[i][0], &e);
        CHECK_STR(r, cases[i][1]);
        free(r);
    }
    CHECK(pe_py_isspace(0x3000) && pe_py_isspace(0x1f) && !pe_py_isspace(0x200b) && !pe_py_isspace('a'));
}

static void test_segments(void)
{
    pe_family_opts o;
    pe_family_opts_default(&o);
    pe_segments s;

    char *r = render("qwen-prm", &o, "", &s);
    CHECK_STR(r, "<|im_start|>system\nPlease reason step by step, and put your final answer within "
                 "\x08oxed{}.<|im_end|>\n<|im_start|>user\nWhat is 1+1?<|im_end|>\n<|im_start|>assistant\n"
                 "Add one and one.<extra_0>We get 2.<extra_0>So the answer is 2.<extra_0><|im_end|>\n");
    CHECK_INT(s.nexpected, 3);
    free(r);
    pe_segments_free(&s);
    o.qwen_backspace_quirk = 0;
    r = render("qwen-prm", &o, "", &s);
    CHECK(r && strstr(r, "within \\boxed{}.<|im_end|>") != NULL);
    free(r);
    pe_segments_free(&s);
    pe_family_opts_default(&o);

    r = render("math-shepherd", &o, "<s>", &s);
    CHECK_STR(r, "<s>What is 1+1? Step 1. Add one and one. ки\nStep 2: 2. We get 2. ки\n"
                 "Step 3: So the answer is 2. ки\n");
    CHECK_INT(s.nexpected, 3);
    CHECK_INT(s.seg[0].kind, PE_SEG_BOS);
    free(r);
    pe_segments_free(&s);

    r = render("rlhflow", &o, "<|begin_of_text|>", &s);
    CHECK_STR(r, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                 "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
                 "<|start_header_id|>user<|end_header_id|>\n\nWhat is 1+1? Add one and one.<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\n+<|eot_id|>"
                 "<|start_header_id|>user<|end_header_id|>\n\nWe get 2.<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\n+<|eot_id|>"
                 "<|start_header_id|>user<|end_header_id|>\n\nSo the answer is 2.<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\n+<|eot_id|>");
    CHECK_INT(s.nexpected, 3);
    free(r);
    pe_segments_free(&s);
    o.rlhflow_system_block = 0;
    r = render("rlhflow", &o, "<|begin_of_text|>", &s);
    CHECK(r && !strncmp(r, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat is", 65));
    free(r);
    pe_segments_free(&s);
    pe_family_opts_default(&o);

    r = render("skywork", &o, "<|endoftext|>", &s);
    CHECK_STR(r, "<|endoftext|>What is 1+1?\nStep 1: Add one and one. ки\nStep 2: We get 2. ки\n"
                 "Step 3: So the answer is 2. ки\nки");
    /* BOS, question, then 3 x (piece, step token) and the trailing "\n" piece + step token. */
    CHECK_INT(s.n, 2 + 2 * 4);
    CHECK_INT(s.nexpected, 4);
    CHECK_STR(s.seg[2].text, "Step 1: Add one and one. ");
    CHECK_INT(s.seg[2].separate, 1);
    CHECK_INT(s.seg[3].kind, PE_SEG_LAST_ID);
    CHECK_STR(s.seg[8].text, "\n");
    free(r);
    pe_segments_free(&s);

    /* A step whose text contains the tag splits into one more piece, as
     * response.split("ки") does in the reference. */
    char *odd[] = {"a ки b"};
    pe_err e = {0};
    CHECK_INT(pe_family_segments(pe_family_by_name("skywork"), &o, "q", 1, odd, &s, &e), 0);
    CHECK_INT(s.nexpected, 3);
    pe_segments_free(&s);
}

static pe_prompt_tokens encode(const char *id, const pe_family_opts *o)
{
    pe_segments s;
    pe_prompt_tokens p;
    pe_err e = {0};
    memset(&p, 0, sizeof p);
    CHECK_INT(pe_family_segments(pe_family_by_name(id), o, Q, 3, STEPS, &s, &e), 0);
    int rc = pe_family_encode(pe_family_by_name(id), o, &s, &toy, &p, &e);
    if (rc)
        fprintf(stderr, "encode: %s\n", e.msg);
    CHECK_INT(rc, 0);
    pe_segments_free(&s);
    return p;
}

static void test_tokens(void)
{
    pe_family_opts o;
    pe_family_opts_default(&o);

    pe_prompt_tokens p = encode("qwen-prm", &o);
    CHECK_INT(p.nread, 3);
    CHECK_INT(p.nread_full, 3);
    CHECK_INT(p.truncated, 0);
    for (int64_t k = 0; k < p.nread; k++)
        CHECK_INT(p.ids[p.readout[k]], TOY_ADDED + 2);
    CHECK_INT(p.ids[0], TOY_ADDED + 0);
    CHECK_INT(p.ids[p.n - 1], '\n');
    /* Cut just before the third <extra_0>: two labels survive. */
    int64_t third = p.readout[2];
    pe_prompt_tokens_free(&p);
    o.max_tokens = (int)third;
    p = encode("qwen-prm", &o);
    CHECK_INT(p.n, third);
    CHECK_INT(p.truncated, 1);
    CHECK_INT(p.nread, 2);
    CHECK_INT(p.nread_full, 3);
    pe_prompt_tokens_free(&p);
    o.max_tokens = (int)third + 1;
    p = encode("qwen-prm", &o);
    CHECK_INT(p.nread, 3);
    pe_prompt_tokens_free(&p);
    pe_family_opts_default(&o);

    p = encode("math-shepherd", &o);
    CHECK_INT(p.ids[0], 1); /* the toy's BOS */
    CHECK_INT(p.nread, 3);
    for (int64_t k = 0; k < p.nread; k++) {
        CHECK_INT(p.ids[p.readout[k]], TOY_KI);
        CHECK_INT(p.ids[p.readout[k] + 1], '\n');
    }
    pe_prompt_tokens_free(&p);

    p = encode("rlhflow", &o);
    CHECK_INT(p.nread, 3);
    for (int64_t k = 0; k < p.nread; k++) {
        CHECK_INT(p.ids[p.readout[k] - 3], TOY_ADDED + 3); /* <|start_header_id|> */
        CHECK_INT(p.ids[p.readout[k] - 2], TOY_WORD + 0);  /* assistant */
        CHECK_INT(p.ids[p.readout[k]], TOY_WORD + 1);      /* "\n\n" */
        CHECK_INT(p.ids[p.readout[k] + 1], '+');
    }
    /* The reference finds the whole 6-token pattern in the cut ids: a cut that
     * keeps the third "\n\n" and "+" but drops <|eot_id|> loses that label. */
    int64_t r3 = p.readout[2], rd[3] = {p.readout[0], p.readout[1], p.readout[2]};
    CHECK_INT(p.n, r3 + 3);
    pe_prompt_tokens_free(&p);
    o.max_tokens = (int)(r3 + 2);
    p = encode("rlhflow", &o);
    CHECK_INT(p.nread, 2);
    CHECK_INT(p.nread, pe_readouts_kept(rd, 3, r3 + 2, 2));
    pe_prompt_tokens_free(&p);
    CHECK_INT(pe_readouts_kept(rd, 3, r3 + 3, 2), 3);
    CHECK_INT(pe_readouts_kept(rd, 3, 0, 2), 3);  /* no cut */
    CHECK_INT(pe_readouts_kept(rd, 3, rd[0], 0), 0);
    pe_family_opts_default(&o);

    p = encode("skywork", &o);
    CHECK_INT(p.nread, 4);
    CHECK_INT(p.ids[0], 1);
    for (int64_t k = 0; k < p.nread; k++)
        CHECK_INT(p.ids[p.readout[k]], TOY_KI);
    CHECK_INT(p.readout[3], p.n - 1); /* the trailing "\n" piece's step token ends the input */
    CHECK_INT(p.ids[p.n - 2], '\n');
    int64_t last = p.readout[3];
    pe_prompt_tokens_free(&p);
    o.max_tokens = (int)last; /* cuts the extra (fourth) reward only */
    p = encode("skywork", &o);
    CHECK_INT(p.nread, 3);
    CHECK_INT(p.nread_full, 4);
    pe_prompt_tokens_free(&p);
    pe_family_opts_default(&o);
    o.bos_id = 7; /* config.json's bos_token_id wins over the tokenizer's */
    p = encode("skywork", &o);
    CHECK_INT(p.ids[0], 7);
    pe_prompt_tokens_free(&p);
}

static void test_token_errors(void)
{
    pe_family_opts o;
    pe_family_opts_default(&o);
    pe_segments s;
    pe_prompt_tokens p;
    pe_err e = {0};
    CHECK_INT(pe_family_segments(pe_family_by_name("qwen-prm"), &o, Q, 3, STEPS, &s, &e), 0);
    toy_no_extra = 1;
    CHECK_INT(pe_family_encode(pe_family_by_name("qwen-prm"), &o, &s, &toy, &p, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "<extra_0>") && strstr(e.msg, "qwen-prm"));
    toy_no_extra = 0;
    pe_segments_free(&s);

    pe_encoder nobos = toy;
    nobos.bos_id = -1;
    pe_err_clear(&e);
    CHECK_INT(pe_family_segments(pe_family_by_name("skywork"), &o, Q, 3, STEPS, &s, &e), 0);
    CHECK_INT(pe_family_encode(pe_family_by_name("skywork"), &o, &s, &nobos, &p, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "BOS") != NULL);
    pe_segments_free(&s);
}

static void test_labels(void)
{
    pe_family_opts o;
    pe_family_opts_default(&o);
    uint8_t l[4];
    const float q[4] = {0.9f, 0.5f, 0.51f, 0.1f};
    pe_family_labels(pe_family_by_name("qwen-prm"), &o, NAN, q, 4, l);
    CHECK(l[0] == 1 && l[1] == 0 && l[2] == 1 && l[3] == 0);
    pe_family_labels(pe_family_by_name("math-shepherd"), &o, 0.2, q, 4, l);
    CHECK(l[0] == 1 && l[1] == 1 && l[2] == 1 && l[3] == 0);

    /* Skywork, current rule: d = 0.3, -0.04, -0.06, +0.3 against -0.05. */
    const float sk[4] = {0.3f, 0.26f, 0.2f, 0.5f};
    pe_family_labels(pe_family_by_name("skywork"), &o, NAN, sk, 4, l);
    CHECK(l[0] == 1 && l[1] == 1 && l[2] == 0 && l[3] == 1);
    const float sk2[2] = {-0.06f, -0.07f}; /* r_1 alone decides the first label */
    pe_family_labels(pe_family_by_name("skywork"), &o, NAN, sk2, 2, l);
    CHECK(l[0] == 0 && l[1] == 1);
    CHECK(pe_family_threshold(pe_family_by_name("skywork"), &o) == -0.05);
    o.label_rule = PE_LABEL_ORIGINAL;
    pe_family_labels(pe_family_by_name("skywork"), &o, NAN, sk, 4, l);
    CHECK(l[0] == 0 && l[1] == 0 && l[2] == 0 && l[3] == 0);
    CHECK(pe_family_threshold(pe_family_by_name("skywork"), &o) == 0.5);
}

static void test_resolve(void)
{
    const pe_family *f;
    pe_err e = {0};
    CHECK_INT(pe_family_resolve("Qwen2ForProcessRewardModel", "auto", &f, &e), 0);
    CHECK_STR(f->name, "qwen-prm");
    CHECK_INT(pe_family_resolve("MistralForCausalLM", NULL, &f, &e), 0);
    CHECK_STR(f->name, "math-shepherd");
    /* the architecture alone: rlhflow or llemma-prm (the vocabulary decides) */
    CHECK_INT(pe_family_resolve("LlamaForCausalLM", "", &f, &e), PE_EUSAGE);
    CHECK(f == NULL && strstr(e.msg, "rlhflow, llemma-prm"));
    pe_err_clear(&e);
    CHECK_INT(pe_family_resolve("LlamaForCausalLM", "rlhflow", &f, &e), 0);
    CHECK_STR(f->name, "rlhflow");
    CHECK_INT(pe_family_resolve("Qwen2ForCausalLM", "skywork", &f, &e), 0);
    CHECK_STR(f->name, "skywork");
    CHECK_INT(pe_family_resolve("LlamaForCausalLM", "math-shepherd", &f, &e), 0);

    CHECK_INT(pe_family_resolve("LlamaForCausalLM", "qwen-prm", &f, &e), PE_EUSAGE);
    CHECK(f == NULL && strstr(e.msg, "LlamaForCausalLM") && strstr(e.msg, "Qwen2ForProcessRewardModel"));
    pe_err_clear(&e);
    CHECK_INT(pe_family_resolve("Qwen2ForCausalLM", "auto", &f, &e), PE_EUSAGE);
    CHECK(strstr(e.msg, "Qwen2ForCausalLM") != NULL);
    pe_err_clear(&e);
    CHECK_INT(pe_family_resolve("Qwen2ForProcessRewardModel", "shepherd", &f, &e), PE_EUSAGE);
    CHECK(strstr(e.msg, "unknown family \"shepherd\"") && strstr(e.msg, "math-shepherd"));
    CHECK(pe_family_by_name("rlhflow") == pe_family_by_name("rlhflow"));
    CHECK(pe_family_by_name("nope") == NULL);
}

/* A checkpoint's tensors for recognition: "name=rows;name=rows;..." */
static int fake_rows(const void *ctx, const char *name)
{
    const char *p = strstr((const char *)ctx, name);
    size_t n = strlen(name);
    return p && p[n] == '=' ? atoi(p + n + 1) : -1;
}

/* ReasonEval: separators removed from the model input, read-outs at each
 * step's last token (34B) or one earlier (7B); an empty step repeats the
 * previous index, a one-token step is read (7B) at the previous step's end. */
static void test_reasoneval(void)
{
    pe_family_opts o;
    pe_family_opts_default(&o);
    char *steps[] = {"Step 1. ab", "", "c"};
    const char *prefix = "Question:\nWhat is 1+1?\nAnswer:\nLet's think step by step.\n";
    int64_t P = (int64_t)strlen(prefix);
    for (int v = 0; v < 2; v++) {
        const pe_family *f = pe_family_by_name(v ? "reasoneval-34b" : "reasoneval-7b");
        /* the 7B's BOS is its separator "<s>" */
        pe_encoder enc = {NULL, toy_encode, toy_token_id, v ? 1 : TOY_ADDED + 7};
        int32_t sep = TOY_ADDED + 7 + v;
        pe_segments sg;
        pe_prompt_tokens p;
        pe_err e = {0};
        CHECK_INT(pe_family_segments(f, &o, Q, 3, steps, &sg, &e), 0);
        CHECK_INT(sg.nexpected, 3);
        char *txt = pe_segments_render(&sg, "<s>", &e);
        CHECK_STR(txt, v ? "<s>Question:\nWhat is 1+1?\nAnswer:\nLet's think step by step.\n<pad>ab<pad><pad>c<pad>"
                         : "<s>Question:\nWhat is 1+1?\nAnswer:\nLet's think step by step.\n<s>ab<s><s>c<s>");
        free(txt);
        CHECK_INT(pe_family_encode(f, &o, &sg, &enc, &p, &e), 0);
        /* model input: BOS, the prefix, a, b, c: no separator left */
        CHECK_INT(p.n, 1 + P + 3);
        CHECK_INT(p.ids[0], v ? 1 : sep);
        for (int64_t i = 1; i < p.n; i++)
            CHECK(p.ids[i] != sep);
        CHECK_INT(p.ids[P + 1], 'a');
        CHECK_INT(p.ids[P + 3], 'c');
        CHECK_INT(p.nread, 3);
        CHECK_INT(p.nread_full, 3);
        int64_t shift = v ? 0 : -1;
        CHECK_INT(p.readout[0], P + 2 + shift);
        CHECK_INT(p.readout[1], P + 2 + shift);
        CHECK_INT(p.readout[2], P + 3 + shift);
        pe_prompt_tokens_free(&p);
        /* the cut drops read-outs at or past max_tokens */
        o.max_tokens = (int)(P + 3);
        CHECK_INT(pe_family_encode(f, &o, &sg, &enc, &p, &e), 0);
        CHECK_INT(p.n, P + 3);
        CHECK_INT(p.nread, v ? 2 : 3);
        CHECK_INT(p.nread_full, 3);
        pe_prompt_tokens_free(&p);
        o.max_tokens = 2048;
        pe_segments_free(&sg);
    }
    /* labels: validity > 0.5, the redundancy classes not (redundancy > 0.15) */
    const pe_family *f = pe_family_by_name("reasoneval-7b");
    const float r[6] = {0.6f, 0.1f, 0.4f, 0.2f, 0.9f, 0.15f}; /* (v, u) per step */
    uint8_t l[3];
    pe_family_labels_cls(f, &o, NAN, NAN, r, 3, PE_CLS_CONFIDENCE, l);
    CHECK(l[0] == 1 && l[1] == 0 && l[2] == 1);
    pe_family_labels_cls(f, &o, NAN, NAN, r, 3, PE_CLS_REDUNDENCY, l);
    CHECK(l[0] == 1 && l[1] == 0 && l[2] == 0); /* u 0.1, 0.2, 0.15f (> 0.15 in double, as Python has it) */
    pe_family_labels_cls(f, &o, NAN, NAN, r, 3, PE_CLS_CIRCULAR, l);
    CHECK(l[0] == 1 && l[1] == 0 && l[2] == 0);
    pe_family_labels_cls(f, &o, 0.3, 0.5, r, 3, PE_CLS_CIRCULAR, l);
    CHECK(l[0] == 1 && l[1] == 1 && l[2] == 1);
    pe_family_labels_cls(f, &o, 0.3, 0.5, r, 3, PE_CLS_CORRECT, l);
    CHECK(l[0] == 1 && l[1] == 1 && l[2] == 1);
    const double v64[3] = {0.6, 0.4, 0.9}, u64[3] = {0.1, 0.2, 0.15};
    pe_family_labels_cls_f64(f, &o, NAN, NAN, v64, u64, 3, PE_CLS_REDUNDENCY, l);
    CHECK(l[0] == 1 && l[1] == 0 && l[2] == 1);
    pe_family_labels_cls_f64(f, &o, NAN, NAN, v64, NULL, 3, PE_CLS_REDUNDENCY, l); /* no u: validity */
    CHECK(l[0] == 1 && l[1] == 0 && l[2] == 1);
}

/* PURE: pieces encoded alone, read at each appended "\n\n" (a "\n\n" inside
 * a step is not read); MATH-Minos: every "и" id, the question's included. */
static void test_pure_minos(void)
{
    pe_family_opts o;
    pe_family_opts_default(&o);
    char *steps[] = {"1. a\n\nb", "", "c"};
    pe_segments sg;
    pe_prompt_tokens p;
    pe_err e = {0};
    const pe_family *f = pe_family_by_name("pure-prm");
    CHECK_INT(pe_family_segments(f, &o, "q", 3, steps, &sg, &e), 0);
    char *txt = pe_segments_render(&sg, "<s>", &e);
    CHECK_STR(txt, "q1. a\n\nb\n\n\n\nc\n\n"); /* no BOS, no strip, nothing between q and step 1 */
    free(txt);
    CHECK_INT(pe_family_encode(f, &o, &sg, &toy, &p, &e), 0);
    /* ids: q, "1. a", "\n\n", "b" | "\n\n" | "\n\n" | "c", "\n\n" */
    int32_t nl = TOY_WORD + 1;
    CHECK_INT(p.n, 1 + 4 + 1 + 1 + 1 + 1 + 1 + 1);
    CHECK_INT(p.nread, 3);
    CHECK_INT(p.readout[0], 7);
    CHECK_INT(p.readout[1], 8);
    CHECK_INT(p.readout[2], 10);
    for (int64_t k = 0; k < p.nread; k++)
        CHECK_INT(p.ids[p.readout[k]], nl);
    CHECK_INT(p.ids[5], nl); /* the step's own "\n\n" is there, but not read */
    pe_prompt_tokens_free(&p);
    pe_segments_free(&sg);

    f = pe_family_by_name("math-minos");
    char *st2[] = {"Step 1. x", "y"};
    CHECK_INT(pe_family_segments(f, &o, "q и", 2, st2, &sg, &e), 0);
    txt = pe_segments_render(&sg, "<s>", &e);
    CHECK_STR(txt, "<s>Human: q и\n\nAssistant:Step 1: x и\nStep 2: y и\n");
    free(txt);
    CHECK_INT(sg.nexpected, 2);
    CHECK_INT(pe_family_encode(f, &o, &sg, &toy, &p, &e), 0);
    /* the toy encodes "и" as its two bytes: the last one (0xB8) is the tag; the question's counts too */
    CHECK_INT(p.nread, 3);
    CHECK_INT(p.nread_full, 3);
    for (int64_t k = 0; k < p.nread; k++)
        CHECK_INT(p.ids[p.readout[k]], 0xB8);
    pe_prompt_tokens_free(&p);
    pe_segments_free(&sg);

    /* recognition tells the two score heads apart by rows */
    const pe_family *g;
    pe_ckpt_facts ck = {"Qwen2ForTokenClassification", 152064, "score.weight=2", fake_rows};
    CHECK_INT(pe_family_resolve_ckpt(&ck, "auto", &g, &e), 0);
    CHECK_STR(g->name, "pure-prm");
    ck.ctx = "score.weight=1";
    CHECK_INT(pe_family_resolve_ckpt(&ck, "auto", &g, &e), PE_EUSAGE);
    pe_err_clear(&e);
    ck = (pe_ckpt_facts){"MistralForTokenClassification", 32001, "score.weight=1", fake_rows};
    CHECK_INT(pe_family_resolve_ckpt(&ck, "auto", &g, &e), 0);
    CHECK_STR(g->name, "math-minos");
    ck.ctx = "score.weight=2";
    CHECK_INT(pe_family_resolve_ckpt(&ck, "auto", &g, &e), PE_EUSAGE);
    pe_err_clear(&e);
    /* labels: > 0 */
    const float r[3] = {0.5f, 0.0f, -0.25f};
    uint8_t l[3];
    pe_family_labels(f, &o, NAN, r, 3, l);
    CHECK(l[0] == 1 && l[1] == 0 && l[2] == 0);
}

/* A toy with a Llama-2-style "▁" (id 999) in front of every encoding. */
static int toy_spm_encode(const void *ctx, const char *text, size_t len, int32_t **ids, size_t *nids, pe_err *e)
{
    int rc = toy_encode(ctx, text, len, ids, nids, e);
    if (rc)
        return rc;
    int32_t *p = pe_realloc(*ids, (*nids + 1) * sizeof *p, e);
    if (!p)
        return e->code;
    memmove(p + 1, p, *nids * sizeof *p);
    p[0] = 999;
    *ids = p;
    ++*nids;
    return PE_OK;
}

/* llemma: n + 1 read-outs (the first right after "# Solution"), steps with
 * their "\n\n" removed and stripped; recognition by vocabulary size. */
static void test_llemma(void)
{
    pe_family_opts o;
    pe_family_opts_default(&o);
    const pe_family *f = pe_family_by_name("llemma-prm");
    char *steps[] = {"1. a\n\nb ", "c"};
    pe_segments sg;
    pe_prompt_tokens p;
    pe_err e = {0};
    CHECK_INT(pe_family_segments(f, &o, "q\n\nr", 2, steps, &sg, &e), 0);
    CHECK_INT(sg.nexpected, 3);
    char *txt = pe_segments_render(&sg, "<s>", &e);
    CHECK_STR(txt, "<s># Question\n\nq\n\nr\n\n# Solution\n\n1. ab\n\nc\n\n");
    free(txt);
    pe_encoder spm = {NULL, toy_spm_encode, toy_token_id, 1};
    CHECK_INT(pe_family_encode(f, &o, &sg, &spm, &p, &e), 0);
    CHECK_INT(p.nread, 3);
    CHECK_INT(p.nread_full, 3);
    for (int64_t k = 0; k < p.nread; k++)
        CHECK_INT(p.ids[p.readout[k]], TOY_WORD + 1);
    /* the first read-out follows "Solution": the 'n' just before it */
    CHECK_INT(p.ids[p.readout[0] - 1], 'n');
    CHECK_INT(p.ids[p.readout[2]], p.ids[p.n - 1]);
    /* an EOS after the marker is a candidate and ends the scan */
    int64_t n_all = p.n;
    o.eos_id = 'b';
    pe_prompt_tokens_free(&p);
    CHECK_INT(pe_family_encode(f, &o, &sg, &spm, &p, &e), 0);
    CHECK_INT(p.nread, 2);
    CHECK_INT(p.ids[p.readout[1]], 'b');
    CHECK_INT(p.n, n_all);
    pe_prompt_tokens_free(&p);
    o.eos_id = -1;
    /* the cut keeps read-outs below max_tokens */
    o.max_tokens = (int)n_all - 1;
    CHECK_INT(pe_family_encode(f, &o, &sg, &spm, &p, &e), 0);
    CHECK_INT(p.nread, 2);
    CHECK_INT(p.nread_full, 3);
    pe_prompt_tokens_free(&p);
    pe_segments_free(&sg);
    /* a separator that encodes to one id cannot lose its first */
    o.max_tokens = 2048;
    CHECK_INT(pe_family_segments(f, &o, "q", 1, steps, &sg, &e), 0);
    CHECK_INT(pe_family_encode(f, &o, &sg, &toy, &p, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "llemma-prm") != NULL);
    pe_err_clear(&e);
    pe_segments_free(&sg);

    /* LlamaForCausalLM with llemma's vocabulary also fits rlhflow: ambiguous */
    const pe_family *g;
    pe_ckpt_facts ck = {"LlamaForCausalLM", 32016, "lm_head.weight=32016", fake_rows};
    CHECK_INT(pe_family_resolve_ckpt(&ck, "auto", &g, &e), PE_EUSAGE);
    CHECK(strstr(e.msg, "several") && strstr(e.msg, "rlhflow") && strstr(e.msg, "llemma-prm"));
    pe_err_clear(&e);
    CHECK_INT(pe_family_resolve_ckpt(&ck, "llemma-prm", &g, &e), 0);
    CHECK_STR(g->name, "llemma-prm");
    ck.vocab_size = 128256;
    CHECK_INT(pe_family_resolve_ckpt(&ck, "auto", &g, &e), 0);
    CHECK_STR(g->name, "rlhflow");
}

static void test_registry(void)
{
    pe_err e = {0};
    CHECK_INT(pe_family_registry_check(&e), 0);
    CHECK(pe_family_count() >= 4);
    for (int i = 0; i < pe_family_count(); i++) {
        const pe_family *f = pe_family_at(i);
        CHECK_STR(pe_family_problem(f), "");
        CHECK(pe_family_by_name(f->name) == f);
        CHECK(strstr(pe_family_names(), f->name) != NULL);
    }
    CHECK(pe_family_at(pe_family_count()) == NULL && pe_family_at(-1) == NULL);
    /* a forgotten or inconsistent field is named, never run */
    pe_family f = *pe_family_by_name("skywork");
    f.prompt = NULL;
    CHECK_STR(pe_family_problem(&f), "prompt");
    f = *pe_family_by_name("skywork");
    f.readout.kind = 0;
    CHECK_STR(pe_family_problem(&f), "readout.kind");
    f = *pe_family_by_name("qwen-prm");
    f.readout.text = NULL;
    CHECK_STR(pe_family_problem(&f), "readout.text");
    f = *pe_family_by_name("qwen-prm");
    f.head.nrows = 3; /* softmax pick with pick 1 stays valid; a tensor head without w does not */
    f.head.w = NULL;
    CHECK_STR(pe_family_problem(&f), "head");
    f = *pe_family_by_name("math-shepherd");
    f.head.tokens = NULL;
    CHECK_STR(pe_family_problem(&f), "head");
    f = *pe_family_by_name("rlhflow");
    f.labels[PE_LABEL_CURRENT].defined = 0;
    CHECK_STR(pe_family_problem(&f), "labels[PE_LABEL_CURRENT]");
    f = *pe_family_by_name("rlhflow");
    f.bos = 0;
    CHECK_STR(pe_family_problem(&f), "bos");
    f = *pe_family_by_name("rlhflow");
    f.tiny.architecture = "Qwen2ForProcessRewardModel";
    CHECK(strstr(pe_family_problem(&f), "tiny.architecture") != NULL);
    f = *pe_family_by_name("rlhflow");
    f.tiny.lm_head = 0;
    CHECK(strstr(pe_family_problem(&f), "tiny.lm_head") != NULL);
    f = *pe_family_by_name("skywork");
    f.auto_architectures = (const char *const[]){"LlamaForCausalLM", NULL};
    CHECK(strstr(pe_family_problem(&f), "auto_architectures") != NULL);
    f = *pe_family_by_name("skywork");
    f.name = NULL;
    CHECK_STR(pe_family_problem(&f), "name");
    /* head descriptors on their own */
    pe_head_desc h = pe_family_by_name("qwen-prm")->head;
    CHECK_STR(pe_head_desc_problem(&h), "");
    h.pick = 2;
    CHECK(*pe_head_desc_problem(&h) != 0);
    h = pe_family_by_name("skywork")->head;
    h.read = PE_READ_SOFTMAX_DIFF;
    CHECK(*pe_head_desc_problem(&h) != 0);
    h = pe_family_by_name("rlhflow")->head;
    h.read = PE_READ_SIGMOID;
    CHECK(*pe_head_desc_problem(&h) != 0);
}

/* Recognition looks at the head tensors' shapes, not only the architecture. */
static void test_resolve_ckpt(void)
{
    const pe_family *f;
    pe_err e = {0};
    pe_ckpt_facts ck = {"Qwen2ForProcessRewardModel", 152064, "score.0.weight=3584;score.2.weight=2", fake_rows};
    CHECK_INT(pe_family_resolve_ckpt(&ck, "auto", &f, &e), 0);
    CHECK_STR(f->name, "qwen-prm");
    /* the same architecture without the head: not a qwen-prm checkpoint */
    ck.ctx = "lm_head.weight=152064";
    CHECK_INT(pe_family_resolve_ckpt(&ck, "auto", &f, &e), PE_EUSAGE);
    CHECK(f == NULL && strstr(e.msg, "does not say which PRM family"));
    pe_err_clear(&e);
    /* a head of the wrong shape does not fit either */
    ck.ctx = "score.0.weight=3584;score.2.weight=3";
    CHECK_INT(pe_family_resolve_ckpt(&ck, "auto", &f, &e), PE_EUSAGE);
    pe_err_clear(&e);
    ck = (pe_ckpt_facts){"Qwen2ForPrmModel", 151936, "v_head.summary.weight=1", fake_rows};
    CHECK_INT(pe_family_resolve_ckpt(&ck, "auto", &f, &e), 0);
    CHECK_STR(f->name, "skywork");
    /* a named family is taken as named (its head is checked when bound) */
    ck.ctx = "";
    CHECK_INT(pe_family_resolve_ckpt(&ck, "skywork", &f, &e), 0);
    CHECK_STR(f->name, "skywork");
}

int main(void)
{
    test_registry();
    test_resolve_ckpt();
    test_reasoneval();
    test_pure_minos();
    test_llemma();
    test_strip_prefix();
    test_segments();
    test_tokens();
    test_token_errors();
    test_labels();
    test_resolve();
    return pe_check_done();
}
