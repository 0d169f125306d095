#!/usr/bin/env bash
# Issue 4, item 4, in one go on a GPU machine (H100/H200):
#   1. build with CUDA (sm_80 + sm_90), 2. every kernel against its C reference,
#   3. the whole test suite, 4. whole-model rewards against the CPU backend and
#   against Hugging Face transformers (tiny and Qwen2.5-0.5B-shaped random models).
# Steps 4a-4c need pieces from other branches (tiny-model generator, CPU
# backend, a reward dump from the engine); until they exist they are reported
# as SKIPPED, never as passed. Exit status: 0 only if nothing failed.
# NOT RUN YET: written on a machine without a GPU.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build-gpu}
OUT=${OUT:-$BUILD/gpu-checks}
PY=${PY:-python3}
mkdir -p "$OUT"
fail=0
step() { echo; echo "== $*"; }

step "GPU"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || { echo "no nvidia-smi: not a GPU machine"; exit 1; }

step "1. build (CUDA ON)"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPRMEVAL_CUDA=ON >/dev/null && cmake --build "$BUILD" -j"$(nproc)" \
    || { echo "FAILED: build"; exit 1; }

step "2. kernels against the C references (poisoned outputs)"
"$BUILD"/tests/test_cuda_kernels | tee "$OUT/kernels.txt"
rc=${PIPESTATUS[0]}
if [ "$rc" -eq 77 ]; then echo "FAILED: the kernel test skipped on a GPU machine"; fail=1
elif [ "$rc" -ne 0 ]; then echo "FAILED: kernel test"; fail=1; fi

step "3. whole test suite (release build)"
(cd "$BUILD" && ctest --output-on-failure -j"$(nproc)") | tail -20 || fail=1

PRMEVAL="$BUILD/prmeval"
step "4a. random models: tiny and Qwen2.5-0.5B-shaped"
if "$PRMEVAL" tiny-model --help >/dev/null 2>&1; then
    # The generator's options come from the tiny-model branch; shapes of Qwen2.5-0.5B:
    # 24 layers, hidden 896, 14 heads / 2 kv heads, FFN 4864, vocab 151936, qwen-prm head.
    "$PRMEVAL" tiny-model --out "$OUT/tiny" --family qwen-prm || fail=1
    "$PRMEVAL" tiny-model --out "$OUT/q05" --family qwen-prm --layers 24 --hidden 896 --heads 14 \
        --kv-heads 2 --ffn 4864 --vocab 151936 || fail=1
else
    echo "SKIPPED: 'prmeval tiny-model' is not implemented in this build"
fi

step "4b. CUDA backend vs CPU backend (same packed batches)"
if [ -d "$OUT/tiny" ] && "$PRMEVAL" run --help 2>&1 | grep -q -- "--dump-rewards"; then
    for m in tiny q05; do
        "$PRMEVAL" run --model "$OUT/$m" --family qwen-prm --backend cpu  --limit 64 --dump-rewards "$OUT/$m.cpu.jsonl" || fail=1
        "$PRMEVAL" run --model "$OUT/$m" --family qwen-prm --backend cuda --limit 64 --dump-rewards "$OUT/$m.cuda.jsonl" || fail=1
        /usr/bin/python3 - "$OUT/$m.cpu.jsonl" "$OUT/$m.cuda.jsonl" <<'PYEOF' || fail=1
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b), "different numbers of sequences"
worst, flips = 0.0, 0
for x, y in zip(a, b):
    assert x["tokens"] == y["tokens"], "different token ids"
    for p, q in zip(y["rewards"], x["rewards"]):
        worst = max(worst, abs(p - q) / max(abs(q), 1e-6))
        flips += (p > 0.5) != (q > 0.5) and abs(q - 0.5) > 1e-2
print(f"cuda vs cpu: worst relative error {worst:.3g}, label flips {flips}")
sys.exit(0 if worst <= 1e-2 and flips == 0 else 1)
PYEOF
    done
else
    echo "SKIPPED: needs the CPU backend, the tiny-model generator and 'prmeval run --dump-rewards'"
fi

step "4c. CUDA backend vs Hugging Face transformers"
if [ -f "$OUT/tiny.cuda.jsonl" ]; then
    for m in tiny q05; do
        "$PY" tests/gpu/compare_transformers.py --model "$OUT/$m" --dump "$OUT/$m.cuda.jsonl" --head qwen-prm || fail=1
    done
else
    echo "SKIPPED: no reward dump from step 4b"
fi

echo
[ "$fail" -eq 0 ] && echo "GPU checks: no failures (see SKIPPED lines above)" || echo "GPU checks: FAILED"
exit "$fail"
