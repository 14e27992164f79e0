"""Optimizers: own their state arrays and update a model's flat parameters in one kernel call."""
from __future__ import annotations

import numpy as np

from .backends.validation import check_adam_hyperparameters


class Adam:
    """torch.optim.Adam: bias-corrected moments, eps outside the sqrt, L2 weight decay."""

    name = "adam"

    def __init__(self, model, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        beta1, beta2 = betas
        check_adam_hyperparameters(lr, beta1, beta2, eps, weight_decay)
        self.model = model
        self.lr, self.beta1, self.beta2 = float(lr), float(beta1), float(beta2)
        self.eps, self.weight_decay = float(eps), float(weight_decay)
        self.m = np.zeros_like(model.params)
        self.v = np.zeros_like(model.params)
        self.t = 0

    def step(self):
        self.t += 1
        self.model.backend.adam_step(self.model.params, self.model.grads, self.m, self.v,
                                     self.lr, self.beta1, self.beta2, self.eps, self.t,
                                     self.weight_decay)


OPTIMIZERS = {"adam": Adam}


def make_optimizer(name, model, **kwargs):
    try:
        cls = OPTIMIZERS[name]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}") from None
    return cls(model, **kwargs)
