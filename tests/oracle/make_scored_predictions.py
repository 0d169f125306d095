#!/usr/bin/python3
"""Writes seeded random predictions with step scores (reference format) for
the samples of a baseline predictions file (data/baselines/all_valid.jsonl
lists every sample key with its step count), for the rescore and report tests.

usage: make_scored_predictions.py BASELINE.jsonl SEED OUT.jsonl [OUT_SKYWORK.jsonl C]

Mix (so rescore meets every case): most samples have scores only (labels
come from score > threshold); about 4% give validity labels as well (kept at
any threshold); redundency/circular samples sometimes give redundancy labels
(kept); about 2% say validity: false; about 2% are missing. Scores are drawn
uniformly, and a few are exactly 0.3, 0.5, 0.7 or -0.05 (a threshold must
label them invalid: score > T is strict).

With OUT_SKYWORK and C, also writes the same predictions with the scores of
every score-only sample replaced by labels under PRMBench's Skywork rule
(r_1 > C, r_i - r_{i-1} > C): an independent oracle for
`prmeval rescore --label-rule skywork-current --threshold C`."""
import json
import random
import sys


def skywork_labels(scores, c):
    return [(s if i == 0 else s - scores[i - 1]) > c for i, s in enumerate(scores)]


def main():
    base, seed, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sky_out, c = (sys.argv[4], float(sys.argv[5])) if len(sys.argv) > 5 else (None, None)
    rng = random.Random(seed)
    special = [0.3, 0.5, 0.7, -0.05]
    recs, sky = [], []
    for line in open(base, encoding="utf-8"):
        r = json.loads(line)
        key, n = r["idx"], len(r["scores"]["step_level_validity_labels"])
        u = rng.random()
        if u < 0.02:
            continue  # missing
        if u < 0.04:
            rec = {"idx": key, "validity": False}
            recs.append(rec)
            sky.append(rec)
            continue
        scores = [rng.choice(special) if rng.random() < 0.05 else rng.uniform(-0.2, 1.0) for _ in range(n)]
        sc = {"step_level_validity_scores": scores}
        given = False
        if u < 0.08:
            sc["step_level_validity_labels"] = [rng.random() < 0.7 for _ in range(n)]
            given = True
        cls = key.split("_")[0]
        if cls in ("redundency", "circular") and rng.random() < 0.1:
            sc["step_level_redundancy_labels"] = [rng.random() < 0.2 for _ in range(n)]
            given = True
        recs.append({"idx": key, "scores": sc})
        if sky_out is not None:
            s2 = dict(sc)
            if not given:
                s2["step_level_validity_labels"] = skywork_labels(scores, c)
            sky.append({"idx": key, "scores": s2})
    rng.shuffle(recs)  # similarity is summed in prediction order: make it differ from sample order
    with open(out, "w", encoding="utf-8") as f:
        for rec in recs:
            f.write(json.dumps(rec) + "\n")
    if sky_out is not None:
        order = {rec["idx"]: k for k, rec in enumerate(recs)}
        sky.sort(key=lambda rec: order[rec["idx"]])
        with open(sky_out, "w", encoding="utf-8") as f:
            for rec in sky:
                f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
