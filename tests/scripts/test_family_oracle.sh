# labels: nosan
# The committed oracle renderings (tests/data/family_render.jsonl) are what
# tests/js/family_oracle.mjs produces now with the real tokenizer.json files
# and chat templates: re-run the oracle and compare. Skipped without npm deps.
set -euo pipefail
mkdir -p "$PRMEVAL_TMP"
cd "$PRMEVAL_SRC"
command -v node >/dev/null || { echo "node missing: skipped"; exit 77; }
[ -d tests/js/node_modules/@lenml/tokenizers ] || { echo "tests/js/node_modules missing: skipped"; exit 77; }
node tests/js/family_oracle.mjs data/subset400.jsonl 3 "$PRMEVAL_TMP/oracle"
cmp "$PRMEVAL_TMP/oracle/render.jsonl" tests/data/family_render.jsonl
echo "oracle renderings unchanged"
