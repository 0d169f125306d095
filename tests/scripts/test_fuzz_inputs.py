# labels: fuzz
"""Mutation fuzzer for prmeval's input readers (docs/fuzzing.md).

Takes valid seed inputs (PRMBench lines, predictions, a tiny model's
config.json / model.safetensors / tokenizer.json / tokenizer.model, tokenizer input text, an
HDF5 results file), mutates them (bit flips, truncation, byte insertion and
deletion, invalid UTF-8, and structure-aware changes: JSON types, keys,
duplicate keys, huge numbers, NaN/Infinity, deep nesting, long strings;
safetensors shapes and offsets; HDF5 datasets and attributes) and runs the
command that reads them. A case fails on: a signal or exit code >= 128, a
timeout (hang), a sanitizer report, a non-zero exit whose message does not
name the input file, or an exit 0 with a result that is checkably wrong
(eval against the independent oracle tests/oracle/prmbench_metric.py,
tokenize ids outside the vocabulary). Every failing input is saved under
$PRMEVAL_TMP/failures/ with the command and its stderr.

Deterministic: case i of a target is generated from (seed, target, i) alone,
so a failure is reproduced by PRMEVAL_FUZZ_SEED, PRMEVAL_FUZZ_TARGETS and
PRMEVAL_FUZZ_CASE. The time budget only decides how many cases run.

Environment: PRMEVAL, PRMEVAL_SRC, PRMEVAL_TMP (as every script test);
PRMEVAL_FUZZ_SECONDS (default 60), PRMEVAL_FUZZ_SEED (default 1),
PRMEVAL_FUZZ_TARGETS (comma list, default all), PRMEVAL_FUZZ_CASE (run one
case of each chosen target), PRMEVAL_FUZZ_TIMEOUT (seconds per run, 20)."""
import io
import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import time

