# labels: mpi nosan
# CPU rewards are the same bits for any thread count, rank count and token
# budget (docs/run.md "Reproducibility"): one model with a hidden size that
# OpenBLAS's own threading splits differently (512, FFN 1536), run with 1, 2
# and 3 OpenMP threads on one rank, on 3 ranks with 1 thread each, and with a
# budget that packs the batches differently; /steps, /samples and /metrics must
# be identical to the byte. (Before the product was tiled per sequence,
# src/backend/blas.h, 1 and 2 threads differed in the last bits on AMD EPYC.)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

"$PRMEVAL" tiny-model "$T/m" --family qwen-prm --seed 5 --layers 1 --hidden 512 --heads 8 --kv-heads 2 \
    --ffn 1536 >/dev/null 2>&1
cat > "$T/job.json" <<EOF
{"model": "$T/m", "family": "qwen-prm", "data": "$PRMEVAL_SRC/data/subset400.jsonl", "backend": "cpu",
 "max_tokens": 384, "token_budget": 4096, "limit": 8}
EOF
one_rank() {  # name threads [--set k=v ...]
    local name=$1 threads=$2; shift 2
    OMP_NUM_THREADS=$threads prmeval_run "$T/job.json" --quiet --set output="$T/$name.h5" "$@" \
        2> "$T/$name.log" || { cat "$T/$name.log"; fail "$name: run failed"; }
}
one_rank t1 1
one_rank t2 2
one_rank t3 3
one_rank b700 2 --set token_budget=700
OMP_NUM_THREADS=1 mpirun -np 3 --oversubscribe -x OMP_NUM_THREADS "$PRMEVAL" run "$T/job.json" --quiet \
    --set output="$T/r3.h5" 2> "$T/r3.log" || { cat "$T/r3.log"; fail "r3: run failed"; }
[ "$fails" = 0 ] || exit 1

for v in t2 t3 r3 b700; do
    for g in /steps /samples /metrics; do
        h5diff "$T/t1.h5" "$T/$v.h5" "$g" >/dev/null || fail "$v: HDF5 $g differs from 1 thread"
    done
done
# The rewards are a real spread (identical constants would prove nothing).
"$PY" - "$T/t1.h5" <<'PY' || fail "t1: the rewards are not a real spread"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    r = np.asarray(f["steps/score"][:], dtype=np.float64)
    print(f"{len(r)} step rewards, {len(np.unique(r))} distinct")
    sys.exit(0 if len(r) > 50 and len(np.unique(r)) > len(r) // 2 else 1)
PY
finish "1, 2, 3 threads, 3 ranks and another token budget: identical /steps, /samples, /metrics"
