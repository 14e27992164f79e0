"""bias_grad: column sums of a gradient, the bias gradient of a dense layer."""
from __future__ import annotations

from numba import njit, prange

from .denormals import flush_begin, flush_end
from .options import JIT

_COLS = 256  # columns per parallel task: a strip of out stays in registers / L1


@njit(parallel=True, **JIT)
def bias_grad(grad, out, flush):
    """out[j] = sum over i of grad[i, j], rows added in order (any thread count: same bits)."""
    n, f = grad.shape
    for task in prange((f + _COLS - 1) // _COLS):
        csr = flush_begin(flush)
        j0 = task * _COLS
        j1 = min(f, j0 + _COLS)
        acc = out[j0:j1]
        acc[:] = 0.0
        for i in range(n):
            row = grad[i, j0:j1]
            for j in range(j1 - j0):
                acc[j] += row[j]
        flush_end(csr)
