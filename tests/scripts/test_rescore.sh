#!/usr/bin/env bash
# labels: mpi
# prmeval rescore against prmeval eval as the oracle: seeded random scores
# (tests/oracle/make_scored_predictions.py: scores, given labels, redundancy
# labels, validity false, missing samples) evaluated at 0.3, 0.5 and 0.7;
# rescoring any of the files at any of those thresholds gives the direct
# eval's metrics byte for byte (the JSON up to its warnings, which differ:
# eval warns about the data, rescore about kept labels); at the file's own
# threshold the rescored file's /metrics, /samples and /steps equal the
# stored ones bit for bit; the Skywork rule equals eval of labels computed
# by an independent Python implementation of the rule; bad input fails clearly.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
cd "$T"
DATA="$PRMEVAL_SRC/data/prmbench"
$PY "$PRMEVAL_SRC/tests/oracle/make_scored_predictions.py" "$PRMEVAL_SRC/data/baselines/all_valid.jsonl" 11 \
  p.jsonl sky.jsonl -0.05

for t in 0.3 0.5 0.7; do
  "$PRMEVAL" eval --data "$DATA" --predictions p.jsonl --threshold $t --out e$t.h5 --json e$t.json --quiet 2>/dev/null
done

# metrics text of a JSON document: everything before its "warnings" member
metrics() { sed '/^[[:space:]]*"warnings":/,$d' "$1"; }

# 1. one threshold, from each stored threshold to each other: byte for byte
for src in 0.3 0.5 0.7; do
  for t in 0.3 0.5 0.7; do
    "$PRMEVAL" rescore e$src.h5 --threshold $t --json r.json --quiet 2>r.err
    cmp <(metrics r.json) <(metrics e$t.json) || { echo "rescore e$src.h5 at $t differs from eval at $t"; exit 1; }
    grep -q "evaluated samples keep their stored labels" r.err
  done
done
# the metrics actually move with the threshold (the comparison above is not vacuous)
# (not "! cmp": set -e ignores a command negated with !, so that line could never fail)
if cmp -s <(metrics e0.3.json) <(metrics e0.7.json); then echo "eval at 0.3 and 0.7: the same metrics"; exit 1; fi
echo "rescore at one threshold == eval (9 pairs)"

# 2. a range: table, CSV and a JSON array, each entry the eval document's metrics
"$PRMEVAL" rescore e0.5.h5 --threshold 0.3:0.7:0.2 --json arr.json --csv r.csv >table.txt 2>/dev/null
cat table.txt
[ "$(grep -c '^0\.[357] ' table.txt)" = 3 ]
$PY - arr.json r.csv e0.3.json e0.5.json e0.7.json <<'PY'
import csv, json, struct, sys
arr = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
evals = [json.load(open(p)) for p in sys.argv[3:]]
bits = lambda x: struct.pack("<d", x)
assert len(arr) == len(rows) == 3, (len(arr), len(rows))
cols = ["Overall", "NR", "NCL", "Simp.", "ES", "SC", "DC", "CI", "Sound.", "PS", "DR", "MS", "Sens."]
cls = {"NR": "redundency", "NCL": "circular", "ES": "counterfactual", "SC": "step_contradiction",
       "DC": "domain_inconsistency", "CI": "confidence", "PS": "missing_condition", "DR": "deception",
       "MS": "multi_solutions"}
cat = {"Simp.": "Simplicity", "Sound.": "Soundness", "Sens.": "Sensitivity"}
for doc, row, ev, t in zip(arr, rows, evals, [0.3, 0.5, 0.7]):
    doc.pop("warnings"); ev.pop("warnings")
    assert json.dumps(doc) == json.dumps(ev), t          # repr of every double: exact, -0.0 kept
    assert bits(float(row["threshold"])) == bits(t) and row["label_rule"] == "threshold", row
    for c in cols:
        want = (ev["prmscore"]["overall"] if c == "Overall" else
                ev["prmscore"][cls[c]] if c in cls else ev["prmscore_category"][cat[c]])
        assert bits(float(row[c])) == bits(want), (t, c, row[c], want)   # CSV is full precision
