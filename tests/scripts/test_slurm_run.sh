# labels: slurm nosan
# shellcheck shell=bash
# The real `prmeval run` (a tiny random qwen-prm model, the first 80 problems
# of PRMBench: 2 logical shards) through the project's sbatch scripts on a
# local one-node SLURM:
#   - slurm/prmeval.sbatch as a 2-task run (srun --mpi=pmix);
#   - slurm/sweep.sbatch as a 3-task array over 3 job configurations in a
#     sweep folder (thresholds at the quartiles of the model's rewards).
# Every results file (.h5 and .json, named by job and array task id) must
# equal a direct `mpirun -np 2 prmeval run` of the same job, byte for byte
# where runs must agree (tests/slurm/same_results.py); the three thresholds
# must give three different results; each job journals its shards in its own
# checkpoint folder. Preemption: tests/scripts/test_slurm_preempt.sh.
set -uo pipefail

SRC="${PRMEVAL_SRC:?}"
# shellcheck source=../slurm/common.sh
. "$SRC/tests/slurm/common.sh"
TIMEOUT=150  # seconds for any one job (or array) to leave the queue

# --- the model and the jobs ------------------------------------------------
if ! "$BIN" tiny-model "$TMP/model" --family qwen-prm --seed 7 --layers 1 --hidden 32 --heads 2 \
    --kv-heads 1 --ffn 64 >"$TMP/tiny-model.log" 2>&1; then
  bad "tiny-model: $(cat "$TMP/tiny-model.log")"
  finish
fi
job_json() {  # threshold: one job configuration (absolute paths: the sweep's live in another folder)
  cat <<EOF
{"model": "$TMP/model", "family": "qwen-prm", "data": "$SRC/data/prmbench", "output": "$TMP/unused.h5",
 "json": "$TMP/unused.json", "backend": "cpu", "max_tokens": 256, "token_budget": 4096,
 "threshold": $1, "limit": 80, "seed": 1, "progress_interval": 1}
EOF
}
job_json null >"$TMP/small.json"

# --- the references: direct mpirun runs, 2 ranks ----------------------------
direct() {  # job name
  if ! mpirun -np 2 --oversubscribe "${root[@]}" "$BIN" run "$1" --quiet --set output="$TMP/direct-$2.h5" \
      --set json="$TMP/direct-$2.json" >"$TMP/direct-$2.log" 2>&1; then
    bad "direct run of $1: $(tail -n 5 "$TMP/direct-$2.log")"
    finish
  fi
}
direct "$TMP/small.json" small
# A random model's rewards sit in a narrow band (around 0.88 for this one), so
# fixed thresholds such as 0.3/0.5/0.7 would all label alike: take the
# quartiles of the rewards the reference run stored instead.
read -r -a ts < <("$PY" -c '
import h5py, numpy as np, sys
s = h5py.File(sys.argv[1], "r")["/steps/score"][()]
print(" ".join(f"{q:.4f}" for q in np.quantile(s, [0.25, 0.5, 0.75])))' "$TMP/direct-small.h5")
if [ "${#ts[@]}" != 3 ]; then
  bad "could not read the reference rewards from $TMP/direct-small.h5"
  finish
fi
echo "sweep thresholds: ${ts[*]}"
mkdir -p "$TMP/sweeps"
for t in "${ts[@]}"; do job_json "$t" >"$TMP/sweeps/thr-$t.json"; done
for t in "${ts[@]}"; do direct "$TMP/sweeps/thr-$t.json" "$t"; done
ok

# --- SLURM --------------------------------------------------------------------
if ! slurm_start; then
  bad "the local SLURM did not start (Debian packages slurm-wlm and munge; scripts/deps.sh)"
  finish
fi

export PRMEVAL_SRC="$SRC" PRMEVAL_BIN="$BIN" PRMEVAL_CMD=run PRMEVAL_RESULTS_DIR="$TMP/results"
run=$(sbatch --parsable --chdir="$TMP" --output="$TMP/slurm-%j.out" --ntasks-per-node=2 \
      "$SRC/slurm/prmeval.sbatch" "$TMP/small.json" | cut -d';' -f1)
check "sweep.sbatch --count over the job configurations" \
  test "$(PRMEVAL_SWEEP_DIR="$TMP/sweeps" bash "$SRC/slurm/sweep.sbatch" --count)" = 3
sweep=$(PRMEVAL_SWEEP_DIR="$TMP/sweeps" sbatch --parsable --chdir="$TMP" --output="$TMP/slurm-%A_%a.out" \
        --array=0-2 "$SRC/slurm/sweep.sbatch" | cut -d';' -f1)
check "submitted the run ('$run') and the sweep ('$sweep')" test -n "$run" -a -n "$sweep"
echo "submitted: run=$run sweep=$sweep"

same() { "$PY" "$SRC/tests/slurm/same_results.py" "$1" "$2"; }
journals() { find "$1" -maxdepth 1 -name 'shard-*.journal' 2>/dev/null | wc -l; }

check "2-task run finished" wait_done "$run"
check "2-task run completed" test "$(job_field "$run" JobState)" = COMPLETED
r="$TMP/results/small-$run"
check "2-task run: $r.h5" test -s "$r.h5"
check "2-task run: $r.json" test -s "$r.json"
check "2-task run: readable HDF5" h5ls "$r.h5"
check "2-task run equals the direct run" same "$r" "$TMP/direct-small"
check "2-task run: 2 ranks ran" grep -q "^run: .* 2 ranks" "$TMP/slurm-$run.out"
check "2-task run: launched by srun --mpi=pmix" grep -q "launcher: srun --mpi=pmix" "$TMP/slurm-$run.out"
check "2-task run: one CPU thread per rank (2 CPUs, 2 tasks)" \
  test "$(grep -c '^backend: rank [01] .*cpu (1 threads)' "$TMP/slurm-$run.out")" = 2
check "2-task run: both shards journalled in its checkpoint folder" \
  test "$(journals "$TMP/results/checkpoints/small-$run")" = 2

check "sweep finished" wait_done "$sweep"
declare -A seen=()
for i in 0 1 2; do
  s="$TMP/results/thr-${ts[$i]}-${sweep}_$i"
  check "sweep task $i: completed" test "$(job_field "${sweep}_$i" JobState)" = COMPLETED
  check "sweep task $i: $s.h5" test -s "$s.h5"
  check "sweep task $i: $s.json" test -s "$s.json"
  check "sweep task $i: readable HDF5" h5ls "$s.h5"
  check "sweep task $i equals the direct run at threshold ${ts[$i]}" same "$s" "$TMP/direct-${ts[$i]}"
  check "sweep task $i: one CPU thread (a 1-CPU task)" grep -q '^backend: rank 0 .*cpu (1 threads)' "$TMP/slurm-${sweep}_$i.out"
  check "sweep task $i: its own checkpoint folder" \
    test "$(journals "$TMP/results/checkpoints/thr-${ts[$i]}-${sweep}_$i")" = 2
  o=$("$PY" -c 'import json,sys; print(repr(json.load(open(sys.argv[1]))["prmscore"]))' "$s.json" 2>/dev/null ||
      echo "none-$i")
  seen["$o"]=1
done
check "three thresholds, three different PRMScores" test "${#seen[@]}" = 3
check "nothing written to the job files' own output paths" test ! -e "$TMP/unused.h5" -a ! -e "$TMP/unused.json"

finish
