#!/usr/bin/env bash
# Tokenizer throughput: prmeval tokenize against the JavaScript port of Hugging
# Face tokenizers (@lenml/tokenizers, the test oracle) on the same inputs: every
# question and step of all PRMBench records (duplicates included, as a run sees
# them), one JSON string per line, for the three real tokenizer.json files.
# MB/s counts the UTF-8 bytes of the texts over the encoding time, i.e. the wall
# time minus that of the same command on an empty input (loading tokenizer.json).
# Both run on one core (prmeval tokenize is single-threaded; node runs the
# tokenizer on its main thread). Ids are compared too.
# usage: bash bench/bench_tokenize.sh [PRMEVAL_BINARY]   (default build/prmeval)
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$src/build/prmeval}"
js="$src/tests/js"
[ -x "$bin" ] || { echo "no binary at $bin: build first" >&2; exit 2; }
[ -d "$js/node_modules/@lenml/tokenizers" ] || { echo "run 'cd tests/js && npm ci' first" >&2; exit 2; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
node "$js/prmbench_texts.mjs" "$src"/data/prmbench/*.jsonl > "$tmp/texts.jsonl"
: > "$tmp/empty.jsonl"
bytes=$(node -e 'const fs=require("fs");let b=0;for(const l of fs.readFileSync(process.argv[1],"utf8").split("\n"))if(l)b+=Buffer.byteLength(JSON.parse(l));console.log(b)' "$tmp/texts.jsonl")
n=$(wc -l < "$tmp/texts.jsonl")

now() { date +%s.%N; }
# secs CMD...: wall seconds of one run, output to $tmp/out
secs() { local t0; t0=$(now); "$@" > "$tmp/out"; awk -v a="$(now)" -v b="$t0" 'BEGIN { print a - b }'; }
calc() { awk "BEGIN { print $1 }"; }

printf 'inputs: %d texts, %.2f MB of UTF-8 (all PRMBench questions and steps)\n' "$n" "$(calc "$bytes/1000000")"
printf 'host: %s, %s\n\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" "$(node --version)"
printf '%-10s %10s %10s %10s %10s %8s\n' tokenizer "prmeval" "load s" "oracle" "load s" "ratio"
printf '%-10s %10s %10s %10s %10s %8s\n' "" "MB/s" "" "MB/s" "" ""
for t in qwen3 llama3_1 llama2; do
  tok="$js/node_modules/@lenml/tokenizer-$t/models/tokenizer.json"
  p0=$(secs "$bin" tokenize --tokenizer "$tok" --file "$tmp/empty.jsonl" --jsonl)
  p1=$(secs "$bin" tokenize --tokenizer "$tok" --file "$tmp/texts.jsonl" --jsonl)
  cp "$tmp/out" "$tmp/prmeval.ids"
  o0=$(secs node "$js/encode_oracle.mjs" "$tok" "$tmp/empty.jsonl")
  o1=$(secs node "$js/encode_oracle.mjs" "$tok" "$tmp/texts.jsonl")
  same="ids identical"
  cmp -s "$tmp/out" "$tmp/prmeval.ids" || same="IDS DIFFER"
  pm=$(calc "$bytes/1000000/($p1-$p0)")
  om=$(calc "$bytes/1000000/($o1-$o0)")
  printf '%-10s %10.2f %10.2f %10.2f %10.2f %7.1fx  %s\n' "$t" "$pm" "$p0" "$om" "$o0" "$(calc "$pm/$om")" "$same"
done
