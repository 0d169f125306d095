#!/usr/bin/env bash
# Downloads (here, on the Debian 12 development machine, which has network) the
# Debian packages that a GPU machine lacks to build and run prmeval: Open MPI,
# HDF5 (openmpi flavour), cJSON, PCRE2, utf8proc, OpenBLAS, pkg-config, and the
# shared libraries they load at run time. The GPU machine (see
# docs/backend-cuda.md, "Running the GPU checks") has nvcc, CMake, gcc, PyTorch
# and transformers but none of these; it cannot reach any package registry, so
# the .deb files travel with the working tree (`carry: [".debs"]`) and
# tests/gpu/unpack_debs.sh unpacks them there into a private prefix with
# `dpkg -x` (nothing is installed into /).
#
# The runtime list is the closure of what `ldd` reports for the prmeval binary,
# Open MPI's plugins (openmpi3/mca_*.so), PMIx's plugins, orted and orterun on
# Debian 12, minus the libraries every machine with gcc and Python has (libc6,
# libgcc-s1, libstdc++6, libgomp1, zlib1g): those must come from the GPU
# machine itself, which compiles with its own gcc.
#
# usage: bash tests/gpu/fetch_debs.sh [DIR]      (default .debs, ignored by git)
# Prints the number of files and their total size (the device tool carries at
# most 64 MiB with the working tree).
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=${1:-.debs}

arch=$(dpkg --print-architecture)
if [ "$arch" != amd64 ]; then
    echo "fetch_debs: this machine is $arch; the GPU machine is amd64 (download amd64 packages there)" >&2
    exit 2
fi

BUILD_PKGS=(libopenmpi-dev libhdf5-openmpi-dev libcjson-dev libpcre2-dev libutf8proc-dev
            libopenblas-dev libopenblas-pthread-dev pkgconf pkgconf-bin libpkgconf3)
TOOL_PKGS=(openmpi-bin openmpi-common)
RUNTIME_PKGS=(
    # Open MPI and what its plugins load
    libopenmpi3 libpmix2 libhwloc15 libevent-core-2.1-7 libevent-pthreads-2.1-7 libucx0
    libfabric1 libibverbs1 ibverbs-providers librdmacm1 libnl-3-200 libnl-route-3-200
    libpsm2-2 libpsm-infinipath1 libnuma1 libmunge2 libatomic1 libudev1 libuuid1
    # HDF5 and its libcurl (ROS3 driver)
    libhdf5-openmpi-103-1 libsz2 libaec0 libcurl4 libbrotli1 libgssapi-krb5-2 libk5crypto3
    libkrb5-3 libkrb5support0 libkeyutils1 libcom-err2 libldap-2.5-0 libsasl2-2
    libnghttp2-14 libpsl5 librtmp1 libgnutls30 libhogweed6 libnettle8 libgmp10 libidn2-0
    libunistring2 libp11-kit0 libffi8 libtasn1-6 libssh2-1 libssl3 libzstd1
    # the rest of prmeval's own libraries
    libcjson1 libpcre2-8-0 libutf8proc2 libopenblas0-pthread libgfortran5 libquadmath0)

mkdir -p "$DIR"
rm -f "$DIR"/*.deb
# apt's download sandbox user cannot write into a root-owned worktree: download as root.
(cd "$DIR" && apt-get -o APT::Sandbox::User=root download "${BUILD_PKGS[@]}" "${TOOL_PKGS[@]}" "${RUNTIME_PKGS[@]}")
(cd "$DIR" && sha256sum ./*.deb > SHA256SUMS)
n=$(ls "$DIR"/*.deb | wc -l)
bytes=$(cat "$DIR"/*.deb | wc -c)
echo "fetch_debs: $n packages in $DIR, $((bytes / 1024 / 1024)) MiB ($bytes bytes)"
