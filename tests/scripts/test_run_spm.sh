# `prmeval run` on checkpoints laid out as published without tokenizer.json:
#  - like Math-Shepherd (peiyi9979/math-shepherd-mistral-7b-prm): tokenizer.model
#    + tokenizer_config.json (older layout) + special_tokens_map.json;
#  - like the Llemma PRMs: no tokenizer at all, the job key "tokenizer" names
#    the folder of the base model's tokenizer (here the Math-Shepherd-like one).
# A tiny math-shepherd model (prmeval tiny-model) gets the test SentencePiece
# vocabulary (tests/data/spm/prmbench_bpe640.model, 640 pieces = the model's
# vocab_size). Its twin holds the tokenizer.json that the independent oracle
# (tests/oracle/spm_llama_convert.py) converts from the same folder: all three
# runs must give identical token ids (--dump-tokens) and bit-identical step
# rewards. Also: `inspect` on each layout, the missing-tokenizer message and
# exit code, and the job key in the results' provenance. And Skywork's BOS is
# the tokenizer's bos_token (tokenizer_config.json), not config.json's id.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
DATA="$PRMEVAL_SRC/data/subset400.jsonl"

base="$T/base"
tiny_model "$base" math-shepherd 5 1
grep -q '"vocab_size":[[:space:]]*640' "$base/config.json" || { echo "FAIL: tiny model vocab_size is not 640"; exit 1; }

ms="$T/math-shepherd-layout"
cp -r "$base" "$ms"
rm "$ms/tokenizer.json" "$ms/tokenizer_config.json"
cp "$PRMEVAL_SRC/tests/data/spm/prmbench_bpe640.model" "$ms/tokenizer.model"
cp "$PRMEVAL_SRC/tests/data/spm/math_shepherd_tokenizer_config.json" "$ms/tokenizer_config.json"
echo '{"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}' > "$ms/special_tokens_map.json"

twin="$T/tokenizer-json-twin"
cp -r "$ms" "$twin"
rm "$twin/tokenizer.model"
"$PY" "$PRMEVAL_SRC/tests/oracle/spm_llama_convert.py" "$ms" "$T/converted"
cp "$T/converted/tokenizer.json" "$twin/"

llemma="$T/llemma-layout"
cp -r "$base" "$llemma"
rm "$llemma/tokenizer.json" "$llemma/tokenizer_config.json"

# As published: Math-Shepherd's weights are two .bin shards with their index
# beside tokenizer.model; the Llemma PRMs' are .bin shards with no tokenizer.
# Written by Debian's torch.save (tests/oracle/torch_bin.py) from the same weights.
"$PY" "$PRMEVAL_SRC/tests/oracle/torch_bin.py" convert "$ms" "$T/ms-bin" --shards 2 >/dev/null
"$PY" "$PRMEVAL_SRC/tests/oracle/torch_bin.py" convert "$llemma" "$T/llemma-bin" --shards 2 >/dev/null
[ -f "$T/ms-bin/pytorch_model.bin.index.json" ] && [ -f "$T/ms-bin/tokenizer.model" ] &&
    [ ! -f "$T/ms-bin/model.safetensors" ] && [ ! -f "$T/llemma-bin/tokenizer.model" ] ||
    fail "the .bin layouts are not as published"

job() {  # name model [extra json]
    cat > "$T/$1.job.json" <<EOF
{"model": "$2", "family": "math-shepherd", "data": "$DATA", "output": "$T/$1.h5", "json": "$T/$1.json",
 "backend": "cpu", "max_tokens": 256, "token_budget": 4096, "limit": 20 ${3:-}}
EOF
}
job ms "$ms"
job twin "$twin"
job llemma "$llemma" ", \"tokenizer\": \"$ms\""
job msbin "$T/ms-bin"
job llemmabin "$T/llemma-bin" ", \"tokenizer\": \"$ms\""
for r in ms twin llemma msbin llemmabin; do
    prmeval_run "$T/$r.job.json" --quiet --dump-tokens "$T/$r.tokens" 2> "$T/$r.log" ||
        { cat "$T/$r.log"; fail "run $r"; }
done
[ -s "$T/ms.tokens" ] || fail "no tokens dumped"
cmp -s "$T/ms.tokens" "$T/twin.tokens" || fail "token ids of the tokenizer.model folder differ from its tokenizer.json twin"
cmp -s "$T/ms.tokens" "$T/llemma.tokens" || fail "token ids with the job key \"tokenizer\" differ"
for r in msbin llemmabin; do
    cmp -s "$T/ms.tokens" "$T/$r.tokens" || fail "$r: token ids differ"
    grep -q "PyTorch .bin, sharded" "$T/$r.log" || { cat "$T/$r.log"; fail "$r: the run does not say it read .bin shards"; }
    for g in /steps /samples /metrics; do
        h5diff "$T/ms.h5" "$T/$r.h5" "$g" >/dev/null || fail "$r: HDF5 $g differs from the safetensors run"
    done
done
"$PY" - "$T/ms.h5" "$T/twin.h5" "$T/llemma.h5" "$T/ms.tokens" <<'EOF' || fail "rewards differ"
import json, sys
import h5py, numpy as np
a, b, c = (h5py.File(p) for p in sys.argv[1:4])
sa, sb, sc = (f["steps/score"][:] for f in (a, b, c))
assert len(sa) > 50, f"only {len(sa)} step scores"
assert np.array_equal(sa.view(np.uint32) if sa.dtype == np.float32 else sa.view(np.uint64),
                      sb.view(np.uint32) if sb.dtype == np.float32 else sb.view(np.uint64)), "ms vs twin"
