#!/usr/bin/env bash
# The layering of docs/architecture.md, checked on every #include line:
#   core <- prm <- io <- backend (+ kernels) ; core <- prm <- io <- cluster ; cli on top.
# A lower layer never includes an upper one, backend never includes cluster,
# cluster reaches the backend only through its public interface (backend.h,
# engine.h: the run flow drives scoring through it, never a backend's internals), nothing in src/core includes mpi.h, CUDA or HDF5 headers, and
# each layer uses only the system headers of its concern. The checker is first
# run on a small tree with known violations, so this test can fail.
set -u
mkdir -p "$PRMEVAL_TMP"
tmp="$PRMEVAL_TMP/layering"
rm -rf "$tmp"
mkdir -p "$tmp"

# The layers a layer may include (itself included).
allowed() {
    case "$1" in
        core) echo "core" ;;
        prm) echo "core prm" ;;
        io) echo "core prm io" ;;
        backend) echo "core prm io backend kernels" ;;
        cluster) echo "core prm io cluster backend-interface" ;;
        cli) echo "core prm io backend cluster cli" ;;
        kernels) echo "kernels" ;;
    esac
}

# System headers a layer must not include (extended regex on the header name).
forbidden_system() {
    case "$1" in
        core) echo '^(mpi\.h|hdf5.*\.h|H5.*\.h|cuda.*\.h|cublas.*\.h|nccl\.h)$' ;;
        prm) echo '^(mpi\.h|hdf5.*\.h|H5.*\.h|cuda.*\.h|cublas.*\.h|nccl\.h|dlfcn\.h)$' ;;
        io) echo '^(mpi\.h|cuda.*\.h|cublas.*\.h|nccl\.h)$' ;;
        backend) echo '^(mpi\.h|hdf5.*\.h|H5.*\.h)$' ;;
        cluster) echo '^(cuda.*\.h|cublas.*\.h|hdf5.*\.h|H5.*\.h)$' ;;
        cli) echo '^(cuda.*\.h|cublas.*\.h)$' ;;
        kernels) echo '^(mpi\.h|hdf5.*\.h|H5.*\.h)$' ;;
    esac
}

# The layer a quoted include names, seen from a file in layer $1.
target_layer() {
    local from=$1 inc=$2
    case "$inc" in
        ../../kernels/*) echo kernels ;;
        ../core/* | core/*) echo core ;;
        ../prm/* | prm/*) echo prm ;;
        ../io/* | io/*) echo io ;;
        ../backend/backend.h | backend/backend.h | ../backend/engine.h | backend/engine.h)
            if [ "$from" = cluster ]; then echo backend-interface; else echo backend; fi ;;
        ../backend/* | backend/*) echo backend ;;
        ../cluster/* | cluster/*) echo cluster ;;
        ../cli/* | cli/*) echo cli ;;
        */*) echo "?" ;;
        *) echo "$from" ;;   # a header beside the file
    esac
}

# check ROOT: prints one line per violation under ROOT/src/<layer> and
# ROOT/kernels; the exit status is the number of violations (capped at 100).
check() {
    local root=$1 n=0 layer f line inc tl
    for layer in core prm io backend cluster cli kernels; do
        local dir="$root/src/$layer"
        [ "$layer" = kernels ] && dir="$root/kernels"
        [ -d "$dir" ] || continue
        for f in "$dir"/*; do
            [ -f "$f" ] || continue
            while IFS= read -r line; do
                if [[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]]; then
                    inc=${BASH_REMATCH[1]}
                    tl=$(target_layer "$layer" "$inc")
                    if [ "$tl" = "?" ]; then
                        echo "${f#"$root"/}: #include \"$inc\": not a header of any layer"
                        n=$((n + 1))
                    elif ! [[ " $(allowed "$layer") " == *" $tl "* ]]; then
                        echo "${f#"$root"/}: #include \"$inc\": $layer must not include $tl"
                        n=$((n + 1))
                    fi
                elif [[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<([^\>]+)\> ]]; then
                    inc=${BASH_REMATCH[1]}
                    if [[ $inc =~ $(forbidden_system "$layer") ]]; then
                        echo "${f#"$root"/}: #include <$inc>: not in $layer"
                        n=$((n + 1))
                    fi
                fi
            done < "$f"
        done
    done
    [ $n -gt 100 ] && n=100
    return $n
}

fail=0

# 1. The checker finds what it must: a synthetic tree with 6 violations and
#    5 allowed includes.
mkdir -p "$tmp/src/core" "$tmp/src/io" "$tmp/src/backend" "$tmp/src/cluster" "$tmp/src/cli" "$tmp/kernels"
printf '#include "err.h"\n#include <mpi.h>\n' > "$tmp/src/core/a.c"                  # mpi.h in core
printf '#  include "../io/x.h"\n#include <hdf5.h>\n' > "$tmp/src/core/b.h"           # core -> io, hdf5.h in core
printf '#include "../core/err.h"\n#include <hdf5.h>\n' > "$tmp/src/io/c.c"           # allowed
printf '#include "cluster/cluster.h"\n' > "$tmp/src/backend/d.c"                     # backend -> cluster
printf '#include "../backend/cpu_ops.h"\n#include <cuda_runtime.h>\n#include "../backend/backend.h"\n' > "$tmp/src/cluster/e.c"  # 2 violations, 1 allowed
printf '#include "backend/backend.h"\n#include "cluster/cluster.h"\n' > "$tmp/src/cli/f.c"      # allowed
out=$(check "$tmp")
got=$?
if [ $got -ne 6 ]; then
    echo "FAIL: the checker found $got violations in the synthetic tree, expected 6:"
    echo "$out"
    fail=1
fi
for want in "src/core/a.c: #include <mpi.h>" "src/core/b.h: #include \"../io/x.h\": core must not include io" \
    "src/core/b.h: #include <hdf5.h>" \
    "src/backend/d.c: #include \"cluster/cluster.h\": backend must not include cluster" \
    "src/cluster/e.c: #include \"../backend/cpu_ops.h\": cluster must not include backend" \
    "src/cluster/e.c: #include <cuda_runtime.h>"; do
    grep -qF "$want" <<< "$out" || { echo "FAIL: the checker missed: $want"; fail=1; }
done

# 2. The repository.
out=$(check "$PRMEVAL_SRC")
got=$?
if [ $got -ne 0 ]; then
    echo "FAIL: $got layering violations (docs/architecture.md, 'Layers'):"
    echo "$out"
    fail=1
fi
# and it looked at something: every layer has files
for layer in core prm io backend cluster cli; do
    ls "$PRMEVAL_SRC/src/$layer"/*.[ch] > /dev/null 2>&1 || { echo "FAIL: no files in src/$layer"; fail=1; }
done

[ $fail -eq 0 ] && echo "layering: ok"
exit $fail
