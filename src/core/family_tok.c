/* The family token stage on a real tokenizer.json tokenizer. Kept apart from
 * family.c so that the pure rules link (and are tested) on their own. */
#include "family.h"

static int enc_encode(const void *ctx, const char *text, size_t len, int32_t **ids, size_t *nids, pe_err *e)
{
    /* The reference encodes with add_special_tokens=False (chat templates) or
     * adds BOS itself; family segments carry BOS explicitly. */
    return pe_tokenizer_encode((const pe_tokenizer *)ctx, text, len, 0, ids, nids, e);
}

static int32_t enc_token_id(const void *ctx, const char *token)
{
    return pe_tokenizer_token_id((const pe_tokenizer *)ctx, token);
}

void pe_encoder_from_tokenizer(pe_encoder *enc, const pe_tokenizer *t)
{
    enc->ctx = t;
    enc->encode = enc_encode;
    enc->token_id = enc_token_id;
    enc->bos_id = pe_tokenizer_bos_id(t);
}

int pe_family_tokens(const pe_family *f, const pe_family_opts *o, const pe_segments *s,
                     const pe_tokenizer *t, pe_prompt_tokens *out, pe_err *e)
{
    pe_encoder enc;
    pe_encoder_from_tokenizer(&enc, t);
    return pe_family_encode(f, o, s, &enc, out, e);
}
