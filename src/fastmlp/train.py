"""The training loop: shuffled minibatches, one kernel-only step each, evaluation per epoch."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from .model import check_labels
from .optim import make_optimizer


@dataclass
class History:
    """What each epoch of a run measured; lists are indexed by epoch."""

    loss: list = field(default_factory=list)          # mean training loss over the epoch
    train_accuracy: list = field(default_factory=list)
    test_accuracy: list = field(default_factory=list)  # NaN when no test data was given
    test_loss: list = field(default_factory=list)
    seconds: list = field(default_factory=list)        # wall time of the epoch's steps

    def as_dict(self):
        return {k: list(v) for k, v in self.__dict__.items()}


def _check_data(model, x, y, what):
    x = model._check_input(x)
    return x, check_labels(y, x.shape[0], model.sizes[-1])


def train(model, x_train, y_train, x_test=None, y_test=None, *, epochs=5, batch_size=128,
          lr=1e-3, optimizer="adam", weight_decay=0.0, seed=0, progress=True,
          eval_train=True, log=None):
    """Trains `model` in place with minibatch `optimizer`; returns a :class:`History`.

    Each epoch visits the training set in a new order drawn from `seed` (so the same seed,
    backend and thread count give the same run) and then evaluates. `progress` shows a
    tqdm bar per epoch with the running loss; `log(epoch, history)` is called after each
    epoch (the CLI prints a line there).
    """
    if int(epochs) != epochs or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    x_train, y_train = _check_data(model, x_train, y_train, "train")
    has_test = x_test is not None and y_test is not None
    if has_test:
        x_test, y_test = _check_data(model, x_test, y_test, "test")
    opt = make_optimizer(optimizer, model, lr=lr, weight_decay=weight_decay)

    n = x_train.shape[0]
    batch_size = min(int(batch_size), max(n, 1))
    rng = np.random.default_rng(seed)
    xb = np.empty((batch_size, x_train.shape[1]), model.dtype)
    yb = np.empty(batch_size, np.int64)
    steps = -(-n // batch_size)
    history = History()

    for epoch in range(int(epochs)):
        order = rng.permutation(n)
        total = 0.0
        bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{epochs}", leave=False,
                   disable=not progress, unit="step")
        start = time.perf_counter()
        for s in range(steps):
            idx = order[s * batch_size:(s + 1) * batch_size]
            k = idx.shape[0]
            np.take(x_train, idx, axis=0, out=xb[:k])
            np.take(y_train, idx, out=yb[:k])
            loss = model.loss_and_grad(xb[:k], yb[:k])
            opt.step()
            total += loss * k
            if progress and (s % 25 == 0 or s == steps - 1):
                bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
                bar.update(s + 1 - bar.n)
        seconds = time.perf_counter() - start
        bar.close()
        history.seconds.append(seconds)
        history.loss.append(total / max(n, 1))
        history.train_accuracy.append(model.evaluate(x_train, y_train)[1] if eval_train else float("nan"))
        if has_test:
            test_loss, test_acc = model.evaluate(x_test, y_test)
        else:
            test_loss = test_acc = float("nan")
        history.test_loss.append(test_loss)
        history.test_accuracy.append(test_acc)
        if log is not None:
            log(epoch, history)
    return history
