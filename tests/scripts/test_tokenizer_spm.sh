# labels: nosan
# SentencePiece tokenizer.model folders (no tokenizer.json): `prmeval tokenize`
# must give the ids of Hugging Face's fast tokenizer for the folder. Oracle,
# independent of the C code: tests/oracle/spm_llama_convert.py parses the
# model with protobuf's Python library (sentencepiece's schema) and writes the
# tokenizer.json that transformers' LlamaConverter builds from the folder's
# configuration; tests/js/encode_oracle.mjs (@lenml/tokenizers, a port of HF
# tokenizers) encodes with it. A second, unrelated oracle: SentencePiece
# itself (python3-sentencepiece) must give the same ids as prmeval on every
# PRMBench text for the legacy layout (none of them holds a control token).
# Inputs: every distinct PRMBench question and step, tests/data/tokenizer_small_inputs.jsonl
# and tests/data/tokenizer_nasty.jsonl, with and without --add-special.
# Model: tests/data/spm/prmbench_bpe4k.model (4000 pieces, byte fallback,
# a user-defined <step> and a control <ctrl>; tests/data/spm/make_models.sh).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
js="$PRMEVAL_SRC/tests/js"
for need in node; do
  command -v $need >/dev/null || { echo "FAIL: $need is not installed (scripts/deps.sh)" >&2; exit 1; }
done
[ -d "$js/node_modules/@lenml/tokenizers" ] || { echo "FAIL: run 'cd tests/js && npm ci' (scripts/deps.sh)" >&2; exit 1; }
$PY -c "from sentencepiece import sentencepiece_model_pb2" 2>/dev/null ||
  { echo "FAIL: python3-sentencepiece and python3-protobuf are not installed (scripts/deps.sh)" >&2; exit 1; }

