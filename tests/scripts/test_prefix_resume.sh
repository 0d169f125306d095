# labels: mpi
# Prefix reuse across a stop and a resume (issue 12; docs/run.md "Prefix
# reuse" and "What the job hash covers"), on the first 512 problems of the
# benchmark (8 logical shards) with a tiny qwen-prm model:
#  - SIGTERM to the ranks mid-run (2 ranks) stops with 75; the resume (3
#    ranks) reuses the journalled shards and gives results bitwise identical
#    to an uninterrupted run with reuse;
#  - the same journals under prefix_reuse=false are another job's: none is
#    reused (each is reported and redone), and the results are those of an
#    uninterrupted run without reuse: the two are never mixed;
#  - under prefix_cache_mb=0 (the bound is not in the job hash on the CPU: it
#    changes no number) the journals are reused and the results are identical.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
CHECK="$PRMEVAL_SRC/tests/scripts/prefix_h5_check.py"
export OMP_NUM_THREADS=1
NSHARDS=8

tiny_model "$T/m" qwen-prm 6 2
cat > "$T/job.json" <<EOF
{"model": "m", "family": "qwen-prm", "data": "$PRMEVAL_SRC/data/prmbench", "output": "unset.h5",
 "backend": "cpu", "max_tokens": 160, "token_budget": 1024, "limit": 512, "progress_interval": 1}
EOF
run() {  # np name checkpoint_dir [--set ...]
    local np="$1" name="$2" ck="$3"
    shift 3
    prmeval_mpirun "$np" "$T/job.json" --quiet --set output="$T/$name.h5" \
        --set checkpoint_dir="$ck" "$@" 2> "$T/$name.log" || { cat "$T/$name.log"; fail "run $name"; return 1; }
}

# uninterrupted references, with and without reuse
run 2 ref "" || exit 1
run 2 ref_off "" --set prefix_reuse=false || exit 1
"$PY" "$CHECK" reuse "$T/ref.h5" 1 0.6 $((1024 << 20)) 0 || fail "the reference run does not share prefixes"

# SIGTERM to every rank (as SLURM signals every task) once a shard is journalled
start_and_wait "$T/ck" 1 2 "$T/job.json" --quiet --set output="$T/term.h5" --set checkpoint_dir="$T/ck" \
    > "$T/term.log" 2>&1
signal_ranks TERM
wait_run
[ "$rc" = 75 ] || { fail "SIGTERM: exit $rc, expected 75"; cat "$T/term.log"; }
n=$(journals "$T/ck")
echo "stopped with $n of $NSHARDS shards journalled"
if [ "$n" -lt 1 ] || [ "$n" -ge "$NSHARDS" ]; then fail "the stop did not land mid-run ($n journals)"; fi
cp -r "$T/ck" "$T/ck_off"
cp -r "$T/ck" "$T/ck_bound"

# resume with reuse, 3 ranks
if run 3 resumed "$T/ck"; then
    grep -q "^resume: $n of $NSHARDS shards reused" "$T/resumed.log" ||
        { fail "the resume must reuse the $n journalled shards"; grep resume "$T/resumed.log"; }
    "$PY" "$CHECK" same "$T/ref.h5" "$T/resumed.h5" || fail "stop and resume with reuse: results differ"
fi

# the same journals for a job without reuse: another job
if run 2 resumed_off "$T/ck_off" --set prefix_reuse=false; then
    grep -q "^resume: 0 of $NSHARDS shards reused .* $n corrupt or foreign journals redone" "$T/resumed_off.log" ||
        { fail "journals with reuse were taken by a job without it"; grep resume "$T/resumed_off.log"; }
    [ "$(grep -c 'belongs to another job' "$T/resumed_off.log")" = "$n" ] ||
        fail "each foreign journal must be reported"
    "$PY" "$CHECK" same "$T/ref_off.h5" "$T/resumed_off.h5" ||
        fail "the job without reuse does not give the results of an uninterrupted run without reuse"
fi

# another cache bound: the same job (CPU)
if run 2 resumed_bound "$T/ck_bound" --set prefix_cache_mb=0; then
    grep -q "^resume: $n of $NSHARDS shards reused" "$T/resumed_bound.log" ||
        { fail "prefix_cache_mb=0 must keep the journals (CPU)"; grep resume "$T/resumed_bound.log"; }
    "$PY" "$CHECK" same "$T/ref.h5" "$T/resumed_bound.h5" || fail "resume under prefix_cache_mb=0: results differ"
fi

finish "prefix reuse: stop and resume identical; journals with and without reuse never mixed"
