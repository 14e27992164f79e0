"""Adam and AdamW: one fused, in-place pass over parameters, gradients and both moments."""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .denormals import flush_begin, flush_end
from .options import JIT

_CHUNK = 16384  # elements per parallel task


@njit(inline="always", **JIT)
def _update(p, g, m, v, n, b1, b2, c1, c2, wd, decay, inv_sqrt_bias2, step_size, e):
    """The update on one chunk. The loops run over slices from 0 with the decay test
    hoisted out of them: that is the shape LLVM vectorizes (about 4x faster than
    indexing the whole arrays from a task offset with a branch inside)."""
    if decay:
        for i in range(n):
            gi = g[i] + wd * p[i]
            mi = b1 * m[i] + c1 * gi
            vi = b2 * v[i] + c2 * (gi * gi)
            m[i] = mi
            v[i] = vi
            p[i] -= (mi / (np.float32(math.sqrt(vi)) * inv_sqrt_bias2 + e)) * step_size
    else:
        for i in range(n):
            gi = g[i]
            mi = b1 * m[i] + c1 * gi
            vi = b2 * v[i] + c2 * (gi * gi)
            m[i] = mi
            v[i] = vi
            p[i] -= (mi / (np.float32(math.sqrt(vi)) * inv_sqrt_bias2 + e)) * step_size


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
        s = task * _CHUNK
        t = min(size, s + _CHUNK)
        _update(param[s:t], grad[s:t], m[s:t], v[s:t], t - s, b1, b2, c1, c2, wd, decay,
                inv_sqrt_bias2, step_size, e)
        flush_end(csr)


@njit(inline="always", **JIT)
def _update_decoupled(p, g, m, v, n, b1, b2, c1, c2, keep, inv_sqrt_bias2, step_size, e):
    """AdamW on one chunk: param * keep (decoupled decay), then _update without L2 term."""
    for i in range(n):
        gi = g[i]
        mi = b1 * m[i] + c1 * gi
        vi = b2 * v[i] + c2 * (gi * gi)
        m[i] = mi
        v[i] = vi
        p[i] = p[i] * keep - (mi / (np.float32(math.sqrt(vi)) * inv_sqrt_bias2 + e)) * step_size


@njit(parallel=True, **JIT)
def adamw_step(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay, flush):
    """torch.optim.AdamW on flat float32 arrays: param *= float32(1 - lr * weight_decay),
    then adam_step's update with no L2 term, rounded like the oracle's two passes."""
    b1 = np.float32(beta1)
    b2 = np.float32(beta2)
    c1 = np.float32(1.0 - beta1)
    c2 = np.float32(1.0 - beta2)
    keep = np.float32(1.0 - lr * weight_decay)
    inv_sqrt_bias2 = np.float32(1.0 / math.sqrt(1.0 - beta2 ** step))
    step_size = np.float32(lr / (1.0 - beta1 ** step))
    e = np.float32(eps)
    size = param.size
    for task in prange((size + _CHUNK - 1) // _CHUNK):
        csr = flush_begin(flush)
        s = task * _CHUNK
        t = min(size, s + _CHUNK)
        _update_decoupled(param[s:t], grad[s:t], m[s:t], v[s:t], t - s, b1, b2, c1, c2, keep,
                          inv_sqrt_bias2, step_size, e)
        flush_end(csr)
