"""PyTorch .bin checkpoints for the tests, written by Debian's torch.save
(run with /usr/bin/python3).

  convert SRC DST [--shards N] [--tie] [--fuse] [--dtype f32|bf16|f16]
      DST gets SRC's config and tokenizer files and SRC/model.safetensors as
      pytorch_model.bin (or N shards pytorch_model-0000k-of-0000N.bin with
      pytorch_model.bin.index.json, as transformers' save_pretrained writes
      them). --tie also stores lm_head.weight as the very tensor of
      model.embed_tokens.weight (one storage under two names, as a tied
      model's state_dict has it); --fuse stores each layer's q/k/v and
      gate/up projections as contiguous views at offsets of one storage.
      --dtype converts (default: keep the stored dtype).
  hostile DIR
      writes the corpus of hostile .bin files (one per case, DIR/<case>.bin)
      and DIR/EXPECT: "<case> <message fragment>" lines.

The safetensors file is read here by its format (8-byte length, JSON header,
raw bytes), independently of prmeval's reader."""
import collections
import io
import json
import os
import pickle
import shutil
import struct
import sys
import warnings
import zipfile

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
NAMED = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    sd = collections.OrderedDict()
    for name, h in header.items():
        if name == "__metadata__":
            continue
        b, e = h["data_offsets"]
        raw = bytearray(data[base + b:base + e])
        t = torch.frombuffer(raw, dtype=DTYPES[h["dtype"]]) if raw else torch.empty(0, dtype=DTYPES[h["dtype"]])
        sd[name] = t.reshape(h["shape"]).clone()
    return sd


def fuse(sd):
    """q/k/v and gate/up of each layer become views of one storage each."""
    out = collections.OrderedDict(sd)
    groups = collections.defaultdict(list)
    for name in sd:
        for part in ("q_proj", "k_proj", "v_proj"):
            if f".self_attn.{part}.weight" in name:
                groups[name.replace(f"{part}.weight", "qkv")].append(name)
        for part in ("gate_proj", "up_proj"):
            if f".mlp.{part}.weight" in name:
                groups[name.replace(f"{part}.weight", "gateup")].append(name)
    for names in groups.values():
        fused = torch.cat([sd[n] for n in names], dim=0)
        row = 0
        for n in names:
            k = sd[n].shape[0]
            out[n] = fused[row:row + k]  # a contiguous view at an offset of the shared storage
            row += k
    return out


def save_folder(src, dst, sd):
    os.makedirs(dst, exist_ok=True)
    for f in os.listdir(src):
        if f.endswith(".json") and f != "model.safetensors.index.json" or f == "tokenizer.model":
            shutil.copy(os.path.join(src, f), dst)


