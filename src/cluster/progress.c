/* Non-blocking world progress and stop requests (progress.h). */
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Tags of this module's point-to-point messages (nothing else in prmeval uses tags). */
enum { TAG_PROGRESS = 7101, TAG_STOP = 7102 };
/* Message: samples done, tokens, samples reused, flags (1 = stop, 2 = final), prompt tokens. */
enum { F_STOP = 1, F_FINAL = 2 };

double pe_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int pe_progress_begin(pe_progress *p, const pe_world *w, int64_t total, double interval, FILE *out, pe_err *e)
{
    memset(p, 0, sizeof *p);
    p->w = w;
    p->out = w->rank == 0 ? out : NULL;
    p->interval = interval > 0 ? interval : 10;
    p->t0 = p->last_print = pe_now();
    p->last_send = p->t0 - p->interval;  /* the first tick may send */
    p->total = total;
    p->req = MPI_REQUEST_NULL;
    if (w->rank == 0) {
        size_t n = (size_t)w->size;
        p->rank_done = pe_calloc(n, sizeof *p->rank_done, e);
        p->rank_tokens = pe_calloc(n, sizeof *p->rank_tokens, e);
        p->rank_reused = pe_calloc(n, sizeof *p->rank_reused, e);
        p->rank_prompt = pe_calloc(n, sizeof *p->rank_prompt, e);
        p->rank_final = pe_calloc(n, sizeof *p->rank_final, e);
        p->stop_sent = pe_calloc(n, sizeof *p->stop_sent, e);
        p->stop_req = pe_malloc(n * sizeof *p->stop_req, e);
        if (!p->rank_done || !p->rank_tokens || !p->rank_reused || !p->rank_prompt || !p->rank_final ||
            !p->stop_sent || !p->stop_req) {
            pe_progress_free(p);
            return PE_ERESOURCE;
        }
        for (size_t k = 0; k < n; k++)
            p->stop_req[k] = MPI_REQUEST_NULL;
    }
    return PE_OK;
}

void pe_progress_free(pe_progress *p)
{
    free(p->rank_done);
    free(p->rank_tokens);
    free(p->rank_reused);
    free(p->rank_prompt);
    free(p->rank_final);
    free(p->stop_sent);
    free(p->stop_req);
    p->rank_done = p->rank_tokens = p->rank_reused = p->rank_prompt = NULL;
    p->rank_final = p->stop_sent = NULL;
    p->stop_req = NULL;
}

void pe_progress_add(pe_progress *p, int64_t samples, int64_t tokens, int64_t prompt, int64_t reused)
{
    p->done += samples;
    p->tokens += tokens;
    p->prompt += prompt;
    p->reused += reused;
}

void pe_progress_ratio(int64_t tokens, int64_t prompt, char *buf, size_t size)
{
    if (prompt > 0)
        snprintf(buf, size, "%.3f", (double)tokens / (double)prompt);
    else
        snprintf(buf, size, "no prompt scored");
}

static void print_line(pe_progress *p, double now)
{
    int64_t done = 0, tokens = 0, reused = 0, prompt = 0;
    if (p->w->mpi) {
        p->rank_done[0] = p->done;
        p->rank_tokens[0] = p->tokens;
        p->rank_reused[0] = p->reused;
        p->rank_prompt[0] = p->prompt;
        for (int k = 0; k < p->w->size; k++) {
            done += p->rank_done[k];
            tokens += p->rank_tokens[k];
            reused += p->rank_reused[k];
            prompt += p->rank_prompt[k];
        }
    } else {
        done = p->done;
        tokens = p->tokens;
        reused = p->reused;
        prompt = p->prompt;
    }
    double dt = now - p->t0;
    double rate = dt > 0 ? (double)(done - reused) / dt : 0;  /* journalled samples cost nothing */
    char eta[48];
    if (done >= p->total)
        snprintf(eta, sizeof eta, "0 s");
    else if (rate > 0)
        snprintf(eta, sizeof eta, "%.0f s", (double)(p->total - done) / rate);
    else
        snprintf(eta, sizeof eta, "unknown");
    char ratio[32];
    pe_progress_ratio(tokens, prompt, ratio, sizeof ratio);
    fprintf(p->out, "progress: %lld/%lld samples (%.1f%%), %.0f tokens/s, %lld of %lld prompt tokens computed (%s), "
            "%.0f s elapsed, ETA %s\n", (long long)done, (long long)p->total,
            p->total ? 100.0 * (double)done / (double)p->total : 100.0, dt > 0 ? (double)tokens / dt : 0.0,
            (long long)tokens, (long long)prompt, ratio, dt, eta);
    fflush(p->out);
    p->last_print = now;
}

