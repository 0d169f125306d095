#!/usr/bin/python3
"""Writes the "every step valid" baseline predictions (reference format):
one line per sample of the data, every step labelled valid.

usage: make_baseline.py DATA_PATH OUT.jsonl

Samples are built by the oracle's own reader (prmbench_metric.load_samples, as
docs/metric.md says: synthetic correct_<idx> for redundency records, first
occurrence of a key wins)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prmbench_metric import load_samples  # noqa: E402


def main():
    data, out = sys.argv[1], sys.argv[2]
    with open(out, "w", encoding="utf-8") as fh:
        for key, s in load_samples(data).items():
            fh.write(json.dumps({"idx": key, "scores": {"step_level_validity_labels": [True] * s["nsteps"]}}) + "\n")


if __name__ == "__main__":
    main()