SRC = os.environ.get("PRMEVAL_SRC", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests", "oracle"))
import prmbench_metric as oracle  # noqa: E402

PRMEVAL = os.environ["PRMEVAL"]
TMP = os.environ.get("PRMEVAL_TMP", "/tmp/test_fuzz_inputs")
BUDGET = float(os.environ.get("PRMEVAL_FUZZ_SECONDS", "60"))
SEED = int(os.environ.get("PRMEVAL_FUZZ_SEED", "1"))
ONLY = [t for t in os.environ.get("PRMEVAL_FUZZ_TARGETS", "").split(",") if t]
ONE_CASE = os.environ.get("PRMEVAL_FUZZ_CASE")
TIMEOUT = float(os.environ.get("PRMEVAL_FUZZ_TIMEOUT", "20"))
MAX_SAVED = 30

SANITIZER = (b"ERROR: AddressSanitizer", b"ERROR: LeakSanitizer", b"UndefinedBehaviorSanitizer",
             b"runtime error:", b"AddressSanitizer:")
# What libhdf5 prints on its own: its error stack (prmeval turns it off and
# reports through pe_err) and its clean-up at exit after an internal leak
# (prmeval turns that off: pe_h5_no_atexit). Either under prmeval's message
# is noise a user cannot act on.
HDF5_NOISE = (b"HDF5-DIAG", b"infinite loop closing library")


# ---- JSON with what Python's json cannot write ------------------------------

class Raw:
    """Bytes written verbatim: NaN, huge literals, invalid UTF-8, deep nesting."""
    def __init__(self, b):
        self.b = b


class Pairs:
    """An object that may hold the same key twice."""
    def __init__(self, pairs):
        self.pairs = pairs


def enc(o):
    if isinstance(o, Raw):
        return o.b
    if isinstance(o, Pairs):
        return b"{" + b", ".join(enc(k) + b": " + enc(v) for k, v in o.pairs) + b"}"
    if isinstance(o, dict):
        return b"{" + b", ".join(enc(k) + b": " + enc(v) for k, v in o.items()) + b"}"
    if isinstance(o, list):
        return b"[" + b", ".join(enc(v) for v in o) + b"]"
    return json.dumps(o).encode()


INTERESTING_NUMBERS = [b"0", b"-1", b"-0", b"1", b"2", b"1.5", b"-1.5", b"255", b"256", b"65535", b"2147483647",
                       b"2147483648", b"-2147483649", b"4294967296", b"9007199254740993", b"9223372036854775807",
                       b"18446744073709551616", b"1e308", b"1e999", b"-1e999", b"1e-320", b"NaN", b"Infinity",
                       b"-Infinity", b"1099511627776", b"0.0000001", b"3e9"]

INVALID_UTF8 = [b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xe2\x82", b"\xf4\x90\x80\x80", b"\x80", b"\xf0\x9f\x98"]


def random_value(rng, depth=0):
    r = rng.randrange(12)
    if r == 0:
        return None
    if r == 1:
        return rng.choice([True, False])
    if r == 2:
        return Raw(rng.choice(INTERESTING_NUMBERS))
    if r == 3:
        return rng.choice(["", "x", "A", "correct", "redundency", "BPE", "F32", "BF16", "qwen2", "llama", " ",
                           "\u00e9", "\u2581", "<|im_start|>"])
    if r == 4:
        return Raw(b'"' + rng.choice(INVALID_UTF8) + b'"')
    if r == 5:
        return "y" * rng.choice([1000, 70000, 1 << 20])
    if r == 6:
        return [] if depth > 2 else [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if r == 7:
        return {} if depth > 2 else {"k%d" % i: random_value(rng, depth + 1) for i in range(rng.randrange(3))}
    if r == 8:
        n = rng.choice([200, 999, 1000, 1001, 5000])
        return Raw(b"[" * n + b"1" + b"]" * n)
    if r == 9:
        return Raw(b'"' + rng.choice([b"\\u0000", b"\\ud800", b"\\udfff\\ud800", b"\\x", b"\\u12", b"a\\"]) + b'"')
    if r == 10:
        return Raw(b"[" + b",".join([b"1"] * rng.choice([100001, 300000])) + b"]")
    return rng.randrange(-3, 100)


def nodes(o, path=()):
    """Every (path, value) in a parsed JSON document."""
    yield path, o
    if isinstance(o, dict):
        for k, v in o.items():
            yield from nodes(v, path + (k,))
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from nodes(v, path + (i,))


def get_at(o, path):
    for p in path:
        o = o[p]
    return o


def set_at(o, path, v):
    if not path:
        return v
    get_at(o, path[:-1])[path[-1]] = v
    return o


def mutate_json(doc, rng, weights=None):
    """One structure-aware change to a parsed document; returns bytes."""
    all_nodes = list(nodes(doc))
    path, val = rng.choice(all_nodes)
    op = rng.randrange(11)
    if op == 0 or (op == 1 and not path):  # change the type / value
        doc = set_at(doc, path, random_value(rng))
    elif op == 1:  # delete a key or element
        parent = get_at(doc, path[:-1])
        del parent[path[-1]]
    elif op == 2:  # duplicate a key with another value
        objs = [(p, v) for p, v in all_nodes if isinstance(v, dict) and v]
        if objs:
            p, o = rng.choice(objs)
            k = rng.choice(list(o))
            pairs = list(o.items())
            other = random_value(rng) if rng.random() < 0.5 else o[k]
            pairs.insert(rng.randrange(len(pairs) + 1), (k, other))
            doc = set_at(doc, p, Pairs(pairs))
    elif op == 3:  # an unknown key
        objs = [(p, v) for p, v in all_nodes if isinstance(v, dict)]
        if objs:
            p, o = rng.choice(objs)
            o[rng.choice(["zz", "", "__metadata__", "\u00e9"])] = random_value(rng)
    elif op == 4:  # numbers: huge, negative, fractional, NaN
        nums = [(p, v) for p, v in all_nodes if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if nums:
            p, _ = rng.choice(nums)
            doc = set_at(doc, p, Raw(rng.choice(INTERESTING_NUMBERS)))
    elif op == 5:  # strings: long, empty, invalid UTF-8, odd escapes
        strs = [(p, v) for p, v in all_nodes if isinstance(v, str)]
        if strs:
            p, s = rng.choice(strs)
            c = rng.randrange(4)
            if c == 0:
                v = s * rng.choice([100, 10000])
            elif c == 1:
                v = ""
            elif c == 2:
                cut = rng.randrange(len(s) + 1)
                v = Raw(json.dumps(s[:cut]).encode()[:-1] + rng.choice(INVALID_UTF8) + json.dumps(s[cut:]).encode()[1:])
            else:
                v = Raw(b'"' + rng.choice([b"\\u0000", b"\\ud800", b"\\\\", b"\\n"]) + json.dumps(s).encode()[1:])
            doc = set_at(doc, p, v)
    elif op == 6:  # lists: empty, longer, reversed, huge
        lists = [(p, v) for p, v in all_nodes if isinstance(v, list)]
        if lists:
            p, a = rng.choice(lists)
            c = rng.randrange(4)
            if c == 0:
                a.clear()
            elif c == 1 and a:
                a.extend(a * rng.choice([1, 3]))
            elif c == 2:
                a.reverse()
            else:
                item = a[0] if a else 1
                doc = set_at(doc, p, Raw(b"[" + b",".join([enc(item)] * rng.choice([1000, 100001])) + b"]"))
    elif op == 7:  # wrap in deep nesting
        n = rng.choice([10, 999, 1001, 20000])
        doc = set_at(doc, path, Raw(b"[" * n + enc(val) + b"]" * n))
    elif op == 8:  # swap two values of the same parent
        parent = get_at(doc, path[:-1]) if path else None
        if isinstance(parent, dict) and len(parent) > 1:
            ks = rng.sample(list(parent), 2)
            parent[ks[0]], parent[ks[1]] = parent[ks[1]], parent[ks[0]]
    elif op == 9:  # a whole other document shape
        doc = random_value(rng)
    else:  # several changes
        for _ in range(rng.randrange(2, 4)):
            try:
                doc = json.loads(mutate_json(doc, rng))
            except (ValueError, RecursionError):
                break
    return enc(doc)


def mutate_bytes(b, rng):
    b = bytearray(b)
    for _ in range(rng.choice([1, 1, 1, 2, 4, 16])):
        op = rng.randrange(9)
        n = len(b)
        if op == 0 and n:  # bit flips
            i = rng.randrange(n)
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:  # interesting byte
            b[rng.randrange(n)] = rng.choice(b'\x00\xff\x7f\x80"{}[],:\\\n 0-9eE.')
        elif op == 2 and n:  # truncate
            del b[rng.randrange(n):]
        elif op == 3:  # insert random bytes
            i = rng.randrange(n + 1)
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
        elif op == 4 and n:  # delete a chunk
            i = rng.randrange(n)
            del b[i:i + rng.randrange(1, 64)]
        elif op == 5 and n:  # duplicate a chunk
            i = rng.randrange(n)
            j = min(n, i + rng.randrange(1, 256))
            b[i:i] = b[i:j]
        elif op == 6:  # invalid UTF-8
            i = rng.randrange(n + 1)
            b[i:i] = rng.choice(INVALID_UTF8)
        elif op == 7 and n:  # replace a digit run by an interesting number
            digits = [i for i in range(n) if 48 <= b[i] <= 57]
            if digits:
                i = rng.choice(digits)
                j = i
                while j < n and 48 <= b[j] <= 57:
                    j += 1
                b[i:j] = rng.choice(INTERESTING_NUMBERS)
        elif op == 8 and n:  # overwrite 4 or 8 bytes with an extreme integer
            i = rng.randrange(n)
            b[i:i + 8] = struct.pack("<q", rng.choice([-1, 0, 1 << 31, 1 << 40, (1 << 63) - 1, 7]))
    return bytes(b)


def mutate_jsonl(text, rng):
    lines = text.split(b"\n")
    k = rng.randrange(len(lines))
    if rng.random() < 0.6 and lines[k].strip():
        try:
            lines[k] = mutate_json(json.loads(lines[k]), rng)
        except ValueError:
            lines[k] = mutate_bytes(lines[k], rng)
        out = b"\n".join(lines)
    else:
        out = mutate_bytes(text, rng)
    if rng.random() < 0.05:
        out = out.replace(b"\n", b"\r\n")
    return out


# ---- seeds ------------------------------------------------------------------

def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, timeout=kw.pop("timeout", TIMEOUT), **kw)


def make_seeds(seed_dir):
    os.makedirs(seed_dir, exist_ok=True)
    by_cls = {}
    with open(os.path.join(SRC, "data", "subset400.jsonl"), "rb") as fh:
        for line in fh:
            cls = json.loads(line)["classification"]
            if cls not in by_cls or len(line) < len(by_cls[cls]):
                by_cls[cls] = line
    data = b"".join(by_cls[c] for c in ["redundency", "circular", "step_contradiction", "confidence"])
    with open(os.path.join(seed_dir, "data.jsonl"), "wb") as fh:
        fh.write(data)
    samples = oracle.load_samples(os.path.join(seed_dir, "data.jsonl"))
    ref, nat = [], []
    for i, (key, s) in enumerate(samples.items()):
        m = s["nsteps"]
        scores = [round(0.1 + 0.8 * ((i * 7 + t * 3) % 10) / 10, 2) for t in range(m)]
        if i % 2:
            ref.append({"idx": key, "scores": {"step_level_validity_scores": scores,
                                               "step_level_redundancy_labels": [t == 1 for t in range(m)]}})
        else:
            ref.append({"idx": key, "validity": True,
                        "scores": {"step_level_validity_labels": [t != 1 for t in range(m)]}})
        nat.append({"key": key, "step_scores": scores})
    with open(os.path.join(seed_dir, "preds.jsonl"), "w") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in ref))
    with open(os.path.join(seed_dir, "preds_native.jsonl"), "w") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in nat))
    # an LLM critic's result file (docs/predictions.md): the reference records
    # wrapped, plus an unparsable output, a duplicate and another task's record
    crit = [{"task_name": "prmtest_classified", "model_name": "gpt-4o", "results": r} for r in ref]
    crit.insert(1, {"task_name": "prmtest_classified", "model_name": "gpt-4o",
                    "results": {"idx": ref[0]["idx"], "validity": False, "original_response": "no JSON here"}})
    crit.insert(2, {"task_name": "prmtest_classified", "model_name": "gpt-4o",
                    "results": {"validity": False, "idx": ref[-1]["idx"]}})
    crit.append({"task_name": "other_task", "model_name": "gpt-4o", "results": {"anything": [1, 2]}})
    with open(os.path.join(seed_dir, "preds_critic.jsonl"), "w") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in crit))
    model = os.path.join(seed_dir, "model")
    r = run([PRMEVAL, "tiny-model", model, "--family", "qwen-prm", "--layers", "1", "--hidden", "16", "--heads", "2",
             "--kv-heads", "1", "--ffn", "32", "--merges", "40"])
    if r.returncode:
        sys.exit("tiny-model failed: %s" % r.stderr.decode(errors="replace"))
    h5 = os.path.join(seed_dir, "results.h5")
    r = run([PRMEVAL, "eval", "--data", os.path.join(seed_dir, "data.jsonl"), "--predictions",
             os.path.join(seed_dir, "preds.jsonl"), "--out", h5, "--quiet"])
    if r.returncode:
        sys.exit("eval --out failed: %s" % r.stderr.decode(errors="replace"))
    with open(os.path.join(seed_dir, "texts.txt"), "wb") as fh:
        fh.write("hello world\nThe cost of 3 pencils is $1.24.\n\u00e9t\u00e9 \u2581 \u4f60\u597d\n"
                 "<|im_start|>user\n  tabs\tand  spaces  \n".encode())
    binmodel = os.path.join(seed_dir, "binmodel")
    import torch_bin  # noqa: E402  (imports torch: only here and in t_bin)
    torch_bin.convert([model, binmodel, "--fuse"])
    return {"dir": seed_dir, "model": model, "h5": h5, "binmodel": binmodel}


