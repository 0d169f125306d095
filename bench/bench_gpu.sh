#!/usr/bin/env bash
# Issue 4 item 5: prmeval's CUDA backend against Hugging Face transformers on one
# GPU, side by side in one run (one device call): a Qwen2.5-Math-PRM-7B-shaped
# model with random bf16 weights generated there (bench/hf_baseline.py
# make-model), PRMBench with the qwen-prm prompts and the real Qwen2.5 vocabulary
# (+ "<extra_0>", prepared here by bench/fetch_bench_tokenizer.sh and carried in
# .benchtok/). Steps:
#   1. build with CUDA (tests/gpu/gpu_build.sh: the carried .debs when present);
#   2. the model (kept between calls on a warm machine) + the tokenizer;
#   3. `prmeval run --set backend=cuda --dump-tokens`: the exact ids and read-out
#      positions of every prompt (and a first timing);
#   4. the same run again without the dump: the timed one. prmeval's time is its
#      own scoring loop (the JSON's "run" section: tokenizing + packing + GPU,
#      weights already loaded), never the wall time of the command;
#   5. transformers (bf16, sdpa) on the same ids, loaded once: padded batches of 2
#      in data order (PRMBench's reference setting), then length-sorted batches of
#      each size in SWEEP (its best setting);
#   6. the table: tokens/s, MFU against the dense bf16 peak, speed-ups, targets,
#      the end-to-end times (prmeval's whole command, transformers' loading + scoring),
#      (MFU >= 50%, >= 3x the reference, >= 1.5x the best), prmeval's rewards
#      against transformers'.
# Output in $OUT (else $BUILD/bench-out): bench.txt (the table), bench.json,
# bench-log.txt. NOT RUN on a GPU yet.
#
#   bash bench/bench_gpu.sh                 on the GPU machine
#   bash bench/bench_gpu.sh --cpu-dry-run   anywhere: a 2-layer model of the same layout,
#       backend=cpu, 2 problems, and the PyTorch oracle for transformers when it is not
#       installed: checks the script's logic (the numbers mean nothing)
# Environment: SKIP_BUILD=1 (gpu_session.sh: the build is there; prmeval runs under
# $DEBROOT/bin/with-debs when that exists), SECOND_RUN_MAX_S (60: a first run's scoring loop
# longer than this is the timed one, no second run; -1: never a second run), LIMIT (PRMBench problems: 100 = 933 prompts, 491k tokens; 0 = the whole PRMBench,
# which needs its own device call), SWEEP (4,8,16,32,64), HF_BUDGET_S (240: no new sweep
# setting after that, nor after DEADLINE_S - 90), DEADLINE_S (540), HF_RESERVE_S (150: seconds of
# DEADLINE_S kept for transformers and the table when the prmeval run starts), TOKEN_BUDGET (prmeval's token_budget, 16384), BUILD (build-gpu;
# dry run: $PRMEVAL_BUILD or build), PY (python3; dry: /usr/bin/python3), PEAK (dense
# bf16 TFLOP/s, when the GPU is not known below).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRC"
MODE=gpu
for arg in "$@"; do
    case "$arg" in
        --cpu-dry-run) MODE=dry ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench_gpu: unknown argument '$arg' (only --cpu-dry-run)" >&2; exit 2 ;;
    esac
done
if [ "$MODE" = dry ]; then
    BUILD=${BUILD:-${PRMEVAL_BUILD:-build}}; PY=${PY:-/usr/bin/python3}; BACKEND=cpu
    LIMIT=${LIMIT:-2}; SWEEP=${SWEEP-2,4}; SHAPE=dry; DEVICE=cpu
else
    BUILD=${BUILD:-build-gpu}; PY=${PY:-python3}; BACKEND=cuda
    LIMIT=${LIMIT:-100}; SWEEP=${SWEEP-4,8,16,32,64}; SHAPE=7b; DEVICE=cuda
