#!/usr/bin/env bash
# prmeval report: the CSV's numbers are each file's eval JSON (bit for bit),
# one row per file in argument order; runs on other data (a subset, a data
# file with one byte changed) or with another metric definition are refused
# with exit 2 naming both files, unless --force (which still warns); the same
# data under another path is the same data.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
cd "$T"
DATA="$PRMEVAL_SRC/data/prmbench"
$PY "$PRMEVAL_SRC/tests/oracle/make_scored_predictions.py" "$PRMEVAL_SRC/data/baselines/all_valid.jsonl" 5 p.jsonl
"$PRMEVAL" eval --data "$DATA" --predictions p.jsonl --threshold 0.4 --out a.h5 --json a.json --quiet 2>/dev/null
"$PRMEVAL" eval --data "$DATA" --predictions p.jsonl --threshold 0.6 --out b.h5 --json b.json --quiet 2>/dev/null
"$PRMEVAL" eval --data "$DATA" --predictions "$PRMEVAL_SRC/data/baselines/all_valid.jsonl" --out c.h5 \
  --json c.json --quiet 2>/dev/null
"$PRMEVAL" rescore a.h5 --threshold 0.6 --out r.h5 --quiet 2>/dev/null

"$PRMEVAL" report a.h5 b.h5 c.h5 r.h5 --csv rep.csv | tee table.txt
grep -q "^p.jsonl@0.4 " table.txt && grep -q "^all_valid.jsonl@0.5 " table.txt && grep -q "^p.jsonl@0.6 rescore " table.txt
# the bundled baseline's row shows the paper's figure
awk '$1 == "all_valid.jsonl@0.5" {exit !($2 == "45.7")}' table.txt
$PY - rep.csv a.h5 a.json b.h5 b.json c.h5 c.json r.h5 b.json <<'PY'
import csv, json, struct, sys
rows = list(csv.DictReader(open(sys.argv[1])))
pairs = list(zip(sys.argv[2::2], sys.argv[3::2]))
assert [r["file"] for r in rows] == [h for h, _ in pairs], rows
bits = lambda x: struct.pack("<d", x)
cls = {"NR": "redundency", "NCL": "circular", "ES": "counterfactual", "SC": "step_contradiction",
       "DC": "domain_inconsistency", "CI": "confidence", "PS": "missing_condition", "DR": "deception",
       "MS": "multi_solutions"}
cat = {"Simp.": "Simplicity", "Sound.": "Soundness", "Sens.": "Sensitivity"}
for row, (h5, js) in zip(rows, pairs):
    ev = json.load(open(js))
    assert bits(float(row["threshold"])) == bits(ev["threshold"]), row
    assert bits(float(row["Overall"])) == bits(ev["prmscore"]["overall"]), (h5, row["Overall"])
    for k, c in cls.items():
        assert bits(float(row[k])) == bits(ev["prmscore"][c]), (h5, k)
    for k, c in cat.items():
        assert bits(float(row[k])) == bits(ev["prmscore_category"][c]), (h5, k)
assert [r["command"] for r in rows] == ["eval", "eval", "eval", "rescore"]
assert rows[0]["Overall"] != rows[1]["Overall"]   # different thresholds, different numbers
print("report CSV == each file's eval JSON, bit for bit")
PY

refused() {  # pattern files...
  local pat=$1; shift
  set +e; "$PRMEVAL" report "$@" >out.txt 2>err.txt; local rc=$?; set -e
  [ "$rc" = 2 ] || { echo "report $*: exit $rc, expected 2"; cat err.txt; exit 1; }
  grep -q -- "$pat" err.txt || { echo "report $*: message lacks '$pat'"; cat err.txt; exit 1; }
  [ ! -s out.txt ] || { echo "report $*: printed a table although it refused"; exit 1; }
}
# a subset of the data
"$PRMEVAL" eval --data "$PRMEVAL_SRC/data/subset400.jsonl" --predictions p.jsonl --out sub.h5 --quiet 2>/dev/null
refused "a.h5 and sub.h5 were computed on different data (25 data files vs 1" a.h5 sub.h5
# the same files under another path are the same data; one changed byte is not
cp -r "$DATA" data2
"$PRMEVAL" eval --data data2 --predictions p.jsonl --threshold 0.4 --out moved.h5 --quiet 2>/dev/null
"$PRMEVAL" report a.h5 moved.h5 --csv moved.csv --quiet
cp -r "$DATA" data3
f=$(LC_ALL=C ls data3/*.jsonl | sed -n 5p)   # data files are read in strcmp order
sed -i '1s/"idx"/ "idx"/' "$f"
"$PRMEVAL" eval --data data3 --predictions p.jsonl --out changed.h5 --quiet 2>/dev/null
refused "data file 5 differs" a.h5 b.h5 changed.h5
# another metric definition
cp b.h5 other_metric.h5
# (schema 2 strings are fixed-length UTF-8: docs/hdf5-schema.md)
$PY -c "import h5py; h5py.File('other_metric.h5', 'a').attrs.create('metric_definition', b'prmbench-reference-v2', dtype=h5py.string_dtype('utf-8', 22))"
refused "a.h5 and other_metric.h5 use different metric definitions ('prmbench-reference-v1' vs 'prmbench-reference-v2')" \
  a.h5 other_metric.h5
# --force compares anyway, with a warning
"$PRMEVAL" report a.h5 sub.h5 --force --csv forced.csv >out.txt 2>err.txt
grep -q "warning: --force: a.h5 and sub.h5 were computed on different data" err.txt
[ "$(wc -l <forced.csv)" = 3 ]
# usage and input errors
set +e
"$PRMEVAL" report >/dev/null 2>err.txt; [ $? = 2 ] && grep -q "no results files" err.txt || exit 1
"$PRMEVAL" report a.h5 --bogus >/dev/null 2>err.txt; [ $? = 2 ] && grep -q "unknown option" err.txt || exit 1
"$PRMEVAL" report a.h5 nothere.h5 >/dev/null 2>err.txt; [ $? = 4 ] && grep -q "nothere.h5" err.txt || exit 1
"$PRMEVAL" report a.h5 p.jsonl >/dev/null 2>err.txt; [ $? = 3 ] && grep -q "p.jsonl: not an HDF5 file" err.txt || exit 1
set -e
echo "report ok"
