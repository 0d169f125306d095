"""save_shard(tensors, path): a safetensors file of torch tensors, with the
safetensors package where it is installed (the GPU machine), else written here
(Debian has no python3-safetensors; the dry run needs a writer): an 8-byte
little-endian header length, the JSON header (names sorted, data offsets,
"__metadata__": {"format": "pt"}, padded with spaces to a multiple of 8), then
the raw little-endian data in header order."""
import json
import struct

DTYPES = {"torch.bfloat16": ("BF16", 2), "torch.float16": ("F16", 2), "torch.float32": ("F32", 4)}


def save_shard(tensors, path):
    try:
        from safetensors.torch import save_file
    except ImportError:
        save_file = None
    if save_file is not None:
        save_file({k: v.contiguous() for k, v in tensors.items()}, path, metadata={"format": "pt"})
        return
    import torch
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous().cpu()
        code, size = DTYPES[str(t.dtype)]
        raw = (t.view(torch.int16) if size == 2 else t.view(torch.int32)).numpy().tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
