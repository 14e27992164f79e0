"""Optimizers: each owns its state arrays and updates a model's flat parameters with ONE
fused backend kernel call per step, following the update rules of torch.optim.

`lr` is a plain attribute, so learning-rate schedules change it between steps.
"""
from __future__ import annotations

import inspect

import numpy as np

from .hyperparameters import (
    check_adam_hyperparameters,
    check_rmsprop_hyperparameters,
    check_sgd_hyperparameters,
)


class Optimizer:
    """Base class: `model.params` is updated in place from `model.grads` by step()."""

    name = ""
    default_lr = 1e-3

    def __init__(self, model, lr):
        self.model = model
        self.lr = float(lr)

    def _state(self):
        return np.zeros_like(self.model.params)

    def step(self):
        raise NotImplementedError

    def train_steps(self, x, y, order, start, steps, batch_size, xb, yb, losses, rng=None,
                    correct=None):
        """`steps` whole training steps; step s trains on rows
        order[start + s*batch_size:][:batch_size] of (x, y), gathered into xb / yb, and
        stores its loss in losses[s] and, with `correct` (int64), how many of its rows the
        step's forward pass classified right in correct[s]. This default runs
        model.loss_and_grad + step() per batch (dropout masks from `rng`); a batch too
        small to train on
        (model.min_train_batch) is skipped and its loss left as it was. The last trained
        step's gradients stay in model.grads. x, y and order as the training loop prepares
        them (contiguous; x in the model dtype, y int64 labels or, for regression, targets
        of shape (N, outputs) in the model dtype; order int64).
        """
        model = self.model
        for s in range(steps):
            first = start + s * batch_size
            idx = order[first:first + batch_size]
            k = idx.shape[0]
            if k < model.min_train_batch:
                continue
            np.take(x, idx, axis=0, out=xb[:k])
            np.take(y, idx, axis=0, out=yb[:k])
            losses[s] = model.loss_and_grad(xb[:k], yb[:k], rng=rng)
            if correct is not None:  # the training forward pass's outputs, before the update
                correct[s] = model.training_correct(yb[:k])
            self.step()
        return losses

    def __setstate__(self, state):
        # state arrays may come back read-only (a joblib memory map): steps write to them
        self.__dict__.update({k: np.array(v) if isinstance(v, np.ndarray) else v
                              for k, v in state.items()})

    def __repr__(self):
        fields = ", ".join(f"{k}={v}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({fields})"

    def hyperparameters(self):
        return {"lr": self.lr}


class SGD(Optimizer):
    """torch.optim.SGD (dampening 0): optional momentum, Nesterov momentum, L2 weight decay."""

    name = "sgd"
    default_lr = 0.01

    def __init__(self, model, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        check_sgd_hyperparameters(lr, momentum, nesterov, weight_decay)
        super().__init__(model, lr)
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.weight_decay = float(weight_decay)
        self.buf = self._state() if self.momentum else None

    def step(self):
        self.model.backend.sgd_step(self.model.params, self.model.grads, self.buf, self.lr,
                                    self.momentum, self.nesterov, self.weight_decay)

    def hyperparameters(self):
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay}


class RMSprop(Optimizer):
    """torch.optim.RMSprop with centered=False: optional momentum, L2 weight decay."""

    name = "rmsprop"
    default_lr = 0.01

    def __init__(self, model, lr=0.01, alpha=0.99, eps=1e-8, momentum=0.0, weight_decay=0.0):
        check_rmsprop_hyperparameters(lr, alpha, eps, momentum, weight_decay)
        super().__init__(model, lr)
        self.alpha, self.eps = float(alpha), float(eps)
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)
        self.square_avg = self._state()
        self.buf = self._state() if self.momentum else None

    def step(self):
        self.model.backend.rmsprop_step(self.model.params, self.model.grads, self.square_avg,
                                        self.buf, self.lr, self.alpha, self.eps, self.momentum,
                                        self.weight_decay)

    def hyperparameters(self):
        return {"lr": self.lr, "alpha": self.alpha, "eps": self.eps, "momentum": self.momentum,
                "weight_decay": self.weight_decay}


class Adam(Optimizer):
    """torch.optim.Adam: bias-corrected moments, eps outside the sqrt, L2 weight decay."""

    name = "adam"
    default_lr = 1e-3
    _kernel = "adam_step"

    def __init__(self, model, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        beta1, beta2 = betas
        check_adam_hyperparameters(lr, beta1, beta2, eps, weight_decay)
        super().__init__(model, lr)
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.eps, self.weight_decay = float(eps), float(weight_decay)
        self.m = self._state()
        self.v = self._state()
        self.t = 0
        self._network = None  # the NetworkState of train_steps, built on first use

    def step(self):
        self.t += 1
        getattr(self.model.backend, self._kernel)(
            self.model.params, self.model.grads, self.m, self.v, self.lr, self.beta1,
            self.beta2, self.eps, self.t, self.weight_decay)

    def can_train_steps(self):
        """Whether train_steps can run this optimizer's steps as one fused kernel: plain
        Adam (not a subclass with another rule) on a model whose steps are one fused
        forward_backward."""
        return (self._kernel == "adam_step" and type(self).step is Adam.step
                and self.model.uses_fused_step)

    def train_steps(self, x, y, order, start, steps, batch_size, xb, yb, losses, rng=None,
                    correct=None):
        """Optimizer.train_steps in one backend.adam_train_steps call where it can
        (can_train_steps), with the same results as the per-step path; the step counter
        advances by `steps`."""
        if not self.can_train_steps():
            return super().train_steps(x, y, order, start, steps, batch_size, xb, yb, losses,
                                       rng, correct)
        state = self._network
        if state is None or state.xb is not xb or state.yb is not yb:  # a new training run
            state = self._network = self.model.network_state(batch_size, m=self.m, v=self.v,
                                                             xb=xb, yb=yb)
        self.model.backend.adam_train_steps(x, y, order, start, steps, state, self.lr,
                                            self.beta1, self.beta2, self.eps, self.t,
                                            self.weight_decay, losses, correct)
        self.t += steps
        return losses

    def __getstate__(self):
        # the NetworkState views the model's workspace (not pickled): rebuilt on first use
        return {**self.__dict__, "_network": None}

    def hyperparameters(self):
        return {"lr": self.lr, "betas": (self.beta1, self.beta2), "eps": self.eps,
                "weight_decay": self.weight_decay}


class AdamW(Adam):
    """torch.optim.AdamW: Adam with decoupled weight decay (param *= 1 - lr * wd first)."""

    name = "adamw"
    _kernel = "adamw_step"

    def __init__(self, model, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(model, lr, betas, eps, weight_decay)


OPTIMIZERS = {cls.name: cls for cls in (SGD, RMSprop, Adam, AdamW)}


def make_optimizer(name, model, **kwargs):
    """The optimizer called `name` for model; None-valued options take their defaults."""
    try:
        cls = OPTIMIZERS[name]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}") from None
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    accepted = [p for p in inspect.signature(cls).parameters if p != "model"]
    unknown = [k for k in kwargs if k not in accepted]
    if unknown:
        raise ValueError(f"optimizer {name!r} has no option {', '.join(unknown)}; "
                         f"its options: {', '.join(accepted)}")
    return cls(model, **kwargs)
