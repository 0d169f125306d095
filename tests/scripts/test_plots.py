# labels: plots
"""scripts/plot.py (docs/plots.md) on a small demo run, 3 rescored variants of
it, a rescore sweep CSV and a labels-only eval: every value the figures draw
(the CSV written beside each figure from the plotted artists) is checked
against the HDF5 files read here with h5py on an independent path
(/metrics/table, the raw /samples and /steps arrays), the legends and colours
against the SVGs; runs that are not comparable are refused (and drawn,
flagged, with --force); corrupt, foreign and damaged files give exit 3 with a
message naming the file, a missing one exit 4, never a traceback."""
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import h5py
import numpy as np

SRC = os.environ.get("PRMEVAL_SRC", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PRMEVAL = os.environ["PRMEVAL"]
TMP = os.environ.get("PRMEVAL_TMP", "/tmp/test_plots")
PLOT = [sys.executable, os.path.join(SRC, "scripts", "plot.py")]
SUBSET = os.path.join(SRC, "data", "subset400.jsonl")
failures = []
FIGS = ["prmscore_bars", "prmscore_radar", "error_position", "step_scores", "threshold"]
ABBREV_OF = {"overall": "Overall", "redundency": "NR", "circular": "NCL", "counterfactual": "ES",
             "step_contradiction": "SC", "domain_inconsistency": "DC", "confidence": "CI",
             "missing_condition": "PS", "deception": "DR", "multi_solutions": "MS", "Simplicity": "Simp.",
             "Soundness": "Sound.", "Sensitivity": "Sens."}


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    return r


def must(cmd):
    r = run(cmd)
    if r.returncode:
        sys.exit("setup failed: %s: exit %d\n%s" % (" ".join(cmd), r.returncode, r.stderr))
    return r


def rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def close(a, b):
    return abs(a - b) <= 1e-12 * max(1.0, abs(b))


# ---- inputs -------------------------------------------------------------------

def make_inputs():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    model = os.path.join(TMP, "tiny-qwen-prm")
    must([PRMEVAL, "tiny-model", model, "--family", "qwen-prm", "--seed", "1"])
    job = os.path.join(TMP, "demo.json")
    with open(job, "w") as fh:
        json.dump({"model": model, "family": "qwen-prm", "data": SUBSET, "output": os.path.join(TMP, "demo.h5"),
                   "backend": "cpu", "max_tokens": 384, "token_budget": 8192, "limit": 16,
                   "progress_interval": 5}, fh)
    env = dict(os.environ, PRMEVAL_MPI="0")
    r = run([PRMEVAL, "run", job, "--quiet"], env=env)
    if r.returncode:
        sys.exit("prmeval run failed: %s" % r.stderr)
    h5 = {"demo": os.path.join(TMP, "demo.h5")}
    for t in ("0.3", "0.42", "0.7"):
        h5["t" + t] = os.path.join(TMP, "demo_t%s.h5" % t)
        must([PRMEVAL, "rescore", h5["demo"], "--threshold", t, "--out", h5["t" + t], "--quiet"])
    sweep = os.path.join(TMP, "sweep.csv")
    must([PRMEVAL, "rescore", h5["demo"], "--threshold", "0.2:0.8:0.1", "--csv", sweep, "--quiet"])
    h5["allvalid"] = os.path.join(TMP, "allvalid.h5")  # labels only: no raw scores
    must([PRMEVAL, "eval", "--data", SUBSET, "--predictions", os.path.join(SRC, "data", "baselines",
                                                                           "all_valid.jsonl"),
          "--out", h5["allvalid"], "--quiet"])
    one = os.path.join(TMP, "other_data.jsonl")  # other data: not comparable
    with open(SUBSET) as src, open(one, "w") as dst:
        dst.writelines(src.readlines()[:50])
    h5["other"] = os.path.join(TMP, "other.h5")
    must([PRMEVAL, "eval", "--data", one, "--predictions", os.path.join(SRC, "data", "baselines", "all_valid.jsonl"),
          "--out", h5["other"], "--quiet"])
    return h5, sweep


# ---- what the HDF5 files say (independent of scripts/prmeval_results.py) ----------

def truth(path):
    with h5py.File(path, "r") as f:
        t = f["metrics/table"][:]
        prm = {ABBREV_OF[n.decode()]: float(v) for n, v in zip(t["name"], t["prmscore"])}
        pooled = dict(f["metrics/pooled"].attrs)
        ep = f["analysis/error_position"]
        rows_ = [x.decode() for x in ep.attrs["rows"]]
        k = rows_.index("pooled") if "pooled" in rows_ else len(rows_) - 1
        wrong, n = ep["wrong_acc"][k], ep["n"][k]
        off, status, cls = f["samples/step_offset"][:], f["samples/status"][:], f["samples/class"][:]
        names = h5py.check_enum_dtype(f["samples/class"].dtype)
        score, is_err = f["steps/score"][:], f["steps/is_error"][:]
        st = h5py.check_enum_dtype(f["samples/status"].dtype)
        sel = []
        for i in range(len(status)):
            if status[i] == st["ok"] and cls[i] != names["correct"]:
                sel.extend(range(off[i], off[i + 1]))
        sel = np.array(sel, dtype=np.int64)
        thr = float(f["metrics"].attrs["threshold"])
    return dict(prm=prm, pooled=pooled, wrong=wrong, n=n, score=score[sel], is_err=is_err[sel].astype(bool),
                threshold=thr)


def check_outputs(out, files, sweep):
    for name in FIGS:
        for ext in ("png", "svg", "csv"):
            p = os.path.join(out, "%s.%s" % (name, ext))
            if not os.path.isfile(p) or os.path.getsize(p) == 0:
                fail("%s missing or empty" % p)
        with open(os.path.join(out, name + ".png"), "rb") as fh:
            if fh.read(8) != b"\x89PNG\r\n\x1a\n":
                fail("%s.png is not a PNG" % name)
        ET.parse(os.path.join(out, name + ".svg"))  # well-formed XML, else an exception fails the test
    if any(f.endswith(".tmp") for f in os.listdir(out)):
        fail("temporary files left in %s" % out)
    runs = rows(os.path.join(out, "runs.csv"))
    by_file = {r["file"]: r for r in runs}
    T = {f: truth(f) for f in files}
    # legend names and colours: one colour per run, the same in every figure
    cols = [r["colour"] for r in runs]
    if len(set(cols)) != len(cols):
        fail("runs share colours: %s" % cols)
    for f in files:
        r = by_file.get(f)
        if not r:
            fail("%s not in runs.csv" % f)
            continue
        for name in FIGS[:4]:
            svg = open(os.path.join(out, name + ".svg")).read()
            if r["colour"] not in svg:
                fail("%s: colour %s of %s not drawn" % (name, r["colour"], r["run"]))
            if r["run"].replace("&", "&amp;") not in svg:
                fail("%s: legend %r missing" % (name, r["run"]))
    # bars and radar: PRMScore x100 as /metrics/table has it
    for name, columns in (("prmscore_bars", 13), ("prmscore_radar", 9)):
        got = rows(os.path.join(out, name + ".csv"))
        for f in files:
            mine = [g for g in got if g["file"] == f]
            if len(mine) != columns:
                fail("%s: %d values for %s, expected %d" % (name, len(mine), f, columns))
            for g in mine:
                want = 100 * T[f]["prm"][g["column"]]
                if not close(float(g["prmscore_x100"]), want):
                    fail("%s: %s %s drawn %s, file has %r" % (name, f, g["column"], g["prmscore_x100"], want))
    # error position: every position 1..10 with n > 0, and nothing else
    got = rows(os.path.join(out, "error_position.csv"))
    for f in files:
        mine = {int(g["position"]): g for g in got if g["file"] == f}
        want = {p: (100 * T[f]["wrong"][p - 1], int(T[f]["n"][p - 1])) for p in range(1, 11) if T[f]["n"][p - 1] > 0}
        if set(mine) != set(want):
            fail("error_position: %s positions %s, file has %s" % (f, sorted(mine), sorted(want)))
        for p in set(mine) & set(want):
            if not close(float(mine[p]["wrong_step_acc_x100"]), want[p][0]) or int(mine[p]["n"]) != want[p][1]:
                fail("error_position: %s position %d drawn %s (n %s), file %r (n %d)" % (
                    f, p, mine[p]["wrong_step_acc_x100"], mine[p]["n"], want[p][0], want[p][1]))
    # step scores: histogram counts from the raw steps
    got = rows(os.path.join(out, "step_scores.csv"))
    summ = {s["file"]: s for s in rows(os.path.join(out, "step_scores_summary.csv"))}
    for f in files:
        sc, err = T[f]["score"], T[f]["is_err"]
        fin = ~np.isnan(sc)
        for group, mask in (("correct", fin & ~err), ("erroneous", fin & err)):
            s = sc[mask]
            bins = [g for g in got if g["file"] == f and g["steps"] == group]
            if len(s) == 0:
                if bins:
                    fail("step_scores: %s %s: bins drawn without scores" % (f, group))
                continue
            if len(bins) != 20:
                fail("step_scores: %s %s: %d bins" % (f, group, len(bins)))
                continue
            total = 0
            for k, b in enumerate(bins):
                lo, hi = float(b["bin_lo"]), float(b["bin_hi"])
                c = int(np.sum((s >= lo) & ((s < hi) if k < len(bins) - 1 else (s <= hi))))
                total += c
                if int(b["count"]) != c or not close(float(b["fraction"]), c / len(s)):
                    fail("step_scores: %s %s bin [%s, %s): drawn %s (count %s), file gives %d of %d" % (
                        f, group, b["bin_lo"], b["bin_hi"], b["fraction"], b["count"], c, len(s)))
            if total != len(s):
                fail("step_scores: %s %s: bins hold %d of %d scores" % (f, group, total, len(s)))
        p, s = T[f]["pooled"], summ.get(f)
        if not s:
            fail("step_scores_summary: %s missing" % f)
            continue
        for k in ("similarity", "correct_step_acc", "wrong_step_acc"):
            if float(s[k]) != float(p[k]):
                fail("step_scores_summary: %s %s %s, file %r" % (f, k, s[k], p[k]))
        if int(s["similarity_n"]) != int(p["similarity_n"]):
            fail("step_scores_summary: %s similarity_n" % f)
        if int(s["correct_steps"]) != int((fin & ~err).sum()) or int(s["error_steps"]) != int((fin & err).sum()):
            fail("step_scores_summary: %s step counts" % f)
        # and the metric's own counts agree (every step has a score here)
        if fin.all() and (int(s["correct_steps"]) != int(p["corr_n"]) or int(s["error_steps"]) != int(p["wrong_n"])):
            fail("step_scores_summary: %s: %s/%s steps, the metric counted corr_n %d wrong_n %d" % (
                f, s["correct_steps"], s["error_steps"], p["corr_n"], p["wrong_n"]))
    # threshold: the demo's curve holds its own file and the 3 rescored ones
    got = rows(os.path.join(out, "threshold.csv"))
    demo_curve = [g for g in got if g["run"] == "tiny-qwen-prm"]
    want = sorted((T[f]["threshold"], 100 * T[f]["prm"]["Overall"]) for f in files if "demo" in os.path.basename(f))
    have = [(float(g["threshold"]), float(g["overall_x100"])) for g in demo_curve]
    if len(have) != len(want) or any(a[0] != b[0] or not close(a[1], b[1]) for a, b in zip(have, want)):
        fail("threshold: tiny-qwen-prm curve %s, files give %s" % (have, want))
    if sweep:
        sw = rows(sweep)
        mine = [g for g in got if g["file"] == sweep]
        if [(float(g["threshold"]), float(g["overall_x100"])) for g in mine] != \
                [(float(x["threshold"]), 100 * float(x["Overall"])) for x in sw]:
            fail("threshold: the sweep's curve differs from %s" % sweep)
        # the sweep and the rescored files agree where they meet (both from prmeval rescore)
        at = {float(x["threshold"]): 100 * float(x["Overall"]) for x in sw}
        for t, v in want:
            if t in at and not close(at[t], v):
                fail("threshold: sweep %r at %g, rescored file %r" % (at[t], t, v))


# ---- the cases ------------------------------------------------------------------

def main():
    h5, sweep = make_inputs()
    main_files = [h5["demo"], h5["t0.3"], h5["t0.42"], h5["t0.7"], h5["allvalid"]]
    out = os.path.join(TMP, "figs")
    r = run(PLOT + main_files + [sweep, "--out", out])
    if r.returncode:
        fail("plot.py: exit %d: %s" % (r.returncode, r.stderr))
    else:
        check_outputs(out, main_files, sweep)
        print("figures: %s" % r.stdout.strip())
    # the same run twice: byte-identical SVG (no dates or random ids)
    out2 = os.path.join(TMP, "figs2")
    r = run(PLOT + main_files + [sweep, "--out", out2, "--quiet"])
    for name in FIGS:
        if open(os.path.join(out, name + ".svg"), "rb").read() != open(os.path.join(out2, name + ".svg"), "rb").read():
            fail("%s.svg differs between two identical runs" % name)

    # not comparable: refused, then drawn and flagged with --force
    r = run(PLOT + [h5["demo"], h5["other"], "--out", os.path.join(TMP, "nc")])
    if r.returncode != 2 or "not comparable" not in r.stderr or "other.h5" not in r.stderr:
        fail("not comparable: exit %d: %s" % (r.returncode, r.stderr))
    r = run(PLOT + [h5["demo"], h5["other"], "--out", os.path.join(TMP, "nc"), "--force"])
    if r.returncode or "warning: --force" not in r.stderr:
        fail("--force: exit %d: %s" % (r.returncode, r.stderr))
    else:
        if "NOT COMPARABLE" not in open(os.path.join(TMP, "nc", "prmscore_bars.svg")).read():
            fail("--force: the figure does not flag the runs")
        if {x["comparable"] for x in rows(os.path.join(TMP, "nc", "runs.csv"))} != {"no"}:
            fail("--force: runs.csv does not flag the runs")

    # bad inputs: a clear message naming the file, the right exit code, no traceback
    bad = os.path.join(TMP, "bad")
    os.makedirs(bad)
    raw = open(h5["demo"], "rb").read()
    cases = []

    def case(name, data, code, pattern):
        p = os.path.join(bad, name)
        if data is not None:
            with open(p, "wb") as fh:
                fh.write(data)
        cases.append((p, code, pattern))
    case("truncated.h5", raw[:len(raw) // 2], 3, "truncated.h5")
    case("text.h5", b"this is not HDF5\n" * 100, 3, "text.h5: not an HDF5 file")
    case("empty.h5", b"", 3, "empty.h5")
    flipped = bytearray(raw)
    for k in range(len(flipped) // 3, len(flipped) // 3 + 64):
        flipped[k] ^= 0xFF
    case("flipped.h5", bytes(flipped), 3, "flipped.h5")
    with h5py.File(os.path.join(bad, "foreign.h5"), "w") as f:
        f["x"] = np.arange(3)
    case("foreign.h5", None, 3, "foreign.h5: .*not a prmeval results file")
    shutil.copy(h5["demo"], os.path.join(bad, "no_scores.h5"))
    with h5py.File(os.path.join(bad, "no_scores.h5"), "a") as f:
        del f["steps/score"]
    case("no_scores.h5", None, 3, "no_scores.h5: steps/score: dataset missing")
    shutil.copy(h5["demo"], os.path.join(bad, "short_offsets.h5"))
    with h5py.File(os.path.join(bad, "short_offsets.h5"), "a") as f:
        o = f["samples/step_offset"][:]
        del f["samples/step_offset"]
        f["samples/step_offset"] = o[:-1]
    case("short_offsets.h5", None, 3, "short_offsets.h5: samples/step_offset: expected shape")
    shutil.copy(h5["demo"], os.path.join(bad, "v1.h5"))
    with h5py.File(os.path.join(bad, "v1.h5"), "a") as f:
        f.attrs["schema_version"] = np.int64(1)
    case("v1.h5", None, 3, "v1.h5: results schema version 1")
    shutil.copy(h5["demo"], os.path.join(bad, "huge.h5"))
    with h5py.File(os.path.join(bad, "huge.h5"), "a") as f:  # 64 GiB declared, nothing stored
        del f["steps/score"]
        f.create_dataset("steps/score", shape=(1 << 33,), dtype="f8", chunks=(1 << 16,))
    case("huge.h5", None, 3, "huge.h5: steps/score: 8589934592 elements, more than")
    case("sweep_bad.csv", b"threshold,label_rule,Overall\n0.5,threshold,0.4\n", 3, "sweep_bad.csv:1: not a rescore CSV")
    case("missing.h5", None, 4, "missing.h5: no such file")
    for p, code, pattern in cases:
        r = run(PLOT + [h5["demo"], p, "--out", os.path.join(bad, "out")])
        if r.returncode != code or not re.search(pattern, r.stderr) or "Traceback" in r.stderr:
            fail("%s: exit %d (want %d), stderr: %s" % (os.path.basename(p), r.returncode, code, r.stderr.strip()))
        else:
            print("ok   %s: exit %d: %s" % (os.path.basename(p), r.returncode, r.stderr.strip()[:150]))
    # the output folder is a file
    r = run(PLOT + [h5["demo"], "--out", h5["allvalid"]])
    if r.returncode != 4 or "cannot create the output folder" not in r.stderr:
        fail("--out on a file: exit %d: %s" % (r.returncode, r.stderr))
    # usage
    for args in (["--out", bad], [h5["demo"]], [h5["demo"], "--out", bad, "--positions", "0:40"]):
        r = run(PLOT + args)
        if r.returncode != 2 or "Traceback" in r.stderr:
            fail("usage %s: exit %d: %s" % (args, r.returncode, r.stderr))
    print("%d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
