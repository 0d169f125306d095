# Inputs (issue 13, item 4; docs/cli.md): a data or predictions file that is
# wrong on line 1 fails at once, in memory about the file's size (30 MB of
# short lines used to take 60 times that and half a minute); records repeated
# across data files are reported naming both files, the first one winning; a
# token id outside the model's vocabulary names the file and key it came from
# (config.json "bos_token_id", a tokenizer.json token); an index whose
# weight_map is empty says so; a repeated --data or --predictions is a usage
# error.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
cd "$T" || exit 1
D="$PRMEVAL_SRC/data/prmbench"
PRED="$PRMEVAL_SRC/data/baselines/all_valid.jsonl"

# 1. wrong on line 1, then 10 million short lines (30 MB): fails at once, small
"$PY" -c '
import sys
with open("bad1.jsonl", "w") as f:
    f.write("not json\n")
    f.write("{}\n" * 10000000)
'
size_kb=$(( $(stat -c %s bad1.jsonl) / 1024 ))
for what in data predictions; do
  if [ $what = data ]; then args=(--data bad1.jsonl --predictions "$PRED"); else args=(--data "$D" --predictions bad1.jsonl); fi
  start=$SECONDS
  /usr/bin/time -f "%M" -o rss.txt timeout 300 "$PRMEVAL" eval "${args[@]}" --quiet >out.txt 2>&1
  rc=$?
  rss=$(tail -n 1 rss.txt)
  # the file's pages once, plus a fixed amount (the sanitizer build's runtime included)
  limit=$(( 3 * size_kb + 300000 ))
  if [ $rc -ne 3 ] || ! grep -q "bad1.jsonl:1:1: malformed JSON" out.txt; then
    fail "$what wrong on line 1: exit $rc"; cat out.txt
  elif [ "$rss" -gt "$limit" ]; then
    fail "$what wrong on line 1: $rss KB resident for a $size_kb KB file (limit $limit KB)"
  else
    ok "$what wrong on line 1: exit 3 in $((SECONDS - start)) s, $rss KB resident for a $size_kb KB file"
  fi
done
# good records, then short lines: the first short line is named, nothing after it is parsed
head -n 3 "$D/$(ls "$D" | head -n 1)" > bad2.jsonl
"$PY" -c 'open("bad2.jsonl", "a").write("{}\n" * 2000000)'
expect "a short line after good records" 3 'bad2.jsonl:4: missing field "classification"' \
  "$PRMEVAL" eval --data bad2.jsonl --predictions "$PRED" --quiet

# 2. a record repeated in another data file: reported with both files, the first file's record wins
mkdir -p dup
first=$(ls "$D" | head -n 1)
cp "$D/$first" dup/a.jsonl
head -n 1 "$D/$first" | sed 's/"modified_question": "/"modified_question": "CHANGED /' > dup/b.jsonl
expect "duplicate across files" 0 \
  "warning: 1 data records repeat the sample key of an earlier record and were skipped \(the first record of a key wins.*dup/b.jsonl:1 repeats sample [^ ]+ of dup/a.jsonl:1" \
  "$PRMEVAL" eval --data dup --predictions "$PRED" --quiet

# 3. ids outside the vocabulary: named by file and key
"$PRMEVAL" tiny-model sky --family skywork --layers 1 --hidden 16 --heads 2 --kv-heads 1 --ffn 32 >/dev/null 2>&1
"$PRMEVAL" tiny-model qp --family qwen-prm --layers 1 --hidden 16 --heads 2 --kv-heads 1 --ffn 32 >/dev/null 2>&1
"$PY" - <<'PY'
import json
c = json.load(open("sky/config.json")); c["bos_token_id"] = 99999; json.dump(c, open("sky/config.json", "w"))
# config.json's id is Skywork's BOS only where the tokenizer declares no bos_token (docs/families.md)
c = json.load(open("sky/tokenizer_config.json")); c["bos_token"] = None; json.dump(c, open("sky/tokenizer_config.json", "w"))
t = json.load(open("qp/tokenizer.json"))
for a in t["added_tokens"]:
    if a["content"] == "<extra_0>":
        a["id"] = 9999
json.dump(t, open("qp/tokenizer.json", "w"))
PY
for m in sky qp; do
  fam=skywork; [ $m = qp ] && fam=qwen-prm
  cat > $m.json <<EOF
{"model": "$m", "family": "$fam", "data": "$PRMEVAL_SRC/data/subset400.jsonl", "output": "$m.h5",
 "backend": "cpu", "max_tokens": 1024, "limit": 8}
EOF
done
expect "bos_token_id outside the vocabulary" 3 \
  'sky/config.json: key "bos_token_id" is 99999, outside the model.s vocabulary of [0-9]+' "$PRMEVAL" run sky.json --quiet
expect "a tokenizer.json id outside the vocabulary" 3 \
  "\(sample [^)]+\): token id 9999 \(token '<extra_0>' of tokenizer.json\) is outside the model's vocabulary of [0-9]+ \(qp/config.json key \"vocab_size\"\)" \
  "$PRMEVAL" run qp.json --quiet

# 4. an index with an empty weight_map
"$PRMEVAL" tiny-model idx --family qwen-prm --layers 1 --hidden 16 --heads 2 --kv-heads 1 --ffn 32 >/dev/null 2>&1
mv idx/model.safetensors idx/model-00001-of-00001.safetensors
echo '{"metadata": {}, "weight_map": {}}' > idx/model.safetensors.index.json
expect "empty weight_map" 3 'idx/model.safetensors.index.json: "weight_map" is empty' "$PRMEVAL" inspect idx

# 5. repeated options
expect "--data twice" 2 "--data given twice" "$PRMEVAL" eval --data "$D" --predictions "$PRED" --data "$D"
expect "--predictions twice" 2 "--predictions given twice" "$PRMEVAL" eval --data "$D" --predictions "$PRED" \
  --predictions "$PRED"

finish "all input checks passed"
