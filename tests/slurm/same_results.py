"""Are two `prmeval run` results the same, byte for byte, where they must be?

    /usr/bin/python3 tests/slurm/same_results.py A B

A and B are result stems: A.h5 and A.json, B.h5 and B.json. Checked:
  - the JSON files' bytes up to the "run" member (docs/run.md: everything before
    it is identical between runs of the same job; "run" holds timing and hosts);
  - in the HDF5 files, every dataset's raw bytes, dtype and shape and every
    attribute's value (as bytes) under /metrics, /samples, /steps and /analysis,
    and /run's attributes except its timing (`seconds`) and `shards_reused`
    (docs/hdf5-schema.md). Root attributes (provenance: hosts, ranks, times)
    and /timing are left out: they differ between runs by design.
Prints one line per difference and exits 1 when there is any, 0 otherwise.
Used by tests/scripts/test_slurm_run.sh and test_slurm_preempt.sh.
"""
import sys

import h5py
import numpy as np

GROUPS = ("/metrics", "/samples", "/steps", "/analysis")
RUN_SKIP = {"seconds", "shards_reused"}


def json_prefix(path):
    text = open(path, "rb").read()
    # The top-level "run" member is the document's last one, one tab deep.
    at = text.rfind(b'\n\t"run":')
    if at < 0:
        raise SystemExit(f"{path}: no top-level \"run\" member (not a `prmeval run` JSON?)")
    return text[:at]


def as_bytes(value):
    a = np.asarray(value)
    if a.dtype.kind == "O":  # variable-length strings come back as Python objects
        return repr(a.tolist()).encode()
    return a.dtype.str.encode() + repr(a.shape).encode() + a.tobytes()


def walk(f, root, skip_attrs=()):
    """{path: bytes} for every object and attribute under root."""
    out = {}
    if root not in f:
        return out

    def attrs(name, obj):
        for k in obj.attrs:
            if k not in skip_attrs:
                out[f"{name}@{k}"] = as_bytes(obj.attrs[k])

    def visit(name, obj):
        path = f"{root}/{name}"
        if isinstance(obj, h5py.Dataset):
            out[path] = as_bytes(obj[()])
        else:
            out[path] = b"group"
        attrs(path, obj)

    attrs(root, f[root])
    f[root].visititems(visit)
    return out


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: same_results.py STEM_A STEM_B")
    a, b = sys.argv[1], sys.argv[2]
    diffs = []
    if json_prefix(a + ".json") != json_prefix(b + ".json"):
        diffs.append(f"{a}.json and {b}.json differ before their \"run\" member")
    with h5py.File(a + ".h5", "r") as fa, h5py.File(b + ".h5", "r") as fb:
        n = 0
        for g in GROUPS + ("/run",):
            skip = RUN_SKIP if g == "/run" else ()
            wa, wb = walk(fa, g, skip), walk(fb, g, skip)
            if not wa:
                diffs.append(f"{a}.h5: no {g}")
            n += len(wa)
            for k in sorted(set(wa) | set(wb)):
                if wa.get(k) != wb.get(k):
                    diffs.append(f"{k}: differs between {a}.h5 and {b}.h5")
    for d in diffs[:20]:
        print(d)
    if diffs:
        print(f"{len(diffs)} differences")
        return 1
    print(f"same: {a} and {b} ({n} HDF5 objects and attributes, JSON metrics)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
