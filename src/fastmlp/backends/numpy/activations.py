"""Activation functions and their derivatives: activation_forward, activation_backward."""
from __future__ import annotations

import numpy as np

LEAKY_RELU_SLOPE = 0.01  # torch.nn.LeakyReLU's default negative slope


def sigmoid(x, out):
    # exp of a non-positive number only: no overflow for large |x|
    e = np.exp(-np.abs(x))
    np.divide(np.where(x >= 0, 1.0, e), 1.0 + e, out=out)
    return out


def apply_activation(activation, pre, out):
    """out = act(pre); out may be pre itself."""
    if activation == "relu":
        np.maximum(pre, 0, out=out)
    elif activation == "leaky_relu":
        np.multiply(pre, np.where(pre > 0, 1.0, LEAKY_RELU_SLOPE).astype(pre.dtype), out=out)
    elif activation == "sigmoid":
        sigmoid(pre, out)
    elif activation == "tanh":
        np.tanh(pre, out=out)
    elif out is not pre:
        np.copyto(out, pre)
    return out


def activation_forward(be, activation, x, out):
    apply_activation(activation, x, out)


def activation_backward(be, activation, grad, out_act, pre, out):
    ref = out_act if out_act is not None else pre
    if activation == "relu":
        np.multiply(grad, ref > 0, out=out)
    elif activation == "leaky_relu":
        np.multiply(grad, np.where(ref > 0, 1.0, LEAKY_RELU_SLOPE).astype(out.dtype), out=out)
    elif activation == "sigmoid":
        np.multiply(grad, out_act * (1 - out_act), out=out)
    elif activation == "tanh":
        np.multiply(grad, 1 - out_act * out_act, out=out)
    elif out is not grad:
        np.copyto(out, grad)
