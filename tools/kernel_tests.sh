#!/usr/bin/env bash
# Builds the C++ kernels and their tests (tests/cpp/kernel_tests.cpp) natively, without
# Python, and runs them on every ISA path this CPU has. Extra arguments go to CMake
# (e.g. -DFASTMLP_OPENMP=OFF; the defaults are set again on every run). Build tree: build/kernel-tests.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/kernel-tests
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DFASTMLP_PYTHON=OFF \
  -DFASTMLP_BUILD_KERNEL_TESTS=ON -DFASTMLP_OPENMP=ON "$@" >/dev/null
cmake --build "$build" --parallel "$(nproc 2>/dev/null || echo 2)" --target fastmlp_kernel_tests
"$build/fastmlp_kernel_tests"