print("range 0.3:0.7:0.2 == eval at 0.3, 0.5, 0.7 (JSON array and CSV)")
PY

# 3. the file's own threshold, written out: bit for bit what eval stored
"$PRMEVAL" rescore e0.5.h5 --out own.h5 --quiet 2>/dev/null   # no --threshold: the file's own
"$PRMEVAL" rescore e0.3.h5 --threshold 0.5 --out from03.h5 --quiet 2>/dev/null
$PY - e0.5.h5 own.h5 from03.h5 <<'PY'
import json, sys
import h5py, numpy as np
def same(a, b, path):
    if isinstance(a, h5py.Group):
        assert set(a.keys()) == set(b.keys()), path
        for k in a.keys():
            same(a[k], b[k], path + "/" + k)
    else:
        x, y = a[()], b[()]
        if x.dtype.kind == "O":
            assert list(x) == list(y), path
        else:
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), path
    for k in a.attrs.keys():
        x, y = a.attrs[k], b.attrs[k]
        assert np.asarray(x).tobytes() == np.asarray(y).tobytes() if np.asarray(x).dtype.kind != "O" else list(np.atleast_1d(x)) == list(np.atleast_1d(y)), (path, k)
ref = h5py.File(sys.argv[1])
for p in sys.argv[2:]:
    f = h5py.File(p)
    for g in ("metrics", "samples", "steps", "analysis"):
        same(ref[g], f[g], p + ":/" + g)
    assert f.attrs["command"] == b"rescore"   # fixed-length strings: bytes in h5py
    assert list(f.attrs["data_sha256"]) == list(ref.attrs["data_sha256"]) and len(ref.attrs["data_sha256"][0]) == 64
    cfg = json.loads(f.attrs["config_json"].decode())
    assert cfg["rescore"]["threshold"] == 0.5 and cfg["rescore"]["label_rule"] == "threshold", cfg
print("rescored files at 0.5 == eval's file at 0.5, bit for bit (/metrics, /samples, /steps, /analysis)")
PY
# a rescored file rescores again
"$PRMEVAL" rescore own.h5 --threshold 0.7 --json r.json --quiet 2>/dev/null
cmp <(metrics r.json) <(metrics e0.7.json)

# 3b. a file written by 3 MPI ranks stores the same label sources and rescores the same
mpirun -np 3 --oversubscribe "$PRMEVAL" eval --data "$DATA" --predictions p.jsonl --out m3.h5 --quiet 2>/dev/null
$PY -c "
import h5py, sys
a, b = h5py.File('e0.5.h5'), h5py.File('m3.h5')
assert b.attrs['nranks'] == 3
for d in ('samples/label_source', 'samples/status', 'samples/pred_order', 'steps/score', 'steps/label'):
    assert a[d][()].tobytes() == b[d][()].tobytes(), d
assert set(a['samples/label_source'][()]) == {0, 1, 2}   # every source occurs in the test data
"
"$PRMEVAL" rescore m3.h5 --threshold 0.3 --json r.json --quiet 2>/dev/null
cmp <(metrics r.json) <(metrics e0.3.json)

# 4. label-rule ablation: Skywork's difference rule against labels computed in Python
"$PRMEVAL" eval --data "$DATA" --predictions sky.jsonl --json sky_eval.json --quiet 2>/dev/null
"$PRMEVAL" rescore e0.7.h5 --label-rule skywork-current --threshold -0.05 --json sky_r.json --quiet 2>/dev/null
cmp <(metrics sky_r.json | grep -v '"threshold":') <(metrics sky_eval.json | grep -v '"threshold":')
# the rule differs from the plain threshold at the same value
"$PRMEVAL" rescore e0.7.h5 --threshold -0.05 --json plain.json --quiet 2>/dev/null
if cmp -s <(metrics sky_r.json) <(metrics plain.json); then echo "skywork-current: the plain threshold's metrics"; exit 1; fi
echo "skywork-current == Python rule oracle"

