"""SGD and RMSprop steps: one fused, in-place pass over parameters, gradients and state.

torch.optim rules, every operation rounded like the NumPy oracle's sequence (float32
throughout, coefficients such as 1 - alpha computed in float64 and rounded once). Each
variant (weight decay or not, momentum kind) has its own loop over chunk slices from 0:
the shape LLVM vectorizes (see adam.py). Elementwise, so results do not depend on the
thread count. (Adam and AdamW are in adam.py.)
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .denormals import flush_begin, flush_end
from .options import JIT

_CHUNK = 16384  # elements per parallel task

PLAIN, MOMENTUM, NESTEROV = range(3)


@njit(inline="always", **JIT)
def _sgd_chunk(p, g, b, n, lr, mom, wd, decay, mode):
    if decay:
        if mode == PLAIN:
            for i in range(n):
                p[i] -= lr * (g[i] + wd * p[i])
        elif mode == MOMENTUM:
            for i in range(n):
                bi = b[i] * mom + (g[i] + wd * p[i])
                b[i] = bi
                p[i] -= lr * bi
        else:
            for i in range(n):
                gi = g[i] + wd * p[i]
                bi = b[i] * mom + gi
                b[i] = bi
                p[i] -= lr * (gi + mom * bi)
    else:
        if mode == PLAIN:
            for i in range(n):
                p[i] -= lr * g[i]
        elif mode == MOMENTUM:
            for i in range(n):
                bi = b[i] * mom + g[i]
                b[i] = bi
                p[i] -= lr * bi
        else:
            for i in range(n):
                gi = g[i]
                bi = b[i] * mom + gi
                b[i] = bi
                p[i] -= lr * (gi + mom * bi)


@njit(parallel=True, **JIT)
def sgd_step(param, grad, buf, lr, momentum, nesterov, weight_decay, flush):
    """torch.optim.SGD (dampening 0) on flat arrays: g = grad + wd * param;
    buf = buf * momentum + g; param -= lr * (g + momentum * buf if nesterov else buf),
    or param -= lr * g without momentum (buf is then not touched and may be empty)."""
    lr32 = np.float32(lr)
    mom = np.float32(momentum)
    wd = np.float32(weight_decay)
    decay = weight_decay != 0.0
    mode = PLAIN if momentum == 0.0 else (NESTEROV if nesterov else MOMENTUM)
    size = param.size
    for task in prange((size + _CHUNK - 1) // _CHUNK):
        csr = flush_begin(flush)
        s = task * _CHUNK
        t = min(size, s + _CHUNK)
        b = buf[s:t] if mode != PLAIN else buf[:0]
        _sgd_chunk(param[s:t], grad[s:t], b, t - s, lr32, mom, wd, decay, mode)
        flush_end(csr)


@njit(inline="always", **JIT)
def _rms_direction(gi, a, i, alpha, c, e):
    """square_avg update at i, then gi / (sqrt(square_avg) + eps)."""
    ai = a[i] * alpha + c * (gi * gi)
    a[i] = ai
    return gi / (np.float32(math.sqrt(ai)) + e)


@njit(inline="always", **JIT)
def _rmsprop_chunk(p, g, a, b, n, lr, alpha, c, e, mom, wd, decay, momentum):
    if decay:
        if momentum:
            for i in range(n):
                bi = b[i] * mom + _rms_direction(g[i] + wd * p[i], a, i, alpha, c, e)
                b[i] = bi
                p[i] -= lr * bi
        else:
            for i in range(n):
                p[i] -= lr * _rms_direction(g[i] + wd * p[i], a, i, alpha, c, e)
    else:
        if momentum:
            for i in range(n):
                bi = b[i] * mom + _rms_direction(g[i], a, i, alpha, c, e)
                b[i] = bi
                p[i] -= lr * bi
        else:
            for i in range(n):
                p[i] -= lr * _rms_direction(g[i], a, i, alpha, c, e)


@njit(parallel=True, **JIT)
def rmsprop_step(param, grad, square_avg, buf, lr, alpha, eps, momentum, weight_decay, flush):
    """torch.optim.RMSprop (centered=False) on flat arrays: g = grad + wd * param;
    square_avg = square_avg * alpha + float32(1 - alpha) * g**2; d = g / (sqrt(square_avg)
    + eps); with momentum buf = buf * momentum + d and param -= lr * buf, else
    param -= lr * d (buf is then not touched and may be empty)."""
    lr32 = np.float32(lr)
    a32 = np.float32(alpha)
    c = np.float32(1.0 - alpha)
    e = np.float32(eps)
    mom = np.float32(momentum)
    wd = np.float32(weight_decay)
    decay = weight_decay != 0.0
    has_momentum = momentum != 0.0
    size = param.size
    for task in prange((size + _CHUNK - 1) // _CHUNK):
        csr = flush_begin(flush)
        s = task * _CHUNK
        t = min(size, s + _CHUNK)
        b = buf[s:t] if has_momentum else buf[:0]
        _rmsprop_chunk(param[s:t], grad[s:t], square_avg[s:t], b, t - s, lr32, a32, c, e,
                       mom, wd, decay, has_momentum)
        flush_end(csr)
