#!/usr/bin/env bash
# labels: fuzz
# Hostile SentencePiece tokenizer.model files (tests/corpus/bad_spm, written by
# its make_corpus.py): each must make `prmeval tokenize` exit 3 (malformed
# input) with a message naming the file and the protobuf field at fault, fast,
# and with no sanitizer report (runs in the sanitizer build too). The same
# files inside a checkpoint folder (no tokenizer.json) must fail `prmeval
# tokenize --tokenizer DIR` the same way, and an endless file is refused
# after reading the 64 MB bound. Malformed tokenizer_config.json and
# special_tokens_map.json beside a good model: exit 3 naming the file and key.
# EXPECT lists "file<TAB>regex the message must match".
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
corpus="$PRMEVAL_SRC/tests/corpus/bad_spm"
n=0

# expect_bad <what> <regex for stderr> <want exit> <prmeval args...>: within 60 s
expect_bad() { n=$((n + 1)); refused "$1" "$3" "$2" timeout 60 "$PRMEVAL" "${@:4}"; }

count=0
while IFS=$'\t' read -r file pattern; do
  [ -n "$file" ] || continue
  count=$((count + 1))
  expect_bad "$file" "$pattern" 3 tokenize --tokenizer "$corpus/$file" --text "hello world"
  d="$PRMEVAL_TMP/dir_${file%.model}"
  mkdir -p "$d" && cp "$corpus/$file" "$d/tokenizer.model"
  expect_bad "$file in a folder" "dir_${file%.model}/tokenizer\.model${pattern#*'\.model'}" 3 \
    tokenize --tokenizer "$d" --text "hello world"
done <"$corpus/EXPECT"
[ "$count" -ge 16 ] || fail "EXPECT lists only $count files"
# Every corpus file is listed (a new one without an expectation is a mistake).
for f in "$corpus"/*.model; do
  grep -q "^$(basename "$f")	" "$corpus/EXPECT" || fail "$(basename "$f") is not in EXPECT"
done
# Hostile configuration files beside a good model: exit 3 naming the file and key.
good="$PRMEVAL_SRC/tests/data/spm/prmbench_bpe640.model"
cfg_case() {  # name file content regex
  local d="$PRMEVAL_TMP/cfg_$1"
  mkdir -p "$d" && cp "$good" "$d/tokenizer.model"
  printf '%s' "$3" > "$d/$2"
  expect_bad "$2: $1" "$4" 3 tokenize --tokenizer "$d" --text "hello"
}
cfg_case bool_type tokenizer_config.json '{"add_bos_token": "yes"}' \
  'tokenizer_config\.json: "add_bos_token": expected true, false or null'
cfg_case token_type tokenizer_config.json '{"bos_token": 5}' 'tokenizer_config\.json: "bos_token": expected a token'
cfg_case token_no_content tokenizer_config.json '{"eos_token": {"lstrip": true}}' \
  'tokenizer_config\.json: "eos_token": a token object needs a string "content"'
cfg_case empty_token tokenizer_config.json '{"unk_token": ""}' 'tokenizer_config\.json: "unk_token": the token is empty'
cfg_case decoder_key tokenizer_config.json '{"added_tokens_decoder": {"abc": {"content": "x"}}}' \
  'tokenizer_config\.json: "added_tokens_decoder\["abc"\]": the key must be a token id'
cfg_case decoder_huge tokenizer_config.json '{"added_tokens_decoder": {"99999999999": {"content": "x"}}}' \
  'the key must be a token id from 0 to 2\^24-1'
cfg_case class_type tokenizer_config.json '{"tokenizer_class": ["LlamaTokenizer"]}' \
  'tokenizer_config\.json: "tokenizer_class": expected a string'
cfg_case dup_key tokenizer_config.json '{"bos_token": "<s>", "bos_token": "</s>"}' \
  'tokenizer_config\.json.*bos_token.* appears twice'
cfg_case not_object special_tokens_map.json '[1, 2]' 'special_tokens_map\.json: expected a JSON object'
cfg_case truncated special_tokens_map.json '{"bos_token": ' 'special_tokens_map\.json:1:[0-9]+:'
cfg_case extra_null special_tokens_map.json '{"additional_special_tokens": [null]}' \
  'special_tokens_map\.json: "additional_special_tokens\[0\]": expected a token, not null'
# Generated (too large for the corpus): long pieces nested into each other
# ("a", "aa", ... 3000 a's: 9e9 steps to find their splits) are refused at the
# 2^30 bound; 8.4 million merges of short pieces at the 2^22 bound; 200000
# USER_DEFINED pieces (added tokens) load in seconds, not quadratic time
# ("▁" is no piece and there are no byte pieces: unk 0, then "a", then the token).
"$PY" - "$PRMEVAL_TMP" <<'PY'
import sys
def varint(v):
    out = b""
    while True:
        c = v & 0x7F; v >>= 7
        out += bytes([c | (0x80 if v else 0)])
        if not v: return out
def piece(t, typ=1):
    body = b"\x0a" + varint(len(t)) + t + (b"\x18" + varint(typ) if typ != 1 else b"")
    return b"\x0a" + varint(len(body)) + body
head = piece(b"<unk>", 2) + piece(b"<s>", 3) + piece(b"</s>", 3)
bpe = b"\x12\x02\x18\x02"
open(sys.argv[1] + "/nested.model", "wb").write(head + b"".join(piece(b"a" * k) for k in range(1, 3001)) + bpe)
# every string of 1 to 18 letters over {a, b}: each splits into two of them in
# all its places, 8.4 million merges from 2^19 short pieces
ab = [b"a", b"b"]
allw, level = [], ab
for _ in range(18):
    allw += level
    level = [w + c for w in level for c in ab]
open(sys.argv[1] + "/merges.model", "wb").write(head + b"".join(piece(w) for w in allw) + bpe)
open(sys.argv[1] + "/user_defined.model", "wb").write(
    head + b"".join(piece(b"<u%d>" % i, 4) for i in range(200000)) + piece(b"a") + bpe)
PY
expect_bad "nested pieces" "nested\.model: pieces too long to convert" 3 tokenize --tokenizer "$PRMEVAL_TMP/nested.model" --text a
expect_bad "8.4 million merges" "merges\.model: more than 2\^22 BPE merges" 3 \
  tokenize --tokenizer "$PRMEVAL_TMP/merges.model" --text a
n=$((n + 1))
start=$SECONDS
out=$(timeout 60 "$PRMEVAL" tokenize --tokenizer "$PRMEVAL_TMP/user_defined.model" --text "a<u199999>" 2>&1)
if [ "$out" = "[0,200003,200002]" ] && [ $((SECONDS - start)) -lt 30 ]; then
  echo "ok   200000 USER_DEFINED pieces: $out in $((SECONDS - start)) s"
else
  fail "200000 USER_DEFINED pieces: '$out' after $((SECONDS - start)) s"
fi
ln -sf /dev/zero "$PRMEVAL_TMP/zero.model"
expect_bad "endless tokenizer.model" "zero\.model: larger than 64 MB" 3 tokenize --tokenizer "$PRMEVAL_TMP/zero.model" --text a
finish "$n hostile tokenizer.model cases checked"
