# labels: slurm nosan
# shellcheck shell=bash
# The real `prmeval eval` through the project's sbatch scripts on a local
# one-node SLURM: a 2-task run (slurm/prmeval.sbatch) and a 3-task array over a
# threshold grid (slurm/sweep.sbatch). Their JSON metrics must equal, key for
# key and bit for bit, those of `prmeval eval` run directly with the same
# arguments; the three thresholds must give three different results; every
# results file is a readable HDF5 file named by job (and array task) id.
# The scripts themselves: test_slurm_scripts.sh (stand-in binary); `prmeval
# run` through them: test_slurm_run.sh and test_slurm_preempt.sh.
set -uo pipefail

SRC="${PRMEVAL_SRC:?}"
# shellcheck source=../slurm/common.sh
. "$SRC/tests/slurm/common.sh"
TIMEOUT=300
DATA="$SRC/data/subset400.jsonl"

# Predictions for every sample of the subset (keys built as the metric page
# says), with step scores spread over [0, 1) by a fixed hash so that each
# threshold labels them differently.
P="$TMP/predictions.jsonl"
"$PY" - "$DATA" "$P" <<'EOF'
import hashlib, json, sys
data, out = sys.argv[1], sys.argv[2]
seen, rows = set(), []
def add(key, steps):
    if key in seen:
        return
    seen.add(key)
    scores = [int(hashlib.sha256(f"{key}/{i}".encode()).hexdigest()[:8], 16) / 2**32 for i in range(len(steps))]
    rows.append({"idx": key, "scores": {"step_level_validity_scores": scores}})
for line in open(data, encoding="utf-8"):
    if not line.strip():
        continue
    r = json.loads(line)
    idx = r["idx"]
    if r["classification"] == "redundency":
        add(f"correct_{idx}", r["original_process"])
    key = idx if idx.startswith(r["classification"] + "_") else f'{r["classification"]}_{idx}'
    add(key, r["modified_process"])
with open(out, "w") as f:
    for row in rows:
        f.write(json.dumps(row) + "\n")
print(f"test_slurm: {len(rows)} predictions", file=sys.stderr)
EOF

# The reference: prmeval eval run directly, one rank.
for t in 0.3 0.5 0.7; do
  if ! "$BIN" eval --data "$DATA" --predictions "$P" --threshold "$t" \
      --json "$TMP/direct-$t.json" --out "$TMP/direct-$t.h5" >"$TMP/direct-$t.log" 2>&1; then
    bad "prmeval eval --threshold $t failed: $(tail -n 3 "$TMP/direct-$t.log")"
    finish
  fi
done
ok

if ! slurm_start; then
  bad "the local SLURM did not start (Debian packages slurm-wlm and munge; scripts/deps.sh)"
  finish
fi

export PRMEVAL_SRC="$SRC" PRMEVAL_BIN="$BIN" PRMEVAL_CMD=eval PRMEVAL_RESULTS_DIR="$TMP/results"
printf -- '--threshold 0.3\n--threshold 0.5\n--threshold 0.7\n' >"$TMP/thresholds.txt"
run=$(PRMEVAL_ARGS="--data $DATA --predictions $P --threshold 0.5" \
      sbatch --parsable --chdir="$TMP" --output="$TMP/slurm-%j.out" --ntasks-per-node=2 "$SRC/slurm/prmeval.sbatch")
sweep=$(PRMEVAL_ARGS="--data $DATA --predictions $P" PRMEVAL_GRID="$TMP/thresholds.txt" \
        sbatch --parsable --chdir="$TMP" --output="$TMP/slurm-%j.out" --array=0-2 "$SRC/slurm/sweep.sbatch" | cut -d';' -f1)
check "submitted the run ($run) and the sweep ($sweep)" test -n "$run" -a -n "$sweep"

check "2-task run finished" wait_done "$run"
check "2-task run completed" test "$(job_field "$run" JobState)" = COMPLETED
check "sweep finished" wait_done "$sweep"

# Same metrics: every key of the JSON but the provenance, which names hosts, ranks and times.
same_metrics() {  # a.json b.json
  "$PY" - "$1" "$2" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
drop = {"provenance", "timing", "ranks", "hosts", "start_time", "end_time", "warnings"}
ka = {k: v for k, v in a.items() if k not in drop}
kb = {k: v for k, v in b.items() if k not in drop}
if "prmscore" not in ka:
    sys.exit(f"{sys.argv[1]}: no prmscore")
if ka != kb:
    diff = sorted(k for k in set(ka) | set(kb) if ka.get(k) != kb.get(k))
    sys.exit(f"metrics differ in {diff}")
EOF
}
overall() { "$PY" -c 'import json,sys; print(repr(json.load(open(sys.argv[1]))["prmscore"]["overall"]))' "$1"; }

r="$TMP/results/eval-$run"
check "2-task run: JSON named by job id" test -s "$r.json"
check "2-task run: HDF5 named by job id" test -s "$r.h5"
check "2-task run: HDF5 readable" h5ls "$r.h5"
check "2-task run equals the direct run" same_metrics "$r.json" "$TMP/direct-0.5.json"

ts=(0.3 0.5 0.7)
declare -A seen=()
for i in 0 1 2; do
  s="$TMP/results/thresholds-${sweep}_$i"
  check "sweep task $i: JSON" test -s "$s.json"
  check "sweep task $i: HDF5 readable" h5ls "$s.h5"
  check "sweep task $i equals the direct run at ${ts[$i]}" same_metrics "$s.json" "$TMP/direct-${ts[$i]}.json"
  o=$(overall "$s.json" 2>/dev/null || echo "none-$i")
  seen["$o"]=1
done
check "three thresholds, three different overall PRMScores" test "${#seen[@]}" = 3

if [ "$failed" -gt 0 ]; then
  for f in "$TMP"/slurm-*.out; do echo "---- $f"; cat "$f"; done >&2
fi
finish
