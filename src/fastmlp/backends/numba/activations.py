"""Activation functions and their derivatives, as scalar float32 code for fused loops.

Each activation has an integer code so a compiled kernel can take it as an argument;
the formulas round exactly like the NumPy oracle (fastmlp.backends.numpy.activations).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..numpy.activations import LEAKY_RELU_SLOPE
from .denormals import flush_begin, flush_end
from .options import JIT

IDENTITY, RELU, LEAKY_RELU, SIGMOID, TANH = range(5)
CODES = {"identity": IDENTITY, "relu": RELU, "leaky_relu": LEAKY_RELU,
         "sigmoid": SIGMOID, "tanh": TANH}

# float32 constants: a Python float literal would promote the arithmetic to float64
_ZERO = np.float32(0.0)
_ONE = np.float32(1.0)
SLOPE = np.float32(LEAKY_RELU_SLOPE)


@njit(inline="always", **JIT)
def activate(z, code):
    """act(z) for one float32 value."""
    if code == RELU:
        return _ZERO if z < _ZERO else z  # NaN stays NaN, like np.maximum
    if code == LEAKY_RELU:
        return z * (_ONE if z > _ZERO else SLOPE)
    if code == SIGMOID:
        e = np.float32(math.exp(-abs(z)))  # exp of a non-positive number: no overflow
        return (_ONE if z >= _ZERO else e) / (_ONE + e)
    if code == TANH:
        return np.float32(math.tanh(z))
    return z


@njit(inline="always", **JIT)
def backward(g, ref, code):
    """g * act'(.) from ref = act(pre) (or pre itself for the relu-like activations)."""
    if code == RELU:
        return g * (_ONE if ref > _ZERO else _ZERO)  # a multiply, so inf * 0 gives NaN as in NumPy
    if code == LEAKY_RELU:
        return g * (_ONE if ref > _ZERO else SLOPE)
    if code == SIGMOID:
        return g * (ref * (_ONE - ref))
    if code == TANH:
        return g * (_ONE - ref * ref)
    return g


@njit(inline="always", **JIT)
def _backward_chunk(g, ref, out, n, code):
    """One loop per activation, over slices from 0: the shape LLVM vectorizes (a code
    test inside the loop keeps it scalar, about 8x slower)."""
    if code == RELU:
        for i in range(n):
            out[i] = backward(g[i], ref[i], RELU)
    elif code == LEAKY_RELU:
        for i in range(n):
            out[i] = backward(g[i], ref[i], LEAKY_RELU)
    elif code == SIGMOID:
        for i in range(n):
            out[i] = backward(g[i], ref[i], SIGMOID)
    elif code == TANH:
        for i in range(n):
            out[i] = backward(g[i], ref[i], TANH)
    else:
        for i in range(n):
            out[i] = g[i]


_CHUNK = 32768  # elements per parallel task


@njit(parallel=True, **JIT)
def activation_backward(grad, ref, out, code, flush):
    """out = grad * act'(ref) elementwise over flat arrays; out may be grad itself."""
    n = grad.size
    for c in prange((n + _CHUNK - 1) // _CHUNK):
        csr = flush_begin(flush)
        s = c * _CHUNK
        t = min(n, s + _CHUNK)
        _backward_chunk(grad[s:t], ref[s:t], out[s:t], t - s, code)
        flush_end(csr)


@njit(inline="always", **JIT)
def _forward_chunk(x, out, n, code):
    """out = act(x) on one chunk, one loop per activation (as _backward_chunk)."""
    if code == RELU:
        for i in range(n):
            out[i] = activate(x[i], RELU)
    elif code == LEAKY_RELU:
        for i in range(n):
            out[i] = activate(x[i], LEAKY_RELU)
    elif code == SIGMOID:
        for i in range(n):
            out[i] = activate(x[i], SIGMOID)
    elif code == TANH:
        for i in range(n):
            out[i] = activate(x[i], TANH)
    else:
        for i in range(n):
            out[i] = x[i]


@njit(parallel=True, **JIT)
def activation_forward(x, out, code, flush):
    """out = act(x) elementwise over flat arrays; out may be x itself."""
    n = x.size
    for c in prange((n + _CHUNK - 1) // _CHUNK):
        csr = flush_begin(flush)
        s = c * _CHUNK
        t = min(n, s + _CHUNK)
        _forward_chunk(x[s:t], out[s:t], t - s, code)
        flush_end(csr)
