# `prmeval tiny-model` checked from outside: the files are re-read here with
# struct + json + numpy (no prmeval code), the weights are regenerated with an
# independent Python copy of the documented generator (docs/tiny-model.md), and
# `prmeval inspect` must accept every family.
import json
import os
import shutil
import struct
import subprocess
import sys

import numpy as np

PRMEVAL = os.environ["PRMEVAL"]
TMP = os.environ["PRMEVAL_TMP"]
FAMILIES = ["qwen-prm", "skywork", "math-shepherd", "rlhflow"]
MASK = (1 << 64) - 1
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAILED:", what, file=sys.stderr)


def gen(d, family, *args):
    shutil.rmtree(d, ignore_errors=True)
    r = subprocess.run([PRMEVAL, "tiny-model", d, "--family", family, *args], capture_output=True, text=True)
    check(r.returncode == 0, f"tiny-model {family} {args}: {r.stderr}")


def read_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    check(n % 8 == 0, f"{path}: header length {n} padded to 8")
    data = raw[8 + n:]
    out, end = {}, 0
    for name, t in sorted(((k, v) for k, v in header.items() if k != "__metadata__"), key=lambda kv: kv[1]["data_offsets"][0]):
        b, e = t["data_offsets"]
        check(b == end, f"{path}: {name} starts at {b}, previous ended at {end}")
        end = e
        buf = data[b:e]
        if t["dtype"] == "F32":
            a = np.frombuffer(buf, dtype="<f4")
        elif t["dtype"] == "F16":
            a = np.frombuffer(buf, dtype="<f2").astype(np.float32)
        elif t["dtype"] == "BF16":  # bfloat16 = the top 16 bits of a float32
            a = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise AssertionError(f"{path}: {name}: dtype {t['dtype']}")
        check(a.size == int(np.prod(t["shape"], dtype=np.int64)), f"{name}: bytes match shape")
        out[name] = (t["dtype"], tuple(t["shape"]), a.reshape(t["shape"]), bytes(buf))
    check(end == len(data), f"{path}: data area fully used ({end} of {len(data)})")
    check(header.get("__metadata__", {}).get("format") == "pt", f"{path}: __metadata__.format == pt")
    return out


def expected_shapes(cfg, family):
    H, F, V, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg["num_hidden_layers"]
    D = cfg.get("head_dim") or H // cfg["num_attention_heads"]
    Q, K = cfg["num_attention_heads"] * D, cfg["num_key_value_heads"] * D
    s = {"model.embed_tokens.weight": (V, H), "model.norm.weight": (H,)}
    for l in range(L):
        p = f"model.layers.{l}."
        s.update({p + "input_layernorm.weight": (H,), p + "post_attention_layernorm.weight": (H,),
                  p + "self_attn.q_proj.weight": (Q, H), p + "self_attn.k_proj.weight": (K, H),
                  p + "self_attn.v_proj.weight": (K, H), p + "self_attn.o_proj.weight": (H, Q),
                  p + "mlp.gate_proj.weight": (F, H), p + "mlp.up_proj.weight": (F, H), p + "mlp.down_proj.weight": (H, F)})
        if cfg["model_type"] == "qwen2":
            s.update({p + "self_attn.q_proj.bias": (Q,), p + "self_attn.k_proj.bias": (K,), p + "self_attn.v_proj.bias": (K,)})
    if family == "qwen-prm":
        s.update({"score.0.weight": (H, H), "score.0.bias": (H,), "score.2.weight": (2, H), "score.2.bias": (2,)})
    elif family == "skywork":
        s.update({"v_head.summary.weight": (1, H), "v_head.summary.bias": (1,)})
    else:
        s["lm_head.weight"] = (V, H)
    return s


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def fnv1a64(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def regenerate(seed, name, shape):
    """The documented generator: stream seeded with splitmix64(seed ^ fnv1a64(name)),
    U = top 24 bits / 2^24, value = center + scale * (2U - 1) in float32."""
    n = int(np.prod(shape))
    _, st = splitmix64(seed ^ fnv1a64(name))
    top = np.empty(n, dtype=np.float32)
    for i in range(n):
        st, x = splitmix64(st)
        top[i] = x >> 40
    u = top * np.float32(1.0 / 16777216.0)
    if name.endswith("layernorm.weight") or name == "model.norm.weight":
        center, scale = np.float32(1), np.float32(0.2)
    elif name == "model.embed_tokens.weight":
        center, scale = np.float32(0), np.float32(1)
    elif name.endswith("_proj.bias"):
        center, scale = np.float32(0), np.float32(0.5)
    elif name.endswith(".bias"):
        center, scale = np.float32(0), np.float32(0.1)
    else:  # Linear [out, in]: std 1/sqrt(in)
        center, scale = np.float32(0), np.sqrt(np.float32(3) / np.float32(shape[1]))
    return (center + scale * (np.float32(2) * u - np.float32(1))).reshape(shape)


def bf16_rne(a):
    u = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


os.makedirs(TMP, exist_ok=True)
for family in FAMILIES:
    a, b, c = (os.path.join(TMP, f"{family}-{k}") for k in "abc")
    gen(a, family, "--seed", "11")
    gen(b, family, "--seed", "11")
    gen(c, family, "--seed", "12")
    files = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]
    for f in files:
        check(open(f"{a}/{f}", "rb").read() == open(f"{b}/{f}", "rb").read(), f"{family}: {f} identical for the same seed")
    check(open(f"{a}/model.safetensors", "rb").read() != open(f"{c}/model.safetensors", "rb").read(),
          f"{family}: another seed gives other weights")

    cfg = json.load(open(f"{a}/config.json"))
    tok = json.load(open(f"{a}/tokenizer.json"))
    st = read_safetensors(f"{a}/model.safetensors")
    want = expected_shapes(cfg, family)
    check(set(st) == set(want), f"{family}: tensor names {sorted(set(st) ^ set(want))}")
    for name, shape in want.items():
        if name in st:
            check(st[name][1] == shape, f"{family}: {name} shape {st[name][1]} != {shape}")
            check(st[name][0] == "F32", f"{family}: {name} dtype {st[name][0]}")
    ids = list(tok["model"]["vocab"].values()) + [t["id"] for t in tok["added_tokens"]]
    check(max(ids) < cfg["vocab_size"], f"{family}: vocab_size {cfg['vocab_size']} covers the tokenizer ({max(ids) + 1})")
    check(len(set(ids)) == len(ids) or family == "math-shepherd", f"{family}: token ids unique")
    check(cfg["torch_dtype"] == "float32", f"{family}: torch_dtype")
    expect_arch = {"qwen-prm": "Qwen2ForProcessRewardModel", "skywork": "Qwen2ForPrmModel",
                   "math-shepherd": "MistralForCausalLM", "rlhflow": "LlamaForCausalLM"}[family]
    check(cfg["architectures"] == [expect_arch], f"{family}: architectures {cfg['architectures']}")
    if family == "rlhflow":
        rs = cfg["rope_scaling"]
        check(rs["rope_type"] == "llama3" and rs["factor"] == 8 and rs["original_max_position_embeddings"] == 8192,
              "rlhflow: llama3 rope scaling")
    # Every small tensor, and one big one, equals the independent regeneration bit for bit.
    for name, (dt, shape, arr, _) in st.items():
        if arr.size <= 4096 or name == "model.layers.1.self_attn.q_proj.weight":
            ref = regenerate(11, name, shape)
            check(np.array_equal(arr.view(np.uint32), ref.view(np.uint32)), f"{family}: {name} regenerated from seed 11")

    r = subprocess.run([PRMEVAL, "inspect", a], capture_output=True, text=True)
    check(r.returncode == 0, f"{family}: inspect: {r.stderr}")
    check(f"family (recognised from config.json and the head tensors): {family}" in r.stdout, f"{family}: inspect names the family")
    check(f"tensors: {len(want)}" in r.stdout, f"{family}: inspect counts {len(want)} tensors")
    nparams = sum(int(np.prod(s)) for s in want.values())
    check(f"parameters: {nparams} " in r.stdout, f"{family}: inspect counts {nparams} parameters")

