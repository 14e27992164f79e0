"""Batch normalization over the rows of a batch: training forward (batch statistics,
running-statistics update), inference forward (running statistics) and backward.

Column statistics are sums over rows, added in row order per feature (as NumPy's
axis-0 reductions add them), vectorized across a block of features. Parallel tasks split
the features only, in blocks of a fixed width, so every feature's sums are added in the
same order whatever the thread count: results are bitwise identical for any thread count.
A block of rows x _BLOCK features stays in L2 between a kernel's passes over it.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .denormals import flush_begin, flush_end
from .options import JIT

_BLOCK = 128  # features per parallel task (a multiple of every vector width)
_ONE = np.float32(1.0)


@njit(parallel=True, **JIT)
def batch_norm_forward(x, gamma, beta, out, mean, invstd, running_mean, running_var,
                       momentum, eps, flush):
    """Training-mode batch norm of x[N, F] (N >= 2, checked by the caller).

    Rounds like the NumPy oracle: mean = sum / N and var = sum((x - mean)**2) / N (biased)
    in float32, invstd = 1 / sqrt(var + float32(eps)), out = (x - mean) * (invstd * gamma)
    + beta; running_mean = running_mean * float32(1 - m) + float32(m) * mean and
    running_var = running_var * float32(1 - m) + float32(m * N / (N - 1)) * var. mean and
    invstd hold the running sums while they are taken (no scratch arrays); all arrays are
    distinct (checked by the caller).
    """
    n, f = x.shape
    n32 = np.float32(n)
    keep = np.float32(1.0 - momentum)
    m32 = np.float32(momentum)
    mv32 = np.float32(momentum * n / (n - 1))
    e32 = np.float32(eps)
    for blk in prange((f + _BLOCK - 1) // _BLOCK):
        csr = flush_begin(flush)
        j0 = blk * _BLOCK
        j1 = min(f, j0 + _BLOCK)
        w = j1 - j0
        mu = mean[j0:j1]
        acc = invstd[j0:j1]
        mu[:] = 0.0
        for i in range(n):
            row = x[i, j0:j1]
            for j in range(w):
                mu[j] += row[j]
        for j in range(w):
            mu[j] /= n32
        acc[:] = 0.0
        for i in range(n):
            row = x[i, j0:j1]
            for j in range(w):
                d = row[j] - mu[j]
                acc[j] += d * d
        rm = running_mean[j0:j1]
        rv = running_var[j0:j1]
        for j in range(w):
            var = acc[j] / n32
            rm[j] = rm[j] * keep + m32 * mu[j]
            rv[j] = rv[j] * keep + mv32 * var
            acc[j] = _ONE / np.float32(math.sqrt(var + e32))
        g = gamma[j0:j1]
        b = beta[j0:j1]
        for i in range(n):
            row = x[i, j0:j1]
            o = out[i, j0:j1]
            for j in range(w):
                o[j] = (row[j] - mu[j]) * (acc[j] * g[j]) + b[j]
        flush_end(csr)


@njit(parallel=True, **JIT)
def batch_norm_inference(x, gamma, beta, running_mean, running_var, out, eps, flush):
    """out = (x - running_mean) * (gamma / sqrt(running_var + float32(eps))) + beta, rounded
    like the oracle. Elementwise once the per-feature scale is known: tasks take feature
    blocks, as the training kernels do."""
    n, f = x.shape
    e32 = np.float32(eps)
    scale = np.empty(f, np.float32)
    for blk in prange((f + _BLOCK - 1) // _BLOCK):
        csr = flush_begin(flush)
        j0 = blk * _BLOCK
        j1 = min(f, j0 + _BLOCK)
        w = j1 - j0
        s = scale[j0:j1]
        g = gamma[j0:j1]
        rv = running_var[j0:j1]
        for j in range(w):
            s[j] = g[j] / np.float32(math.sqrt(rv[j] + e32))
        rm = running_mean[j0:j1]
        b = beta[j0:j1]
        for i in range(n):
            row = x[i, j0:j1]
            o = out[i, j0:j1]
            for j in range(w):
                o[j] = (row[j] - rm[j]) * s[j] + b[j]
        flush_end(csr)


@njit(parallel=True, **JIT)
def batch_norm_backward(grad, x, gamma, mean, invstd, grad_x, grad_gamma, grad_beta, flush):
    """grad_beta = sum(g), grad_gamma = sum(g * xhat) with xhat = (x - mean) * invstd, then
    grad_x = ((g - grad_beta * r) - xhat * (grad_gamma * r)) * (gamma * invstd), r =
    float32(1 / N): the oracle's rounding order. grad_x may be grad itself: a task takes
    both sums of its features before it writes any of their gradients. grad_gamma and
    grad_beta accumulate in place, so they must not alias gamma, mean or invstd.
    """
    n, f = x.shape
    r = np.float32(1.0 / n)
    for blk in prange((f + _BLOCK - 1) // _BLOCK):
        csr = flush_begin(flush)
        j0 = blk * _BLOCK
        j1 = min(f, j0 + _BLOCK)
        w = j1 - j0
        mu = mean[j0:j1]
        s = invstd[j0:j1]
        gb = grad_beta[j0:j1]
        gg = grad_gamma[j0:j1]
        gb[:] = 0.0
        gg[:] = 0.0
        for i in range(n):
            gr = grad[i, j0:j1]
            row = x[i, j0:j1]
            for j in range(w):
                gb[j] += gr[j]
                gg[j] += gr[j] * ((row[j] - mu[j]) * s[j])
        g = gamma[j0:j1]
        for i in range(n):
            gr = grad[i, j0:j1]
            row = x[i, j0:j1]
            o = grad_x[i, j0:j1]
            for j in range(w):
                xhat = (row[j] - mu[j]) * s[j]
                o[j] = ((gr[j] - gb[j] * r) - xhat * (gg[j] * r)) * (g[j] * s[j])
        flush_end(csr)
