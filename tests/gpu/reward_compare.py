#!/usr/bin/env python3
"""Step-reward comparisons for the GPU checks (tests/gpu/run_gpu_checks.sh).

Issue 4's rule: every step reward p of the backend under test against the
reference q: relative error |p - q| / max(|q|, 1e-6) <= 1e-2, and identical
labels except where the reference's label quantity lies within 1e-2 of the
threshold. The label quantity is the reward itself (reward > 0.5), except for
skywork, whose PRMBench rule labels the difference of consecutive rewards
(the first reward itself) > -0.05.

  h5 REF.h5 TEST.h5 --family F --name N [--dumps REF.jsonl TEST.jsonl] --json OUT
      prmeval's HDF5 /steps/score and /steps/label of two runs of the same job
      (CPU backend = reference, CUDA backend = test), matched by /samples/key;
      --dumps also checks that both runs scored the same token ids.
  selftest
      the comparison itself on planted errors (it must catch them).
  runinfo RUN.json [--wall S]
      "BACKEND | device, prompts, tokens, scoring-loop time" from a prmeval run's JSON.
  summary STEPS.jsonl --json OUT.json --text OUT.txt
      one JSON record per step (written by run_gpu_checks.sh and by the
      comparisons) -> a summary; exit 1 when a step failed.

Only numpy and h5py (summary: neither)."""
import argparse
import json
import sys

REL_TOL = 1e-2
NEAR = 1e-2
FAMILY_RULE = {  # family -> (threshold, quantity)
    "qwen-prm": (0.5, "reward"), "math-shepherd": (0.5, "reward"),
    "rlhflow": (0.5, "reward"), "skywork": (-0.05, "difference"),
}


def label_quantity(family, rewards):
    """What the family's label rule compares with its threshold, per step."""
    if FAMILY_RULE[family][1] == "difference":
        return [rewards[0]] + [rewards[i] - rewards[i - 1] for i in range(1, len(rewards))]
    return list(rewards)


def labels(family, rewards):
    thr = FAMILY_RULE[family][0]
    return [int(x > thr) for x in label_quantity(family, rewards)]


class Tally:
    """Accumulates one comparison: rewards p (tested) against q (reference)."""

    def __init__(self, family, rel_tol=REL_TOL, near=NEAR):
        self.family, self.rel_tol, self.near = family, rel_tol, near
        self.n = self.over = self.flips = self.flips_near = self.samples = 0
        self.worst_rel = self.worst_abs = 0.0
        self.worst_at = ""
        self.examples = []

    def add(self, where, p, q, label_p=None, label_q=None):
        """p, q: the step rewards of one sample; label_*: their labels (None:
        computed with the family's rule from the rewards)."""
        self.samples += 1
        if len(p) != len(q):
            self.over += 1
            self.examples.append(f"{where}: {len(p)} rewards against {len(q)}")
            return
        thr = FAMILY_RULE[self.family][0]
        lp = labels(self.family, p) if label_p is None else list(label_p)
        lq = labels(self.family, q) if label_q is None else list(label_q)
        quant = label_quantity(self.family, q)
        for i, (a, b) in enumerate(zip(p, q)):
            self.n += 1
            err = abs(a - b)
            rel = err / max(abs(b), 1e-6)
            self.worst_abs = max(self.worst_abs, err)
            if rel > self.worst_rel:
                self.worst_rel, self.worst_at = rel, f"{where} step {i}: {a:.6g} vs {b:.6g}"
            if rel > self.rel_tol:
                self.over += 1
                if len(self.examples) < 10:
                    self.examples.append(f"{where} step {i}: {a:.6g} vs {b:.6g} (relative error {rel:.3g})")
            if lp[i] != lq[i]:
                if abs(quant[i] - thr) <= self.near:
                    self.flips_near += 1
                else:
                    self.flips += 1
                    if len(self.examples) < 10:
                        self.examples.append(f"{where} step {i}: labels {lp[i]} vs {lq[i]} "
                                             f"(reference quantity {quant[i]:.6g}, threshold {thr})")

    def result(self, **extra):
        ok = self.n > 0 and self.over == 0 and self.flips == 0
        r = dict(status="pass" if ok else "FAIL", family=self.family, samples=self.samples, rewards=self.n,
                 worst_rel=self.worst_rel, worst_abs=self.worst_abs, worst_at=self.worst_at,
                 over_tol=self.over, label_flips=self.flips, flips_near_threshold=self.flips_near,
                 rel_tol=self.rel_tol, examples=self.examples)
        if self.n == 0:
            r["examples"] = r["examples"] + ["no rewards were compared"]
        r.update(extra)
        return r


