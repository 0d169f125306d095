# labels: mpi
# Resume after preemption (docs/run.md "Resume"): `prmeval run` with a
# checkpoint folder journals every finished logical shard; a run killed with
# SIGKILL at 3 ranks and started again with 2 (or, killed later, with 3 again,
# next to a temporary file left by a killed writer) reuses the finished shards
# and gives metrics byte-identical to an uninterrupted run; a corrupt journal
# (one flipped byte) and a foreign one (another job's journal of the same
# shard) are detected, reported and redone; SIGTERM to the ranks and SIGUSR1
# to mpirun (which forwards it) make every rank stop with exit code 75, and a
# resume then finishes identically.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

# The first 512 problems of the benchmark (8 logical shards) cut to 160 tokens,
# on a very small model: about a second of model time in the release build,
# long enough to interrupt between shards, and a minute under ASan (-O0).
tiny_model "$T/m" qwen-prm 4 1
cat > "$T/job.json" <<EOF
{"model": "m", "family": "qwen-prm", "data": "$PRMEVAL_SRC/data/prmbench", "output": "ref.h5",
 "json": "ref.json", "backend": "cpu", "max_tokens": 160, "token_budget": 2048, "limit": 512, "progress_interval": 1}
EOF
NSHARDS=8
run() {  # np name checkpoint_dir [more args]
    local np="$1" name="$2" ck="$3"
    shift 3
    prmeval_mpirun "$np" "$T/job.json" --quiet --set output="$T/$name.h5" \
        --set json="$T/$name.json" --set checkpoint_dir="$ck" "$@"
}
same_as_ref() {  # name what
    if [ "$(json_sans_run "$T/ref.json")" != "$(json_sans_run "$T/$1.json")" ]; then
        fail "$2: JSON metrics differ from the uninterrupted run"
    fi
    for g in /metrics /samples /steps /analysis; do
        h5diff "$T/ref.h5" "$T/$1.h5" "$g" >/dev/null || fail "$2: HDF5 $g differs from the uninterrupted run"
    done
}
# Starts a run in the background (PID: mpirun) and returns once it has
# journalled a shard (or the given number of shards; or ended).
start_run() {  # np name checkpoint_dir [journals to wait for, default 1]
    start_and_wait "$3" "${4:-1}" "$1" "$T/job.json" --quiet --set output="$T/$2.h5" --set json="$T/$2.json" \
        --set checkpoint_dir="$3" > "$T/$2.log" 2>&1
}

# 1. the uninterrupted run (2 ranks, no checkpoint folder)
run 2 ref "" 2> "$T/ref.log" || { cat "$T/ref.log"; fail "uninterrupted run"; exit 1; }

# 2. SIGKILL at 3 ranks after the first journal, then resume at 2 ranks
start_run 3 kill "$T/ck"
signal_ranks KILL
wait_run
[ "$rc" != 0 ] || fail "the killed run exited 0"
n=$(journals "$T/ck")
echo "killed with $n of $NSHARDS shards journalled"
if [ "$n" -lt 1 ] || [ "$n" -ge "$NSHARDS" ]; then fail "the kill did not land mid-run ($n journals)"; fi
ls "$T/ck" | grep -v '^shard-[0-9]*\.journal$' | grep -q . && echo "note: temporary files left by the kill: $(ls "$T/ck")"
run 2 resumed "$T/ck" 2> "$T/resumed.log" || { cat "$T/resumed.log"; fail "resume after SIGKILL"; }
grep -q "^resume: $n of $NSHARDS shards reused" "$T/resumed.log" || { fail "the log must say $n shards were reused"; grep resume "$T/resumed.log"; }
same_as_ref resumed "resume after SIGKILL (3 -> 2 ranks)"
[ "$(journals "$T/ck")" = "$NSHARDS" ] || fail "a finished run must have journalled every shard"

# 2b. SIGKILL at 3 ranks later in the run (half the shards), then resume with the
#     same number of ranks; a writer killed mid-write leaves a temporary file
#     (planted here: half of a journal under the temporary name of a shard still
#     to do), which must be ignored, neither trusted nor reported as corrupt
start_run 3 kill3 "$T/ck3" $((NSHARDS / 2))
signal_ranks KILL
wait_run
[ "$rc" != 0 ] || fail "the second killed run exited 0"
n3=$(journals "$T/ck3")
echo "killed later with $n3 of $NSHARDS shards journalled"
if [ "$n3" -lt 1 ] || [ "$n3" -ge "$NSHARDS" ]; then fail "the second kill did not land mid-run ($n3 journals)"; fi
todo=""
for s in $(seq 0 $((NSHARDS - 1))); do [ -e "$T/ck3/shard-$s.journal" ] || { todo=$s; break; }; done
if [ -n "$todo" ]; then
    some=$(find "$T/ck3" -maxdepth 1 -name 'shard-*.journal' | head -n1)
    head -c $(( $(stat -c %s "$some") / 2 )) "$some" > "$T/ck3/.shard-$todo.journal.deadhost.999999.tmp"
