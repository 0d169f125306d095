/* tokenizer_config.json and special_tokens_map.json, read as transformers'
 * PreTrainedTokenizerBase._from_pretrained reads them (tokenizer_config.h). */
#include "tokenizer_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "json_check.h"
#include "tokenizer_io.h"

static int bad(const char *file, const char *key, const char *what, pe_err *e)
{
    return pe_fail(e, PE_EINPUT, "%s: \"%s\": %s", file, key, what);
}

/* NULL without error when the file does not exist. */
static cJSON *read_json(const char *dir, const char *name, char **path_out, pe_err *e)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = pe_malloc(n, e);
    if (!path)
        return NULL;
    snprintf(path, n, "%s/%s", dir, name);
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno != ENOENT)
            pe_fail(e, PE_EIO, "%s: %s", path, strerror(errno));
        free(path);
        return NULL;
    }
    size_t len;
    char *text = pe_tok_read_text(path, &len, e);
    cJSON *root = NULL;
    if (text && strlen(text) != len)
        pe_fail(e, PE_EINPUT, "%s: NUL byte (binary data, not JSON)", path);
    else if (text)
        root = pe_json_parse_strict(text, len, path, e);
    free(text);
    if (root && !cJSON_IsObject(root)) {
        pe_fail(e, PE_EINPUT, "%s: expected a JSON object", path);
        cJSON_Delete(root);
        root = NULL;
    }
    if (!root) {
        free(path);
        return NULL;
    }
    *path_out = path;
    return root;
}

static int get_flag(const char *file, const cJSON *o, const char *key, int *out, pe_err *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        *out = PE_CFG_ABSENT;
    else if (cJSON_IsNull(v))
        *out = PE_CFG_NULL;
    else if (cJSON_IsBool(v))
        *out = cJSON_IsTrue(v);
    else
        return bad(file, key, "expected true, false or null", e);
    return PE_OK;
}

static void token_clear(pe_cfg_token *t)
{
    free(t->content);
    memset(t, 0, sizeof *t);
    t->normalized = PE_CFG_ABSENT;
}

/* A token written as "text", {"content": "text", "lstrip": ..., ...} (the
 * "__type": "AddedToken" form included) or null. */
static int read_token(const char *file, const char *key, const cJSON *v, pe_cfg_token *t, pe_err *e)
{
    token_clear(t);
    t->set = 1;
    if (cJSON_IsNull(v))
        return PE_OK;
    const char *s = NULL;
    if (cJSON_IsString(v)) {
        s = v->valuestring;
    } else if (cJSON_IsObject(v)) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "content");
        if (!cJSON_IsString(c))
            return bad(file, key, "a token object needs a string \"content\"", e);
        s = c->valuestring;
        int f;
        static const char *const names[] = {"lstrip", "rstrip", "single_word", "special", "normalized"};
        int *dst[] = {&t->lstrip, &t->rstrip, &t->single_word, &t->special, &t->normalized};
        for (int i = 0; i < 5; i++) {
            const cJSON *b = cJSON_GetObjectItemCaseSensitive(v, names[i]);
            if (b && !cJSON_IsBool(b)) {
                char k[160];
                snprintf(k, sizeof k, "%.100s.%s", key, names[i]);
                return bad(file, k, "expected true or false", e);
            }
            f = b ? cJSON_IsTrue(b) : (i == 4 ? PE_CFG_ABSENT : 0);
            *dst[i] = f;
        }
    } else {
        return bad(file, key, "expected a token: a string, an object with \"content\", or null", e);
    }
    if (!*s)
        return bad(file, key, "the token is empty", e);
    t->content = pe_strdup(s, e);
    return t->content ? PE_OK : e->code;
}

static int read_specials(const char *file, const cJSON *root, pe_tok_config *c, int from_map, pe_err *e)
{
    static const char *const keys[] = {"bos_token", "eos_token", "unk_token", "pad_token"};
    pe_cfg_token *dst[] = {&c->bos, &c->eos, &c->unk, &c->pad};
    for (int i = 0; i < 4; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, keys[i]);
        if (!v)
            continue;
        if (read_token(file, keys[i], v, dst[i], e))
            return e->code;
        if (from_map && dst[i]->content)
            dst[i]->special = 1; /* transformers sets value["special"] = True for the map's dicts */
    }
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(root, "additional_special_tokens");
    if (!x || cJSON_IsNull(x))
        return PE_OK;
    if (!cJSON_IsArray(x))
        return bad(file, "additional_special_tokens", "expected an array", e);
    int n = cJSON_GetArraySize(x);
    pe_cfg_token *arr = n ? pe_calloc((size_t)n, sizeof *arr, e) : NULL;
    if (n && !arr)
        return e->code;
    for (int i = 0; i < c->nextra; i++)
        free(c->extra[i].content);
    free(c->extra);
    c->extra = arr;
    c->nextra = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, x) {
        char k[64];
        snprintf(k, sizeof k, "additional_special_tokens[%d]", c->nextra);
        pe_cfg_token *t = &c->extra[c->nextra++];
        if (read_token(file, k, it, t, e))
            return e->code;
        if (!t->content)
            return bad(file, k, "expected a token, not null", e);
        t->special = 1;
    }
    return PE_OK;
}

