# labels: nosan
"""The CPU backend against the PyTorch oracle on freshly generated cases: the
brief's tiny models (hidden 64, 3 layers, 4 heads / 2 kv heads, head_dim 16,
FFN 128, vocab 300) of each backbone, with f32, bf16 and f16 weights, 3-4
packed sequences of random lengths, every head; the C test binary requires
every reward within 1e-4 relative. PRM_TORCH_SEED picks other random cases."""
import os
import subprocess
import sys

src = os.environ.get("PRMEVAL_SRC", ".")
build = os.environ.get("PRMEVAL_BUILD", os.path.join(src, "build"))
tmp = os.environ.get("PRMEVAL_TMP", "/tmp/prmeval_test_cpu_forward_torch")
os.makedirs(tmp, exist_ok=True)
seed = os.environ.get("PRM_TORCH_SEED", "11")
cases = os.path.join(tmp, "cases.json")
subprocess.run([sys.executable, os.path.join(src, "tests/oracle/torch_prm.py"), "cases",
                "--size", "small", "--seed", seed, "--out", cases], check=True)
binary = os.path.join(build, "tests", "test_cpu_golden")
sys.exit(subprocess.run([binary, cases]).returncode)
