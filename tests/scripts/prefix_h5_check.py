# Helper of the prefix reuse tests (test_prefix_reuse.sh, test_prefix_resume.sh,
# test_prefix_memory.sh); not a test itself. Reads `prmeval run` results with
# h5py (Debian's /usr/bin/python3), independently of prmeval's own reader.
#
#   same A B          every dataset of /metrics /samples /steps /analysis bitwise equal
#   close A B REL [FLOOR]
#                     the same, except the rewards (/steps/score*): |a - b| <= REL * max(|a|, |b|, FLOOR)
#                     (labels, metrics and everything else still bitwise equal); prints the largest
#                     relative difference. FLOOR (default 0) is for rewards without relative precision
#                     near 0: a raw logit or a difference of probabilities
#   reuse F ON MAXRATIO BOUND RECOMPUTED
#                     /run records prefix_reuse ON and prefix_cache_bytes BOUND; /timing: tokens
#                     computed <= MAXRATIO * prompt tokens (and equal to them when ON is 0), every
#                     rank's cache_bytes_max <= BOUND; RECOMPUTED: "0" none recomputed, "+" some
#   ratio F           prints "tokens prompt_tokens ratio" from /timing
# Exit 1 with "FAIL: ..." lines on stdout when a check fails.
import sys

import h5py
import numpy as np

GROUPS = ("metrics", "samples", "steps", "analysis")


def datasets(f):
    out = {}
    for g in GROUPS:
        def visit(name, obj, g=g):
            if isinstance(obj, h5py.Dataset):
                out[g + "/" + name] = obj[()]
        f[g].visititems(visit)
    return out


def attrs(f):
    """Attributes of every object under GROUPS (class groups keep their metrics there)."""
    out = {}
    for g in GROUPS:
        def visit(name, obj, g=g):
            for k, v in obj.attrs.items():
                out[f"{g}/{name}@{k}"] = v
        for k, v in f[g].attrs.items():
            out[f"{g}@{k}"] = v
        f[g].visititems(visit)
    return out


def equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.names:  # a compound table (/metrics/table): field by field, NaN equal to NaN
        return all(equal(a[n], b[n]) for n in a.dtype.names)
    if a.dtype.kind == "f":
        return np.array_equal(a, b, equal_nan=True)
    return np.array_equal(a, b)


def compare(fa, fb, rel, floor=0.0):
    bad = []
    with h5py.File(fa) as a, h5py.File(fb) as b:
        da, db = datasets(a), datasets(b)
        if sorted(da) != sorted(db):
            return [f"datasets differ: {sorted(set(da) ^ set(db))}"], 0.0
        worst = 0.0
        for k in sorted(da):
            x, y = da[k], db[k]
            if rel is not None and k.startswith("steps/score"):
                if x.shape != y.shape:
                    bad.append(f"{k}: shapes {x.shape} and {y.shape}")
                    continue
                scale = np.maximum(np.maximum(np.abs(x), np.abs(y)), floor)
                d = np.abs(x - y)
                r = np.where(scale > 0, d / np.where(scale > 0, scale, 1), 0)
                worst = max(worst, float(r.max()) if r.size else 0.0)
                n = int((r > rel).sum())
                if n or not np.all(np.isfinite(x)) or not np.all(np.isfinite(y)):
                    i = int(np.argmax(r))
                    bad.append(f"{k}: {n} of {r.size} rewards differ by more than {rel} relative "
                               f"(worst {r[i]:.3g}: {x[i]!r} vs {y[i]!r} at step {i})")
            elif not equal(x, y):
                diff = np.flatnonzero(np.asarray(x).ravel() != np.asarray(y).ravel()) if x.shape == y.shape else []
                bad.append(f"{k} differs" + (f" ({len(diff)} elements, first at {diff[0]})" if len(diff) else ""))
        aa, ab = attrs(a), attrs(b)
        for k in sorted(set(aa) | set(ab)):
            if k not in aa or k not in ab or not equal(aa[k], ab[k]):
                bad.append(f"attribute {k} differs")
    return bad, worst


def check_reuse(f, on, maxratio, bound, recomputed):
    bad = []
    with h5py.File(f) as r:
        run, t = r["run"].attrs, r["timing"]
        if int(run["prefix_reuse"]) != on:
            bad.append(f"/run prefix_reuse {int(run['prefix_reuse'])}, the job says {on}")
        if int(run["prefix_cache_bytes"]) != bound:
            bad.append(f"/run prefix_cache_bytes {int(run['prefix_cache_bytes'])}, the job says {bound}")
        tok, prompt = int(t["tokens"][:].sum()), int(t["prompt_tokens"][:].sum())
        if prompt <= 0:
            bad.append("no prompt tokens scored")
        elif on and tok > maxratio * prompt:
            bad.append(f"reuse computed {tok} of {prompt} prompt tokens ({tok / prompt:.3f}), expected at most "
                       f"{maxratio}: prefixes are not shared")
        elif not on and tok != prompt:
            bad.append(f"without reuse {tok} tokens computed for {prompt} prompt tokens")
        cmax = t["cache_bytes_max"][:]
        if (cmax > bound).any():
            bad.append(f"kept {int(cmax.max())} bytes of keys/values, above the bound {bound}")
        rec = int(t["recomputed"][:].sum())
        if recomputed == "0" and rec != 0:
            bad.append(f"{rec} tokens recomputed under a bound of {bound} bytes")
        if recomputed == "+" and rec == 0:
            bad.append(f"no token recomputed under a bound of {bound} bytes: the fallback never ran")
    return bad


def main(argv):
    cmd = argv[1]
    if cmd in ("same", "close"):
        rel = float(argv[4]) if cmd == "close" else None
        floor = float(argv[5]) if cmd == "close" and len(argv) > 5 else 0.0
        bad, worst = compare(argv[2], argv[3], rel, floor)
        if cmd == "close" and not bad:
            print(f"largest relative reward difference {worst:.3g}")
    elif cmd == "reuse":
        bad = check_reuse(argv[2], int(argv[3]), float(argv[4]), int(argv[5]), argv[6])
    elif cmd == "ratio":
        with h5py.File(argv[2]) as r:
            tok, prompt = int(r["timing/tokens"][:].sum()), int(r["timing/prompt_tokens"][:].sum())
        print(tok, prompt, f"{tok / prompt:.4f}" if prompt else "nan")
        return 0
    else:
        print(f"FAIL: unknown check {cmd}")
        return 1
    for b in bad:
        print(f"FAIL: {b}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
