/* Hugging Face config.json for Qwen2, Llama and Mistral. Only fields that
 * change the math are read; defaults are those of transformers' Qwen2Config,
 * LlamaConfig and MistralConfig where a field may be absent. */
#include "config.h"

#include "json_check.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "infile.h"

const char *pe_arch_name(pe_arch a)
{
    switch (a) {
    case PE_ARCH_QWEN2: return "qwen2";
    case PE_ARCH_LLAMA: return "llama";
    case PE_ARCH_MISTRAL: return "mistral";
    }
    return "?";
}

/* A positive integer key: required (absent = error) unless def > 0. */
static int get_int(const cJSON *root, const char *key, int def, int *out, const char *name, pe_err *e)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!j || cJSON_IsNull(j)) {
        if (def <= 0)
            return pe_fail(e, PE_EINPUT, "%s: required key \"%s\" is missing", name, key);
        *out = def;
        return PE_OK;
    }
    double d = cJSON_IsNumber(j) ? j->valuedouble : NAN;
    if (!(d >= 1 && d <= 2147483647.0) || d != floor(d))
        return pe_fail(e, PE_EINPUT, "%s: \"%s\" must be a positive integer", name, key);
    *out = (int)d;
    return PE_OK;
}

static int get_double(const cJSON *root, const char *key, double def, double *out, const char *name, pe_err *e)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!j || cJSON_IsNull(j)) {
        if (isnan(def))
            return pe_fail(e, PE_EINPUT, "%s: required key \"%s\" is missing", name, key);
        *out = def;
        return PE_OK;
    }
    if (!cJSON_IsNumber(j) || !(j->valuedouble > 0) || !isfinite(j->valuedouble))
        return pe_fail(e, PE_EINPUT, "%s: \"%s\" must be a positive number", name, key);
    *out = j->valuedouble;
    return PE_OK;
}

static int get_bool(const cJSON *root, const char *key, int def, int *out, const char *name, pe_err *e)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!j || cJSON_IsNull(j))
        *out = def;
    else if (cJSON_IsBool(j))
        *out = cJSON_IsTrue(j);
    else
        return pe_fail(e, PE_EINPUT, "%s: \"%s\" must be true or false", name, key);
    return PE_OK;
}

/* Token ids: absent/null -> -1; a list (Llama-3.1's eos) -> its first id. */
static int get_token_id(const cJSON *root, const char *key, int *out, const char *name, pe_err *e)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    *out = -1;
    if (!j || cJSON_IsNull(j))
        return PE_OK;
    if (cJSON_IsArray(j))
        j = cJSON_GetArrayItem(j, 0);
    if (!j)
        return PE_OK;
    if (!cJSON_IsNumber(j) || j->valuedouble < 0 || j->valuedouble > 2147483647.0 || j->valuedouble != floor(j->valuedouble))
        return pe_fail(e, PE_EINPUT, "%s: \"%s\" must be a non-negative token id (or a list of them)", name, key);
    *out = (int)j->valuedouble;
    return PE_OK;
}

static int arch_from_model_type(const char *mt, pe_arch *a)
{
    if (!strcmp(mt, "qwen2")) *a = PE_ARCH_QWEN2;
    else if (!strcmp(mt, "llama")) *a = PE_ARCH_LLAMA;
    else if (!strcmp(mt, "mistral")) *a = PE_ARCH_MISTRAL;
    else return 0;
    return 1;
}

/* "Qwen2ForProcessRewardModel" -> qwen2 etc. 0 when the name has no known
 * prefix (custom classes such as a value-head wrapper), which is accepted when
 * model_type says what the backbone is. */
static int arch_from_class(const char *cls, pe_arch *a)
{
    if (!strncmp(cls, "Qwen2", 5) && strncmp(cls, "Qwen2Moe", 8) && strncmp(cls, "Qwen2VL", 7)) *a = PE_ARCH_QWEN2;
    else if (!strncmp(cls, "Llama", 5)) *a = PE_ARCH_LLAMA;
    else if (!strncmp(cls, "Mistral", 7)) *a = PE_ARCH_MISTRAL;
    else return 0;
    return 1;
}

