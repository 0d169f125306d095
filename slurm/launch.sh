# Shared by prmeval.sbatch and sweep.sbatch (sourced, not run): choosing the
# launcher, running the job step with the warning signal forwarded to it, and
# turning exit code 75 into a requeue. Conventions: slurm/README.md.
# bash only; the caller has `set -uo pipefail`.

PE_EPREEMPT=75  # src/core/err.h: stopped by SIGTERM/SIGUSR1 before finishing, requeue me

pe_log() { echo "prmeval-slurm[${SLURM_JOB_ID:-local}]: $*" >&2; }

# Defaults that both scripts share. Needs PRMEVAL_SRC set.
pe_defaults() {
  PRMEVAL_CMD="${PRMEVAL_CMD:-run}"
  PRMEVAL_ARGS="${PRMEVAL_ARGS:-}"
  PRMEVAL_RESULTS_DIR="${PRMEVAL_RESULTS_DIR:-${SLURM_SUBMIT_DIR:-$PWD}/results}"
  PRMEVAL_CHECKPOINT_DIR="${PRMEVAL_CHECKPOINT_DIR:-$PRMEVAL_RESULTS_DIR/checkpoints}"
  PRMEVAL_LAUNCHER="${PRMEVAL_LAUNCHER:-auto}"
  PRMEVAL_REQUEUE="${PRMEVAL_REQUEUE:-1}"
  PRMEVAL_MAX_RESTARTS="${PRMEVAL_MAX_RESTARTS:-10}"
  if [ -z "${PRMEVAL_BIN:-}" ]; then
    if [ -x "$PRMEVAL_SRC/build/prmeval" ]; then
      PRMEVAL_BIN="$PRMEVAL_SRC/build/prmeval"
    else
      PRMEVAL_BIN="$(command -v prmeval || true)"
    fi
  fi
  if [ -z "$PRMEVAL_BIN" ] || [ ! -x "$PRMEVAL_BIN" ]; then
    pe_log "no prmeval binary: build it (cmake --build build) or set PRMEVAL_BIN"
    return 2
  fi
  case "$PRMEVAL_CMD" in
    run|eval) ;;
    *) pe_log "PRMEVAL_CMD must be 'run' or 'eval', not '$PRMEVAL_CMD'"; return 2 ;;
  esac
  # One task per GPU: say so when the allocation disagrees (not fatal: CPU runs have no GPUs).
  if [ -n "${SLURM_GPUS_ON_NODE:-}" ] && [ -n "${SLURM_NTASKS_PER_NODE:-}" ] &&
     [ "$SLURM_GPUS_ON_NODE" != "$SLURM_NTASKS_PER_NODE" ]; then
    pe_log "warning: $SLURM_NTASKS_PER_NODE tasks per node but $SLURM_GPUS_ON_NODE GPUs per node; prmeval expects one task per GPU"
  fi
  # CPU threads per rank: --cpus-per-task when given; else, unless OMP_NUM_THREADS
  # is set, this node's CPUs shared by its tasks. prmeval itself only sees the
  # cores it is bound to, or the whole machine when unbound (TaskPlugin=task/none):
  # two 1-CPU array tasks on one node would each take every core and spin.
  if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then
    export OMP_NUM_THREADS="$SLURM_CPUS_PER_TASK"
  elif [ -z "${OMP_NUM_THREADS:-}" ] && [ -n "${SLURM_CPUS_ON_NODE:-}" ]; then
    local here="${SLURM_TASKS_PER_NODE:-1}"  # e.g. "2(x3),1": this (the first) node's count
    here="${here%%[(,]*}"
    case "$here" in
      ''|*[!0-9]*|0) ;;
      *) export OMP_NUM_THREADS=$(( SLURM_CPUS_ON_NODE / here > 0 ? SLURM_CPUS_ON_NODE / here : 1 )) ;;
    esac
  fi
  mkdir -p "$PRMEVAL_RESULTS_DIR"
}

# The arguments that name this task's outputs: STEM.h5, STEM.json and (run)
# its checkpoint folder, which keeps its name across requeues (the job id
# does). They come last on the command line, so they override the job file's
# `output`, `json` and `checkpoint_dir`: array tasks sharing one base job
# never write to the same file.
pe_output_args() {  # stem checkpoint_dir
  PE_EXPECT="$1.h5"
  case "$PRMEVAL_CMD" in
    eval) PE_OUT_ARGS=(--out "$1.h5" --json "$1.json") ;;
    run)  PE_OUT_ARGS=(--set "output=$1.h5" --set "json=$1.json" --set "checkpoint_dir=$2") ;;
  esac
}

