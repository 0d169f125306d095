#!/usr/bin/env bash
# The whole GPU session of issue 11 in ONE device call of at most 6 minutes
# (a session is lent 15 device minutes in all, start-up and idle included, so a
# fixed rerun must still fit). Phases, each with its own time cap, in order:
#   build        CUDA build for sm_90 (tests/gpu/gpu_build.sh; the carried .debs
#                unpacked where the machine lacks MPI/HDF5/...), only the targets used;
#   kernels      every kernel against its C reference (tests/unit/test_cuda_kernels:
#                tile edges, 2,048- and 3,600-token sequences, a 16k-token batch of
#                ~300 tiles, a sequence alone vs in that batch, attention occupancy);
#   compare      tiny random models of the four families and a Qwen2.5-0.5B-shaped
#                one, each run with backend=cuda and backend=cpu: rewards compared
#                with tests/gpu/reward_compare.py's rule (logit error, label flips
#                only near the threshold), token ids identical;
#   batch        a row's CUDA reward must not depend on the other sequences of its
#                batch: the same jobs again at a small token budget, rewards compared
#                bit for bit (issue 13, item 5);
#   reuse        prefix reuse (issue 12): the compare phase ran with prefix_reuse=true; each
#                model again with prefix_reuse=false on the tested backend, rewards compared
#                with the tested run (reuse on) and with the CPU run (tolerance as in
#                compare; the record keeps the worst relative difference and the count
#                of bit-identical rewards); a build without the job key fails here (GPU)
#                or is recorded as skipped (dry run);
#   transformers the CUDA and the CPU rewards against transformers in fp32 on the
#                same ids (tests/gpu/compare_transformers.py): the CPU run must agree
#                to the fp32 tolerance (which validates the comparison), the CUDA run
#                to the bf16 one;
#   bench        bench/bench_gpu.sh on a bounded slice (LIMIT_BENCH PRMBench problems):
#                a 7B-shaped model, prmeval CUDA vs transformers' reference setting
#                (padded pairs in data order), tokens/s, MFU, end-to-end times.
# The bench phase keeps BENCH_S seconds for itself: the checks before it stop at
# TOTAL_S - BENCH_S, whatever they have left undone ("not run" in the summary).
# $OUT (the device tool's folder; else $BUILD/gpu-session) gets summary.txt and
# summary.json (rewritten after every step, so a call cut short still returns
# what ran), log.txt (everything printed), kernels.txt, bench.txt, bench.json,
# and build.log when the build fails: at most 7 files (the tool returns 8).
# Exit status 0 only if every gated check passed and nothing was left undone.
#
#   bash tests/gpu/gpu_session.sh                 on the GPU machine (one device call:
#       run(command="bash tests/gpu/gpu_session.sh", carry=[".debs", ".benchtok"], timeout_s=420))
#   bash tests/gpu/gpu_session.sh --cpu-dry-run   here: the CPU backend stands in for CUDA,
#       the kernel test skips, a 2-layer model stands in for the 0.5B one, the PyTorch
#       oracle for transformers, bench_gpu.sh --cpu-dry-run for the benchmark: the
#       script's own logic (phases, caps, records, summary), not the GPU's numbers.
# Environment: PHASES (kernels,compare,batch,reuse,transformers,bench: a rerun may name fewer;
# the build always runs), TOTAL_S (345; dry run 900), BENCH_S (150; dry 240), caps per
# phase BUILD_S (200), KERNELS_S (60), COMPARE_S (100; dry 300), BATCH_S (40; dry 150),
# REUSE_S (30; dry 200), HF_S (90; dry 200);
# LIMIT_TINY / LIMIT_Q05 (PRMBench problems per model run: 8 / 2; dry 2 / 1), LIMIT_BENCH (30;
# dry run LIMIT_BENCH_DRY, 2),
# BENCH_SWEEP (transformers' length-sorted batch sizes after the reference setting, e.g. 16;
# default none: bench_gpu.sh starts no sweep within 90 s of its deadline, which a 6-minute call leaves), BATCH_BUDGET (the small token budget of the batch phase: 600),
# BUILD (build-gpu; dry: $PRMEVAL_BUILD or build), PY (python3; dry /usr/bin/python3),
# WORK ($BUILD/gpu-session-MODE), DEBROOT (/tmp/debroot), PE_CUDA_ARCH (90).
set -uo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
cd "$SRC"
MODE=gpu
for arg in "$@"; do
    case "$arg" in
        --cpu-dry-run) MODE=dry ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu_session: unknown argument '$arg' (only --cpu-dry-run)" >&2; exit 2 ;;
    esac
