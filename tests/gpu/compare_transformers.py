#!/usr/bin/env python3
"""Whole-model step rewards: prmeval (its HDF5 /steps/score) against Hugging Face
transformers on the same checkpoint and the same token ids.

For each case: the checkpoint folder (config.json + safetensors + tokenizer.json,
e.g. from `prmeval tiny-model`), the `--dump-tokens` file of the prmeval run
(per prompt: the ids after the cut and the read-out positions) and the run's
HDF5 results. transformers' base model class for the backbone (Qwen2Model,
LlamaModel, MistralModel; loaded from the folder, no hub access) runs each
prompt alone (no padding); its last_hidden_state (after the final norm) at the
read-out positions goes through the family's head, computed here in PyTorch
from the checkpoint's head tensors in the model dtype, softmax/sigmoid in fp32:
  qwen-prm       softmax(score.2(relu(score.0(h))))[1]
  math-shepherd  softmax(logits[tok "▁+", tok "▁-"])[0]      (lm_head rows)
  rlhflow        softmax(logits over the whole vocabulary)[tok "+"]
  skywork        sigmoid(v_head.summary(h))
(head tokens looked up in tokenizer.json as in tests/scripts/test_run_oracle.py.)
The comparison is tests/gpu/reward_compare.py's rule (logit error, label flips
only near the threshold) with the tolerance --tols names per HDF5 file (bf16:
a bf16 run against this reference; fp32: an fp32 run against an fp32 reference);
the reference is transformers.

--impl oracle replaces transformers by the repository's PyTorch oracle
(tests/oracle/torch_prm.py, fp32 here) for the backbone: the dry run on a
machine without transformers exercises every other line of this file.

Each case appends one JSON record per HDF5 file to --json (the first HDF5 is
the gate; further ones, e.g. the CPU run, are recorded as "info"; a first HDF5
given as "-" means the tested run failed: the others are still compared, as
"info", to tell a broken backend from a broken comparison; --no-gate records
every comparison as "info").
Exit 0 = every gated comparison passed."""
import argparse
import glob
import json
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "oracle"))
import reward_compare as rc  # noqa: E402
import torch_prm  # noqa: E402



def read_tensors(folder, want, prefix=None):
    """The tensors named in `want` (Hugging Face names; None: those starting with
    `prefix`) as float32 torch tensors (bf16 and f16 convert exactly)."""
    def take(k):
        return k in want if want is not None else k.startswith(prefix)
    out = {}
    files = sorted(glob.glob(os.path.join(folder, "*.safetensors")))
    try:
        from safetensors import safe_open
        for fn in files:
            with safe_open(fn, framework="pt") as f:
                for k in f.keys():
                    if take(k):
                        out[k] = f.get_tensor(k).float()
    except ImportError:   # Debian has no safetensors: the oracle's own reader (numpy)
        for fn in files:
            for k, a in torch_prm.read_safetensors(fn).items():
                if take(k):
                    out[k] = torch.from_numpy(a).float()
    return out


def head_weights(family, folder, cfg):
    names = {"qwen-prm": ["score.0.weight", "score.0.bias", "score.2.weight", "score.2.bias"],
             "skywork": ["v_head.summary.weight", "v_head.summary.bias"]}.get(
                 family, ["lm_head.weight", "model.embed_tokens.weight"])
    w = read_tensors(folder, set(names))
    if family in ("math-shepherd", "rlhflow"):
        lm = w.get("lm_head.weight")
        if lm is None and cfg.get("tie_word_embeddings"):
            lm = w["model.embed_tokens.weight"]
        w = {"lm_head.weight": lm}
    return w


def rewards(family, head, h, tok_a, tok_b):
    """h: (n, H) final-normed hidden rows in the model dtype; head: tensors in that dtype."""
    F = torch.nn.functional
    if family == "qwen-prm":
        z = F.linear(torch.relu(F.linear(h, head["score.0.weight"], head["score.0.bias"])),
                     head["score.2.weight"], head["score.2.bias"])
        return torch.softmax(z.float(), dim=-1)[:, 1]
    if family == "math-shepherd":
        z = F.linear(h, head["lm_head.weight"]).float()
        return torch.softmax(z[:, [tok_a, tok_b]], dim=-1)[:, 0]
    if family == "rlhflow":
        z = F.linear(h, head["lm_head.weight"]).float()
        return torch.softmax(z, dim=-1)[:, tok_a]
    if family == "skywork":
        z = F.linear(h, head["v_head.summary.weight"], head["v_head.summary.bias"]).float()
        return torch.sigmoid(z).reshape(-1)
    raise ValueError(family)


