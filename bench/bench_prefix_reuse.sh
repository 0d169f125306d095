#!/usr/bin/env bash
# Prefix reuse (issue 12) on the CPU: the same `prmeval run` job with and
# without prefix_reuse, side by side in one run, on a Qwen2.5-0.5B-shaped random
# model (hidden 896, 24 layers, 14/2 heads, head_dim 64, FFN 4864, bf16 file,
# fp32 compute) with the real Qwen2.5 vocabulary + "<extra_0>"
# (bench/fetch_bench_tokenizer.sh), qwen-prm prompts, the first LIMIT problems
# of PRMBench (data/prmbench). The two run alternately REPEAT times each (off,
# on, off, on, ...); prints for each: tokens computed / prompt tokens, the best
# scoring loop's seconds (/timing: tokenizing, scheduling, forward) and the best
# wall time of the command; then the ratios (issue 12's goals: at most 0.65 of the
# prompt tokens on the full benchmark, at least 1.45x faster) and the largest
# relative difference of the rewards (the design bound: 1e-5).
# Then (FULL=1) the token ratio on the whole benchmark: the same job on a
# 1-layer model of the same vocabulary (the schedule depends on the token ids
# only, not on the model's size), run with reuse.
#   bash bench/bench_prefix_reuse.sh [LIMIT] [THREADS]   (defaults: 5, nproc)
# LIMIT 5: the first 5 problems share prefixes as the whole benchmark does (0.621
# of their prompt tokens computed with reuse, 0.626 on the whole benchmark); the
# first 3 share less (0.661), the first 10 more (0.578).
# Environment: REPEAT (2), FULL (1; 0 skips the whole-benchmark ratio), BUILD (build),
# WORK ($BUILD/bench-prefix: the model is generated once and kept there).
# Needs build/ (cmake -S . -B build && cmake --build build), /usr/bin/python3
# with h5py, and .benchtok/ (bash bench/fetch_bench_tokenizer.sh; it runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${1:-5}
threads=${2:-$(nproc)}
build=${BUILD:-build}
work=${WORK:-$build/bench-prefix}
full=${FULL:-1}
repeat=${REPEAT:-2}
bin="$build/prmeval"
[ -x "$bin" ] || { echo "no $bin: build first (cmake -S . -B build && cmake --build build)" >&2; exit 2; }
export PRMEVAL_BLAS_MODULE="$(cd "$build" && pwd)/libprmeval_blas.so"
[ -f .benchtok/tokenizer.json.gz ] || bash bench/fetch_bench_tokenizer.sh >/dev/null
mkdir -p "$work/tok"
gzip -dc .benchtok/tokenizer.json.gz > "$work/tok/tokenizer.json"
m="$work/qwen-0.5b"
if [ ! -f "$m/model.safetensors" ]; then
    echo "generating the model in $m (once) ..."
    "$bin" tiny-model "$m" --family qwen-prm --seed 1 --dtype bf16 --layers 24 --hidden 896 --heads 14 \
        --kv-heads 2 --ffn 4864 --tokenizer "$work/tok" 2>/dev/null
fi
cat > "$work/job.json" <<EOF
{"model": "qwen-0.5b", "family": "qwen-prm", "data": "$PWD/data/prmbench", "output": "unset.h5",
 "backend": "cpu", "limit": $limit, "progress_interval": 30}
EOF

echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores visible; threads $threads"
echo "model: Qwen2.5-0.5B shape (hidden 896, 24 layers, 14/2 heads, head_dim 64, FFN 4864), real Qwen2.5 vocabulary"
echo "job: qwen-prm, first $limit problems of PRMBench, max_tokens 2048, token_budget 16384 (the defaults)"
now() { date +%s.%N; }
runone() {  # name reuse
    local t0 t1
    echo "load average before '$1': $(cut -d' ' -f1-3 /proc/loadavg)"
    t0=$(now)
    OMP_NUM_THREADS=$threads PRMEVAL_MPI=0 "$bin" run "$work/job.json" --quiet --set output="$work/$1.h5" \
        --set prefix_reuse="$2" 2> "$work/$1.log" || { cat "$work/$1.log"; exit 1; }
    t1=$(now)
    awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.2f\n", a - b }' > "$work/$1.wall"
}
for i in $(seq 1 "$repeat"); do
    runone "off$i" false
    runone "on$i" true
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$work" "$repeat" <<'PY'
import sys
import h5py, numpy as np
w, repeat = sys.argv[1], int(sys.argv[2])
r = {}
for name in ("off", "on"):
    runs = []
    for i in range(1, repeat + 1):
        with h5py.File(f"{w}/{name}{i}.h5") as f:
            t = f["timing"]
            runs.append(dict(tokens=int(t["tokens"][:].sum()), prompt=int(t["prompt_tokens"][:].sum()),
                             loop=float(t["seconds"][:].max()), wall=float(open(f"{w}/{name}{i}.wall").read()),
                             score=f["steps/score"][:], label=f["steps/label"][:], n=len(f["samples/key"])))
    r[name] = x = dict(runs[0], loop=min(u["loop"] for u in runs), wall=min(u["wall"] for u in runs))
    print(f"prefix_reuse {name:3}: scoring loops " + ", ".join(f"{u['loop']:.1f}" for u in runs) + " s; walls "
          + ", ".join(f"{u['wall']:.1f}" for u in runs) + " s")
    print(f"prefix_reuse {name:3}: {x['tokens']:8d} of {x['prompt']:8d} prompt tokens computed "
          f"({x['tokens'] / x['prompt']:.3f}); best scoring loop {x['loop']:7.1f} s; best wall {x['wall']:7.1f} s "
          f"({x['n']} prompts)")
a, b = r["off"], r["on"]
scale = np.maximum(np.abs(a["score"]), np.abs(b["score"]))
rel = float((np.abs(a["score"] - b["score"]) / np.where(scale > 0, scale, 1)).max())
print(f"tokens computed, with / without reuse: {b['tokens'] / a['tokens']:.3f}")
print(f"speed-up (without / with reuse): scoring loop {a['loop'] / b['loop']:.2f}x, wall {a['wall'] / b['wall']:.2f}x")
print(f"rewards: max relative difference {rel:.2e}; labels {'identical' if np.array_equal(a['label'], b['label']) else 'DIFFER'}")
PY

if [ "$full" = 1 ]; then
    m1="$work/qwen-1layer"
    [ -f "$m1/model.safetensors" ] || "$bin" tiny-model "$m1" --family qwen-prm --seed 1 --layers 1 --hidden 32 \
        --heads 2 --kv-heads 1 --ffn 64 --tokenizer "$work/tok" 2>/dev/null
    OMP_NUM_THREADS=$threads PRMEVAL_MPI=0 "$bin" run "$work/job.json" --quiet --set model="$m1" --set limit=0 \
        --set output="$work/full.h5" 2> "$work/full.log" || { cat "$work/full.log"; exit 1; }
    /usr/bin/python3 - "$work/full.h5" <<'PY'
import sys
import h5py
with h5py.File(sys.argv[1]) as f:
    t, run = f["timing"], f["run"].attrs
    tok, prompt = int(t["tokens"][:].sum()), int(t["prompt_tokens"][:].sum())
    print(f"whole benchmark ({len(f['samples/key'])} prompts, {int(run['tokens'])} tokens after the cut, "
          f"{prompt} in prompts with read-outs): {tok} computed with reuse = {tok / prompt:.3f} of the prompt "
          f"tokens (goal: at most 0.65)")
PY
fi
