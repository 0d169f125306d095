#!/usr/bin/env python3
"""Whole-model step rewards: prmeval (CUDA or CPU backend) against Hugging Face
transformers on the same checkpoint and the same token ids.

NOT RUN YET: written on a machine without a GPU (see docs/backend-cuda.md).

Input: a checkpoint folder (config.json + safetensors; Qwen2 / Llama / Mistral
backbone, heads as in docs/backend-cuda.md) and a JSONL dump from prmeval with
one object per scored sequence:
    {"tokens": [int, ...], "readout": [int, ...], "rewards": [float, ...]}
(readout = positions inside the sequence, rewards = prmeval's step rewards).
The prmeval side of that dump belongs to the engine/CLI branches; until it
exists, run_gpu_checks.sh skips this step and says so.

Checks (issue 4, item 4): relative error |p - q| / max(|q|, 1e-6) <= 1e-2 for
each reward in bf16, and identical labels (p > threshold) except where the
transformers score lies within 1e-2 of the threshold. Exit 0 = pass, 1 = fail.
"""
import argparse
import json
import math
import os
import sys

import torch
from safetensors.torch import load_file


def load_head_tensors(model_dir):
    out = {}
    for name in sorted(os.listdir(model_dir)):
        if name.endswith(".safetensors"):
            for k, v in load_file(os.path.join(model_dir, name)).items():
                if k.startswith(("score.", "v_head.", "lm_head.")) or k == "model.embed_tokens.weight":
                    out[k] = v
    return out


def base_model(model_dir, dtype, attn):
    import transformers
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    cls = {"qwen2": transformers.Qwen2Model, "llama": transformers.LlamaModel,
           "mistral": transformers.MistralModel}[cfg["model_type"]]
    m = cls.from_pretrained(model_dir, torch_dtype=dtype, attn_implementation=attn)
    return m.cuda().eval(), cfg


def rewards_hf(hidden, head, kind, tok_a, tok_b, cfg):
    """hidden: (n, H) final-normed rows in the model dtype, as transformers computes them."""
    if kind == "qwen-prm":
        w0, b0 = head["score.0.weight"], head["score.0.bias"]
        w2, b2 = head["score.2.weight"], head["score.2.bias"]
        z = torch.nn.functional.linear(torch.relu(torch.nn.functional.linear(hidden, w0, b0)), w2, b2)
        return torch.softmax(z.float(), dim=-1)[:, 1]
    lm = head.get("lm_head.weight")
    if lm is None and cfg.get("tie_word_embeddings"):
        lm = head["model.embed_tokens.weight"]
    if kind == "two-tokens":
        z = torch.nn.functional.linear(hidden, lm).float()
        return torch.softmax(z[:, [tok_a, tok_b]], dim=-1)[:, 0]
    if kind == "full-softmax":
        z = torch.nn.functional.linear(hidden, lm).float()
        return torch.softmax(z, dim=-1)[:, tok_a]
    if kind == "value":
        w, b = head["v_head.summary.weight"], head.get("v_head.summary.bias")
        return torch.sigmoid(torch.nn.functional.linear(hidden, w, b).float()).reshape(-1)
    raise ValueError(kind)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--dump", required=True, help="prmeval JSONL dump (tokens, readout, rewards)")
    ap.add_argument("--head", required=True, choices=["qwen-prm", "two-tokens", "full-softmax", "value"])
    ap.add_argument("--tok-a", type=int, default=-1)
    ap.add_argument("--tok-b", type=int, default=-1)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    ap.add_argument("--rel-tol", type=float, default=1e-2)
    args = ap.parse_args()

    dtype = getattr(torch, args.dtype)
    model, cfg = base_model(args.model, dtype, "sdpa")
    head = {k: v.to("cuda", dtype) for k, v in load_head_tensors(args.model).items()}
    worst, n, bad_err, bad_label, near = 0.0, 0, 0, 0, 0
    with torch.no_grad(), open(args.dump) as f:
        for lineno, line in enumerate(f, 1):
            rec = json.loads(line)
            ids = torch.tensor([rec["tokens"]], device="cuda")
            hidden = model(input_ids=ids).last_hidden_state[0]   # includes the final norm
            q = rewards_hf(hidden[rec["readout"]], head, args.head, args.tok_a, args.tok_b, cfg).cpu()
            for i, (p, qq) in enumerate(zip(rec["rewards"], q.tolist())):
                n += 1
                rel = abs(p - qq) / max(abs(qq), 1e-6)
                worst = max(worst, rel)
                if rel > args.rel_tol:
                    bad_err += 1
                    print(f"{args.dump}:{lineno}: read-out {i}: prmeval {p:.6f} transformers {qq:.6f} "
                          f"(relative error {rel:.3g})")
                if (p > args.threshold) != (qq > args.threshold):
                    if abs(qq - args.threshold) <= 1e-2:
                        near += 1
                    else:
                        bad_label += 1
                        print(f"{args.dump}:{lineno}: read-out {i}: labels differ ({p:.6f} vs {qq:.6f})")
    print(f"{n} rewards: worst relative error {worst:.3g}; {bad_err} over {args.rel_tol}; "
          f"{bad_label} label flips; {near} flips within 1e-2 of the threshold (allowed)")
    if n == 0:
        print("no rewards in the dump: nothing was compared")
        return 1
    return 1 if bad_err or bad_label else 0


if __name__ == "__main__":
    sys.exit(main())
