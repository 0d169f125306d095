# labels: oracle
"""prmeval eval --json against tests/oracle/prmbench_metric.py (an independent
Python implementation written from docs/metric.md) on random prediction
files: every number must be equal with == and have the same sign bit."""
import json
import math
import os
import random
import subprocess
import sys

SRC = os.environ.get("PRMEVAL_SRC", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests", "oracle"))
import prmbench_metric as oracle  # noqa: E402

PRMEVAL = os.environ["PRMEVAL"]
TMP = os.environ.get("PRMEVAL_TMP", "/tmp/test_metric_oracle")
os.makedirs(TMP, exist_ok=True)


def random_predictions(samples, rng, native=False):
    """One random prediction file: random labels and scores, missing, invalid,
    duplicated and unknown keys, redundancy labels, short and long lists,
    shuffled order."""
    lines = []
    for key, s in samples.items():
        if rng.random() < 0.04:
            continue  # missing
        m = s["nsteps"]
        v = rng.random()
        if v < 0.05:
            m = max(0, m - rng.randint(1, 3))  # truncated
        elif v < 0.08:
            m += rng.randint(1, 2)  # extra rewards
        elif v < 0.09:
            m = 0
        p_valid = rng.choice([0.0, 0.3, 0.7, 0.9, 1.0])
        scores = [round(rng.random(), rng.choice([1, 2, 17])) for _ in range(m)]
        labels = [rng.random() < p_valid for _ in range(m)]
        rec = {}
        how = rng.random()
        if how < 0.4:
            rec["labels"] = labels if rng.random() < 0.8 else [int(x) for x in labels]
        elif how < 0.7:
            rec["scores"] = scores
        else:
            rec["labels"], rec["scores"] = labels, scores
        if rng.random() < 0.3:
            mr = m if rng.random() < 0.8 else max(0, m + rng.randint(-2, 2))
            rec["red"] = [rng.random() < 0.3 for _ in range(mr)]
        w = rng.random()
        if w < 0.05:
            rec["validity"] = False
        elif w < 0.07:
            rec["validity"] = 0
        elif w < 0.15:
            rec["validity"] = True
        lines.append((key, rec))
        if rng.random() < 0.02:  # a duplicate with other labels: the first must win
            lines.append((key, {"labels": [not x for x in labels]}))
    for k in range(rng.randint(0, 5)):
        lines.append(("nonexistent_%d" % k, {"labels": [True]}))
    rng.shuffle(lines)
    out = []
    for key, rec in lines:
        if native:
            o = {"key": key}
            names = {"labels": "step_labels", "scores": "step_scores", "red": "redundancy_labels"}
            for k, n in names.items():
                if k in rec:
                    o[n] = rec[k]
        else:
            names = {"labels": "step_level_validity_labels", "scores": "step_level_validity_scores",
                     "red": "step_level_redundancy_labels"}
            o = {"idx": key, "scores": {n: rec[k] for k, n in names.items() if k in rec}}
        if "validity" in rec:
            o["validity"] = rec["validity"]
        out.append(json.dumps(o))
    return "\n".join(out) + "\n"


failures = 0


def compare(path, want, got):
    global failures
    if isinstance(want, dict):
        for k in want:
            if k not in got:
                print("%s: missing key" % "/".join(path + [k]))
                failures += 1
            else:
                compare(path + [k], want[k], got[k])
    elif isinstance(want, list):
        if len(want) != len(got):
            print("%s: %d entries, expected %d" % ("/".join(path), len(got), len(want)))
            failures += 1
        for i, (a, b) in enumerate(zip(want, got)):
            compare(path + [str(i)], a, b)
    elif not (got == want and math.copysign(1, got) == math.copysign(1, want)):
        print("%s: prmeval %r, oracle %r" % ("/".join(path), got, want))
        failures += 1


def run_case(data, name, text, threshold, fmt):
    pred = os.path.join(TMP, name + ".jsonl")
    out = os.path.join(TMP, name + ".json")
    with open(pred, "w") as fh:
        fh.write(text)
    cmd = [PRMEVAL, "eval", "--data", data, "--predictions", pred, "--json", out, "--quiet",
           "--threshold", repr(threshold), "--format", fmt]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print("%s: prmeval failed (%d): %s" % (name, r.returncode, r.stderr))
        return 1
    with open(out) as fh:
        got = json.load(fh)
    want = oracle.evaluate(oracle.load_samples(data), oracle.load_predictions(pred, fmt), threshold)
    before = failures
    compare([name], want, got)
    print("%s: %s (prmscore overall %r)" % (name, "ok" if failures == before else "MISMATCH",
                                            got["prmscore"]["overall"]))
    return 0


def main():
    subset = os.path.join(SRC, "data", "subset400.jsonl")
    full = os.path.join(SRC, "data", "prmbench")
    cases = [(subset, seed) for seed in range(6)] + [(full, 100), (full, 101)]
    errors = 0
    for data, seed in cases:
        rng = random.Random(seed)
        native = seed % 3 == 2
        threshold = rng.choice([0.5, 0.5, 0.3, 0.7])
        text = random_predictions(oracle.load_samples(data), rng, native)
        errors += run_case(data, "seed%d" % seed, text, threshold, "native" if native else "reference")
    with open(os.path.join(SRC, "data", "baselines", "all_valid.jsonl")) as fh:
        errors += run_case(full, "all_valid", fh.read(), 0.5, "auto")
    print("%d mismatches, %d failed runs" % (failures, errors))
    return 1 if failures or errors else 0


if __name__ == "__main__":
    sys.exit(main())
