"""The allowed range of every hyperparameter, one source for the optimizers (fastmlp.optim),
the model (dropout, batch norm) and the kernels' argument checks
(fastmlp.backends.validation), so each is rejected with the same message everywhere.

A NaN fails every check (the comparisons are written so that it does); a value too large
for a float is a ValueError naming it, a value that is not a real number a TypeError.
"""
from __future__ import annotations

import numbers

import numpy as np


def real_number(value, name):
    """value as a float; a value float() cannot hold is a ValueError naming it."""
    if not isinstance(value, (numbers.Real, np.ndarray)) or isinstance(value, np.ndarray) and (
            value.ndim or value.dtype.kind not in "iufb"):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{name} is too large for a float: {value!r}") from None


def check_sgd_hyperparameters(lr, momentum, nesterov, weight_decay):
    lr, momentum, weight_decay = (real_number(v, n) for v, n in (
        (lr, "lr"), (momentum, "momentum"), (weight_decay, "weight_decay")))
    if not lr >= 0.0:
        raise ValueError(f"lr must be >= 0, got {lr!r}")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    if nesterov and momentum == 0.0:
        raise ValueError("nesterov momentum needs a momentum > 0")
    if not weight_decay >= 0.0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")


def check_rmsprop_hyperparameters(lr, alpha, eps, momentum, weight_decay):
    lr, alpha, eps, momentum, weight_decay = (real_number(v, n) for v, n in (
        (lr, "lr"), (alpha, "alpha"), (eps, "eps"), (momentum, "momentum"),
        (weight_decay, "weight_decay")))
    if not lr >= 0.0:
        raise ValueError(f"lr must be >= 0, got {lr!r}")
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"alpha must be in [0, 1), got {alpha!r}")
    if not eps > 0.0:
        raise ValueError(f"eps must be > 0, got {eps!r}")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    if not weight_decay >= 0.0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")


def check_adam_hyperparameters(lr, beta1, beta2, eps, weight_decay):
    lr, beta1, beta2, eps, weight_decay = (real_number(v, n) for v, n in (
        (lr, "lr"), (beta1, "beta1"), (beta2, "beta2"), (eps, "eps"),
        (weight_decay, "weight_decay")))
    if not lr >= 0.0:
        raise ValueError(f"lr must be >= 0, got {lr!r}")
    if not 0.0 <= beta1 < 1.0:
        raise ValueError(f"beta1 must be in [0, 1), got {beta1!r}")
    if not 0.0 <= beta2 < 1.0:
        raise ValueError(f"beta2 must be in [0, 1), got {beta2!r}")
    if not eps > 0.0:
        raise ValueError(f"eps must be > 0, got {eps!r}")
    if not weight_decay >= 0.0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")


def check_dropout_rate(p):
    p = real_number(p, "dropout probability")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p!r}")


def check_batch_norm_hyperparameters(momentum, eps):
    momentum, eps = real_number(momentum, "batch norm momentum"), real_number(eps, "batch norm eps")
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"batch norm momentum must be in [0, 1], got {momentum!r}")
    if not eps > 0.0:
        raise ValueError(f"batch norm eps must be > 0, got {eps!r}")
