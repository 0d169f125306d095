/* Preemption signals: how a run learns that it must stop early.
 *
 * SLURM warns a job before its time limit or a preemption with a signal
 * (`#SBATCH --signal=B:USR1@120` in slurm/prmeval.sbatch, forwarded by the
 * script to every task) and finally sends SIGTERM. prmeval catches SIGTERM and
 * SIGUSR1, only records that one arrived (a handler may do nothing else
 * safely), and the shard loop polls pe_signals_stop_requested() between
 * shards: each rank finishes or drops its current shard, its finished shards
 * are already journalled, and the command exits with PE_EPREEMPT (75,
 * src/core/err.h), which slurm/prmeval.sbatch turns into
 * `scontrol requeue`. The requeued job resumes from the journals.
 *
 * Polling must be collective under MPI (e.g. an MPI_Allreduce of the flag
 * between shards) so all ranks stop at the same point; this module knows
 * nothing of MPI. */
#ifndef PE_SIGNALS_H
#define PE_SIGNALS_H

#include "core/err.h"

/* Installs the handlers for SIGTERM and SIGUSR1 (with SA_RESTART, so that
 * interrupted system calls resume rather than fail with EINTR) and clears any
 * earlier request. Returns PE_OK or PE_EGENERIC if sigaction fails. */
int pe_signals_install(pe_err *e);

/* Restores the dispositions that pe_signals_install replaced. */
void pe_signals_restore(void);

/* The number of the first stop signal received since pe_signals_install
 * (SIGTERM or SIGUSR1), or 0 when none: stop at the next shard boundary and
 * return PE_EPREEMPT. Async-signal-safe. */
int pe_signals_stop_requested(void);

/* The signal's name for messages ("SIGTERM", "SIGUSR1"; "none" for 0). */
const char *pe_signals_name(int sig);

#endif
