"""Batch norm over the rows of a batch: training forward, inference forward, backward."""
from __future__ import annotations

import numpy as np


def batch_norm_forward(be, x, gamma, beta, out, mean, invstd, running_mean, running_var,
                       momentum, eps):
    n = x.shape[0]
    np.mean(x, axis=0, out=mean)
    centered = x - mean
    var = np.mean(centered * centered, axis=0)  # biased: what normalizes the batch
    np.sqrt(var + eps, out=invstd)
    np.divide(1.0, invstd, out=invstd)
    np.multiply(centered, invstd * gamma, out=out)
    out += beta
    running_mean *= 1.0 - momentum
    running_mean += momentum * mean
    running_var *= 1.0 - momentum
    running_var += (momentum * n / (n - 1)) * var  # unbiased, as torch keeps it


def batch_norm_inference(be, x, gamma, beta, running_mean, running_var, out, eps):
    scale = gamma / np.sqrt(running_var + eps)
    np.subtract(x, running_mean, out=out)
    out *= scale
    out += beta


def batch_norm_backward(be, grad, x, gamma, mean, invstd, grad_x, grad_gamma, grad_beta):
    n = x.shape[0]
    xhat = (x - mean) * invstd
    np.sum(grad, axis=0, out=grad_beta)
    np.sum(grad * xhat, axis=0, out=grad_gamma)
    # reductions first, so grad_x may overwrite grad
    xhat *= grad_gamma * (1.0 / n)
    np.subtract(grad, grad_beta * (1.0 / n), out=grad_x)
    grad_x -= xhat
    grad_x *= gamma * invstd
