/* One logical shard of `prmeval run`: prompts -> packed batches -> rewards ->
 * labels -> journal. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../backend/engine.h"
#include "../io/journal.h"
#include "run_impl.h"
#include "signals.h"

/* One JSON line per prompt for --dump-tokens (a debugging aid and the input
 * of tests/scripts/test_run_oracle.py): the rendered text (BOS as its token
 * string), the ids after the cut and the read-out positions. */
static void dump_prompt(FILE *f, const pe_sample *s, int sample, const char *text, const pe_prompt_tokens *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "sample", sample);
    cJSON_AddStringToObject(o, "key", s->key);
    cJSON_AddNumberToObject(o, "n_full", (double)p->n_full);
    cJSON_AddNumberToObject(o, "nread_full", (double)p->nread_full);
    cJSON_AddStringToObject(o, "text", text ? text : "");
    cJSON *ids = cJSON_AddArrayToObject(o, "ids"), *ro = cJSON_AddArrayToObject(o, "readout");
    for (int64_t i = 0; i < p->n; i++)
        cJSON_AddItemToArray(ids, cJSON_CreateNumber(p->ids[i]));
    for (int64_t i = 0; i < p->nread; i++)
        cJSON_AddItemToArray(ro, cJSON_CreateNumber((double)p->readout[i]));
    char *line = cJSON_PrintUnformatted(o);
    if (line)
        fprintf(f, "%s\n", line);
    cJSON_free(line);
    cJSON_Delete(o);
}

/* Prompt of one sample, with its share of the token statistics. */
static int build_prompt(run_ctx *c, const pe_sample *s, pe_prompt_tokens *pt, pe_token_stats *st, char **text,
                        pe_err *e)
{
    pe_segments segs;
    memset(&segs, 0, sizeof segs);
    memset(pt, 0, sizeof *pt);
    int rc = pe_family_segments(c->fam, &c->fo, s->question, s->nsteps, s->steps, &segs, e);
    if (rc == PE_OK)
        rc = pe_family_tokens(c->fam, &c->fo, &segs, c->tok, pt, e);
    /* an id the embedding table lacks: named here, with where it came from */
    for (int64_t i = 0; rc == PE_OK && i < pt->n; i++)
        if (pt->ids[i] < 0 || pt->ids[i] >= c->model.cfg.vocab_size) {
            const char *tok = pe_tokenizer_id_token(c->tok, pt->ids[i]);
            int is_bos = pt->ids[i] == c->fo.bos_id;
            rc = pe_fail(e, PE_EINPUT, "token id %d (%s%s%s) is outside the model's vocabulary of %d "
                         "(%s/config.json key \"vocab_size\")", (int)pt->ids[i], tok ? "token '" : "",
                         tok ? tok : "", tok ? (is_bos ? "', the BOS of config.json key \"bos_token_id\"" : "' of tokenizer.json")
                                   : "config.json key \"bos_token_id\"", c->model.cfg.vocab_size, c->job->model);
        }
    if (rc != PE_OK) {
        pe_err_prefix(e, "%s:%d (sample %s): ", c->full.files[s->src_file], s->src_line, s->key);
        pe_segments_free(&segs);
        return rc;
    }
    st->sequences++;
    st->tokens += pt->n;
    st->tokens_full += pt->n_full;
    st->sequences_cut += pt->truncated != 0;
    st->readouts += pt->nread;
    st->labels_lost += pt->nread_full - pt->nread;
    st->labels_lost_class[s->cls] += pt->nread_full - pt->nread;
    st->readout_mismatch += pt->nread_full != segs.nexpected;
    if (text) {
        int32_t bos = c->fo.bos_id >= 0 ? c->fo.bos_id : pe_tokenizer_bos_id(c->tok);
        const char *bos_text = bos >= 0 ? pe_tokenizer_id_token(c->tok, bos) : NULL;
        *text = pe_segments_render(&segs, bos_text ? bos_text : "", e);
        if (!*text)
            rc = PE_ERESOURCE;
    }
    pe_segments_free(&segs);
    return rc;
}

