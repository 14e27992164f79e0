"""The training step of a plain MLP, composed from the backend's public kernels:
forward_backward, and adam_train_steps (gather, forward_backward, adam_step per step).

Composed from the public kernels (as the training loop calls them step by step), so a
backend without a fused step of its own still runs its own native kernels here.
"""
from __future__ import annotations

import numpy as np

from ..validation import indices_changed


def forward_backward(be, x, labels, state):
    n = x.shape[0]
    weights, acts, grads, activation = state.weights, *state.rows(n), state.activation
    last = len(weights) - 1
    inp = x
    for i in range(last + 1):
        be.dense_forward(inp, weights[i], state.biases[i], acts[i],
                         "identity" if i == last else activation)
        inp = acts[i]
    loss = be.softmax_cross_entropy(acts[last], labels, grads[last])
    for i in range(last, -1, -1):
        inp = x if i == 0 else acts[i - 1]
        be.gemm(grads[i], inp, state.weight_grads[i], trans_a=True)
        be.bias_grad(grads[i], state.bias_grads[i])
        if i > 0:
            be.gemm(grads[i], weights[i], grads[i - 1])
            be.activation_backward(activation, grads[i - 1], acts[i - 1], None, grads[i - 1])
    return loss


def count_correct(logits, labels):
    """Rows whose logits' argmax (np.argmax: the first maximum, or the first NaN) is their label."""
    return int(np.count_nonzero(np.argmax(logits, axis=1) == labels))


def adam_train_steps(be, x, labels, order, start, steps, state, lr, beta1, beta2, eps, t0,
                     weight_decay, losses, correct=None):
    batch_size, xb, yb = state.batch_size, state.xb, state.yb
    for s in range(steps):
        idx = order[start + s * batch_size:start + (s + 1) * batch_size]
        k = idx.shape[0]
        try:
            np.take(x, idx, axis=0, out=xb[:k])
            np.take(labels, idx, out=yb[:k])
        except IndexError:  # checked before the call: rewritten since by another thread
            raise indices_changed("order") from None
        losses[s] = be.forward_backward(xb[:k], yb[:k], state)
        if correct is not None:  # before the update: the logits the step's loss came from
            correct[s] = count_correct(state.acts[-1][:k], yb[:k])
        be.adam_step(state.params, state.param_grads, state.m, state.v, lr, beta1, beta2, eps,
                     t0 + s + 1, weight_decay)
