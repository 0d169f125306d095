# labels: oracle
"""The reference's LLM-critic result files (GPT-4o, o1-mini, Gemini, vLLM
critics; format in docs/predictions.md) through `prmeval eval` and
`prmeval rescore`, against the independent metric oracle
tests/oracle/prmbench_metric.py.

The files are written here, from the format the reference's checkpoint files
have (one {"task_name", "model_name", "results"} line per sample), with what
real critic runs leave in them: invalid records (unparsable outputs, with and
without scores), duplicated idx from resumed runs (the first counts, valid or
not), records of another task, lists shorter or longer than the steps,
integer scores, and labels that disagree with score > 0.5 (a critic's labels
are its own verdict: they, not the scores, must be used)."""
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
TMP = os.environ.get("PRMEVAL_TMP", "/tmp/test_critic_files")
os.makedirs(TMP, exist_ok=True)
SUBSET = os.path.join(SRC, "data", "subset400.jsonl")
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg)


def critic_file(samples, rng, model, counts):
    """A critic's checkpoint file for `samples`; `counts` gets what was put in."""
    lines = []
    for key, s in samples.items():
        if rng.random() < 0.03:
            continue  # the critic run never reached this sample
        m = s["nsteps"]
        v = rng.random()
        if v < 0.06:
            m = max(0, m - rng.randint(1, 2))
        elif v < 0.09:
            m += 1
        res = {"idx": key}
        w = rng.random()
        if w < 0.08:  # unparsable output
            res["validity"] = False
            res["original_response"] = "Step 1 looks fine but I am not sure about the ```json"
            counts["invalid_records"] += 1
        else:
            vs = [rng.choice([rng.random(), 1, 0, round(rng.random(), 2)]) for _ in range(m)]
            rs = [round(rng.random() * 0.4, 3) for _ in range(m)]
            # a critic's labels are not always score > 0.5
            vl = [(x > 0.5) != (rng.random() < 0.2) for x in vs]
            rl = [x > 0.3 for x in rs]
            if rng.random() < 0.1:
                rl = rl[:max(0, len(rl) - 1)]
            res["scores"] = {"step_level_validity_scores": vs, "step_level_redundancy_scores": rs,
                             "step_level_validity_labels": vl, "step_level_redundancy_labels": rl}
            res["validity"] = True
        lines.append({"task_name": "prmtest_classified", "model_name": model, "results": res})
    rng.shuffle(lines)
    # a resumed run appends records again: the first of each idx counts
    for rec in rng.sample(lines, 25):
        dup = json.loads(json.dumps(rec))
        r = dup["results"]
        if r.get("validity") is False:  # valid now, but the invalid first record counts
            m = samples[r["idx"]]["nsteps"]
            r.update(validity=True, scores={"step_level_validity_labels": [True] * m})
            r.pop("original_response")
        else:
            r.clear()
            r.update(idx=rec["results"]["idx"], validity=False)
            counts["invalid_records"] += 1
        lines.insert(rng.randrange(len(lines) + 1), dup)
        counts["duplicates"] += 1
    # another task's records in the same file: not predictions of this task
    for k in range(3):
        lines.insert(rng.randrange(1, len(lines)), {"task_name": "mathcheck_gsm", "model_name": model,
                                                    "results": ["not", "a", "prmbench", "record", k]})
        counts["other_task"] += 1
    return "".join(json.dumps(r) + "\n" for r in lines)


def compare(path, want, got):
    if isinstance(want, dict):
        for k in want:
            if k not in got:
                fail("%s: missing key" % "/".join(path + [k]))
            else:
                compare(path + [k], want[k], got[k])
    elif isinstance(want, list):
        if len(want) != len(got):
            fail("%s: %d entries, expected %d" % ("/".join(path), len(got), len(want)))
        for i, (a, b) in enumerate(zip(want, got)):
            compare(path + [str(i)], a, b)
    elif not (got == want and math.copysign(1, got) == math.copysign(1, want)):
        fail("%s: prmeval %r, oracle %r" % ("/".join(path), got, want))


def run(args):
    return subprocess.run([PRMEVAL] + args, capture_output=True, text=True)


def load(p):
    with open(p) as fh:
        return json.load(fh)


def strip(doc):
    return {k: v for k, v in doc.items() if k != "warnings"}


