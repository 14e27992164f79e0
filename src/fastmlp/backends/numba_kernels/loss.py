"""Softmax cross-entropy: mean loss and its gradient with respect to the logits."""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .denormals import flush_begin, flush_end
from .options import JIT


@njit(**JIT)
def softmax_cross_entropy(logits, labels, grad, row_loss, flush):
    """Returns the mean loss; grad = (softmax(logits) - onehot(labels)) / N.

    One pass per row, max-subtracted like the NumPy oracle. Row losses go to row_loss
    (float64, length N) and are added in row order. labels are in [0, classes)
    (checked by the caller). Serial: a batch of logits is a few microseconds of work,
    less than a parallel region costs.
    """
    csr = flush_begin(flush)
    n, classes = logits.shape
    inv_n = np.float32(n)  # the oracle divides by n in float32
    for i in range(n):
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
        label = labels[i]
        row_loss[i] = math.log(np.float64(total)) - np.float64(z[label] - top)
        g[label] -= np.float32(1.0)
        for j in range(classes):
            g[j] /= inv_n
    flush_end(csr)
    loss = 0.0
    for i in range(n):
        loss += row_loss[i]
    return loss / n