MODEL="$PRMEVAL_SRC/tests/data/spm/prmbench_bpe4k.model"
texts="$T/prmbench.jsonl"
node "$js/prmbench_texts.mjs" --unique "$PRMEVAL_SRC"/data/prmbench/*.jsonl > "$texts"
[ "$(wc -l < "$texts")" -gt 40000 ] || { echo "FAIL: too few PRMBench texts" >&2; exit 1; }
small="$PRMEVAL_SRC/tests/data/tokenizer_small_inputs.jsonl"
nasty="$PRMEVAL_SRC/tests/data/tokenizer_nasty.jsonl"
extra="$T/extra.jsonl"   # the model's own special pieces, and spaces around them
printf '%s\n' '"<step>x <step> y"' '"<ctrl><s></s><unk>"' '" <s> a</s>b"' '"  leading"' '"<extra_step>z <extra_step>"' \
  '"a\u2581b \u2581c"' > "$extra"

# Folder layouts (the configuration decides the conversion):
mk() { mkdir -p "$T/$1"; cp "$MODEL" "$T/$1/tokenizer.model"; }
# mathshepherd: the layout of peiyi9979/math-shepherd-mistral-7b-prm: the older
# tokenizer_config.json ("__type": "AddedToken" objects, no added_tokens_decoder)
# and a special_tokens_map.json, which then wins (its pad_token is used).
mk mathshepherd
cp "$PRMEVAL_SRC/tests/data/spm/math_shepherd_tokenizer_config.json" "$T/mathshepherd/tokenizer_config.json"
echo '{"bos_token": "<s>", "eos_token": "</s>", "pad_token": "</s>", "unk_token": "<unk>"}' \
  > "$T/mathshepherd/special_tokens_map.json"
# modern: transformers >= 4.34 layout, legacy false (Metaspace, prepend "first"),
# an added token after the vocabulary, add_eos_token; special_tokens_map.json
# is ignored (added_tokens_decoder present), so its bos must not be used.
mk modern
cat > "$T/modern/tokenizer_config.json" <<'EOF'
{"add_bos_token": true, "add_eos_token": true, "legacy": false, "tokenizer_class": "LlamaTokenizerFast",
 "added_tokens_decoder": {
  "0": {"content": "<unk>", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false, "special": true},
  "1": {"content": "<s>", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false, "special": true},
  "2": {"content": "</s>", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false, "special": true},
  "4000": {"content": "<extra_step>", "lstrip": false, "normalized": false, "rstrip": true, "single_word": false, "special": false}},
 "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": null}
EOF
echo '{"bos_token": "</s>"}' > "$T/modern/special_tokens_map.json"
# bare: tokenizer.model alone (LlamaTokenizer's defaults).
mk bare
# noprefix: legacy, add_prefix_space false (no Prepend), no BOS.
mk noprefix
echo '{"tokenizer_class": "LlamaTokenizer", "add_prefix_space": false, "add_bos_token": false}' \
  > "$T/noprefix/tokenizer_config.json"

compare() {  # name folder inputs [--add-special]
  local name=$1 dir=$2 inputs=$3 flag=${4:-}
  local want="$T/$name.oracle" got="$T/$name.prmeval"
  node "$js/encode_oracle.mjs" "$T/$dir.oracle/tokenizer.json" "$inputs" $flag > "$want"
  "$PRMEVAL" tokenize --tokenizer "$T/$dir" --file "$inputs" --jsonl $flag > "$got"
  [ "$(wc -l < "$want")" -eq "$(wc -l < "$inputs")" ] || { fail "$name: oracle line count"; return; }
  if ! cmp -s "$want" "$got"; then
    fail "$name: ids differ from the oracle (line: oracle / prmeval):"
    diff <(cat -n "$want") <(cat -n "$got") | head -6 >&2 || true
    return
  fi
  echo "ok $name: $(wc -l < "$inputs") inputs, $(grep -o '[0-9]\+' "$got" | wc -l) ids identical"
}

for d in mathshepherd modern bare noprefix; do
  $PY "$PRMEVAL_SRC/tests/oracle/spm_llama_convert.py" "$T/$d" "$T/$d.oracle"
  for inp in small nasty extra; do
    eval "f=\$$inp"
    compare "$d.$inp" "$d" "$f"
    compare "$d.$inp.special" "$d" "$f" --add-special
  done
done
compare mathshepherd.prmbench mathshepherd "$texts" --add-special
compare modern.prmbench modern "$texts"
compare noprefix.prmbench noprefix "$texts"

# SentencePiece's own encoder agrees with the legacy conversion on PRMBench.
"$PRMEVAL" tokenize --tokenizer "$T/bare" --file "$texts" --jsonl > "$T/bare.prmbench"
$PY - "$MODEL" "$texts" "$T/bare.prmbench" <<'EOF' || fail "SentencePiece's ids differ from prmeval's"
import json, sys
import sentencepiece as spm
sp = spm.SentencePieceProcessor(model_file=sys.argv[1])
texts = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
got = [json.loads(l) for l in open(sys.argv[3])]
bad = [i for i, (t, g) in enumerate(zip(texts, got)) if sp.encode(t) != g]
if len(got) != len(texts) or bad:
    print(f"FAIL sentencepiece: {len(bad)} of {len(texts)} texts differ, e.g. line {bad[:1]}")
    sys.exit(1)
print(f"ok sentencepiece: {len(texts)} PRMBench texts, ids identical to libsentencepiece's")
EOF

# Special tokens as transformers reads them: the map's pad_token in the older
# layout; add_eos_token appends </s>; the modern map's bos is ignored.
out=$("$PRMEVAL" tokenize --tokenizer "$T/modern" --text "x" --add-special)
[ "$out" = "[1,$("$PRMEVAL" tokenize --tokenizer "$T/modern" --text x | tr -d '[]'),2]" ] ||
  fail "modern BOS/EOS: $out"
# A tokenizer.json folder of class LlamaTokenizerFast: the post-processor comes
# from add_bos_token/add_eos_token (update_post_processor), not tokenizer.json;
# another class keeps tokenizer.json's (here: BOS only).
mkdir -p "$T/llamajson" "$T/otherjson"
cp "$T/bare.oracle/tokenizer.json" "$T/llamajson/" && cp "$T/bare.oracle/tokenizer.json" "$T/otherjson/"
echo '{"tokenizer_class": "LlamaTokenizerFast", "add_bos_token": false, "add_eos_token": true}' \
  > "$T/llamajson/tokenizer_config.json"
echo '{"tokenizer_class": "PreTrainedTokenizerFast", "add_bos_token": false, "add_eos_token": true}' \
  > "$T/otherjson/tokenizer_config.json"
plain=$("$PRMEVAL" tokenize --tokenizer "$T/bare" --text "x y" | tr -d '[]')
[ "$("$PRMEVAL" tokenize --tokenizer "$T/llamajson" --text "x y" --add-special)" = "[$plain,2]" ] ||
  fail "LlamaTokenizerFast tokenizer.json: add_bos_token/add_eos_token not applied"
[ "$("$PRMEVAL" tokenize --tokenizer "$T/otherjson" --text "x y" --add-special)" = "[1,$plain]" ] ||
  fail "another class must keep tokenizer.json's post-processor"
# The folder's tokenizer.json wins over tokenizer.model (as AutoTokenizer loads it).
mkdir -p "$T/both" && cp "$MODEL" "$T/both/tokenizer.model" && cp "$T/bare.oracle/tokenizer.json" "$T/both/"
sed -i 's/"<step>"/"<stepX>"/' "$T/both/tokenizer.json"
[ "$("$PRMEVAL" tokenize --tokenizer "$T/both" --text "<stepX>")" = "[4]" ] ||
  fail "a folder with both files must read tokenizer.json"
# A tokenizer.model path works directly, with the configuration beside it.
[ "$("$PRMEVAL" tokenize --tokenizer "$T/mathshepherd/tokenizer.model" --text "a" --add-special)" = \
  "$("$PRMEVAL" tokenize --tokenizer "$T/mathshepherd" --text "a" --add-special)" ] ||
  fail "tokenizer.model path and folder differ"
# Unsupported: a Unigram model, another tokenizer class; a folder without a tokenizer.
spm_model_unigram="$T/unigram"
mkdir -p "$spm_model_unigram"
$PY - "$MODEL" "$spm_model_unigram/tokenizer.model" <<'EOF'
import sys
from sentencepiece import sentencepiece_model_pb2 as pb
m = pb.ModelProto(); m.ParseFromString(open(sys.argv[1], "rb").read())
m.trainer_spec.model_type = 1
open(sys.argv[2], "wb").write(m.SerializeToString())
EOF
set +e
msg=$("$PRMEVAL" tokenize --tokenizer "$spm_model_unigram" --text a 2>&1); rc=$?
[ $rc -eq 3 ] && [[ "$msg" == *"model_type is Unigram"* ]] || fail "Unigram: rc $rc: $msg"
mkdir -p "$T/t5" && cp "$MODEL" "$T/t5/tokenizer.model" && echo '{"tokenizer_class": "T5Tokenizer"}' > "$T/t5/tokenizer_config.json"
msg=$("$PRMEVAL" tokenize --tokenizer "$T/t5" --text a 2>&1); rc=$?
[ $rc -eq 3 ] && [[ "$msg" == *"T5Tokenizer"* ]] || fail "T5 class: rc $rc: $msg"
mkdir -p "$T/empty"
msg=$("$PRMEVAL" tokenize --tokenizer "$T/empty" --text a 2>&1); rc=$?
[ $rc -eq 4 ] && [[ "$msg" == *"no tokenizer.json or tokenizer.model"* ]] || fail "empty: rc $rc: $msg"
set -e
finish "all tokenizer.model checks passed"
