/* prmeval tokenize: token ids of text under a Hugging Face tokenizer (a
 * tokenizer.json, or a SentencePiece tokenizer.model converted as transformers
 * does), as one JSON array per input (the form the oracle tests compare). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli_option.h"
#include "cli/commands.h"
#include "core/err.h"
#include "core/tokenizer.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: prmeval tokenize --tokenizer PATH (--text T | --file F [--jsonl]) [--add-special]\n"
            "\n"
            "Prints the token ids of text under a Hugging Face tokenizer, one JSON array\n"
            "per input, e.g. [9707,1879]. Ids equal Hugging Face's fast tokenizer for\n"
            "byte-level BPE (Qwen2, Llama-3) and SentencePiece-style BPE (Llama-2,\n"
            "Mistral), also from a SentencePiece tokenizer.model; see docs/tokenizer.md.\n"
            "\n"
            "  --tokenizer PATH  a folder (its tokenizer.json, else its tokenizer.model, with\n"
            "                    tokenizer_config.json and special_tokens_map.json: what\n"
            "                    `prmeval run` reads), a tokenizer.json or a tokenizer.model\n"
            "  --text T          T is one input, newlines included; prints one array\n"
            "  --file F          each line of F (without its '\\n') is one input; prints one\n"
            "                    array per line. F may be '-' for standard input\n"
            "  --jsonl           with --file: each line of F is a JSON string (\"a\\nb\"), so\n"
            "                    an input may hold newlines or any other character exactly\n"
            "  --add-special     add the post-processor's tokens (e.g. BOS), as Hugging\n"
            "                    Face's add_special_tokens=True; nothing is added otherwise\n"
            "  -h, --help        this help\n"
            "\n"
            "Added and special tokens written in the text (e.g. <|im_start|>) are always\n"
            "matched as tokens, as Hugging Face does.\n"
            "exit codes: 0 success, 2 usage, 3 malformed tokenizer file or input, 4 file\n"
            "system (e.g. a folder without a tokenizer), 5 out of memory\n");
}

static int print_ids(const int32_t *ids, size_t n)
{
    putchar('[');
    for (size_t i = 0; i < n; i++)
        printf(i ? ",%d" : "%d", (int)ids[i]);
    putchar(']');
    putchar('\n');
    return ferror(stdout) ? PE_EIO : PE_OK;
}

static int encode_print(const pe_tokenizer *t, const char *s, size_t len, int add_special, pe_err *e)
{
    int32_t *ids;
    size_t n;
    if (pe_tokenizer_encode(t, s, len, add_special, &ids, &n, e))
        return e->code;
    int rc = print_ids(ids, n);
    free(ids);
    return rc ? pe_fail(e, PE_EIO, "cannot write to standard output") : PE_OK;
}

static int run_file(const pe_tokenizer *t, const char *path, int jsonl, int add_special, pe_err *e)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f)
        return pe_fail(e, PE_EIO, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t got;
    int rc = PE_OK;
    while ((got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)got;
        if (len > 0 && line[len - 1] == '\n')
            len--;
        if (!jsonl) {
            rc = encode_print(t, line, len, add_special, e);
        } else {
            cJSON *v = cJSON_ParseWithLength(line, len);
            if (!cJSON_IsString(v)) {
                cJSON_Delete(v);
                rc = pe_fail(e, PE_EINPUT, "%s:%zu: expected one JSON string per line (--jsonl)", path, lineno);
                break;
            }
            /* cJSON ends strings at NUL, so an escaped \u0000 would cut the input short. */
            if (strlen(v->valuestring) != len && memchr(line, '\\', len) && strstr(line, "\\u0000")) {
                cJSON_Delete(v);
                rc = pe_fail(e, PE_EINPUT, "%s:%zu: NUL characters (\\u0000) are not supported", path, lineno);
                break;
            }
            rc = encode_print(t, v->valuestring, strlen(v->valuestring), add_special, e);
            cJSON_Delete(v);
        }
        if (rc) {
            pe_err_prefix(e, "%s:%zu: ", path, lineno);
            break;
        }
    }
    if (!rc && ferror(f))
        rc = pe_fail(e, PE_EIO, "%s: read error", path);
    free(line);
    if (f != stdin)
        fclose(f);
    return rc;
}

int cmd_tokenize(int argc, char **argv)
{
    const char *tok = NULL, *text = NULL, *file = NULL;
    int add_special = 0, jsonl = 0;
    static const char *const names[] = {"--tokenizer", "--text", "--file"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int which;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return PE_OK;
        } else if (!strcmp(a, "--add-special")) {
            add_special = 1;
        } else if (!strcmp(a, "--jsonl")) {
            jsonl = 1;
        } else if ((which = pe_cli_option(argc, argv, &i, names, 3, &v)) >= 0) {
            if (!v || (!*v && which != 1)) { /* an empty --text is text like any other */
                fprintf(stderr, "prmeval tokenize: %s needs a value\n", names[which]);
                return PE_EUSAGE;
            }
            const char **dst = which == 0 ? &tok : which == 1 ? &text : &file;
            if (*dst) {
                fprintf(stderr, "prmeval tokenize: %s given twice\n", names[which]);
                return PE_EUSAGE;
            }
            *dst = v;
        } else {
            fprintf(stderr, "prmeval tokenize: unknown argument '%s'\n\n", a);
            usage(stderr);
            return PE_EUSAGE;
        }
    }
    if (!tok || (!text == !file)) {
        fprintf(stderr, "prmeval tokenize: needs --tokenizer and exactly one of --text or --file\n\n");
        usage(stderr);
        return PE_EUSAGE;
    }
    if (jsonl && !file) {
        fprintf(stderr, "prmeval tokenize: --jsonl goes with --file\n");
        return PE_EUSAGE;
    }
    pe_err e;
    pe_err_clear(&e);
    pe_tokenizer *t = pe_tokenizer_load(tok, &e);
    if (!t) {
        fprintf(stderr, "prmeval tokenize: %s\n", e.msg);
        return e.code;
    }
    /* Ids are printed in bulk: a large buffer keeps stdout off the profile. */
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    int rc = text ? encode_print(t, text, strlen(text), add_special, &e) : run_file(t, file, jsonl, add_special, &e);
    if (!rc && fflush(stdout) != 0)
        rc = pe_fail(&e, PE_EIO, "cannot write to standard output");
    pe_tokenizer_free(t);
    if (rc)
        fprintf(stderr, "prmeval tokenize: %s\n", e.msg);
    return rc;
}
