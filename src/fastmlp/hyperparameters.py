"""The allowed range of every hyperparameter, one source for the optimizers (fastmlp.optim),
the model (dropout, batch norm) and the kernels' argument checks
(fastmlp.backends.validation), so each is rejected with the same message everywhere.

A NaN fails every check (the comparisons are written so that it does).
"""
from __future__ import annotations


def check_sgd_hyperparameters(lr, momentum, nesterov, weight_decay):
    if not lr >= 0.0:
        raise ValueError(f"lr must be >= 0, got {lr!r}")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    if nesterov and momentum == 0.0:
        raise ValueError("nesterov momentum needs a momentum > 0")
    if not weight_decay >= 0.0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")


def check_rmsprop_hyperparameters(lr, alpha, eps, momentum, weight_decay):
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
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p!r}")


def check_batch_norm_hyperparameters(momentum, eps):
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"batch norm momentum must be in [0, 1], got {momentum!r}")
    if not eps > 0.0:
        raise ValueError(f"batch norm eps must be > 0, got {eps!r}")
