# labels: mpi
# Prefix reuse (issue 12; docs/run.md "Prefix reuse") end to end on the CPU, on
# a tiny model (2 layers) of each of the 9 registered families, each with its family's
# tokenizer as `prmeval tiny-model` writes it, over the first 50 problems of
# the full benchmark (data/prmbench: 466 prompts):
#  - with reuse, fewer tokens are computed than the prompts hold (at most
#    MAXRATIO of them), and /run records prefix_reuse and the bound;
#  - rewards with reuse equal those without within 1e-5 relative; labels,
#    metrics and every other dataset are bitwise identical. A raw logit
#    (math-minos) or a difference of probabilities (pure-prm: p1 - p0) has no
#    relative precision near 0: its scale is floored at 0.1 (an absolute 1e-6),
#    as test_run_oracle.py does for raw logits; probabilities (every other
#    family) are compared as they are;
#  - prefix_cache_mb=0 (nothing kept: every ancestor is recomputed in its
#    child's batch) with token_budget 300 (most problems straddle a batch
#    boundary) recomputes tokens and gives bitwise the same results as the
#    default bound and budget.
# Then on qwen-prm and math-shepherd over 130 problems (3 logical shards):
#  - with reuse, 1, 2 and 3 MPI ranks give bitwise identical results, and so
#    do token_budget 300 with and without a cache (more batch boundaries inside
#    problems). Rank and budget invariance is the schedule's, common to every
#    family; the two cover a Qwen2 model with q/k/v biases and a Mistral one.
# math-shepherd runs with sliding_window 48 in its config.json, so that the
# window (counted in absolute positions) cuts through shared prefixes.
# Kill and resume: test_prefix_resume.sh; memory: test_prefix_memory.py.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
CHECK="$PRMEVAL_SRC/tests/scripts/prefix_h5_check.py"
DATA="$PRMEVAL_SRC/data/prmbench"
LIMIT=50
LIMIT_RANKS=130   # 3 logical shards of 64 problems: every rank of 3 has one
CUT=256
BUDGET=2048
MAXRATIO=0.6   # tokens computed / prompt tokens with reuse: about 0.3 at this cut (the shared head
               # of a problem's prompts is most of their first 256 tokens); 0.8 when only the tails
               # after the last read-out are saved (a problem's prompts not brought together)
REL=1e-5
export OMP_NUM_THREADS=1   # the results do not depend on it; the CI machine has 2 cores for everything

run1() {  # family name [--set ...]: one rank, no MPI
    local fam="$1" name="$2"
    shift 2
    prmeval_run "$T/$fam.job.json" --quiet --set output="$T/$fam.$name.h5" "$@" \
        2> "$T/$fam.$name.log" || { cat "$T/$fam.$name.log"; fail "$fam: run $name"; return 1; }
}
runn() {  # np family name [--set ...]
    local np="$1" fam="$2" name="$3"
    shift 3
    prmeval_mpirun "$np" "$T/$fam.job.json" --quiet --set output="$T/$fam.$name.h5" \
        "$@" 2> "$T/$fam.$name.log" || { cat "$T/$fam.$name.log"; fail "$fam: run $name"; return 1; }
}

for fam in qwen-prm math-shepherd rlhflow skywork reasoneval-7b reasoneval-34b math-minos pure-prm llemma-prm; do
    fails_before=$fails
    m="$T/$fam"
    tiny_model "$m" "$fam" 5 2 || { fail "$fam: tiny-model"; continue; }
    if [ "$fam" = math-shepherd ]; then
        "$PY" -c 'import json,sys; p=sys.argv[1]; c=json.load(open(p)); c["sliding_window"]=48; json.dump(c, open(p,"w"))' \
            "$m/config.json"
    fi
    cat > "$T/$fam.job.json" <<EOF
{"model": "$m", "family": "$fam", "data": "$DATA", "output": "unset.h5", "backend": "cpu",
 "max_tokens": $CUT, "token_budget": $BUDGET, "limit": $LIMIT, "progress_interval": 0.2}
