"""Loss kernels: the mean loss and its gradient, one serial pass over the batch.

softmax cross-entropy (w.r.t. the logits), mean squared error against one-hot targets
(w.r.t. the outputs), sigmoid binary cross-entropy (w.r.t. the logits) and, for regression,
mean squared error against real-valued targets (w.r.t. the outputs). Serial: a
batch of outputs is a few microseconds of work, less than a parallel region costs.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .denormals import flush_begin, flush_end
from .options import JIT


@njit(**JIT)
def softmax_cross_entropy(logits, labels, grad, row_loss, flush):
    """Returns (mean loss, -1); grad = (softmax(logits) - onehot(labels)) / N.

    One pass per row, max-subtracted like the NumPy oracle. Row losses go to row_loss
    (float64, length N) and are added in row order. labels are in [0, classes)
    (checked by the caller), but another thread may rewrite them while this runs
    without the GIL: a label is checked where it is used, and the first row whose label
    is out of range ends the call, returned in place of -1 (see validation.indices_changed).
    Serial: a batch of logits is a few microseconds of work, less than a parallel region
    costs.
    """
    csr = flush_begin(flush)
    n, classes = logits.shape
    inv_n = np.float32(n)  # the oracle divides by n in float32
    for i in range(n):
        label = labels[i]
        if label < 0 or label >= classes:
            flush_end(csr)
            return np.nan, i
        z = logits[i]
        g = grad[i]
        top = z[0]
        for j in range(1, classes):
            if z[j] > top:
                top = z[j]
        total = np.float32(0.0)
        for j in range(classes):
            e = np.float32(math.exp(z[j] - top))
            g[j] = e
            total += e
        for j in range(classes):
            g[j] /= total
        row_loss[i] = math.log(np.float64(total)) - np.float64(z[label] - top)
        g[label] -= np.float32(1.0)
        for j in range(classes):
            g[j] /= inv_n
    flush_end(csr)
    loss = 0.0
    for i in range(n):
        loss += row_loss[i]
    return loss / n, -1


_ZERO = np.float32(0.0)
_ONE = np.float32(1.0)


@njit(**JIT)
def mse_loss(outputs, labels, grad, flush):
    """Returns sum((outputs - onehot)**2) / (N*C); grad = 2 * (outputs - onehot) / (N*C).

    Rounds like the NumPy oracle: the difference in float32, its square and the sum in
    float64, the gradient scaled by float32(2 / (N*C)). labels are in [0, C) (checked).
    """
    csr = flush_begin(flush)
    n, c = outputs.shape
    scale = np.float32(2.0 / (n * c))
    loss = 0.0
    for i in range(n):
        o = outputs[i]
        g = grad[i]
        label = labels[i]
        for j in range(c):
            d = o[j] - (_ONE if j == label else _ZERO)
            loss += np.float64(d) * np.float64(d)
            g[j] = d * scale
    flush_end(csr)
    return loss / (n * c)


@njit(**JIT)
def mse_regression_loss(outputs, targets, grad, flush):
    """Returns sum((outputs - targets)**2) / (N*C); grad = 2 * (outputs - targets) / (N*C).

    Rounds like the NumPy oracle: the difference in float32, its square and the sum in
    float64, the gradient scaled by float32(2 / (N*C)).
    """
    csr = flush_begin(flush)
    n, c = outputs.shape
    scale = np.float32(2.0 / (n * c))
    loss = 0.0
    for i in range(n):
        o = outputs[i]
        t = targets[i]
        g = grad[i]
        for j in range(c):
            d = o[j] - t[j]
            loss += np.float64(d) * np.float64(d)
            g[j] = d * scale
    flush_end(csr)
    return loss / (n * c)


@njit(**JIT)
def sigmoid_binary_cross_entropy(logits, labels, grad, flush):
    """Returns mean(max(z, 0) - y z + log1p(exp(-|z|))) over logits z of shape (N, 1),
    each term in float32 and summed in float64 like the oracle; grad = (sigmoid(z) - y) / N
    with sigmoid as activations.activate rounds it. labels are 0 or 1 (checked)."""
    csr = flush_begin(flush)
    n = logits.shape[0]
    inv_n = np.float32(1.0 / n)
    loss = 0.0
    for i in range(n):
        z = logits[i, 0]
        y = np.float32(labels[i])
        e = np.float32(math.exp(-abs(z)))  # exp of a non-positive number: no overflow
        term = ((_ZERO if z < _ZERO else z) - y * z) + np.float32(math.log1p(e))
        loss += np.float64(term)
        grad[i, 0] = (((_ONE if z >= _ZERO else e) / (_ONE + e)) - y) * inv_n
    flush_end(csr)
    return loss / n
