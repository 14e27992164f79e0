#!/usr/bin/env bash
# Builds fastmlp with OpenMP switched off (as a compiler without OpenMP would, e.g. Apple's
# clang), installs it in its own virtual environment (build/no-openmp/venv, which sees the
# system's packages; the test dependencies come from pip when missing) and runs the C++
# backend's tests against that build. Extra arguments go to pip (e.g. --no-build-isolation
# offline, with scikit-build-core and pybind11 installed).
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/no-openmp
python3 -m venv --system-site-packages "$out/venv"
py="$out/venv/bin/python"
"$py" -m pip install --quiet -C cmake.define.FASTMLP_OPENMP=OFF -C build-dir="$out/cmake" \
  "$@" ".[test]"
# the tests must import this build, not another installed one
"$py" - <<'PY'
import fastmlp, fastmlp._cpp as cpp
assert not cpp.openmp(), f"{cpp.__file__} was built with OpenMP"
print(f"testing {cpp.__file__}: {cpp.num_threads()} thread (built without OpenMP)")
PY
"$py" -m pytest -q tests/test_cpp_backend.py tests/test_parity.py tests/test_train_steps.py
