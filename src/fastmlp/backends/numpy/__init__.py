"""The NumPy kernels: the correctness oracle, and the fallback of every other backend.

One module per kernel family, the same names in every backend's folder:

gemm         gemm, dense_forward, bias_grad (bfloat16 matmuls emulated exactly)
activations  activation_forward, activation_backward
losses       softmax cross-entropy, mean squared error, sigmoid binary cross-entropy,
             mean squared error against real-valued targets (regression)
dropout      inverted dropout from caller-drawn noise
batch_norm   batch norm: training forward, inference forward, backward
optimizers   SGD, RMSprop, Adam, AdamW steps
step         forward_backward and adam_train_steps, composed from the public kernels
backend      NumpyBackend, the backend the registry loads as "numpy"

Each kernel is a function of the backend object it runs for (`be`) and the kernel's
arguments; NumpyKernels gathers them as the private `_<kernel>` methods that
:class:`fastmlp.backends.base.Backend` dispatches to. The composed kernels call `be`'s
public kernels, so a compiled backend falling back to them still runs its native ones.
"""
from __future__ import annotations

from . import activations, batch_norm, dropout, gemm, losses, optimizers, step


class NumpyKernels:
    """Every kernel of the interface, as NumPy code (each takes the backend as self)."""

    _gemm = gemm.gemm
    _dense_forward = gemm.dense_forward
    _bias_grad = gemm.bias_grad
    _activation_forward = activations.activation_forward
    _activation_backward = activations.activation_backward
    _softmax_cross_entropy = losses.softmax_cross_entropy
    _mse_loss = losses.mse_loss
    _mse_regression_loss = losses.mse_regression_loss
    _sigmoid_binary_cross_entropy = losses.sigmoid_binary_cross_entropy
    _dropout = dropout.dropout
    _batch_norm_forward = batch_norm.batch_norm_forward
    _batch_norm_inference = batch_norm.batch_norm_inference
    _batch_norm_backward = batch_norm.batch_norm_backward
    _sgd_step = optimizers.sgd_step
    _rmsprop_step = optimizers.rmsprop_step
    _adam_step = optimizers.adam_step
    _adamw_step = optimizers.adamw_step
    _forward_backward = step.forward_backward
    _adam_train_steps = step.adam_train_steps
