"""Losses from outputs and int64 labels: softmax cross-entropy, mean squared error against
one-hot targets, sigmoid binary cross-entropy; and for regression, mean squared error
against real-valued targets. Each returns the mean loss (summed in float64) and writes its
gradient."""
from __future__ import annotations

import numpy as np

from .activations import sigmoid


def softmax_cross_entropy(be, logits, labels, grad):
    n = logits.shape[0]
    rows = np.arange(n)
    shifted = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=grad)
    sums = grad.sum(axis=1, keepdims=True)
    grad /= sums
    # loss_i = log(sum_j exp(z_ij)) - z_i,label (accumulated in float64)
    loss = np.sum(np.log(sums[:, 0], dtype=np.float64) - shifted[rows, labels]) / n
    grad[rows, labels] -= 1
    grad /= n
    return loss


def mse_loss(be, outputs, labels, grad):
    n, c = outputs.shape
    np.copyto(grad, outputs)
    grad[np.arange(n), labels] -= 1
    loss = np.sum(np.square(grad, dtype=np.float64)) / (n * c)
    grad *= 2.0 / (n * c)
    return loss


def mse_regression_loss(be, outputs, targets, grad):
    n, c = outputs.shape
    np.subtract(outputs, targets, out=grad)
    loss = np.sum(np.square(grad, dtype=np.float64)) / (n * c)
    grad *= 2.0 / (n * c)
    return loss


def sigmoid_binary_cross_entropy(be, logits, labels, grad):
    z = logits[:, 0]
    y = labels.astype(logits.dtype)
    # log(1 + exp(z)) - y z = max(z, 0) - y z + log1p(exp(-|z|)): no overflow
    loss = np.sum(np.maximum(z, 0) - y * z + np.log1p(np.exp(-np.abs(z))), dtype=np.float64)
    sigmoid(logits, grad)
    grad[:, 0] -= y
    grad *= 1.0 / z.shape[0]
    return loss / z.shape[0]
