#!/usr/bin/env bash
# The C++ extension built with AddressSanitizer + UndefinedBehaviorSanitizer, and the tests
# that reach it run under it. Fails on any ASan or UBSan report (UBSan reports are fatal:
# -fno-sanitize-recover). Usage: tools/sanitize.sh [extra pytest arguments]
# Own venv (build/sanitize-venv, system site-packages for numpy/numba/pytest) and own
# build directory (build/sanitize), so the normal build and install are untouched.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${FASTMLP_SANITIZE_VENV:-$root/build/sanitize-venv}
python3 -m venv --system-site-packages "$venv"
# shellcheck disable=SC1091
source "$venv/bin/activate"
pip install -q --no-build-isolation "$root[test]" \
  --config-settings=cmake.define.FASTMLP_SANITIZE=ON \
  --config-settings=build-dir="$root/build/sanitize"

libasan=$(g++ -print-file-name=libasan.so)
libubsan=$(g++ -print-file-name=libubsan.so)
# Python and numba allocate without freeing at exit: leaks are not what this run looks for.
# Any report ends the process with exit code 86, which fails its test.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:exitcode=86
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=86
export LD_PRELOAD="$libasan $libubsan"
cd "$root"  # tests import the installed package, not src/ (no pythonpath setting)
python -m pytest -q -p no:cacheprovider tests/test_cpp_backend.py tests/test_parity.py \
  tests/test_train_steps.py tests/test_array_boundary.py tests/test_index_races.py \
  tests/test_degenerate_shapes.py tests/test_fuzz.py "$@"