# ---- the targets -------------------------------------------------------------

def read(p):
    with open(p, "rb") as fh:
        return fh.read()


def write(p, b):
    with open(p, "wb") as fh:
        fh.write(b)


def strict_json_ok(b, jsonl=False):
    """Python's strict reading: UTF-8, no NaN/Infinity, no duplicate keys."""
    def pairs(ps):
        keys = [k for k, _ in ps]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate key")
        return dict(ps)

    def no_const(c):
        raise ValueError(c)
    try:
        lines = b.decode("utf-8").split("\n") if jsonl else [b.decode("utf-8")]
        for line in lines:
            if line.strip():
                json.loads(line, object_pairs_hook=pairs, parse_constant=no_const)
        return True
    except UnicodeDecodeError:
        return False
    except ValueError as ex:
        # What a reader must refuse or would read otherwise; other syntax cJSON
        # takes leniently (leading zeros, 1.) has one meaning and is not judged.
        m = str(ex)
        if m.startswith(("duplicate key", "NaN", "Infinity", "-Infinity", "Invalid control", "Extra data")):
            return False
        return None
    except RecursionError:  # valid JSON nested deeper than Python reads: cannot tell
        return None


def compare(want, got, path=""):
    if isinstance(want, dict):
        for k in want:
            if k not in got:
                return "%s/%s missing" % (path, k)
            d = compare(want[k], got[k], path + "/" + k)
            if d:
                return d
        return None
    if isinstance(want, list):
        if len(want) != len(got):
            return "%s: %d entries, oracle %d" % (path, len(got), len(want))
        for i, (a, b) in enumerate(zip(want, got)):
            d = compare(a, b, "%s/%d" % (path, i))
            if d:
                return d
        return None
    if not (got == want and math.copysign(1, got) == math.copysign(1, want)):
        return "%s: prmeval %r, oracle %r" % (path, got, want)
    return None


