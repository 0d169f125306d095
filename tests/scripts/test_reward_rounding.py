# labels: nosan
"""reward_rounding on whole runs (docs/families.md "Faithful numerics"), with
PyTorch's own bf16 conversion as the oracle of the rounding:

- qwen-prm, pure-prm, reasoneval-34b tiny models: at a threshold chosen so
  that some stored reward is above it raw but not once rounded, the default
  run (auto = bf16 for these families) labels every step as the reference
  would from bf16 tensors (qwen: bf16(p) > T; pure: bf16(bf16(p1) - bf16(p0))
  > T; reasoneval: bf16(p1) + bf16(p2) > T), `reward_rounding=none` labels the
  raw rewards, and at least one label differs;
- the stored rewards are the raw ones either way (bit for bit);
- config_json records the resolved setting (and the resolved family);
- `prmeval rescore` applies the file's setting by default and
  `--reward-rounding` overrides it: its labels equal the run's;
- journals written under one setting are not reused under the other."""
import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import torch

src = os.path.abspath(os.environ.get("PRMEVAL_SRC", "."))
binary = os.environ.get("PRMEVAL", os.path.join(src, "build", "prmeval"))
tmp = os.environ.get("PRMEVAL_TMP", "/tmp/prmeval_test_reward_rounding")
shutil.rmtree(tmp, ignore_errors=True)
os.makedirs(tmp)
env = dict(os.environ, PRMEVAL_MPI="0")
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def bf16(x):
    """PyTorch's round-to-nearest-even float -> bfloat16, back as float64."""
    return torch.tensor(np.asarray(x, dtype=np.float64)).to(torch.bfloat16).to(torch.float64).numpy()


def reference_rewards(family, v, u):
    """The reward the reference thresholds, from the stored raw rewards."""
    if family == "qwen-prm":
        return bf16(v)
    if family == "pure-prm":  # p1 - p0 of a bf16 softmax, subtracted in bf16
        p1, p0 = bf16((1 + v) / 2), bf16((1 - v) / 2)
        return bf16(p1 - p0)
    p1, p2 = bf16(u), bf16(v - u)  # reasoneval: Python sums the bf16 values
    return p1 + p2


def run(job, out, **keys):
    j = dict(job, output=out, **keys)
    path = out + ".json"
    json.dump(j, open(path, "w"))
    subprocess.run([binary, "run", path, "--quiet"], check=True, env=env, stderr=subprocess.DEVNULL)
    f = h5py.File(out)
    return f


def labels_of(f):
    return f["steps/label"][:].astype(int)


