#!/usr/bin/env bash
# Stops the local test cluster of start_local_slurm.sh (slurmd, slurmctld),
# once its last user has left. Leaves munged running: it is harmless, other
# software may use it, and restarting it costs time.
#   PRMEVAL_SLURM_USER  the token given to start_local_slurm.sh (default the caller's pid)
#   --force             stop whoever else is still registered
set -euo pipefail

DIR="${PRMEVAL_SLURM_DIR:-/tmp/prmeval-slurm}"
USER_TOKEN="${PRMEVAL_SLURM_USER:-$PPID}"
force=0
[ "${1:-}" = "--force" ] && force=1

[ -d "$DIR" ] || exit 0
exec 9>"$DIR/lock"
flock -w 120 9 || { echo "stop_local_slurm: $DIR/lock held for over 120 s" >&2; exit 1; }

rm -f "$DIR/users/$USER_TOKEN"
if [ "$force" -eq 0 ] && [ -n "$(ls -A "$DIR/users" 2>/dev/null)" ]; then
  echo "stop_local_slurm: still in use by $(ls "$DIR/users" | tr '\n' ' '); leaving it running"
  exit 0
fi
rm -f "$DIR"/users/*

export SLURM_CONF="$DIR/slurm.conf"
# Jobs first, so no slurmstepd outlives the daemons.
if [ -s "$SLURM_CONF" ] && command -v scancel >/dev/null 2>&1; then
  # The jobs' owner: the test's user when it stops the cluster through sudo.
  owner="${SUDO_USER:-$(id -un)}"
  scancel --quiet --full --signal=KILL --state=RUNNING "--user=$owner" 2>/dev/null || true
  scancel --quiet "--user=$owner" 2>/dev/null || true
fi
for d in slurmd slurmctld; do
  pidf="$DIR/$d.pid"
  [ -s "$pidf" ] || continue
  pid=$(cat "$pidf")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidf"
done
echo "stop_local_slurm: stopped the cluster in $DIR"
