# Journals, checkpoint_dir and stop requests at start-up (issue 13, item 3;
# docs/run.md "Resume"): a checkpoint_dir that cannot be a writable folder, and
# a journal name taken by a folder, stop the run before any work (exit 4,
# naming them); a journal that is a FIFO or absurdly large (a sparse 1 GiB
# file) is reported corrupt and redone, without a hang or an allocation of its
# size; a SIGTERM that is already pending when prmeval starts (blocked by the
# launcher) is honoured: exit 75 before any shard, no backend started.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
cd "$T" || exit 1

tiny_model m qwen-prm 3 1 || { echo "FAIL: tiny-model"; exit 1; }
cat > job.json <<EOF
{"model": "m", "family": "qwen-prm", "data": "$PRMEVAL_SRC/data/prmbench", "output": "r.h5",
 "backend": "cpu", "max_tokens": 96, "limit": 64, "checkpoint_dir": "ck"}
EOF
run_job() {  # what want_rc regex [--set ...]: prmeval run job.json --quiet, a fresh r.h5
  local what="$1" want="$2" re="$3"
  shift 3
  rm -f r.h5
  EXPECT_TIMEOUT=120 expect "$what" "$want" "$re" "$PRMEVAL" run job.json --quiet "$@"
}

# 1. checkpoint_dir: a file, or under a file: exit 4 before any work (no backend line)
touch afile
run_job "checkpoint_dir is a file" 4 'key "checkpoint_dir": journal: .afile. is not a folder' --set checkpoint_dir=afile
grep -q "^backend:" out.txt && fail "checkpoint_dir is a file: the run started"
run_job "checkpoint_dir under a file" 4 'key "checkpoint_dir": journal: cannot create folder .afile/x.' \
  --set checkpoint_dir=afile/x
run_job "checkpoint_dir created when missing" 0 "^done: " --set checkpoint_dir=new/ck
[ -f new/ck/shard-0.journal ] || fail "no journal in the created checkpoint_dir"

# 2. a journal name taken by a folder: exit 4 before any work
rm -rf ck && mkdir -p ck/shard-0.journal
run_job "journal name taken by a folder" 4 "ck/shard-0.journal' is a folder, where the shard's journal must go"
grep -q "^backend:" out.txt && fail "journal name taken by a folder: the run started"
rm -rf ck

# 3. a FIFO journal: corrupt, redone, no hang; a sparse 1 GiB journal: corrupt, redone, not read
mkdir -p ck && mkfifo ck/shard-0.journal
run_job "FIFO journal" 0 "ck/shard-0.journal: corrupt journal: not a regular file; the shard is redone"
[ -f ck/shard-0.journal ] || fail "FIFO journal: not replaced by a real journal"
rm -rf ck && mkdir -p ck && truncate -s 1G ck/shard-0.journal
run_job "sparse 1 GiB journal" 0 "corrupt journal: 1073741824 bytes, more than the [0-9]+ a shard's journal can hold"
[ "$(stat -c %s ck/shard-0.journal)" -lt 1000000 ] || fail "sparse journal: not replaced"

# 4. a SIGTERM pending before the first instruction (blocked by the launcher): exit 75, nothing run
rm -rf ck r.h5
cat > pending.py <<'PY'
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
os.kill(os.getpid(), signal.SIGTERM)  # pending: the mask and the pending signal survive exec
os.execv(sys.argv[1], sys.argv[1:])
PY
start=$SECONDS
timeout 120 "$PY" pending.py "$PRMEVAL" run job.json --quiet >out.txt 2>&1
rc=$?
if [ $rc -ne 75 ] || ! grep -q "stopped by SIGTERM before the end: 0 of 1 shards are done" out.txt; then
  fail "pending SIGTERM at start: exit $rc (want 75)"; tail -n 5 out.txt
elif ! grep -q "no backend started (stopping: SIGTERM)" out.txt; then
  fail "pending SIGTERM at start: a backend was started"; cat out.txt
else
  ok "pending SIGTERM at start: exit 75 in $((SECONDS - start)) s, no backend started"
fi
[ -e r.h5 ] && fail "pending SIGTERM: results were written"

finish "all journal and start-up checks passed"
