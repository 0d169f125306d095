#!/usr/bin/python3
"""Writes the "every step valid" baseline predictions (reference format):
one line per sample of the data, every step labelled valid.

usage: make_baseline.py DATA_PATH OUT.jsonl

Samples are built as docs/metric.md says (synthetic correct_<idx> for
redundency records, first occurrence of a key wins)."""
import glob
import json
import os
import sys


def sample_keys(path):
    files = sorted(glob.glob(os.path.join(path, "*.jsonl"))) if os.path.isdir(path) else [path]
    seen = {}
    for f in files:
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                r = json.loads(line)
                cls, idx = r["classification"], r["idx"]
                if idx.startswith(cls + "_"):
                    idx = idx[len(cls) + 1:]
                if cls == "redundency" and "correct_" + idx not in seen:
                    seen["correct_" + idx] = len(r["original_process"])
                if cls + "_" + idx not in seen:
                    seen[cls + "_" + idx] = len(r["modified_process"])
    return seen


def main():
    data, out = sys.argv[1], sys.argv[2]
    with open(out, "w", encoding="utf-8") as fh:
        for key, nsteps in sample_keys(data).items():
            fh.write(json.dumps({"idx": key, "scores": {"step_level_validity_labels": [True] * nsteps}}) + "\n")


if __name__ == "__main__":
    main()
