#!/usr/bin/env python3
"""GPU benchmark helpers for issue 4 item 5 (bench/bench_gpu.sh). NOT RUN on a
GPU yet: checked with bench_gpu.sh --cpu-dry-run only.

  make-model DIR [--shape 7b|dry] [--device cuda|cpu]
      a Qwen2.5-Math-PRM-7B-shaped checkpoint with random bf16 weights (28
      layers, hidden 3584, 28/4 heads, FFN 18944, vocabulary 152064, qwen-prm
      `score` head; 4-layer shards + index), generated on the device. "dry" is
      a 2-layer, hidden-256 model of the same layout for the dry run.
  flops TOKENS DIR
      model FLOPs of the prompts in TOKENS (dense products + causal attention +
      the score head at the read-outs), shape from DIR/config.json.
  hf TOKENS DIR [--sweep 4,8,...] [--budget-s S] [--rewards FILE] [--impl ...]
      Hugging Face transformers (bf16, sdpa attention; no hub access) scoring the
      prompts of TOKENS, loaded once, timed twice: "reference" = right-padded
      batches of 2 in data order, as the PRMBench code runs it; then length-sorted
      batches for each size of the sweep (stopped by out-of-memory or the time
      budget); the best of them is "best". One JSON line per setting on stdout;
      tokens count real (unpadded) tokens only. --rewards writes the reference
      setting's rewards per sample key. --impl oracle runs tests/oracle/torch_prm.py
      instead (fp32, CPU: the dry run on machines without transformers).
  oneline BENCH.json
      the table's figures in one line (tests/gpu/gpu_session.sh's summary).
  report ...
      the table: prmeval's own scoring time (its JSON's "run" section) against
      each transformers setting, tokens/s, MFU against the dense bf16 peak,
      speed-ups and the issue's targets; prmeval's rewards against transformers'.

TOKENS is `prmeval run --dump-tokens` output: one JSON line per prompt with
"key", "ids" (after the 2048-token cut) and "readout" (positions); prompts
without a read-out are not scored by prmeval and are left out here too."""
import argparse
import json
import os
import sys
import time

SHAPES = {
    "7b": dict(layers=28, hidden=3584, heads=28, kv_heads=4, ffn=18944, vocab=152064, head_dim=128),
    "dry": dict(layers=2, hidden=256, heads=4, kv_heads=2, ffn=512, vocab=152064, head_dim=64),
}
HERE = os.path.dirname(os.path.abspath(__file__))