done
T0=$(date +%s)
PHASES=",build,${PHASES:-kernels,compare,batch,reuse,transformers,bench},"
if [ "$MODE" = dry ]; then
    BUILD=${BUILD:-${PRMEVAL_BUILD:-build}}; PY=${PY:-/usr/bin/python3}; TEST_BACKEND=cpu
    LIMIT_TINY=${LIMIT_TINY:-2}; LIMIT_Q05=${LIMIT_Q05:-1}; TOTAL_S=${TOTAL_S:-900}; BENCH_S=${BENCH_S:-240}
    TEST_TOL=fp32   # the CPU stands in for CUDA: fp32 against fp32
else
    BUILD=${BUILD:-build-gpu}; PY=${PY:-python3}; TEST_BACKEND=cuda
    LIMIT_TINY=${LIMIT_TINY:-8}; LIMIT_Q05=${LIMIT_Q05:-2}; TOTAL_S=${TOTAL_S:-345}; BENCH_S=${BENCH_S:-150}
    TEST_TOL=bf16
fi
if [ "$MODE" = dry ]; then   # 2 shared CPU cores: the same work takes several times longer
    COMPARE_S=${COMPARE_S:-300}; BATCH_S=${BATCH_S:-150}; HF_S=${HF_S:-200}; REUSE_S=${REUSE_S:-200}
