# labels: mpi
# Provenance under 3 ranks: host gather, rank count, failure agreement (the C test checks).
set -euo pipefail
mkdir -p "$PRMEVAL_TMP"
cd "$PRMEVAL_SRC"
mpirun -np 3 --oversubscribe "$PRMEVAL_BUILD/tests/test_provenance"
