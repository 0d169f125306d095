#!/usr/bin/env bash
# Unpacks the .deb files that tests/gpu/fetch_debs.sh downloaded into a private
# prefix (nothing is installed into /, no package database is touched) and
# makes them usable from there:
#   - the pkg-config files name /usr/...: they are rewritten to PREFIX/usr/...;
#   - PREFIX/bin/with-debs CMD... runs CMD with LD_LIBRARY_PATH and Open MPI's
#     relocation variables (OPAL_PREFIX) pointing into the prefix;
#   - PREFIX/bin/mpicc, mpirun and pkg-config are with-debs wrappers of Open MPI's
#     mpicc and mpirun (CMake's FindMPI asks mpicc for its flags) and of pkgconf;
#   - PREFIX/env.sh, to be sourced, sets PKG_CONFIG_LIBDIR to the prefix's
#     pkg-config folders only (the machine's own are not searched) and defines
#     PE_DEB_CMAKE_ARGS, the arguments that make CMake use the prefix.
# LD_LIBRARY_PATH is never exported by env.sh: Debian's libraries must not leak
# into gcc, nvcc or Python on the GPU machine; only prmeval and its tests run
# under with-debs.
# usage: bash tests/gpu/unpack_debs.sh PREFIX [DEBDIR]   (default DEBDIR .debs)
set -euo pipefail
PREFIX=${1:?usage: unpack_debs.sh PREFIX [DEBDIR]}
DEBDIR=${2:-$(dirname "$0")/../../.debs}
ls "$DEBDIR"/*.deb >/dev/null 2>&1 || { echo "unpack_debs: no .deb files in $DEBDIR (run tests/gpu/fetch_debs.sh first)" >&2; exit 2; }
if [ -f "$DEBDIR/SHA256SUMS" ]; then
    (cd "$DEBDIR" && sha256sum --quiet -c SHA256SUMS) || { echo "unpack_debs: $DEBDIR: checksum mismatch" >&2; exit 3; }
fi
command -v dpkg >/dev/null || { echo "unpack_debs: dpkg is missing on this machine" >&2; exit 2; }
mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)
for f in "$DEBDIR"/*.deb; do
    dpkg -x "$f" "$PREFIX"
done

M=x86_64-linux-gnu
U=$PREFIX/usr
# Where the shared libraries are (Debian 12 still ships some in /lib).
LIBPATH=$U/lib/$M:$U/lib/$M/openblas-pthread:$U/lib/$M/openmpi/lib:$U/lib/$M/pmix2/lib:$U/lib/$M/hdf5/openmpi:$PREFIX/lib/$M:$U/lib/libpsm1
PCPATH=$U/lib/$M/pkgconfig:$U/lib/$M/openblas-pthread/pkgconfig:$U/lib/$M/openmpi/lib/pkgconfig:$U/share/pkgconfig

# The one link that a postinst script (update-alternatives) would have made and
# that a library needs at run time (Open MPI's mtl_psm plugin loads it).
if [ -f "$U/lib/libpsm1/libpsm_infinipath.so.1.16" ]; then
    ln -sf libpsm_infinipath.so.1.16 "$U/lib/libpsm1/libpsm_infinipath.so.1"
fi

# pkg-config files: /usr -> PREFIX/usr (as a whole path component only).
find "$PREFIX" -name '*.pc' -type f -print0 | xargs -0 sed -i -E "s#(^|[=[:space:]]|-I|-L)/usr(/|\$|[[:space:]])#\1$U\2#g"

# PMIx's own parameter file names its plugin folder absolutely.
sed -i "s#= /usr/#= $U/#" "$U/lib/$M/pmix2/share/pmix-mca-params.conf"

mkdir -p "$PREFIX/bin"
cat > "$PREFIX/bin/with-debs" <<EOF
#!/bin/sh
# Runs a command with the libraries unpacked in $PREFIX (tests/gpu/unpack_debs.sh).
LD_LIBRARY_PATH=$LIBPATH\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
# Open MPI (OPAL_PREFIX: its prefix moved) and PMIx 4 (PMIX_DESTDIR: prepended to every
# path it was built with; its PMIX_PREFIX does not move the absolute ones Debian configured)
# find their plugins, help files and orted from these.
OPAL_PREFIX=$U
PMIX_DESTDIR=$PREFIX
OMPI_ALLOW_RUN_AS_ROOT=1
OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Debian's /etc/openmpi/openmpi-mca-params.conf, which is not read from the prefix:
# no UCX, OFI or openib transports (shared memory and TCP on one node).
OMPI_MCA_btl_base_warn_component_unused=0
OMPI_MCA_mtl=^ofi
OMPI_MCA_btl=^uct,openib,ofi
OMPI_MCA_pml=^ucx
OMPI_MCA_osc=^ucx,pt2pt
export LD_LIBRARY_PATH OPAL_PREFIX PMIX_DESTDIR OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
export OMPI_MCA_btl_base_warn_component_unused OMPI_MCA_mtl OMPI_MCA_btl OMPI_MCA_pml OMPI_MCA_osc
exec "\$@"
EOF
printf '#!/bin/sh\nexec %s %s "$@"\n' "$PREFIX/bin/with-debs" "$U/bin/mpicc.openmpi" > "$PREFIX/bin/mpicc"
printf '#!/bin/sh\nexec %s %s "$@"\n' "$PREFIX/bin/with-debs" "$U/bin/mpirun.openmpi" > "$PREFIX/bin/mpirun"
printf '#!/bin/sh\nexec %s %s "$@"\n' "$PREFIX/bin/with-debs" "$U/bin/pkgconf" > "$PREFIX/bin/pkg-config"
chmod +x "$PREFIX/bin/with-debs" "$PREFIX/bin/mpicc" "$PREFIX/bin/mpirun" "$PREFIX/bin/pkg-config"

# The linker must find the libraries' own dependencies (libhdf5 -> libcurl, ...)
# when it links prmeval: -rpath-link, one per folder.
RPL=""
IFS=: read -ra dirs <<< "$LIBPATH"
for d in "${dirs[@]}"; do RPL="$RPL -Wl,-rpath-link,$d"; done

cat > "$PREFIX/env.sh" <<EOF
# Source this (tests/gpu/unpack_debs.sh wrote it): pkg-config sees only $PREFIX.
export PE_DEBROOT=$PREFIX
export PKG_CONFIG_LIBDIR=$PCPATH
export PKG_CONFIG_PATH=
PE_WITH_DEBS=$PREFIX/bin/with-debs
PE_DEB_CMAKE_ARGS=(-DPKG_CONFIG_EXECUTABLE=$PREFIX/bin/pkg-config -DMPI_C_COMPILER=$PREFIX/bin/mpicc
    -DMPIEXEC_EXECUTABLE=$PREFIX/bin/mpirun "-DCMAKE_EXE_LINKER_FLAGS=${RPL# }")
EOF
n=$(ls "$DEBDIR"/*.deb | wc -l)
echo "unpack_debs: $n packages unpacked into $PREFIX; source $PREFIX/env.sh"
