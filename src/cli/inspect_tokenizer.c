/* prmeval inspect: the tokenizer a checkpoint runs with (inspect_tokenizer.h). */
#include "cli/inspect_tokenizer.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/tokenizer.h"
#include "io/tokenizer_io.h"

static void print_special(const pe_tokenizer *t, const char *name, pe_tok_special which)
{
    const char *s = pe_tokenizer_special_text(t, which);
    if (s)
        printf(" %s \"%s\" (%d)", name, s, (int)pe_tokenizer_token_id(t, s));
    else
        printf(" %s none", name);
}

int pe_inspect_tokenizer(const char *model_dir, const char *tok_path)
{
    pe_err e = {0};
    pe_tok_files f;
    if (pe_tok_files_find(model_dir, &f, &e)) {
        fprintf(stderr, "prmeval inspect: %s\n", e.msg);
        return e.code;
    }
    printf("tokenizer:\n  folder holds             ");
    const char *names[] = {"tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"};
    int has[] = {f.has_json, f.has_model, f.has_config, f.has_special_map};
    int any = 0;
    for (int i = 0; i < 4; i++)
        if (has[i])
            printf("%s%s", any++ ? ", " : "", names[i]);
    printf("%s\n", any ? "" : "no tokenizer files");
    if (tok_path) {
        if (pe_tok_files_find(tok_path, &f, &e)) {
            fprintf(stderr, "prmeval inspect: --tokenizer: %s\n", e.msg);
            return e.code;
        }
    }
    if (!f.file[0]) {
        printf("  read                     nothing: this folder cannot run as is\n");
        fprintf(stderr,
                "prmeval inspect: %s holds no tokenizer.json or tokenizer.model, so `prmeval run` cannot "
                "tokenize for it. Pass the tokenizer of the model it was trained from with the job key "
                "\"tokenizer\" (a folder holding tokenizer.json or tokenizer.model, or one of those files), e.g. "
                "--set tokenizer=/data/llemma_7b, and check it with `prmeval inspect %s --tokenizer PATH`\n",
                tok_path ? tok_path : model_dir, model_dir);
        return PE_EIO;
    }
    pe_tokenizer *t = pe_tokenizer_load(tok_path ? tok_path : model_dir, &e);
    if (!t) {
        fprintf(stderr, "prmeval inspect: %s\n", e.msg);
        return e.code ? e.code : PE_EINPUT;
    }
    printf("  read                     %s as %s%s\n", pe_tokenizer_source(t), pe_tokenizer_kind(t),
           tok_path ? " (from --tokenizer)" : "");
    printf("  vocabulary               %d ids\n", (int)pe_tokenizer_vocab_size(t));
    printf("  special tokens          ");
    print_special(t, "bos", PE_TOK_BOS);
    print_special(t, "eos", PE_TOK_EOS);
    print_special(t, "unk", PE_TOK_UNK);
    print_special(t, "pad", PE_TOK_PAD);
    int32_t bos = pe_tokenizer_bos_id(t);
    if (bos >= 0)
        printf("\n  add_special_tokens adds  %s (%d) first\n", pe_tokenizer_id_token(t, bos), (int)bos);
    else
        printf("\n  add_special_tokens adds  nothing before the text\n");
    pe_tokenizer_free(t);
    return PE_OK;
}
