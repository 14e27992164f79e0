"""FASTMLP_ISA, read by the C++ extension when it loads: a value it does not know fails the
import with a message naming the variable, the value and the accepted values; it never
takes the interpreter down, and the other backends still load."""
from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytest.importorskip("fastmlp._cpp")

BAD_VALUE = "AVX2"  # the names are lower case


def _run(*args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTMLP_")}
    return subprocess.run([sys.executable, *args], env={**env, "FASTMLP_ISA": BAD_VALUE},
                          capture_output=True, text=True, timeout=120)


def test_unknown_fastmlp_isa_fails_the_import_with_a_clear_message():
    code = ("try:\n    import fastmlp._cpp\nexcept ImportError as exc:\n    print(exc)\n"
            "else:\n    print('imported')\n")
    r = _run("-c", code)
    assert r.returncode == 0, r.stderr  # an abort (SIGABRT) would give -6
    message = r.stdout.strip()
    assert "FASTMLP_ISA" in message
    assert f"'{BAD_VALUE}'" in message
    arm = platform.machine() in ("aarch64", "arm64")
    assert ("neon, generic" if arm else "avx512, avx2, generic") in message


def test_backends_command_lists_the_others_and_why_cpp_does_not_load():
    r = _run("-m", "fastmlp", "backends")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    cpp = [line for line in lines if line.startswith("cpp:")]
    assert cpp and "does not load" in cpp[0] and "FASTMLP_ISA" in cpp[0], r.stdout
    assert any(line.startswith("numpy:") and "loads" in line for line in lines), r.stdout
