/* A Hugging Face checkpoint folder: config.json + safetensors (mmap'ed).
 * Weights point into the mapping in their stored dtype; backends convert.
 * This is the only place that validates weights against the config and the
 * family's head (pe_model_check): the backends trust a checked model. */
#ifndef PE_MODEL_H
#define PE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"
#include "../prm/prm.h"

typedef enum { PE_ARCH_QWEN2 = 0, PE_ARCH_LLAMA, PE_ARCH_MISTRAL } pe_arch;
typedef enum { PE_DT_F32 = 0, PE_DT_F16, PE_DT_BF16 } pe_dtype;

typedef struct pe_config {
    pe_arch arch;
    char architectures0[128];   /* config.json architectures[0], e.g. "Qwen2ForProcessRewardModel" */
    int hidden_size;            /* H */
    int num_layers;             /* L */
    int num_heads;              /* NH */
    int num_kv_heads;           /* NKV */
    int head_dim;               /* D (config head_dim, else H / NH) */
    int intermediate_size;      /* F */
    int vocab_size;             /* V */
    int max_position_embeddings;
    double rope_theta;
    double rms_norm_eps;
    int tie_word_embeddings;
    int attn_bias;              /* q/k/v biases (Qwen2) */
    int sliding_window;         /* 0 = none */
    /* rope_scaling: type "llama3" (0 = none) */
    int rope_llama3;
    double rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_original_max_pos;
    int bos_token_id, eos_token_id; /* -1 when absent (a list: its first id) */
    char model_type[64];        /* config.json model_type: "qwen2", "llama", "mistral" */
    char torch_dtype[16];       /* config.json torch_dtype ("" when absent): informational */
} pe_config;

const char *pe_arch_name(pe_arch a);

/* One tensor as stored. data points into the mmap (alignment not guaranteed
 * beyond what safetensors gives: callers must not assume float alignment). */
typedef struct pe_tensor {
    pe_dtype dtype;
    int ndim;
    int64_t shape[4];
    const void *data;
    size_t nbytes;
} pe_tensor;

/* Weight pointers, shape comments use the pe_config names. NULL data means
 * the checkpoint does not have it. */
typedef struct pe_layer_weights {
    pe_tensor in_norm;          /* (H) */
    pe_tensor wq, wk, wv;       /* (NH*D, H), (NKV*D, H), (NKV*D, H) */
    pe_tensor bq, bk, bv;       /* (NH*D), (NKV*D), (NKV*D): Qwen2 only */
    pe_tensor wo;               /* (H, NH*D) */
    pe_tensor post_norm;        /* (H) */
    pe_tensor w_gate, w_up;     /* (F, H) */
    pe_tensor w_down;           /* (H, F) */
} pe_layer_weights;

typedef struct pe_weights {
    pe_tensor embed;            /* (V, H) */
    pe_layer_weights *layers;   /* L of them */
    pe_tensor final_norm;       /* (H) */
    pe_tensor lm_head;          /* (V, H); = embed when tied; absent for PRM heads */
    /* The family's head tensors (head.h, PE_ROWS_TENSOR), set by
     * pe_model_bind_head: hidden Linear(H,H)+ReLU (mlp_w, mlp_b; absent when
     * the head has none), output rows w (R, H) and bias b (R; absent when none). */
    pe_tensor head_mlp_w, head_mlp_b, head_w, head_b;
} pe_weights;

typedef struct pe_model {
    char dir[4096];
    pe_config cfg;
    pe_weights w;
    void *impl;                 /* mappings, tensor index (st_set) */
} pe_model;

/* Opens config.json and the safetensors, and checks the body (embedding,
 * layers, final norm; lm_head when stored) against the config. The head is
 * bound later, once the family is known (pe_model_bind_head). */
int pe_model_open(pe_model *m, const char *dir, pe_err *e);
/* The weights' layout as read, e.g. "safetensors (model.safetensors)" or
 * "PyTorch .bin, sharded (pytorch_model.bin.index.json, 3 files)". */
const char *pe_model_layout(const pe_model *m);
/* What family recognition looks at (architectures, vocabulary, tensor rows). */
void pe_model_facts(const pe_model *m, pe_ckpt_facts *ck);
/* Finds the family's head tensors, checks the whole model (pe_model_check),
 * and refuses a tensor that nothing reads (named, with its file). */
int pe_model_bind_head(pe_model *m, const pe_head_spec *head, pe_err *e);
/* The one validator: config sizes, every body tensor's presence, shape and
 * byte size, and what the head needs (its tensors' shapes, an LM head for
 * LM-head heads, token ids inside the vocabulary). Backends call it before
 * trusting the model; hand-built models (tests) go through it too. */
int pe_model_check(const pe_model *m, const pe_head_spec *head, pe_err *e);
/* The head's output rows in fp32, computed once on the host: rows (R, H)
 * (a head tensor, chosen LM-head rows, or the mean of the LM head's rows)
 * and bias (R; zeros when the head has none). Not for PE_ROWS_LM_FULL.
 * The model must have passed pe_model_check with this head. */
int pe_model_head_rows(const pe_model *m, const pe_head_spec *head, float *rows, float *bias, pe_err *e);
/* Bytes per element of a stored dtype. */
size_t pe_dtype_size(pe_dtype dt);
void pe_model_close(pe_model *m);

/* Converts n elements of a tensor to fp32 (dst must hold n floats). */
void pe_tensor_to_f32(const pe_tensor *t, float *dst, size_t n);
/* dst[0..n) = elements [first, first+n) of t, converted to fp32 (the one
 * dtype conversion of the host side; unaligned data is fine). */
void pe_tensor_convert_f32(const pe_tensor *t, size_t first, size_t n, float *dst);
/* The same to raw bf16 bits (round to nearest even; the CUDA backend's weights). */
void pe_tensor_convert_bf16(const pe_tensor *t, size_t first, size_t n, uint16_t *dst);

#endif
