/* World-wide progress and stop requests of `prmeval run`, without making
 * ranks wait for each other mid-shard (docs/run.md, "Progress").
 *
 * Each rank calls pe_progress_tick() at batch boundaries. A non-root rank
 * posts its counters to rank 0 with MPI_Isend at most every interval/2
 * seconds, and only when its previous message has gone (MPI_Test): it never
 * blocks. Rank 0 drains whatever has arrived (MPI_Iprobe + MPI_Recv of
 * messages already there) at its own batch boundaries and prints a line when
 * `interval` seconds have passed. When rank 0 has finished its own shards it
 * keeps draining (polling every 20 ms) until every rank has sent its final
 * message, so progress lines continue while the others work.
 *
 * Stop requests: a rank that sees SIGTERM/SIGUSR1 (src/cluster/signals.h) or
 * fails says so in its next message (posted at once); rank 0 then sends a
 * stop message to every rank still working, which each rank picks up with
 * MPI_Iprobe at its next batch boundary. pe_progress_finish() is the one
 * collective: it matches every message sent, and all ranks learn whether any
 * rank stopped. */
#ifndef PE_PROGRESS_H
#define PE_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include <mpi.h>

#include "cluster.h"

typedef struct pe_progress {
    const pe_world *w;
    FILE *out;                 /* rank 0's progress lines; NULL = none */
    double interval;           /* seconds between lines */
    double t0, last_print, last_send;
    int64_t total;             /* samples of the whole run */
    /* this rank */
    int64_t done, tokens, reused;  /* samples finished (reused included), tokens run, samples reused */
    int64_t prompt;            /* tokens of the prompts scored (tokens / prompt: what prefix reuse saves) */
    int stop;                  /* this rank must stop: its own signal or failure, or rank 0's message */
    int told;                  /* this rank's stop has been reported to rank 0 */
    int got_stop_msg;          /* the stop message from rank 0 has been received */
    MPI_Request req;           /* the pending progress message, MPI_REQUEST_NULL when none */
    int64_t sendbuf[5];
    /* rank 0: the latest counters of every rank */
    int64_t *rank_done, *rank_tokens, *rank_reused, *rank_prompt;
    int *rank_final;           /* final message received */
    int nfinal;
    int world_stop;            /* some rank asked to stop */
    MPI_Request *stop_req;     /* (size) stop messages sent */
    int *stop_sent;
    int stop_buf;
} pe_progress;

/* Every rank. total = samples of the run; out = where rank 0 prints. */
int pe_progress_begin(pe_progress *p, const pe_world *w, int64_t total, double interval, FILE *out, pe_err *e);

/* Adds finished samples and tokens of this rank: `tokens` run through the
 * backend for `prompt` tokens of the prompts scored; `reused` samples came
 * from journals (not counted in the ETA's rate). */
void pe_progress_add(pe_progress *p, int64_t samples, int64_t tokens, int64_t prompt, int64_t reused);

/* At a batch boundary: a stop request of this rank is `local_stop` (a signal
 * number or 1 for a failure; 0 none). Returns 1 when this rank must stop
 * (its own request or rank 0's). Never waits for another rank. */
int pe_progress_tick(pe_progress *p, int local_stop);

/* Collective, after the shard loop. Rank 0 keeps printing until every rank
 * has finished or stopped. *any_stop (every rank) = 1 when any rank stopped. */
int pe_progress_finish(pe_progress *p, int local_stop, int *any_stop, pe_err *e);

void pe_progress_free(pe_progress *p);

/* "0.612": tokens computed per prompt token, for progress and summary lines
 * (a text when no prompt was scored). */
void pe_progress_ratio(int64_t tokens, int64_t prompt, char *buf, size_t size);

/* Seconds on a monotonic clock. */
double pe_now(void);

#endif