# bf16 and f16 files hold the f32 values rounded to nearest even, and inspect reads them.
for dtype in ["bf16", "f16"]:
    d32, dlo = os.path.join(TMP, "q32"), os.path.join(TMP, "q" + dtype)
    gen(d32, "qwen-prm", "--seed", "5", "--layers", "1", "--hidden", "32", "--heads", "2", "--kv-heads", "1", "--ffn", "48")
    gen(dlo, "qwen-prm", "--seed", "5", "--layers", "1", "--hidden", "32", "--heads", "2", "--kv-heads", "1", "--ffn", "48",
        "--dtype", dtype)
    s32, slo = read_safetensors(f"{d32}/model.safetensors"), read_safetensors(f"{dlo}/model.safetensors")
    cfg = json.load(open(f"{dlo}/config.json"))
    check(cfg["torch_dtype"] == {"bf16": "bfloat16", "f16": "float16"}[dtype], f"{dtype}: torch_dtype")
    check(cfg["hidden_size"] == 32 and cfg["head_dim"] == 16 and cfg["num_key_value_heads"] == 1, f"{dtype}: sizes")
    for name in s32:
        full = s32[name][2]
        if dtype == "bf16":
            want = bf16_rne(full).tobytes()
        else:
            want = full.astype(np.float16).tobytes()
        check(slo[name][0] == dtype.upper() and slo[name][3] == want, f"{dtype}: {name} rounded to nearest even")
    r = subprocess.run([PRMEVAL, "inspect", dlo, "--quiet"], capture_output=True, text=True)
    check(r.returncode == 0 and f"dtypes: {dtype.upper()} " in r.stdout, f"{dtype}: inspect: {r.stdout[-300:]} {r.stderr}")

# Usage errors are errors, not crashes.
for args, code in [(["--family", "gpt2"], 2), (["--family", "qwen-prm", "--heads", "3"], 2),
                   (["--family", "qwen-prm", "--kv-heads", "3"], 2), (["--family", "rlhflow", "--dtype", "f64"], 2),
                   (["--family", "rlhflow", "--layers", "0"], 2)]:
    r = subprocess.run([PRMEVAL, "tiny-model", os.path.join(TMP, "bad"), *args], capture_output=True, text=True)
    check(r.returncode == code and "prmeval tiny-model:" in r.stderr, f"tiny-model {args}: exit {r.returncode} {r.stderr}")
r = subprocess.run([PRMEVAL, "inspect", os.path.join(TMP, "does-not-exist")], capture_output=True, text=True)
check(r.returncode == 4 and "does-not-exist" in r.stderr, f"inspect on a missing folder: {r.returncode} {r.stderr}")

print(f"{len(failures)} failures")
sys.exit(1 if failures else 0)