def eval_oracle_check(data, preds, fmt, out_json):
    """None when the oracle agrees or cannot read the input; else the difference."""
    ok = [strict_json_ok(read(data), True), strict_json_ok(read(preds), True)]
    if False in ok:
        return "prmeval accepted input that strict JSON (UTF-8, no NaN, no duplicate keys) refuses"
    if None in ok:
        return None
    try:
        want = oracle.evaluate(oracle.load_samples(data), oracle.load_predictions(preds, fmt), 0.5)
    except Exception:  # the oracle is no validator: inputs it cannot take are not compared
        return None
    with open(out_json) as fh:
        got = json.load(fh)
    return compare(want, got)


class Case:
    def __init__(self, cmd, inputs, names, check=None):
        self.cmd, self.inputs, self.names, self.check = cmd, inputs, names, check


def t_data(rng, seeds, work):
    p = os.path.join(work, "fuzzdata.jsonl")
    write(p, mutate_jsonl(read(os.path.join(seeds["dir"], "data.jsonl")), rng))
    preds = os.path.join(seeds["dir"], "preds.jsonl")
    out = os.path.join(work, "out.json")
    return Case([PRMEVAL, "eval", "--data", p, "--predictions", preds, "--json", out, "--quiet"], [p],
                ["fuzzdata.jsonl"], lambda: eval_oracle_check(p, preds, "auto", out))


def t_preds(rng, seeds, work):
    kind = rng.choice(["reference", "reference", "native", "critic"])
    src = {"reference": "preds.jsonl", "native": "preds_native.jsonl", "critic": "preds_critic.jsonl"}[kind]
    p = os.path.join(work, "fuzzpreds.jsonl")
    write(p, mutate_jsonl(read(os.path.join(seeds["dir"], src)), rng))
    data = os.path.join(seeds["dir"], "data.jsonl")
    out = os.path.join(work, "out.json")
    fmt = rng.choice(["auto", "auto", kind])
    return Case([PRMEVAL, "eval", "--data", data, "--predictions", p, "--format", fmt, "--json", out, "--quiet"],
                [p], ["fuzzpreds.jsonl"], lambda: eval_oracle_check(data, p, fmt, out))


def copy_model(seeds, work):
    d = os.path.join(work, "fuzzmodel")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(seeds["model"], d)
    return d


def t_config(rng, seeds, work):
    d = copy_model(seeds, work)
    p = os.path.join(d, "config.json")
    b = read(p)
    write(p, mutate_json(json.loads(b), rng) if rng.random() < 0.7 else mutate_bytes(b, rng))
    c = Case([PRMEVAL, "inspect", d, "--quiet"], [p], ["config.json", "model.safetensors"])
    c.strict = lambda: read(p)
    return c


def safetensors_parts(b):
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]


def mutate_safetensors_header(hdr, data, rng):
    tensors = [k for k in hdr if k != "__metadata__"]
    name = rng.choice(tensors)
    t = hdr[name]
    op = rng.randrange(9)
    if op == 0:  # negative or huge shape
        i = rng.randrange(len(t["shape"])) if t["shape"] else None
        v = Raw(rng.choice([b"-1", b"-16", b"1099511627776", b"4294967296", b"9007199254740993", b"1e999",
                            b"2147483648", b"0", b"1.5"]))
        if i is None:
            t["shape"] = [v]
        else:
            t["shape"][i] = v
    elif op == 1:  # 2^40 elements in a tiny range, or a product that wraps
        t["shape"] = rng.choice([[1 << 20, 1 << 20], [1 << 32, 1 << 32], [65536, 65536, 65536, 65536], [1 << 62, 4]])
    elif op == 2:  # offsets: negative, reversed, huge, past the end, overlapping
        b0, e0 = t["data_offsets"]
        t["data_offsets"] = rng.choice([[-1, e0], [e0, b0], [b0, 1 << 40], [b0, len(data) + 4], [0, e0 - b0],
                                        [b0 + 1, e0 + 1], [Raw(b"1e999"), e0], [b0], [b0, e0, e0]])
    elif op == 3:  # dtype
        t["dtype"] = rng.choice(["F64", "I8", "bf16", "", "F16", "BF16", 7, None])
    elif op == 4:  # many dimensions
        t["shape"] = [1] * rng.choice([5, 8, 9, 64, 1000])
    elif op == 5:  # tensor name
        hdr[rng.choice(["", "model.embed_tokens.weight\u00e9", "x" * 5000, name + ".extra"])] = hdr.pop(name)
    elif op == 6:  # duplicate a tensor under its own name
        pairs = list(hdr.items()) + [(name, dict(t))]
        return enc(Pairs(pairs))
    elif op == 7:  # many tensors
        for k in range(rng.choice([100, 20000])):
            hdr["extra.%d" % k] = {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}
    else:
        return mutate_json(hdr, rng)
    return enc(hdr)


