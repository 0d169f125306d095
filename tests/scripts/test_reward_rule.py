#!/usr/bin/env python3
"""The GPU session's comparison rule (tests/gpu/reward_compare.py, issue 11) on
cases worked out here by hand, independently of the module's own selftest:

- near reward 0, bf16-sized differences that issue 4's 1e-2 relative rule
  refused (it failed 25 to 72 of ~100 rewards of correct bf16 runs in the dry
  runs) pass: 0.0010 vs 0.0012 (20% relative, logit error ln(1.2 * 0.999 /
  0.9988) = 0.1825), rlhflow's 1.0e-3 vs 1.15e-3 (log p error 0.14);
- real mismatches that a probability bound of 1e-2 would let through are
  caught: 0.001 vs 0.004 (abs 0.003, logit 1.39), rlhflow 1e-3 vs 2e-3 (0.69);
- label flips: allowed only within the band the tolerance implies (0.5 / 4 =
  0.125 around 0.5; skywork's difference rule 0.25 around -0.05), failed outside;
- saturated rewards (fp32 1.0) compare by probability;
- the summary keeps the counts of the old rule for the record."""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gpu"))
import reward_compare as rc  # noqa: E402

fails = []


def check(name, cond, detail=""):
    if not cond:
        fails.append(f"{name}: {detail}")


def run(family, p, q, tol="bf16", lp=None, lq=None):
    t = rc.Tally(family, tol)
    t.add("case", p, q, lp, lq)
    return t.result()


# The tolerance itself, as documented.
check("bf16 tolerance", rc.TOLERANCES["bf16"] == (0.5, 1e-4), rc.TOLERANCES)
check("fp32 tolerance", rc.TOLERANCES["fp32"] == (1e-3, 1e-6), rc.TOLERANCES)

# 1. Correct-kernel differences near 0 that the old relative rule failed.
r = run("qwen-prm", [0.0012, 0.7], [0.0010, 0.7])
want_z = abs(math.log(0.0012 / 0.9988) - math.log(0.0010 / 0.9990))
check("near 0 passes", r["status"] == "pass" and r["over_tol"] == 0, r)
check("near 0 old rule fails it", r["old_rule_over"] == 1 and r["worst_rel"] > 0.19, r)
check("near 0 logit error", abs(r["worst_logit"] - want_z) < 1e-9, (r["worst_logit"], want_z))
r = run("rlhflow", [1.15e-3], [1.0e-3])
check("rlhflow 15% passes", r["status"] == "pass" and r["old_rule_over"] == 1, r)
check("rlhflow logit is log p", abs(r["worst_logit"] - math.log(1.15)) < 1e-9, r["worst_logit"])

# 2. Real mismatches caught, though their probability error is below 1e-2.
r = run("qwen-prm", [0.004], [0.001])
check("4x near 0 caught", r["status"] == "FAIL" and r["over_tol"] == 1 and r["worst_abs"] < 1e-2, r)
r = run("rlhflow", [2e-3, 1e-3], [1e-3, 1e-3])
check("rlhflow 2x caught", r["status"] == "FAIL" and r["over_tol"] == 1, r)
# a mid-range error of 0.13 (logit 0.53): caught
r = run("skywork", [0.63, 0.2], [0.5, 0.2])
check("mid-range caught", r["status"] == "FAIL" and r["over_tol"] == 1, r)
# the same shift in fp32's tolerance is caught far earlier: 0.5002 vs 0.5 (logit 8e-4) passes, 0.5003 fails
check("fp32 8e-4 passes", run("qwen-prm", [0.5002], [0.5], "fp32")["status"] == "pass")
check("fp32 1.2e-3 fails", run("qwen-prm", [0.5003], [0.5], "fp32")["status"] == "FAIL")

# 3. Label flips: labels as the files store them (lp, lq), rewards equal.
r = run("qwen-prm", [0.45], [0.45], lp=[1], lq=[0])
check("flip within 0.125 of 0.5 allowed", r["status"] == "pass" and r["flips_near_threshold"] == 1, r)
r = run("qwen-prm", [0.35], [0.35], lp=[1], lq=[0])
check("flip 0.15 from 0.5 fails", r["status"] == "FAIL" and r["label_flips"] == 1, r)
# skywork: the label quantity is the difference of consecutive rewards; band 0.25 around -0.05
r = run("skywork", [0.6, 0.4], [0.6, 0.4], lp=[1, 1], lq=[1, 0])   # difference -0.2: 0.15 from -0.05
check("skywork flip inside its band", r["status"] == "pass" and r["flips_near_threshold"] == 1, r)
r = run("skywork", [0.7, 0.3], [0.7, 0.3], lp=[1, 1], lq=[1, 0])   # difference -0.4: 0.35 away
check("skywork flip outside its band", r["status"] == "FAIL" and r["label_flips"] == 1, r)
check("skywork labels", rc.labels("skywork", [0.6, 0.56, 0.2]) == [1, 1, 0])

# 4. Saturation: fp32 rounds to 1.0; the logit cannot be trusted there, the probability floor decides.
check("saturated pass", run("qwen-prm", [1.0], [0.99999995])["status"] == "pass")
check("saturated fail", run("qwen-prm", [1.0], [0.9995])["status"] == "FAIL")

# 5. Structure: unequal lengths, an empty comparison, --exact.
check("length mismatch", run("qwen-prm", [0.1], [0.1, 0.2])["status"] == "FAIL")
check("empty fails", rc.Tally("math-shepherd").result()["status"] == "FAIL")
t = rc.Tally("math-shepherd", exact=True)
t.add("x", [0.25, 0.5], [0.25, 0.5])
check("exact equal passes", t.result()["status"] == "pass" and t.result()["identical"] == 2, t.result())
t = rc.Tally("math-shepherd", exact=True)
t.add("x", [0.25, 0.5], [0.25, 0.50000006])
check("exact differs fails", t.result()["status"] == "FAIL" and t.result()["over_tol"] == 0, t.result())

for f in fails:
    print("FAIL:", f)
if fails:
    sys.exit(1)
print("comparison rule: every case as worked out by hand")
