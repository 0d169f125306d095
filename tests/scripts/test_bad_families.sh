#!/usr/bin/env bash
# labels: fuzz
# Bad family files (tests/corpus/bad_families, docs/families.md "Write your
# own"): `prmeval run --set family=FILE` on a tiny pure-prm model must exit 3
# (malformed input) with a message naming the job, the key "family", the file
# and the key inside it (EXPECT: "file<TAB>regex"), no sanitizer report. And
# the usage errors (exit 2): a family file that is not there, one whose
# architectures do not include the checkpoint's, label_rule "original" on a
# file without that rule, an unknown family name; a file that names a token the
# tokenizer lacks (exit 3, the file and the tokenizer named). Runs in the
# sanitizer build too.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
cd "$T" || exit 1
corpus="$PRMEVAL_SRC/tests/corpus/bad_families"
export PRMEVAL_MPI=0

"$PRMEVAL" tiny-model m --family pure-prm --layers 1 --hidden 16 --heads 2 --kv-heads 1 --ffn 32 --merges 40 \
  >/dev/null 2>&1 || { echo "FAIL: tiny-model"; exit 1; }
printf '{"model": "m", "data": "%s/data/subset400.jsonl", "output": "o.h5", "backend": "cpu", "limit": 1}\n' \
  "$PRMEVAL_SRC" >job.json
# the corpus' source is good: the file of the built-in runs on this model
expect "families/pure-prm.json runs" 0 "done:" "$PRMEVAL" run job.json --quiet \
  --set family="$PRMEVAL_SRC/families/pure-prm.json"

n=0
while IFS=$'\t' read -r file pattern; do
  [ -n "$file" ] || continue
  n=$((n + 1))
  expect "bad_families/$file" 3 "job\.json: key \"family\": .*$pattern" "$PRMEVAL" run job.json --quiet \
    --set family="$corpus/$file"
done <"$corpus/EXPECT"
for f in "$corpus"/*.json; do  # every file of the corpus has its expectation
  grep -q "^$(basename "$f")"$'\t' "$corpus/EXPECT" || fail "$(basename "$f") has no line in EXPECT"
done
[ "$n" -ge 20 ] || fail "only $n corpus files"

expect "missing family file" 2 'key "family": nothere/fam\.json: cannot open the family file' \
  "$PRMEVAL" run job.json --quiet --set family=nothere/fam.json
sed 's/Qwen2ForTokenClassification/LlamaForCausalLM/' "$PRMEVAL_SRC/families/pure-prm.json" >llama.json
expect "architecture mismatch" 2 'family "llama\.json" does not match the checkpoint: config\.json architectures is "Qwen2ForTokenClassification", family pure-prm expects LlamaForCausalLM' \
  "$PRMEVAL" run job.json --quiet --set family=llama.json
expect "label_rule original without the rule" 2 'key "label_rule" "original": the family file .*pure-prm\.json \(family pure-prm\) has no "labels\.original" rule' \
  "$PRMEVAL" run job.json --quiet --set family="$PRMEVAL_SRC/families/pure-prm.json" --set label_rule=original
expect "unknown family name" 2 'key "family": "pure" is not one of auto, qwen-prm, .*, or a family file' \
  "$PRMEVAL" run job.json --quiet --set family=pure
"$PY" - "$PRMEVAL_SRC/families/pure-prm.json" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
g["prompt"]["step"].append({"special": "<no-such-token>"})
json.dump(g, open("token.json", "w"))
PY
expect "a token the tokenizer lacks" 3 'key "family": token\.json \(with the tokenizer of .*m/tokenizer\.json\): family pure-prm needs the token "<no-such-token>"' \
  "$PRMEVAL" run job.json --quiet --set family=token.json
# a relative family file in a job file is relative to the job file's folder
mkdir -p jobs/fam && cp "$PRMEVAL_SRC/families/pure-prm.json" jobs/fam/mine.json
printf '{"model": "../m", "family": "fam/mine.json", "data": "%s/data/subset400.jsonl", "output": "../o2.h5", "backend": "cpu", "limit": 1}\n' \
  "$PRMEVAL_SRC" >jobs/job.json
expect "relative family file in a job file" 0 "done:" "$PRMEVAL" run jobs/job.json --quiet

finish "all bad family files refused as expected"
