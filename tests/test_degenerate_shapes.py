"""Zero-size arrays whose other dimension is huge: the kernels return at once (they
have nothing to write), instead of looping over ~10**11 empty panels or rows. Run in a
subprocess with a timeout, so a hang fails the test instead of stalling the suite."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from fastmlp import backends

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from fastmlp.backends import get_backend

    be = get_backend(sys.argv[1])
    huge = 10**12
    tall = np.empty((huge, 0), np.float32)        # 0 bytes
    wide = np.empty((0, huge), np.float32)
    square = np.empty((0, 0), np.float32)
    be.gemm(tall, square, np.empty((huge, 0), np.float32))
    be.gemm(square, wide, np.empty((0, huge), np.float32))
    be.gemm(wide, tall, np.empty((0, 0), np.float32))          # k huge, nothing to write
    be.gemm(tall, wide, np.empty((0, 0), np.float32), trans_a=True, trans_b=True)
    be.dense_forward(tall, square, np.empty(0, np.float32), np.empty((huge, 0), np.float32),
                     "relu")
    be.bias_grad(tall, np.empty(0, np.float32))
    be.activation_forward("tanh", tall, np.empty((huge, 0), np.float32))
    print("done")
""")


@pytest.mark.parametrize("name", ["numpy", "numba", "cpp"])
def test_empty_products_with_a_huge_dimension_return_at_once(name):
    if not backends.available_backends().get(name):
        pytest.skip(f"{name} backend not available")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, name], capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0 and proc.stdout.strip() == "done", proc.stderr[-3000:]