static int cmp_id(const void *a, const void *b)
{
    int32_t x = ((const pe_cfg_token *)a)->id, y = ((const pe_cfg_token *)b)->id;
    return (x > y) - (x < y);
}

static int read_added_decoder(const char *file, const cJSON *d, pe_tok_config *c, pe_err *e)
{
    if (!cJSON_IsObject(d))
        return bad(file, "added_tokens_decoder", "expected an object of \"id\": token", e);
    c->has_added_decoder = 1;
    int n = cJSON_GetArraySize(d);
    if (n == 0)
        return PE_OK;
    if (!(c->added = pe_calloc((size_t)n, sizeof *c->added, e)))
        return e->code;
    const cJSON *it;
    cJSON_ArrayForEach(it, d) {
        char k[160];
        snprintf(k, sizeof k, "added_tokens_decoder[\"%.100s\"]", it->string);
        char *end;
        errno = 0;
        long id = strtol(it->string, &end, 10);
        if (!it->string[0] || *end || errno || id < 0 || id > (1 << 24) - 1)
            return bad(file, k, "the key must be a token id from 0 to 2^24-1", e);
        pe_cfg_token *t = &c->added[c->nadded++];
        if (read_token(file, k, it, t, e))
            return e->code;
        if (!t->content || !cJSON_IsObject(it))
            return bad(file, k, "expected a token object with \"content\"", e);
        t->id = (int32_t)id;
    }
    qsort(c->added, (size_t)c->nadded, sizeof *c->added, cmp_id);
    for (int i = 1; i < c->nadded; i++)
        if (c->added[i].id == c->added[i - 1].id)
            return bad(file, "added_tokens_decoder", "a token id is listed twice", e);
    return PE_OK;
}

int pe_tok_config_load(pe_tok_config *c, const char *dir, pe_err *e)
{
    memset(c, 0, sizeof *c);
    c->add_bos_token = c->add_eos_token = c->legacy = c->add_prefix_space = PE_CFG_ABSENT;
    token_clear(&c->bos);
    token_clear(&c->eos);
    token_clear(&c->unk);
    token_clear(&c->pad);
    if (!(c->dir = pe_strdup(dir, e)))
        return e->code;
    char *file = NULL;
    cJSON *root = read_json(dir, "tokenizer_config.json", &file, e);
    if (!root && e->code)
        return e->code;
    int rc = PE_OK;
    if (root) {
        c->has_config = 1;
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(root, "tokenizer_class");
        const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "added_tokens_decoder");
        if (cls && !cJSON_IsNull(cls) && !cJSON_IsString(cls))
            rc = bad(file, "tokenizer_class", "expected a string", e);
        else if (cJSON_IsString(cls) && !(c->tokenizer_class = pe_strdup(cls->valuestring, e)))
            rc = e->code;
        if (!rc)
            rc = get_flag(file, root, "add_bos_token", &c->add_bos_token, e) ||
                 get_flag(file, root, "add_eos_token", &c->add_eos_token, e) ||
                 get_flag(file, root, "legacy", &c->legacy, e) ||
                 get_flag(file, root, "add_prefix_space", &c->add_prefix_space, e);
        if (!rc)
            rc = read_specials(file, root, c, 0, e);
        if (!rc && dec && !cJSON_IsNull(dec))
            rc = read_added_decoder(file, dec, c, e);
        cJSON_Delete(root);
        free(file);
        file = NULL;
        if (rc)
            return e->code;
    }
    cJSON *map = read_json(dir, "special_tokens_map.json", &file, e);
    if (!map && e->code)
        return e->code;
    if (map) {
        c->has_special_map = 1;
        /* The map is the older layout: transformers reads it only when
         * tokenizer_config.json lists no added_tokens_decoder. */
        if (!c->has_added_decoder) {
            c->special_from_map = 1;
            rc = read_specials(file, map, c, 1, e);
        }
        cJSON_Delete(map);
        free(file);
    }
    return rc ? e->code : PE_OK;
}

void pe_tok_config_free(pe_tok_config *c)
{
    if (!c)
        return;
    free(c->dir);
    free(c->tokenizer_class);
    token_clear(&c->bos);
    token_clear(&c->eos);
    token_clear(&c->unk);
    token_clear(&c->pad);
    for (int i = 0; i < c->nadded; i++)
        free(c->added[i].content);
    free(c->added);
    for (int i = 0; i < c->nextra; i++)
        free(c->extra[i].content);
    free(c->extra);
    memset(c, 0, sizeof *c);
}

int pe_tok_config_is_llama(const pe_tok_config *c, int has_model_file)
{
    if (c->tokenizer_class)
        return !strcmp(c->tokenizer_class, "LlamaTokenizer") || !strcmp(c->tokenizer_class, "LlamaTokenizerFast");
    return has_model_file;
}

int pe_cfg_true(int v, int def)
{
    if (v == PE_CFG_ABSENT)
        return def;
    return v == 1; /* null is Python's None: false */
}
