/* The journal payload of `prmeval run` (src/io/shard_payload.c) and the job
 * hash (src/io/job_hash.c): hand-built shards round-trip bit for bit, every
 * kind of damage that a checksum cannot see (another shard's sample list,
 * lengths, labels, trailing bytes) is refused with a message naming the
 * journal, and the job hash moves with every setting it covers and with the
 * model's files, but not with paths that do not change predictions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "io/job_hash.h"
#include "io/shard_payload.h"

/* Two samples: one with 3 steps (a NaN-free, a negative zero and a tiny
 * subnormal score: bits must survive), one with none. */
static void make_shard(pe_shard_preds *p)
{
    pe_err e = {0};
    pe_shard_preds_init(p, 2, &e);
    p->sample[0] = 7;
    p->sample[1] = 9;
    p->m[0] = 3;
    p->labels[0] = malloc(3);
    p->scores[0] = malloc(3 * sizeof(double));
    const uint8_t l[3] = {1, 0, 1};
    const double s[3] = {0.73, -0.0, 4.9e-324};
    memcpy(p->labels[0], l, 3);
    memcpy(p->scores[0], s, sizeof s);
    p->tok.sequences = 2;
    p->tok.tokens = 1234;
    p->tok.labels_lost = 5;
    p->tok.labels_lost_class[3] = 5;
}

