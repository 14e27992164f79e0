"""A whole training step's forward and backward pass of a plain MLP, as one compiled call.

The same kernel sequence as the NumPy oracle's (fastmlp.backends.numpy.step), without
a Python round trip, argument check and dispatch per kernel (about 15 kernels a step).
Layers come as tuples of arrays (one compiled version per depth).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .activations import IDENTITY, activation_backward
from .gemm import bias_grad, gemm_epilogue
from .losses import softmax_cross_entropy
from .options import JIT


# Flags as typed values, not literals: a literal argument makes numba compile (and
# cache) one more specialization of the GEMM per distinct value, seconds each.
_NO = np.bool_(False)
_YES = np.bool_(True)


@njit(**JIT)
def forward_backward(x, labels, weights, biases, weight_grads, bias_grads, acts, grads, act,
                     flush, threads, caches):
    """Fills weight_grads and bias_grads; returns (the mean softmax cross-entropy loss, -1),
    or (nan, row) without the backward pass when row's label was out of range when read."""
    last = len(weights) - 1
    no, yes, identity = _NO, _YES, np.int64(IDENTITY)
    for i in range(last + 1):
        inp = x if i == 0 else acts[i - 1]
        code = identity if i == last else act
        gemm_epilogue(inp, weights[i], no, yes, 1.0, 0.0, acts[i], biases[i], code, acts[i],
                      no, flush, threads, caches)
    row_loss = np.empty(x.shape[0], np.float64)
    loss, bad_row = softmax_cross_entropy(acts[last], labels, grads[last], row_loss, flush)
    if bad_row >= 0:
        return loss, bad_row
    no_bias = biases[0][:0]
    for i in range(last, -1, -1):
        inp = x if i == 0 else acts[i - 1]
        gemm_epilogue(grads[i], inp, yes, no, 1.0, 0.0, weight_grads[i], no_bias, identity,
                      weight_grads[i], no, flush, threads, caches)
        bias_grad(grads[i], bias_grads[i], flush)
        if i > 0:
            gemm_epilogue(grads[i], weights[i], no, no, 1.0, 0.0, grads[i - 1], no_bias,
                          identity, grads[i - 1], no, flush, threads, caches)
            g = grads[i - 1].reshape(-1)
            activation_backward(g, acts[i - 1].reshape(-1), g, act, flush)
    return loss, bad_row
