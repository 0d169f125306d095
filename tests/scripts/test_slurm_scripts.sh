# labels: slurm nosan
# shellcheck shell=bash
# The project's sbatch scripts on a real (local, one-node) SLURM, with a
# stand-in for the binary (tests/slurm/standin_prmeval.sh) that records the
# arguments and environment of each rank and exits with a chosen code:
#   - a 2-task run through srun --mpi=pmix, and one through the mpirun fallback;
#   - two 3-task arrays (a parameter grid with `eval`, job configurations with
#     `run`): 3 distinct results files named by array job and task id;
#   - exit code 75 is requeued and the job runs again; the warning signal sent
#     to the batch shell reaches every rank, which exits 75, and is requeued;
#   - any other failure is not requeued.
# The same scripts with the real binary: test_slurm.sh (eval), test_slurm_run.sh
# and test_slurm_preempt.sh (run).
set -uo pipefail

SRC="${PRMEVAL_SRC:?}"
TMP="${PRMEVAL_TMP:-/tmp/prmeval-test-slurm-scripts}"
rm -rf "$TMP"
mkdir -p "$TMP"
export PRMEVAL_SLURM_USER="test_slurm_scripts-$$"
# shellcheck source=../slurm/local_cluster.sh
. "$SRC/tests/slurm/local_cluster.sh"
STANDIN="$SRC/tests/slurm/standin_prmeval.sh"
TIMEOUT=180  # seconds for any one job to finish

passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() {  # description command...
  local what="$1"
  shift
  if "$@"; then ok; else bad "$what"; fi
}

if ! slurm_start; then
  echo "FAIL: the local SLURM did not start (Debian packages slurm-wlm and munge; scripts/deps.sh)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

# Waits until job $1 has been requeued once and sits pending, then lets it
# start at once: SLURM holds a requeued job back for two minutes, and must
# first have torn down the previous run's step (else the new step fails to launch).
wait_requeued_and_release() {
  local j="$1" t=0
  while [ "$t" -lt 60 ]; do
    if [ "$(job_field "$j" Restarts)" = 1 ] && [ "$(job_field "$j" JobState)" = PENDING ] &&
       ! pgrep -f "slurmstepd: \[$j\." >/dev/null 2>&1; then
      scontrol update JobId="$j" StartTime=now
      return 0
    fi
    sleep 1
    t=$((t + 1))
  done
  echo "job $j: Restarts=$(job_field "$j" Restarts) JobState=$(job_field "$j" JobState) after 60 s" >&2
  return 1
}

record() { cat "$1/call-$2-r$3-p$4.txt" 2>/dev/null; }
has_line() { grep -qxF -- "$2" <<<"$1"; }

submit() {  # folder, then sbatch arguments; environment from the caller
  local dir="$1"
  shift
  mkdir -p "$dir"
  sbatch --parsable --chdir="$dir" --output="$dir/slurm-%j.out" "$@" | cut -d';' -f1
}

common_env() {  # folder
  export PRMEVAL_SRC="$SRC" PRMEVAL_BIN="$STANDIN" STANDIN_LOG="$1" PRMEVAL_RESULTS_DIR="$1/results"
}

# --- jobs -----------------------------------------------------------------
# A: 2 tasks, eval, srun --mpi=pmix (auto).
A="$TMP/a"
jobA=$(common_env "$A"; PRMEVAL_CMD=eval PRMEVAL_ARGS="--data data/subset400.jsonl --predictions p.jsonl" \
       submit "$A" --ntasks-per-node=2 "$SRC/slurm/prmeval.sbatch")

# B: 2 tasks, run with a job configuration, through the mpirun fallback.
B="$TMP/b"
mkdir -p "$B"
echo '{"model": "m"}' >"$B/demo-job.json"
jobB=$(common_env "$B"; PRMEVAL_CMD=run PRMEVAL_LAUNCHER=mpirun \
       submit "$B" --ntasks-per-node=2 "$SRC/slurm/prmeval.sbatch" "$B/demo-job.json")