fi
BUILD_S=${BUILD_S:-200}; KERNELS_S=${KERNELS_S:-60}; COMPARE_S=${COMPARE_S:-100}; BATCH_S=${BATCH_S:-40}
REUSE_S=${REUSE_S:-30}
HF_S=${HF_S:-90}; LIMIT_BENCH=${LIMIT_BENCH:-30}; BENCH_SWEEP=${BENCH_SWEEP-}; BATCH_BUDGET=${BATCH_BUDGET:-600}
CHECKS_END=$(( TOTAL_S - BENCH_S ))     # the checks stop here; the bench has the rest
case "$BUILD" in /*) B=$BUILD ;; *) B=$SRC/$BUILD ;; esac
RESULTS=${OUT:-$B/gpu-session}
WORK=${WORK:-$B/gpu-session-$MODE}
mkdir -p "$RESULTS" "$WORK/models"
RESULTS=$(cd "$RESULTS" && pwd)
STEPS=$WORK/steps.jsonl
rm -f "$STEPS" "$RESULTS"/summary.* "$RESULTS"/build.log "$RESULTS"/bench.* "$RESULTS"/kernels.txt
exec > >(tee "$RESULTS/log.txt") 2>&1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1   # no network there

elapsed() { echo $(( $(date +%s) - T0 )); }
summarize() {
    "$PY" tests/gpu/reward_compare.py summary "$STEPS" --mode "$MODE" --json "$RESULTS/summary.json" \
        --text "$RESULTS/summary.txt" > /dev/null 2>&1 || true
}
# record STATUS CHECK [DETAIL]: one JSON line per check, then the summary again
record() {
    "$PY" -c 'import json, sys; print(json.dumps(dict(status=sys.argv[1], check=sys.argv[2], detail=sys.argv[3], at_s=int(sys.argv[4]))))' \
        "$1" "$2" "${3:-}" "$(elapsed)" >> "$STEPS"
    echo "$1: $2${3:+: $3}"
    summarize
}
# phase NAME CAP [END]: starts a phase when PHASES names it and time is left; sets
# PHASE_END = now + CAP, bounded by END (default CHECKS_END). False (and recorded
# as "not run") when the phase is not wanted or fewer than 5 s are left.
PHASE=""
phase() {
    phase_done
    local name=$1 cap=$2 end=${3:-$CHECKS_END}
    if [ "$PHASES" = "${PHASES/,$name,/}" ]; then
        record "skipped" "phase $name" "not in PHASES"
        return 1
    fi
    PHASE_END=$(( $(elapsed) + cap ))
    [ "$PHASE_END" -gt "$end" ] && PHASE_END=$end
    if [ $(( PHASE_END - $(elapsed) )) -lt 5 ]; then
        record "not run" "phase $name" "out of time: $(elapsed) s gone (checks end at $CHECKS_END s, total $TOTAL_S s)"
        return 1
    fi
    PHASE=$name
    PHASE_T0=$(elapsed)
    echo; echo "== [$(elapsed) s] phase $name (cap $(( PHASE_END - PHASE_T0 )) s)"
}
phase_done() {
    if [ -n "$PHASE" ]; then
        record info "phase $PHASE" "$(( $(elapsed) - PHASE_T0 )) s (cap $(( PHASE_END - PHASE_T0 )) s)"
        PHASE=""
    fi
}
# left: seconds left in the current phase (0 when none)
left() { local l=$(( PHASE_END - $(elapsed) )); [ "$l" -gt 0 ] && echo "$l" || echo 0; }
# capped CHECK CMD...: runs CMD under the phase's remaining time; 124 = stopped at the cap
capped() {
    local what=$1; shift
    local l; l=$(left)
    if [ "$l" -lt 2 ]; then
        record "not run" "$what" "phase $PHASE out of time"
        return 125
    fi
    timeout "$l" "$@"
    local rc=$?
    [ "$rc" -eq 124 ] && record FAIL "$what" "stopped at the phase's time cap ($PHASE, $(( PHASE_END - PHASE_T0 )) s)"
    return "$rc"
}
finish() {
    phase_done
    echo; echo "== [$(elapsed) s] summary ($RESULTS/summary.txt)"
    "$PY" tests/gpu/reward_compare.py summary "$STEPS" --mode "$MODE" --json "$RESULTS/summary.json" \
        --text "$RESULTS/summary.txt" --print
    exit $?
}

echo "== [0 s] machine ($MODE mode): TOTAL_S=$TOTAL_S, checks until $CHECKS_END s, PHASES=${PHASES:1:-1}"
nvsmi=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -2 || true)
command -v nvidia-smi > /dev/null || nvsmi="none (no nvidia-smi)"
nvccv=$(nvcc --version 2>/dev/null | tail -1 || true)
pyv=$("$PY" -c 'import sys, torch
try:
    import transformers; t = transformers.__version__
except Exception as e:
    t = "none (" + type(e).__name__ + ")"
print(f"python {sys.version.split()[0]}, torch {torch.__version__} (cuda {torch.version.cuda}, available {torch.cuda.is_available()}), transformers {t}")' 2>&1 | tail -1)
record info "machine" "GPU: $nvsmi; nvcc: ${nvccv:-none}; $pyv; $(cmake --version | head -1); $(nproc) cores; git $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
if [ "$MODE" = gpu ] && ! nvidia-smi > /dev/null 2>&1; then
    record FAIL "machine" "no working nvidia-smi: not a GPU machine (use --cpu-dry-run)"
    finish
fi

# ---- build (always: every later phase needs it) -------------------------------------------
phase build "$BUILD_S" "$TOTAL_S"
RUN=()          # wrapper for prmeval and the C tests (with-debs when the .debs are used)
if [ "$MODE" = gpu ]; then
    : > "$WORK/build.log"
    export PE_CUDA_ARCH=${PE_CUDA_ARCH:-90}
    export PE_BUILD_TARGETS="prmeval prmeval_cuda prmeval_blas prmeval_h5 test_cuda_kernels"
    if capped "build" bash -c 'source tests/gpu/gpu_build.sh && pe_gpu_build "$1" "$2" "$3"' _ "$SRC" "$B" "$WORK/build.log"; then
        [ -f "${DEBROOT:-/tmp/debroot}/env.sh" ] && ls "$SRC"/.debs/*.deb > /dev/null 2>&1 \
            && [ "${PE_USE_SYSTEM_LIBS:-0}" != 1 ] && RUN=("${DEBROOT:-/tmp/debroot}/bin/with-debs")
        libs="the machine's own libraries"
        [ "${#RUN[@]}" -gt 0 ] && libs="Debian packages from .debs, run under ${RUN[0]}"
        record pass "build (CUDA ON, sm_$PE_CUDA_ARCH)" "$(( $(elapsed) - PHASE_T0 )) s, $libs; $(grep -m1 'prmeval: CUDA backend' "$WORK/build.log" | sed 's/^-- //')"
    else
        rc=$?
        cp "$WORK/build.log" "$RESULTS/build.log"
        tail -40 "$WORK/build.log"
        [ "$rc" -lt 124 ] && record FAIL "build (CUDA ON)" "exit $rc, see build.log"
        finish
    fi
elif [ ! -x "$B/prmeval" ]; then
    capped "build" bash -c 'cmake -S . -B "$1" > "$2" 2>&1 && cmake --build "$1" -j2 >> "$2" 2>&1' _ "$B" "$WORK/build.log" \
        || { tail -40 "$WORK/build.log"; record FAIL "build" "see log"; finish; }
    record pass "build" "$(( $(elapsed) - PHASE_T0 )) s"
else
    record pass "build" "dry run: using $B/prmeval as built"
fi
BIN=$B/prmeval
echo "binary: $BIN ($("${RUN[@]}" "$BIN" --version 2>&1 | head -1))"
# prefix reuse (issue 12): the job key exists once its run integration is merged
REUSE_ON=()
"${RUN[@]}" "$BIN" run --help 2>&1 | grep -qw prefix_reuse && REUSE_ON=(--set prefix_reuse=true)

# ---- kernels --------------------------------------------------------------------------------
if phase kernels "$KERNELS_S"; then
    # the test finds the GPU through the CUDA module, which lives beside prmeval, not beside it
    PRMEVAL_CUDA_MODULE=$B/libprmeval_cuda.so capped "kernels" "${RUN[@]}" "$B/tests/test_cuda_kernels" \
        > "$RESULTS/kernels.txt" 2>&1
    rc=$?
    cat "$RESULTS/kernels.txt"
    occ=$(grep -m1 '^attention D128' "$RESULTS/kernels.txt" | sed 's/ *$//')
    if [ "$rc" -eq 0 ]; then record pass "kernels" "$(grep -c ' ok$' "$RESULTS/kernels.txt") comparisons ok; $occ"
    elif [ "$rc" -eq 77 ] && [ "$MODE" = dry ]; then record "skipped (dry run)" "kernels" "$(tail -1 "$RESULTS/kernels.txt")"
    elif [ "$rc" -eq 77 ]; then record FAIL "kernels" "skipped on a GPU machine: $(tail -1 "$RESULTS/kernels.txt")"
    elif [ "$rc" -ne 124 ]; then record FAIL "kernels" "exit $rc, $(grep -c 'FAIL\|DIFFERENT' "$RESULTS/kernels.txt") failing lines (kernels.txt)"; fi
fi

# ---- compare: CUDA vs CPU on five models ------------------------------------------------------
# name family limit tiny-model size options
MODELS=("tiny-qwen-prm qwen-prm $LIMIT_TINY"
        "tiny-math-shepherd math-shepherd $LIMIT_TINY"
        "tiny-rlhflow rlhflow $LIMIT_TINY"
        "tiny-skywork skywork $LIMIT_TINY")
if [ "$MODE" = gpu ]; then   # Qwen2.5-0.5B's backbone shape (the vocabulary is the tiny tokenizer's)
    MODELS+=("q05 qwen-prm $LIMIT_Q05 --layers 24 --hidden 896 --heads 14 --kv-heads 2 --ffn 4864")
else                         # the same widths, 2 layers: the CPU runs twice here
    MODELS+=("q05-2layers qwen-prm $LIMIT_Q05 --layers 2 --hidden 896 --heads 14 --kv-heads 2 --ffn 4864")
fi
CASES=()        # arguments of compare_transformers.py
DONE_MODELS=()  # models whose tested run succeeded (the batch phase reruns them)
# one_run NAME SIDE BACKEND [prmeval options...]: a run of the model's job; 0 when it used BACKEND
one_run() {
    local m=$1 side=$2 backend=$3; shift 3
    local t; t=$(date +%s)
    capped "$m: run ($side) backend=$backend" "${RUN[@]}" "$BIN" run "$WORK/$m.job.json" --quiet \
        --set backend="$backend" --set output="$WORK/$m.$side.h5" --set json="$WORK/$m.$side.json" "$@" \
        2> "$WORK/$m.$side.log"
    local rc=$?
    grep -E '^(backend|done|warning):' "$WORK/$m.$side.log" | sed "s/^/  [$m $side] /"
    if [ "$rc" -ne 0 ]; then
        tail -5 "$WORK/$m.$side.log"
        [ "$rc" -lt 124 ] && record FAIL "$m: run ($side) backend=$backend" "exit $rc: $(tail -1 "$WORK/$m.$side.log")"
        return 1
    fi
    local info used
    info=$("$PY" tests/gpu/reward_compare.py runinfo "$WORK/$m.$side.json" --wall $(( $(date +%s) - t )) 2>&1)
    used=${info%% |*}
    if [ "$used" != "$backend" ]; then
        record FAIL "$m: run ($side) backend=$backend" "the run used backend '$used': ${info#*| }"
        return 1
    fi
    record info "$m: run ($side) backend=$backend" "${info#*| }"
}
if phase compare "$COMPARE_S"; then
    if out=$("$PY" tests/gpu/reward_compare.py selftest 2>&1); then record pass "comparison selftest" "$out"
    else record FAIL "comparison selftest" "$out"; fi
    for spec in "${MODELS[@]}"; do
        read -r m fam limit size <<< "$spec"
        [ "$(left)" -ge 5 ] || { record "not run" "$m: CUDA vs CPU" "phase compare out of time"; continue; }
        dir=$WORK/models/$m
        # shellcheck disable=SC2086
        capped "$m: tiny-model" "${RUN[@]}" "$BIN" tiny-model "$dir" --family "$fam" --dtype bf16 --seed 3 $size > /dev/null
        rc=$?
        if [ "$rc" -ne 0 ]; then   # 124/125: capped has recorded it
            [ "$rc" -lt 124 ] && record FAIL "$m: tiny-model" "exit $rc: prmeval tiny-model $dir --family $fam --dtype bf16 --seed 3 $size"
            continue
        fi
        cat > "$WORK/$m.job.json" <<EOF
{"model": "$dir", "family": "$fam", "data": "$SRC/data/subset400.jsonl",
 "output": "$WORK/$m.cpu.h5", "backend": "cpu", "limit": $limit, "progress_interval": 60}
EOF
        extra=()   # dry run: the tested side packs smaller batches, so that the two runs differ at least in that
        [ "$MODE" = dry ] && extra=(--set token_budget=3000)
        ok_test=0; ok_ref=0
        one_run "$m" test "$TEST_BACKEND" "${extra[@]}" "${REUSE_ON[@]}" --dump-tokens "$WORK/$m.test.tokens.jsonl" \
            && ok_test=1
        one_run "$m" ref cpu "${REUSE_ON[@]}" --dump-tokens "$WORK/$m.ref.tokens.jsonl" && ok_ref=1
        if [ "$ok_test" = 1 ] && [ "$ok_ref" = 1 ]; then
            "$PY" tests/gpu/reward_compare.py h5 "$WORK/$m.ref.h5" "$WORK/$m.test.h5" --family "$fam" --name "$m" \
                --ref-label cpu --test-label "$([ "$MODE" = dry ] && echo 'cpu (standing in for cuda)' || echo cuda)" \
                --tol "$TEST_TOL" --dumps "$WORK/$m.ref.tokens.jsonl" "$WORK/$m.test.tokens.jsonl" --json "$STEPS" \
                || echo "(comparison failed: see above)"
            summarize
            CASES+=(--case "$m" "$fam" "$dir" "$WORK/$m.test.tokens.jsonl" "$WORK/$m.test.h5" "$WORK/$m.ref.h5")
            DONE_MODELS+=("$m $fam")
        elif [ "$ok_ref" = 1 ]; then   # the tested run failed: transformers still checks the CPU run
            CASES+=(--case "$m" "$fam" "$dir" "$WORK/$m.ref.tokens.jsonl" - "$WORK/$m.ref.h5")
        fi
    done
fi

# ---- batch: a row's reward must not depend on its batch mates ---------------------------------
if phase batch "$BATCH_S"; then
    [ "${#DONE_MODELS[@]}" -gt 0 ] || record FAIL "batch independence" "no model's $TEST_BACKEND run succeeded in phase compare"
    for mf in "${DONE_MODELS[@]}"; do
        read -r m fam <<< "$mf"
        [ "$(left)" -ge 3 ] || { record "not run" "$m: batch independence" "phase batch out of time"; continue; }
        # default token budget (16384: the whole slice in one or two batches) vs BATCH_BUDGET
        # (a prompt or two per batch): every prompt meets other batch mates, at other offsets
        one_run "$m" small "$TEST_BACKEND" --set token_budget="$BATCH_BUDGET" || continue
        # against the tested run of phase compare (dry run: packed at token_budget 3000)
        # dry run: recorded only (the CPU backend's products split by batch size: issue 13, not this script)
        gate=(); [ "$MODE" = dry ] && gate=(--record-only)
        "$PY" tests/gpu/reward_compare.py h5 "$WORK/$m.test.h5" "$WORK/$m.small.h5" --family "$fam" --name "$m" --exact "${gate[@]}" \
            --ref-label "$TEST_BACKEND, token_budget $([ "$MODE" = dry ] && echo 3000 || echo 16384)" \
            --test-label "$TEST_BACKEND, token_budget $BATCH_BUDGET (batch independence)" --tol "$TEST_TOL" \
            --json "$STEPS" || echo "(batch independence does not hold bit for bit: see above)"
        summarize
    done
fi

# ---- reuse: prefix reuse on the tested backend ------------------------------------------------
if phase reuse "$REUSE_S"; then
    if [ "${#REUSE_ON[@]}" -eq 0 ]; then
        why="$BIN run --help lists no job key prefix_reuse (issue 12's run integration is not in this build)"
        if [ "$MODE" = dry ]; then record "skipped (dry run)" "prefix reuse" "$why"
        else record FAIL "prefix reuse" "$why"; fi
    elif [ "${#DONE_MODELS[@]}" -eq 0 ]; then
        record FAIL "prefix reuse" "no model's $TEST_BACKEND run succeeded in phase compare"
    fi
    # the largest model first (the 0.5B shape: 24 layers, GQA); the tested run of phase
    # compare is the reuse-on run, its CPU run the reference
    for (( i = ${#DONE_MODELS[@]} - 1; i >= 0 && ${#REUSE_ON[@]} > 0; i-- )); do
        read -r m fam <<< "${DONE_MODELS[$i]}"
        [ "$(left)" -ge 3 ] || { record "not run" "$m: prefix reuse" "phase reuse out of time"; continue; }
        extra=(); [ "$MODE" = dry ] && extra=(--set token_budget=3000)   # as the tested run of phase compare
        one_run "$m" noreuse "$TEST_BACKEND" "${extra[@]}" --set prefix_reuse=false || continue
        tl=$([ "$MODE" = dry ] && echo 'cpu (standing in for cuda)' || echo cuda)
        "$PY" tests/gpu/reward_compare.py h5 "$WORK/$m.noreuse.h5" "$WORK/$m.test.h5" --family "$fam" --name "$m" \
            --ref-label "$tl, prefix_reuse=false" --test-label "$tl, prefix_reuse=true" --tol "$TEST_TOL" --json "$STEPS" \
            || echo "(prefix reuse changes the rewards beyond the rule: see above)"
        "$PY" tests/gpu/reward_compare.py h5 "$WORK/$m.ref.h5" "$WORK/$m.noreuse.h5" --family "$fam" --name "$m" \
            --ref-label "cpu, prefix_reuse=true" --test-label "$tl, prefix_reuse=false" --tol "$TEST_TOL" --json "$STEPS" \
            || echo "(comparison failed: see above)"
        summarize
    done
fi

# ---- transformers (fp32) ---------------------------------------------------------------------
if phase transformers "$HF_S"; then
    if [ "${#CASES[@]}" -eq 0 ]; then
        record FAIL "transformers" "no model was run"
    else
        if "$PY" -c 'import transformers' > /dev/null 2>&1; then
            impl=(--impl transformers --device "$([ "$MODE" = gpu ] && echo cuda || echo cpu)" --dtype float32)
        elif [ "$MODE" = dry ]; then
            echo "transformers is not installed: the PyTorch oracle stands in for it (dry run)"
            impl=(--impl oracle --dtype float32)
        else
            impl=()
            record FAIL "transformers" "cannot import transformers with $PY"
        fi
        # the tested run (bf16 tolerance on a GPU) is gated; the CPU run (fp32) is recorded beside it
        [ "${#impl[@]}" -gt 0 ] && capped "transformers" "$PY" tests/gpu/compare_transformers.py "${impl[@]}" \
            --tols "$TEST_TOL,fp32" --json "$STEPS" "${CASES[@]}"
        rc=$?
        [ "${#impl[@]}" -gt 0 ] && [ "$rc" -gt 1 ] && [ "$rc" -ne 124 ] \
            && record FAIL "transformers" "compare_transformers.py exit $rc (see log.txt)"
        summarize
    fi
fi

# ---- bench --------------------------------------------------------------------------------------
if phase bench "$BENCH_S" "$TOTAL_S"; then
    bench_args=()
    [ "$MODE" = dry ] && bench_args=(--cpu-dry-run)
    BENCH_LIMIT=$LIMIT_BENCH
    [ "$MODE" = dry ] && BENCH_LIMIT=${LIMIT_BENCH_DRY:-2}
    # bench_gpu.sh: half the time for transformers (HF_RESERVE_S), the last 20 s for the table;
    # SKIP_BUILD: built above; SECOND_RUN_MAX_S=-1: the one prmeval run (with --dump-tokens) is timed
    capped "bench" env OUT="$WORK/bench-out" WORK="$WORK/bench" BUILD="$B" SKIP_BUILD=1 LIMIT="$BENCH_LIMIT" \
        SWEEP="$BENCH_SWEEP" SECOND_RUN_MAX_S=-1 DEADLINE_S=$(( $(left) - 5 )) HF_BUDGET_S=60 \
        HF_RESERVE_S=$(( $(left) / 2 )) PY="$PY" \
        bash bench/bench_gpu.sh "${bench_args[@]}" > "$WORK/bench.log" 2>&1
    rc=$?
    cat "$WORK/bench.log"
    cp "$WORK/bench-out/bench.txt" "$WORK/bench-out/bench.json" "$RESULTS/" 2>/dev/null
    if [ "$rc" -eq 0 ] && [ -f "$RESULTS/bench.json" ]; then
        record pass "bench" "$("$PY" bench/hf_baseline.py oneline "$RESULTS/bench.json" 2>&1)"
    elif [ "$rc" -ne 124 ]; then
        record FAIL "bench" "bench_gpu.sh exit $rc: $(tail -1 "$WORK/bench.log")"
    fi
fi
finish