def t_safetensors(rng, seeds, work):
    d = copy_model(seeds, work)
    p = os.path.join(d, "model.safetensors")
    b = read(p)
    hdr, data = safetensors_parts(b)
    r = rng.random()
    if r < 0.55:
        h = mutate_safetensors_header(hdr, data, rng)
        if rng.random() < 0.2:
            h += b" " * rng.randrange(1, 8)  # misaligns the data area
        ln = len(h)
        if rng.random() < 0.1:
            ln = rng.choice([0, 1, len(h) + 1, len(h) - 1, 1 << 40, (1 << 64) - 1, 100 << 20])
        out = struct.pack("<Q", ln) + h + data
    elif r < 0.8:
        n = struct.unpack("<Q", b[:8])[0]
        h = mutate_bytes(b[8:8 + n], rng)
        # the length prefix kept as it was, or made to match the new header
        out = (b[:8] if rng.random() < 0.5 else struct.pack("<Q", len(h))) + h + b[8 + n:]
    else:
        out = mutate_bytes(b, rng)
    write(p, out)
    c = Case([PRMEVAL, "inspect", d] + (["--quiet"] if rng.random() < 0.5 else []), [p], ["model.safetensors"])
    c.strict = lambda: out[8:8 + struct.unpack("<Q", out[:8])[0]]
    return c


def tokenize_check(tok_path, out):
    def check(stdout):
        try:
            t = json.loads(read(tok_path))
            ids = [v for v in t["model"]["vocab"].values()] + [a["id"] for a in t.get("added_tokens") or []]
            nv = max(ids) + 1
        except Exception:
            return None
        for line in stdout.decode().split("\n"):
            if not line:
                continue
            for i in json.loads(line):
                if not 0 <= i < nv:
                    return "token id %d outside the vocabulary (0..%d)" % (i, nv - 1)
        return None
    return check


def t_tokenizer(rng, seeds, work):
    p = os.path.join(work, "fuzztok.json")
    b = read(os.path.join(seeds["model"], "tokenizer.json"))
    write(p, mutate_json(json.loads(b), rng) if rng.random() < 0.75 else mutate_bytes(b, rng))
    texts = os.path.join(seeds["dir"], "texts.txt")
    args = ["--add-special"] if rng.random() < 0.3 else []
    c = Case([PRMEVAL, "tokenize", "--tokenizer", p, "--file", texts] + args, [p], ["fuzztok.json"])
    c.strict = lambda: read(p)
    c.check_stdout = tokenize_check(p, None)
    return c


# SentencePiece tokenizer.model: the protobuf wire format. Mutations: the
# bytes, or one top-level field (a piece, trainer_spec, normalizer_spec) cut
# out, doubled, given a forged length, or an unknown field inserted.
SPM_SEED = os.path.join(SRC, "tests", "data", "spm", "prmbench_bpe640.model")


def pb_varint(v):
    out = bytearray()
    while True:
        c = v & 0x7F
        v >>= 7
        out.append(c | (0x80 if v else 0))
        if not v:
            return bytes(out)


def pb_fields(b):
    """(start, end, field number) of each top-level field, by the wire format
    (varint, 64-bit, length-delimited, 32-bit); IndexError or ValueError when
    the bytes are not a valid sequence of fields."""
    def varint(i):
        v, shift = 0, 0
        while True:
            c = b[i]
            i += 1
            v |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                return v, i
            if shift > 63:
                raise ValueError("varint")
    out, i = [], 0
    while i < len(b):
        start = i
        tag, i = varint(i)
        wt = tag & 7
        if wt == 0:
            _, i = varint(i)
        elif wt == 1 or wt == 5:
            i += 8 if wt == 1 else 4
        elif wt == 2:
            n, i = varint(i)
            i += n
        else:
            raise ValueError("wire type")
        if i > len(b):
            raise IndexError("past the end")
        out.append((start, i, tag >> 3))
    return out


def mutate_spm(b, rng):
    if rng.random() < 0.4:
        return mutate_bytes(b, rng)
    fields = pb_fields(b)
    s, e, _ = rng.choice(fields)
    op = rng.randrange(5)
    if op == 0:  # drop the field
        return b[:s] + b[e:]
    if op == 1:  # the field twice (a repeated piece, or a message merged)
        return b[:e] + b[s:e] + b[e:]
    if op == 2:  # a forged length for it
        tag = b[s:s + 1] if b[s] < 0x80 else b[s:s + 2]
        n = rng.choice([0, 1, e - s, e - s + 1, 1 << 31, 1 << 40, (1 << 64) - 1])
        return b[:s] + tag + pb_varint(n) + b[e - min(e - s - len(tag), 64):]
    if op == 3:  # an unknown field of each wire type
        f = rng.choice([6, 17, 99, 1 << 28])
        wt = rng.randrange(8)
        extra = pb_varint(f << 3 | wt) + rng.choice([b"", b"\x01", b"\x05abcde", b"\xff" * 11, b"\x00" * 8])
        return b[:s] + extra + b[s:]
    # a piece's type or score bytes overwritten
    i = rng.randrange(s, e)
    return b[:i] + bytes([rng.choice([0x18, 0x15, 0x00, 0x07, 0x06, 0xff])]) + b[i + 1:]


