#!/usr/bin/env bash
# Start-up of the CPU backend (the fixed cost before a run's first forward
# pass): prmeval's open + NaN/Inf scan and content hash + fp32 copies of the
# weights (bench/bench_load.c) against PyTorch doing the same work on the same
# file (map the safetensors file, torch.isfinite over every tensor, .float() of
# every weight but the embedding, which both keep in its stored dtype), side by
# side, alternately REPEAT times, the best of each. Model: the Qwen2.5-0.5B-
# shaped bf16 checkpoint of bench/bench_prefix_reuse.sh (generated once under
# $WORK with the real Qwen2.5 vocabulary: .benchtok/, bench/fetch_bench_tokenizer.sh).
#   bash bench/bench_load.sh [THREADS]   (default: nproc)
# Environment: REPEAT (3), BUILD (build), WORK ($BUILD/bench-prefix).
# Needs build/ (cmake -S . -B build && cmake --build build) and /usr/bin/python3 with torch.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
build=${BUILD:-build}
work=${WORK:-$build/bench-prefix}
repeat=${REPEAT:-3}
[ -x "$build/prmeval" ] || { echo "no $build/prmeval: build first (cmake -S . -B build && cmake --build build)" >&2; exit 2; }
cmake --build "$build" --target prmeval_lib prmeval_blas >/dev/null
bin="$build/bench_load"
cc -std=c11 -O2 -fopenmp -D_DEFAULT_SOURCE -Wall -Wextra -Werror -Isrc bench/bench_load.c "$build/libprmeval_lib.a" \
  $(pkg-config --libs libzip libcjson libutf8proc libpcre2-8) -lm -o "$bin"
export PRMEVAL_BLAS_MODULE="$(cd "$build" && pwd)/libprmeval_blas.so"
[ -f .benchtok/tokenizer.json.gz ] || bash bench/fetch_bench_tokenizer.sh >/dev/null
m="$work/qwen-0.5b"
if [ ! -f "$m/model.safetensors" ]; then
    echo "generating the model in $m (once) ..."
    mkdir -p "$work/tok"
    gzip -dc .benchtok/tokenizer.json.gz > "$work/tok/tokenizer.json"
    "$build/prmeval" tiny-model "$m" --family qwen-prm --seed 1 --dtype bf16 --layers 24 --hidden 896 --heads 14 \
        --kv-heads 2 --ffn 4864 --tokenizer "$work/tok" 2>/dev/null
fi

echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores visible; threads $threads"
echo "model: $m ($(du -m "$m/model.safetensors" | cut -f1) MiB bf16; Qwen2.5-0.5B shape, real vocabulary)"
echo "transparent huge pages: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)"
c_runs=() t_runs=()
for i in $(seq 1 "$repeat"); do
    echo "load average before round $i: $(cut -d' ' -f1-3 /proc/loadavg)"
    c_runs+=("$(OMP_NUM_THREADS=$threads "$bin" "$m" --reps 1)")
    t_runs+=("$(OMP_NUM_THREADS=$threads /usr/bin/python3 - "$m/model.safetensors" "$threads" <<'PY'
import json, struct, sys, time
import numpy as np, torch
path, threads = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(threads)
t0 = time.perf_counter()
with open(path, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
mm = np.memmap(path, dtype=np.uint8, mode="c")  # copy-on-write: torch wants a writable array
np_dt = {"BF16": np.int16, "F16": np.float16, "F32": np.float32}
kept = []
for name, t in header.items():
    if name == "__metadata__":
        continue
    lo, hi = t["data_offsets"]
    raw = mm[8 + n + lo:8 + n + hi].view(np_dt[t["dtype"]]).reshape(t["shape"])
    x = torch.from_numpy(raw)
    if t["dtype"] == "BF16":
        x = x.view(torch.bfloat16)
    if not bool(torch.isfinite(x).all()):
        sys.exit(f"{name}: non-finite")
    if name != "model.embed_tokens.weight":
        kept.append(x.float())
print(json.dumps({"seconds": time.perf_counter() - t0, "tensors": len(kept), "torch": torch.__version__}))
PY
)")
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "${c_runs[@]}" -- "${t_runs[@]}" <<'PY'
import json, sys
a = sys.argv[1:]
k = a.index("--")
c, t = [json.loads(x) for x in a[:k]], [json.loads(x) for x in a[k + 1:]]
bc = min(c, key=lambda r: r["seconds"])
bt = min(t, key=lambda r: r["seconds"])
print("prmeval  runs: " + ", ".join(f"{r['seconds']:.2f}" for r in c) + " s")
print("pytorch  runs: " + ", ".join(f"{r['seconds']:.2f}" for r in t) + " s")
print(f"prmeval cpu start-up (best): {bc['seconds']:.2f} s (open {bc['open']:.2f}, NaN/Inf scan + hash "
      f"{bc['check']:.2f}, fp32 weights + OpenBLAS {bc['create']:.2f}); hash {bc['hash']}")
print(f"pytorch {bt['torch']} (best): {bt['seconds']:.2f} s ({bt['tensors']} fp32 tensors)")
print(f"ratio (pytorch / prmeval): {bt['seconds'] / bc['seconds']:.2f}x")
PY