static void test_round_trip(void)
{
    pe_shard_preds p, q;
    make_shard(&p);
    uint8_t *buf = NULL;
    size_t len = 0;
    pe_err e = {0};
    CHECK_INT(pe_shard_payload_encode(&p, &buf, &len, &e), PE_OK);
    /* 12 + 17*8 header, then 12 + 3*9 and 12 bytes */
    CHECK_INT(len, 12 + 17 * 8 + 12 + 27 + 12);
    const int32_t want[2] = {7, 9};
    CHECK_INT(pe_shard_payload_decode(buf, len, want, 2, "j", &q, &e), PE_OK);
    CHECK_INT(q.n, 2);
    CHECK_INT(q.m[0], 3);
    CHECK_INT(q.m[1], 0);
    CHECK(q.labels[0] && memcmp(q.labels[0], p.labels[0], 3) == 0);
    for (int k = 0; k < 3; k++)
        CHECK_BITS(q.scores[0][k], p.scores[0][k]);
    CHECK(signbit(q.scores[0][1]));
    CHECK_INT(q.tok.tokens, 1234);
    CHECK_INT(q.tok.labels_lost_class[3], 5);
    pe_shard_preds_free(&q);

    /* another shard's sample list */
    const int32_t other[2] = {7, 10};
    pe_err_clear(&e);
    CHECK_INT(pe_shard_payload_decode(buf, len, other, 2, "ck/shard-1.journal", &q, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "ck/shard-1.journal: entry 1 is sample 9, this job's shard has sample 10") != NULL);
    pe_err_clear(&e);
    CHECK_INT(pe_shard_payload_decode(buf, len, want, 1, "j", &q, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "holds 2 samples, this job's shard has 1") != NULL);
    /* truncated, trailing byte, label 2, absurd m, version */
    pe_err_clear(&e);
    CHECK_INT(pe_shard_payload_decode(buf, len - 1, want, 2, "j", &q, &e), PE_EINPUT);
    uint8_t *big = malloc(len + 1);
    memcpy(big, buf, len);
    big[len] = 0;
    pe_err_clear(&e);
    CHECK_INT(pe_shard_payload_decode(big, len + 1, want, 2, "j", &q, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "1 bytes after the last sample") != NULL);
    size_t lab0 = 12 + 17 * 8 + 12;
    memcpy(big, buf, len);
    big[lab0 + 1] = 2;
    pe_err_clear(&e);
    CHECK_INT(pe_shard_payload_decode(big, len, want, 2, "j", &q, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "sample 7 step 1 has label 2") != NULL);
    memcpy(big, buf, len);
    big[lab0 - 4 + 3] = 0x7f;  /* m of sample 7 becomes huge */
    pe_err_clear(&e);
    CHECK_INT(pe_shard_payload_decode(big, len, want, 2, "j", &q, &e), PE_EINPUT);
    memcpy(big, buf, len);
    big[0] = 9;
    pe_err_clear(&e);
    CHECK_INT(pe_shard_payload_decode(big, len, want, 2, "j", &q, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "payload version 9") != NULL);
    memcpy(big, buf, len);
    big[8] = 3; /* rewards per step */
    pe_err_clear(&e);
    CHECK_INT(pe_shard_payload_decode(big, len, want, 2, "j", &q, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "3 rewards per step") != NULL);
    /* a version 1 payload (no rewards-per-step field) still reads */
    big[0] = 1;
    memcpy(big + 8, buf + 12, len - 12);
    pe_err_clear(&e);
    CHECK_INT(pe_shard_payload_decode(big, len - 4, want, 2, "j", &q, &e), PE_OK);
    CHECK(q.nrew == 1 && q.scores2 == NULL && q.m[0] == 3);
    CHECK_BITS(q.scores[0][2], p.scores[0][2]);
    pe_shard_preds_free(&q);
    free(big);
    free(buf);
    pe_shard_preds_free(&p);

    /* two rewards per step (ReasonEval's validity and redundancy) */
    pe_shard_preds r;
    pe_shard_preds_init2(&r, 1, 2, &e);
    r.sample[0] = 7;
    r.m[0] = 2;
    r.labels[0] = calloc(2, 1);
    r.scores[0] = malloc(2 * sizeof(double));
    r.scores2[0] = malloc(2 * sizeof(double));
    r.scores[0][0] = 0.25, r.scores[0][1] = 0.5, r.scores2[0][0] = 0.125, r.scores2[0][1] = -0.0;
    CHECK_INT(pe_shard_payload_encode(&r, &buf, &len, &e), PE_OK);
    CHECK_INT(len, 12 + 17 * 8 + 12 + 2 * 17);
    CHECK_INT(pe_shard_payload_decode(buf, len, want, 1, "j", &q, &e), PE_OK);
    CHECK(q.nrew == 2 && q.scores2 && q.scores2[0]);
    if (q.scores2 && q.scores2[0]) {
        CHECK_BITS(q.scores2[0][0], 0.125);
        CHECK(signbit(q.scores2[0][1]));
        CHECK_BITS(q.scores[0][1], 0.5);
    }
    pe_shard_preds_free(&q);
    pe_err_clear(&e);
    CHECK_INT(pe_shard_payload_decode(buf, len - 8, want, 1, "j", &q, &e), PE_EINPUT);
    free(buf);
    pe_shard_preds_free(&r);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

static void hash_of_r(const pe_job *j, double threshold, const char *backends, const char *rounding, char hex[65])
{
    const char *data[1] = {"aa"};
    pe_job_hash_in in = {j, "qwen-prm", threshold, backends, 1, data, "m1", rounding};
    pe_err e = {0};
    if (pe_job_hash(&in, hex, &e) != PE_OK) {
        fprintf(stderr, "pe_job_hash: %s\n", e.msg);
        hex[0] = '\0';
    }
}

static void hash_of(const pe_job *j, double threshold, const char *backends, char hex[65])
{
    hash_of_r(j, threshold, backends, "bf16", hex);
}

static void test_job_hash(void)
{
    char dir[] = "/tmp/pe_test_job_hash_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    char p[256];
    snprintf(p, sizeof p, "%s/config.json", dir);
    write_file(p, "{\"a\": 1}");
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    write_file(p, "{}");
    /* a minimal safetensors: header length 2, header "{}" */
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    FILE *f = fopen(p, "wb");
    const uint8_t st[10] = {2, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    fwrite(st, 1, sizeof st, f);
    fclose(f);

    pe_job j;
    pe_job_default(&j);
    snprintf(j.model, sizeof j.model, "%s", dir);
    char base[65], h[65];
    hash_of(&j, 0.5, "cpu", base);
    CHECK_INT(strlen(base), 64);
    hash_of(&j, 0.5, "cpu", h);
    CHECK_STR(h, base);  /* deterministic */
    hash_of(&j, nextafter(0.5, 1.0), "cpu", h);
    CHECK(strcmp(h, base) != 0);  /* the threshold's exact bits */
    hash_of(&j, 0.5, "cuda", h);
    CHECK(strcmp(h, base) != 0);
    hash_of_r(&j, 0.5, "cpu", "none", h);
    CHECK(strcmp(h, base) != 0);  /* journal labels depend on the reward rounding */
    pe_job k = j;
    k.max_tokens = 1024;
    hash_of(&k, 0.5, "cpu", h);
    CHECK(strcmp(h, base) != 0);
    k = j;
    k.limit = 3;
    hash_of(&k, 0.5, "cpu", h);
    CHECK(strcmp(h, base) != 0);
    k = j;
    k.qwen_backspace_quirk = !j.qwen_backspace_quirk;
    hash_of(&k, 0.5, "cpu", h);
    CHECK(strcmp(h, base) != 0);
    /* prefix reuse changes rewards (within 1e-5): never mixed on resume */
    k = j;
    k.prefix_reuse = !j.prefix_reuse;
    hash_of(&k, 0.5, "cpu", h);
    CHECK(strcmp(h, base) != 0);
    /* its cache bound changes no CPU number; on CUDA it changes batch shapes */
    k = j;
    k.prefix_cache_mb = j.prefix_cache_mb + 1;
    hash_of(&k, 0.5, "cpu", h);
    CHECK_STR(h, base);
    char hc[65], hc2[65];
    hash_of(&j, 0.5, "cpu,cuda", hc);
    hash_of(&k, 0.5, "cpu,cuda", hc2);
    CHECK(strcmp(hc, hc2) != 0);
    /* outputs, seed and the checkpoint folder do not change predictions */
    k = j;
    snprintf(k.output, sizeof k.output, "/elsewhere.h5");
    snprintf(k.checkpoint_dir, sizeof k.checkpoint_dir, "/ck");
    k.seed = 99;
    k.progress_interval = 1;
    hash_of(&k, 0.5, "cpu", h);
    CHECK_STR(h, base);
    /* the model's files: config, tokenizer, and the weights' header */
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    write_file(p, "{ }");
    hash_of(&j, 0.5, "cpu", h);
    CHECK(strcmp(h, base) != 0);
    char t1[65];
    snprintf(t1, sizeof t1, "%s", h);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    f = fopen(p, "wb");
    const uint8_t st2[10] = {2, 0, 0, 0, 0, 0, 0, 0, '{', ' '};
    fwrite(st2, 1, sizeof st2, f);
    fclose(f);
    hash_of(&j, 0.5, "cpu", h);
    CHECK(strcmp(h, t1) != 0);
    /* tokenizer.model and special_tokens_map.json of the folder count too */
    char t2[65], t3[65];
    snprintf(t2, sizeof t2, "%s", h);
    snprintf(p, sizeof p, "%s/special_tokens_map.json", dir);
    write_file(p, "{}");
    hash_of(&j, 0.5, "cpu", h);
    CHECK(strcmp(h, t2) != 0);
    snprintf(t3, sizeof t3, "%s", h);
    /* the job key "tokenizer": the files it names, only when set */
    char tdir[300], tm[320];
    snprintf(tdir, sizeof tdir, "%s/tok", dir);
    CHECK_INT(mkdir(tdir, 0700), 0);
    snprintf(tm, sizeof tm, "%s/tokenizer.model", tdir);
    write_file(tm, "x");
    k = j;
    snprintf(k.tokenizer, sizeof k.tokenizer, "%s", tdir);
    hash_of(&k, 0.5, "cpu", h);
    CHECK(strcmp(h, t3) != 0);
    char t4[65];
    snprintf(t4, sizeof t4, "%s", h);
    write_file(tm, "y");
    hash_of(&k, 0.5, "cpu", h);
    CHECK(strcmp(h, t4) != 0);
    snprintf(k.tokenizer, sizeof k.tokenizer, "%s", tm); /* the file itself */
    hash_of(&k, 0.5, "cpu", h);
    CHECK(strcmp(h, t3) != 0);
    hash_of(&j, 0.5, "cpu", h); /* without the key: as before */
    CHECK_STR(h, t3);
    unlink(tm);
    rmdir(tdir);
    snprintf(p, sizeof p, "%s/special_tokens_map.json", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    /* a broken safetensors header is an error naming the file */
    f = fopen(p, "wb");
    const uint8_t bad[9] = {200, 0, 0, 0, 0, 0, 0, 0, '{'};
    fwrite(bad, 1, sizeof bad, f);
    fclose(f);
    const char *data[1] = {"aa"};
    pe_job_hash_in in = {&j, "qwen-prm", 0.5, "cpu", 1, data, "m1", "bf16"};
    pe_err e = {0};
    CHECK_INT(pe_job_hash(&in, h, &e), PE_EINPUT);
    CHECK(strstr(e.msg, "model.safetensors: header length 200 does not fit the file") != NULL);
    /* PyTorch .bin weights count too: a changed byte in their first MiB (torch.save's data.pkl) */
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    f = fopen(p, "wb");
    fwrite(st, 1, sizeof st, f);
    fclose(f);
    snprintf(p, sizeof p, "%s/pytorch_model.bin", dir);
    write_file(p, "PK\003\004 data.pkl one");
    hash_of(&j, 0.5, "cpu", t1);
    write_file(p, "PK\003\004 data.pkl two");
    hash_of(&j, 0.5, "cpu", h);
    CHECK(strcmp(h, t1) != 0);
    const char *names[] = {"config.json", "tokenizer.json", "model.safetensors", "pytorch_model.bin"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

int main(void)
{
    test_round_trip();
    test_job_hash();
    return pe_check_done();
}
