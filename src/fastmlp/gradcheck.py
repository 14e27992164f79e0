"""Gradient checking: backprop's gradients against central finite differences, in float64.

The network's loss is evaluated at params +- h for every parameter; the relative error
||analytic - numeric|| / (||analytic|| + ||numeric||) of each parameter array is then
about h^2 (truncation) + eps/h (rounding), ~1e-10 for h = 1e-6 in float64. Anything
above ~1e-6 means a wrong backward pass. Dropout is off (its masks change between
evaluations); batch norm runs in training mode, as in a training step.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import MLP

DEFAULT_SIZES = (5, 7, 6, 3)
TOLERANCE = 1e-6


@dataclass
class ParameterCheck:
    name: str
    shape: tuple
    analytic_norm: float
    max_abs_error: float
    rel_error: float


@dataclass
class GradientCheckReport:
    model: MLP
    checks: list
    batch_size: int
    h: float
    tolerance: float

    @property
    def max_rel_error(self):
        return max(c.rel_error for c in self.checks)

    @property
    def passed(self):
        return self.max_rel_error < self.tolerance

    def format(self):
        be = self.model.backend
        fallback = "" if np.dtype(np.float64) in be.native_dtypes else \
            " (float64: its NumPy fallback kernels)"
        lines = [f"gradient check of {self.model}",
                 f"float64, batch {self.batch_size}, central differences with h={self.h:g}, "
                 f"backend {be.name}{fallback}",
                 f"{'parameter':<10}{'shape':>12}{'|analytic|':>13}{'max abs err':>13}"
                 f"{'rel error':>11}"]
        for c in self.checks:
            flag = "ok" if c.rel_error < self.tolerance else "FAIL"
            lines.append(f"{c.name:<10}{str(c.shape):>12}{c.analytic_norm:>13.4e}"
                         f"{c.max_abs_error:>13.3e}{c.rel_error:>11.2e}  {flag}")
        verdict = "PASS" if self.passed else "FAIL"
        lines.append(f"{verdict}: largest relative error {self.max_rel_error:.2e} "
                     f"(tolerance {self.tolerance:g})")
        return "\n".join(lines)


def _float64_copy(model, backend):
    """The same network in float64, dropout off, same parameters and statistics."""
    config = {**model.config(), "dropout": 0.0}
    copy = MLP(seed=0, dtype=np.float64, backend=backend or model.backend, **config)
    copy.set_state({k: v.astype(np.float64) for k, v in model.get_state().items()})
    return copy


def gradient_check(sizes=DEFAULT_SIZES, activation="tanh", loss="cross_entropy",
                   batch_norm=False, init="xavier", batch_size=8, seed=0, h=1e-6, backend=None,
                   tolerance=TOLERANCE, model=None):
    """Checks the gradient of the loss w.r.t. every parameter array; returns a report.

    Builds MLP(sizes, activation, loss=loss, batch_norm=batch_norm) in float64 (or checks a
    float64 copy of `model`, dropout off) on a seeded random batch of `batch_size` rows.
    Biases are drawn at random too, so that their gradients are exercised.
    """
    if not h > 0:
        raise ValueError(f"h must be > 0, got {h!r}")
    if int(batch_size) != batch_size or batch_size < 2:
        raise ValueError(f"batch_size must be an integer >= 2, got {batch_size!r}")
    rng = np.random.default_rng(seed)
    if model is None:
        net = MLP(sizes, activation=activation, init=init, seed=seed, dtype=np.float64,
                  backend=backend, loss=loss, batch_norm=batch_norm)
        for b in net.biases:
            b[...] = rng.standard_normal(b.shape) * 0.1
        for g in net.gammas:
            if g is not None:
                g[...] = 1 + rng.standard_normal(g.shape) * 0.1
    else:
        net = _float64_copy(model, backend)
    x = rng.standard_normal((int(batch_size), net.sizes[0]))
    if net.loss.regression:
        y = rng.standard_normal((int(batch_size), net.sizes[-1]))
    else:
        y = rng.integers(0, net.n_classes, int(batch_size)).astype(np.int64)

    net.loss_and_grad(x, y)
    analytic = [(name, param, grad.copy()) for name, param, grad in net.named_parameters()]
    checks = []
    for name, param, a in analytic:
        entries = param.reshape(-1)  # a view: each parameter array is contiguous
        numeric = np.empty(entries.size)
        for i in range(entries.size):
            keep = entries[i]
            entries[i] = keep + h
            up = net.loss_and_grad(x, y)
            entries[i] = keep - h
            down = net.loss_and_grad(x, y)
            entries[i] = keep
            numeric[i] = (up - down) / (2 * h)
        a = a.reshape(-1)
        denom = np.linalg.norm(a) + np.linalg.norm(numeric)
        rel = float(np.linalg.norm(a - numeric) / denom) if denom > 0 else 0.0
        checks.append(ParameterCheck(name, tuple(param.shape), float(np.linalg.norm(a)),
                                     float(np.max(np.abs(a - numeric))), rel))
    return GradientCheckReport(net, checks, int(batch_size), float(h), float(tolerance))
