# Shared by the SLURM tests that run the real binary (test_slurm.sh,
# test_slurm_run.sh, test_slurm_preempt.sh): the pass/fail tally and the
# per-checkout cluster.
# Source it first, after setting SRC: it sets BIN, PY and a fresh TMP
# ($PRMEVAL_TMP, else /tmp/prmeval-<test name>), and skips the test (exit 77)
# before any work when no local cluster can be started.

BIN="${PRMEVAL:?PRMEVAL must name the prmeval binary}"
PY=/usr/bin/python3
TMP="${PRMEVAL_TMP:-/tmp/prmeval-$(basename "$0" .sh)}"
# shellcheck source=local_cluster.sh
. "$SRC/tests/slurm/local_cluster.sh"
rm -rf "$TMP"
mkdir -p "$TMP"

passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() {
  local what="$1"
  shift
  if "$@"; then ok; else bad "$what"; fi
}
# Prints the job logs on failure, the tally, and exits with the verdict.
finish() {
  if [ "$failed" -gt 0 ]; then
    for f in "$TMP"/slurm-*.out; do [ -f "$f" ] && { echo "---- $f"; cat "$f"; }; done >&2
  fi
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}
root=()
[ "$(id -u)" -eq 0 ] && root=(--allow-run-as-root)