def make_model(out, shape, device, seed):
    import torch
    from safetensors_io import save_shard
    s = SHAPES[shape]
    H, F, D, NH, NKV, V = s["hidden"], s["ffn"], s["head_dim"], s["heads"], s["kv_heads"], s["vocab"]
    os.makedirs(out, exist_ok=True)
    g = torch.Generator(device=device).manual_seed(seed)

    def rnd(*size, std=0.02, center=0.0):
        return (center + torch.randn(*size, generator=g, device=device) * std).to(torch.bfloat16).cpu()

    shard, idx, n = {}, {}, 0

    def flush():
        nonlocal shard, n
        if shard:
            name = f"model-{n:05d}.safetensors"
            save_shard(shard, os.path.join(out, name))
            idx.update({k: name for k in shard})
            shard, n = {}, n + 1

    shard["model.embed_tokens.weight"] = rnd(V, H)
    for layer in range(s["layers"]):
        p = f"model.layers.{layer}."
        shard[p + "input_layernorm.weight"] = rnd(H, std=0.1, center=1.0)
        shard[p + "post_attention_layernorm.weight"] = rnd(H, std=0.1, center=1.0)
        shard[p + "self_attn.q_proj.weight"] = rnd(NH * D, H)
        shard[p + "self_attn.k_proj.weight"] = rnd(NKV * D, H)
        shard[p + "self_attn.v_proj.weight"] = rnd(NKV * D, H)
        shard[p + "self_attn.q_proj.bias"] = rnd(NH * D)
        shard[p + "self_attn.k_proj.bias"] = rnd(NKV * D)
        shard[p + "self_attn.v_proj.bias"] = rnd(NKV * D)
        shard[p + "self_attn.o_proj.weight"] = rnd(H, NH * D)
        shard[p + "mlp.gate_proj.weight"] = rnd(F, H)
        shard[p + "mlp.up_proj.weight"] = rnd(F, H)
        shard[p + "mlp.down_proj.weight"] = rnd(H, F)
        if layer % 4 == 3:
            flush()
    shard["model.norm.weight"] = rnd(H, std=0.1, center=1.0)
    shard["score.0.weight"], shard["score.0.bias"] = rnd(H, H), rnd(H)
    shard["score.2.weight"], shard["score.2.bias"] = rnd(2, H), rnd(2)
    flush()
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": idx}, f)
    cfg = {"architectures": ["Qwen2ForProcessRewardModel"], "model_type": "qwen2", "hidden_size": H,
           "intermediate_size": F, "num_hidden_layers": s["layers"], "num_attention_heads": NH,
           "num_key_value_heads": NKV, "head_dim": D, "vocab_size": V, "max_position_embeddings": 4096,
           "rope_theta": 10000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": False,
           "use_sliding_window": False, "sliding_window": 4096, "torch_dtype": "bfloat16", "hidden_act": "silu",
           "bos_token_id": 151643, "eos_token_id": 151645}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    print(f"wrote {out} ({shape}: {s})")


def load_tokens(path):
    """Prompts with at least one read-out, in dump (= data) order."""
    recs = []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r["readout"]:
                recs.append(r)
    return recs


def shape_of(model_dir):
    c = json.load(open(os.path.join(model_dir, "config.json")))
    return dict(layers=c["num_hidden_layers"], hidden=c["hidden_size"], heads=c["num_attention_heads"],
                kv_heads=c.get("num_key_value_heads", c["num_attention_heads"]), ffn=c["intermediate_size"],
                head_dim=c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"])


def model_flops(recs, s):
    """2 FLOPs per multiply-add: dense products per token, causal attention
    (QK^T and PV over the t+1 visible keys), and the score head at read-outs."""
    H, F, D, NH, NKV, L = s["hidden"], s["ffn"], s["head_dim"], s["heads"], s["kv_heads"], s["layers"]
    dense = 2 * L * (H * (NH + 2 * NKV) * D + NH * D * H + 3 * H * F)
    total = 0
    for r in recs:
        n = len(r["ids"])
        total += n * dense + L * 2 * 2 * NH * D * (n * (n + 1) // 2) + len(r["readout"]) * 2 * (H * H + 2 * H)
    return total


def read_score_head(model_dir):
    import glob
    import torch
    want = {"score.0.weight", "score.0.bias", "score.2.weight", "score.2.bias"}
    out = {}
    for fn in sorted(glob.glob(os.path.join(model_dir, "*.safetensors"))):
        try:
            from safetensors import safe_open
            with safe_open(fn, framework="pt") as f:
                for k in f.keys():
                    if k in want:
                        out[k] = f.get_tensor(k)
        except ImportError:
            sys.path.insert(0, os.path.join(HERE, "..", "tests", "oracle"))
            import torch_prm
            for k, a in torch_prm.read_safetensors(fn).items():
                if k in want:
                    out[k] = torch.from_numpy(a).float()
    missing = want - set(out)
    if missing:
        raise RuntimeError(f"{model_dir}: no {sorted(missing)}")
    return out


class HF:
    """transformers' Qwen2Model in bf16 with sdpa attention."""

    def __init__(self, model_dir, device):
        import torch
        import transformers
        major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
        key = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
        self.dtype = torch.bfloat16
        m = transformers.Qwen2Model.from_pretrained(model_dir, attn_implementation="sdpa", local_files_only=True,
                                                    **{key: self.dtype})
        self.check_weights(m, model_dir)
        self.model = m.to(device).eval()
        self.device = device
        self.name = f"transformers {transformers.__version__} Qwen2Model (bf16, sdpa)"

    @staticmethod
    def check_weights(m, model_dir):
        """A few tensors against the checkpoint: a silently re-initialised model would be timed in vain."""
        import torch
        from safetensors import safe_open
        index = json.load(open(os.path.join(model_dir, "model.safetensors.index.json")))["weight_map"]
        sd = m.state_dict()
        L = m.config.num_hidden_layers
        for name in ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
                     f"model.layers.{L - 1}.mlp.down_proj.weight", "model.norm.weight"]:
            with safe_open(os.path.join(model_dir, index[name]), framework="pt") as f:
                want = f.get_tensor(name)
            if not torch.equal(sd[name[len("model."):]].cpu(), want):
                raise RuntimeError(f"{model_dir}: transformers did not load {name} from the checkpoint")

    def hidden(self, ids, mask):
        return self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).last_hidden_state