EOF
    run1 "$fam" off --set prefix_reuse=false || continue
    run1 "$fam" on || continue
    run1 "$fam" bound0 --set prefix_cache_mb=0 --set token_budget=300 || continue
    "$PY" "$CHECK" reuse "$T/$fam.off.h5" 0 1 $((1024 << 20)) 0 || fail "$fam: the run without reuse"
    "$PY" "$CHECK" reuse "$T/$fam.on.h5" 1 "$MAXRATIO" $((1024 << 20)) 0 || fail "$fam: the run with reuse"
    "$PY" "$CHECK" reuse "$T/$fam.bound0.h5" 1 1 0 + || fail "$fam: the run with prefix_cache_mb=0"
    case "$fam" in math-minos|pure-prm) floor=0.1 ;; *) floor=0 ;; esac
    close=$("$PY" "$CHECK" close "$T/$fam.off.h5" "$T/$fam.on.h5" "$REL" "$floor") ||
        { echo "$close"; fail "$fam: reuse changes more than the rewards' rounding"; }
    "$PY" "$CHECK" same "$T/$fam.on.h5" "$T/$fam.bound0.h5" ||
        fail "$fam: prefix_cache_mb=0 (recomputed ancestors) changes the results"
    grep -q '^done: .* of .* prompt tokens computed (0\.[0-9]*, prefix_reuse on)' "$T/$fam.on.log" ||
        { fail "$fam: the summary line lacks the tokens computed"; grep '^done' "$T/$fam.on.log"; }
    grep -q '^progress: .* of .* prompt tokens computed' "$T/$fam.on.log" ||
        fail "$fam: no progress line with the tokens computed"
    if [ "$fails" = "$fails_before" ]; then
        read -r tok prompt ratio < <("$PY" "$CHECK" ratio "$T/$fam.on.h5")
        read -r _ _ ratio0 < <("$PY" "$CHECK" ratio "$T/$fam.bound0.h5")
        echo "$fam: $tok of $prompt prompt tokens computed ($ratio; $ratio0 with prefix_cache_mb=0), $close;" \
            "prefix_cache_mb=0 identical"
    fi
done

for fam in qwen-prm math-shepherd; do
    fails_before=$fails
    run1 "$fam" ref --set limit=$LIMIT_RANKS || continue
    runn 2 "$fam" r2 --set limit=$LIMIT_RANKS || continue
    runn 3 "$fam" r3 --set limit=$LIMIT_RANKS || continue
    run1 "$fam" b300 --set limit=$LIMIT_RANKS --set token_budget=300 || continue
    run1 "$fam" b300c0 --set limit=$LIMIT_RANKS --set token_budget=300 --set prefix_cache_mb=0 || continue
    "$PY" "$CHECK" reuse "$T/$fam.ref.h5" 1 "$MAXRATIO" $((1024 << 20)) 0 || fail "$fam: $LIMIT_RANKS problems with reuse"
    "$PY" "$CHECK" same "$T/$fam.ref.h5" "$T/$fam.r2.h5" || fail "$fam: 2 ranks differ from 1"
    "$PY" "$CHECK" same "$T/$fam.ref.h5" "$T/$fam.r3.h5" || fail "$fam: 3 ranks differ from 1"
    "$PY" "$CHECK" same "$T/$fam.ref.h5" "$T/$fam.b300.h5" || fail "$fam: token_budget 300 changes the results"
    "$PY" "$CHECK" same "$T/$fam.ref.h5" "$T/$fam.b300c0.h5" ||
        fail "$fam: token_budget 300 with prefix_cache_mb=0 changes the results"
    "$PY" "$CHECK" reuse "$T/$fam.b300.h5" 1 "$MAXRATIO" $((1024 << 20)) 0 || fail "$fam: token_budget 300"
    if [ "$fails" = "$fails_before" ]; then
        echo "$fam: $LIMIT_RANKS problems: 1, 2, 3 ranks, token_budget 300 with and without a cache identical"
    fi
done

finish "prefix reuse: every family within $REL of the runs without it, labels identical"