for family, dtype in (("qwen-prm", "f32"), ("pure-prm", "bf16"), ("reasoneval-34b", "f32")):
    folder = os.path.join(tmp, family)
    subprocess.run([binary, "tiny-model", folder, "--family", family, "--seed", "7", "--dtype", dtype], check=True,
                   stdout=subprocess.DEVNULL)
    job = dict(model=folder, data=os.path.join(src, "data/subset400.jsonl"), backend="cpu", limit=4,
               max_tokens=600)
    raw = run(job, os.path.join(tmp, family + ".probe.h5"), reward_rounding="none")
    v = raw["steps/score"][:]
    u = raw["steps/score_redundancy"][:] if "score_redundancy" in raw["steps"] else None
    ref = reference_rewards(family, v, u)
    # a threshold between a rounded reward and its raw value: raw above, rounded not
    below = np.nonzero(ref < v)[0]
    if len(below) == 0:
        fail(f"{family}: no reward rounds down; the test cannot choose its threshold")
        continue
    t = float(ref[below[len(below) // 2]])
    a = run(job, os.path.join(tmp, family + ".none.h5"), reward_rounding="none", threshold=t)
    b = run(job, os.path.join(tmp, family + ".auto.h5"), threshold=t)
    keys = b["samples/key"].asstr()[:]
    off = b["samples/step_offset"][:]
    cls = np.repeat([k.split("_")[0] for k in keys], np.diff(off))
    by_u = np.isin(cls, ("redundency", "circular")) if u is not None else np.zeros(len(v), bool)
    want_b = (ref > t).astype(int)
    want_a = (v.astype(np.float64) > t).astype(int)
    if u is not None:  # the redundancy classes: not (u > 0.15)
        want_b[by_u] = (~(bf16(u) > 0.15))[by_u]
        want_a[by_u] = (~(u > 0.15))[by_u]
    if not np.array_equal(b["steps/score"][:], v) or not np.array_equal(a["steps/score"][:], v):
        fail(f"{family}: stored rewards are not the raw ones")
    if u is not None and not np.array_equal(b["steps/score_redundancy"][:], u):
        fail(f"{family}: stored redundancy rewards are not the raw ones")
    if not np.array_equal(labels_of(b), want_b):
        k = int(np.argmax(labels_of(b) != want_b))
        fail(f"{family}: auto labels differ from the bf16 oracle at step {k}: reward {v[k]!r} -> {ref[k]!r}, T {t!r}")
    if not np.array_equal(labels_of(a), want_a):
        fail(f"{family}: reward_rounding=none labels differ from reward > T")
    ndiff = int((labels_of(a) != labels_of(b)).sum())
    if ndiff == 0:
        fail(f"{family}: no label differs between none and bf16 at T {t!r}")
    cfg_a, cfg_b = (json.loads(x.attrs["config_json"]) for x in (a, b))
    if cfg_b.get("reward_rounding") != "bf16" or cfg_a.get("reward_rounding") != "none":
        fail(f"{family}: config_json reward_rounding {cfg_b.get('reward_rounding')} / {cfg_a.get('reward_rounding')}")
    if cfg_b.get("family") != family:
        fail(f"{family}: config_json family {cfg_b.get('family')!r} (the job said auto)")
    print(f"{family}: T {t!r}: {ndiff} of {len(v)} labels differ between none and bf16")

    # rescore: the file's own setting by default, --reward-rounding overrides it
    for name, src_file, opt, want in (("bf16 file, auto", b, [], want_b), ("none file, bf16", a,
                                      ["--reward-rounding", "bf16"], want_b),
                                      ("bf16 file, none", b, ["--reward-rounding", "none"], want_a)):
        out = os.path.join(tmp, f"{family}.rescore.{len(opt)}.{name[:4]}.h5")
        subprocess.run([binary, "rescore", src_file.filename, "--threshold", repr(t), "--out", out, "--quiet"] + opt,
                       check=True, stderr=subprocess.DEVNULL)
        with h5py.File(out) as r:
            if not np.array_equal(labels_of(r), want):
                fail(f"{family}: rescore ({name}) labels differ from the run's")
            rr = json.loads(r.attrs["config_json"])["rescore"].get("reward_rounding")
            if rr != ("none" if want is want_a else "bf16"):
                fail(f"{family}: rescore ({name}) records reward_rounding {rr!r}")
            if not np.array_equal(r["steps/score"][:], v):
                fail(f"{family}: rescore ({name}) changed the stored rewards")
    print(f"{family}: rescore relabels as the run did (file's setting, and both overrides)")
    for x in (raw, a, b):
        x.close()

# journals: a run under one setting does not reuse the journals of the other
folder = os.path.join(tmp, "qwen-prm")
with h5py.File(os.path.join(tmp, "qwen-prm.auto.h5")) as f:
    t_q = json.loads(f.attrs["config_json"])["threshold"]
    want_b = labels_of(f)
job = dict(model=folder, data=os.path.join(src, "data/subset400.jsonl"), backend="cpu", limit=4, max_tokens=600,
           checkpoint_dir=os.path.join(tmp, "ck"), threshold=t_q)
run(job, os.path.join(tmp, "ck.none.h5"), reward_rounding="none").close()
with run(job, os.path.join(tmp, "ck.auto.h5")) as f:
    reused = int(f["run"].attrs["shards_reused"]) if "shards_reused" in f["run"].attrs else -1
    if reused != 0 or not np.array_equal(labels_of(f), want_b):
        fail(f"qwen-prm: a bf16 run after a none run with the same checkpoint_dir reused {reused} shards")
with run(job, os.path.join(tmp, "ck.auto2.h5")) as f:
    reused2 = int(f["run"].attrs["shards_reused"]) if "shards_reused" in f["run"].attrs else -1
    if reused2 <= 0 or not np.array_equal(labels_of(f), want_b):
        fail(f"qwen-prm: the same bf16 run again reused {reused2} shards (its journals should serve)")
print(f"journals: none -> bf16 reused 0 shards, bf16 -> bf16 reused {reused2}")

if failures:
    print(f"{len(failures)} failures")
    sys.exit(1)
print("reward_rounding: runs, rescore and journals agree with the bf16 oracle")
