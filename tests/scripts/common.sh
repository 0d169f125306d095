# Shared plumbing of the shell tests (tests/scripts/test_*.sh): sourced, not a
# test itself (tests register as test_*). The shell options stay the script's:
# set them before sourcing. Sourcing checks the environment ctest gives
# (tests/CMakeLists.txt), makes a fresh, empty working folder $T (PRMEVAL_TMP;
# the current folder stays the source tree: cd "$T" where the script wants
# relative paths), and sets:
#   PY      Debian's python3, the one that sees h5py, numpy and torch (the
#           python3 on PATH may be another build that does not);
#   fails   the failure tally, counted by fail; ok prints a passed check;
#   finish  the verdict at the end: exit 1 after any failure, else the message.
# The assertions stay in the scripts; what is here runs things and tallies.
# A script must not define a function of a name used here (a local run1 once
# shadowed one and called itself): bash keeps the last definition silently.
: "${PRMEVAL:?}" "${PRMEVAL_SRC:?}" "${PRMEVAL_TMP:?}"
T="$PRMEVAL_TMP"
rm -rf "$T"
mkdir -p "$T"
PY=/usr/bin/python3
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }
finish() {  # message to print when every check passed
  if [ "$fails" -gt 0 ]; then
    echo "$fails failure(s)"
    exit 1
  fi
  echo "$1"
}

# tiny_model DIR FAMILY SEED LAYERS [tiny-model options...]: a tiny checkpoint
# of the small shape most tests use (hidden 32, 2 heads, 1 KV head, FFN 64),
# quietly; the exit code is tiny-model's.
tiny_model() {
  local dir="$1" fam="$2" seed="$3" layers="$4"
  shift 4
  "$PRMEVAL" tiny-model "$dir" --family "$fam" --seed "$seed" --layers "$layers" --hidden 32 --heads 2 \
    --kv-heads 1 --ffn 64 "$@" >/dev/null 2>&1
}

# prmeval_run JOB [prmeval run options...]: one rank, MPI off (no mpirun, no MPI_Init).
prmeval_run() { PRMEVAL_MPI=0 "$PRMEVAL" run "$@"; }
# prmeval_mpirun NP JOB [prmeval run options...]: NP ranks under mpirun.
prmeval_mpirun() {
  local np="$1"
  shift
  mpirun -np "$np" --oversubscribe "$PRMEVAL" run "$@"
}

# json_sans_run FILE: a results JSON without its "run" section (timing and
# hosts differ between runs that must otherwise agree), on one line.
json_sans_run() {
  "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("run"); print(json.dumps(d))' "$1"
}

# journals DIR: how many shard journals a checkpoint folder holds (0 if none).
journals() { find "$1" -maxdepth 1 -name 'shard-*.journal' 2>/dev/null | wc -l; }
# start_and_wait CKDIR COUNT NP [prmeval run options...] > LOG: starts NP ranks
# in the background and returns once CKDIR holds COUNT journals or the run has
# ended (at most 3000 polls, 10 ms apart). PID is mpirun's (a function call is
# no subshell), so that its children are the ranks.
start_and_wait() {
  local ck="$1" want="$2" np="$3"
  shift 3
  mpirun -np "$np" --oversubscribe "$PRMEVAL" run "$@" &
  PID=$!
  for _ in $(seq 1 3000); do
    [ "$(journals "$ck")" -ge "$want" ] && return 0
    kill -0 "$PID" 2>/dev/null || return 0
    sleep 0.01
  done
}
# wait_run: waits for that run to end and sets rc to its exit code (set -e or not).
wait_run() {
  rc=0
  wait "$PID" || rc=$?
}
# signal_ranks SIGNAL: to every rank (the children of mpirun $PID), as SLURM
# signals every task.
signal_ranks() {
  local p
  for p in $(pgrep -P "$PID"); do kill "-$1" "$p" 2>/dev/null || true; done
}

# The verdict on a command that has just ended with exit code RC after START
# (SECONDS), its messages in FILE: a pass needs an exit code as WANT says (N,
# or LO-HI for any code from LO to HI), a line of FILE matching REGEX and no
# sanitizer report. Prints the first matching line, or counts a failure and
# shows FILE.
verdict() {  # what want regex file rc start
  local what="$1" want="$2" re="$3" file="$4" rc="$5" start="$6"
  if [ "$rc" -lt "${want%-*}" ] || [ "$rc" -gt "${want#*-}" ]; then
    fail "$what: exit $rc, want $want"; tail -n 20 "$file"
  elif grep -qE "AddressSanitizer|UndefinedBehaviorSanitizer|runtime error" "$file"; then
    fail "$what: sanitizer report"; cat "$file"
  elif ! grep -qE -- "$re" "$file"; then
    fail "$what: no line matches '$re'"; tail -n 20 "$file"
  else
    ok "$what (exit $rc, $((SECONDS - start)) s): $(grep -E -- "$re" "$file" | head -n 1 | cut -c1-200)"
  fi
}
# expect WHAT WANT REGEX CMD...: runs CMD (EXPECT_TIMEOUT seconds, default 300)
# with stdout and stderr both in $T/out.txt, and gives the verdict on them.
expect() {
  local what="$1" want="$2" re="$3" start=$SECONDS rc=0
  shift 3
  timeout "${EXPECT_TIMEOUT:-300}" "$@" >"$T/out.txt" 2>&1 || rc=$?
  verdict "$what" "$want" "$re" "$T/out.txt" "$rc" "$start"
}
# refused WHAT WANT REGEX CMD...: runs CMD with stdout in $T/out and stderr in
# $T/err, and gives the verdict on stderr alone (where the error belongs).
refused() {
  local what="$1" want="$2" re="$3" start=$SECONDS rc=0
  shift 3
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  verdict "$what" "$want" "$re" "$T/err" "$rc" "$start"
}