assert np.array_equal(sa, sc), "ms vs llemma"
assert np.all((sa > 0) & (sa < 1))
# every prompt starts with BOS <s> = 1 (add_bos_token) and the step tag's last id
# (encode("ки")[-1]) is where the rewards are read
n = 0
for line in open(sys.argv[4]):
    p = json.loads(line)
    assert p["ids"][0] == 1, p["ids"][:3]
    n += 1
print(f"ok: {len(sa)} step rewards bit-identical over 3 layouts, {n} prompts start with BOS")
EOF
"$PY" -c "
import h5py, json, sys
cfg = json.loads(h5py.File(sys.argv[1]).attrs['config_json'])
sys.exit(0 if cfg.get('tokenizer') == sys.argv[2] else 1)" "$T/llemma.h5" "$ms" || fail "job key \"tokenizer\" not in the HDF5 provenance"

# inspect: each layout, and what a folder without a tokenizer needs
"$PRMEVAL" inspect "$ms" --quiet > "$T/i.ms" || fail "inspect math-shepherd layout"
grep -q "folder holds *tokenizer.model, tokenizer_config.json, special_tokens_map.json" "$T/i.ms" ||
    fail "inspect: files held"; grep -q "as tokenizer.model (converted as LlamaConverter)" "$T/i.ms" || fail "inspect: read"
grep -q 'bos "<s>" (1)' "$T/i.ms" || fail "inspect: bos"
set +e
"$PRMEVAL" inspect "$llemma" --quiet > "$T/i.ll" 2> "$T/i.ll.err"; rc=$?
set -e
[ $rc -eq 4 ] || fail "inspect without tokenizer: exit $rc, want 4"
grep -q 'holds no tokenizer.json or tokenizer.model' "$T/i.ll.err" && grep -q 'job key "tokenizer"' "$T/i.ll.err" ||
    { cat "$T/i.ll.err"; fail "inspect without tokenizer: message"; }
grep -q "folder holds *no tokenizer files" "$T/i.ll" || fail "inspect without tokenizer: what it holds"
"$PRMEVAL" inspect "$llemma" --quiet --tokenizer "$ms/tokenizer.model" > "$T/i.ll2" || fail "inspect --tokenizer"
grep -q "(from --tokenizer)" "$T/i.ll2" || fail "inspect --tokenizer: source"
# run without the key: exit 4 and what to pass
set +e
prmeval_run "$T/llemma.job.json" --quiet --set tokenizer= --set output="$T/x.h5" \
    2> "$T/nokey.err"; rc=$?
prmeval_run "$T/llemma.job.json" --quiet --set tokenizer="$T/nope" --set output="$T/y.h5" \
    2> "$T/badkey.err"; rc2=$?
set -e
[ $rc -eq 4 ] && grep -q 'job key "tokenizer"' "$T/nokey.err" || { cat "$T/nokey.err"; fail "run without tokenizer: exit $rc"; }
[ $rc2 -eq 4 ] && grep -q 'key "tokenizer": .*nope' "$T/badkey.err" ||
    { cat "$T/badkey.err"; fail "run with a missing tokenizer path: exit $rc2"; }
# Skywork: BOS is the tokenizer's bos_token (tokenizer_config.json), as the
# reference writes tokenizer.bos_token + problem, not config.json's bos_token_id.
sky="$T/skywork"
tiny_model "$sky" skywork 5 1
want=$("$PRMEVAL" tokenize --tokenizer "$sky" --text '<|endoftext|>')
"$PY" - "$sky/config.json" <<'EOF2'
import json, sys
c = json.load(open(sys.argv[1])); c["bos_token_id"] = 7; json.dump(c, open(sys.argv[1], "w"))
EOF2
cat > "$T/sky.job.json" <<EOF2
{"model": "$sky", "family": "skywork", "data": "$DATA", "output": "$T/sky.h5", "backend": "cpu",
 "max_tokens": 256, "limit": 3}
EOF2
prmeval_run "$T/sky.job.json" --quiet --dump-tokens "$T/sky.tokens" 2> "$T/sky.log" ||
    { cat "$T/sky.log"; fail "skywork run"; }
first=$(head -1 "$T/sky.tokens" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["ids"][0])')
[ "[$first]" = "$want" ] || fail "skywork BOS is $first, want the tokenizer's bos_token $want (config.json says 7)"
# a bos_token that is not one token cannot be written as the reference writes it
"$PY" - "$sky/tokenizer_config.json" <<'EOF2'
import json, sys
c = json.load(open(sys.argv[1])); c["bos_token"] = "hello world"; json.dump(c, open(sys.argv[1], "w"))
EOF2
set +e
prmeval_run "$T/sky.job.json" --quiet --set output="$T/sky2.h5" 2> "$T/sky2.err"; rc=$?
set -e
[ $rc -eq 3 ] && grep -q "bos_token \"hello world\" .* encodes to [0-9]* tokens, expected 1" "$T/sky2.err" ||
    { cat "$T/sky2.err"; fail "skywork multi-token bos_token: exit $rc"; }

finish "tokenizer.model layouts: all checks passed"