class Oracle:
    """tests/oracle/torch_prm.py (fp32, CPU), one unpadded row at a time, padded
    back into (B, T, H): stands in for transformers in the dry run."""

    def __init__(self, model_dir, device):
        import torch
        sys.path.insert(0, os.path.join(HERE, "..", "tests", "oracle"))
        import torch_prm
        self.tp = torch_prm
        self.cfg, self.w = torch_prm.load_checkpoint(model_dir, dtype=torch.float32)
        self.dtype = torch.float32
        self.device = "cpu"
        self.name = "tests/oracle/torch_prm.py (fp32, cpu; transformers not installed)"

    def hidden(self, ids, mask):
        import torch
        B, T = ids.shape
        out = torch.zeros(B, T, self.cfg["hidden_size"])
        for b in range(B):
            n = int(mask[b].sum())
            out[b, :n] = self.tp.forward_hidden(self.cfg, self.w, ids[b, :n].tolist(), torch.float32)
        return out


def hf_setting(impl, head, recs, batch, sort):
    """Scores every prompt; returns (seconds, real tokens, padded tokens, {key: rewards})."""
    import torch
    F = torch.nn.functional
    order = sorted(range(len(recs)), key=lambda i: len(recs[i]["ids"])) if sort else list(range(len(recs)))
    cuda = impl.device == "cuda"
    ntok = sum(len(r["ids"]) for r in recs)
    padded = 0
    rewards = {}
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.no_grad():
        for b0 in range(0, len(order), batch):
            group = [recs[i] for i in order[b0:b0 + batch]]
            T = max(len(r["ids"]) for r in group)
            padded += T * len(group)
            ids = torch.zeros(len(group), T, dtype=torch.long)
            mask = torch.zeros(len(group), T, dtype=torch.long)
            for j, r in enumerate(group):   # right padding, as the PRMBench code's tokenizer call
                ids[j, :len(r["ids"])] = torch.tensor(r["ids"])
                mask[j, :len(r["ids"])] = 1
            hid = impl.hidden(ids, mask)
            for j, r in enumerate(group):
                x = hid[j, r["readout"]]
                z = F.linear(torch.relu(F.linear(x, head["score.0.weight"], head["score.0.bias"])),
                             head["score.2.weight"], head["score.2.bias"])
                rewards[r["key"]] = torch.softmax(z.float(), -1)[:, 1].cpu().tolist()
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - t0, ntok, padded, rewards


