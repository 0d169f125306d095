#!/usr/bin/env bash
# labels: mpi
# prmeval eval under mpirun -np N: the JSON is byte-identical for N = 1, 2, 3, 4,
# on a subset with more than one logical shard and on a tiny data file with
# fewer problems than ranks (most ranks then hold nothing).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
cd "$T"
data="$PRMEVAL_SRC/data/subset400.jsonl"

# predictions with varied labels, a missing sample and an invalid one
"$PY" - "$data" preds.jsonl <<'PY'
import json, random, sys
sys.path.insert(0, __import__("os").environ["PRMEVAL_SRC"] + "/tests/oracle")
import prmbench_metric as o
rng = random.Random(7)
s = o.load_samples(sys.argv[1])
with open(sys.argv[2], "w") as f:
    for i, (k, v) in enumerate(s.items()):
        if i == 3:
            continue
        rec = {"idx": k, "scores": {"step_level_validity_scores": [rng.random() for _ in range(v["nsteps"])]}}
        if i == 5:
            rec["validity"] = False
        f.write(json.dumps(rec) + "\n")
PY
# a tiny data file: 2 problems (3 records) for up to 5 ranks
head -n 3 "$data" > tiny.jsonl
"$PY" "$PRMEVAL_SRC/tests/oracle/make_baseline.py" tiny.jsonl tiny_preds.jsonl

nproblems=$("$PY" -c "import sys; sys.path.insert(0,'$PRMEVAL_SRC/tests/oracle'); import prmbench_metric as o; print(len({v['idx'] for v in o.load_samples('$data').values()}))")
echo "subset: $nproblems problems (shards of 64)"

for n in 1 2 3 4; do
  mpirun -np $n --oversubscribe "$PRMEVAL" eval --data "$data" --predictions preds.jsonl --json sub_$n.json --quiet 2>err_$n.txt || { fail "np=$n failed"; cat err_$n.txt; }
done
for n in 1 2 3 4 5; do
  mpirun -np $n --oversubscribe "$PRMEVAL" eval --data tiny.jsonl --predictions tiny_preds.jsonl --json tiny_$n.json --quiet 2>terr_$n.txt || { fail "tiny np=$n failed"; cat terr_$n.txt; }
done
# without mpirun (no MPI at all) the result is the same too
"$PRMEVAL" eval --data "$data" --predictions preds.jsonl --json sub_nompi.json --quiet 2>/dev/null
for n in 2 3 4 nompi; do
  cmp sub_1.json sub_$n.json || fail "subset: np=$n differs from np=1"
done
for n in 2 3 4 5; do
  cmp tiny_1.json tiny_$n.json || fail "tiny: np=$n differs from np=1"
done
grep -Eq '"missing":[[:space:]]+1,' sub_1.json || fail "expected one missing sample in the counts"

# a failure on every rank: one message (from rank 0), the same non-zero exit
set +e
mpirun -np 3 --oversubscribe "$PRMEVAL" eval --data does_not_exist --predictions preds.jsonl >out.txt 2>errs.txt
rc=$?
set -e
nmsg=$(grep -c "does_not_exist" errs.txt || true)
if [ "$rc" -ne 4 ] || [ "$nmsg" -ne 1 ]; then
  fail "missing data under mpirun: exit $rc (want 4), $nmsg messages (want 1)"; cat errs.txt
fi
finish "mpi: JSON identical for np=1..4 (and 5 on 2 problems)"
