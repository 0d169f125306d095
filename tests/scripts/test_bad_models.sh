#!/usr/bin/env bash
# labels: fuzz
# Bad checkpoints and tokenizers (tests/corpus/bad_models, bad_tokenizers):
# reproducers from the fuzzer (tests/scripts/test_fuzz_inputs.py) and the
# huge-input checks. Each must make prmeval exit 1..127 with a message
# naming the file (and key, tensor or line), with no sanitizer report, and
# fast. Runs in the sanitizer build too.
#   bad_models/config_*.json  replaces config.json of a fresh tiny model
#   bad_models/header_*.json  replaces its safetensors header (the data area kept)
#   bad_tokenizers/*.json     a tokenizer.json given to `prmeval tokenize`
# EXPECT* files list "file<TAB>regex the message must match".
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
corpus="$PRMEVAL_SRC/tests/corpus"
n=0

# expect_bad <description> <regex for stderr> <prmeval args...>: exit 1..123 within 60 s
# (124 = timeout, >= 128 = crash)
expect_bad() { n=$((n + 1)); refused "$1" 1-123 "$2" timeout 60 "$PRMEVAL" "${@:3}"; }

# The same tiny model the corpus headers were cut from (its data area).
base="$PRMEVAL_TMP/base"
rm -rf "$base"
"$PRMEVAL" tiny-model "$base" --family qwen-prm --layers 1 --hidden 16 --heads 2 --kv-heads 1 --ffn 32 \
  --merges 40 >/dev/null 2>&1 || { echo "FAIL: tiny-model"; exit 1; }
"$PRMEVAL" inspect "$base" --quiet >/dev/null || { echo "FAIL: the base model does not inspect"; exit 1; }

model_with() {  # model_with <kind: config|header> <corpus file> -> folder on stdout
  local d="$PRMEVAL_TMP/m_$(basename "$2" .json)"
  rm -rf "$d"
  cp -r "$base" "$d"
  if [ "$1" = config ]; then
    cp "$2" "$d/config.json"
  else
    "$PY" - "$base/model.safetensors" "$2" "$d/model.safetensors" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = open(sys.argv[2], "rb").read()
open(sys.argv[3], "wb").write(struct.pack("<Q", len(h)) + h + b[8 + n:])
PY
  fi
  echo "$d"
}

for kind in config header; do
  while IFS=$'\t' read -r file pattern; do
    [ -n "$file" ] || continue
    d=$(model_with "$kind" "$corpus/bad_models/$file")
    expect_bad "bad_models/$file" "$pattern" inspect "$d" --quiet
  done <"$corpus/bad_models/EXPECT_$kind"
done
while IFS=$'\t' read -r file pattern; do
  [ -n "$file" ] || continue
  expect_bad "bad_tokenizers/$file" "$pattern" tokenize --tokenizer "$corpus/bad_tokenizers/$file" --text "hello world"
done <"$corpus/bad_tokenizers/EXPECT"

# Huge inputs: a clear error or bounded behaviour, never memory exhausted silently.
# A tokenizer.json over the 256 MB limit is refused after reading at most that.
expect_bad "endless tokenizer.json" "/dev/zero: larger than 256 MB" tokenize --tokenizer /dev/zero --text a
# A header length over the limit.
d="$PRMEVAL_TMP/m_huge_header_len"; rm -rf "$d"; cp -r "$base" "$d"
"$PY" -c "
import struct, sys
b = open(sys.argv[1], 'rb').read()
open(sys.argv[1], 'wb').write(struct.pack('<Q', 1 << 40) + b[8:])" "$d/model.safetensors"
expect_bad "safetensors header length 2^40" "model\.safetensors: header length 1099511627776 exceeds" inspect "$d"
# A data record with 10^7 steps is one line over the 16 MiB limit; 10^5+1 steps in a line under it.
"$PY" - "$PRMEVAL_TMP" <<'PY'
import sys
t = sys.argv[1]
with open(t + "/steps_1e7.jsonl", "w") as f:
    f.write('{"classification": "circular", "idx": "p", "modified_question": "Q", "modified_process": ['
            + ",".join(['""'] * 10**7) + '], "error_steps": [1]}\n')
with open(t + "/steps_1e5.jsonl", "w") as f:
    f.write('{"classification": "circular", "idx": "p", "modified_question": "Q", "modified_process": ['
            + ",".join(['""'] * 100001) + '], "error_steps": [1]}\n')
PY
preds="$PRMEVAL_SRC/data/baselines/all_valid.jsonl"
expect_bad "10^7 steps" "steps_1e7\.jsonl:1: line of [0-9]+ bytes, more than the 16777216 allowed" \
  eval --data "$PRMEVAL_TMP/steps_1e7.jsonl" --predictions "$preds" --quiet
expect_bad "10^5+1 steps" "steps_1e5\.jsonl:1: field \"modified_process\" has more steps than the 100000 allowed" \
  eval --data "$PRMEVAL_TMP/steps_1e5.jsonl" --predictions "$preds" --quiet

# Pathological tokenizer input: 1 MB without a space (one BPE word of a
# million symbols) and 1 MB of one repeated two-letter pair must finish fast.
"$PY" -c "
import sys
open(sys.argv[1] + '/nospace.txt', 'w').write('a' * (1 << 20) + '\n' + 'ab' * (1 << 19) + '\n')" "$PRMEVAL_TMP"
n=$((n + 1))
start=$(date +%s.%N)
timeout 60 "$PRMEVAL" tokenize --tokenizer "$base" --file "$PRMEVAL_TMP/nospace.txt" >"$PRMEVAL_TMP/out" 2>"$PRMEVAL_TMP/err"
rc=$?
secs=$(echo "$(date +%s.%N) - $start" | bc)
lines=$(wc -l <"$PRMEVAL_TMP/out")
if [ $rc -ne 0 ] || [ "$lines" -ne 2 ] || grep -qE "Sanitizer|runtime error" "$PRMEVAL_TMP/err"; then
  fail "1 MB without spaces: exit $rc, $lines lines"; cat "$PRMEVAL_TMP/err"
else
  echo "ok   1 MB without spaces: 2 lines of ids in $secs s"
fi

finish "$n bad models and tokenizers checked"
