#!/usr/bin/env bash
# labels: nosan
# tests/gpu/gpu_session.sh --cpu-dry-run: the GPU session's own logic on this machine,
# the CPU backend standing in for CUDA, the PyTorch oracle for transformers.
#  A. the whole session: every phase runs and records its time; the comparison
#     rule's selftest passes; 5 CPU-vs-"CUDA" and 5 oracle comparisons pass with
#     the fp32 tolerance of the rule, on identical token ids; the batch phase
#     records a bit-for-bit comparison per model; the reuse phase compares each model's
#     run without prefix reuse with the run with it and with the CPU run (2 passing
#     comparisons per model), or, in a build without the job key prefix_reuse, is
#     recorded as skipped; the bench phase records tokens/s,
#     MFU and the end-to-end times; $OUT holds at most 8 files (what the device
#     tool returns), summary.txt first among them;
#  B. a phase cap: the compare phase given 6 s stops there (a run killed at the
#     cap or later models "not run"), the verdict is not "passed", the other
#     phases are "skipped" as PHASES asks, and the summary is still written;
#  C. the total: TOTAL_S=60 with BENCH_S=60 leaves the checks no time (they are
#     "not run"), and the bench (20 problems: far more than 60 s here) is stopped
#     for time (at the session's cap or by bench_gpu.sh's own deadline); the
#     script ends within TOTAL_S (+ a few seconds for the summary) and says so.
set -euo pipefail
src=${PRMEVAL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=${PRMEVAL_TMP:-/tmp/prmeval_test_gpu_session_dry}
rm -rf "$tmp"; mkdir -p "$tmp"
build=${PRMEVAL_BUILD:-$src/build}
session() {   # NAME [VAR=value...]: one dry session with its own OUT and WORK; prints its exit code
    local name=$1; shift
    local rc=0
    env OUT="$tmp/$name/out" WORK="$tmp/$name/work" BUILD="$build" "$@" \
        bash "$src/tests/gpu/gpu_session.sh" --cpu-dry-run > "$tmp/$name.log" 2>&1 || rc=$?
    echo "$rc"
}
rcA=$(session A LIMIT_TINY=1)
rcB=$(session B PHASES=compare COMPARE_S=6)
t0=$(date +%s)
rcC=$(session C TOTAL_S=60 BENCH_S=60 LIMIT_BENCH_DRY=20)
tC=$(( $(date +%s) - t0 ))
/usr/bin/python3 - "$tmp" "$rcA" "$rcB" "$rcC" "$tC" <<'PY'
import json, os, sys
tmp, rcA, rcB, rcC = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
errs = []
def load(name):
    return json.load(open(os.path.join(tmp, name, "out", "summary.json")))
def recs(s, pred):
    return [r for r in s["records"] if pred(r)]

# A. the whole session
a = load("A")
if rcA != 0 or a["verdict"] != "all checks passed":
    errs.append(f"A: exit {rcA}, verdict {a['verdict']!r}")
phases = {r["check"][6:]: r for r in recs(a, lambda r: r["check"].startswith("phase "))}
for p in ("build", "kernels", "compare", "batch", "reuse", "transformers", "bench"):
    if p not in phases or " s (cap " not in phases[p].get("detail", ""):
        errs.append(f"A: phase {p} has no time record: {phases.get(p)}")
h5 = recs(a, lambda r: "HDF5" in r["check"] and "batch independence" not in r["check"] and "prefix_reuse" not in r["check"]
          and r["status"] == "pass")
orc = recs(a, lambda r: "torch_prm" in r["check"] and r["status"] == "pass")
if len(h5) != 5 or len(orc) != 5:
    errs.append(f"A: {len(h5)} HDF5 and {len(orc)} oracle comparisons passed, expected 5 and 5")
for r in h5 + orc:
    if r["tol"] != "fp32" or r["z_tol"] != 1e-3 or r["rewards"] < 40:
        errs.append(f"A: {r['check']}: tolerance {r['tol']} {r['z_tol']}, {r['rewards']} rewards")
if any(not r.get("token_ids_identical") for r in h5):
    errs.append("A: token ids of the two runs were not compared or differ")
batch = recs(a, lambda r: "batch independence" in r["check"] and "rewards" in r)
if len(batch) < 4 or any(r["status"] not in ("info", "info (differs)") or "identical" not in r for r in batch):
    errs.append(f"A: batch phase: {[(r['check'], r['status']) for r in batch]}")
reuse = recs(a, lambda r: "prefix_reuse" in r["check"] and "rewards" in r)
reuse_skipped = recs(a, lambda r: r["check"] == "prefix reuse" and r["status"] == "skipped (dry run)")
if not (reuse_skipped and not reuse) and not (len(reuse) == 10 and all(
        r["status"] == "pass" and r["tol"] == "fp32" and r["rewards"] >= 40 for r in reuse)):
    errs.append(f"A: reuse phase: {[(r['check'], r['status']) for r in reuse]}, skipped: {reuse_skipped}")
if not recs(a, lambda r: r["check"] == "comparison selftest" and r["status"] == "pass"):
    errs.append("A: the comparison selftest did not pass")
bench = recs(a, lambda r: r["check"] == "bench" and r["status"] == "pass")
if not bench or not all(k in bench[0]["detail"] for k in ("tokens/s", "MFU", "end to end", "padded pairs")):
    errs.append(f"A: bench record: {bench}")
files = sorted(os.listdir(os.path.join(tmp, "A", "out")))
want = ["bench.json", "bench.txt", "kernels.txt", "log.txt", "summary.json", "summary.txt"]
if files != want:
    errs.append(f"A: $OUT holds {files}, expected {want}")
if not open(os.path.join(tmp, "A", "out", "summary.txt")).readline().startswith("GPU checks (dry): all checks passed"):
    errs.append("A: summary.txt does not start with the verdict")

# B. a phase cap
b = load("B")
capped = recs(b, lambda r: "time cap" in r.get("detail", "") or "out of time" in r.get("detail", ""))
skipped = {r["check"] for r in recs(b, lambda r: r["status"] == "skipped")}
pc = recs(b, lambda r: r["check"] == "phase compare")
if rcB == 0 or b["verdict"] == "all checks passed" or not capped:
    errs.append(f"B: exit {rcB}, verdict {b['verdict']!r}, {len(capped)} capped records")
if skipped != {f"phase {p}" for p in ("kernels", "batch", "reuse", "transformers", "bench")}:
    errs.append(f"B: skipped {skipped}")
if not pc or int(pc[0]["detail"].split()[0]) > 6 + 10:
    errs.append(f"B: the compare phase ran past its cap: {pc}")

# C. the total
c = load("C")
not_run = {r["check"] for r in recs(c, lambda r: r["status"] == "not run")}
if not_run != {f"phase {p}" for p in ("kernels", "compare", "batch", "reuse", "transformers")}:
    errs.append(f"C: not run: {not_run}")
# stopped by the session at the cap, or by bench_gpu.sh's own deadline (the time it was given)
if not recs(c, lambda r: r["check"] == "bench" and r["status"] == "FAIL" and any(
        w in r.get("detail", "") for w in ("time cap", "out of time", "passed"))):
    errs.append(f"C: the bench was not stopped for time: {recs(c, lambda r: r['check'] == 'bench')}")
if rcC == 0 or c["verdict"] == "all checks passed":
    errs.append(f"C: exit {rcC}, verdict {c['verdict']!r}")
tC = int(sys.argv[5])
if tC > 60 + 15:
    errs.append(f"C took {tC} s, TOTAL_S was 60")
for e in errs:
    print("FAIL:", e)
if errs:
    print(open(os.path.join(tmp, "A", "out", "summary.txt")).read())
    sys.exit(1)
print(f"dry session: A passed ({len(h5)} HDF5, {len(orc)} oracle comparisons, {len(batch)} batch records, "
      f"{len(reuse)} prefix reuse comparisons{' (skipped: no job key prefix_reuse)' if reuse_skipped else ''}, "
      f"bench: {bench[0]['detail'][:60]}...); B stopped at its phase cap; C stayed inside TOTAL_S")
PY
