#!/usr/bin/env bash
# Proves, on the Debian 12 development machine (root, no GPU needed), that the
# carried .debs are enough to configure, build and run prmeval on a machine that
# lacks Open MPI, HDF5, cJSON, PCRE2 (dev), utf8proc, OpenBLAS and pkg-config:
# in a private mount namespace, an overlay over /usr and /etc hides every file of
# those packages (whiteouts), the .debs are unpacked into a scratch prefix with
# tests/gpu/unpack_debs.sh, CMake configures and builds against the prefix (CUDA
# on: nvcc is here), and prmeval + the unit tests run under with-debs. Finally
# `ldd` must resolve every library of prmeval and of Open MPI's plugins either
# inside the prefix or to the few base libraries that are not carried (libc,
# libm, libgcc_s, libstdc++, libgomp, libz) or CUDA's.
# With --rehearse, it then runs tests/gpu/gpu_session.sh in GPU mode in the
# same namespace, with a stand-in nvidia-smi: the build from .debs, the unit
# tests and the script's error reporting run as they will on the GPU machine;
# what needs a GPU (kernels, backend=cuda runs) and transformers must FAIL there.
# usage: bash tests/gpu/check_debs_here.sh [--rehearse] [WORKDIR]   (default /tmp/pe-debcheck)
# Needs: root, unshare, overlayfs, the .debs (tests/gpu/fetch_debs.sh).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
REHEARSE=0
if [ "${1:-}" = --rehearse ]; then REHEARSE=1; shift; fi
W=${1:-/tmp/pe-debcheck}
if [ "${PE_IN_NS:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] || { echo "check_debs_here: needs root (mount namespace + overlay)" >&2; exit 2; }
    rm -rf "$W"
    mkdir -p "$W/up/usr" "$W/up/etc" "$W/wk/usr" "$W/wk/etc"
    # every package the GPU machine lacks (and those that could stand in for them)
    hide=$(dpkg-query -W -f '${Package}\n' | grep -E '^(lib)?(hdf5|openmpi|pmix|hwloc|ucx|fabric|cjson|utf8proc|openblas|blas|lapack|pkgconf|pkg-config|caf-openmpi|coarrays-openmpi|ibverbs|rdmacm|psm|munge|sz2|aec|gfortran5|quadmath|event-(core|pthreads))' \
        | grep -v -- '-doc$' || true)
    hide="$hide libpcre2-dev openmpi-bin openmpi-common hdf5-tools"
    n=0
    for p in $hide; do
        dpkg -L "$p" 2>/dev/null || true
    done | sort -u | while read -r f; do
        [ -d "$f" ] && [ ! -L "$f" ] && continue
        case "$f" in /lib/*) f=/usr$f ;; /bin/*) f=/usr$f ;; /usr/*|/etc/*) ;; *) continue ;; esac
        [ -e "$f" ] || [ -L "$f" ] || continue
        mkdir -p "$W/up$(dirname "$f")"
        mknod "$W/up$f" c 0 0
    done
    echo "check_debs_here: hiding $(find "$W/up" -type c | wc -l) files of: $(echo $hide | tr '\n' ' ')"
    exec unshare -m env PE_IN_NS=1 PE_REHEARSE=$REHEARSE bash "$0" "$W"
fi

mount -t overlay overlay -o "lowerdir=/usr,upperdir=$W/up/usr,workdir=$W/wk/usr" /usr
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$W/up/etc,workdir=$W/wk/etc" /etc
fail=0
for f in /usr/include/hdf5/openmpi/hdf5.h /usr/lib/x86_64-linux-gnu/libmpi.so.40 /usr/bin/mpicc /usr/bin/pkg-config \
         /usr/include/cjson/cJSON.h /usr/lib/x86_64-linux-gnu/libutf8proc.so.2 /usr/include/pcre2.h; do
    [ -e "$f" ] && { echo "FAILED: $f is still visible"; fail=1; }
done
echo "== hidden: hdf5.h, libmpi, mpicc, pkg-config, cJSON.h, libutf8proc, pcre2.h are gone"
command -v pkg-config && { echo "FAILED: pkg-config still visible"; fail=1; }

bash "$SRC/tests/gpu/unpack_debs.sh" "$W/debroot" "$SRC/.debs"
# shellcheck disable=SC1091
source "$W/debroot/env.sh"
echo "== configure against $W/debroot (PKG_CONFIG_LIBDIR=$PKG_CONFIG_LIBDIR)"
cmake -S "$SRC" -B "$W/build" -DCMAKE_BUILD_TYPE=Release -DPRMEVAL_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    "${PE_DEB_CMAKE_ARGS[@]}" > "$W/configure.log" 2>&1 || { tail -30 "$W/configure.log"; exit 1; }
grep -E 'prmeval:|Found MPI|Checking for module' "$W/configure.log"
echo "== where CMake found the headers and libraries (compile and link lines of prmeval)"
paths=$( { grep -h '^C_INCLUDES' "$W/build/CMakeFiles/prmeval_lib.dir/flags.make"
           cat "$W/build/CMakeFiles/prmeval.dir/linkLibs.rsp"
           grep -E '^(MPI_C_HEADER_DIR|MPI_mpi_LIBRARY|PKG_CONFIG_EXECUTABLE):' "$W/build/CMakeCache.txt"; } \
    | tr ' ;=:"' '\n\n\n\n\n' | sed 's/^-I//' | grep '^/' | sort -u)
echo "$paths" | sed 's/^/  /'
outside=$(echo "$paths" | grep -vE "^$W/debroot|^$SRC/src$|^/usr/local/cuda|^/usr/lib/gcc/|^/usr/lib/x86_64-linux-gnu/libpthread.a$" || true)
[ -z "$outside" ] || { echo "FAILED: found outside the prefix: $outside"; fail=1; }
echo "== build"
cmake --build "$W/build" -j2 > "$W/build.log" 2>&1 || { tail -30 "$W/build.log"; exit 1; }
echo "built: $(ls "$W/build/prmeval")"

echo "== libraries of prmeval and of Open MPI's plugins under with-debs"
bad=$( { "$PE_WITH_DEBS" ldd "$W/build/prmeval"
         for f in "$W"/debroot/usr/lib/x86_64-linux-gnu/openmpi/lib/openmpi3/*.so "$W"/debroot/usr/bin/orted; do
             "$PE_WITH_DEBS" ldd "$f"; done; } 2>&1 \
    | awk '/=>/ {print $1, $3}' | sort -u \
    | grep -vE " $W/debroot/| /usr/local/cuda|^(libc|libm|libgcc_s|libstdc\+\+|libgomp|libz|libdl|libpthread|librt|libresolv)\.so" || true)
if [ -n "$bad" ]; then echo "FAILED: resolved outside the prefix or not found:"; echo "$bad"; fail=1
else echo "all resolved inside $W/debroot (or base libc/libstdc++/libgomp/libz, CUDA)"; fi

echo "== run"
"$PE_WITH_DEBS" "$W/build/prmeval" --version || fail=1
"$PE_WITH_DEBS" "$W/build/prmeval" tiny-model "$W/tiny" --family qwen-prm --dtype bf16 2>&1 || fail=1
cat > "$W/job.json" <<EOF
{"model": "$W/tiny", "data": "$SRC/data/subset400.jsonl", "output": "$W/r.h5", "json": "$W/r.json",
 "backend": "auto", "limit": 2}
EOF
"$PE_WITH_DEBS" "$W/build/prmeval" run "$W/job.json" --quiet > "$W/run1.log" 2>&1 || fail=1
cat "$W/run1.log"
echo "== mpirun -np 2 (singleton and launcher both from the prefix)"
"$PE_WITH_DEBS" "$W/debroot/bin/mpirun" -np 2 --oversubscribe "$W/build/prmeval" run "$W/job.json" --quiet \
    --set output="$W/r2.h5" --set json= > "$W/run2.log" 2>&1 || fail=1
cat "$W/run2.log"
# anything Open MPI or the loader says (a plugin it could not open, a missing help file) is a defect
noise=$(cat "$W/run1.log" "$W/run2.log" | grep -vE '^(run|backend|progress|done|warning): ' || true)
[ -z "$noise" ] || { echo "FAILED: unexpected output from the runs:"; echo "$noise"; fail=1; }
echo "== unit tests (ctest -L unit under with-debs)"
(cd "$W/build" && "$PE_WITH_DEBS" ctest -L unit -j2 > "$W/ctest.log" 2>&1) || fail=1
grep -E 'tests passed|Skipped|Failed|\*\*\*' "$W/ctest.log"
[ "$fail" = 0 ] && echo "check_debs_here: OK" || echo "check_debs_here: FAILED"
if [ "${PE_REHEARSE:-0}" = 1 ]; then
    echo "== rehearsal: tests/gpu/gpu_session.sh in GPU mode, stand-in nvidia-smi, no GPU"
    mkdir -p "$W/fakebin"
    printf '#!/bin/sh\necho "stand-in nvidia-smi (no GPU here), 0, 0 MiB"\n' > "$W/fakebin/nvidia-smi"
    chmod +x "$W/fakebin/nvidia-smi"
    (cd "$SRC" && PATH="$W/fakebin:$PATH" OUT="$W/rehearsal-out" BUILD="$W/build-gpu" DEBROOT="$W/debroot2" \
        LIMIT_Q05=1 bash tests/gpu/gpu_session.sh) || true
    ls -la "$W/rehearsal-out"
fi
exit "$fail"
