"""bias_grad: column sums of a gradient, the bias gradient of a dense layer."""
from __future__ import annotations

from numba import njit

from .denormals import flush_begin, flush_end
from .options import JIT


@njit(**JIT)
def bias_grad(grad, out, flush):
    """out[j] = sum over i of grad[i, j], rows added in order (vectorized across columns).

    Serial: at the training shapes (batch x 1024) one thread streams the gradient in
    about as long as waking a second one takes, and a parallel region costs a time
    slice whenever the other core is busy.
    """
    csr = flush_begin(flush)
    n, f = grad.shape
    out[:] = 0.0
    for i in range(n):
        row = grad[i]
        for j in range(f):
            out[j] += row[j]
    flush_end(csr)