def t_spm(rng, seeds, work):
    p = os.path.join(work, "fuzz.model")
    write(p, mutate_spm(read(SPM_SEED), rng))
    texts = os.path.join(seeds["dir"], "texts.txt")
    args = ["--add-special"] if rng.random() < 0.3 else []
    c = Case([PRMEVAL, "tokenize", "--tokenizer", p, "--file", texts] + args, [p], ["fuzz.model"])

    def check(stdout):
        # ids inside the pieces, or one of LlamaTokenizer's <s>, </s>, <unk>
        # appended when a mutation removed its piece (no tokenizer_config.json)
        try:
            npieces = sum(1 for _, _, f in pb_fields(read(p)) if f == 1)
        except (IndexError, ValueError):
            return "exit 0 on a file that is not a valid sequence of protobuf fields"
        for line in stdout.decode().split("\n"):
            for i in json.loads(line) if line else []:
                if not 0 <= i < npieces + 3:
                    return "token id %d outside the %d pieces (+3 default special tokens)" % (i, npieces)
        return None
    c.check_stdout = check
    return c


def t_tokenize_text(rng, seeds, work):
    p = os.path.join(work, "fuzztext.txt")
    b = read(os.path.join(seeds["dir"], "texts.txt"))
    r = rng.random()
    if r < 0.7:
        out = mutate_bytes(b, rng)
    elif r < 0.85:  # long runs: BPE and the pre-tokenizer must stay fast
        out = bytes(rng.choice([b"a", b"ab", b" ", b"\xc3\xa9", b"1", b"<|im_start|>", b"\n\n", b"\t"])) * \
            rng.choice([1000, 100000, 1 << 20]) + b"\n"
    else:  # JSON strings per line
        out = b"".join(json.dumps(ln).encode() + b"\n" for ln in b.decode().split("\n") if ln)
        out = mutate_bytes(out, rng)
        write(p, out)
        c = Case([PRMEVAL, "tokenize", "--tokenizer", seeds["model"], "--file", p, "--jsonl"], [p], ["fuzztext.txt"])
        c.check_stdout = tokenize_check(os.path.join(seeds["model"], "tokenizer.json"), None)
        return c
    write(p, out)
    c = Case([PRMEVAL, "tokenize", "--tokenizer", seeds["model"], "--file", p], [p], ["fuzztext.txt"])
    c.check_stdout = tokenize_check(os.path.join(seeds["model"], "tokenizer.json"), None)
    return c


def mutate_h5_semantic(path, rng):
    """Changes values, shapes and types inside an otherwise valid file (h5py)."""
    import h5py
    import numpy as np
    with h5py.File(path, "r+") as f:
        dsets = []
        f.visititems(lambda n, o: dsets.append(n) if isinstance(o, h5py.Dataset) else None)
        name = rng.choice(dsets)
        d = f[name]
        op = rng.randrange(6)
        if op == 0 and d.size and d.dtype.kind in "iuf":  # extreme values
            a = d[...]
            i = rng.randrange(a.size)
            flat = a.reshape(-1)
            if d.dtype.kind == "f":
                flat[i] = rng.choice([np.nan, np.inf, -np.inf, 1e300, -5.0])
            else:
                info = np.iinfo(d.dtype)
                flat[i] = rng.choice([info.max, info.min, -1, 0, a.size, a.size + 1, 100]) if info.min < 0 else \
                    rng.choice([info.max, 0, 1, 2, 7])
            d[...] = a
        elif op == 1 and d.size and h5py.check_enum_dtype(d.dtype):  # enum values no name maps
            raw = d[...].astype(np.int8)
            raw[rng.randrange(raw.size)] = rng.choice([-1, 3, 10, 100, 127])
            dt = d.dtype
            del f[name]
            f.create_dataset(name, data=raw.astype(dt.base), dtype=h5py.enum_dtype(
                {**h5py.check_enum_dtype(dt), "bogus%d" % rng.randrange(9): int(raw.max())}, basetype="i1"))
        elif op == 2:  # delete
            del f[name]
        elif op == 3:  # other shape
            a = d[...]
            del f[name]
            f.create_dataset(name, data=np.resize(a, (max(0, a.size + rng.choice([-1, 1, 5])),)) if a.size
                             else np.zeros(3, dtype=a.dtype if a.dtype.kind in "iuf" else "i4"))
        elif op == 4:  # other type
            n = d.shape[0] if d.shape else 1
            del f[name]
            f.create_dataset(name, data=rng.choice([np.zeros(n, "f8"), np.zeros(n, "i8"),
                                                    np.array([b"x"] * n), np.zeros((n, 2), "i4")]))
        else:  # attributes of the root
            keys = list(f.attrs)
            if keys:
                k = rng.choice(keys)
                c = rng.randrange(3)
                if c == 0:
                    del f.attrs[k]
                elif c == 1:
                    f.attrs[k] = rng.choice([np.int64(-1), np.float64(np.nan), "x", np.zeros(3, "i4"), np.int64(1 << 40)])
                else:
                    f.attrs[k] = [b"a"] * rng.choice([0, 2, 5])


