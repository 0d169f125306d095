# Sourced by tests/gpu/gpu_session.sh and bench/bench_gpu.sh (bash).
#
# pe_gpu_build SRC BUILD LOG: configures and builds prmeval with CUDA in BUILD
# (incrementally when BUILD exists), all output appended to LOG. When SRC/.debs
# holds .deb files (tests/gpu/fetch_debs.sh) they are unpacked into $DEBROOT
# (default /tmp/debroot) and CMake is pointed at them; PE_RUN is then the
# with-debs wrapper that prmeval and the C tests must run under (empty
# otherwise: the machine's own libraries). PE_USE_SYSTEM_LIBS=1 ignores .debs.
# PE_CUDA_ARCH (e.g. 90) builds for that architecture only (default: CMake's
# 80 and 90); PE_BUILD_TARGETS (space-separated) builds only those targets.
# Returns non-zero when the unpacking, the configuration or the build fails.
pe_gpu_build() {
    local src=$1 build=$2 log=$3
    local extra=()
    PE_RUN=()
    PE_BUILD_NOTE="machine libraries"
    if [ "${PE_USE_SYSTEM_LIBS:-0}" != 1 ] && ls "$src"/.debs/*.deb > /dev/null 2>&1; then
        local root=${DEBROOT:-/tmp/debroot}
        bash "$src/tests/gpu/unpack_debs.sh" "$root" "$src/.debs" >> "$log" 2>&1 || return 2
        # shellcheck disable=SC1091
        source "$root/env.sh"
        PE_RUN=("$PE_WITH_DEBS")
        extra=("${PE_DEB_CMAKE_ARGS[@]}")
        PE_BUILD_NOTE="Debian packages from .debs unpacked in $root"
    fi
    [ -n "${PE_CUDA_ARCH:-}" ] && extra+=("-DCMAKE_CUDA_ARCHITECTURES=$PE_CUDA_ARCH")
    local targets=()
    # shellcheck disable=SC2206
    [ -n "${PE_BUILD_TARGETS:-}" ] && targets=(--target $PE_BUILD_TARGETS)
    timeout 480 cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPRMEVAL_CUDA=ON "${extra[@]}" \
        >> "$log" 2>&1 || return 1
    timeout 480 cmake --build "$build" -j"$(nproc)" "${targets[@]}" >> "$log" 2>&1
}
