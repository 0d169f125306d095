# labels: nosan
# The tokenizer.json files of every tiny-model family load in @lenml/tokenizers
# (the JavaScript port of Hugging Face's tokenizers) and tokenize as their
# style should (tests/js/check_tiny_tokenizer.mjs). Skipped (77) without the
# npm packages: run `cd tests/js && npm ci` first.
set -euo pipefail
js="$PRMEVAL_SRC/tests/js"
if ! command -v node >/dev/null || [ ! -d "$js/node_modules/@lenml/tokenizers" ]; then
    echo "skipped: node or tests/js/node_modules missing (cd tests/js && npm ci)"
    exit 77
fi
mkdir -p "$PRMEVAL_TMP"
for f in qwen-prm skywork math-shepherd rlhflow; do
    d="$PRMEVAL_TMP/$f"
    rm -rf "$d"
    "$PRMEVAL" tiny-model "$d" --family "$f" --seed 3 2>/dev/null
    (cd "$js" && node check_tiny_tokenizer.mjs "$f" "$d")
done
