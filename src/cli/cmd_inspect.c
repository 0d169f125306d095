/* prmeval inspect DIR: validates a checkpoint folder and prints what it holds. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/inspect_tokenizer.h"
#include "core/err.h"
#include "io/model.h"
#include "io/safetensors.h"
#include "prm/prm.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: prmeval inspect DIR [--quiet] [--tokenizer PATH]\n"
               "  Reads DIR/config.json and the weights: model.safetensors, the shards listed\n"
               "  in model.safetensors.index.json, pytorch_model.bin, or the shards listed in\n"
               "  pytorch_model.bin.index.json (the first found; .bin files are torch.save zip\n"
               "  archives whose pickle is read, never executed). Checks every tensor against\n"
               "  the config and prints the layout read, the configuration, parameter count,\n"
               "  dtypes, tensors and heads.\n"
               "  The family printed is the one \"family\": \"auto\" would choose (or why none).\n"
               "  Then the tokenizer `run` would use: DIR/tokenizer.json, else DIR/tokenizer.model\n"
               "  (SentencePiece, converted as transformers does), with tokenizer_config.json and\n"
               "  special_tokens_map.json; its special tokens and what add_special_tokens adds.\n"
               "  A folder without a tokenizer says what is missing and exits 4.\n"
               "\n"
               "  --quiet      print the summary only, not one line per tensor\n"
               "  --tokenizer PATH  the tokenizer the job key \"tokenizer\" would name (a folder,\n"
               "               tokenizer.json or tokenizer.model), for checkpoints that ship none\n"
               "  -h, --help   this help\n"
               "\n"
               "Output on stdout; errors on stderr name the file and the tensor or key.\n"
               "Exit codes: 0 ok, 2 usage, 3 malformed checkpoint or tokenizer, 4 file system\n"
               "(e.g. a missing file, or no tokenizer to run with), 5 out of memory.\n");
}

static void print_config(const pe_config *c)
{
    printf("config:\n");
    printf("  architectures[0]         %s\n", c->architectures0[0] ? c->architectures0 : "(none)");
    printf("  model_type               %s\n", c->model_type);
    printf("  hidden_size              %d\n", c->hidden_size);
    printf("  num_hidden_layers        %d\n", c->num_layers);
    printf("  num_attention_heads      %d\n", c->num_heads);
    printf("  num_key_value_heads      %d\n", c->num_kv_heads);
    printf("  head_dim                 %d\n", c->head_dim);
    printf("  intermediate_size        %d\n", c->intermediate_size);
    printf("  vocab_size               %d\n", c->vocab_size);
    printf("  max_position_embeddings  %d\n", c->max_position_embeddings);
    printf("  rope_theta               %g\n", c->rope_theta);
    if (c->rope_llama3)
        printf("  rope_scaling             llama3 (factor %g, low_freq_factor %g, high_freq_factor %g, "
               "original_max_position_embeddings %d)\n",
               c->rope_factor, c->rope_low_freq_factor, c->rope_high_freq_factor, c->rope_original_max_pos);
    else
        printf("  rope_scaling             none\n");
    printf("  rms_norm_eps             %g\n", c->rms_norm_eps);
    printf("  tie_word_embeddings      %s\n", c->tie_word_embeddings ? "true" : "false");
    printf("  attention biases (q/k/v) %s\n", c->attn_bias ? "yes" : "no");
    if (c->sliding_window)
        printf("  sliding_window           %d\n", c->sliding_window);
    else
        printf("  sliding_window           none\n");
    printf("  bos_token_id             %d\n", c->bos_token_id);
    printf("  eos_token_id             %d\n", c->eos_token_id);
    if (c->torch_dtype[0])
        printf("  torch_dtype              %s\n", c->torch_dtype);
}

int cmd_inspect(int argc, char **argv)
{
    const char *dir = NULL, *tok = NULL;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return PE_OK;
        } else if (!strcmp(argv[i], "--quiet")) {
            quiet = 1;
        } else if (!strcmp(argv[i], "--tokenizer")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "prmeval inspect: --tokenizer needs a value\n");
                return PE_EUSAGE;
            }
            tok = argv[++i];
        } else if (argv[i][0] == '-' || dir) {
            fprintf(stderr, "prmeval inspect: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return PE_EUSAGE;
        } else {
            dir = argv[i];
        }
    }
    if (!dir) {
        usage(stderr);
        return PE_EUSAGE;
    }
    pe_err e = {0};
    pe_model m;
    if (pe_model_open(&m, dir, &e)) {
        fprintf(stderr, "prmeval inspect: %s\n", e.msg);
        return e.code;
    }
    const st_set *s = m.impl;
    printf("checkpoint: %s\n", dir);
    printf("layout: %s\n", s->layout);
    printf("files: %d\n", s->nfiles);
    for (int i = 0; i < s->nfiles; i++)
        printf("  %s (%zu bytes)\n", s->files[i].path, s->files[i].size);
    print_config(&m.cfg);

    /* Parameters counted per stored tensor: a tied LM head is counted once,
     * and so is a .bin tensor stored under two names (same bytes). */
    size_t params = 0, bytes = 0, per_dtype[3] = {0, 0, 0};
    for (int i = 0; i < s->n; i++) {
        const st_entry *t = &s->entries[i];
        int dup = 0;
        for (int j = 0; j < i && !dup && t->end > t->begin; j++)
            dup = s->entries[j].file == t->file && s->entries[j].begin == t->begin && s->entries[j].end == t->end;
        if (dup)
            continue;
        size_t n = (t->end - t->begin) / st_dtype_size(t->dtype);
        params += n;
        bytes += t->end - t->begin;
        per_dtype[t->dtype] += n;
    }
    printf("tensors: %d\nparameters: %zu (%.3f M), %zu bytes\n", s->n, params, (double)params / 1e6, bytes);
    printf("dtypes:");
    for (int d = 0; d < 3; d++)
        if (per_dtype[d])
            printf(" %s %zu", st_dtype_name((pe_dtype)d), per_dtype[d]);
    printf("\n");
    const pe_weights *w = &m.w;
    printf("heads:");
    if (w->lm_head.data)
        printf(" lm_head%s", w->lm_head.data == w->embed.data ? " (tied to embed_tokens)" : "");
    /* every registered family's head tensors found in their published shape */
    pe_ckpt_facts ck;
    pe_model_facts(&m, &ck);
    for (int i = 0; i < pe_family_count(); i++) {
        const pe_head_desc *h = &pe_family_at(i)->head;
        if (h->rows == PE_ROWS_TENSOR && ck.tensor_rows(ck.ctx, h->w) == h->nrows)
            printf(" %s (%s: %s%d rows)", h->w, pe_family_at(i)->name, h->mlp_w ? "hidden layer + " : "", h->nrows);
    }
    const pe_family *fam = NULL;
    pe_err fe = {0};
    if (pe_family_resolve_ckpt(&ck, "auto", &fam, &fe) == PE_OK)
        printf("\nfamily (recognised from config.json and the head tensors): %s\n", fam->name);
    else
        printf("\nfamily: not recognised: %s\n", fe.msg);
    if (!quiet) {
        printf("tensor list:\n");
        for (int i = 0; i < s->n; i++) {
            const st_entry *t = &s->entries[i];
            printf("  %-56s %-4s [", t->name, st_dtype_name(t->dtype));
            for (int d = 0; d < t->ndim; d++)
                printf(d ? ", %lld" : "%lld", (long long)t->shape[d]);
            printf("]\n");
        }
    }
    pe_model_close(&m);
    return pe_inspect_tokenizer(dir, tok);
}
