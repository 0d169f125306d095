# labels: mpi slow nosan
# First contact (issue 13, item 6): the README's main command (scripts/demo.sh)
# installs only what the run needs (no PyTorch, SLURM, munge, h5py or npm
# oracles: those are the tests', which scripts/test.sh installs); the demo job,
# run as the demo runs it (jobs/demo.json from the folder above, 2 ranks),
# shows its paths as the user would type them (build/demo/..., not
# jobs/../build/demo/...), says each rank's backend once ("cpu (N threads)",
# not "cpu, cpu (N threads)"), and prints the PRMScore the README claims.
# Not in the sanitizer build: the demo's 386k tokens at -O0 take too long.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

# 1. what scripts/demo.sh's deps line installs, with apt, dpkg and npm stubbed
#    (nothing counts as installed; every call is logged, nothing is installed)
stubs="$T/stubs"
mkdir -p "$stubs"
for tool in apt-get sudo npm; do
  printf '#!/bin/sh\necho "%s $*" >> "%s/calls.log"\n' "$tool" "$T" > "$stubs/$tool"
done
printf '#!/bin/sh\nexit 1\n' > "$stubs/dpkg-query"
chmod +x "$stubs"/*
deps_line=$(grep -E '^bash scripts/deps.sh' "$PRMEVAL_SRC/scripts/demo.sh" | sed 's/#.*//')
[ -n "$deps_line" ] || fail "scripts/demo.sh has no 'bash scripts/deps.sh' line"
# a copy of the tree's scripts, so that a missing tests/js/node_modules cannot make npm run for real
mkdir -p "$T/tree/scripts" "$T/tree/tests/js"
cp "$PRMEVAL_SRC/scripts/deps.sh" "$T/tree/scripts/"
echo '{}' > "$T/tree/tests/js/package.json"
run_deps() {  # the deps command line -> the calls it made
  rm -f "$T/calls.log"
  (cd "$T/tree" && PATH="$stubs:$PATH" bash -c "$1" >/dev/null 2>&1)
  cat "$T/calls.log" 2>/dev/null
}
demo_calls=$(run_deps "$deps_line")
echo "$demo_calls" | grep -q "apt-get install.*libhdf5-openmpi-dev" || fail "the demo's deps do not install HDF5: $demo_calls"
# h5py, numpy and matplotlib are the demo's own: it ends with the paper's figures (scripts/plot.py)
echo "$demo_calls" | grep -q "apt-get install.*python3-matplotlib" || fail "the demo's deps do not install matplotlib: $demo_calls"
bad=$(echo "$demo_calls" | grep -oE "python3-torch|python3-sentencepiece|python3-protobuf|slurm-wlm|munge|npm( |$)" | sort -u | tr '\n' ' ')
if [ -n "$bad" ]; then
  fail "the demo installs the tests' extras: $bad"
else
  ok "the demo's deps: the run's packages only"
fi
all_calls=$(run_deps "bash scripts/deps.sh")
for p in python3-torch python3-h5py slurm-wlm munge libhdf5-openmpi-dev; do
  echo "$all_calls" | grep -q "apt-get install.*$p" || fail "scripts/deps.sh (the tests') does not install $p"
done
echo "$all_calls" | grep -q "^npm ci" || fail "scripts/deps.sh (the tests') does not run npm ci"
grep -qE '^bash scripts/deps.sh *$' "$PRMEVAL_SRC/scripts/test.sh" || fail "scripts/test.sh does not install everything"

# 2. the demo job as the demo runs it, in a copy of the layout it expects
W="$T/w"
mkdir -p "$W/jobs" "$W/data" "$W/build/demo"
cp "$PRMEVAL_SRC/jobs/demo.json" "$W/jobs/"
ln -s "$PRMEVAL_SRC/data/subset400.jsonl" "$W/data/subset400.jsonl"
cd "$W" || exit 1
"$PRMEVAL" tiny-model build/demo/tiny-qwen-prm --family qwen-prm --seed 1 >/dev/null 2>&1 || fail "tiny-model"
timeout 850 mpirun -np 2 --oversubscribe "$PRMEVAL" run jobs/demo.json >out.txt 2>err.txt
rc=$?
[ $rc -eq 0 ] || { fail "the demo job: exit $rc"; tail -n 5 err.txt; }
if grep -q '/\.\./' err.txt; then
  fail "paths not as the user would type them: $(grep -m1 '/\.\./' err.txt)"
elif ! grep -q "^run: build/demo/tiny-qwen-prm (qwen-prm" err.txt || ! grep -q "results build/demo/demo.h5, build/demo/demo.json" err.txt; then
  fail "paths: the run/done lines do not name build/demo/..."; grep -E "^(run|done):" err.txt
else
  ok "paths as typed: $(grep '^run:' err.txt | cut -c1-80)"
fi
if grep -E '^backend:' err.txt | grep -qE ': cpu, cpu'; then
  fail "the backend line repeats itself: $(grep -m1 '^backend:' err.txt)"
elif [ "$(grep -cE '^backend: rank [01] \([^)]*\): cpu \([0-9]+ threads?\) \(' err.txt)" -ne 2 ]; then
  fail "backend lines: $(grep '^backend:' err.txt)"
else
  ok "backend line: $(grep -m1 '^backend:' err.txt)"
fi
printed=$(awk '$1 == "PRMScore" {print $2; exit}' out.txt)
claimed=$(grep -oE 'prints PRMScore [0-9.]+' "$PRMEVAL_SRC/README.md" | head -n 1 | awk '{print $3}')
if [ -z "$printed" ] || [ "$printed" != "$claimed" ]; then
  fail "the demo prints PRMScore '$printed', the README claims '$claimed'"
else
  ok "the demo prints PRMScore $printed, as the README says"
fi

finish "all first-contact checks passed"
