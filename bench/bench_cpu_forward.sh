#!/usr/bin/env bash
# CPU forward throughput: the C backend (fp32, OpenBLAS + OpenMP) against an
# fp32 PyTorch forward of the same model, weights and packed tokens, side by
# side in one run, on a Qwen2.5-0.5B-shaped random model; prints tokens/s of
# each, the ratio (C / PyTorch; target >= 1.0) and how far the rewards differ.
#   bench/bench_cpu_forward.sh [THREADS] [SEQS] [LEN]   (defaults: nproc, 4, 512)
# Needs build/ (cmake -S . -B build && cmake --build build) and /usr/bin/python3 with torch.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
seqs=${2:-4}
len=${3:-512}
build=${BUILD:-build}
cmake --build "$build" --target prmeval_lib prmeval_blas >/dev/null
bin="$build/bench_cpu_forward"
cc -std=c11 -O2 -fopenmp -D_DEFAULT_SOURCE -Wall -Wextra -Werror -Isrc -Itests/unit \
  bench/bench_cpu_forward.c "$build/libprmeval_lib.a" $(pkg-config --libs libzip libcjson libutf8proc libpcre2-8) -lm -o "$bin"
# The bench program is not beside the module: say where OpenBLAS's glue is.
export PRMEVAL_BLAS_MODULE="$(cd "$build" && pwd)/libprmeval_blas.so"

echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores visible; threads $threads"
echo "model: Qwen2.5-0.5B shape (hidden 896, 24 layers, 14/2 heads, head_dim 64, FFN 4864, vocab 151936), fp32"
echo "batch: $seqs sequences x $len tokens, packed; best of 2 timed runs after a warm-up"
c_json=$(OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads "$bin" --seqs "$seqs" --len "$len")
t_json=$(OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads MKL_NUM_THREADS=$threads \
  /usr/bin/python3 tests/oracle/torch_prm.py bench --threads "$threads" --seqs "$seqs" --len "$len")
/usr/bin/python3 - "$c_json" "$t_json" <<'PY'
import json, sys
c, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
diff = max(abs(a - b) / max(abs(b), 1e-30) for a, b in zip(c["rewards"], t["rewards"]))
print(f"prmeval cpu : {c['tokens_per_s']:9.1f} tokens/s ({c['tokens']} tokens in {c['seconds']:.3f} s)")
print(f"pytorch {t['torch']}: {t['tokens_per_s']:9.1f} tokens/s ({t['tokens']} tokens in {t['seconds']:.3f} s)")
print(f"ratio (prmeval / pytorch): {c['tokens_per_s'] / t['tokens_per_s']:.2f}x")
print(f"rewards at the {len(c['rewards'])} read-outs: max relative difference {diff:.2e}")
PY