def convert(argv):
    src, dst = argv[0], argv[1]
    shards, tie, do_fuse, dtype = 1, False, False, None
    i = 2
    while i < len(argv):
        a = argv[i]
        if a == "--shards":
            shards = int(argv[i + 1])
            i += 1
        elif a == "--tie":
            tie = True
        elif a == "--fuse":
            do_fuse = True
        elif a == "--dtype":
            dtype = NAMED[argv[i + 1]]
            i += 1
        else:
            sys.exit(f"unknown option {a}")
        i += 1
    sd = read_safetensors(os.path.join(src, "model.safetensors"))
    if dtype is not None:
        sd = collections.OrderedDict((k, v.to(dtype)) for k, v in sd.items())
    if do_fuse:
        sd = fuse(sd)
    if tie:
        sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
    save_folder(src, dst, sd)
    if shards == 1:
        torch.save(sd, os.path.join(dst, "pytorch_model.bin"))
        return
    # Tensors that share a storage stay in one shard (transformers keeps them
    # together too); the groups are dealt out in order.
    groups = collections.OrderedDict()
    for n, t in sd.items():
        groups.setdefault(t.untyped_storage().data_ptr() if hasattr(t, "untyped_storage")
                          else t.storage().data_ptr(), []).append(n)
    groups = list(groups.values())
    per = -(-len(groups) // shards)
    weight_map = {}
    for k in range(shards):
        part = [n for g in groups[k * per:(k + 1) * per] for n in g]
        fn = f"pytorch_model-{k + 1:05d}-of-{shards:05d}.bin"
        torch.save(collections.OrderedDict((n, sd[n]) for n in part), os.path.join(dst, fn))
        for n in part:
            weight_map[n] = fn
    with open(os.path.join(dst, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=2)


# ---- hostile files -----------------------------------------------------------

def zip_with(pkl, storages=None, prefix="archive", compress=None, extra=None):
    """A torch.save-like archive holding the given data.pkl bytes."""
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{prefix}/data.pkl", pkl)
        for key, raw in (storages or {}).items():
            z.writestr(zipfile.ZipInfo(f"{prefix}/data/{key}"), raw,
                       compress_type=(compress or {}).get(key, zipfile.ZIP_STORED))
        for name, raw in (extra or {}).items():
            z.writestr(name, raw)
        z.writestr(f"{prefix}/version", "3\n")
    return b.getvalue()


def valid_pickle():
    """The data.pkl torch.save writes for {'w': float32 tensor (2, 3)}."""
    b = io.BytesIO()
    torch.save({"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}, b)
    with zipfile.ZipFile(io.BytesIO(b.getvalue())) as z:
        name = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
        return z.read(name), z.read(name.replace("data.pkl", "data/0"))


class Global:
    """Pickles as GLOBAL module name (and a REDUCE of it when called)."""
    def __init__(self, module, name):
        self.module, self.name = module, name


def p_global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def p_str(s):
    s = s.encode()
    return b"X" + struct.pack("<I", len(s)) + s


def p_int(i):
    return b"J" + struct.pack("<i", i) if i < 2 ** 31 else b"\x8a\x08" + struct.pack("<q", i)


def tensor_pickle(key="0", numel=6, offset=0, size=(2, 3), stride=(3, 1), storage="FloatStorage", name="w"):
    """A hand-written pickle of {name: _rebuild_tensor_v2(...)}, as torch.save writes it."""
    def tup(items):
        return b"(" + b"".join(items) + b"t"
    pid = tup([p_str("storage"), p_global("torch", storage), p_str(key), p_str("cpu"), p_int(numel)])
    args = tup([pid + b"Q", p_int(offset), tup([p_int(d) for d in size]), tup([p_int(d) for d in stride]),
                b"\x89", p_global("collections", "OrderedDict") + b")R"])
    return (b"\x80\x02}q\x00(" + p_str(name) + p_global("torch._utils", "_rebuild_tensor_v2") + args + b"Ru.")


def hostile(out):
    os.makedirs(out, exist_ok=True)
    pkl, raw = valid_pickle()
    f32 = struct.pack("<6f", *range(6))
    cases = {}

    class System:
        def __reduce__(self):
            return (os.system, ("echo pwned > /tmp/prmeval_pwned",))
    cases["os_system"] = (zip_with(pickle.dumps({"w": System()}, protocol=2)), "global 'posix.system' is not allowed")
    cases["unknown_global"] = (zip_with(b"\x80\x02" + p_global("builtins", "eval") + b"."),
                               "global 'builtins.eval' is not allowed")
    cases["reduce_storage_class"] = (zip_with(b"\x80\x02" + p_global("torch", "FloatStorage") + b")R."),
                                     "REDUCE of torch.FloatStorage")
    cases["int64_storage"] = (zip_with(tensor_pickle(storage="LongStorage"), {"0": raw}),
                              "global 'torch.LongStorage' is not allowed")
    cases["offset_past_end"] = (zip_with(tensor_pickle(offset=4), {"0": f32}),
                                "run past the end of storage '0'")
    cases["huge_size"] = (zip_with(tensor_pickle(size=(2 ** 40, 2 ** 40), stride=(2 ** 40, 1)), {"0": f32}),
                          "size overflows")
    cases["huge_storage"] = (zip_with(tensor_pickle(numel=2 ** 62, size=(2 ** 40,), stride=(1,)), {"0": f32}),
                             "entry 'archive/data/0' holds 24 bytes")
    cases["storage_short"] = (zip_with(tensor_pickle(numel=8, size=(8,), stride=(1,)), {"0": f32}),
                              "entry 'archive/data/0' holds 24 bytes")
    cases["non_contiguous"] = (zip_with(tensor_pickle(size=(3, 2), stride=(1, 3)), {"0": f32}),
                               "non-contiguous")
    cases["negative_stride"] = (zip_with(tensor_pickle(stride=(3, -1)), {"0": f32}), "is negative")
    cases["missing_storage"] = (zip_with(tensor_pickle(key="7"), {"0": f32}), "no entry 'archive/data/7'")
    cases["path_in_key"] = (zip_with(tensor_pickle(key="../0"), {"0": f32}), "storage key has a character")
    # A real torch.save file cut short: no end of central directory.
    b = io.BytesIO()
    torch.save({"w": torch.zeros(1000)}, b)
    cases["truncated_zip"] = (b.getvalue()[:3000], "not a readable zip archive")
    # data.pkl deflated from 200 MB of zeros: refused by its declared size.
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("archive/data.pkl", "w", force_zip64=True) as f:
            chunk = b"\0" * (1 << 20)
            for _ in range(200):
                f.write(chunk)
    cases["zip_bomb_pickle"] = (bomb.getvalue(), "more than the")
    cases["compressed_storage"] = (zip_with(tensor_pickle(), {"0": f32}, compress={"0": zipfile.ZIP_DEFLATED}),
                                   "is compressed")
    # A dict holding itself (memo cycle) as the only value.
    cases["memo_cycle"] = (zip_with(b"\x80\x02}q\x00" + p_str("w") + b"h\x00s."), "is a dict, not a tensor")
    # BUILD with the state dict itself as its state, then itself under a key.
    cases["memo_cycle_build"] = (zip_with(b"\x80\x02}q\x00h\x00b" + p_str("x") + b"h\x00s."), "not a tensor")
    cases["value_flood"] = (zip_with(b"\x80\x02" + b"N" * (3 << 20) + b"."), "values: not a state dict of this size")
    cases["memo_unset"] = (zip_with(b"\x80\x02h\x05."), "memo index 5 was never set")
    cases["memo_huge"] = (zip_with(b"\x80\x02}r\xff\xff\xff\x7f."), "memo index 2147483647 is larger than the 1 values")
    cases["truncated_pickle"] = (zip_with(pkl[:len(pkl) // 2]), "")
    cases["no_stop"] = (zip_with(b"\x80\x02}"), "without STOP")
    cases["string_past_end"] = (zip_with(b"\x80\x02X\xff\xff\xff\x00ab"), "runs past the end of the pickle")
    cases["inst_opcode"] = (zip_with(b"\x80\x02(iposix\nsystem\n."), "opcode INST")
    legacy = io.BytesIO()
    torch.save({"w": torch.zeros(3)}, legacy, _use_new_zipfile_serialization=False)
    cases["legacy_format"] = (legacy.getvalue(), "legacy (pre-1.6, non-zip) format")
    cases["not_zip"] = (b"GARBAGE!" * 4, "")
    cases["two_pickles"] = (zip_with(tensor_pickle(), {"0": f32}, extra={"other/data.pkl": tensor_pickle()}),
                            "two data.pkl entries")
    dup = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(dup, "w") as z:
        warnings.simplefilter("ignore")  # "Duplicate name": intended
        z.writestr("archive/data.pkl", tensor_pickle())
        z.writestr("archive/data/0", f32)
        z.writestr("archive/data/0", f32[::-1])  # the same name twice: which one would be read?
    cases["duplicate_entry"] = (dup.getvalue(), "not a readable zip archive")
    cases["big_endian"] = (zip_with(tensor_pickle(), {"0": f32}, extra={"archive/byteorder": "big"}),
                           "only little-endian")
    with open(os.path.join(out, "EXPECT"), "w") as ex:
        for name, (data, msg) in cases.items():
            with open(os.path.join(out, name + ".bin"), "wb") as f:
                f.write(data)
            ex.write(f"{name} {msg}\n")


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "convert":
        convert(sys.argv[2:])
    elif cmd == "hostile":
        hostile(sys.argv[2])
    else:
        sys.exit(__doc__)