def t_h5(rng, seeds, work):
    p = os.path.join(work, "fuzzres.h5")
    b = read(seeds["h5"])
    r = rng.random()
    if r < 0.5:
        write(p, b)
        try:
            mutate_h5_semantic(p, rng)
        except Exception:
            write(p, mutate_bytes(b, rng))
    else:
        write(p, mutate_bytes(b, rng))
    cmd = rng.choice([["rescore", p, "--quiet"], ["rescore", p, "--quiet", "--threshold", "0.1:0.9:0.2"],
                      ["report", p, "--quiet"], ["rescore", p, "--quiet", "--label-rule", "skywork-current"]])
    return Case([PRMEVAL] + cmd, [p], ["fuzzres.h5"])


# ---- PyTorch .bin (torch.save zip archives) ------------------------------------

BIN_GLOBALS = [b"posix\nsystem\n", b"builtins\neval\n", b"torch\nLongStorage\n", b"torch\nDoubleStorage\n",
               b"torch\nFloatStorage\n", b"torch\nHalfStorage\n", b"torch\nBFloat16Storage\n",
               b"collections\nOrderedDict\n", b"torch._utils\n_rebuild_tensor_v2\n", b"torch._utils\n_rebuild_parameter\n",
               b"torch\n", b"\n\n"]


def pickle_int(v):
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if -2 ** 31 <= v < 2 ** 31:
        return b"J" + struct.pack("<i", v)
    return b"\x8a\x08" + struct.pack("<q", v)


def mutate_pickle(pkl, rng):
    """Opcode-aware changes to a valid pickle (pickletools finds the opcodes)."""
    import pickletools
    try:
        ops = list(pickletools.genops(pkl))
    except Exception:  # noqa: BLE001  (an earlier mutation broke it: bytes only)
        return mutate_bytes(pkl, rng)
    ends = [p for _, _, p in ops[1:]] + [len(pkl)]
    k = rng.randrange(6)
    if k == 0:
        return mutate_bytes(pkl, rng)
    pick = {1: ("GLOBAL",), 2: ("BININT1", "BININT2", "BININT", "LONG1"), 3: ("BINGET", "BINPUT", "LONG_BINGET"),
            4: ("BINUNICODE",)}.get(k)
    idx = [i for i, (o, _, _) in enumerate(ops) if pick is None or o.name in pick]
    if not idx:
        return mutate_bytes(pkl, rng)
    i = rng.choice(idx)
    o, a, p = ops[i]
    e = ends[i]
    if k == 1:
        new = b"c" + rng.choice(BIN_GLOBALS)
    elif k == 2:
        new = pickle_int(rng.choice([-1, 0, 1, 2, a + 1, a - 1, 2 * a, 2 ** 31 - 1, 2 ** 32, 2 ** 40, 2 ** 62,
                                     2 ** 63 - 1]))
    elif k == 3:
        new = pkl[p:p + 1] + bytes([rng.randrange(256)]) * (1 if o.name != "LONG_BINGET" else 4)
    elif k == 4:  # a string: tensor names, storage keys, 'storage', 'cpu'
        s = rng.choice([b"", b"0", b"1", b"99", b"../0", b"storage", b"model.norm.weight", b"x" * 300, b"\xff\xfe"])
        new = b"X" + struct.pack("<I", len(s)) + s
    else:  # drop or repeat one opcode
        new = b"" if rng.random() < 0.5 else pkl[p:e] * 2
    return pkl[:p] + new + pkl[e:]


def bin_rewrite(parts, rng):
    """Storage-level changes: sizes, missing entries, compression, byte order."""
    import zipfile
    names = [n for n, _ in parts]
    k = rng.randrange(5)
    comp = {}
    storages = [i for i, n in enumerate(names) if "/data/" in n]
    i = rng.choice(storages)
    n, raw = parts[i]
    if k == 0:
        parts[i] = (n, raw[:rng.randrange(len(raw) + 1)])
    elif k == 1:
        parts[i] = (n, raw + b"\0" * rng.choice([1, 2, 4, 64]))
    elif k == 2:
        del parts[i]
    elif k == 3:
        comp[n] = zipfile.ZIP_DEFLATED
    else:
        prefix = names[0].split("/")[0]
        parts.append((prefix + "/byteorder", rng.choice([b"big", b"little", b"", b"little\n"])))
    return parts, comp


def bin_parts(b):
    import zipfile
    with zipfile.ZipFile(io.BytesIO(b)) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def bin_join(parts, comp=None):
    import zipfile
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for n, raw in parts:
            z.writestr(zipfile.ZipInfo(n), raw, compress_type=(comp or {}).get(n, zipfile.ZIP_STORED))
    return out.getvalue()


def torch_agrees(path, stdout):
    """An accepted .bin must be one torch.load(weights_only=True) reads, with
    the same tensors (name, dtype, shape) as inspect lists."""
    import torch
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as ex:  # noqa: BLE001  (any refusal)
        return "torch.load(weights_only=True) refuses it: %s" % str(ex)[:200]
    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
    want = {k: (names.get(v.dtype, str(v.dtype)), list(v.shape)) for k, v in sd.items()}
    got, listing = {}, False
    for line in stdout.decode().splitlines():
        if line == "tensor list:":
            listing = True
        elif listing and not line.startswith("  "):
            break  # the tensor list ends where the next section (tokenizer:) starts
        elif listing:
            nm, dt, shape = line.split(None, 2)
            got[nm] = (dt, json.loads(shape))
    if got != want:
        return "inspect lists %d tensors, torch.load finds %d, or they differ" % (len(got), len(want))
    return None


