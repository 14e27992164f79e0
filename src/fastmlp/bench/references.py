"""What fastmlp's kernels are compared with: NumPy's own matmul and PyTorch on the CPU.

Each reference runs a GEMM case's product on the case's own arrays (no copies: torch
tensors share the NumPy buffers), so it computes exactly what the backends compute.
"""
from __future__ import annotations

import numpy as np

NUMPY_MATMUL = "NumPy matmul"
PYTORCH = "PyTorch"


def numpy_matmul(case):
    a, b, out, trans_a, trans_b = case.gemm
    opa, opb = (a.T if trans_a else a), (b.T if trans_b else b)
    return lambda: np.matmul(opa, opb, out=out)


def torch_matmul(case, torch):
    a, b, out, trans_a, trans_b = case.gemm
    ta, tb, tout = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(out)
    opa, opb = (ta.T if trans_a else ta), (tb.T if trans_b else tb)
    return lambda: torch.mm(opa, opb, out=tout)


def gemm_references(case, torch=None):
    """(name, callable) for each reference that can run `case` (GEMM cases only)."""
    if case.gemm is None:
        return []
    refs = [(NUMPY_MATMUL, numpy_matmul(case))]
    if torch is not None:
        refs.append((PYTORCH, torch_matmul(case, torch)))
    return refs
