/* pe_tokenizer_load: a tokenizer folder or file read as transformers'
 * AutoTokenizer reads it (docs/tokenizer.md, "Which file, which special tokens"):
 * tokenizer.json when present, else tokenizer.model converted with
 * LlamaConverter's rules; then the special tokens of tokenizer_config.json /
 * special_tokens_map.json and, for LlamaTokenizer folders, the post-processor
 * rebuilt from add_bos_token / add_eos_token (LlamaTokenizerFast.update_post_processor). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/tokenizer_impl.h"
#include "io/tokenizer_io.h"

static int is_file(const char *dir, const char *name)
{
    char p[PE_TOK_PATH + 64];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0 && !S_ISDIR(st.st_mode);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

int pe_tok_files_find(const char *path, pe_tok_files *f, pe_err *e)
{
    memset(f, 0, sizeof *f);
    if (strlen(path) >= PE_TOK_PATH - 32)
        return pe_fail(e, PE_EUSAGE, "%.200s...: tokenizer path too long", path);
    struct stat st;
    if (stat(path, &st) != 0)
        return pe_fail(e, PE_EIO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        snprintf(f->dir, sizeof f->dir, "%s", path);
    } else {
        snprintf(f->file, sizeof f->file, "%s", path);
        const char *slash = strrchr(path, '/');
        if (!slash)
            snprintf(f->dir, sizeof f->dir, ".");
        else if (slash == path)
            snprintf(f->dir, sizeof f->dir, "/");
        else
            snprintf(f->dir, sizeof f->dir, "%.*s", (int)(slash - path), path);
        f->is_spm = ends_with(path, ".model");
    }
    f->has_json = is_file(f->dir, "tokenizer.json");
    f->has_model = is_file(f->dir, "tokenizer.model");
    f->has_config = is_file(f->dir, "tokenizer_config.json");
    f->has_special_map = is_file(f->dir, "special_tokens_map.json");
    if (!f->file[0] && (f->has_json || f->has_model)) {
        /* dir is shorter than PE_TOK_PATH - 32 (checked above) */
        int k = snprintf(f->file, sizeof f->file, "%.*s/%s", PE_TOK_PATH - 32, f->dir,
                         f->has_json ? "tokenizer.json" : "tokenizer.model");
        (void)k;
        f->is_spm = !f->has_json;
    }
    return PE_OK;
}

static int set_text(pe_tokenizer *t, pe_tok_special which, const char *s, pe_err *e)
{
    free(t->special_text[which]);
    t->special_text[which] = NULL;
    if (s && !(t->special_text[which] = pe_strdup(s, e)))
        return e->code;
    return PE_OK;
}

/* The id transformers' convert_tokens_to_ids gives a token text: its id, else unk's. */
static int32_t text_id(const pe_tokenizer *t, const char *s)
{
    int32_t id = pe_strmap_get(&t->token_to_id, s, strlen(s));
    return id >= 0 ? id : t->bpe.unk_id;
}

static int llama_post(pe_tokenizer *t, const pe_tok_config *cfg, pe_err *e)
{
    int add_bos = pe_cfg_true(cfg->add_bos_token, 1), add_eos = pe_cfg_true(cfg->add_eos_token, 0);
    const char *bos = t->special_text[PE_TOK_BOS], *eos = t->special_text[PE_TOK_EOS];
    if (add_bos && !bos)
        return pe_fail(e, PE_EINPUT, "%s/tokenizer_config.json: add_bos_token is true but bos_token is null",
                       cfg->dir);
    if (add_eos && !eos)
        return pe_fail(e, PE_EINPUT, "%s/tokenizer_config.json: add_eos_token is true but eos_token is null",
                       cfg->dir);
    free(t->special_prefix);
    free(t->special_suffix);
    t->special_prefix = t->special_suffix = NULL;
    t->nprefix = t->nsuffix = 0;
    int32_t bid = add_bos ? text_id(t, bos) : -1, eid = add_eos ? text_id(t, eos) : -1;
    if ((add_bos && bid < 0) || (add_eos && eid < 0))
        return pe_fail(e, PE_EINPUT, "%s: the %s token \"%s\" is not in the vocabulary and there is no unk token",
                       t->source, add_bos && bid < 0 ? "BOS" : "EOS", add_bos && bid < 0 ? bos : eos);
    if (add_bos) {
        if (!(t->special_prefix = pe_malloc(sizeof *t->special_prefix, e)))
            return e->code;
        t->special_prefix[t->nprefix++] = bid;
    }
    if (add_eos) {
        if (!(t->special_suffix = pe_malloc(sizeof *t->special_suffix, e)))
            return e->code;
        t->special_suffix[t->nsuffix++] = eid;
    }
    return PE_OK;
}

/* Special token texts: the configuration's, else (LlamaTokenizer) the class
 * defaults <s>, </s>, <unk>; then the Llama post-processor. */
static int apply_config(pe_tokenizer *t, const pe_tok_config *cfg, int llama, pe_err *e)
{
    const pe_cfg_token *sp[] = {&cfg->bos, &cfg->eos, &cfg->unk, &cfg->pad};
    static const char *const llama_def[] = {"<s>", "</s>", "<unk>", NULL};
    for (int i = 0; i < PE_TOK_NSPECIAL; i++)
        if (set_text(t, (pe_tok_special)i, sp[i]->set ? sp[i]->content : llama ? llama_def[i] : NULL, e))
            return e->code;
    return llama ? llama_post(t, cfg, e) : PE_OK;
}

pe_tokenizer *pe_tokenizer_load(const char *path, pe_err *e)
{
    pe_tok_files f;
    if (pe_tok_files_find(path, &f, e))
        return NULL;
    if (!f.file[0]) {
        pe_fail(e, PE_EIO, "%s: no tokenizer.json or tokenizer.model in this folder (a checkpoint that ships none "
                "needs the base model's tokenizer: job key \"tokenizer\", docs/job-config.md)", path);
        return NULL;
    }
    pe_tok_config cfg;
    if (pe_tok_config_load(&cfg, f.dir, e))
        return NULL;
    pe_tokenizer *t = f.is_spm ? pe_tokenizer_from_spm(f.file, &cfg, e) : pe_tokenizer_from_json(f.file, e);
    if (t) {
        const char *kind = f.is_spm ? "tokenizer.model (converted as LlamaConverter)" : "tokenizer.json";
        if (!(t->kind = pe_strdup(kind, e)) || apply_config(t, &cfg, pe_tok_config_is_llama(&cfg, f.is_spm), e)) {
            pe_tokenizer_free(t);
            t = NULL;
        }
    }
    pe_tok_config_free(&cfg);
    return t;
}