def t_bin(rng, seeds, work):
    d = os.path.join(work, "fuzzbin")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(seeds["binmodel"], d)
    p = os.path.join(d, "pytorch_model.bin")
    b = read(p)
    r = rng.random()
    oracle_check = r < 0.7
    if r < 0.5:
        parts = bin_parts(b)
        i = [k for k, (n, _) in enumerate(parts) if n.endswith("/data.pkl")][0]
        pkl = parts[i][1]
        for _ in range(rng.choice([1, 1, 2, 3])):
            pkl = mutate_pickle(pkl, rng)
        parts[i] = (parts[i][0], pkl)
        out = bin_join(parts)
    elif r < 0.7:
        parts, comp = bin_rewrite(bin_parts(b), rng)
        out = bin_join(parts, comp)
    else:
        out = mutate_bytes(b, rng)
    write(p, out)
    c = Case([PRMEVAL, "inspect", d], [p], ["pytorch_model.bin"])
    if oracle_check:
        c.check_stdout = lambda stdout: torch_agrees(p, stdout)
    return c


def t_family(rng, seeds, work):
    """A family file (docs/families.md, "Write your own") given to `run` on the tiny qwen-prm model."""
    p = os.path.join(work, "fuzzfamily.json")
    b = read(os.path.join(SRC, "families", "qwen-prm.json"))
    write(p, mutate_json(json.loads(b), rng) if rng.random() < 0.7 else mutate_bytes(b, rng))
    job = os.path.join(work, "family_job.json")
    with open(job, "w") as fh:
        json.dump({"model": seeds["model"], "data": os.path.join(seeds["dir"], "data.jsonl"),
                   "output": os.path.join(work, "family_out.h5"), "backend": "cpu", "limit": 1}, fh)
    c = Case(["env", "PRMEVAL_MPI=0", PRMEVAL, "run", job, "--set", "family=" + p, "--quiet"], [p],
             ["fuzzfamily.json"])
    c.strict = lambda: read(p)
    return c


TARGETS = {"data": t_data, "preds": t_preds, "config": t_config, "safetensors": t_safetensors,
           "tokenizer": t_tokenizer, "spm": t_spm, "text": t_tokenize_text, "h5": t_h5, "bin": t_bin,
           "family": t_family}


# ---- the loop ----------------------------------------------------------------

def judge(case, r):
    """None when the run behaved, else why not."""
    err = r.stderr
    for s in SANITIZER:
        if s in err:
            return "sanitizer report"
    for s in HDF5_NOISE:
        if s in err:
            return "libhdf5 printed %r (its error stack or its clean-up at exit)" % s.decode()
    rc = r.returncode
    if rc < 0 or rc >= 128:
        return "crash: exit %d" % rc
    if rc != 0:
        if not any(n.encode() in err for n in case.names):
            return "exit %d and the message names none of %s" % (rc, ", ".join(case.names))
        return None
    if case.check:
        d = case.check()
        if d:
            return "exit 0 but " + d
    strict = getattr(case, "strict", None)
    if strict and strict_json_ok(strict()) is False:
        return "exit 0 but prmeval accepted JSON that a strict reader refuses (UTF-8, no NaN, no duplicate keys)"
    chk = getattr(case, "check_stdout", None)
    if chk:
        try:
            d = chk(r.stdout)
        except ValueError:
            d = "output is not one JSON array per line"
        if d:
            return "exit 0 but " + d
    return None


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    seeds = make_seeds(os.path.join(TMP, "seeds"))
    work = os.path.join(TMP, "work")
    os.makedirs(work)
    names = ONLY or list(TARGETS)
    for n in names:
        if n not in TARGETS:
            sys.exit("unknown target %s (known: %s)" % (n, ", ".join(TARGETS)))
    start = time.time()
    runs = {n: 0 for n in names}
    exits = {n: {} for n in names}
    failures = []
    i = 0
    while True:
        if ONE_CASE is not None:
            if i >= len(names):
                break
            case_no = int(ONE_CASE)
        else:
            if time.time() - start > BUDGET:
                break
            case_no = i // len(names)
        target = names[i % len(names)]
        i += 1
        rng = random.Random("%d/%s/%d" % (SEED, target, case_no))
        case = TARGETS[target](rng, seeds, work)
        try:
            r = run(case.cmd)
            why = judge(case, r)
        except subprocess.TimeoutExpired as ex:
            r = ex
            why = "timeout after %gs (hang)" % TIMEOUT
        runs[target] += 1
        rc = getattr(r, "returncode", "timeout")
        exits[target][rc] = exits[target].get(rc, 0) + 1
        if why:
            failures.append((target, case_no, why))
            if len(failures) <= MAX_SAVED:
                keep = os.path.join(TMP, "failures", "%s-%d" % (target, case_no))
                os.makedirs(keep, exist_ok=True)
                for p in case.inputs:
                    shutil.copy(p, keep)
                err = (r.stderr or b"")
                write(os.path.join(keep, "stderr.txt"), err)
                write(os.path.join(keep, "cmd.txt"), (" ".join(case.cmd) + "\n" + why + "\n").encode())
                print("FAIL %s case %d: %s\n  cmd: %s\n  saved: %s\n  stderr: %s" % (
                    target, case_no, why, " ".join(case.cmd), keep,
                    err[-1500:].decode(errors="replace").strip().replace("\n", "\n          ")))
                sys.stdout.flush()
    total = sum(runs.values())
    print("fuzzed %d cases in %.0f s (seed %d):" % (total, time.time() - start, SEED))
    for n in names:
        print("  %-12s %5d runs, exits %s" % (n, runs[n], dict(sorted(exits[n].items(), key=str))))
    if total < len(names):
        print("too few cases ran")
        return 1
    print("%d passed, %d failed" % (total - len(failures), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
