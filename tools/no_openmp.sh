#!/usr/bin/env bash
# Builds fastmlp with OpenMP switched off (as a compiler without OpenMP would, e.g. Apple's
# clang) into build/no-openmp/site and runs the C++ backend's tests against that build.
# Needs the test dependencies in the active Python (pip install ".[dev]"); extra arguments
# go to pip (e.g. --no-build-isolation offline).
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/no-openmp
rm -rf "$out/site"
python -m pip install --quiet --no-deps --target "$out/site" \
  -C cmake.define.FASTMLP_OPENMP=OFF -C build-dir="$out/cmake" "$@" .
export PYTHONPATH="$PWD/$out/site${PYTHONPATH:+:$PYTHONPATH}"
# the tests must import this build, not an installed one
python - <<'PY'
import fastmlp, fastmlp._cpp as cpp
assert not cpp.openmp(), f"{cpp.__file__} was built with OpenMP"
print(f"testing {fastmlp.__file__}: threads {cpp.num_threads()} (built without OpenMP)")
PY
python -m pytest -q tests/test_cpp_backend.py tests/test_parity.py tests/test_train_steps.py
