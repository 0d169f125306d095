#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds prmeval twice (release and
# ASan+UBSan), and runs every test in both builds.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPRMEVAL_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
echo "== release build tests"
(cd build && ctest --output-on-failure -j"$jobs")
echo "== sanitizer build tests (ASan+UBSan; tests labelled nosan are skipped: PyTorch oracles, benchmarks)"
(cd build-asan && ctest --output-on-failure -j"$jobs" -LE nosan)
