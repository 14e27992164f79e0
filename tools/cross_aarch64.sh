#!/usr/bin/env bash
# Cross-compiles the C++ kernels and their tests for aarch64 (NEON and generic paths) with
# Debian's g++-aarch64-linux-gnu and runs the tests under qemu-aarch64:
#   apt-get install g++-aarch64-linux-gnu qemu-user
# Extra arguments go to CMake (e.g. -DFASTMLP_OPENMP=OFF). Build tree: build/aarch64.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/aarch64
cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
  -DCMAKE_BUILD_TYPE=Release -DFASTMLP_PYTHON=OFF -DFASTMLP_BUILD_KERNEL_TESTS=ON -DFASTMLP_OPENMP=ON "$@" >/dev/null
cmake --build "$build" --parallel "$(nproc 2>/dev/null || echo 2)" --target fastmlp_kernel_tests
qemu-aarch64 -L /usr/aarch64-linux-gnu "$build/fastmlp_kernel_tests"
