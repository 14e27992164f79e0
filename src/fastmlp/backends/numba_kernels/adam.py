"""Adam: one fused, in-place pass over parameters, gradients and both moments."""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .denormals import flush_begin, flush_end
from .options import JIT

_CHUNK = 16384  # elements per parallel task


@njit(parallel=True, **JIT)
def adam_step(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay, flush):
    """torch.optim.Adam on flat float32 arrays, every operation rounded like the NumPy
    oracle's sequence (float32 throughout, coefficients rounded from float64)."""
    b1 = np.float32(beta1)
    b2 = np.float32(beta2)
    c1 = np.float32(1.0 - beta1)
    c2 = np.float32(1.0 - beta2)
    wd = np.float32(weight_decay)
    inv_sqrt_bias2 = np.float32(1.0 / math.sqrt(1.0 - beta2 ** step))
    step_size = np.float32(lr / (1.0 - beta1 ** step))
    e = np.float32(eps)
    decay = weight_decay != 0.0
    size = param.size
    for task in prange((size + _CHUNK - 1) // _CHUNK):
        csr = flush_begin(flush)
        for i in range(task * _CHUNK, min(size, (task + 1) * _CHUNK)):
            g = grad[i] + wd * param[i] if decay else grad[i]
            mi = b1 * m[i] + c1 * g
            vi = b2 * v[i] + c2 * (g * g)
            m[i] = mi
            v[i] = vi
            param[i] -= (mi / (np.float32(math.sqrt(vi)) * inv_sqrt_bias2 + e)) * step_size
        flush_end(csr)
