"""Optimizer steps on flat arrays, in place, following torch.optim: SGD, RMSprop, Adam,
AdamW. Python-float coefficients keep every temporary in the parameters' dtype."""
from __future__ import annotations

import math

import numpy as np


def sgd_step(be, param, grad, buf, lr, momentum, nesterov, weight_decay):
    g = grad + weight_decay * param if weight_decay else grad
    if momentum:
        buf *= momentum
        buf += g
        g = g + momentum * buf if nesterov else buf
    param -= lr * g


def rmsprop_step(be, param, grad, square_avg, buf, lr, alpha, eps, momentum, weight_decay):
    g = grad + weight_decay * param if weight_decay else grad
    square_avg *= alpha
    square_avg += (1.0 - alpha) * (g * g)
    d = np.sqrt(square_avg, out=np.empty_like(square_avg))  # an array when 0-d
    d += eps
    np.divide(g, d, out=d)
    if momentum:
        buf *= momentum
        buf += d
        d = buf
    param -= lr * d


def adam_step(be, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay):
    g = grad + weight_decay * param if weight_decay else grad
    m *= beta1
    m += (1.0 - beta1) * g
    v *= beta2
    v += (1.0 - beta2) * (g * g)
    bias1 = 1.0 - beta1 ** step
    bias2 = 1.0 - beta2 ** step
    denom = np.sqrt(v, out=np.empty_like(v))  # an array even when v is 0-d
    denom *= 1.0 / math.sqrt(bias2)
    denom += eps
    update = np.divide(m, denom, out=denom)
    update *= lr / bias1
    param -= update


def adamw_step(be, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay):
    param *= 1.0 - lr * weight_decay
    # the Adam part runs the backend's own adam_step where it has one
    be._impl("_adam_step", param.dtype)(param, grad, m, v, lr, beta1, beta2, eps, step, 0.0)