# C: a 3-task array over a parameter grid, eval.
C="$TMP/c"
mkdir -p "$C"
printf '# thresholds\n--threshold 0.3\n\n--threshold 0.5\n--threshold 0.7\n' >"$C/grid.txt"
check "sweep.sbatch --count over a grid" test "$(PRMEVAL_SRC="$SRC" PRMEVAL_GRID="$C/grid.txt" bash "$SRC/slurm/sweep.sbatch" --count)" = 3
jobC=$(common_env "$C"; PRMEVAL_CMD=eval PRMEVAL_GRID="$C/grid.txt" PRMEVAL_ARGS="--data d.jsonl --predictions p.jsonl" \
       submit "$C" --array=0-2 "$SRC/slurm/sweep.sbatch")

# D: a 3-task array over job configurations (sorted by name), run.
D="$TMP/d"
mkdir -p "$D/sweeps"
for n in b-second c-third a-first; do echo "{\"name\": \"$n\"}" >"$D/sweeps/$n.json"; done
check "sweep.sbatch --count over configurations" test "$(PRMEVAL_SRC="$SRC" PRMEVAL_SWEEP_DIR="$D/sweeps" bash "$SRC/slurm/sweep.sbatch" --count)" = 3
jobD=$(common_env "$D"; PRMEVAL_CMD=run PRMEVAL_SWEEP_DIR="$D/sweeps" submit "$D" --array=0-2 "$SRC/slurm/sweep.sbatch")

# E: exits 75 the first time: requeued, then finishes.
E="$TMP/e"
jobE=$(common_env "$E"; PRMEVAL_CMD=eval STANDIN_FIRST=75 submit "$E" --ntasks-per-node=1 "$SRC/slurm/prmeval.sbatch")

# F: waits for the warning signal (sent to the batch shell only, as
# --signal=B:USR1@120 does); every rank must get it and exit 75.
F="$TMP/f"
jobF=$(common_env "$F"; PRMEVAL_CMD=eval STANDIN_WAIT=$TIMEOUT submit "$F" --ntasks-per-node=2 "$SRC/slurm/prmeval.sbatch")

# G: an ordinary failure (exit 3): not requeued.
G="$TMP/g"
jobG=$(common_env "$G"; PRMEVAL_CMD=eval STANDIN_EXIT=3 submit "$G" --ntasks-per-node=1 "$SRC/slurm/prmeval.sbatch")

for j in "$jobA" "$jobB" "$jobC" "$jobD" "$jobE" "$jobF" "$jobG"; do
  check "sbatch gave a job id ('$j')" test -n "$j"
done
echo "submitted: A=$jobA B=$jobB C=$jobC D=$jobD E=$jobE F=$jobF G=$jobG"

# --- F first: the only job that waits for the test, holding both CPUs meanwhile
# (anything waited for before would deadlock behind it) --------------------
t=0
while [ "$t" -lt "$TIMEOUT" ] && [ "$(ls "$F"/waiting-"$jobF"-p* 2>/dev/null | wc -l)" -lt 2 ]; do sleep 1; t=$((t + 1)); done
check "F: both ranks running" test "$(ls "$F"/waiting-"$jobF"-p* 2>/dev/null | wc -l)" = 2
scancel --batch --signal=USR1 "$jobF"
check "F requeued after the warning" wait_requeued_and_release "$jobF"

# --- A: 2-task run through srun ------------------------------------------
check "A finished" wait_done "$jobA"
check "A completed" test "$(job_field "$jobA" JobState)" = COMPLETED
for r in 0 1; do
  rec=$(record "$A" "$jobA" 0 "$r")
  check "A rank $r ran" test -n "$rec"
  check "A rank $r SLURM_PROCID" has_line "$rec" "SLURM_PROCID=$r"
  check "A rank $r SLURM_NTASKS" has_line "$rec" "SLURM_NTASKS=2"
  check "A rank $r PMIx rank" has_line "$rec" "PMIX_RANK=$r"
  check "A rank $r command" has_line "$rec" "arg=eval"
  check "A rank $r data" has_line "$rec" "arg=data/subset400.jsonl"
  check "A rank $r --out" has_line "$rec" "arg=$A/results/eval-$jobA.h5"
  check "A rank $r --json" has_line "$rec" "arg=$A/results/eval-$jobA.json"
done
check "A results .h5 named by job id" test -s "$A/results/eval-$jobA.h5"
check "A results .json named by job id" test -s "$A/results/eval-$jobA.json"
check "A log names srun --mpi=pmix" grep -q "launcher: srun --mpi=pmix" "$A/slurm-${jobA}.out"

