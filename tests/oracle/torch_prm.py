#!/usr/bin/python3
"""An independent PyTorch implementation of the PRM forward pass (Qwen2 with
q/k/v biases, Llama with "llama3" RoPE scaling, Mistral with a sliding window)
and of the four read-out heads, written from the Hugging Face modeling code's
semantics; the oracle for the C CPU backend (src/backend/cpu.c).

It differs from the C code on purpose: each sequence runs on its own (no
packing), GQA repeats the kv heads, the causal/sliding mask is a full matrix,
and the arithmetic is float64 (the C backend is fp32), so agreement within
1e-4 relative checks the C code, not a shared mistake.

Weights are a function of (seed, tensor index, element index): a counter-based
splitmix64 that tests/unit/prm_synth.h implements identically in C, so a case
file needs only the config, the seed and the batch (see synth_weights).

  torch_prm.py cases --out FILE [--size golden|small] [--seed S]
      writes test cases (config, seed, dtype, batch, expected rewards per head)
  torch_prm.py bench --threads N [--seqs 4 --len 512]
      times the Qwen2.5-0.5B-shaped forward (see bench/bench_cpu_forward.sh)
  load_checkpoint(folder) (a library function)
      reads a Hugging Face folder (config.json + safetensors, struct + json +
      numpy only) into the config and weights that score() takes; used by
      tests/scripts/test_run_oracle.py on `prmeval tiny-model` folders
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

M64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
GAMMA_T = 0xD1B54A32D192ED03

HEADS = ("qwen_prm", "lm_two_tokens", "lm_full_softmax", "value_sigmoid")
LAYER_TENSORS = ("in_norm", "wq", "wk", "wv", "bq", "bk", "bv", "wo", "post_norm",
                 "w_gate", "w_up", "w_down")
TAIL_TENSORS = ("final_norm", "lm_head", "score0_w", "score0_b", "score2_w", "score2_b",
                "vhead_w", "vhead_b")


def mix64(z):
    """splitmix64's finalizer on a numpy uint64 array (wrapping arithmetic)."""
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def mix64_int(z):
    z &= M64
    z ^= z >> 30
    z = (z * 0xBF58476D1CE4E5B9) & M64
    z ^= z >> 27
    z = (z * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def synth_tensor(seed, index, kind, shape, bits):
    """The values of tensor number `index`: integers times powers of two, so
    bits=8 values are exact in bf16 and f16 and bits=24 values exact in f32.
      embed: k * 2^-(7+b-8), |k| <= 2^(b-1)-1   (about +-1)
      bias:  k * 2^-(8+b-8)                     (about +-0.5)
      norm:  1 + (j - 31) / 128, j in 0..62     (0.76 .. 1.24)
      linear with C inputs: k * 2^-(e+b-8), e = 6 + ceil(ceil(log2 C) / 2) (std about C^-1/2)
    """
    n = int(np.prod(shape))
    if n > (1 << 22):  # in chunks: the uint64 temporaries of a vocabulary-sized table are GBs
        step = 1 << 22
        parts = [synth_chunk(seed, index, kind, shape, bits, i, min(n, i + step))
                 for i in range(0, n, step)]
        return np.concatenate(parts).reshape(shape)
    return synth_chunk(seed, index, kind, shape, bits, 0, n).reshape(shape)


def synth_chunk(seed, index, kind, shape, bits, first, end):
    """Elements [first, end) of synth_tensor, flat."""
    base = mix64_int(seed + index * GAMMA_T)
    with np.errstate(over="ignore"):
        z = mix64(np.uint64(base) + (np.arange(first + 1, end + 1, dtype=np.uint64) *
                                     np.uint64(GAMMA)))
    r = z >> np.uint64(11)
    if kind == "norm":
        return 1.0 + ((r % np.uint64(63)).astype(np.float64) - 31.0) / 128.0
    m = (1 << (bits - 1)) - 1
    k = (r % np.uint64(2 * m + 1)).astype(np.float64) - m
    if kind == "embed":
        e = 7
    elif kind == "bias":
        e = 8
    else:
        c = shape[-1]
        lg = (c - 1).bit_length()  # ceil(log2 c)
        e = 6 + (lg + 1) // 2
    return k * 2.0 ** -(e + bits - 8)


def tensor_specs(cfg):
    """(index, name, kind, shape) in the canonical order shared with prm_synth.h."""
    H, L, V, F = cfg["hidden_size"], cfg["num_layers"], cfg["vocab_size"], cfg["intermediate_size"]
    QD = cfg["num_heads"] * cfg["head_dim"]
    KD = cfg["num_kv_heads"] * cfg["head_dim"]
    layer = {"in_norm": ("norm", (H,)), "wq": ("linear", (QD, H)), "wk": ("linear", (KD, H)),
             "wv": ("linear", (KD, H)), "bq": ("bias", (QD,)), "bk": ("bias", (KD,)),
             "bv": ("bias", (KD,)), "wo": ("linear", (H, QD)), "post_norm": ("norm", (H,)),
             "w_gate": ("linear", (F, H)), "w_up": ("linear", (F, H)),
             "w_down": ("linear", (H, F))}
    tail = {"final_norm": ("norm", (H,)), "lm_head": ("linear", (V, H)),
            "score0_w": ("linear", (H, H)), "score0_b": ("bias", (H,)),
            "score2_w": ("linear", (2, H)), "score2_b": ("bias", (2,)),
            "vhead_w": ("linear", (1, H)), "vhead_b": ("bias", (1,))}
    out = [(0, "embed", "embed", (V, H))]
    for l in range(L):
        for j, name in enumerate(LAYER_TENSORS):
            kind, shape = layer[name]
            out.append((1 + l * len(LAYER_TENSORS) + j, f"layers.{l}.{name}", kind, shape))
    t0 = 1 + L * len(LAYER_TENSORS)
    for j, name in enumerate(TAIL_TENSORS):
        kind, shape = tail[name]
        out.append((t0 + j, name, kind, shape))
    return out


def synth_weights(cfg, seed, bits, dtype=torch.float64):
    w = {}
    for index, name, kind, shape in tensor_specs(cfg):
        if name.endswith((".bq", ".bk", ".bv")) and not cfg["attn_bias"]:
            continue
        if name == "lm_head" and cfg["tie_word_embeddings"]:
            continue
        w[name] = torch.from_numpy(synth_tensor(seed, index, kind, shape, bits)).to(dtype)
    if cfg["tie_word_embeddings"]:
        w["lm_head"] = w["embed"]
    return w


def inv_freq(cfg, dtype):
    """Hugging Face's default RoPE frequencies, with _compute_llama3_parameters."""
    D = cfg["head_dim"]
    f = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    if cfg["rope_llama3"]:
        factor, lo, hi = cfg["rope_factor"], cfg["rope_low_freq_factor"], cfg["rope_high_freq_factor"]
        old = cfg["rope_original_max_pos"]
        low_wl, high_wl = old / lo, old / hi
        wl = 2 * math.pi / f
        scaled = torch.where(wl > low_wl, f / factor, f)
        smooth = (old / wl - lo) / (hi - lo)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wl < high_wl) & ~(wl > low_wl)
        f = torch.where(medium, smoothed, scaled)
    return f.to(dtype)


