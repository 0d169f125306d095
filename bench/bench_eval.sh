#!/usr/bin/env bash
# prmeval eval against a plain Python implementation of the same metric
# (bench/py_metric.py, json module) on the full PRMBench data with 6,969
# predictions (the all-valid baseline): best wall time of 5 runs each, the
# ratio, and peak memory (max RSS).
# usage: bash bench/bench_eval.sh [path/to/prmeval]   (default build/prmeval)
set -euo pipefail
cd "$(dirname "$0")/.."
prmeval=${1:-build/prmeval}
data=data/prmbench
preds=data/baselines/all_valid.jsonl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
runs=5

# best_of CMD...: prints "best_seconds max_rss_kb" over $runs runs
best_of() {
  local best="" rss=0
  for _ in $(seq $runs); do
    /usr/bin/time -f "%M" -o "$tmp/rss" "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    local dt
    dt=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$dt < $best" | bc -l)" = 1 ]; then best=$dt; fi
    local r
    r=$(tail -n 1 "$tmp/rss")
    [ "$r" -gt "$rss" ] && rss=$r
  done
  echo "$best $rss"
}

read -r tc rc < <(best_of "$prmeval" eval --data "$data" --predictions "$preds" --json "$tmp/c.json" --quiet)
read -r tp rp < <(best_of /usr/bin/python3 bench/py_metric.py "$data" "$preds" "$tmp/p.json")
/usr/bin/python3 - "$tmp/c.json" "$tmp/p.json" <<'PY'
import json, sys
c, p = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert c["prmscore"] == p["prmscore"], "prmeval and the Python peer disagree"
PY
printf "eval, full data (6969 samples, 6969 predictions), best of %d, %s threads\n" $runs "${OMP_NUM_THREADS:-$(nproc)}"
printf "  prmeval eval   %.4f s   peak RSS %6d KB\n" "$tc" "$rc"
printf "  python (json)  %.4f s   peak RSS %6d KB\n" "$tp" "$rp"
printf "  speed-up       %.1fx\n" "$(echo "$tp / $tc" | bc -l)"