def cmd_hf(a):
    import torch
    recs = load_tokens(a.tokens)
    t0 = time.perf_counter()
    impl = (HF if a.impl == "transformers" else Oracle)(a.dir, a.device)
    head = {k: v.to(impl.device, impl.dtype) for k, v in read_score_head(a.dir).items()}
    if impl.device == "cuda":
        torch.cuda.synchronize()
    load_s = time.perf_counter() - t0   # from_pretrained, the weight check, the copy to the GPU
    print(json.dumps({"setting": "implementation", "name": impl.name, "prompts": len(recs),
                      "load_seconds": load_s}), flush=True)
    hf_setting(impl, head, recs[:2], 2, False)   # warm-up: kernels, cuBLAS handles
    dt, ntok, padded, rew = hf_setting(impl, head, recs, 2, False)
    print(json.dumps({"setting": "hf-reference", "label": "transformers, padded batches of 2 in data order",
                      "batch": 2, "tokens": ntok, "padded_tokens": padded, "seconds": dt}), flush=True)
    if a.rewards:
        with open(a.rewards, "w") as f:
            json.dump(rew, f)
    best = None
    t_sweep = time.perf_counter()
    oom = getattr(torch.cuda, "OutOfMemoryError", RuntimeError)
    for bs in [int(x) for x in a.sweep.split(",") if x]:
        if time.perf_counter() - t_sweep > a.budget_s:
            print(json.dumps({"setting": f"hf-sorted-{bs}", "batch": bs, "skipped": "time budget"}), flush=True)
            continue
        try:
            dt, ntok, padded, _ = hf_setting(impl, head, recs, bs, True)
        except oom as exc:   # out of memory ends the sweep
            print(json.dumps({"setting": f"hf-sorted-{bs}", "batch": bs, "error": str(exc)[:200]}), flush=True)
            if impl.device == "cuda":
                torch.cuda.empty_cache()
            break
        print(json.dumps({"setting": f"hf-sorted-{bs}", "label": f"transformers, length-sorted batches of {bs}",
                          "batch": bs, "tokens": ntok, "padded_tokens": padded, "seconds": dt}), flush=True)
        if best is None or dt < best[3]:
            best = (bs, ntok, padded, dt)
    if best:
        print(json.dumps({"setting": "hf-best", "label": f"transformers, best: length-sorted batches of {best[0]}",
                          "batch": best[0], "tokens": best[1], "padded_tokens": best[2], "seconds": best[3]}))
    return 0


