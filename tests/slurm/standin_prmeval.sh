#!/usr/bin/env bash
# A stand-in for the prmeval binary (PRMEVAL_BIN) in the tests of the sbatch
# scripts: records its arguments and the rank's environment, and exits as told;
# when it exits 0, rank 0 writes the results files it was asked for (as
# prmeval does: a stopped run leaves none).
#   STANDIN_LOG      folder for the records (required)
#   STANDIN_EXIT     exit code (default 0)
#   STANDIN_FIRST    exit code for the first run only (SLURM_RESTART_COUNT 0)
#   STANDIN_WAIT     on the first run, wait up to this many seconds for
#                    SIGUSR1/SIGTERM and exit 75 when one comes (as prmeval does)
set -u
log="${STANDIN_LOG:?STANDIN_LOG must name a folder}"
# Under mpirun every rank inherits SLURM_PROCID=0 from its daemon: MPI's own rank first.
rank="${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-${SLURM_PROCID:-0}}}"
restart="${SLURM_RESTART_COUNT:-0}"
rec="$log/call-${SLURM_JOB_ID:-nojob}-r$restart-p$rank.txt"
{
  for a in "$@"; do echo "arg=$a"; done
  env | grep -E '^(SLURM_(JOB_ID|ARRAY_JOB_ID|ARRAY_TASK_ID|PROCID|NTASKS|LOCALID|NODEID|RESTART_COUNT|STEP_ID)|OMPI_COMM_WORLD_(RANK|SIZE)|PMIX_RANK)=' | sort
} >"$rec.tmp"
mv "$rec.tmp" "$rec"

args=("$@")
finish() {
  local code="$1" prev="" a
  if [ "$code" = 0 ] && [ "$rank" = 0 ]; then
    for a in "${args[@]}"; do
      case "$prev" in
        --out|--json) echo "stand-in results: ${args[*]}" >"$a" ;;
        --set) case "$a" in output=*) echo "stand-in results: ${args[*]}" >"${a#output=}" ;; esac ;;
      esac
      prev="$a"
    done
  fi
  exit "$code"
}

if [ "$restart" = 0 ] && [ -n "${STANDIN_WAIT:-}" ]; then
  got=""
  trap 'got=USR1' USR1
  trap 'got=TERM' TERM
  : >"$log/waiting-${SLURM_JOB_ID:-nojob}-p$rank"
  for _ in $(seq 1 $((STANDIN_WAIT * 10))); do
    [ -n "$got" ] && break
    sleep 0.1
  done
  echo "signal=${got:-none}" >>"$rec"
  [ -n "$got" ] && finish 75
  finish 0
fi
if [ "$restart" = 0 ] && [ -n "${STANDIN_FIRST:-}" ]; then
  finish "$STANDIN_FIRST"
fi
finish "${STANDIN_EXIT:-0}"