# --- B: mpirun fallback, run with a job configuration ---------------------
check "B finished" wait_done "$jobB"
check "B completed" test "$(job_field "$jobB" JobState)" = COMPLETED
for r in 0 1; do
  rec=$(record "$B" "$jobB" 0 "$r")
  check "B rank $r ran under mpirun" has_line "$rec" "OMPI_COMM_WORLD_RANK=$r"
  check "B rank $r world size" has_line "$rec" "OMPI_COMM_WORLD_SIZE=2"
  check "B rank $r job configuration" has_line "$rec" "arg=$B/demo-job.json"
  check "B rank $r output" has_line "$rec" "arg=output=$B/results/demo-job-$jobB.h5"
  check "B rank $r json" has_line "$rec" "arg=json=$B/results/demo-job-$jobB.json"
  check "B rank $r checkpoint" has_line "$rec" "arg=checkpoint_dir=$B/results/checkpoints/demo-job-$jobB"
done
check "B results named by job id" test -s "$B/results/demo-job-$jobB.h5"

# --- C: array over a grid --------------------------------------------------
check "C finished" wait_done "$jobC"
thresholds=(0.3 0.5 0.7)
for t in 0 1 2; do
  f="$C/results/grid-${jobC}_$t.json"
  check "C task $t results file $f" test -s "$f"
  check "C task $t ran threshold ${thresholds[$t]}" grep -q -- "--threshold ${thresholds[$t]} --out" "$f"
  tid=$(grep -l "SLURM_ARRAY_TASK_ID=$t\$" "$C"/call-*.txt 2>/dev/null | head -n1)
  check "C task $t has SLURM_ARRAY_JOB_ID" grep -qx "SLURM_ARRAY_JOB_ID=$jobC" "${tid:-/dev/null}"
done
check "C: 3 distinct results files" test "$(ls "$C"/results/grid-"${jobC}"_*.json 2>/dev/null | wc -l)" = 3

# --- D: array over job configurations --------------------------------------
check "D finished" wait_done "$jobD"
names=(a-first b-second c-third)
for t in 0 1 2; do
  f="$D/results/${names[$t]}-${jobD}_$t.h5"
  check "D task $t results file $f" test -s "$f"
  check "D task $t ran ${names[$t]}.json" grep -q -- "run $D/sweeps/${names[$t]}.json" "$f"
  check "D task $t json named by array task" grep -q -- "--set json=$D/results/${names[$t]}-${jobD}_$t.json" "$f"
done
check "D: 3 distinct results files" test "$(ls "$D"/results/*-"${jobD}"_*.h5 2>/dev/null | wc -l)" = 3

# --- E: exit 75 -> requeue -> runs again -----------------------------------
check "E requeued after exit 75" wait_requeued_and_release "$jobE"
check "E finished" wait_done "$jobE"
check "E completed" test "$(job_field "$jobE" JobState)" = COMPLETED
check "E Restarts=1" test "$(job_field "$jobE" Restarts)" = 1
check "E first run recorded" test -n "$(record "$E" "$jobE" 0 0)"
check "E second run recorded" has_line "$(record "$E" "$jobE" 1 0)" "SLURM_RESTART_COUNT=1"
check "E results after the requeue" test -s "$E/results/eval-$jobE.h5"
check "E log says requeueing" grep -q "requeueing job $jobE" "$E/slurm-${jobE}.out"

# --- F: warning signal -> every rank exits 75 -> requeue -------------------
for r in 0 1; do
  check "F rank $r got SIGUSR1" has_line "$(record "$F" "$jobF" 0 "$r")" "signal=USR1"
done
check "F finished" wait_done "$jobF"
check "F completed" test "$(job_field "$jobF" JobState)" = COMPLETED
check "F second run recorded" test -n "$(record "$F" "$jobF" 1 0)"
check "F results after the requeue" test -s "$F/results/eval-$jobF.h5"

# --- G: exit 3 is a failure, not a preemption ------------------------------
check "G finished" wait_done "$jobG"
check "G failed" test "$(job_field "$jobG" JobState)" = FAILED
check "G exit code 3" test "$(job_field "$jobG" ExitCode)" = 3:0
check "G not requeued" test "$(job_field "$jobG" Restarts)" = 0
check "G left no results" test ! -e "$G/results/eval-$jobG.h5"

if [ "$failed" -gt 0 ]; then
  for f in "$TMP"/*/slurm-*.out; do echo "---- $f"; cat "$f"; done >&2
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