def cmd_report(a):
    """bench.txt (the table) and bench.json from the pieces of one bench_gpu.sh run."""
    recs = load_tokens(a.tokens)
    ntok = sum(len(r["ids"]) for r in recs)
    flops = model_flops(recs, shape_of(a.model))
    run = json.load(open(a.prmeval))["run"]
    k = run["ranks"][0]
    first = json.load(open(a.prmeval_first))["run"]["ranks"][0] if a.prmeval_first else None
    hf = [json.loads(l) for l in open(a.hf)] if a.hf and os.path.exists(a.hf) else []
    impl = next((h["name"] for h in hf if h.get("setting") == "implementation"), "transformers: not run")
    # tokens/s on the same basis for every row: the prompts' tokens (prefix reuse computes fewer)
    ptok = k.get("prompt_tokens", k["tokens"])
    rows = [dict(setting="prmeval", label=f"prmeval {k['backend']} (packed, no padding; scoring loop)",
                 tokens=ptok, seconds=k["seconds"])]
    rows += [h for h in hf if "seconds" in h]
    peak = a.peak * 1e12
    out = dict(gpu=a.gpu, mode=a.mode, peak_tflops=a.peak, model=a.model, prompts=len(recs), tokens=ntok,
               prmeval_tokens=k["tokens"], prmeval_prompt_tokens=ptok, flops=flops, device=k["device"], hf_impl=impl, rows=[],
               prmeval_first_run=first, limit=a.limit, command=a.command)
    lines = [f"GPU: {a.gpu} ({k['device']}); dense bf16 peak {a.peak} TFLOP/s" + (" (dry run: meaningless)" if a.mode == "dry" else ""),
             f"model: {a.model} ({shape_of(a.model)})",
             f"input: {len(recs)} prompts with read-outs ({'PRMBench limit ' + str(a.limit) + ' problems' if a.limit else 'whole PRMBench'}), "
             f"{ntok} tokens (prmeval computed {k['tokens']} of its {ptok}: prefix reuse); model FLOPs {flops:.4g} "
             f"of the whole prompts (prmeval's MFU counts them: with prefix reuse an effective, not a hardware, figure)",
             f"reference implementation: {impl}", "",
             "| setting | seconds | tokens/s | MFU | prmeval speed-up |", "|---|---|---|---|---|"]
    base = rows[0]["seconds"]
    for r in rows:
        mfu = flops / r["seconds"] / peak if r["seconds"] > 0 else 0
        sp = r["seconds"] / base if base > 0 else 0
        out["rows"].append(dict(r, tokens_per_s=r["tokens"] / r["seconds"], mfu=mfu, prmeval_speedup=sp))
        lines.append(f"| {r.get('label', r['setting'])} | {r['seconds']:.2f} | {r['tokens'] / r['seconds']:,.0f} | "
                     f"{100 * mfu:.1f}% | {sp:.2f}x |")
    if first:
        lines.append(f"(prmeval's first run, with --dump-tokens, scoring loop {first['seconds']:.2f} s; the table "
                     f"uses the second; both exclude loading the weights, include tokenizing the prompts)")
    else:
        lines.append("(prmeval's time is that of its only run, with --dump-tokens: no second run (the first took "
                     "longer than SECOND_RUN_MAX_S); it excludes loading the weights, includes tokenizing)")
    if a.prmeval_wall:
        ld = next((h.get("load_seconds") for h in hf if h.get("setting") == "implementation"), None)
        ref_s = next((h["seconds"] for h in hf if h.get("setting") == "hf-reference"), None)
        out["end_to_end"] = dict(prmeval_command_s=a.prmeval_wall, hf_load_s=ld, hf_reference_s=ref_s)
        e2e = f"end to end (weights loaded from the page cache): prmeval's whole command {a.prmeval_wall:.2f} s"
        if ld is not None and ref_s is not None:
            e2e += (f"; transformers loading {ld:.2f} s + reference setting {ref_s:.2f} s = {ld + ref_s:.2f} s "
                    f"(without Python's start and imports, nor tokenizing): prmeval {(ld + ref_s) / a.prmeval_wall:.2f}x")
            out["end_to_end"]["prmeval_speedup"] = (ld + ref_s) / a.prmeval_wall
        lines.append(e2e)
    if ptok != ntok:
        lines.append(f"WARNING: prmeval's prompts hold {ptok} tokens, transformers' {ntok}")
    ref = next((r for r in out["rows"] if r["setting"] == "hf-reference"), None)
    best = next((r for r in out["rows"] if r["setting"] == "hf-best"), None)
    mfu0 = out["rows"][0]["mfu"]
    targets = [("MFU >= 50%", mfu0 >= 0.5, f"{100 * mfu0:.1f}%")]
    if ref:
        targets.append((">= 3x transformers' reference setting", ref["prmeval_speedup"] >= 3, f"{ref['prmeval_speedup']:.2f}x"))
    if best:
        targets.append((">= 1.5x transformers' best setting", best["prmeval_speedup"] >= 1.5, f"{best['prmeval_speedup']:.2f}x"))
    out["targets"] = [dict(target=t, met=m, value=v) for t, m, v in targets]
    lines.append("")
    lines += [f"target {t}: {'met' if m else 'NOT met'} ({v})" for t, m, v in targets]
    if a.hf_rewards and os.path.exists(a.hf_rewards) and a.h5:
        sys.path.insert(0, os.path.join(HERE, "..", "tests", "gpu"))
        import reward_compare as rc
        mine = rc.read_h5(a.h5)
        theirs = json.load(open(a.hf_rewards))
        t = rc.Tally("qwen-prm")
        for key in sorted(theirs):
            if key in mine:
                t.add(key, mine[key][0], theirs[key], mine[key][1], None)
        res = t.result(check="prmeval rewards vs the reference setting's")
        out["rewards_vs_hf"] = res
        lines.append(f"rewards: prmeval vs {impl} ({res['status']} by tests/gpu/reward_compare.py's bf16 rule): "
                     + rc.describe(res))
    lines.append(f"command: {a.command}")
    text = "\n".join(lines) + "\n"
    with open(a.out_text, "w") as f:
        f.write(text)
    with open(a.out_json, "w") as f:
        json.dump(out, f, indent=1)
    sys.stdout.write(text)
    return 0