/* Rank 0: tell every rank still working to stop (once each). */
static void root_send_stops(pe_progress *p)
{
    p->stop_buf = 1;
    for (int k = 1; k < p->w->size; k++)
        if (!p->rank_final[k] && !p->stop_sent[k]) {
            MPI_Isend(&p->stop_buf, 1, MPI_INT, k, TAG_STOP, MPI_COMM_WORLD, &p->stop_req[k]);
            p->stop_sent[k] = 1;
        }
}

/* Rank 0: takes every message that has arrived. Never waits for one. */
static void root_drain(pe_progress *p)
{
    for (;;) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_PROGRESS, MPI_COMM_WORLD, &flag, &st);
        if (!flag)
            break;
        int64_t msg[5];
        MPI_Recv(msg, 5, MPI_INT64_T, st.MPI_SOURCE, TAG_PROGRESS, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        int k = st.MPI_SOURCE;
        p->rank_done[k] = msg[0];
        p->rank_tokens[k] = msg[1];
        p->rank_reused[k] = msg[2];
        p->rank_prompt[k] = msg[4];
        if (msg[3] & F_STOP)
            p->world_stop = 1;
        if ((msg[3] & F_FINAL) && !p->rank_final[k]) {
            p->rank_final[k] = 1;
            p->nfinal++;
        }
    }
    if (p->stop)
        p->world_stop = 1;
    if (p->world_stop)
        root_send_stops(p);
}

int pe_progress_tick(pe_progress *p, int local_stop)
{
    double now = pe_now();
    if (local_stop)
        p->stop = 1;
    if (!p->w->mpi) {
        if (p->out && now - p->last_print >= p->interval)
            print_line(p, now);
        return p->stop;
    }
    if (p->w->rank == 0) {
        root_drain(p);
        if (p->world_stop)
            p->stop = 1;
        if (p->out && now - p->last_print >= p->interval)
            print_line(p, now);
        return p->stop;
    }
    if (!p->got_stop_msg) {
        int flag = 0;
        MPI_Iprobe(0, TAG_STOP, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
        if (flag) {
            int v;
            MPI_Recv(&v, 1, MPI_INT, 0, TAG_STOP, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            p->got_stop_msg = 1;
            p->stop = 1;
            p->told = 1;  /* rank 0 already knows */
        }
    }
    int sent = 1;
    if (p->req != MPI_REQUEST_NULL)
        MPI_Test(&p->req, &sent, MPI_STATUS_IGNORE);
    int urgent = p->stop && !p->told;
    if (sent && (urgent || now - p->last_send >= 0.5 * p->interval)) {
        p->sendbuf[0] = p->done;
        p->sendbuf[1] = p->tokens;
        p->sendbuf[2] = p->reused;
        p->sendbuf[3] = p->stop ? F_STOP : 0;
        p->sendbuf[4] = p->prompt;
        MPI_Isend(p->sendbuf, 5, MPI_INT64_T, 0, TAG_PROGRESS, MPI_COMM_WORLD, &p->req);
        p->last_send = now;
        if (p->stop)
            p->told = 1;
    }
    return p->stop;
}

int pe_progress_finish(pe_progress *p, int local_stop, int *any_stop, pe_err *e)
{
    (void)e;
    if (local_stop)
        p->stop = 1;
    if (!p->w->mpi) {
        *any_stop = p->stop;
        return PE_OK;
    }
    if (p->w->rank != 0) {
        /* the previous message must be gone before the buffer is reused */
        MPI_Wait(&p->req, MPI_STATUS_IGNORE);
        p->sendbuf[0] = p->done;
        p->sendbuf[1] = p->tokens;
        p->sendbuf[2] = p->reused;
        p->sendbuf[3] = F_FINAL | (p->stop ? F_STOP : 0);
        p->sendbuf[4] = p->prompt;
        MPI_Send(p->sendbuf, 5, MPI_INT64_T, 0, TAG_PROGRESS, MPI_COMM_WORLD);
    } else {
        /* Keep reporting while the others work: poll, never block on one rank. */
        while (root_drain(p), p->nfinal < p->w->size - 1) {
            double now = pe_now();
            if (p->out && now - p->last_print >= p->interval)
                print_line(p, now);
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    /* Every rank learns whether rank 0 sent it a stop message it has not
     * taken yet, and takes it: no message is left unmatched at MPI_Finalize. */
    int *sent = p->w->rank == 0 ? p->stop_sent : NULL;
    int mine = 0;
    MPI_Scatter(sent, 1, MPI_INT, &mine, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (p->w->rank != 0 && mine && !p->got_stop_msg) {
        int v;
        MPI_Recv(&v, 1, MPI_INT, 0, TAG_STOP, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        p->got_stop_msg = 1;
    }
    if (p->w->rank == 0)
        MPI_Waitall(p->w->size, p->stop_req, MPI_STATUSES_IGNORE);
    int stop = p->stop, any = 0;
    MPI_Allreduce(&stop, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    *any_stop = any;
    return PE_OK;
}