# 5. errors: clear message, non-zero exit, nothing left behind
rescore_fails() {  # expected-exit message-pattern args...
  local want=$1 pat=$2; shift 2
  set +e; "$PRMEVAL" rescore "$@" >out.txt 2>err.txt; local rc=$?; set -e
  [ "$rc" = "$want" ] || { echo "rescore $*: exit $rc, expected $want"; cat err.txt; exit 1; }
  grep -q -- "$pat" err.txt || { echo "rescore $*: message lacks '$pat'"; cat err.txt; exit 1; }
}
rescore_fails 2 "must not exceed B" e0.5.h5 --threshold 0.7:0.3:0.1
rescore_fails 2 "STEP must be > 0" e0.5.h5 --threshold 0.3:0.7:0
rescore_fails 2 "STEP must be > 0" e0.5.h5 --threshold 0.3:0.7:-0.1
rescore_fails 2 "more than 10000 thresholds" e0.5.h5 --threshold 0:1:0.00001
rescore_fails 2 "expected T or A:B:STEP" e0.5.h5 --threshold 0.3:0.7
rescore_fails 2 "is not a finite number" e0.5.h5 --threshold 0.3:x:0.1
rescore_fails 2 "is not a finite number" e0.5.h5 --threshold nan
rescore_fails 2 "one --threshold" e0.5.h5 --threshold 0.3:0.7:0.2 --out x.h5
rescore_fails 2 "not threshold or skywork-current" e0.5.h5 --label-rule median
rescore_fails 2 "is not auto, bf16 or none" e0.5.h5 --reward-rounding fp16
# an eval file names no family: bf16 rounding has no head rule to follow
rescore_fails 2 "needs the family whose head gave the scores" e0.5.h5 --reward-rounding bf16
# a run's config_json that says bf16 for a family prmeval does not know: malformed input
cp e0.5.h5 unk.h5
$PY -c "
import h5py, json
f = h5py.File('unk.h5', 'a')
f.attrs.create('config_json', json.dumps({'family': 'no-such-prm', 'reward_rounding': 'bf16'}).encode(),
               dtype=h5py.string_dtype('utf-8', 64))"
rescore_fails 3 "unknown family \"no-such-prm\"" unk.h5
rescore_fails 2 "a results file is required" --threshold 0.5
rescore_fails 2 "one results file only" e0.5.h5 e0.3.h5
rescore_fails 2 "unknown option" e0.5.h5 --thresh 0.5
rescore_fails 4 "missing.h5: cannot open" missing.h5
head -c 5000 /dev/urandom >corrupt.h5
rescore_fails 3 "corrupt.h5: not an HDF5 file" corrupt.h5
head -c 4096 e0.5.h5 >truncated.h5
set +e; "$PRMEVAL" rescore truncated.h5 >/dev/null 2>err.txt; rc=$?; set -e
[ "$rc" -ne 0 ] && grep -q "truncated.h5" err.txt || { echo "truncated file: exit $rc"; cat err.txt; exit 1; }
# a file without /samples/label_source (older writer): rescoring would guess, so it refuses
cp e0.5.h5 old.h5
$PY -c "import h5py; f = h5py.File('old.h5', 'a'); del f['samples/label_source']; f['samples/class'][0]"
rescore_fails 3 "label_source: dataset missing" old.h5 --threshold 0.4
# a class value the enum does not know / an inconsistent label count
cp e0.5.h5 bad.h5
$PY -c "
import h5py, numpy as np
f = h5py.File('bad.h5', 'a')
i = int(np.nonzero(f['samples/status'][:] == 0)[0][0])
f['samples/nlabels'][i] = f['samples/nlabels'][i] + 1"
rescore_fails 3 "bad.h5: /samples/nlabels: sample" bad.h5 --threshold 0.4
[ ! -e x.h5 ] && [ ! -e x.h5.tmp ] && ! ls ./*.tmp 2>/dev/null
echo "rescore ok"
