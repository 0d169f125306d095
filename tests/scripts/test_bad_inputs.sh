#!/usr/bin/env bash
# The bad-input corpus (tests/corpus/bad): every file must make `prmeval eval`
# exit non-zero (and below 128: no crash), with a message naming the file and
# the line at fault, and no sanitizer report. Runs in the sanitizer build too.
# The bad thing is on line 2 of each file (line 1 is a good record), except in
# files that are bad as a whole (empty, blank, binary): line 1.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
corpus="$PRMEVAL_SRC/tests/corpus/bad"
good_data="$PRMEVAL_SRC/data/subset400.jsonl"
good_preds="$PRMEVAL_SRC/data/baselines/all_valid.jsonl"
n=0

# expect_bad <description> <pattern in stderr> <prmeval eval args...>: exit 1..127 (no crash)
expect_bad() { n=$((n + 1)); refused "$1" 1-127 "$2" "$PRMEVAL" eval "${@:3}" --quiet; }

line_of() {
  case "$1" in
    *_empty|*_blank_only|*_binary) echo 1 ;;
    *) echo 2 ;;
  esac
}

for f in "$corpus"/data_*.jsonl; do
  name=$(basename "$f" .jsonl)
  expect_bad "$name" "$name\.jsonl:$(line_of "$name")(:|\b)" --data "$f" --predictions "$good_preds"
done
for f in "$corpus"/pred_*.jsonl; do
  name=$(basename "$f" .jsonl)
  expect_bad "$name" "$name\.jsonl:$(line_of "$name")(:|\b)" --data "$good_data" --predictions "$f"
done

# generated: a line over the 16 MiB limit, and a label list over the 100000 allowed
"$PY" - "$PRMEVAL_TMP" <<'PY'
import json, sys
t = sys.argv[1]
with open(t + "/huge_line.jsonl", "w") as f:
    f.write('{"idx": "a", "scores": {"step_level_validity_labels": [true]}}\n')
    f.write('{"idx": "' + "x" * (17 << 20) + '"}\n')
with open(t + "/huge_list.jsonl", "w") as f:
    f.write('{"idx": "a", "scores": {"step_level_validity_labels": [true]}}\n')
    f.write(json.dumps({"idx": "b", "scores": {"step_level_validity_scores": [0.5] * 100001}}) + "\n")
# a file of exactly one page that ends inside a string: the parser must not read past the map
with open(t + "/page_end.jsonl", "w") as f:
    head = '{"idx": "a", "scores": {"step_level_validity_labels": [true]}}\n{"idx": "'
    f.write(head + "x" * (4096 - len(head)))
PY
expect_bad page_end "page_end\.jsonl:2:" --data "$good_data" --predictions "$PRMEVAL_TMP/page_end.jsonl"
expect_bad huge_line "huge_line\.jsonl:2: line of" --data "$good_data" --predictions "$PRMEVAL_TMP/huge_line.jsonl"
expect_bad huge_list "huge_list\.jsonl:2: .*more than the 100000" --data "$good_data" --predictions "$PRMEVAL_TMP/huge_list.jsonl"

# paths
mkdir -p "$PRMEVAL_TMP/no_jsonl"
expect_bad missing_data "no/such/data.*cannot open" --data "$PRMEVAL_TMP/no/such/data" --predictions "$good_preds"
expect_bad missing_preds "no_such_preds\.jsonl: cannot open" --data "$good_data" --predictions "$PRMEVAL_TMP/no_such_preds.jsonl"
expect_bad folder_without_jsonl "no_jsonl: folder holds no" --data "$PRMEVAL_TMP/no_jsonl" --predictions "$good_preds"
expect_bad preds_is_folder "no_jsonl: not a regular file" --data "$good_data" --predictions "$PRMEVAL_TMP/no_jsonl"
# usage
expect_bad bad_threshold "threshold" --data "$good_data" --predictions "$good_preds" --threshold nan
expect_bad bad_format "format" --data "$good_data" --predictions "$good_preds" --format xml
expect_bad no_predictions "required" --data "$good_data"
# Outputs that cannot be written: refused before the work (the first stderr line is the error).
expect_bad out_folder_missing "^prmeval eval: --out .*/no/such/r\.h5: the folder .*/no/such does not exist" \
  --data "$good_data" --predictions "$good_preds" --out "$PRMEVAL_TMP/no/such/r.h5"
head -n 1 "$PRMEVAL_TMP/err" | grep -q "^prmeval eval: --out" || fail "out_folder_missing: found after the work"
expect_bad json_is_folder "^prmeval eval: --json .*: is a folder" --data "$good_data" --predictions "$good_preds" \
  --json "$PRMEVAL_TMP/no_jsonl"

finish "$n bad inputs checked"
