"""Refusing NaN and infinity: in training data, and in the loss while training runs.

One NaN or infinite input poisons every parameter within an epoch, and a diverging run
(too large a learning rate) turns them into NaN; both would otherwise end in a model that
predicts one class "normally". Like scikit-learn's ``ensure_all_finite``, training data is
checked by default (``train(..., check_finite=False)`` opts out) and the first bad row
is named; the training loop stops at the first non-finite loss.
"""
from __future__ import annotations

import numpy as np

_ROWS_PER_SCAN = 4096  # bounds the temporary boolean array of the detailed scan


class NonFiniteError(ValueError):
    """An input array holds NaN or infinity."""


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss (or parameters): the run diverged.

    ``epoch`` and ``step`` are 1-based; ``history`` holds the epochs completed before.
    """

    def __init__(self, message, epoch, step, history=None):
        super().__init__(message)
        self.epoch, self.step, self.history = epoch, step, history


def first_non_finite_row(x):
    """Index of the first row of x (2-D, or 1-D: entries) holding NaN or inf, else None."""
    if x.dtype.kind not in "fc" or x.size == 0:
        return None
    # a finite sum proves every entry finite (NaN and inf propagate); one pass, no copy
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(x.sum()):
            return None
    rows = x.reshape(x.shape[0], -1) if x.ndim > 1 else x.reshape(-1, 1)
    for start in range(0, rows.shape[0], _ROWS_PER_SCAN):
        bad = ~np.isfinite(rows[start:start + _ROWS_PER_SCAN]).all(axis=1)
        if bad.any():
            return start + int(np.argmax(bad))
    return None  # the sum overflowed; every entry is finite


def ensure_finite(x, name):
    """Raises NonFiniteError naming `name` and its first row with NaN or infinity."""
    row = first_non_finite_row(x)
    if row is not None:
        values = np.asarray(x[row]).reshape(-1)
        bad = values[~np.isfinite(values)][0]
        raise NonFiniteError(
            f"{name} holds non-finite values: row {row} contains {bad} "
            "(pass check_finite=False to train on such data anyway)")


def diverged(what, epoch, step, steps, history):
    """The NonFiniteLossError for `what` ("the loss became nan", ...) at 0-based (epoch, step);
    history.best_epoch says whether early stopping restored earlier weights."""
    restored = ("; early stopping restored the weights of epoch "
                f"{history.best_epoch + 1}" if history.best_epoch is not None else "")
    return NonFiniteLossError(
        f"training diverged: {what} at epoch {epoch + 1}, step {step + 1} of {steps}"
        f"{restored}; lower the learning rate or check the data", epoch + 1, step + 1, history)
