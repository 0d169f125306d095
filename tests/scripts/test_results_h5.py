# labels: h5
"""The results file as h5py (Debian's python3-h5py) and h5dump see it.

Runs the C unit test tests/test_results_h5, which writes a hand-built
evaluation into $PRMEVAL_TMP (synthetic.h5, empty.h5), then checks every
value against what that evaluation was built from, independently of the C
reader, and checks that h5dump reads both files.
"""
import math
import os
import struct
import subprocess
import sys

import h5py
import numpy as np

tmp = os.environ["PRMEVAL_TMP"]
build = os.environ["PRMEVAL_BUILD"]
src = os.environ["PRMEVAL_SRC"]
os.makedirs(tmp, exist_ok=True)
failures = 0
passed = 0


def check(cond, what):
    global failures, passed
    if cond:
        passed += 1
    else:
        failures += 1
        print("FAIL:", what, file=sys.stderr)


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def same_bits(a, b, what):
    check(bits(float(a)) == bits(float(b)), f"{what}: {a!r} != {b!r} (bitwise)")


def fixed_utf8(t, values, what):
    """A string type as the writer must make it (schema 2): fixed length
    (nothing in the global heap), UTF-8, NUL-terminated, longest + 1 bytes."""
    check(isinstance(t, h5py.h5t.TypeStringID) and not t.is_variable_str(), f"{what}: fixed-length string type")
    check(t.get_cset() == h5py.h5t.CSET_UTF8 and t.get_strpad() == h5py.h5t.STR_NULLTERM, f"{what}: UTF-8, NUL-terminated")
    longest = max([len(v.encode()) for v in values] + [0])
    check(t.get_size() == longest + 1, f"{what}: size {t.get_size()} != longest {longest} + 1")


def sattr(obj, name):
    """A string attribute, decoded: h5py gives fixed-length strings as bytes."""
    v = obj.attrs[name]
    if isinstance(v, np.ndarray):
        check(v.dtype.kind == "S", f"attribute {name}: bytes array, got {v.dtype}")
        out = [x.decode("utf-8") for x in v]
    else:
        check(isinstance(v, bytes), f"attribute {name}: bytes, got {type(v)}")
        out = v.decode("utf-8") if isinstance(v, bytes) else v
    fixed_utf8(obj.attrs.get_id(name).get_type(), out if isinstance(out, list) else [out], f"attribute {name}")
    return out


def sdset(d):
    """A string dataset, decoded, after checking its type."""
    out = [x.decode("utf-8") for x in d[...]]
    check(d.dtype.kind == "S", f"{d.name}: bytes, got {d.dtype}")
    fixed_utf8(d.id.get_type(), out, d.name)
    return out


env = dict(os.environ, PRMEVAL_TMP=tmp)
r = subprocess.run([os.path.join(build, "tests", "test_results_h5")], cwd=src, env=env,
                   capture_output=True, text=True)
check(r.returncode == 0, "the C writer test passes:\n" + r.stdout + r.stderr)
syn = os.path.join(tmp, "synthetic.h5")
empty = os.path.join(tmp, "empty.h5")
check(not [f for f in os.listdir(tmp) if f.endswith(".tmp")], "no temporary file left behind")

CLASSES = ["correct", "redundency", "circular", "counterfactual", "step_contradiction",
           "domain_inconsistency", "confidence", "missing_condition", "deception", "multi_solutions"]
ABBREV = ["correct", "NR", "NCL", "ES", "SC", "DC", "CI", "PS", "DR", "MS"]
CATEGORIES = {"Simplicity": [1, 2], "Soundness": [3, 4, 5, 6], "Sensitivity": [7, 8, 9]}
NAN_BITS = 0x7FF8000000000000  # C's NAN, as the writer got it


def variable_strings(f):
    """Every dataset and attribute whose type holds a variable-length string."""
    found = []

    def vlen(t):
        if isinstance(t, h5py.h5t.TypeStringID):
            return t.is_variable_str()
        if isinstance(t, h5py.h5t.TypeCompoundID):
            return any(vlen(t.get_member_type(i)) for i in range(t.get_nmembers()))
        return isinstance(t, h5py.h5t.TypeVlenID)

    def visit(name, o):
        if isinstance(o, h5py.Dataset) and vlen(o.id.get_type()):
            found.append(name)
        for k in o.attrs:
            if vlen(o.attrs.get_id(k).get_type()):
                found.append(f"{name}@{k}")
    visit("/", f)
    f.visititems(visit)
    return found


