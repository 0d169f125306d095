#!/usr/bin/python3
"""The PRMBench metric in plain Python (json module), the peer that
bench/bench_eval.sh times prmeval against. It is the test oracle
(tests/oracle/prmbench_metric.py) run end to end: read data and predictions,
compute, write the metrics JSON.

usage: py_metric.py DATA PREDICTIONS OUT.json"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "oracle"))
import prmbench_metric as m  # noqa: E402

out = m.evaluate(m.load_samples(sys.argv[1]), m.load_predictions(sys.argv[2], "auto"))
with open(sys.argv[3], "w") as fh:
    json.dump(out, fh, indent=1)
