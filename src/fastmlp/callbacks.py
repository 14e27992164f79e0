"""Hooks into the training loop, and early stopping built on them."""
from __future__ import annotations

import math

import numpy as np


class Callback:
    """Override any of the hooks; on_epoch_end returning True stops training."""

    def on_train_begin(self, model, history):
        pass

    def on_epoch_end(self, epoch, model, history):
        pass

    def on_train_end(self, model, history):
        pass


class FunctionCallback(Callback):
    """Wraps a plain function ``fn(epoch, history)`` (returning True stops training)."""

    def __init__(self, fn):
        self.fn = fn

    def on_epoch_end(self, epoch, model, history):
        return self.fn(epoch, history)


class EarlyStopping(Callback):
    """Stops when `monitor` has not improved for `patience` epochs; restores the best weights.

    monitor is "val_loss" (lower is better) or "val_accuracy" (higher is better); an
    improvement must beat the best value by more than min_delta. With restore_best, the
    model ends with the parameters and batch-norm statistics of its best epoch, and
    history.best_epoch records which epoch that was.
    """

    MONITORS = {"val_loss": -1.0, "val_accuracy": 1.0, "test_loss": -1.0,
                "test_accuracy": 1.0, "loss": -1.0, "train_accuracy": 1.0}

    def __init__(self, patience=3, monitor="val_loss", min_delta=0.0, restore_best=True):
        if int(patience) != patience or patience < 1:
            raise ValueError(f"early stopping patience must be a positive integer, got {patience!r}")
        if monitor not in self.MONITORS:
            raise ValueError(f"early stopping cannot monitor {monitor!r}; "
                             f"known: {', '.join(self.MONITORS)}")
        if not min_delta >= 0.0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta!r}")
        self.patience, self.monitor = int(patience), monitor
        self.min_delta, self.restore_best = float(min_delta), bool(restore_best)
        self._sign = self.MONITORS[monitor]

    def on_train_begin(self, model, history):
        self.best = -math.inf
        self.best_epoch = None
        self.wait = 0
        # one snapshot buffer, allocated once and overwritten on each improvement
        self._state = model.get_state() if self.restore_best else None

    def on_epoch_end(self, epoch, model, history):
        value = getattr(history, self.monitor)[-1]
        if math.isnan(value):
            raise ValueError(f"early stopping monitors {self.monitor}, which this run does not "
                             "measure" + (": pass val_split or validation_data"
                                          if self.monitor.startswith("val_") else ""))
        score = self._sign * value
        if score > self.best + self.min_delta:
            self.best, self.best_epoch, self.wait = score, epoch, 0
            if self._state is not None:
                np.copyto(self._state["params"], model.params)
                np.copyto(self._state["buffers"], model.buffers)
            return False
        self.wait += 1
        return self.wait >= self.patience

    def on_train_end(self, model, history):
        if self.restore_best and self.best_epoch is not None:
            model.set_state(self._state)
            history.best_epoch = self.best_epoch