fi
HF_BUDGET_S=${HF_BUDGET_S:-240}
DEADLINE_S=${DEADLINE_S:-540}   # the whole script inside one 10-minute device call
TOKEN_BUDGET=${TOKEN_BUDGET:-16384}
case "$BUILD" in /*) B=$BUILD ;; *) B=$SRC/$BUILD ;; esac
RES=${OUT:-$B/bench-out}
WORK=${WORK:-$B/bench-$MODE}
mkdir -p "$RES" "$WORK"
RES=$(cd "$RES" && pwd)
exec > >(tee "$RES/bench-log.txt") 2>&1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
T0=$(date +%s)
step() { echo; echo "== [$(( $(date +%s) - T0 )) s] $*"; }
COMMAND="bash bench/bench_gpu.sh${1:+ $1} (LIMIT=$LIMIT SWEEP=$SWEEP TOKEN_BUDGET=$TOKEN_BUDGET HF_BUDGET_S=$HF_BUDGET_S DEADLINE_S=$DEADLINE_S)"

step "0. GPU"
if [ "$MODE" = gpu ]; then
    GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
    case "$GPU" in   # dense (no sparsity) bf16 tensor-core peaks, TFLOP/s
        *H200*) PEAK=${PEAK:-989} ;; *H100*PCIe*) PEAK=${PEAK:-756} ;; *H100*) PEAK=${PEAK:-989} ;;
        *A100*) PEAK=${PEAK:-312} ;;
        *) PEAK=${PEAK:?unknown GPU \'$GPU\': set PEAK (dense bf16 TFLOP/s)} ;;
    esac
else
    GPU="none (dry run on $(nproc) CPU cores)"; PEAK=1
fi
echo "$GPU, peak $PEAK TFLOP/s; $COMMAND"

step "1. build"
RUN=()
if [ "$MODE" = gpu ] && [ "${SKIP_BUILD:-0}" = 1 ]; then   # tests/gpu/gpu_session.sh has just built it
    [ -f "${DEBROOT:-/tmp/debroot}/env.sh" ] && RUN=("${DEBROOT:-/tmp/debroot}/bin/with-debs")
    echo "build skipped (SKIP_BUILD=1): $B/prmeval${RUN:+ under ${RUN[0]}}"
elif [ "$MODE" = gpu ]; then
    # shellcheck source=tests/gpu/gpu_build.sh
    source tests/gpu/gpu_build.sh
    : > "$WORK/build.log"
    if ! pe_gpu_build "$SRC" "$B" "$WORK/build.log"; then
        tail -40 "$WORK/build.log"; cp "$WORK/build.log" "$RES/build.log"
        echo "bench_gpu: the build failed ($PE_BUILD_NOTE)"; exit 1
    fi
    RUN=("${PE_RUN[@]}")
    echo "built ($PE_BUILD_NOTE)"
elif [ ! -x "$B/prmeval" ]; then
    cmake -S . -B "$B" > "$WORK/build.log" && cmake --build "$B" -j2 >> "$WORK/build.log"
fi
BIN=$B/prmeval

step "2. model ($SHAPE) and tokenizer"
M=$WORK/model-$SHAPE
if [ -f "$M/config.json" ] && [ -f "$M/model.safetensors.index.json" ]; then
    echo "kept from an earlier call: $M"
else
    rm -rf "$M"
    "$PY" bench/hf_baseline.py make-model "$M" --shape "$SHAPE" --device "$DEVICE"
fi
if [ -f .benchtok/tokenizer.json.gz ]; then
    gzip -dc .benchtok/tokenizer.json.gz > "$M/tokenizer.json"
    TOKNOTE="Qwen2.5 vocabulary + <extra_0> (.benchtok)"
else   # the numbers of tokens then differ from PRMBench's real ones: said in the table
    "${RUN[@]}" "$BIN" tiny-model "$WORK/tinytok" --family qwen-prm > /dev/null
    cp "$WORK/tinytok/tokenizer.json" "$M/tokenizer.json"
    TOKNOTE="tiny-model's Qwen2-style tokenizer (.benchtok missing: run bench/fetch_bench_tokenizer.sh; token counts are not PRMBench's real ones)"
fi
echo "tokenizer: $TOKNOTE"

step "3. prmeval run --dump-tokens (ids, read-outs, first timing)"
cat > "$WORK/job.json" <<EOF
{"model": "$M", "family": "qwen-prm", "data": "$SRC/data/prmbench", "output": "$WORK/first.h5",
 "backend": "$BACKEND", "limit": $LIMIT, "token_budget": $TOKEN_BUDGET, "progress_interval": 30}
EOF
left=$(( DEADLINE_S - ($(date +%s) - T0) - ${HF_RESERVE_S:-150} ))   # keep that for transformers and the table
[ "$left" -gt 30 ] || { echo "bench_gpu: out of time before the first run (DEADLINE_S=$DEADLINE_S)"; exit 1; }
t_run=$(date +%s.%N)
timeout "$left" "${RUN[@]}" "$BIN" run "$WORK/job.json" --quiet --set json="$WORK/first.json" \
    --dump-tokens "$WORK/tokens.jsonl" \
    || { echo "bench_gpu: the first prmeval run failed or passed ${left} s (exit $?)"; exit 1; }
# end to end: the whole command, loading the weights included
WALL=$(echo "$t_run $(date +%s.%N)" | awk '{printf "%.2f", $2 - $1}')
echo "prmeval run, whole command: $WALL s"

step "4. prmeval run (timed)"
first_s=$("$PY" -c 'import json, sys; print(int(json.load(open(sys.argv[1]))["run"]["ranks"][0]["seconds"]))' "$WORK/first.json")
FIRST_ARG=(--prmeval-first "$WORK/first.json")
if [ "$first_s" -le "${SECOND_RUN_MAX_S:-60}" ]; then
    "${RUN[@]}" "$BIN" run "$WORK/job.json" --quiet --set output="$WORK/timed.h5" --set json="$WORK/timed.json"
else   # a slow backend: no time for a second run inside one device call; the dump costs little
    echo "the first run's scoring loop took $first_s s: it is the timed run (with --dump-tokens)"
    cp "$WORK/first.json" "$WORK/timed.json"; cp "$WORK/first.h5" "$WORK/timed.h5"
    FIRST_ARG=()
fi
budget=$(( DEADLINE_S - ($(date +%s) - T0) - 90 ))
[ "$budget" -lt "$HF_BUDGET_S" ] && HF_BUDGET_S=$budget

step "5. transformers on the same ids"
rm -f "$WORK/hf.jsonl" "$WORK/hf_rewards.json"
if "$PY" -c 'import transformers' > /dev/null 2>&1; then impl=transformers
elif [ "$MODE" = dry ]; then impl=oracle; echo "transformers is not installed: the PyTorch oracle stands in (dry run)"
else impl=""; echo "bench_gpu: cannot import transformers with $PY: no baseline"; fi
if [ -n "$impl" ]; then
    left=$(( DEADLINE_S - ($(date +%s) - T0) - 20 ))
    timeout "$left" "$PY" bench/hf_baseline.py hf "$WORK/tokens.jsonl" "$M" --impl "$impl" --device "$DEVICE" \
        --sweep "$SWEEP" --budget-s "$HF_BUDGET_S" --rewards "$WORK/hf_rewards.json" | tee "$WORK/hf.jsonl" \
        || echo "bench_gpu: transformers failed (see above); the table has prmeval only"
fi

step "6. table"
"$PY" bench/hf_baseline.py report --tokens "$WORK/tokens.jsonl" --model "$M" --prmeval "$WORK/timed.json" \
    "${FIRST_ARG[@]}" --prmeval-wall "$WALL" --hf "$WORK/hf.jsonl" --hf-rewards "$WORK/hf_rewards.json" \
    --h5 "$WORK/timed.h5" --peak "$PEAK" --gpu "$GPU" --mode "$MODE" --limit "$LIMIT" \
    --command "$COMMAND; tokenizer: $TOKNOTE" --out-text "$RES/bench.txt" --out-json "$RES/bench.json"
echo "bench_gpu: done in $(( $(date +%s) - T0 )) s; $RES/bench.txt"