static int parse_rope_scaling(pe_config *c, const cJSON *root, const char *name, pe_err *e)
{
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling");
    c->rope_llama3 = 0;
    if (!rs || cJSON_IsNull(rs))
        return PE_OK;
    if (!cJSON_IsObject(rs))
        return pe_fail(e, PE_EINPUT, "%s: \"rope_scaling\" must be an object or null", name);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
    if (!t)
        t = cJSON_GetObjectItemCaseSensitive(rs, "type");
    if (!cJSON_IsString(t))
        return pe_fail(e, PE_EINPUT, "%s: \"rope_scaling\" has no \"rope_type\" (or \"type\") string", name);
    if (!strcmp(t->valuestring, "default"))
        return PE_OK;
    if (strcmp(t->valuestring, "llama3"))
        return pe_fail(e, PE_EINPUT, "%s: \"rope_scaling\": rope_type \"%s\" is not supported (only \"llama3\" or none)",
                       name, t->valuestring);
    char key[96];
    snprintf(key, sizeof key, "%s: rope_scaling", name);
    c->rope_llama3 = 1;
    if (get_double(rs, "factor", NAN, &c->rope_factor, key, e) ||
        get_double(rs, "low_freq_factor", NAN, &c->rope_low_freq_factor, key, e) ||
        get_double(rs, "high_freq_factor", NAN, &c->rope_high_freq_factor, key, e) ||
        get_int(rs, "original_max_position_embeddings", 0, &c->rope_original_max_pos, key, e))
        return e->code;
    /* The smooth band divides by (high - low): equal factors are undefined. */
    if (!(c->rope_high_freq_factor > c->rope_low_freq_factor))
        return pe_fail(e, PE_EINPUT, "%s: \"rope_scaling\": high_freq_factor (%g) must exceed low_freq_factor (%g)", name,
                       c->rope_high_freq_factor, c->rope_low_freq_factor);
    return PE_OK;
}

static int parse_fields(pe_config *c, const cJSON *root, const char *name, pe_err *e)
{
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    const cJSON *ar = cJSON_GetObjectItemCaseSensitive(root, "architectures");
    const cJSON *a0 = cJSON_IsArray(ar) ? cJSON_GetArrayItem(ar, 0) : NULL;
    if (ar && !cJSON_IsNull(ar) && !(cJSON_IsArray(ar) && (!a0 || cJSON_IsString(a0))))
        return pe_fail(e, PE_EINPUT, "%s: \"architectures\" must be a list of class names", name);
    if (a0)
        snprintf(c->architectures0, sizeof c->architectures0, "%s", a0->valuestring);
    pe_arch from_type = PE_ARCH_QWEN2, from_class = PE_ARCH_QWEN2;
    int have_type = 0, have_class = a0 && arch_from_class(a0->valuestring, &from_class);
    if (mt && !cJSON_IsNull(mt)) {
        if (!cJSON_IsString(mt))
            return pe_fail(e, PE_EINPUT, "%s: \"model_type\" must be a string", name);
        if (!arch_from_model_type(mt->valuestring, &from_type))
            return pe_fail(e, PE_EINPUT, "%s: \"model_type\" \"%s\" is not supported (expected qwen2, llama or mistral)",
                           name, mt->valuestring);
        have_type = 1;
    }
    if (have_type && have_class && from_type != from_class)
        return pe_fail(e, PE_EINPUT, "%s: \"architectures\" [\"%s\"] contradicts \"model_type\" \"%s\"", name,
                       c->architectures0, mt->valuestring);
    if (!have_type && !have_class)
        return pe_fail(e, PE_EINPUT, "%s: cannot tell the architecture: \"model_type\" is missing and \"architectures\" "
                       "[\"%s\"] is not a Qwen2, Llama or Mistral class", name, c->architectures0);
    c->arch = have_type ? from_type : from_class;
    snprintf(c->model_type, sizeof c->model_type, "%s", pe_arch_name(c->arch));

    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "hidden_act");
    if (act && !(cJSON_IsString(act) && !strcmp(act->valuestring, "silu")))
        return pe_fail(e, PE_EINPUT, "%s: \"hidden_act\" must be \"silu\" (the SwiGLU MLP)", name);
    int mlp_bias = 0;
    if (get_bool(root, "mlp_bias", 0, &mlp_bias, name, e))
        return e->code;
    if (mlp_bias)
        return pe_fail(e, PE_EINPUT, "%s: \"mlp_bias\": true is not supported", name);

    if (get_int(root, "hidden_size", 0, &c->hidden_size, name, e) ||
        get_int(root, "num_hidden_layers", 0, &c->num_layers, name, e) ||
        get_int(root, "num_attention_heads", 0, &c->num_heads, name, e) ||
        get_int(root, "num_key_value_heads", c->num_heads, &c->num_kv_heads, name, e) ||
        get_int(root, "intermediate_size", 0, &c->intermediate_size, name, e) ||
        get_int(root, "vocab_size", 0, &c->vocab_size, name, e))
        return e->code;
    if (c->num_heads % c->num_kv_heads)
        return pe_fail(e, PE_EINPUT, "%s: \"num_key_value_heads\" (%d) must divide \"num_attention_heads\" (%d)", name,
                       c->num_kv_heads, c->num_heads);
    const cJSON *hd = cJSON_GetObjectItemCaseSensitive(root, "head_dim");
    if (hd && !cJSON_IsNull(hd)) {
        if (get_int(root, "head_dim", 0, &c->head_dim, name, e))
            return e->code;
    } else {
        if (c->hidden_size % c->num_heads)
            return pe_fail(e, PE_EINPUT, "%s: \"num_attention_heads\" (%d) must divide \"hidden_size\" (%d) when "
                           "\"head_dim\" is absent", name, c->num_heads, c->hidden_size);
        c->head_dim = c->hidden_size / c->num_heads;
    }
    if (c->head_dim % 2)
        return pe_fail(e, PE_EINPUT, "%s: \"head_dim\" (%d) must be even for rotary embeddings", name, c->head_dim);

    int def_maxpos = c->arch == PE_ARCH_QWEN2 ? 32768 : c->arch == PE_ARCH_MISTRAL ? 131072 : 2048;
    double def_eps = 1e-6;
    if (get_int(root, "max_position_embeddings", def_maxpos, &c->max_position_embeddings, name, e) ||
        get_double(root, "rope_theta", 10000.0, &c->rope_theta, name, e) ||
        get_double(root, "rms_norm_eps", def_eps, &c->rms_norm_eps, name, e) ||
        get_bool(root, "tie_word_embeddings", 0, &c->tie_word_embeddings, name, e) ||
        parse_rope_scaling(c, root, name, e) || get_token_id(root, "bos_token_id", &c->bos_token_id, name, e) ||
        get_token_id(root, "eos_token_id", &c->eos_token_id, name, e))
        return e->code;

    /* Qwen2's attention always has q/k/v biases; Llama's only with
     * attention_bias (which then also gives o_proj a bias: not supported). */
    if (c->arch == PE_ARCH_QWEN2) {
        c->attn_bias = 1;
    } else {
        int ab = 0;
        if (get_bool(root, "attention_bias", 0, &ab, name, e))
            return e->code;
        if (ab)
            return pe_fail(e, PE_EINPUT, "%s: \"attention_bias\": true is not supported (o_proj bias)", name);
        c->attn_bias = 0;
    }

    /* Sliding window: Mistral applies "sliding_window" whenever it is set;
     * Qwen2 only with "use_sliding_window": true; Llama has none. */
    c->sliding_window = 0;
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(root, "sliding_window");
    int use_sw = c->arch == PE_ARCH_MISTRAL;
    if (c->arch == PE_ARCH_QWEN2 && get_bool(root, "use_sliding_window", 0, &use_sw, name, e))
        return e->code;
    if (use_sw && sw && !cJSON_IsNull(sw) && get_int(root, "sliding_window", 0, &c->sliding_window, name, e))
        return e->code;

    const cJSON *td = cJSON_GetObjectItemCaseSensitive(root, "torch_dtype");
    if (cJSON_IsString(td))
        snprintf(c->torch_dtype, sizeof c->torch_dtype, "%s", td->valuestring);
    return PE_OK;
}

