#!/usr/bin/env bash
# Regenerates the two SentencePiece BPE models of the tokenizer.model tests
# with Debian's sentencepiece tools (spm_train 0.1.97), trained on every 4th
# distinct PRMBench text (tests/js/prmbench_texts.mjs --unique), with the
# settings of Llama-2/Mistral's tokenizer.model: BPE, byte fallback, digits
# split, identity normalization, whitespace kept, dummy prefix.
#   prmbench_bpe4k.model: 4000 pieces, plus a user-defined symbol <step>
#     (USER_DEFINED: a non-special added token) and a control symbol <ctrl>;
#   prmbench_bpe640.model: 640 pieces, small enough for `prmeval tiny-model
#     --family math-shepherd` (vocab_size 640) in the end-to-end test.
# usage: tests/data/spm/make_models.sh   (from the repository root; needs node)
set -euo pipefail
out=tests/data/spm
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
node tests/js/prmbench_texts.mjs --unique data/prmbench/*.jsonl > "$tmp/texts.jsonl"
/usr/bin/python3 -c '
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as o:
    for i, line in enumerate(f):
        if i % 4 == 0:
            o.write(json.loads(line) + "\n")
' "$tmp/texts.jsonl" "$tmp/corpus.txt"
common=(--input="$tmp/corpus.txt" --model_type=bpe --character_coverage=0.9995 --byte_fallback=true
        --split_digits=true --normalization_rule_name=identity --remove_extra_whitespaces=false
        --add_dummy_prefix=true --allow_whitespace_only_pieces=true --unk_id=0 --bos_id=1 --eos_id=2
        --pad_id=-1 --max_sentence_length=16384 --num_threads=2 --minloglevel=1)
spm_train "${common[@]}" --model_prefix="$tmp/bpe4k" --vocab_size=4000 --user_defined_symbols='<step>' \
    --control_symbols='<ctrl>'
spm_train "${common[@]}" --model_prefix="$tmp/bpe640" --vocab_size=640
cp "$tmp/bpe4k.model" "$out/prmbench_bpe4k.model"
cp "$tmp/bpe640.model" "$out/prmbench_bpe640.model"
