# labels: mpi
# Model sanity (issue 13, item 2; docs/run.md "Model sanity"): a NaN or an
# infinity in any weight the run uses is exit 3 naming the file and the tensor;
# weights that overflow the forward pass give non-finite rewards, which are
# exit 3 naming the sample, never NaN labels; ranks that load model files
# with different contents (node-local copies) stop with exit 6 naming the
# ranks, while identical copies at other paths run. (A file truncated under
# the mapping: tests/unit/test_map_guard.c.)
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
cd "$T" || exit 1

tiny() {  # dir seed
  tiny_model "$1" qwen-prm "$2" 1 || { echo "FAIL: tiny-model"; exit 1; }
}
# set_tensor <model dir> <tensor> <python expression for every f32 element>
set_tensor() {
  "$PY" - "$1/model.safetensors" "$2" "$3" <<'PY'
import json, struct, sys
path, name, value = sys.argv[1], sys.argv[2], float(sys.argv[3])
b = bytearray(open(path, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
t = json.loads(b[8:8 + n])[name]
assert t["dtype"] == "F32", t["dtype"]
lo, hi = t["data_offsets"]
for off in range(8 + n + lo, 8 + n + hi, 4):
    b[off:off + 4] = struct.pack("<f", value)
open(path, "wb").write(bytes(b))
PY
}
job() {  # name model
  cat > "$1.json" <<EOF
{"model": "$2", "family": "qwen-prm", "data": "$PRMEVAL_SRC/data/prmbench", "output": "$1.h5",
 "backend": "cpu", "max_tokens": 96, "limit": 64}
EOF
}

# 1. a NaN in one weight: named before any forward pass
tiny nan 1
set_tensor nan model.layers.0.mlp.up_proj.weight nan
job nan nan
expect "NaN weight" 3 "nan/model.safetensors: tensor 'model.layers.0.mlp.up_proj.weight' holds a NaN or infinity" \
  "$PRMEVAL" run nan.json --quiet
[ -e nan.h5 ] && fail "NaN weight: a results file was written"

# 2. finite weights that overflow: +-3e38 in the score head's first layer give
#    infinite hidden values and NaN logits: named by sample, no results
tiny big 1
set_tensor big score.0.weight 3e38
job big big
expect "overflowing weights" 3 "\(sample [^)]*\): the model gave a non-finite reward" "$PRMEVAL" run big.json --quiet
[ -e big.h5 ] && fail "overflowing weights: a results file was written"

# 3. ranks with different model contents: exit 6 naming rank 1; identical copies at other paths run
tiny m0 1
tiny m1 2
cp -r m0 m0copy
touch -d '2001-01-01' m0copy/*   # other times and paths: the same contents
job ranks m0
# the model key per rank (node-local copies): rank k gets the k-th folder
cat > per_rank.sh <<'SH'
a=("$@")
exec "$PRMEVAL" run ranks.json --quiet --set model="${a[$OMPI_COMM_WORLD_RANK]}"
SH
per_rank() { echo mpirun -np 2 --oversubscribe bash per_rank.sh "$@"; }
expect "ranks with different models" 6 "ranks 1 loaded model files whose contents differ from rank 0" $(per_rank m0 m1)
expect "ranks with identical copies" 0 "^done: " $(per_rank m0 m0copy)
# a SentencePiece tokenizer.model (Math-Shepherd's layout) that differs between copies is seen too
cp -r m0 m0spm
printf 'one' > m0/tokenizer.model; printf 'two' > m0spm/tokenizer.model
expect "ranks whose tokenizer.model differs" 6 "ranks 1 loaded model files whose contents differ from rank 0" \
  $(per_rank m0 m0spm)
rm -f m0/tokenizer.model

finish "all model sanity checks passed"
