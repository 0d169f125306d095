#!/usr/bin/env python3
"""GPU benchmark helpers for issue 4 item 5 (NOT RUN YET: written without a GPU).

  make-model DIR   a Qwen2.5-Math-PRM-7B-shaped checkpoint with random bf16
                   weights (28 layers, hidden 3584, 28/4 heads, FFN 18944, vocab
                   152064, qwen-prm `score` head), generated on the GPU.
  hf TOKENS DIR    Hugging Face transformers (bf16, sdpa attention) scoring the
                   token ids in TOKENS (JSONL: {"tokens": [...], "readout": [...]},
                   one per PRMBench sample, qwen-prm prompts) twice:
                   "reference" = padded batches of 2 in data order, as the PRMBench
                   code runs it; "best" = length-sorted batches, best batch size of
                   a sweep. Prints one JSON line per setting: tokens/s counts real
                   (unpadded) tokens only, so all rows of the table compare alike.
  flops TOKENS     model FLOPs of the whole input (dense products + causal attention).
"""
import argparse
import json
import math
import os
import sys
import time

SHAPE = dict(layers=28, hidden=3584, heads=28, kv_heads=4, ffn=18944, vocab=152064, head_dim=128)


def make_model(out):
    import torch
    from safetensors.torch import save_file
    s = SHAPE
    H, F, D, NH, NKV, V = s["hidden"], s["ffn"], s["head_dim"], s["heads"], s["kv_heads"], s["vocab"]
    os.makedirs(out, exist_ok=True)
    g = torch.Generator(device="cuda").manual_seed(1234)

    def rnd(*shape, std=0.02):
        return (torch.randn(*shape, generator=g, device="cuda") * std).to(torch.bfloat16).cpu()

    shard, idx, n = {}, {}, 0

    def flush():
        nonlocal shard, n
        if shard:
            name = f"model-{n:05d}.safetensors"
            save_file(shard, os.path.join(out, name), metadata={"format": "pt"})
            idx.update({k: name for k in shard})
            shard, n = {}, n + 1

    shard["model.embed_tokens.weight"] = rnd(V, H)
    for l in range(s["layers"]):
        p = f"model.layers.{l}."
        shard[p + "input_layernorm.weight"] = (1 + rnd(H, std=0.1)).to("cpu")
        shard[p + "post_attention_layernorm.weight"] = (1 + rnd(H, std=0.1)).to("cpu")
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
        if l % 4 == 3:
            flush()
    shard["model.norm.weight"] = (1 + rnd(H, std=0.1)).to("cpu")
    shard["score.0.weight"], shard["score.0.bias"] = rnd(H, H), rnd(H)
    shard["score.2.weight"], shard["score.2.bias"] = rnd(2, H), rnd(2)
    flush()
    json.dump({"metadata": {}, "weight_map": idx}, open(os.path.join(out, "model.safetensors.index.json"), "w"))
    cfg = {"architectures": ["Qwen2ForProcessRewardModel"], "model_type": "qwen2", "hidden_size": H,
           "intermediate_size": F, "num_hidden_layers": s["layers"], "num_attention_heads": NH,
           "num_key_value_heads": NKV, "vocab_size": V, "max_position_embeddings": 4096,
           "rope_theta": 10000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": False,
           "use_sliding_window": False, "torch_dtype": "bfloat16", "hidden_act": "silu",
           "bos_token_id": 151643, "eos_token_id": 151645}
    json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=1)
    print(f"wrote {out}")


def load_tokens(path):
    return [json.loads(l) for l in open(path)]


def model_flops(recs, s=SHAPE):
    """2 FLOPs per multiply-add: dense products per token, causal attention
    (QK^T and PV over the t+1 visible keys), and the score head at read-outs."""
    H, F, D, NH, NKV, L = s["hidden"], s["ffn"], s["head_dim"], s["heads"], s["kv_heads"], s["layers"]
    dense = 2 * L * (H * (NH + 2 * NKV) * D + NH * D * H + 3 * H * F)
    total = 0
    for r in recs:
        n = len(r["tokens"])
        total += n * dense + L * 2 * 2 * NH * D * (n * (n + 1) // 2) + len(r["readout"]) * 2 * (H * H + 2 * H)
    return total


def hf_run(recs, model_dir, batch, sort):
    import torch
    import transformers
    from safetensors.torch import load_file
    model = transformers.Qwen2Model.from_pretrained(model_dir, torch_dtype=torch.bfloat16,
                                                    attn_implementation="sdpa").cuda().eval()
    head = {}
    for f in os.listdir(model_dir):
        if f.endswith(".safetensors"):
            head.update({k: v.cuda() for k, v in load_file(os.path.join(model_dir, f)).items() if k.startswith("score.")})
    order = sorted(range(len(recs)), key=lambda i: len(recs[i]["tokens"])) if sort else list(range(len(recs)))
    ntok = sum(len(r["tokens"]) for r in recs)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.no_grad():
        for b0 in range(0, len(order), batch):
            group = [recs[i] for i in order[b0:b0 + batch]]
            T = max(len(r["tokens"]) for r in group)
            ids = torch.zeros(len(group), T, dtype=torch.long)
            mask = torch.zeros(len(group), T, dtype=torch.long)
            for j, r in enumerate(group):   # right padding, as the PRMBench code's tokenizer call
                ids[j, :len(r["tokens"])] = torch.tensor(r["tokens"])
                mask[j, :len(r["tokens"])] = 1
            hid = model(input_ids=ids.cuda(), attention_mask=mask.cuda()).last_hidden_state
            for j, r in enumerate(group):
                x = hid[j, r["readout"]]
                z = torch.nn.functional.linear(torch.relu(torch.nn.functional.linear(
                    x, head["score.0.weight"], head["score.0.bias"])), head["score.2.weight"], head["score.2.bias"])
                torch.softmax(z.float(), -1)[:, 1].cpu()
    torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    del model
    torch.cuda.empty_cache()
    return ntok, dt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("make-model").add_argument("dir")
    h = sub.add_parser("hf")
    h.add_argument("tokens")
    h.add_argument("dir")
    h.add_argument("--sweep", default="4,8,16,32,64")
    sub.add_parser("flops").add_argument("tokens")
    a = ap.parse_args()
    if a.cmd == "make-model":
        make_model(a.dir)
    elif a.cmd == "flops":
        print(model_flops(load_tokens(a.tokens)))
    else:
        recs = load_tokens(a.tokens)
        ntok, dt = hf_run(recs, a.dir, 2, False)
        print(json.dumps({"setting": "hf-reference (padded, batch 2)", "tokens": ntok, "seconds": dt}))
        best = None
        for bs in [int(x) for x in a.sweep.split(",")]:
            try:
                ntok, dt = hf_run(recs, a.dir, bs, True)
            except Exception as exc:   # out of memory ends the sweep
                print(json.dumps({"setting": f"hf sorted batch {bs}", "error": str(exc)[:200]}))
                break
            print(json.dumps({"setting": f"hf sorted batch {bs}", "tokens": ntok, "seconds": dt}), file=sys.stderr)
            if best is None or dt < best[2]:
                best = (bs, ntok, dt)
        if best:
            print(json.dumps({"setting": f"hf-best (length-sorted, batch {best[0]})", "tokens": best[1], "seconds": best[2]}))


if __name__ == "__main__":
    main()
