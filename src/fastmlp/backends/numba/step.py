"""A plain MLP's training step as one compiled call: forward_backward (the forward and
backward pass) and adam_train_steps (several gathered minibatches' forward_backward and
Adam step).

The same kernel sequence as the NumPy oracle's (fastmlp.backends.numpy.step), without
a Python round trip, argument check and dispatch per kernel (about 15 kernels a step,
and the gather and the optimizer around them), so a chunk of steps gives the bits of the
per-step calls. Layers come as tuples of arrays (one compiled version per depth).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .activations import IDENTITY
from .gemm import bias_grad, gemm_epilogue
from .losses import softmax_cross_entropy
from .optimizers import adam_step
from .options import JIT


# Flags as typed values, not literals: a literal argument makes numba compile (and
# cache) one more specialization of the GEMM per distinct value, seconds each.
_NO = np.bool_(False)
_YES = np.bool_(True)

ORDER_CHANGED = -2  # adam_train_steps' fault for an order entry out of range when read


@njit(**JIT)
def forward_backward(x, labels, weights, biases, weight_grads, bias_grads, acts, grads, act,
                     row_loss, flush, threads, caches):
    """Fills weight_grads and bias_grads; returns (the mean softmax cross-entropy loss, -1),
    or (nan, row) without the backward pass when row's label was out of range when read.
    Uses the first x.shape[0] rows of the workspaces acts and grads, and of row_loss
    (float64 scratch for the per-row losses)."""
    n = x.shape[0]
    last = len(weights) - 1
    no, yes, identity = _NO, _YES, np.int64(IDENTITY)
    for i in range(last + 1):
        inp = x if i == 0 else acts[i - 1][:n]
        code = identity if i == last else act
        out = acts[i][:n]
        gemm_epilogue(inp, weights[i], no, yes, 1.0, 0.0, out, biases[i], code, out, no,
                      identity, out, flush, threads, caches)
    loss, bad_row = softmax_cross_entropy(acts[last][:n], labels, grads[last][:n], row_loss[:n],
                                          flush)
    if bad_row >= 0:
        return loss, bad_row
    no_bias = biases[0][:0]
    for i in range(last, -1, -1):
        inp = x if i == 0 else acts[i - 1][:n]
        grad = grads[i][:n]
        gemm_epilogue(grad, inp, yes, no, 1.0, 0.0, weight_grads[i], no_bias, identity,
                      weight_grads[i], no, identity, weight_grads[i], flush, threads, caches)
        bias_grad(grad, bias_grads[i], flush)
        if i > 0:  # G_{i-1} = (G_i @ W_i) * act'(acts[i-1]), the derivative fused in
            below = grads[i - 1][:n]
            gemm_epilogue(grad, weights[i], no, no, 1.0, 0.0, below, no_bias, identity, below,
                          no, act, acts[i - 1][:n], flush, threads, caches)
    return loss, bad_row


@njit(**JIT)
def _gather(x, labels, order, first, k, xb, yb):
    """Rows order[first:first + k] of x and labels into xb[:k] and yb[:k]; False when an
    order entry was out of range (each is read once and checked where it is used)."""
    rows, features = x.shape
    for i in range(k):
        src = order[first + i]
        if src < 0 or src >= rows:
            return False
        for j in range(features):
            xb[i, j] = x[src, j]
        yb[i] = labels[src]  # checked where the loss uses it
    return True


@njit(**JIT)
def _count_correct(logits, labels):
    """Rows whose logits' argmax is their label; the argmax is np.argmax's (the first
    maximal entry, or the first NaN if there is one), as every backend counts."""
    correct = 0
    for i in range(logits.shape[0]):
        row = logits[i]
        best = 0
        for j in range(row.shape[0]):
            if math.isnan(row[best]):
                break
            if math.isnan(row[j]) or row[j] > row[best]:
                best = j
        correct += best == labels[i]
    return correct


@njit(**JIT)
def adam_train_steps(x, labels, order, start, steps, xb, yb, weights, biases, weight_grads,
                     bias_grads, acts, grads, act, params, param_grads, m, v, lr, beta1, beta2,
                     eps, t0, weight_decay, losses, correct, flush, threads, caches):
    """Backend.adam_train_steps: step s gathers its rows of x and labels into xb and yb,
    runs forward_backward on them, counts into correct[s] (when correct is not empty) the
    rows its logits classify right, then takes the Adam step t0 + s + 1 over the flat
    params. Returns -1, or at the first index met out of range (another thread rewrote it
    after the checks) the label's row or ORDER_CHANGED, and stops there."""
    batch = xb.shape[0]
    count = correct.size > 0
    row_loss = np.empty(batch, np.float64)  # one scratch for every step of the chunk
    for s in range(steps):
        first = start + s * batch
        k = min(batch, order.shape[0] - first)
        if not _gather(x, labels, order, first, k, xb, yb):
            return ORDER_CHANGED
        loss, bad_row = forward_backward(xb[:k], yb[:k], weights, biases, weight_grads,
                                         bias_grads, acts, grads, act, row_loss, flush, threads,
                                         caches)
        if bad_row >= 0:
            return bad_row
        losses[s] = loss
        if count:  # before the update: the logits the step's loss came from
            correct[s] = _count_correct(acts[len(acts) - 1][:k], yb[:k])
        adam_step(params, param_grads, m, v, lr, beta1, beta2, eps, t0 + s + 1, weight_decay,
                  flush, threads)
    return -1