for path in [syn, empty]:
    with h5py.File(path, "r") as f:
        # schema 2: checksummed metadata (superblock 3 = the 1.10 format) and
        # nothing in the global heap, whose collections start with "GCOL"
        check(f.id.get_create_plist().get_version()[0] == 3, f"{path}: superblock version 3")
        check(f.libver == ("v110", "v110"), f"{path}: format bounds {f.libver}")
        check(variable_strings(f) == [], f"{path}: variable-length strings {variable_strings(f)}")
        def chunked_checksummed(name, o):
            if isinstance(o, h5py.Dataset) and o.size > 0:
                check(o.chunks is not None and o.fletcher32, f"{path}: {name} chunked with fletcher32")
        f.visititems(chunked_checksummed)
    with open(path, "rb") as fh:
        raw = fh.read()
    check(b"GCOL" not in raw, f"{path}: a global heap collection in the file")
    check(b"FRHP" not in raw, f"{path}: a fractal heap (dense attributes) in the file")

with h5py.File(syn, "r") as f:
    a = f.attrs
    check(sattr(f, "schema") == "prmeval-results" and a["schema_version"] == 2, "schema")
    check(sattr(f, "tool_version") == "0.1.0" and sattr(f, "git_commit") == "abc123" and sattr(f, "command") == "eval", "tool")
    check(sattr(f, "config_json") == '{"threshold": 0.5, "data": "data/prmbench"}', "config_json")
    check(sattr(f, "data_files") == ["data/prmbench/a.jsonl", "data/prmbench/b \u00e9.jsonl"], "data_files")
    check(sattr(f, "data_sha256") == ["0123456789abcdef" * 4, "fedcba9876543210" * 4], "data_sha256")
    check(sattr(f, "predictions_path") == "preds.jsonl" and sattr(f, "predictions_sha256") == "fedcba9876543210" * 4, "predictions")
    check(a["nranks"] == 3 and sattr(f, "hosts") == "node-a,node-b", "ranks and hosts")
    check(sattr(f, "start_time") == "2025-01-31T17:04:05.123Z" and sattr(f, "end_time") == "2025-01-31T17:04:06.000Z", "times")
    check(sattr(f, "metric_definition") == "prmbench-reference-v1", "metric_definition")

    s = f["samples"]
    check(sdset(s["key"]) == ["correct_p1", "redundency_p1", "circular_p\u03c0", "multi_solutions_p3"], "keys (UTF-8)")
    check(list(s["key"].asstr()[:]) == sdset(s["key"]), "h5py's asstr() reads the keys the same")
    check(sdset(s["idx"]) == ["p1", "p1", "p\u03c0", "p3"], "idx")
    mapping = h5py.check_enum_dtype(s["class"].dtype)
    check(mapping == {n: i for i, n in enumerate(CLASSES)}, f"class enum {mapping}")
    check(sattr(s["class"], "names") == CLASSES, "class names attribute")
    check(s["class"][:].tolist() == [0, 1, 2, 9], "class")
    check(h5py.check_enum_dtype(s["status"].dtype) == {"ok": 0, "missing": 1, "invalid": 2}, "status enum")
    check(s["status"][:].tolist() == [0, 0, 1, 2], "status")
    check(sattr(s["status"], "names") == ["ok", "missing", "invalid"], "status names attribute")
    check(sattr(s["label_source"], "names") == ["scores", "labels", "redundancy"], "label_source names attribute")
    check(s["problem"][:].tolist() == [0, 0, 1, 2], "problem")
    check(s["nsteps"][:].tolist() == [3, 4, 2, 3], "nsteps")
    check(s["nlabels"][:].tolist() == [3, 4, 0, 3], "nlabels")
    check(s["first_error_hit"][:].tolist() == [-1, 1, -1, 0], "first_error_hit")
    for got, want in zip(s["response_acc"][:], [2.0 / 3.0, 0.5, -1.0, -0.0]):
        same_bits(got, want, "response_acc")
    check(s["pred_order"][:].tolist() == [2, 0, -1, 1], "pred_order")
    check(s["tp"][:].tolist() == [2, 2, 0, 1] and s["fp"][:].tolist() == [0, 1, 0, 1], "tp, fp")
    check(s["tn"][:].tolist() == [0, 1, 0, 0] and s["fn"][:].tolist() == [1, 0, 0, 1], "tn, fn")
    check(s["src_file"][:].tolist() == [0, 0, 1, 1] and s["src_line"][:].tolist() == [1, 1, 7, 12], "source")
    off = s["step_offset"][:].tolist()
    check(off == [0, 3, 7, 7, 10], "step_offset")
    eoff = s["err_offset"][:].tolist()
    err = s["err_steps"][:].tolist()
    check(eoff == [0, 0, 2, 2, 3] and err == [1, 7, 2], "error steps (out-of-range 7 kept)")

    st = f["steps"]
    want_scores = [0.9, -0.0, 0.75, None, None, None, None, -1.0, 1e-300, 5e300]
    got = st["score"][:]
    check(got.dtype == np.float64 and got.shape == (10,), "score dtype and shape")
    for g, w in zip(got, want_scores):
        if w is None:
            check(bits(float(g)) == NAN_BITS, f"NaN score stored as NaN, got {g!r}")
        else:
            same_bits(g, w, "score")
    check(st["label"][:].tolist() == [1, 0, 1, 1, 0, 0, 1, 0, 1, 1] and st["label"].dtype == np.uint8, "label")
    # is_error from the error steps, computed here
    want_err = [0] * 10
    for i in range(4):
        for k in range(eoff[i], eoff[i + 1]):
            if err[k] < off[i + 1] - off[i]:
                want_err[off[i] + err[k]] = 1
    check(st["is_error"][:].tolist() == want_err, f"is_error {st['is_error'][:].tolist()} != {want_err}")
    for name in ["score", "label", "is_error"]:
        d = st[name]
        check(d.chunks is not None and d.compression == "gzip" and d.compression_opts == 4 and d.shuffle,
              f"/steps/{name} chunked, shuffled, deflate 4")
    check(s["key"].chunks is not None and s["key"].compression == "gzip", "/samples/key chunked + compressed")

    m = f["metrics"]
    same_bits(m.attrs["validity_rate"], 0.75, "validity_rate")
    check(m.attrs["valid_num"] == 3 and m.attrs["total_num"] == 4, "valid/total")
    same_bits(m.attrs["threshold"], 0.5, "threshold")

    def row(c):  # how the C test built class c
        return dict(precision=0.1 + c / 64.0, recall=0.2 + c / 64.0, f1=1.0 / 3.0 + c,
                    negative_precision=-1.0, negative_recall=-0.0,
                    negative_f1=float("nan") if c == 2 else 0.5, prmscore=0.25 * c,
                    correct_step_acc=0.7, wrong_step_acc=0.3 - c / 128.0, total_step_acc=1e-17 * c,
                    first_error_acc=-1.0, similarity=0.125 if c else -1.0, similarity_n=c,
                    tp=10 + c, fp=20 + c, tn=30 + c, fn=40 + c, corr_ones=1, corr_n=2, wrong_ones=3,
                    wrong_n=4, total_ones=5, total_n=6, fe_ones=7, fe_n=8,
                    samples=0 if c == 0 else 100 + c, evaluated=90, missing=9, invalid=1)

    for c, name in enumerate(CLASSES):
        g = m["classes"][name]
        check(sattr(g, "abbrev") == ABBREV[c], f"abbrev of {name}")
        for k, v in row(c).items():
            if isinstance(v, float):
                if math.isnan(v):
                    check(math.isnan(g.attrs[k]), f"{name}.{k} NaN")
                else:
                    same_bits(g.attrs[k], v, f"{name}.{k}")
            else:
                check(g.attrs[k] == v and g.attrs[k].dtype == np.int64, f"{name}.{k} == {v}")
    pooled = dict(row(8), prmscore=0.457, samples=4000)
    for k, v in pooled.items():
        same_bits(m["pooled"].attrs[k], v, f"pooled.{k}") if isinstance(v, float) else check(m["pooled"].attrs[k] == v, f"pooled.{k}")
    cat_scores = {"Simplicity": 0.5, "Soundness": -0.0, "Sensitivity": 1.0 / 7.0}
    for cat, members in CATEGORIES.items():
        g = m["categories"][cat]
        same_bits(g.attrs["prmscore"], cat_scores[cat], f"{cat} prmscore")
        check(sattr(g, "classes") == [CLASSES[c] for c in members], f"{cat} members")

    t = m["table"][:]
    check(t.shape == (13,), "table rows")
    names = [x.decode() for x in t["name"]]
    check(names == ["overall"] + CLASSES[1:] + list(CATEGORIES), f"table row names {names}")
    check([x.decode() for x in t["abbrev"]] == ["Overall"] + ABBREV[1:] + ["Simp.", "Sound.", "Sens."], "abbrev")
    check(t["kind"].tolist() == [0] + [1] * 9 + [2] * 3, "kind")
    check(sattr(m["table"], "kind_names") == ["overall", "class", "category"], "kind_names attribute")
    same_bits(t["prmscore"][0], 0.457, "table overall prmscore")
    for c in range(1, 10):
        for k in ["precision", "f1", "wrong_step_acc", "negative_recall", "similarity"]:
            same_bits(t[k][c], row(c)[k], f"table {CLASSES[c]}.{k}")
        check(t["tp"][c] == 10 + c and t["samples"][c] == 100 + c, f"table {CLASSES[c]} counts")
    for j, (cat, members) in enumerate(CATEGORIES.items()):
        r_ = t[10 + j]
        same_bits(r_["prmscore"], cat_scores[cat], f"table {cat} prmscore")
        check(math.isnan(r_["precision"]) and math.isnan(r_["similarity"]), f"table {cat}: rates undefined (NaN)")
        check(r_["tp"] == sum(10 + c for c in members), f"table {cat}: summed tp")
        check(r_["samples"] == sum(100 + c for c in members), f"table {cat}: summed samples")

    ep = f["analysis"]["error_position"]
    check(sattr(ep, "rows") == CLASSES + ["pooled"], "error_position rows")
    check(ep["position"][:].tolist() == [list(range(1, 33))], "positions 1..32")
    wa, dist = ep["wrong_acc"][:], ep["distribution_pct"][:]
    hits, n, ns = ep["hits"][:], ep["n"][:], ep["samples"][:]
    check(wa.shape == (11, 32) and dist.shape == (11, 32), "analysis shapes")
    for c in range(10):
        samples_c = 0 if c == 0 else 100 + c
        for p in range(1, 33):
            pn = 0 if c == 0 or p > 5 else p + c
            check(n[c, p - 1] == pn and hits[c, p - 1] == pn // 2, f"pos counts {c},{p}")
            same_bits(wa[c, p - 1], (pn // 2) / pn if pn else -1.0, f"wrong_acc {c},{p}")
            psamp = 0 if c == 0 else p % 3 + c
            check(ns[c, p - 1] == psamp, f"pos samples {c},{p}")
            same_bits(dist[c, p - 1], 100.0 * psamp / samples_c if samples_c else -1.0, f"distribution {c},{p}")
    same_bits(wa[10, 31], 3 / 9, "pooled last bin")
    same_bits(dist[10, 0], 100.0 * 9 / 4000, "pooled distribution")

with h5py.File(empty, "r") as f:
    check(f["samples"]["key"].shape == (0,) and f["steps"]["score"].shape == (0,), "empty datasets")
    check(f["samples"]["step_offset"][:].tolist() == [0], "empty step_offset")
    check(f["steps"]["score"].chunks is None, "empty dataset is contiguous (chunk dims must be > 0)")
    check(sattr(f, "tool_version") == "" and sattr(f, "predictions_path") == "", "NULL strings as empty")
    check(f.attrs["data_files"].shape == (0,), "no data files")
    check(f["samples"]["key"].id.get_type().get_size() == 1, "no keys: strings of 1 byte (the NUL)")

for path in [syn, empty]:
    r = subprocess.run(["h5dump", "-H", path], capture_output=True, text=True)
    check(r.returncode == 0 and "/samples" not in r.stderr, f"h5dump -H {path}: {r.stderr}")
    check('DATASET "step_offset"' in r.stdout and 'GROUP "error_position"' in r.stdout, "h5dump sees the layout")
r = subprocess.run(["h5dump", syn], capture_output=True, text=True)
check(r.returncode == 0 and "multi_solutions_p3" in r.stdout and "1e-300" in r.stdout, "full h5dump")

print(f"{passed} passed, {failures} failed")
sys.exit(1 if failures else 0)