int pe_config_parse(pe_config *c, const char *text, const char *name, pe_err *e)
{
    memset(c, 0, sizeof *c);
    c->bos_token_id = c->eos_token_id = -1;
    cJSON *root = pe_json_parse_strict(text, strlen(text), name, e);
    if (!root)
        return e->code;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return pe_fail(e, PE_EINPUT, "%s: not a JSON object", name);
    }
    int rc = parse_fields(c, root, name, e);
    cJSON_Delete(root);
    return rc;
}

int pe_config_load(pe_config *c, const char *path, pe_err *e)
{
    char file[4096];
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        snprintf(file, sizeof file, "%s/config.json", path);
    else
        snprintf(file, sizeof file, "%s", path);
    FILE *fp = pe_fopen_input(file);
    if (!fp)
        return pe_fail(e, PE_EIO, "%s: cannot open: %s", file, strerror(errno));
    /* config.json is a few KB; 16 MB is far beyond any real one. */
    enum { CAP = 16 << 20 };
    char *buf = pe_malloc(CAP + 1, e);
    if (!buf) {
        fclose(fp);
        return e->code;
    }
    size_t n = fread(buf, 1, CAP + 1, fp);
    int bad = ferror(fp);
    fclose(fp);
    if (bad || n > CAP) {
        free(buf);
        return pe_fail(e, bad ? PE_EIO : PE_EINPUT, "%s: %s", file, bad ? "read error" : "larger than 16 MB");
    }
    buf[n] = '\0';
    if (strlen(buf) != n) {
        free(buf);
        return pe_fail(e, PE_EINPUT, "%s: NUL byte (binary data, not JSON)", file);
    }
    int rc = pe_config_parse(c, buf, file, e);
    free(buf);
    return rc;
}
