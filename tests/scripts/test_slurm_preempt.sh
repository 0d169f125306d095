# labels: slurm nosan
# shellcheck shell=bash
# Preemption on a real (local, one-node) SLURM: a 2-task `prmeval run` through
# slurm/prmeval.sbatch (a tiny qwen-prm model, the first 512 problems of
# PRMBench: 8 logical shards, 10-20 s of work on 2 cores) gets SLURM's warning
# signal once its first journals are in its checkpoint folder, as
# `#SBATCH --signal=B:USR1@120` would send it before the time limit (to the
# batch shell only; slurm/launch.sh passes it on to the ranks). Checked:
#   - every rank stops at a shard boundary, prmeval exits 75 and the script
#     requeues the job (Restarts = 1; the requeue hold is cut short with
#     `scontrol update StartTime=now`);
#   - the requeued run reuses exactly the journals the first one left
#     ("resume: N of 8 shards reused", 0 < N < 8) and finishes;
#   - its results equal an uninterrupted direct `mpirun` run byte for byte
#     (tests/slurm/same_results.py).
set -uo pipefail

SRC="${PRMEVAL_SRC:?}"
# shellcheck source=../slurm/common.sh
. "$SRC/tests/slurm/common.sh"
TIMEOUT=150  # seconds for any one wait
NSHARDS=8

# --- the model, the job, the uninterrupted reference -------------------------
if ! "$BIN" tiny-model "$TMP/model" --family qwen-prm --seed 5 >"$TMP/tiny-model.log" 2>&1; then
  bad "tiny-model: $(cat "$TMP/tiny-model.log")"
  finish
fi
cat >"$TMP/long.json" <<EOF
{"model": "model", "family": "qwen-prm", "data": "$SRC/data/prmbench", "output": "unused.h5",
 "backend": "cpu", "max_tokens": 256, "token_budget": 4096, "limit": $((NSHARDS * 64)), "progress_interval": 5}
EOF
start=$SECONDS
if ! mpirun -np 2 --oversubscribe "${root[@]}" "$BIN" run "$TMP/long.json" --quiet --set output="$TMP/direct.h5" \
    --set json="$TMP/direct.json" >"$TMP/direct.log" 2>&1; then
  bad "the direct run: $(tail -n 5 "$TMP/direct.log")"
  finish
fi
echo "uninterrupted direct run: $((SECONDS - start)) s"
check "the direct run has $NSHARDS shards" grep -q " 0 of $NSHARDS shards reused" "$TMP/direct.log"

# --- SLURM --------------------------------------------------------------------
if ! slurm_start; then
  bad "the local SLURM did not start (Debian packages slurm-wlm and munge; scripts/deps.sh)"
  finish
fi

journals() { find "$1" -maxdepth 1 -name 'shard-*.journal' 2>/dev/null | wc -l; }

export PRMEVAL_SRC="$SRC" PRMEVAL_BIN="$BIN" PRMEVAL_CMD=run PRMEVAL_RESULTS_DIR="$TMP/results"
job=$(sbatch --parsable --chdir="$TMP" --output="$TMP/slurm-%j.out" --ntasks-per-node=2 \
      "$SRC/slurm/prmeval.sbatch" "$TMP/long.json" | cut -d';' -f1)
if [ -z "$job" ]; then
  bad "sbatch gave no job id"
  finish
fi
echo "submitted: $job"
CK="$TMP/results/checkpoints/long-$job"
LOG="$TMP/slurm-$job.out"

# 1. the warning, once the first shard is journalled (the job may wait in the
#    queue behind other tests' jobs first)
t=0
while [ "$t" -lt $((TIMEOUT * 10)) ] && [ "$(journals "$CK")" -lt 1 ] && [ -n "$(squeue -h -j "$job" 2>/dev/null)" ]; do
  sleep 0.1
  t=$((t + 1))
done
at_signal=$(journals "$CK")
scancel --batch --signal=USR1 "$job"
echo "sent SIGUSR1 to the batch shell with $at_signal of $NSHARDS shards journalled"
check "the warning came mid-run (journals: $at_signal)" test "$at_signal" -ge 1 -a "$at_signal" -lt "$NSHARDS"

# 2. requeued: Restarts=1, pending, the old step gone; then let it start at once
requeued=0
t=0
while [ "$t" -lt "$TIMEOUT" ]; do
  if [ "$(job_field "$job" Restarts)" = 1 ] && [ "$(job_field "$job" JobState)" = PENDING ] &&
     ! pgrep -f "slurmstepd: \[$job\." >/dev/null 2>&1; then
    requeued=1
    break
  fi
  sleep 1
  t=$((t + 1))
done
check "requeued after the warning (Restarts=$(job_field "$job" Restarts), $(job_field "$job" JobState))" test "$requeued" = 1
kept=$(journals "$CK")
echo "the stopped run left $kept of $NSHARDS shards journalled"
check "the stopped run left some shards to do ($kept)" test "$kept" -ge 1 -a "$kept" -lt "$NSHARDS"
check "prmeval said it stopped on SIGUSR1" grep -q "^prmeval run: stopped by SIGUSR1 before the end" "$LOG"
check "the script requeued on exit 75" grep -q "stopped early (exit 75): requeueing job $job" "$LOG"
check "no results from the stopped run" test ! -e "$TMP/results/long-$job.h5"
[ "$requeued" = 1 ] && scontrol update JobId="$job" StartTime=now

# 3. the second run resumes and finishes
t=0
while [ "$t" -lt "$TIMEOUT" ] && [ -n "$(squeue -h -j "$job" 2>/dev/null)" ]; do sleep 1; t=$((t + 1)); done
check "the requeued job finished" test -z "$(squeue -h -j "$job" 2>/dev/null)"
check "the requeued job completed ($(job_field "$job" JobState))" test "$(job_field "$job" JobState)" = COMPLETED
check "Restarts=1" test "$(job_field "$job" Restarts)" = 1
second=$(sed -n '/restart 1: /,$p' "$LOG")
check "the second run says it reused the $kept journals" \
  grep -q "^resume: $kept of $NSHARDS shards reused from journals in $CK, 0 corrupt" <<<"$second"
check "the second run's summary says so too" grep -q "^done: .* $kept of $NSHARDS shards reused" <<<"$second"
check "every shard journalled at the end" test "$(journals "$CK")" = "$NSHARDS"
r="$TMP/results/long-$job"
check "results $r.h5 and .json" test -s "$r.h5" -a -s "$r.json"
check "the preempted and requeued run equals the uninterrupted one" "$PY" "$SRC/tests/slurm/same_results.py" "$r" "$TMP/direct"
check "the JSON's run member counts the reused shards" \
  "$PY" -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["run"]["shards_reused"] != int(sys.argv[2]))' "$r.json" "$kept"

finish
