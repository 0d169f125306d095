#!/usr/bin/env bash
# The README's main command: installs the dependencies, builds prmeval
# (release), generates the tiny random qwen-prm model, and runs
# `prmeval run jobs/demo.json` on 2 MPI ranks over the bundled 394-record
# PRMBench subset. Prints the paper's table: the random model calls nearly
# every step wrong and prints PRMScore 14.9 (README; checked by
# tests/scripts/test_first_contact.sh); the results are in build/demo/demo.h5
# and demo.json, the paper's figures for it (and two rescored thresholds) in
# build/demo/figures.
# Runs again from scratch each time: the demo's journals are cleared first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh run  # only what the run needs; the tests' extras: scripts/test.sh
# Always build: incremental, and a stale binary from an older checkout never runs the demo.
[ -f build/CMakeCache.txt ] || cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
mkdir -p build/demo
if [ ! -f build/demo/tiny-qwen-prm/model.safetensors ]; then
  ./build/prmeval tiny-model build/demo/tiny-qwen-prm --family qwen-prm --seed 1
fi
rm -rf build/demo/journal  # jobs/demo.json's checkpoint_dir: a fresh run, not a resume
root=()
[ "$(id -u)" -eq 0 ] && root=(--allow-run-as-root)
mpirun -np 2 --oversubscribe "${root[@]}" ./build/prmeval run jobs/demo.json
# The paper's figures (docs/plots.md): the run and two other thresholds, rescored from its stored scores.
for t in 0.3 0.7; do
  ./build/prmeval rescore build/demo/demo.h5 --threshold "$t" --out "build/demo/demo_t$t.h5" --quiet
done
/usr/bin/python3 scripts/plot.py build/demo/demo.h5 build/demo/demo_t0.3.h5 build/demo/demo_t0.7.h5 \
    --out build/demo/figures
