#!/usr/bin/env bash
# The bundled "every step valid" baseline: overall PRMScore 45.7 on the full
# data (f1 91.4, negative_f1 0), as docs/metric.md states; and the file in
# data/baselines is what tests/oracle/make_baseline.py writes.
set -euo pipefail
: "${PRMEVAL:?}" "${PRMEVAL_SRC:?}" "${PRMEVAL_TMP:?}"
mkdir -p "$PRMEVAL_TMP"
/usr/bin/python3 "$PRMEVAL_SRC/tests/oracle/make_baseline.py" "$PRMEVAL_SRC/data/prmbench" "$PRMEVAL_TMP/all_valid.jsonl"
cmp "$PRMEVAL_TMP/all_valid.jsonl" "$PRMEVAL_SRC/data/baselines/all_valid.jsonl"
"$PRMEVAL" eval --data "$PRMEVAL_SRC/data/prmbench" --predictions "$PRMEVAL_SRC/data/baselines/all_valid.jsonl" \
  --json "$PRMEVAL_TMP/b.json" >"$PRMEVAL_TMP/table.txt" 2>"$PRMEVAL_TMP/err.txt"
cat "$PRMEVAL_TMP/table.txt"
grep -q "6969 samples" "$PRMEVAL_TMP/err.txt"
overall=$(awk '$1 == "PRMScore" {print $2}' "$PRMEVAL_TMP/table.txt")
[ "$overall" = "45.7" ] || { echo "overall PRMScore $overall, expected 45.7"; exit 1; }
grep -q "f1 91.4, negative_f1 0.0" "$PRMEVAL_TMP/table.txt"
/usr/bin/python3 - "$PRMEVAL_TMP/b.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
t = m["total_hallucination_results"]
assert round(100 * t["f1"], 1) == 91.4 and t["negative_f1"] == 0, t
assert t["negative_precision"] == -1 and t["negative_recall"] == 0, t
assert m["validitiy_rate"] == m["validity_rate"] == 1.0
print("baseline ok: overall", m["prmscore"]["overall"])
PY
