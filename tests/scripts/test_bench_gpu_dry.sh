#!/usr/bin/env bash
# labels: nosan
# bench/bench_gpu.sh --cpu-dry-run: the GPU benchmark's own logic on this machine
# (a 2-layer model of the 7B layout made by hf_baseline.py make-model, backend=cpu,
# --dump-tokens, the timed run, the transformers baseline with the PyTorch oracle
# standing in, the table). The table must use the run's own scoring time, count
# the same tokens on both sides, and prmeval's rewards must equal the stand-in's
# (fp32 both: relative error < 1e-4).
set -euo pipefail
src=${PRMEVAL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=${PRMEVAL_TMP:-/tmp/prmeval_test_bench_gpu_dry}
mkdir -p "$tmp"
build=${PRMEVAL_BUILD:-$src/build}
OUT="$tmp/out" WORK="$tmp/work" BUILD="$build" bash "$src/bench/bench_gpu.sh" --cpu-dry-run > "$tmp/log.txt" 2>&1 \
    || { tail -30 "$tmp/log.txt"; echo "FAIL: bench_gpu.sh --cpu-dry-run exit $?"; exit 1; }
/usr/bin/python3 - "$tmp/out/bench.json" "$tmp/work/timed.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
run = json.load(open(sys.argv[2]))["run"]["ranks"][0]
errs = []
rows = {r["setting"]: r for r in b["rows"]}
if rows.get("prmeval", {}).get("seconds") != run["seconds"]:
    errs.append(f"prmeval's row is not the run's own scoring time {run['seconds']}: {rows.get('prmeval')}")
for name in ("hf-reference", "hf-best"):
    if name not in rows:
        errs.append(f"no {name} row")
    elif rows[name]["tokens"] != run["prompt_tokens"]:  # prefix reuse computes fewer than the prompts hold
        errs.append(f"{name} counted {rows[name]['tokens']} tokens, prmeval's prompts {run['prompt_tokens']}")
if b["prompts"] < 10 or b["tokens"] < 2000:
    errs.append(f"too little input: {b['prompts']} prompts, {b['tokens']} tokens")
rv = b.get("rewards_vs_hf")
if not rv or rv["rewards"] < 50 or rv["worst_rel"] > 1e-4:
    errs.append(f"rewards against the stand-in: {rv and {k: rv[k] for k in ('rewards', 'worst_rel')}}")
if len(b["targets"]) != 3:
    errs.append(f"targets: {b['targets']}")
for e in errs:
    print("FAIL:", e)
if errs:
    sys.exit(1)
print(f"bench dry run: {b['prompts']} prompts, {b['tokens']} tokens, {len(b['rows'])} rows, "
      f"rewards vs stand-in worst rel {rv['worst_rel']:.2e}")
PY