def read_h5(path):
    import h5py
    with h5py.File(path, "r") as f:
        keys = list(f["samples/key"].asstr()[:])
        off = [int(x) for x in f["samples/step_offset"][:]]
        score = [float(x) for x in f["steps/score"][:]]
        label = [int(x) for x in f["steps/label"][:]]
    return {k: (score[off[i]:off[i + 1]], label[off[i]:off[i + 1]]) for i, k in enumerate(keys)}


def read_dump(path):
    """--dump-tokens output: key -> (ids, readout)."""
    out = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            out[r["key"]] = (r["ids"], r["readout"])
    return out


def cmd_h5(a):
    ref, test = read_h5(a.ref), read_h5(a.test)
    t = Tally(a.family)
    extra = {}
    if set(ref) != set(test):
        t.examples.append(f"sample keys differ: {len(set(ref) ^ set(test))} not in both")
        t.over += 1
    for k in sorted(set(ref) & set(test)):
        t.add(k, test[k][0], ref[k][0], test[k][1], ref[k][1])
    if a.dumps:
        d0, d1 = read_dump(a.dumps[0]), read_dump(a.dumps[1])
        same = d0 == d1
        extra["token_ids_identical"] = same
        if not same:
            t.over += 1
            t.examples.append(f"{a.dumps[0]} and {a.dumps[1]}: the two runs scored different token ids")
    r = t.result(check=f"{a.name}: {a.test_label} vs {a.ref_label} (HDF5 /steps/score)", name=a.name,
                 ref=a.ref, test=a.test, **extra)
    write_record(a.json, r)
    print_record(r)
    return 0 if r["status"] == "pass" else 1


def write_record(path, r):
    with open(path, "a") as f:
        f.write(json.dumps(r) + "\n")


def print_record(r):
    print(f"{r['status']}: {r['check']}: {r['rewards']} rewards of {r['samples']} samples, worst relative error "
          f"{r['worst_rel']:.3g} (absolute {r['worst_abs']:.3g}), {r['over_tol']} over {r['rel_tol']}, "
          f"{r['label_flips']} label flips, {r['flips_near_threshold']} allowed flips near the threshold")
    for x in r["examples"]:
        print("    " + x)


def cmd_selftest(_):
    """Planted errors that the rule must catch, and agreements it must accept."""
    bad = []

    def expect(name, family, p, q, status, **counts):
        t = Tally(family)
        t.add(name, p, q)
        r = t.result()
        if r["status"] != status or any(r[k] != v for k, v in counts.items()):
            bad.append(f"{name}: got {r['status']} {dict((k, r[k]) for k in counts)}, expected {status} {counts}")

    expect("equal", "qwen-prm", [0.2, 0.7], [0.2, 0.7], "pass", over_tol=0, label_flips=0)
    expect("0.9% off", "qwen-prm", [0.2 * 1.009, 0.7], [0.2, 0.7], "pass", over_tol=0)
    expect("1.1% off", "qwen-prm", [0.2 * 1.011, 0.7], [0.2, 0.7], "FAIL", over_tol=1)
    expect("flip near 0.5", "qwen-prm", [0.5001], [0.4999], "pass", label_flips=0, flips_near_threshold=1)
    # a flip far from the threshold (0.45 vs 0.55) is also a 20% error: both counted
    expect("flip far from 0.5", "qwen-prm", [0.55], [0.45], "FAIL", label_flips=1, over_tol=1)
    # skywork: rewards 0.60, 0.545 -> difference -0.055 (label 0); 0.60, 0.5555 -> -0.0445 (label 1):
    # 1.9% apart, both near -0.05 -> one over tolerance, no label flip counted beyond the allowed one
    expect("skywork near -0.05", "skywork", [0.60, 0.5555], [0.60, 0.545], "FAIL", over_tol=1, label_flips=0,
           flips_near_threshold=1)
    expect("skywork same", "skywork", [0.60, 0.30], [0.60, 0.30], "pass", label_flips=0)
    expect("length mismatch", "rlhflow", [0.1], [0.1, 0.2], "FAIL", over_tol=1)
    t = Tally("qwen-prm")
    if t.result()["status"] != "FAIL":
        bad.append("an empty comparison must fail")
    if labels("skywork", [0.6, 0.56, 0.2]) != [1, 1, 0]:
        bad.append(f"skywork labels {labels('skywork', [0.6, 0.56, 0.2])}")
    for b in bad:
        print("selftest FAILED:", b)
    print("selftest:", "FAILED" if bad else "ok (planted errors caught, agreements accepted)")
    return 1 if bad else 0


