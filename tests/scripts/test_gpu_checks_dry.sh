#!/usr/bin/env bash
# labels: nosan
# tests/gpu/run_gpu_checks.sh --cpu-dry-run: the GPU checks' own logic (runs,
# HDF5 comparisons, the transformers comparison with the PyTorch oracle standing
# in, the summary) on this machine, with the CPU backend standing in for CUDA.
# The script must end "all checks passed" with every comparison recorded, and its
# comparison rule must catch planted errors (reward_compare.py selftest).
set -euo pipefail
src=${PRMEVAL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=${PRMEVAL_TMP:-/tmp/prmeval_test_gpu_checks_dry}
mkdir -p "$tmp"
build=${PRMEVAL_BUILD:-$src/build}
rc=0
OUT="$tmp/out" WORK="$tmp/work" BUILD="$build" bash "$src/tests/gpu/run_gpu_checks.sh" --cpu-dry-run \
    > "$tmp/stdout.txt" 2>&1 || rc=$?
/usr/bin/python3 - "$tmp/out/summary.json" "$rc" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
rc = int(sys.argv[2])
recs = s["records"]
h5 = [r for r in recs if "HDF5" in r.get("check", "") and r["status"] == "pass"]
ref = [r for r in recs if "torch_prm" in r.get("check", "") and r["status"] == "pass"]
selftest = [r for r in recs if r.get("check") == "comparison selftest" and r["status"] == "pass"]
errs = []
if rc != 0 or s["verdict"] != "all checks passed":
    errs.append(f"exit {rc}, verdict {s['verdict']!r}")
if len(h5) != 5 or len(ref) != 5:
    errs.append(f"{len(h5)} HDF5 and {len(ref)} oracle comparisons passed, expected 5 and 5")
if any(r["rewards"] < 40 for r in h5 + ref):
    errs.append("a comparison saw fewer than 40 rewards")
if any(not r.get("token_ids_identical") for r in h5):
    errs.append("token ids of the two runs were not compared or differ")
if not selftest:
    errs.append("the comparison selftest did not pass")
for e in errs:
    print("FAIL:", e)
if errs:
    print(open(sys.argv[1].replace("summary.json", "summary.txt")).read())
    sys.exit(1)
print(f"dry run: {len(h5)} HDF5 and {len(ref)} oracle comparisons passed ({sum(r['rewards'] for r in h5)} rewards)")
PY
