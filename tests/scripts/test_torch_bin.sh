# labels: fuzz
# PyTorch .bin checkpoints (docs/checkpoints.md), against Debian's PyTorch:
#  - tiny models of each family (f32, bf16, f16) are written as .bin by
#    torch.save (tests/oracle/torch_bin.py), single and in 3 shards with an
#    index, with shared storages (a tied LM head stored under two names, q/k/v
#    and gate/up as views at offsets of one storage); `prmeval run` on them
#    gives the same HDF5 /steps, /samples and /metrics, bit for bit, as on the
#    same weights in model.safetensors, and run and inspect name the layout;
#  - a corpus of hostile .bin files (a pickle calling os.system, unknown
#    globals, storage offsets past the end, huge sizes, a truncated zip, a zip
#    bomb, memo cycles, non-contiguous strides, ...) each end with exit 3 and
#    a message naming the file and the fault, nothing executed, no sanitizer
#    report.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
CONV="$PRMEVAL_SRC/tests/oracle/torch_bin.py"
DATA="$PRMEVAL_SRC/data/subset400.jsonl"
LIMIT=3

run_model() {  # family model out
    cat > "$3.job.json" <<EOF
{"model": "$2", "family": "$1", "data": "$DATA", "output": "$3.h5", "backend": "cpu",
 "max_tokens": 256, "token_budget": 4096, "limit": $LIMIT}
EOF
    prmeval_run "$3.job.json" --quiet 2> "$3.log"
}

same_results() {  # a.h5 b.h5: /steps scores equal as bits, and not all one value
    "$PY" - "$1" "$2" <<'EOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1]) as a, h5py.File(sys.argv[2]) as b:
    sa, sb = a["steps/score"][:], b["steps/score"][:]
    assert len(sa) > 10 and len(np.unique(sa)) > 3, f"too few distinct scores: {sa[:10]}"
    assert sa.dtype == sb.dtype and np.array_equal(sa.view(np.uint8), sb.view(np.uint8)), "scores differ"
EOF
}

for spec in "qwen-prm f32" "skywork bf16" "math-shepherd f16" "rlhflow bf16"; do
    set -- $spec
    fam=$1 dt=$2
    m="$T/$fam"
    before=$fails
    tiny_model "$m" "$fam" 3 2 --dtype "$dt"
    tie=""
    [ "$fam" = skywork ] && tie="--tie"   # its config ties the LM head to the embedding
    "$PY" "$CONV" convert "$m" "$m.bin1" --fuse $tie
    "$PY" "$CONV" convert "$m" "$m.bin3" --shards 3 --fuse $tie
    run_model "$fam" "$m" "$m.st" || { cat "$m.st.log"; fail "$fam: safetensors run"; continue; }
    for v in bin1 bin3; do
        if ! run_model "$fam" "$m.$v" "$m.$v.r"; then
            cat "$m.$v.r.log"
            fail "$fam $dt $v: run"
            continue
        fi
        for g in /steps /samples /metrics; do
            h5diff "$m.st.h5" "$m.$v.r.h5" "$g" >/dev/null || fail "$fam $dt $v: HDF5 $g differs from safetensors"
        done
        same_results "$m.st.h5" "$m.$v.r.h5" || fail "$fam $dt $v: step scores differ from safetensors"
    done
    grep -q "^run: .*safetensors (model.safetensors)" "$m.st.log" || fail "$fam: run does not name the safetensors layout"
    grep -q "^run: .*PyTorch .bin (pytorch_model.bin)" "$m.bin1.r.log" || fail "$fam: run does not name the .bin layout"
    grep -q "^run: .*PyTorch .bin, sharded (pytorch_model.bin.index.json, 3 files)" "$m.bin3.r.log" ||
        fail "$fam: run does not name the sharded .bin layout"
    # inspect: the layout, and the same parameter count and dtypes as the safetensors.
    "$PRMEVAL" inspect "$m" --quiet > "$m.st.txt"
    "$PRMEVAL" inspect "$m.bin3" --quiet > "$m.bin3.txt"
    grep -q '^layout: PyTorch .bin, sharded (pytorch_model.bin.index.json, 3 files)$' "$m.bin3.txt" ||
        fail "$fam: inspect does not name the layout"
    [ "$(grep -E '^(parameters|dtypes|heads|family)' "$m.st.txt")" = \
      "$(grep -E '^(parameters|dtypes|heads|family)' "$m.bin3.txt")" ] || fail "$fam: inspect summaries differ"
    [ "$fails" = "$before" ] && echo "$fam ($dt): .bin single and sharded give the safetensors' results bit for bit"
done

# Where both are there, safetensors is read (transformers' preference).
cp "$T/qwen-prm.bin1/pytorch_model.bin" "$T/qwen-prm/"
"$PRMEVAL" inspect "$T/qwen-prm" --quiet | grep -q '^layout: safetensors (model.safetensors)$' ||
    fail "safetensors is not preferred over pytorch_model.bin"

# Hostile files: each as the pytorch_model.bin of a folder with a valid config.
"$PY" "$CONV" hostile "$T/hostile"
rm -f /tmp/prmeval_pwned
n=0
while read -r case msg; do
    d="$T/h_$case"
    mkdir -p "$d"
    cp "$T/qwen-prm/config.json" "$d/"
    cp "$T/hostile/$case.bin" "$d/pytorch_model.bin"
    set +e
    timeout 30 "$PRMEVAL" inspect "$d" > /dev/null 2> "$d/err"
    rc=$?
    set -e
    n=$((n + 1))
    if [ "$rc" != 3 ]; then fail "hostile $case: exit $rc, expected 3"; cat "$d/err"; continue; fi
    grep -q "$d/pytorch_model.bin: " "$d/err" || { fail "hostile $case: message does not name the file"; cat "$d/err"; }
    grep -qF -- "$msg" "$d/err" || { fail "hostile $case: message lacks '$msg'"; cat "$d/err"; }
    if grep -qE 'Sanitizer|runtime error:' "$d/err"; then fail "hostile $case: sanitizer report"; cat "$d/err"; fi
    [ "$(wc -l < "$d/err")" = 1 ] || { fail "hostile $case: not one line"; cat "$d/err"; }
done < "$T/hostile/EXPECT"
[ ! -e /tmp/prmeval_pwned ] || fail "the os.system pickle was executed"
[ "$n" -ge 25 ] || fail "only $n hostile cases"
echo "hostile .bin files: $n refused with exit 3"

# A hostile shard behind an index, through `prmeval run`.
h="$T/qwen-prm.bin3"
cp "$T/hostile/os_system.bin" "$h/pytorch_model-00002-of-00003.bin"
set +e
run_model qwen-prm "$h" "$T/hostile_run"
rc=$?
set -e
[ "$rc" = 3 ] || fail "run with a hostile shard: exit $rc, expected 3"
grep -q "pytorch_model-00002-of-00003.bin: archive/data.pkl: opcode GLOBAL .* 'posix.system' is not allowed" \
    "$T/hostile_run.log" || { fail "run with a hostile shard: message"; cat "$T/hostile_run.log"; }

finish "torch .bin: all checks passed"