int pe_run_shard(run_ctx *c, int s, pe_err *e)
{
    const int first = c->shard_first[s], n = c->shard_first[s + 1] - first;
    const int32_t *samples = c->shard_samples + first;
    pe_shard_preds sp;
    int rc = pe_shard_preds_init2(&sp, n, c->head.d.nout, e);
    if (rc != PE_OK)
        return rc;
    pe_prompt_tokens *pt = pe_calloc((size_t)n + 1, sizeof *pt, e);
    pe_seq *live = pe_calloc((size_t)n + 1, sizeof *live, e);
    float **rew = pe_calloc((size_t)n + 1, sizeof *rew, e);
    int *live_k = pe_calloc((size_t)n + 1, sizeof *live_k, e);
    char **text = c->dump ? pe_calloc((size_t)n + 1, sizeof *text, e) : NULL;
    int nlive = 0;
    if (!pt || !live || !rew || !live_k || (c->dump && !text))
        rc = PE_ERESOURCE;
    for (int k = 0; rc == PE_OK && k < n; k++) {
        const pe_sample *smp = &c->d.samples[samples[k]];
        sp.sample[k] = samples[k];
        rc = build_prompt(c, smp, &pt[k], &sp.tok, text ? &text[k] : NULL, e);
        if (rc == PE_OK && pt[k].nread > 0) {
            if (!(rew[k] = pe_malloc((size_t)pt[k].nread * (size_t)c->head.d.nout * sizeof **rew, e))) {
                rc = PE_ERESOURCE;
                break;
            }
            live[nlive] = (pe_seq){pt[k].ids, pt[k].n, pt[k].readout, pt[k].nread, samples[k], smp->problem};
            live_k[nlive++] = k;
        }
    }
    /* Batches never span two shards, so a shard's rewards are the same
     * whichever rank runs it and whether or not the run was resumed. */
    pe_schedule *sched = NULL;
    pe_engine_opts eo = {.token_budget = c->job->token_budget, .prefix_reuse = c->job->prefix_reuse != 0,
                         .cache_bytes = c->job->prefix_cache_mb << 20};
    if (rc == PE_OK)
        rc = pe_schedule_build(live, nlive, &eo, c->b.kv_bytes_per_token, &sched, e);
    float **lrew = pe_calloc((size_t)nlive + 1, sizeof *lrew, e);
    if (rc == PE_OK && !lrew)
        rc = PE_ERESOURCE;
    for (int i = 0; rc == PE_OK && i < nlive; i++)
        lrew[i] = rew[live_k[i]];
    if (rc == PE_OK)  /* prompts with every read-out cut away need no forward pass */
        pe_progress_add(&c->prog, n - nlive, 0, 0, 0);
    for (int bi = 0; rc == PE_OK && bi < pe_schedule_nbatches(sched); bi++) {
        if (pe_progress_tick(&c->prog, pe_signals_stop_requested())) {
            rc = PE_RUN_STOPPED;
            break;
        }
        pe_schedule_stats st;
        rc = pe_schedule_run(&c->b, sched, bi, lrew, &st, e);
        if (rc == PE_OK) {
            c->timing.tokens += st.tokens;
            c->timing.prompt_tokens += st.prompt_tokens;
            c->timing.recomputed += st.recomputed;
            if (st.cache_bytes > c->timing.cache_bytes_max)
                c->timing.cache_bytes_max = st.cache_bytes;
            c->timing.sequences += st.sequences;
            pe_progress_add(&c->prog, st.sequences, st.tokens, st.prompt_tokens, 0);
        }
    }
    pe_schedule_free(sched);
    for (int k = 0; rc == PE_OK && k < n; k++) {
        int32_t m = (int32_t)pt[k].nread;
        sp.status[k] = m == 0 && c->fam->no_readout_invalid ? PE_PRED_INVALID : PE_PRED_OK;
        sp.m[k] = m;
        if (m == 0)
            continue;
        sp.labels[k] = pe_malloc((size_t)m, e);
        sp.scores[k] = pe_malloc((size_t)m * sizeof(double), e);
        if (sp.scores2)
            sp.scores2[k] = pe_malloc((size_t)m * sizeof(double), e);
        if (!sp.labels[k] || !sp.scores[k] || (sp.scores2 && !sp.scores2[k])) {
            rc = PE_ERESOURCE;
            break;
        }
        const int nout = c->head.d.nout;
        /* a NaN reward would become a "step wrong" label without a word */
        for (int32_t j = 0; j < m * nout; j++)
            if (!isfinite(rew[k][j])) {
                const pe_sample *smp = &c->d.samples[samples[k]];
                rc = pe_fail(e, PE_EINPUT, "%s:%d (sample %s): the model gave a non-finite reward (%g) at read-out %d "
                             "of %d (%s): no label can be drawn from it; the weights are finite, so the forward pass "
                             "overflowed", c->full.files[smp->src_file], smp->src_line, smp->key, (double)rew[k][j],
                             (int)(j / nout) + 1, (int)m, c->job->model);
                break;
            }
        if (rc != PE_OK)
            break;
        pe_family_labels_cls(c->fam, &c->fo, c->threshold, c->threshold2, rew[k], m, c->d.samples[samples[k]].cls,
                             sp.labels[k]);
        for (int32_t j = 0; j < m; j++) {
            sp.scores[k][j] = (double)rew[k][(size_t)j * nout];
            if (sp.scores2)
                sp.scores2[k][j] = (double)rew[k][(size_t)j * nout + 1];
        }
    }
    if (rc == PE_OK && c->job->checkpoint_dir[0]) {
        uint8_t *buf = NULL;
        size_t len = 0;
        rc = pe_shard_payload_encode(&sp, &buf, &len, e);
        if (rc == PE_OK)
            rc = pe_journal_write(c->job->checkpoint_dir, c->job_hash, (uint64_t)s, buf, len, e);
        free(buf);
    }
    if (rc == PE_OK && c->dump)
        for (int k = 0; k < n; k++)
            dump_prompt(c->dump, &c->d.samples[samples[k]], samples[k], text[k], &pt[k]);
    if (rc == PE_OK) {
        c->shards[s] = sp;
        c->shard_state[s] = SHARD_DONE;
        pe_token_stats_add(&c->tok_local, &sp.tok);
        c->timing.shards_run++;
    } else {
        pe_shard_preds_free(&sp);
    }
    for (int k = 0; pt && k < n; k++)
        pe_prompt_tokens_free(&pt[k]);
    for (int k = 0; rew && k < n; k++)
        free(rew[k]);
    for (int k = 0; text && k < n; k++)
        free(text[k]);
    free(text);
    free(pt);
    free(live);
    free(rew);
    free(lrew);
    free(live_k);
    return rc;
}