def expected_inv_freq(cfg):
    """RoPE frequencies from config.json as tests/oracle/torch_prm.py forms them
    (Llama-3.1 scaling included), float64."""
    rs = cfg.get("rope_scaling") or {}
    c = dict(head_dim=cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"],
             rope_theta=float(cfg.get("rope_theta", 10000.0)),
             rope_llama3=(rs.get("rope_type") or rs.get("type")) == "llama3",
             rope_factor=float(rs.get("factor", 0.0)), rope_low_freq_factor=float(rs.get("low_freq_factor", 0.0)),
             rope_high_freq_factor=float(rs.get("high_freq_factor", 0.0)),
             rope_original_max_pos=int(rs.get("original_max_position_embeddings", 0)))
    return torch_prm.inv_freq(c, torch.float64)


class TransformersBackbone:
    """transformers' base model, loaded from the folder; its weights are checked
    against the checkpoint (a silently random-initialised tensor would make the
    comparison meaningless) and its RoPE frequencies against config.json."""

    def __init__(self, folder, dtype, device):
        import transformers
        cfg = json.load(open(os.path.join(folder, "config.json")))
        cls = {"qwen2": transformers.Qwen2Model, "llama": transformers.LlamaModel,
               "mistral": transformers.MistralModel}[cfg["model_type"]]
        major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
        key = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
        attn = "sdpa" if device == "cuda" else "eager"
        self.notes = []
        m = cls.from_pretrained(folder, attn_implementation=attn, local_files_only=True, **{key: dtype})
        bad = self.weights_differ(m, folder, dtype)
        if bad:   # load the state dict by hand: strict names, no prefix guessing
            self.notes.append(f"from_pretrained left {len(bad)} tensors unlike the checkpoint (e.g. {bad[0]}); "
                              "loaded the state dict by hand")
            conf = transformers.AutoConfig.from_pretrained(folder, local_files_only=True)
            conf._attn_implementation = attn
            m = cls(conf).to(dtype)
            sd = {k[len("model."):]: v for k, v in read_tensors(folder, None, prefix="model.").items()}
            missing, _ = m.load_state_dict({k: v.to(dtype) for k, v in sd.items()}, strict=False)
            missing = [k for k in missing if "inv_freq" not in k]
            if missing:
                raise RuntimeError(f"{folder}: checkpoint lacks {missing[:3]} for {cls.__name__}")
            bad = self.weights_differ(m, folder, dtype)
            if bad:
                raise RuntimeError(f"{folder}: {cls.__name__} weights differ from the checkpoint: {bad[:3]}")
        got = next(m.parameters()).dtype
        if got != dtype:
            raise RuntimeError(f"{folder}: transformers loaded {got}, not {dtype}")
        rot = getattr(m, "rotary_emb", None)
        if rot is not None and hasattr(rot, "inv_freq"):
            want = expected_inv_freq(cfg)
            have = rot.inv_freq.double().cpu()
            if have.shape != want.shape or not torch.allclose(have, want, rtol=1e-5, atol=0):
                self.notes.append(f"transformers' RoPE inv_freq differs from config.json's "
                                  f"(max rel {((have - want).abs() / want).max():.3g}): rope_scaling not applied?")
        self.model = m.to(device).eval()
        self.device = device
        self.name = f"transformers {transformers.__version__} {cls.__name__} ({attn})"

    @staticmethod
    def weights_differ(m, folder, dtype):
        sd = m.state_dict()
        bad = []
        for k, v in read_tensors(folder, None, prefix="model.").items():
            name = k[len("model."):]
            if name not in sd:
                bad.append(f"{name} missing")
            elif sd[name].shape != v.shape or not torch.equal(sd[name].cpu(), v.to(dtype)):
                bad.append(f"{name} differs")
        return bad

    def hidden(self, ids):
        x = torch.tensor([ids], device=self.device)
        return self.model(input_ids=x).last_hidden_state[0]


