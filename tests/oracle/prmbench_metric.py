#!/usr/bin/python3
"""An independent re-implementation of the PRMBench metric, written from
docs/metric.md (the reference evaluator's behaviour, quirks included), not
from prmeval's C code. Plain Python lists and sum(list)/len(list), as the
reference computes its means, so values can be compared with == against
prmeval's JSON output.

usage: prmbench_metric.py DATA_PATH PREDICTIONS [--threshold T] [--format reference|native|critic]
prints the metrics as JSON (same keys as `prmeval eval --json`)."""
import glob
import json
import os
import sys

CLASSES = ["correct", "redundency", "circular", "counterfactual", "step_contradiction",
           "domain_inconsistency", "confidence", "missing_condition", "deception", "multi_solutions"]
CATEGORIES = {"Simplicity": ["redundency", "circular"],
              "Soundness": ["counterfactual", "step_contradiction", "domain_inconsistency", "confidence"],
              "Sensitivity": ["missing_condition", "deception", "multi_solutions"]}
MAX_ERRPOS = 32


def load_samples(path):
    """key -> dict(cls, idx, nsteps, errors (0-based, file order)), in the reference's order."""
    files = sorted(glob.glob(os.path.join(path, "*.jsonl"))) if os.path.isdir(path) else [path]
    samples = {}
    for f in files:
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                r = json.loads(line)
                cls, idx = r["classification"], r["idx"]
                if idx.startswith(cls + "_"):
                    idx = idx[len(cls) + 1:]
                if cls == "redundency":
                    key = "correct_" + idx
                    if key not in samples:
                        samples[key] = dict(cls="correct", idx=idx, nsteps=len(r["original_process"]), errors=[])
                key = cls + "_" + idx
                if key not in samples:
                    samples[key] = dict(cls=cls, idx=idx, nsteps=len(r["modified_process"]),
                                        errors=[e - 1 for e in r["error_steps"]])
    return samples


def load_predictions(path, fmt):
    preds = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            r = json.loads(line)
            if fmt == "auto":
                fmt = ("critic" if "task_name" in r and "results" in r else
                       "reference" if "idx" in r else "native")
            if fmt == "critic":
                # the reference's LLM-critic checkpoint lines (prm-families.md):
                # {"task_name", "model_name", "results": <a reference record>};
                # each task is evaluated from its own records only
                if r["task_name"] != "prmtest_classified":
                    continue
                r = r["results"]
            if fmt in ("reference", "critic"):
                s = r.get("scores", {})
                preds.append(dict(key=r["idx"], validity=r.get("validity", True),
                                  labels=s.get("step_level_validity_labels"),
                                  scores=s.get("step_level_validity_scores"),
                                  red=s.get("step_level_redundancy_labels")))
            else:
                preds.append(dict(key=r["key"], validity=r.get("validity", True), labels=r.get("step_labels"),
                                  scores=r.get("step_scores"), red=r.get("redundancy_labels")))
    return preds


def step_labels(pred, cls, threshold):
    if cls in ("redundency", "circular") and pred["red"] is not None:
        return [not x for x in pred["red"]]
    if pred["labels"] is not None:
        return [bool(x) for x in pred["labels"]]
    return [s > threshold for s in pred["scores"]]


def new_lists():
    return dict(tp=0, fp=0, tn=0, fn=0, correct=[], wrong=[], total=[], first=[], sim=[],
                pos_hits=[0] * (MAX_ERRPOS + 1), pos_n=[0] * (MAX_ERRPOS + 1))


def judge(sample, labels, acc):
    """One sample's contribution (docs/metric.md, 'Per sample'). Returns response_acc."""
    E = set(sample["errors"])
    f = min(E) if E else -1
    wrong_here = []
    for i, valid in enumerate(labels):
        if i == f:
            acc["first"].append(0 if valid else 1)
        if i in E:
            if valid:
                acc["fp"] += 1
            else:
                acc["tn"] += 1
            wrong_here.append(0 if valid else 1)
            acc["wrong"].append(0 if valid else 1)
            acc["total"].append(0 if valid else 1)
        else:
            if valid:
                acc["tp"] += 1
            else:
                acc["fn"] += 1
            acc["correct"].append(1 if valid else 0)
            acc["total"].append(1 if valid else 0)
    # error position: error_steps (1-based, file order) zipped with this sample's wrong list
    for e0, w in zip(sample["errors"], wrong_here):
        b = min(e0 + 1, MAX_ERRPOS)
        acc["pos_hits"][b] += w
        acc["pos_n"][b] += 1
    return sum(labels) / len(labels) if labels else -1


def mean(lst):
    return sum(lst) / len(lst) if lst else -1