def cmd_oneline(a):
    """One line from bench.json for a summary: tokens/s, MFU, ratios, end to end."""
    b = json.load(open(a.json))
    rows = {r["setting"]: r for r in b["rows"]}
    p, ref, best = rows["prmeval"], rows.get("hf-reference"), rows.get("hf-best")
    s = (f"{b['prompts']} prompts, {b['tokens']} tokens; prmeval {p['tokens_per_s']:,.0f} tokens/s, "
         f"MFU {100 * p['mfu']:.1f}%")
    if ref:
        s += f"; transformers padded pairs {ref['tokens_per_s']:,.0f} tokens/s: prmeval {ref['prmeval_speedup']:.2f}x"
    if best:
        s += f"; its best ({best['label']}) {best['tokens_per_s']:,.0f} tokens/s: {best['prmeval_speedup']:.2f}x"
    e = b.get("end_to_end") or {}
    if e.get("prmeval_speedup"):
        s += (f"; end to end {e['prmeval_command_s']:.1f} s vs {e['hf_load_s'] + e['hf_reference_s']:.1f} s "
              f"({e['prmeval_speedup']:.2f}x)")
    print(s)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make-model")
    m.add_argument("dir")
    m.add_argument("--shape", choices=sorted(SHAPES), default="7b")
    m.add_argument("--device", default="cuda")
    m.add_argument("--seed", type=int, default=1234)
    fl = sub.add_parser("flops")
    fl.add_argument("tokens")
    fl.add_argument("dir")
    h = sub.add_parser("hf")
    h.add_argument("tokens")
    h.add_argument("dir")
    h.add_argument("--sweep", default="4,8,16,32,64")
    h.add_argument("--budget-s", type=float, default=240.0, help="no new sweep setting after this many seconds")
    h.add_argument("--rewards", help="JSON file for the reference setting's rewards per sample key")
    h.add_argument("--impl", choices=["transformers", "oracle"], default="transformers")
    h.add_argument("--device", default="cuda")
    r = sub.add_parser("report")
    r.add_argument("--tokens", required=True)
    r.add_argument("--model", required=True)
    r.add_argument("--prmeval", required=True, help="JSON of the timed prmeval run")
    r.add_argument("--prmeval-first", help="JSON of the first (--dump-tokens) run")
    r.add_argument("--prmeval-wall", type=float, help="wall time of the whole first prmeval command (s)")
    r.add_argument("--hf", help="hf's JSON lines")
    r.add_argument("--hf-rewards")
    r.add_argument("--h5", help="HDF5 of the timed prmeval run")
    r.add_argument("--peak", type=float, required=True, help="dense bf16 TFLOP/s")
    r.add_argument("--gpu", required=True)
    r.add_argument("--mode", default="gpu")
    r.add_argument("--limit", type=int, default=0)
    r.add_argument("--command", default="")
    r.add_argument("--out-text", required=True)
    r.add_argument("--out-json", required=True)
    o = sub.add_parser("oneline")
    o.add_argument("json")
    a = ap.parse_args()
    if a.cmd == "oneline":
        return cmd_oneline(a)
    if a.cmd == "make-model":
        sys.path.insert(0, HERE)
        make_model(a.dir, a.shape, a.device, a.seed)
        return 0
    if a.cmd == "flops":
        print(model_flops(load_tokens(a.tokens), shape_of(a.dir)))
        return 0
    if a.cmd == "hf":
        return cmd_hf(a)
    return cmd_report(a)


if __name__ == "__main__":
    sys.exit(main())