class OracleBackbone:
    """tests/oracle/torch_prm.py's forward pass (for machines without transformers)."""

    def __init__(self, folder, dtype, device):
        self.torch_prm = torch_prm
        self.cfg, self.w = torch_prm.load_checkpoint(folder, dtype=dtype)
        self.dtype = dtype
        self.name = f"tests/oracle/torch_prm.py ({str(dtype).replace('torch.', '')}, {device})"

    def hidden(self, ids):
        return self.torch_prm.forward_hidden(self.cfg, self.w, ids, self.dtype)


def run_case(a, name, family, folder, dump, h5s, dtype):
    cfg = json.load(open(os.path.join(folder, "config.json")))
    t0 = time.time()
    bb = (TransformersBackbone if a.impl == "transformers" else OracleBackbone)(folder, dtype, a.device)
    head = {k: v.to(a.device, dtype) for k, v in head_weights(family, folder, cfg).items()}
    tok_a, tok_b = torch_prm.head_tokens(family, folder)
    prompts = rc.read_dump(dump)
    gated = h5s[0] != "-" and not a.no_gate   # "-": the tested run failed
    h5s_given_dash = h5s[0] == "-"
    h5s = h5s if h5s[0] != "-" else h5s[1:]
    results = [rc.read_h5(p) for p in h5s]
    tols = (a.tols.split(",") if a.tols else []) + ["bf16"] * len(h5s)
    tols = tols[1:] if h5s_given_dash else tols   # the tolerances follow the files as given
    tallies = [rc.Tally(family, tol) for tol in tols[:len(h5s)]]
    missing = 0
    with torch.no_grad():
        for key in sorted(prompts):
            ids, readout = prompts[key]
            if not readout:
                continue
            h = bb.hidden(ids)[torch.tensor(readout, device=a.device)]
            q = [float(x) for x in rewards(family, head, h, tok_a, tok_b).cpu()]
            for res, t in zip(results, tallies):
                if key not in res:
                    missing += 1
                    t.over += 1
                    t.examples.append(f"{key}: in the dump but not in the HDF5")
                    continue
                t.add(key, res[key][0], q, res[key][1], None)
    ok = True
    for i, (p, t) in enumerate(zip(h5s, tallies)):
        label = os.path.basename(p)
        r = t.result(check=f"{name}: {label} vs {bb.name}", name=name, h5=p, impl=a.impl,
                     dtype=str(dtype).replace("torch.", ""), seconds=round(time.time() - t0, 2),
                     notes=getattr(bb, "notes", []))
        r["examples"] = r["notes"] + r["examples"]
        if i > 0 or not gated:   # further files (the CPU run) are for diagnosis only
            r["status"] = "info" if r["status"] == "pass" else "info (over tolerance)"
        rc.write_record(a.json, r)
        rc.print_record(r)
        ok = ok and (i > 0 or not gated or r["status"] == "pass")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", nargs="+", action="append", required=True,
                    metavar="NAME FAMILY MODEL_DIR DUMP H5 [H5...]",
                    help="one case: a name, the family, the checkpoint folder, the --dump-tokens file, "
                         "the HDF5 results to test (the first is gated, the others recorded for diagnosis)")
    ap.add_argument("--impl", choices=["transformers", "oracle"], default="transformers")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    ap.add_argument("--tols", default="",
                    help="comma-separated tolerance per HDF5 file of a case (reward_compare.TOLERANCES; "
                         "default bf16 for each)")
    ap.add_argument("--no-gate", action="store_true",
                    help="record every comparison as info (e.g. against transformers in fp32)")
    ap.add_argument("--json", required=True, help="JSONL file the result records are appended to")
    a = ap.parse_args()
    dtype = getattr(torch, a.dtype)
    # fp32 must mean fp32: no TF32 tensor-core products behind the reference's back
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if a.impl == "oracle":
        a.device = "cpu"
    ok = True
    for c in a.case:
        if len(c) < 5:
            ap.error(f"--case needs NAME FAMILY MODEL_DIR DUMP H5 [H5...], got {c}")
        name, family, folder, dump, h5s = c[0], c[1], c[2], c[3], c[4:]
        if family not in rc.FAMILY_RULE:
            ap.error(f"--case {name}: unknown family {family}")
        try:
            ok = run_case(a, name, family, folder, dump, h5s, dtype) and ok
        except Exception as exc:   # one broken case must not hide the others
            r = dict(status="FAIL", check=f"{name}: {a.impl}", name=name, detail=f"{type(exc).__name__}: {exc}")
            rc.write_record(a.json, r)
            print(f"FAIL: {name}: {type(exc).__name__}: {exc}")
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