fi
run 3 resumed3 "$T/ck3" 2> "$T/resumed3.log" || { cat "$T/resumed3.log"; fail "resume after SIGKILL (3 -> 3 ranks)"; }
grep -q "^resume: $n3 of $NSHARDS shards reused .* 0 corrupt or foreign journals redone" "$T/resumed3.log" ||
    { fail "3 -> 3: the log must say $n3 shards were reused and none redone"; grep resume "$T/resumed3.log"; }
grep -q "warning:.*journal" "$T/resumed3.log" && fail "3 -> 3: a temporary file was reported as a journal"
same_as_ref resumed3 "resume after SIGKILL (3 -> 3 ranks, a stale temporary file)"
[ "$(journals "$T/ck3")" = "$NSHARDS" ] || fail "3 -> 3: a finished run must have journalled every shard"

# 3. a corrupt journal (one byte flipped) and a foreign one (another job's journal of the same shard)
j3="$T/ck/shard-3.journal"
size=$(stat -c %s "$j3")
"$PY" - "$j3" "$((size / 2))" <<'EOF'
import sys
path, at = sys.argv[1], int(sys.argv[2])
b = bytearray(open(path, "rb").read())
b[at] ^= 0x01
open(path, "wb").write(bytes(b))
EOF
run 2 other "$T/ck_other" --set threshold=0.3 --set limit=384 2> "$T/other.log" || { cat "$T/other.log"; fail "other job"; }
cp "$T/ck_other/shard-5.journal" "$T/ck/shard-5.journal"
run 2 repaired "$T/ck" 2> "$T/repaired.log" || { cat "$T/repaired.log"; fail "resume with bad journals"; }
grep -q "shard-3.journal: corrupt or foreign journal" "$T/repaired.log" || fail "the flipped byte was not reported"
grep -q "shard-5.journal: corrupt or foreign journal" "$T/repaired.log" || fail "the foreign journal was not reported"
grep -q "^resume: $((NSHARDS - 2)) of $NSHARDS shards reused .* 2 corrupt or foreign journals redone" "$T/repaired.log" ||
    { fail "the log must say 2 journals were redone"; grep resume "$T/repaired.log"; }
same_as_ref repaired "resume with a corrupt and a foreign journal"
run 2 again "$T/ck" 2> "$T/again.log" || fail "rerun after repair"
grep -q "^resume: $NSHARDS of $NSHARDS shards reused .* 0 corrupt" "$T/again.log" || fail "redone journals were not rewritten"
same_as_ref again "a rerun from journals only"

# 4. SIGTERM to the ranks mid-run: exit 75, one message, then a resume finishes identically
start_run 3 term "$T/ck_term"
signal_ranks TERM
wait_run
[ "$rc" = 75 ] || { fail "SIGTERM: exit $rc, expected 75"; cat "$T/term.log"; }
[ "$(grep -c '^prmeval run: stopped by SIGTERM before the end' "$T/term.log")" = 1 ] ||
    { fail "SIGTERM: rank 0 must say once that the run stopped"; cat "$T/term.log"; }
[ ! -e "$T/term.h5" ] && [ ! -e "$T/term.json" ] || fail "a stopped run must not write results"
echo "SIGTERM: stopped with $(journals "$T/ck_term") of $NSHARDS shards journalled"
run 2 term_resumed "$T/ck_term" 2> "$T/term_resumed.log" || { cat "$T/term_resumed.log"; fail "resume after SIGTERM"; }
same_as_ref term_resumed "resume after SIGTERM"

# 5. SIGUSR1 (SLURM's warning signal) to mpirun, which forwards it to every rank
start_run 2 usr1 "$T/ck_usr1"
kill -USR1 "$PID"
wait_run
[ "$rc" = 75 ] || { fail "SIGUSR1: exit $rc, expected 75"; cat "$T/usr1.log"; }
grep -q "stopped by SIGUSR1" "$T/usr1.log" || fail "SIGUSR1 not named in the message"
run 3 usr1_resumed "$T/ck_usr1" 2> "$T/usr1_resumed.log" || { cat "$T/usr1_resumed.log"; fail "resume after SIGUSR1"; }
same_as_ref usr1_resumed "resume after SIGUSR1 (2 -> 3 ranks)"

finish "resume: all checks passed"