def scores_of(a, multi):
    p = a["tp"] / (a["tp"] + a["fp"]) if a["tp"] + a["fp"] else -1
    r = a["tp"] / (a["tp"] + a["fn"]) if a["tp"] + a["fn"] else -1
    f1 = 2 * p * r / (p + r) if p + r else -1
    np_ = a["tn"] / (a["tn"] + a["fn"]) if a["tn"] + a["fn"] else -1
    nr = a["tn"] / (a["tn"] + a["fp"]) if a["tn"] + a["fp"] else -1
    nf1 = 2 * np_ * nr / (np_ + nr) if np_ + nr else -1
    prm = f1 if multi else 0.5 * f1 + 0.5 * nf1
    if prm < 0:
        prm = 0
    return dict(correct_step_acc=mean(a["correct"]), wrong_step_acc=mean(a["wrong"]),
                total_step_acc=mean(a["total"]), first_error_acc=mean(a["first"]), similarity=mean(a["sim"]),
                precision=p, recall=r, f1=f1, negative_precision=np_, negative_recall=nr, negative_f1=nf1,
                prmscore=prm)


def evaluate(samples, preds, threshold=0.5):
    kept, order = {}, []
    for p in preds:  # unknown keys dropped; the first of duplicated keys wins
        if p["key"] in samples and p["key"] not in kept:
            kept[p["key"]] = p
            order.append(p["key"])
    per = {c: new_lists() for c in CLASSES}
    total = new_lists()
    correct_acc = {}
    for key in order:  # the correct class first
        s = samples[key]
        if s["cls"] != "correct" or not kept[key]["validity"]:
            continue
        correct_acc[s["idx"]] = judge(s, step_labels(kept[key], s["cls"], threshold), per["correct"])
    valid_num = 0
    for key in order:
        s, p = samples[key], kept[key]
        if s["cls"] == "correct" or not p["validity"]:
            continue
        valid_num += 1
        acc = new_lists()
        own = judge(s, step_labels(p, s["cls"], threshold), acc)
        for dst in (per[s["cls"]], total):
            for k in ("tp", "fp", "tn", "fn"):
                dst[k] += acc[k]
            for k in ("correct", "wrong", "total", "first"):
                dst[k].extend(acc[k])
            for b in range(MAX_ERRPOS + 1):
                dst["pos_hits"][b] += acc["pos_hits"][b]
                dst["pos_n"][b] += acc["pos_n"][b]
        twin = correct_acc.get(s["idx"])
        if twin and own != -1:  # truthiness: a twin of 0 is skipped, -1 is not
            per[s["cls"]]["sim"].append(abs(own - twin))
            total["sim"].append(abs(own - twin))
    res = {c: scores_of(per[c], c == "multi_solutions") for c in CLASSES}
    tot = scores_of(total, False)
    metric_names = ["correct_step_acc", "wrong_step_acc", "total_step_acc", "first_error_acc", "similarity",
                    "precision", "recall", "f1", "negative_precision", "negative_recall", "negative_f1"]
    total_num = len(samples) - len([k for k in order if samples[k]["cls"] == "correct"])
    out = {
        "total_hallucination_results": {m: tot[m] for m in metric_names},
        "hallucination_type_results": {m: {c: res[c][m] for c in CLASSES} for m in metric_names},
        "validitiy_rate": valid_num / total_num,
        "prmscore": dict([("overall", tot["prmscore"])] + [(c, res[c]["prmscore"]) for c in CLASSES[1:]]),
        "prmscore_category": {g: sum(res[c]["prmscore"] for c in cs) / len(cs) for g, cs in CATEGORIES.items()},
        "valid_num": valid_num,
        "total_num": total_num,
    }
    out["validity_rate"] = out["validitiy_rate"]
    out["counts"] = {}
    for name, a in [("pooled", total)] + [(c, per[c]) for c in CLASSES]:
        out["counts"][name] = dict(tp=a["tp"], fp=a["fp"], tn=a["tn"], fn=a["fn"], similarity_n=len(a["sim"]),
                                   first_error_n=len(a["first"]), error_position_hits=a["pos_hits"],
                                   error_position_n=a["pos_n"])
    return out


def main():
    args = sys.argv[1:]
    threshold, fmt = 0.5, "auto"
    if "--threshold" in args:
        i = args.index("--threshold")
        threshold = float(args[i + 1])
        del args[i:i + 2]
    if "--format" in args:
        i = args.index("--format")
        fmt = args[i + 1]
        del args[i:i + 2]
    out = evaluate(load_samples(args[0]), load_predictions(args[1], fmt), threshold)
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
