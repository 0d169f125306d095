# labels: nosan
"""Prefix reuse within its memory bound (issue 12; docs/run.md "Prefix reuse").

A qwen-prm model whose keys/values are large per token next to its
activations (16 layers, 8 kv heads of 32, hidden 64: 32 KiB of keys/values
per token in fp32, a few KiB of activations) on the first 3 problems of the
benchmark (one of them keeps 10 MiB under the default bound), cut to 512 tokens,
token_budget 256 (most problems straddle batch boundaries, so their shared
prefixes are kept between batches when the bound allows). Four runs, one rank
each, peak resident memory (ru_maxrss of the child) measured per run:
  off      prefix_reuse false
  small    prefix_cache_mb 2  (mostly the fallback: tokens are recomputed)
  mid      prefix_cache_mb 6  (some segments kept, some recomputed)
  big      prefix_cache_mb 1024 (the default: nothing recomputed)
Checks: each run's kept bytes (/timing cache_bytes_max) are within its bound;
small and mid recompute tokens, big none; the peak resident memory of small
and mid exceeds that of off by at most their bound + 1 MiB (allocator noise);
big's exceeds off's by more than small's bound + 1 MiB (the check the bounded
runs pass fails for a cache that outgrows the bound: it is not vacuous);
rewards of small, mid and big are bitwise identical. Not under ASan (its
shadow memory and quarantine make resident memory meaningless)."""
import os
import resource
import subprocess
import sys

import h5py
import numpy as np

PRMEVAL = os.environ["PRMEVAL"]
SRC = os.environ["PRMEVAL_SRC"]
T = os.environ["PRMEVAL_TMP"]
MIB = 1 << 20
NOISE = 1 * MIB
fails = []


def fail(msg):
    print("FAIL: " + msg)
    fails.append(msg)


def peak_rss(args, log):
    """Runs one child; returns its peak resident memory in bytes (Linux: ru_maxrss in KiB).
    The RUSAGE_CHILDREN maximum covers every child waited for, so each run is
    measured in its own Python process."""
    code = ("import resource, subprocess, sys\n"
            "r = subprocess.run(sys.argv[2:], stderr=open(sys.argv[1], 'w'))\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if r.returncode == 0 else -1)\n")
    out = subprocess.run([sys.executable, "-c", code, log] + args, capture_output=True, text=True, check=True)
    kib = int(out.stdout.strip())
    if kib < 0:
        sys.stdout.write(open(log).read())
    return kib * 1024


def main():
    os.makedirs(T, exist_ok=True)
    subprocess.run(["rm", "-rf", T], check=True)
    os.makedirs(T)
    m = os.path.join(T, "m")
    subprocess.run([PRMEVAL, "tiny-model", m, "--family", "qwen-prm", "--seed", "7", "--layers", "16", "--hidden",
                    "64", "--heads", "8", "--kv-heads", "8", "--head-dim", "32", "--ffn", "64"],
                   check=True, stderr=subprocess.DEVNULL)
    job = os.path.join(T, "job.json")
    with open(job, "w") as f:
        f.write('{"model": "m", "family": "qwen-prm", "data": "%s/data/prmbench", "output": "x.h5", '
                '"backend": "cpu", "max_tokens": 512, "token_budget": 256, "limit": 3, "progress_interval": 10}\n'
                % SRC)
    env = dict(os.environ, PRMEVAL_MPI="0", OMP_NUM_THREADS="1")
    os.environ.update(env)
    runs = {"off": ["prefix_reuse=false"], "small": ["prefix_cache_mb=2"], "mid": ["prefix_cache_mb=6"],
            "big": ["prefix_cache_mb=1024"]}
    res = {}
    for name, sets in runs.items():
        args = [PRMEVAL, "run", job, "--quiet", "--set", "output=" + os.path.join(T, name + ".h5")]
        for s in sets:
            args += ["--set", s]
        rss = peak_rss(args, os.path.join(T, name + ".log"))
        if rss < 0:
            fail(f"run {name} failed")
            return
        with h5py.File(os.path.join(T, name + ".h5")) as f:
            t = f["timing"]
            res[name] = dict(rss=rss, tokens=int(t["tokens"][0]), prompt=int(t["prompt_tokens"][0]),
                             recomputed=int(t["recomputed"][0]), kept=int(t["cache_bytes_max"][0]),
                             bound=int(f["run"].attrs["prefix_cache_bytes"]), score=f["steps/score"][:])
        r = res[name]
        print(f"{name:5}: peak RSS {r['rss'] / MIB:7.2f} MiB, kept at most {r['kept'] / MIB:6.2f} MiB "
              f"(bound {r['bound'] / MIB:g} MiB), {r['tokens']} of {r['prompt']} prompt tokens computed, "
              f"{r['recomputed']} recomputed")
    off = res["off"]
    for name in ("small", "mid", "big"):
        r = res[name]
        if r["kept"] > r["bound"]:
            fail(f"{name}: kept {r['kept']} bytes, above the bound {r['bound']}")
        if not np.array_equal(r["score"], res["big"]["score"]):
            fail(f"{name}: rewards differ from those of the default bound")
    for name in ("small", "mid"):
        r = res[name]
        if r["recomputed"] == 0:
            fail(f"{name}: nothing recomputed under a bound of {r['bound']} bytes: the fallback never ran")
        extra = r["rss"] - off["rss"]
        if extra > r["bound"] + NOISE:
            fail(f"{name}: peak RSS {extra / MIB:.2f} MiB above the run without reuse, more than the bound "
                 f"{r['bound'] / MIB:g} MiB + {NOISE / MIB:g} MiB")
    if res["mid"]["kept"] == 0:
        fail("mid: nothing kept under 6 MiB: the partial case is not exercised")
    big = res["big"]
    if big["recomputed"] != 0:
        fail(f"big: {big['recomputed']} tokens recomputed under 1 GiB")
    # the check the bounded runs pass must fail for a cache that outgrows the bound
    if big["rss"] - off["rss"] <= res["small"]["bound"] + NOISE:
        fail(f"big: peak RSS only {(big['rss'] - off['rss']) / MIB:.2f} MiB above the run without reuse while "
             f"it kept {big['kept'] / MIB:.2f} MiB: the measurement cannot tell the bound from noise")
    if not fails:
        print("prefix reuse memory: every run within its bound")


main()
sys.exit(1 if fails else 0)
