#!/usr/bin/env bash
# labels: mpi
# prmeval eval under mpirun -np N: the JSON is byte-identical for N = 1, 2, 3, 4,
# on a subset with more than one logical shard and on a tiny data file with
# fewer problems than ranks (most ranks then hold nothing).
set -euo pipefail
: "${PRMEVAL:?}" "${PRMEVAL_SRC:?}" "${PRMEVAL_TMP:?}"
mkdir -p "$PRMEVAL_TMP"
cd "$PRMEVAL_TMP"
py=/usr/bin/python3
data="$PRMEVAL_SRC/data/subset400.jsonl"

# predictions with varied labels, a missing sample and an invalid one
$py - "$data" preds.jsonl <<'PY'
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
$py "$PRMEVAL_SRC/tests/oracle/make_baseline.py" tiny.jsonl tiny_preds.jsonl

nproblems=$($py -c "import sys; sys.path.insert(0,'$PRMEVAL_SRC/tests/oracle'); import prmbench_metric as o; print(len({v['idx'] for v in o.load_samples('$data').values()}))")
echo "subset: $nproblems problems (shards of 64)"

fail=0
for n in 1 2 3 4; do
  mpirun -np $n --oversubscribe "$PRMEVAL" eval --data "$data" --predictions preds.jsonl --json sub_$n.json --quiet 2>err_$n.txt || { echo "np=$n failed"; cat err_$n.txt; fail=1; }
done
for n in 1 2 3 4 5; do
  mpirun -np $n --oversubscribe "$PRMEVAL" eval --data tiny.jsonl --predictions tiny_preds.jsonl --json tiny_$n.json --quiet 2>terr_$n.txt || { echo "tiny np=$n failed"; cat terr_$n.txt; fail=1; }
done
# without mpirun (no MPI at all) the result is the same too
"$PRMEVAL" eval --data "$data" --predictions preds.jsonl --json sub_nompi.json --quiet 2>/dev/null
for n in 2 3 4 nompi; do
  cmp sub_1.json sub_$n.json || { echo "subset: np=$n differs from np=1"; fail=1; }
done
for n in 2 3 4 5; do
  cmp tiny_1.json tiny_$n.json || { echo "tiny: np=$n differs from np=1"; fail=1; }
done
grep -Eq '"missing":[[:space:]]+1,' sub_1.json || { echo "expected one missing sample in the counts"; fail=1; }

# a failure on every rank: one message (from rank 0), the same non-zero exit
set +e
mpirun -np 3 --oversubscribe "$PRMEVAL" eval --data does_not_exist --predictions preds.jsonl >out.txt 2>errs.txt
rc=$?
set -e
nmsg=$(grep -c "does_not_exist" errs.txt || true)
if [ "$rc" -ne 4 ] || [ "$nmsg" -ne 1 ]; then
  echo "missing data under mpirun: exit $rc (want 4), $nmsg messages (want 1)"; cat errs.txt; fail=1
fi
[ $fail -eq 0 ] && echo "mpi: JSON identical for np=1..4 (and 5 on 2 problems)"
exit $fail
