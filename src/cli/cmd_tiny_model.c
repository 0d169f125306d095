/* prmeval tiny-model DIR --family F [...]: a small random checkpoint. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_option.h"
#include "cli/commands.h"
#include "core/err.h"
#include "io/tiny_model.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: prmeval tiny-model DIR --family F [--seed S] [--dtype f32|bf16|f16]\n"
            "                          [--layers N] [--hidden H] [--heads NH] [--kv-heads NKV]\n"
            "                          [--ffn F] [--head-dim D] [--max-pos P] [--merges M]\n"
            "                          [--tokenizer FOLDER]\n"
            "  Writes DIR/config.json, model.safetensors, tokenizer.json and tokenizer_config.json:\n"
            "  a small random model in the Hugging Face layout, identical for identical options.\n"
            "  DIR is created if needed (its parent must exist); files already there are replaced.\n"
            "\n"
            "  --family F     (required) qwen-prm (Qwen2 + score head), skywork (Qwen2 + v_head,\n"
            "                 tied LM head), math-shepherd (Mistral, LM head), rlhflow (Llama,\n"
            "                 llama3 rope scaling, LM head), reasoneval-7b (Mistral + score_head),\n"
            "                 reasoneval-34b (Llama + score_head, <pad> token), math-minos\n"
            "                 (Mistral + score, 1 label), pure-prm (Qwen2 + score, 2 labels),\n"
            "                 llemma-prm (Llama, LM head)\n"
            "  --seed S       weights' seed, 0..2^63-1 (default 0); changes only the weights\n"
            "  --dtype T      stored dtype: f32, bf16 or f16 (default f32)\n"
            "  --layers N     decoder layers (default 2)\n"
            "  --hidden H     hidden size (default 64)\n"
            "  --heads NH     attention heads (default 4)\n"
            "  --kv-heads NKV key/value heads, must divide NH (default 2)\n"
            "  --ffn F        MLP intermediate size (default 128)\n"
            "  --head-dim D   per-head size, even (default H/NH, which must then be whole)\n"
            "  --max-pos P    max_position_embeddings (default 4096 for qwen-prm and skywork,\n"
            "                 32768 for math-shepherd, 131072 for rlhflow)\n"
            "  --merges M     BPE merges learned from a built-in corpus, 1..4096 (default 320;\n"
            "                 fewer when the corpus has no more repeated pairs)\n"
            "  --tokenizer FOLDER  copy FOLDER/tokenizer.json (and tokenizer_config.json)\n"
            "                 instead of training a tiny tokenizer; the vocabulary follows it\n"
            "  -h, --help     this help\n"
            "  Sizes are integers in 1..65536.\n"
            "\n"
            "A line on stderr says what was written. Exit codes: 0 ok, 1 internal error,\n"
            "2 usage, 4 file system, 5 out of memory.\n");
}

static int parse_int(const char *opt, const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "prmeval tiny-model: %s '%s': expected an integer in %lld..%lld\n", opt, s, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

int cmd_tiny_model(int argc, char **argv)
{
    const char *dir = NULL, *family = NULL, *dtype = "f32", *tokenizer = NULL;
    /* The first NSIZES set v[] (the model's sizes); the rest by name below. */
    enum { NSIZES = 7, OPT_FAMILY = NSIZES, OPT_DTYPE, OPT_SEED, OPT_MERGES, OPT_TOKENIZER, NOPTS };
    long long seed = 0, v[NSIZES] = {0};
    static const char *const opts[NOPTS] = {"--layers", "--hidden", "--heads", "--kv-heads", "--ffn", "--head-dim",
                                            "--max-pos", "--family", "--dtype", "--seed", "--merges", "--tokenizer"};
    long long merges = 320;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return PE_OK;
        }
        if (a[0] != '-') {
            if (dir) {
                fprintf(stderr, "prmeval tiny-model: unexpected argument '%s'\n", a);
                return PE_EUSAGE;
            }
            dir = a;
            continue;
        }
        /* every option takes a value: name an unknown one before asking for it */
        const char *val;
        int which = pe_cli_option(argc, argv, &i, opts, NOPTS, &val);
        if (which < 0) {
            fprintf(stderr, "prmeval tiny-model: unknown option '%s'\n", a);
            usage(stderr);
            return PE_EUSAGE;
        }
        const char *name = opts[which];
        if (!val) {
            fprintf(stderr, "prmeval tiny-model: %s needs a value\n", name);
            return PE_EUSAGE;
        }
        int ok = 1;
        if (which == OPT_FAMILY)
            family = val;
        else if (which == OPT_DTYPE)
            dtype = val;
        else if (which == OPT_TOKENIZER)
            tokenizer = val;
        else if (which == OPT_SEED)
            ok = parse_int(name, val, 0, 0x7fffffffffffffffLL, &seed);
        else if (which == OPT_MERGES)
            ok = parse_int(name, val, 1, 4096, &merges);
        else
            ok = parse_int(name, val, 1, 65536, &v[which]);
        if (!ok)
            return PE_EUSAGE;
    }
    if (!dir || !family) {
        fprintf(stderr, "prmeval tiny-model: DIR and --family are required\n");
        usage(stderr);
        return PE_EUSAGE;
    }
    const pe_family *f = pe_family_by_name(family);
    if (!f) {
        fprintf(stderr, "prmeval tiny-model: --family '%s': expected one of %s\n", family, pe_family_names());
        return PE_EUSAGE;
    }
    pe_tiny_spec s;
    pe_tiny_spec_default(&s, f);
    s.seed = (uint64_t)seed;
    s.merges = (int)merges;
    s.tokenizer_dir = tokenizer;
    if (!strcmp(dtype, "f32")) s.dtype = PE_DT_F32;
    else if (!strcmp(dtype, "bf16")) s.dtype = PE_DT_BF16;
    else if (!strcmp(dtype, "f16")) s.dtype = PE_DT_F16;
    else {
        fprintf(stderr, "prmeval tiny-model: --dtype '%s': expected f32, bf16 or f16\n", dtype);
        return PE_EUSAGE;
    }
    int *fields[NSIZES] = {&s.layers, &s.hidden, &s.heads, &s.kv_heads, &s.ffn, &s.head_dim, &s.max_pos};
    for (int k = 0; k < NSIZES; k++)
        if (v[k])
            *fields[k] = (int)v[k];
    pe_err e = {0};
    if (pe_tiny_model_write(dir, &s, &e)) {
        fprintf(stderr, "prmeval tiny-model: %s\n", e.msg);
        return e.code;
    }
    fprintf(stderr, "prmeval tiny-model: wrote %s model to %s (seed %llu, %s)\n", family, dir, (unsigned long long)seed,
            dtype);
    return PE_OK;
}