def rmsnorm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward_hidden(cfg, w, tokens, dtype):
    """Final-normed hidden states (T, H) of one sequence."""
    NH, NKV, D = cfg["num_heads"], cfg["num_kv_heads"], cfg["head_dim"]
    eps = cfg["rms_norm_eps"]
    T = len(tokens)
    x = w["embed"][torch.tensor(tokens, dtype=torch.long)]
    ang = torch.arange(T, dtype=dtype)[:, None] * inv_freq(cfg, dtype)[None, :]
    emb = torch.cat((ang, ang), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    allowed = j <= i
    if cfg["sliding_window"]:
        allowed = allowed & (i - j < cfg["sliding_window"])
    mask = torch.zeros(T, T, dtype=dtype).masked_fill(~allowed, float("-inf"))
    for l in range(cfg["num_layers"]):
        p = f"layers.{l}."
        h = rmsnorm(x, w[p + "in_norm"], eps)
        q, k, v = h @ w[p + "wq"].T, h @ w[p + "wk"].T, h @ w[p + "wv"].T
        if cfg["attn_bias"]:
            q, k, v = q + w[p + "bq"], k + w[p + "bk"], v + w[p + "bv"]
        q = q.view(T, NH, D).transpose(0, 1)
        k = k.view(T, NKV, D).transpose(0, 1)
        v = v.view(T, NKV, D).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(NH // NKV, dim=0)
        v = v.repeat_interleave(NH // NKV, dim=0)
        s = q @ k.transpose(1, 2) * D ** -0.5 + mask
        o = torch.softmax(s, dim=-1) @ v
        x = x + o.transpose(0, 1).reshape(T, NH * D) @ w[p + "wo"].T
        h = rmsnorm(x, w[p + "post_norm"], eps)
        g = h @ w[p + "w_gate"].T
        x = x + (torch.nn.functional.silu(g) * (h @ w[p + "w_up"].T)) @ w[p + "w_down"].T
    return rmsnorm(x, w["final_norm"], eps)


def head_rewards(kind, w, h, tok_a, tok_b):
    if kind == "qwen_prm":
        z = torch.relu(h @ w["score0_w"].T + w["score0_b"]) @ w["score2_w"].T + w["score2_b"]
        return torch.softmax(z, dim=-1)[:, 1]
    if kind == "lm_two_tokens":
        rows = w["lm_head"][torch.tensor([tok_a, tok_b])]
        return torch.softmax(h @ rows.T, dim=-1)[:, 0]
    if kind == "lm_full_softmax":
        return torch.softmax(h @ w["lm_head"].T, dim=-1)[:, tok_a]
    if kind == "value_sigmoid":
        return torch.sigmoid(h @ w["vhead_w"].T + w["vhead_b"])[:, 0]
    if kind == "lm_mean":  # llemma: the mean of the full LM-head logits, sigmoid
        return torch.sigmoid((h @ w["lm_head"].T).mean(dim=-1))
    if kind == "class_raw":  # MATH-Minos: score Linear(H, 1) with bias, the raw logit
        return (h @ w["score_w"].T + w["score_b"])[:, 0]
    if kind == "class_diff":  # PURE: score Linear(H, 2) with bias, softmax, p1 - p0
        p = torch.softmax(h @ w["score_w"].T + w["score_b"], dim=-1)
        return p[:, 1] - p[:, 0]
    if kind in ("reasoneval", "reasoneval_redundancy"):
        # ReasonEval: softmax over [negative, neutral, positive] of score_head
        # (no bias); validity p1 + p2, redundancy p1
        p = torch.softmax(h @ w["score_head"].T, dim=-1)
        return p[:, 1] + p[:, 2] if kind == "reasoneval" else p[:, 1]
    raise ValueError(kind)


def head_tokens(family, folder):
    """The head's token ids, looked up in tokenizer.json's vocabulary directly:
    math-shepherd encode("+ -") = "▁+", "▁-"; rlhflow encode("+") = "+"
    (docs/tiny-model.md: these are single tokens in the tiny vocabularies).
    -1 where the family's head reads no token."""
    vocab = json.load(open(os.path.join(folder, "tokenizer.json")))["model"]["vocab"]
    if family == "math-shepherd":
        return vocab["\u2581+"], vocab["\u2581-"]
    if family == "rlhflow":
        return vocab["+"], -1
    return -1, -1


def score(cfg, w, tokens, seq_start, readout, kind, tok_a, tok_b, dtype=torch.float64):
    hidden = []
    for s in range(len(seq_start) - 1):
        hidden.append(forward_hidden(cfg, w, tokens[seq_start[s]:seq_start[s + 1]], dtype))
    h = torch.cat(hidden)[torch.tensor(readout, dtype=torch.long)]
    return head_rewards(kind, w, h, tok_a, tok_b)


def backbone_config(arch, size):
    """A tiny random model of each backbone; `golden` is small enough for a
    committed file and a fast sanitizer run, `small` is the brief's test size."""
    if size == "golden":
        c = dict(hidden_size=32, num_layers=2, num_heads=4, num_kv_heads=2, head_dim=8,
                 intermediate_size=64, vocab_size=64)
    else:
        c = dict(hidden_size=64, num_layers=3, num_heads=4, num_kv_heads=2, head_dim=16,
                 intermediate_size=128, vocab_size=300)
    c.update(arch=arch, rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=0,
             attn_bias=0, sliding_window=0, rope_llama3=0, rope_factor=0.0,
             rope_low_freq_factor=0.0, rope_high_freq_factor=0.0, rope_original_max_pos=0)
    if arch == "qwen2":
        c.update(attn_bias=1, tie_word_embeddings=1, rope_theta=1000000.0)
    elif arch == "llama":
        # A short "original" context puts the RoPE frequencies in all three
        # llama3 regions (kept, blended, divided by factor) at these sizes.
        c.update(rope_theta=500000.0, rms_norm_eps=1e-5, rope_llama3=1, rope_factor=8.0,
                 rope_low_freq_factor=1.0, rope_high_freq_factor=4.0, rope_original_max_pos=64)
    elif arch == "mistral":
        c.update(sliding_window=8)  # shorter than the sequences, so the window matters
    return c


def make_cases(size, seed):
    rng = np.random.default_rng(seed)
    cases = []
    for ai, arch in enumerate(("qwen2", "llama", "mistral")):
        cfg = backbone_config(arch, size)
        for dtype, bits in (("f32", 24), ("bf16", 8), ("f16", 8)):
            if size == "golden" and dtype == "f16":
                continue  # f16 is checked by the torch test; keep the golden file small
            wseed = seed * 1000 + ai * 10 + bits
            lens = ([7, 19, 3, 26] if size == "golden" else
                    list(rng.integers(2, 40, size=int(rng.integers(3, 5)))))
            seq_start = [0]
            for n in lens:
                seq_start.append(seq_start[-1] + int(n))
            ntok = seq_start[-1]
            tokens = [int(t) for t in rng.integers(0, cfg["vocab_size"], size=ntok)]
            # every sequence's first and last token, plus a random third of the rest
            readout = sorted(set([s for s in seq_start[:-1]] + [s - 1 for s in seq_start[1:]] +
                                 [int(t) for t in np.nonzero(rng.random(ntok) < 0.33)[0]]))
            tok_a, tok_b = (int(t) for t in rng.choice(cfg["vocab_size"], 2, replace=False))
            w = synth_weights(cfg, wseed, bits)
            heads = []
            for kind in HEADS:
                r = score(cfg, w, tokens, seq_start, readout, kind, tok_a, tok_b)
                heads.append(dict(kind=kind, tok_a=tok_a, tok_b=tok_b,
                                  rewards=[float(x) for x in r]))
            cases.append(dict(name=f"{arch}-{dtype}-{size}", config=cfg, seed=wseed,
                              dtype=dtype, bits=bits, tokens=tokens, seq_start=seq_start,
                              readout=readout, heads=heads))
    return cases


# ---- Hugging Face checkpoint folders (e.g. `prmeval tiny-model`), read with
# struct + json + numpy only, so that no code is shared with the C reader ----

HF_LAYER_NAMES = {
    "input_layernorm.weight": "in_norm", "self_attn.q_proj.weight": "wq",
    "self_attn.k_proj.weight": "wk", "self_attn.v_proj.weight": "wv",
    "self_attn.q_proj.bias": "bq", "self_attn.k_proj.bias": "bk", "self_attn.v_proj.bias": "bv",
    "self_attn.o_proj.weight": "wo", "post_attention_layernorm.weight": "post_norm",
    "mlp.gate_proj.weight": "w_gate", "mlp.up_proj.weight": "w_up", "mlp.down_proj.weight": "w_down",
}
HF_TAIL_NAMES = {
    "model.embed_tokens.weight": "embed", "model.norm.weight": "final_norm", "lm_head.weight": "lm_head",
    "score.0.weight": "score0_w", "score.0.bias": "score0_b", "score.2.weight": "score2_w",
    "score.2.bias": "score2_b", "v_head.summary.weight": "vhead_w", "v_head.summary.bias": "vhead_b",
    "score_head.weight": "score_head", "score.weight": "score_w", "score.bias": "score_b",
}


def read_safetensors(path):
    """{name: float64 numpy array} of one .safetensors file (F32, F16, BF16)."""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    (hlen,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + hlen])
    base = 8 + hlen
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        raw = data[base + b:base + e]
        if t["dtype"] == "F32":
            a = np.frombuffer(raw, dtype="<f4")
        elif t["dtype"] == "F16":
            a = np.frombuffer(raw, dtype="<f2")
        elif t["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(f"{path}: {name}: dtype {t['dtype']}")
        out[name] = a.astype(np.float64).reshape(t["shape"])
    return out


def load_checkpoint(folder, dtype=torch.float64):
    """(cfg, weights) in this file's naming from a Hugging Face folder with
    config.json and model.safetensors (or shards named in the index)."""
    import os
    with open(os.path.join(folder, "config.json")) as f:
        hf = json.load(f)
    mt = hf["model_type"]
    arch = {"qwen2": "qwen2", "llama": "llama", "mistral": "mistral"}[mt]
    H, NH = hf["hidden_size"], hf["num_attention_heads"]
    rs = hf.get("rope_scaling") or {}
    llama3 = (rs.get("rope_type") or rs.get("type")) == "llama3"
    sw = 0
    if mt == "mistral" and hf.get("sliding_window"):
        sw = hf["sliding_window"]
    elif mt == "qwen2" and hf.get("use_sliding_window") and hf.get("sliding_window"):
        sw = hf["sliding_window"]
    cfg = dict(arch=arch, hidden_size=H, num_layers=hf["num_hidden_layers"], num_heads=NH,
               num_kv_heads=hf.get("num_key_value_heads", NH), head_dim=hf.get("head_dim") or H // NH,
               intermediate_size=hf["intermediate_size"], vocab_size=hf["vocab_size"],
               rms_norm_eps=hf.get("rms_norm_eps", 1e-6), rope_theta=float(hf.get("rope_theta", 10000.0)),
               tie_word_embeddings=int(bool(hf.get("tie_word_embeddings", False))),
               attn_bias=int(mt == "qwen2"), sliding_window=sw, rope_llama3=int(llama3),
               rope_factor=float(rs.get("factor", 0.0)),
               rope_low_freq_factor=float(rs.get("low_freq_factor", 0.0)),
               rope_high_freq_factor=float(rs.get("high_freq_factor", 0.0)),
               rope_original_max_pos=int(rs.get("original_max_position_embeddings", 0)))
    index = os.path.join(folder, "model.safetensors.index.json")
    files = (sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index)
             else ["model.safetensors"])
    raw = {}
    for fn in files:
        raw.update(read_safetensors(os.path.join(folder, fn)))
    w = {}
    for name, a in raw.items():
        if name.startswith("model.layers."):
            l, rest = name[len("model.layers."):].split(".", 1)
            w[f"layers.{l}.{HF_LAYER_NAMES[rest]}"] = torch.from_numpy(a).to(dtype)
        else:
            w[HF_TAIL_NAMES[name]] = torch.from_numpy(a).to(dtype)
    if "lm_head" not in w:
        w["lm_head"] = w["embed"]  # tied, or unused by the PRM heads
    return cfg, w


def qwen05b_config():
    c = backbone_config("qwen2", "small")
    c.update(hidden_size=896, num_layers=24, num_heads=14, num_kv_heads=2, head_dim=64,
             intermediate_size=4864, vocab_size=151936)
    return c


def bench(args):
    """Times the fp32 forward of the Qwen2.5-0.5B shape on packed sequences, the
    way a PyTorch user would run it: batched per sequence, fp32, MKL/OpenBLAS
    matmuls, torch.set_num_threads(N). Prints one JSON line."""
    torch.set_num_threads(args.threads)
    cfg = qwen05b_config()
    t0 = time.perf_counter()
    w = synth_weights(cfg, args.seed, 24, dtype=torch.float32)
    t_synth = time.perf_counter() - t0
    # the token rule of bench/bench_cpu_forward.c
    tokens = [mix64_int(args.seed + (i + 1) * GAMMA) % cfg["vocab_size"]
              for i in range(args.seqs * args.len)]
    seq_start = [i * args.len for i in range(args.seqs + 1)]
    readout = [s - 1 for s in seq_start[1:]]
    with torch.inference_mode():
        score(cfg, w, tokens[:64], [0, 64], [63], "qwen_prm", 0, 1, torch.float32)  # warm-up
        best = float("inf")
        for _ in range(args.reps):
            t0 = time.perf_counter()
            r = score(cfg, w, tokens, seq_start, readout, "qwen_prm", 0, 1, torch.float32)
            best = min(best, time.perf_counter() - t0)
    print(json.dumps(dict(tokens=len(tokens), seconds=best, tokens_per_s=len(tokens) / best,
                          threads=args.threads, synth_seconds=t_synth,
                          torch=torch.__version__, rewards=[float(x) for x in r])))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cases")
    c.add_argument("--out", required=True)
    c.add_argument("--size", choices=("golden", "small"), default="small")
    c.add_argument("--seed", type=int, default=1)
    b = sub.add_parser("bench")
    b.add_argument("--threads", type=int, required=True)
    b.add_argument("--seqs", type=int, default=4)
    b.add_argument("--len", type=int, default=512)
    b.add_argument("--reps", type=int, default=2)
    b.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if args.cmd == "cases":
        with open(args.out, "w") as f:
            json.dump(dict(generator="tests/oracle/torch_prm.py", size=args.size, seed=args.seed,
                           cases=make_cases(args.size, args.seed)), f, separators=(",", ":"))
            f.write("\n")
    else:
        bench(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
