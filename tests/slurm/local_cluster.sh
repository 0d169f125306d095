# Sourced by the SLURM tests after setting SRC: the per-checkout local cluster
# of start_local_slurm.sh. slurmd starts jobs as their owner, so the daemons need
# root: the tests start them as root, or through passwordless sudo when they run
# as a user, and are skipped (exit 77, with the reason) when neither is possible.
# Source it early: a test that is skipped should not do its other work first.

# One cluster per checkout, so that two checkouts tested at once never share a queue;
# the SLURM tests of one checkout share it (each registers its own user token).
export PRMEVAL_SLURM_DIR="${PRMEVAL_SLURM_DIR:-/tmp/prmeval-slurm-$(printf '%s' "$SRC" | cksum | cut -d' ' -f1)}"
export PRMEVAL_SLURM_USER="${PRMEVAL_SLURM_USER:-$(basename "$0" .sh)-$$}"

slurm_as_root=()
if [ "$(id -u)" -ne 0 ]; then
  as_root=(sudo -n "--preserve-env=PRMEVAL_SLURM_DIR,PRMEVAL_SLURM_USER,PRMEVAL_SLURM_PORT,PRMEVAL_SLURM_WAIT")
  # Probed as it will be used: a sudoers entry may allow commands but not the environment.
  if command -v sudo >/dev/null 2>&1 && "${as_root[@]}" true 2>/dev/null; then
    slurm_as_root=("${as_root[@]}")
  else
    echo "SKIP: the local SLURM cluster needs root (slurmd starts jobs as their owner):" \
      "run the tests as root, or as a user with passwordless sudo" >&2
    exit 77
  fi
fi

slurm_up() { "${slurm_as_root[@]}" bash "$SRC/tests/slurm/start_local_slurm.sh"; }
slurm_down() { "${slurm_as_root[@]}" bash "$SRC/tests/slurm/stop_local_slurm.sh" >/dev/null 2>&1 || true; }

# Starts the cluster (stopped again when the test exits) and points the SLURM
# clients at it; false when it did not come up.
slurm_start() {
  trap slurm_down EXIT
  slurm_up || return 1
  # shellcheck disable=SC1091
  source "$PRMEVAL_SLURM_DIR/env.sh"
}

# A field of `scontrol show job` (JobState, Restarts, ExitCode, ...).
job_field() { scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1; }

# Waits until job (or array) $1 has left the queue; false after $TIMEOUT s.
wait_done() {
  local t=0
  while [ "$t" -lt "$TIMEOUT" ]; do
    [ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0
    sleep 1
    t=$((t + 1))
  done
  echo "job $1 still queued after $TIMEOUT s:" >&2
  squeue -j "$1" >&2
  return 1
}
