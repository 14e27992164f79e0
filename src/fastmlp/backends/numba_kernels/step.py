"""A whole training step's forward and backward pass of a plain MLP, as one compiled call.

The same kernel sequence as Backend._forward_backward (fastmlp.backends.base), without
a Python round trip, argument check and dispatch per kernel (about 15 kernels a step).
Layers come as tuples of arrays (one compiled version per depth).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .activations import IDENTITY, activation_backward
from .bias_grad import bias_grad
from .gemm import gemm_epilogue
from .loss import softmax_cross_entropy
from .options import JIT


@njit(**JIT)
def forward_backward(x, labels, weights, biases, weight_grads, bias_grads, acts, grads, act,
                     flush, threads):
    """Fills weight_grads and bias_grads; returns the mean softmax cross-entropy loss."""
    last = len(weights) - 1
    for i in range(last + 1):
        inp = x if i == 0 else acts[i - 1]
        code = IDENTITY if i == last else act
        gemm_epilogue(inp, weights[i], False, True, 1.0, 0.0, acts[i], biases[i], code,
                      acts[i], False, flush, threads)
    row_loss = np.empty(x.shape[0], np.float64)
    loss = softmax_cross_entropy(acts[last], labels, grads[last], row_loss, flush)
    no_bias = biases[0][:0]
    for i in range(last, -1, -1):
        inp = x if i == 0 else acts[i - 1]
        gemm_epilogue(grads[i], inp, True, False, 1.0, 0.0, weight_grads[i], no_bias,
                      IDENTITY, weight_grads[i], False, flush, threads)
        bias_grad(grads[i], bias_grads[i], flush)
        if i > 0:
            gemm_epilogue(grads[i], weights[i], False, False, 1.0, 0.0, grads[i - 1], no_bias,
                          IDENTITY, grads[i - 1], False, flush, threads)
            g = grads[i - 1].reshape(-1)
            activation_backward(g, acts[i - 1].reshape(-1), g, act, flush)
    return loss
