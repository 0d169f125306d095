#!/usr/bin/env bash
# Issue 4 item 5: prmeval's CUDA backend against Hugging Face transformers on one
# GPU, side by side in one run: a Qwen2.5-Math-PRM-7B-shaped model with random
# bf16 weights (generated here, on the GPU machine), the whole PRMBench with
# qwen-prm prompts. Prints tokens/s, MFU against the dense bf16 peak, and the
# speed-ups (targets: MFU >= 50%, >= 3x the reference setting, >= 1.5x the best).
# NOT RUN YET: written on a machine without a GPU; needs the tokenizer
# (Qwen2.5 tokenizer.json, for the prompts' token ids) and `prmeval run` with the
# engine from other branches. Usage: bash bench/bench_gpu.sh TOKENIZER_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
TOK_DIR=${1:?usage: bench/bench_gpu.sh QWEN25_TOKENIZER_DIR}
BUILD=${BUILD:-build-gpu}
WORK=${WORK:-$BUILD/bench}
PY=${PY:-python3}
mkdir -p "$WORK"

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPRMEVAL_CUDA=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
case "$GPU" in   # dense (no sparsity) bf16 tensor-core peaks, TFLOP/s
  *H200*) PEAK=989 ;; *H100*PCIe*) PEAK=756 ;; *H100*) PEAK=989 ;; *A100*) PEAK=312 ;;
  *) echo "unknown GPU '$GPU': set PEAK (dense bf16 TFLOP/s)"; PEAK=${PEAK:?} ;;
esac

[ -f "$WORK/prm7b/config.json" ] || "$PY" bench/hf_baseline.py make-model "$WORK/prm7b"
cp "$TOK_DIR"/tokenizer.json "$TOK_DIR"/tokenizer_config.json "$WORK/prm7b/"

# The same token ids for both sides: qwen-prm prompts of every PRMBench sample, cut at 2048.
"$BUILD/prmeval" tokenize --family qwen-prm --model "$WORK/prm7b" --data data/prmbench \
    --format jsonl --out "$WORK/tokens.jsonl"

# Wall time of the whole run, weight loading included (this favours transformers,
# whose timing below starts after loading); replace by the run's own scoring time
# once the CLI reports one.
t0=$(date +%s.%N)
"$BUILD/prmeval" run --model "$WORK/prm7b" --family qwen-prm --backend cuda --data data/prmbench \
    --out "$WORK/prmeval.h5" > "$WORK/prmeval.log"
t1=$(date +%s.%N)
"$PY" bench/hf_baseline.py hf "$WORK/tokens.jsonl" "$WORK/prm7b" > "$WORK/hf.jsonl"
FLOPS=$("$PY" bench/hf_baseline.py flops "$WORK/tokens.jsonl")

"$PY" - "$WORK/tokens.jsonl" "$WORK/hf.jsonl" "$t0" "$t1" "$FLOPS" "$PEAK" "$GPU" <<'PYEOF'
import json, sys
toks, hf, t0, t1, flops, peak, gpu = sys.argv[1:]
ntok = sum(len(json.loads(l)["tokens"]) for l in open(toks))
rows = [("prmeval cuda (packed)", ntok, float(t1) - float(t0))]
rows += [(r["setting"], r["tokens"], r["seconds"]) for r in map(json.loads, open(hf)) if "seconds" in r]
print(f"GPU: {gpu}; {ntok} tokens; model FLOPs {float(flops):.4g}; dense bf16 peak {peak} TFLOP/s")
print(f"| setting | seconds | tokens/s | MFU | prmeval speed-up |")
print(f"|---|---|---|---|---|")
base = rows[0][2]
for name, n, s in rows:
    mfu = float(flops) / s / (float(peak) * 1e12)
    print(f"| {name} | {s:.1f} | {n / s:,.0f} | {100 * mfu:.1f}% | {s / base:.2f}x |")
PYEOF