# Fills PE_LAUNCH with the command that starts SLURM_NTASKS ranks.
pe_pick_launcher() {
  local ntasks="${SLURM_NTASKS:-1}" how="$PRMEVAL_LAUNCHER"
  if [ "$how" = auto ]; then
    if command -v srun >/dev/null 2>&1 && srun --mpi=list 2>&1 | grep -qw pmix; then
      how=srun
    elif command -v mpirun >/dev/null 2>&1; then
      how=mpirun
    elif [ "$ntasks" -le 1 ]; then
      how=none
    else
      pe_log "neither srun with PMIx nor mpirun is available to start $ntasks ranks"
      return 2
    fi
  fi
  case "$how" in
    srun)
      # --kill-on-bad-exit: one failed rank ends the step instead of leaving the others waiting in MPI.
      PE_LAUNCH=(srun --mpi=pmix --kill-on-bad-exit=1 --ntasks="$ntasks") ;;
    mpirun)
      # Open MPI reads the allocation from SLURM; as root it wants to be told so.
      PE_LAUNCH=(mpirun -np "$ntasks")
      [ "$(id -u)" -eq 0 ] && PE_LAUNCH+=(--allow-run-as-root) ;;
    none)
      PE_LAUNCH=() ;;
    *) pe_log "PRMEVAL_LAUNCHER must be auto, srun, mpirun or none, not '$how'"; return 2 ;;
  esac
  pe_log "launcher: ${PE_LAUNCH[*]:-(direct)}"
}

PE_STEP_PID=""
PE_WARNED=""
PE_NSIG=0

# The warning (#SBATCH --signal=B:USR1@T) reaches only this shell: pass it on
# to the step. srun and mpirun both forward SIGUSR1 to every rank, which then
# finishes or drops its shard and exits 75.
pe_on_signal() {
  PE_WARNED="$1"
  PE_NSIG=$((PE_NSIG + 1))
  pe_log "got SIG$1: asking every rank to stop at its next shard boundary"
  [ -n "$PE_STEP_PID" ] && kill "-$1" "$PE_STEP_PID" 2>/dev/null
  return 0
}

# Runs "$@" under the launcher in the background so the traps can fire, and
# leaves its exit code in PE_RC.
pe_run_step() {
  trap 'pe_on_signal USR1' USR1
  trap 'pe_on_signal TERM' TERM
  pe_log "restart ${SLURM_RESTART_COUNT:-0}: ${PE_LAUNCH[*]} $*"
  "${PE_LAUNCH[@]}" "$@" &
  PE_STEP_PID=$!
  local seen
  while :; do
    seen=$PE_NSIG
    PE_RC=0
    wait "$PE_STEP_PID" || PE_RC=$?
    # A trapped signal makes `wait` return at once (status > 128) while the
    # step runs on; its own status is still held for the next `wait`.
    if [ "$PE_NSIG" != "$seen" ] && [ "$PE_RC" -gt 128 ]; then
      continue
    fi
    break
  done
  trap - USR1 TERM
  pe_log "step exited with $PE_RC"
}

# Requeues on 75 (or when the warning came and the step was killed before it
# could answer), within PRMEVAL_MAX_RESTARTS; returns the exit code to leave with.
pe_finish() {
  local rc="$PE_RC" want=0
  # A step that never started can still end with status 0 (seen with srun when
  # a requeued job starts while its previous step is being torn down): no
  # results file means no success.
  if [ "$rc" -eq 0 ] && [ -n "${PE_EXPECT:-}" ] && [ ! -s "$PE_EXPECT" ]; then
    pe_log "the step exited with 0 but wrote no $PE_EXPECT: failing the job"
    return 1
  fi
  [ "$rc" -eq "$PE_EPREEMPT" ] && want=1
  [ -n "$PE_WARNED" ] && [ "$rc" -gt 128 ] && want=1
  if [ "$want" -eq 1 ]; then
    local restarts="${SLURM_RESTART_COUNT:-0}"
    if [ "$PRMEVAL_REQUEUE" != 1 ]; then
      pe_log "stopped early (exit $rc); PRMEVAL_REQUEUE=0, so not requeued"
    elif [ "$restarts" -ge "$PRMEVAL_MAX_RESTARTS" ]; then
      pe_log "stopped early (exit $rc) after $restarts restarts (PRMEVAL_MAX_RESTARTS); not requeued"
    elif [ -z "${SLURM_JOB_ID:-}" ]; then
      pe_log "stopped early (exit $rc) outside SLURM: run again to resume"
    else
      pe_log "stopped early (exit $rc): requeueing job $SLURM_JOB_ID (restart $((restarts + 1)))"
      scontrol requeue "$SLURM_JOB_ID" || pe_log "scontrol requeue $SLURM_JOB_ID failed"
    fi
    return "$PE_EPREEMPT"
  fi
  return "$rc"
}