def main():
    samples = oracle.load_samples(SUBSET)
    for seed, model in [(1, "gpt-4o"), (2, "o1-mini"), (3, "gemini-2.0-flash-thinking-exp-1219"),
                        (4, "Qwen/QwQ-32B-Preview")]:
        rng = random.Random(seed)
        counts = {"invalid_records": 0, "duplicates": 0, "other_task": 0}
        pred = os.path.join(TMP, "critic%d.jsonl" % seed)
        with open(pred, "w") as fh:
            fh.write(critic_file(samples, rng, model, counts))
        js, h5 = pred[:-6] + ".json", pred[:-6] + ".h5"
        # auto-detection, and --format critic, give the same document
        for fmt in ("auto", "critic"):
            r = run(["eval", "--data", SUBSET, "--predictions", pred, "--format", fmt, "--json", js, "--out", h5,
                     "--quiet"])
            if r.returncode:
                fail("critic%d --format %s: exit %d: %s" % (seed, fmt, r.returncode, r.stderr))
                continue
            got = load(js)
            want = oracle.evaluate(samples, oracle.load_predictions(pred, "critic"), 0.5)
            before = len(failures)
            compare(["critic%d" % seed], want, got)
            # what was skipped is counted and reported
            warn = "\n".join(got["warnings"])
            nrec = sum(1 for line in open(pred) if json.loads(line)["task_name"] == "prmtest_classified")
            expect = ["%d of %d records say validity: false" % (counts["invalid_records"], nrec),
                      "%d records of tasks other than prmtest_classified were ignored" % counts["other_task"],
                      "%d duplicated keys: the first prediction of each was kept" % counts["duplicates"],
                      "predictions say validity: false: skipped"]
            for e in expect:
                if e not in warn:
                    fail("critic%d: no warning '%s' in:\n%s" % (seed, e, warn))
            print("critic%d (%s, --format %s): %s, prmscore overall %r, validity_rate %r" % (
                seed, model, fmt, "ok" if len(failures) == before else "MISMATCH", got["prmscore"]["overall"],
                got["validity_rate"]))
        # the oracle's labels came from the critic's labels: prove the scores
        # alone would give other numbers (else this test could not tell)
        scores_only = os.path.join(TMP, "scores_only%d.jsonl" % seed)
        with open(pred) as src, open(scores_only, "w") as dst:
            for line in src:
                rec = json.loads(line)
                sc = rec["results"].get("scores", {}) if rec["task_name"] == "prmtest_classified" else {}
                if "step_level_validity_scores" in sc:
                    sc.pop("step_level_validity_labels", None)
                dst.write(json.dumps(rec) + "\n")
        alt = oracle.evaluate(samples, oracle.load_predictions(scores_only, "critic"), 0.5)
        if alt["prmscore"] == load(js)["prmscore"]:
            fail("critic%d: labels and scores give the same PRMScore: the test cannot tell them apart" % seed)
        # rescore: the stored labels were given, so every threshold keeps them
        for t in ("0.5", "0.3"):
            rj = pred[:-6] + "_rescore%s.json" % t
            r = run(["rescore", h5, "--threshold", t, "--json", rj, "--quiet"])
            if r.returncode:
                fail("critic%d rescore %s: exit %d: %s" % (seed, t, r.returncode, r.stderr))
                continue
            a, b = strip(load(js)), strip(load(rj))
            b.pop("threshold"), a.pop("threshold")
            if a != b:
                fail("critic%d: rescore --threshold %s differs from eval" % (seed, t))
            if "keep their stored labels" not in "\n".join(load(rj)["warnings"]):
                fail("critic%d: rescore did not say the given labels are kept" % seed)
        # report names the row by the critic's model_name
        csv = pred[:-6] + ".csv"
        r = run(["report", h5, "--csv", csv, "--quiet"])
        if r.returncode:
            fail("critic%d report: exit %d: %s" % (seed, r.returncode, r.stderr))
        else:
            row = open(csv).read().splitlines()[1]
            if model + "@0.5" not in row:
                fail("critic%d: report row %r is not named by model_name" % (seed, row))

    # a critic file whose first record belongs to another task is still a critic file
    first_other = os.path.join(TMP, "first_other.jsonl")
    key = next(iter(samples))
    with open(first_other, "w") as fh:
        fh.write(json.dumps({"task_name": "other", "model_name": "m", "results": {}}) + "\n")
        fh.write(json.dumps({"task_name": "prmtest_classified", "model_name": "m",
                             "results": {"idx": key, "validity": True,
                                         "scores": {"step_level_validity_labels": [False]}}}) + "\n")
    r = run(["eval", "--data", SUBSET, "--predictions", first_other, "--json", first_other + ".json", "--quiet"])
    if r.returncode or load(first_other + ".json")["counts"][samples[key]["cls"]]["fn"] + \
            load(first_other + ".json")["counts"][samples[key]["cls"]]["tn"] != 1:
        fail("first record of another task: exit %d %s" % (r.returncode, r.stderr))
    # --format critic on a reference-format file: exit 3 naming file and line
    ref = os.path.join(SRC, "data", "baselines", "all_valid.jsonl")
    r = run(["eval", "--data", SUBSET, "--predictions", ref, "--format", "critic", "--quiet"])
    if r.returncode != 3 or "all_valid.jsonl:1: missing field \"task_name\"" not in r.stderr:
        fail("--format critic on a reference file: exit %d: %s" % (r.returncode, r.stderr))
    print("%d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
