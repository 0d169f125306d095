# labels: mpi
# Writing results (issue 13, item 1; docs/cli.md "Output files"): a full disk
# under mpirun is exit 4 naming the file (libhdf5 used to crash at
# MPI_Finalize), and so is a file size limit; a failed write leaves the
# previous JSON+HDF5 pair untouched; two runs writing the same outputs at once
# leave a matching pair; an output naming an input or another output is
# refused before any work; a symbolic link is written through, a FIFO with no
# reader is an error (no hang), /dev/null and /dev/stdout (through links to
# them) work; a table
# written to a full disk (> /dev/full) is exit 4.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
cd "$T" || exit 1
D="$PRMEVAL_SRC/data/prmbench"

# Two predictions files with different metrics: every step valid, every step wrong.
cp "$PRMEVAL_SRC/data/baselines/all_valid.jsonl" valid.jsonl
sed 's/true/false/g' valid.jsonl > wrong.jsonl
ev() { timeout 120 "$PRMEVAL" eval --data "$D" --quiet "$@"; }
# prmscore <json> <h5>: "json_score h5_score" of a pair
pair_scores() {
  "$PY" - "$1" "$2" <<'PY'
import h5py, json, sys
j = json.load(open(sys.argv[1]))
with h5py.File(sys.argv[2], "r") as f:
    h = f["/metrics/pooled"].attrs["prmscore"]
print(round(float(j["prmscore"]["overall"]), 12), round(float(h), 12))
PY
}
same_pair() {  # name: the JSON and the HDF5 file say the same PRMScore
  local s
  s=$(pair_scores "$1.json" "$1.h5" 2>&1) || { fail "$1: pair unreadable: $s"; return 1; }
  set -- $s
  [ "$1" = "$2" ] || { fail "mismatched pair: JSON PRMScore $1, HDF5 $2"; return 1; }
}

# --- 1. a file size limit (any user): exit 4 naming the file, the old pair kept
ev --predictions valid.jsonl --out lim.h5 --json lim.json 2>/dev/null || fail "first eval"
cp lim.h5 lim.h5.orig && cp lim.json lim.json.orig
(ulimit -f 64; ev --predictions wrong.jsonl --out lim.h5 --json lim.json) 2>err.txt
rc=$?
if [ $rc -ne 4 ] || ! grep -q "lim.h5: write failed.*File too large" err.txt; then
  fail "file size limit: exit $rc (want 4 naming lim.h5)"; cat err.txt
elif ! cmp -s lim.h5 lim.h5.orig || ! cmp -s lim.json lim.json.orig; then
  fail "file size limit: the previous pair was changed"