def cmd_runinfo(a):
    """One line from a `prmeval run` JSON's "run" member: BACKEND | what it did."""
    r = json.load(open(a.json))["run"]
    k = r["ranks"][0]
    print(f"{k['backend']} | {k['device']}; {r['sequences']} prompts, {k['tokens']} tokens, {r['readouts']} rewards; "
          f"scoring loop {k['seconds']:.2f} s ({k['tokens_per_s']:.0f} tokens/s), whole command {a.wall} s")
    return 0


def cmd_summary(a):
    recs = []
    with open(a.steps) as f:
        for line in f:
            if line.strip():
                recs.append(json.loads(line))
    failed = [r for r in recs if r.get("status") == "FAIL"]
    not_run = [r for r in recs if r.get("status") == "not run"]
    lines = []
    for r in recs:
        s = f"{r.get('status', '?'):8s} {r.get('check', r.get('step', '?'))}"
        if "rewards" in r:
            s += (f": {r['rewards']} rewards, worst rel {r['worst_rel']:.3g} (abs {r['worst_abs']:.3g}), "
                  f"{r['over_tol']} over tol, {r['label_flips']} flips ({r['flips_near_threshold']} near threshold)")
        if r.get("detail"):
            s += f": {r['detail']}"
        lines.append(s)
        for x in r.get("examples", [])[:5]:
            lines.append("           " + x)
    verdict = "FAILED" if failed else "INCOMPLETE" if not_run else "all checks passed"
    if not recs:
        verdict = "FAILED (no step recorded)"
    head = [f"GPU checks ({a.mode}): {verdict}; {len(recs)} records, {len(failed)} failed, {len(not_run)} not run"]
    text = "\n".join(head + lines) + "\n"
    with open(a.text, "w") as f:
        f.write(text)
    with open(a.json, "w") as f:
        json.dump(dict(mode=a.mode, verdict=verdict, failed=len(failed), not_run=len(not_run), records=recs), f,
                  indent=1)
    if a.print:
        sys.stdout.write(text)
    return 1 if failed or not_run or not recs else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("h5")
    h.add_argument("ref")
    h.add_argument("test")
    h.add_argument("--family", required=True, choices=sorted(FAMILY_RULE))
    h.add_argument("--name", required=True)
    h.add_argument("--ref-label", default="cpu")
    h.add_argument("--test-label", default="cuda")
    h.add_argument("--dumps", nargs=2)
    h.add_argument("--json", required=True, help="JSONL file the result record is appended to")
    sub.add_parser("selftest")
    ri = sub.add_parser("runinfo")
    ri.add_argument("json")
    ri.add_argument("--wall", type=int, default=0)
    s = sub.add_parser("summary")
    s.add_argument("steps")
    s.add_argument("--json", required=True)
    s.add_argument("--text", required=True)
    s.add_argument("--mode", default="gpu")
    s.add_argument("--print", action="store_true")
    a = ap.parse_args()
    return {"h5": cmd_h5, "selftest": cmd_selftest, "summary": cmd_summary, "runinfo": cmd_runinfo}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