elif ls ./*.tmp >/dev/null 2>&1; then
  fail "file size limit: temporary files left: $(ls ./*.tmp)"
else
  ok "file size limit: exit 4, previous pair untouched, no temporary file left"
fi

# --- 2. a full disk under mpirun (a 100 KiB tmpfs; needs root or passwordless sudo to mount)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
mkdir -p small
if $SUDO mount -t tmpfs -o size=160k tmpfs small 2>/dev/null; then
  trap '$SUDO umount "$T/small" 2>/dev/null' EXIT
  $SUDO chmod 777 small
  ev --predictions valid.jsonl --out small/r.h5 --json small/r.json 2>/dev/null || fail "eval onto the tmpfs"
  cp small/r.h5 r.h5.orig && cp small/r.json r.json.orig
  dd if=/dev/zero of=small/fill bs=1k count=40 2>/dev/null  # room for neither a second HDF5 file nor both
  timeout 120 mpirun -np 2 --oversubscribe "$PRMEVAL" eval --data "$D" --predictions wrong.jsonl --quiet \
      --out small/r.h5 --json small/r.json >out.txt 2>&1
  rc=$?
  if [ $rc -ne 4 ] || grep -qi "segmentation\|signal" out.txt || ! grep -q "small/r.h5: write failed.*No space left" out.txt; then
    fail "full disk under mpirun: exit $rc (want 4 naming small/r.h5, no crash)"; cat out.txt
  elif ! cmp -s small/r.h5 r.h5.orig || ! cmp -s small/r.json r.json.orig; then
    fail "full disk under mpirun: the previous pair was changed"
  elif ls small/*.tmp >/dev/null 2>&1; then
    fail "full disk: temporary files left"
  else
    ok "full disk under mpirun: exit 4 naming the file, previous pair untouched"
  fi
  # the disk full from the first HDF5 write on (where libhdf5 1.10 crashed at MPI_Finalize)
  rm -f small/*
  dd if=/dev/zero of=small/fill bs=1k count=100 2>/dev/null
  timeout 120 mpirun -np 2 --oversubscribe "$PRMEVAL" eval --data "$D" --predictions wrong.jsonl --quiet \
      --out small/r.h5 --json small/r.json >out.txt 2>&1
  rc=$?
  if [ $rc -ne 4 ] || grep -qi "segmentation\|signal" out.txt || ! grep -q "small/r.h5: write failed" out.txt; then
    fail "full disk from the start under mpirun: exit $rc (want 4, no crash)"; cat out.txt
  elif [ -e small/r.h5 ] || [ -e small/r.json ]; then
    fail "full disk from the start: a file of the pair was published"
  else
    ok "full disk from the start under mpirun: exit 4, neither file published"
  fi
  $SUDO umount small
  trap - EXIT
else
  echo "skip full disk under mpirun: cannot mount a tmpfs here (needs root or passwordless sudo)"
fi

# --- 3. two runs with the same outputs at once, three times: a matching pair each time
for round in 1 2 3; do
  ev --predictions valid.jsonl --out same.h5 --json same.json 2>/dev/null &
  a=$!
  ev --predictions wrong.jsonl --out same.h5 --json same.json 2>/dev/null &
  b=$!
  wait $a || fail "concurrent run A (round $round)"
  wait $b || fail "concurrent run B (round $round)"
  same_pair same || break
done
ls ./*.tmp >/dev/null 2>&1 && fail "concurrent runs left temporary files"
[ $fails -eq 0 ] && ok "concurrent runs with the same outputs: a matching pair"

# --- 4. outputs that name inputs or each other: refused before any work (exit 2, nothing written)
cp valid.jsonl in.jsonl
before=$(sha256sum in.jsonl)
check_refused() {  # what regex args...
  local what="$1" re="$2"
  shift 2
  ev "$@" >out.txt 2>err.txt
  local rc=$?
  if [ $rc -ne 2 ] || ! grep -qE -- "$re" err.txt || grep -q "^data:" err.txt; then
    fail "$what: exit $rc (want 2 before any work, matching '$re')"; cat err.txt
  else
    ok "$what: $(head -n 1 err.txt)"
  fi
}
check_refused "--out names the predictions" "--out in.jsonl: is one of this run's inputs" \
  --predictions in.jsonl --out in.jsonl
check_refused "--json names the predictions through a symlink" "is one of this run's inputs" \
  --predictions in.jsonl --json "$(ln -sf in.jsonl alias.json && echo alias.json)"
check_refused "--json names a data file" "is a file in the input folder|is one of this run's inputs" \
  --predictions in.jsonl --json "$D/$(ls "$D" | head -n 1)"
check_refused "--json and --out the same file" "the same file as another output" \
  --predictions in.jsonl --out r.h5 --json ./r.h5
[ "$(sha256sum in.jsonl)" = "$before" ] || fail "the predictions file was changed"
cat > job.json <<EOF
{"model": "m", "family": "qwen-prm", "data": "$D", "output": "job.json", "backend": "cpu"}
EOF
mkdir -p m
timeout 60 "$PRMEVAL" run job.json >out.txt 2>err.txt
rc=$?
if [ $rc -ne 2 ] || ! grep -q 'key "output":.*is one of this run' err.txt; then
  fail "run: output naming the job file: exit $rc"; cat err.txt
else
  ok "run: output naming the job file refused: $(head -n 1 err.txt)"
fi

# --- 5. links, devices, FIFOs
# Never a /dev path itself as an output here: an unfixed prmeval run as root
# would rename its temporary file onto /dev/null. Links to them are as good.
ln -sf /dev/null devnull.link
ln -sf /proc/self/fd/1 stdout.link
ev --predictions valid.jsonl --out real.h5 2>/dev/null
ln -sf real.h5 link.h5
ev --predictions wrong.jsonl --out link.h5 --json devnull.link 2>/dev/null
rc=$?
if [ $rc -ne 0 ] || [ ! -L link.h5 ] || ! "$PY" -c 'import h5py,sys; h5py.File(sys.argv[1],"r")' real.h5; then
  fail "a symbolic link as --out (exit $rc): not written through"
else
  ok "a symbolic link as --out is written through (the link stays), a link to /dev/null as --json works"
fi
mkfifo fifo
timeout 30 "$PRMEVAL" eval --data "$D" --predictions valid.jsonl --quiet --json fifo 2>err.txt
rc=$?
if [ $rc -ne 4 ] || ! grep -q "fifo: cannot write: a FIFO that no process reads" err.txt; then
  fail "a FIFO nobody reads: exit $rc (want 4, no hang)"; cat err.txt
else
  ok "a FIFO nobody reads: exit 4, no hang"
fi
[ -p fifo ] || fail "the FIFO was replaced"
[ -c /dev/null ] || fail "/dev/null is no longer a character device"
timeout 60 "$PRMEVAL" eval --data "$D" --predictions valid.jsonl --quiet --json stdout.link 2>/dev/null | \
  "$PY" -c 'import json,sys; json.load(sys.stdin)' || fail "--json into a pipe (a link to /proc/self/fd/1, as /dev/stdout is)"

# --- 6. the table onto a full disk
timeout 60 "$PRMEVAL" eval --data "$D" --predictions valid.jsonl >/dev/full 2>err.txt
rc=$?
if [ $rc -ne 4 ] || ! grep -q "standard output" err.txt; then
  fail "> /dev/full: exit $rc (want 4)"; cat err.txt
else
  ok "> /dev/full: exit 4"
fi

finish "all output safety checks passed"
