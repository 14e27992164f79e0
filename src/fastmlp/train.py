"""The training loop: shuffled minibatches, one kernel-only step each, evaluation per epoch.

Around the steps: an optional validation split, a learning-rate schedule, callbacks
(early stopping among them) and a History of losses, accuracies and per-layer norms.
"""
from __future__ import annotations

import functools
import math
import time

import numpy as np

from .callbacks import Callback, EarlyStopping, FunctionCallback
from .finite import diverged, ensure_finite, first_non_finite_row
from .history import History
from .optim import Optimizer, make_optimizer
from .progress import EpochMeter
from .schedules import LR_EVERY, is_per_step, make_schedule
from .training_guard import TrainingPosition, exclusive_training, reporting_interrupts

__all__ = ["History", "train"]

# Steps run in chunks of up to this many per optimizer.train_steps call (Adam on a plain
# network: one backend call per chunk), cut where grad norms are sampled and the progress
# bar updates; 0 or 1 runs every optimizer's per-step path (Optimizer.train_steps: one
# loss_and_grad + step() per batch). Both give the same bits.
FUSED_CHUNK_STEPS = 50
BAR_EVERY = 25  # steps between progress-bar updates


def _chunk_end(s, steps, norm_every, bar_every, lr_every=0):
    """Last step of the chunk starting at step s: where norms are sampled or the bar updates,
    or before a per-step schedule's rate changes."""
    end = min(steps - 1, s + max(FUSED_CHUNK_STEPS, 1) - 1)
    if lr_every:
        end = min(end, s + lr_every - 1 - s % lr_every)
    if norm_every:
        end = min(end, s + (-s) % norm_every)
    if bar_every:
        end = min(end, s + (-s) % bar_every)
    return end


def _check_data(model, x, y, what):
    try:
        x = model._check_input(x)
        return x, model.check_targets(y, x.shape[0])
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{what} data: {exc}") from None


def _split(x, y, val_split, seed):
    """A seeded random val_split fraction of (x, y) held out: (x, y, x_val, y_val)."""
    n_val = int(round(val_split * x.shape[0]))
    if val_split and not 1 <= n_val < x.shape[0]:
        raise ValueError(f"val_split={val_split} of {x.shape[0]} samples leaves no "
                         "validation or no training data")
    # its own stream: the split does not change the shuffling of the run's epochs
    order = np.random.default_rng([seed, 1]).permutation(x.shape[0])
    val, keep = np.sort(order[:n_val]), np.sort(order[n_val:])
    return x[keep], y[keep], x[val], y[val]


def _layer_norms(flat, slices):
    return [float(np.sqrt(np.dot(flat[s], flat[s]))) for s in slices]


def _callbacks(early_stopping, callbacks):
    result = []
    if isinstance(early_stopping, EarlyStopping):
        result.append(early_stopping)
    elif early_stopping is not None:
        result.append(EarlyStopping(patience=early_stopping))
    for cb in callbacks or ():
        if isinstance(cb, Callback):
            result.append(cb)
        elif callable(cb):
            result.append(FunctionCallback(cb))
        else:
            raise TypeError(f"callbacks must be Callback objects or functions, got {cb!r}")
    return result


def _train(model, x_train, y_train, x_test=None, y_test=None, *, epochs=5, batch_size=128,
           lr=None, optimizer="adam", weight_decay=None, seed=0, progress=True,
           eval_train=True, log=None, optimizer_options=None, val_split=0.0,
           validation_data=None, early_stopping=None, schedule=None, callbacks=(),
           norm_samples=20, check_finite=True, _where=None):
    """Trains `model` in place with minibatch `optimizer`; returns a :class:`History`.

    Each epoch visits the training set in a new order drawn from `seed` (so the same seed,
    backend and thread count give the same run; dropout masks come from the same
    generator) and then evaluates. The loss and accuracy of the training batches' forward
    passes are summed as they pass (history.loss, history.batch_accuracy); eval_train adds
    a full evaluation pass over the training set (history.train_accuracy), which costs
    about a third of an epoch. `progress` shows a tqdm bar per epoch with the running mean
    loss, batch accuracy and samples/s; `log(epoch, history)` is called after each epoch
    (the CLI prints a line there).

    optimizer: a name ("sgd", "rmsprop", "adam", "adamw"), built with `lr`, `weight_decay`
        and `optimizer_options` (e.g. {"momentum": 0.9, "nesterov": True}), where None
        means the optimizer's default; or an Optimizer object for this model.
    val_split: fraction of the training data held out (seeded) to validate on after each
        epoch; or pass validation_data=(x_val, y_val).
    early_stopping: a patience (epochs without a better validation loss) or an
        EarlyStopping object; the best epoch's weights are restored at the end.
    schedule: "step", "cosine", "onecycle" (per step, base lr = peak; see
        fastmlp.schedules) or a callable (epoch, base_lr, epochs) -> lr.
    callbacks: Callback objects or functions (epoch, history); True from one stops training.
    norm_samples: about how many steps per epoch measure per-layer gradient norms.
    With batch norm, a last batch of a single sample is skipped (batch statistics need 2).
    check_finite: refuse training, validation and test inputs holding NaN or infinity
        (NonFiniteError, a ValueError naming the array and its first bad row).

    A NaN or infinite loss (or parameters) stops the run with NonFiniteLossError naming
    the epoch and step (early stopping's best weights restored first); Ctrl-C raises
    TrainingInterrupted (a KeyboardInterrupt) naming them; a model already being trained
    in another thread raises ConcurrentTrainingError. See docs/ARCHITECTURE.md.
    """
    if int(epochs) != epochs or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not 0.0 <= val_split < 1.0:
        raise ValueError(f"val_split must be in [0, 1), got {val_split!r}")
    x_train, y_train = _check_data(model, x_train, y_train, "training")
    if validation_data is not None:
        if val_split:
            raise ValueError("pass either val_split or validation_data, not both")
        x_val, y_val = _check_data(model, *validation_data, "validation")
    elif val_split:
        x_train, y_train, x_val, y_val = _split(x_train, y_train, val_split, seed)
    else:
        x_val = y_val = None
    has_test = x_test is not None and y_test is not None
    if has_test:
        x_test, y_test = _check_data(model, x_test, y_test, "test")
    if check_finite:
        for x, name in ((x_train, "training data x"), (x_val, "validation data x"),
                        (x_test if has_test else None, "test data x")):
            if x is not None:
                ensure_finite(x, name)

    if isinstance(optimizer, Optimizer):
        if optimizer.model is not model:
            raise ValueError("the optimizer object was built for another model")
        opt = optimizer
    else:
        opt = make_optimizer(optimizer, model, lr=lr, weight_decay=weight_decay,
                             **(optimizer_options or {}))
    lr_at = make_schedule(schedule)
    base_lr = opt.lr
    hooks = _callbacks(early_stopping, callbacks)
    for hook in hooks:
        if (isinstance(hook, EarlyStopping) and hook.monitor.startswith("val_")
                and x_val is None):
            raise ValueError(f"early stopping monitors {hook.monitor}: pass val_split or "
                             "validation_data")

    n = x_train.shape[0]
    batch_size = min(int(batch_size), max(n, 1))
    rng = np.random.default_rng(seed)
    xb = np.empty((batch_size, x_train.shape[1]), model.dtype)
    yb = np.empty((batch_size, *y_train.shape[1:]), y_train.dtype)  # labels or targets
    steps = -(-n // batch_size)
    norm_every = max(1, steps // norm_samples) if norm_samples else 0
    min_batch = model.min_train_batch
    # FUSED_CHUNK_STEPS of 0 or 1: the per-step path, whatever the optimizer
    train_steps = (opt.train_steps if FUSED_CHUNK_STEPS > 1
                   else functools.partial(Optimizer.train_steps, opt))
    losses = np.empty(max(FUSED_CHUNK_STEPS, 1))
    # rows each step classified right (batch accuracy); regression has no classes
    correct = None if model.loss.regression else np.zeros(losses.shape, np.int64)
    bar_every = BAR_EVERY if progress else 0
    lr_every = LR_EVERY if is_per_step(lr_at) else 0
    history = History()
    where = _where if _where is not None else TrainingPosition()
    where.steps, where.history = steps, history
    nan = float("nan")
    for hook in hooks:
        hook.on_train_begin(model, history)

    for epoch in range(int(epochs)):
        if lr_at is not None:
            opt.lr = float(lr_at(epoch, base_lr, int(epochs)))
        order = rng.permutation(n)
        where.epoch, where.step = epoch, 0
        norm_sum, norm_count = np.zeros(model.n_layers), 0
        meter = EpochMeter(n, batch_size, min_batch, progress, f"epoch {epoch + 1}/{epochs}")
        epoch_lr = opt.lr
        s = 0
        while s < steps:
            end = _chunk_end(s, steps, norm_every, bar_every, lr_every)
            where.step = s
            if lr_every:  # the rate of this block of LR_EVERY steps
                opt.lr = float(lr_at(epoch + (s - s % lr_every) / steps, base_lr, int(epochs)))
            m = end + 1 - s
            train_steps(x_train, y_train, order, s * batch_size, m, batch_size,
                        xb, yb, losses[:m], rng=rng,
                        correct=None if correct is None else correct[:m])
            # whether step `end` trained; a non-finite loss stops the count at its step
            trained = meter.add(s, losses[:m], None if correct is None else correct[:m])
            if meter.non_finite is not None:
                j, loss_j = meter.non_finite
                meter.close()
                raise _diverged(model, hooks, history, f"the loss became {loss_j}", epoch, j,
                                steps)
            if trained and norm_every and end % norm_every == 0:  # the chunk's last gradients
                norm_sum += _layer_norms(model.grads, model.layer_slices)
                norm_count += 1
            if progress and (end % BAR_EVERY == 0 or end == steps - 1):
                meter.show(end + 1)
            s = end + 1
        seconds = meter.close()

        eval_start = time.perf_counter()
        history.seconds.append(seconds)
        history.samples_per_second.append(meter.samples_per_second)
        history.lr.append(epoch_lr)
        history.loss.append(meter.loss)
        history.batch_accuracy.append(meter.accuracy)
        history.train_accuracy.append(model.evaluate(x_train, y_train)[1] if eval_train else nan)
        val_loss, val_acc = model.evaluate(x_val, y_val) if x_val is not None else (nan, nan)
        history.val_loss.append(val_loss)
        history.val_accuracy.append(val_acc)
        test_loss, test_acc = model.evaluate(x_test, y_test) if has_test else (nan, nan)
        history.test_loss.append(test_loss)
        history.test_accuracy.append(test_acc)
        history.grad_norms.append([float(v) for v in norm_sum / norm_count] if norm_count else [])
        history.weight_norms.append(_layer_norms(model.params, model.layer_slices))
        if (not all(map(math.isfinite, history.weight_norms[-1]))  # a norm may overflow
                and first_non_finite_row(model.params) is not None):
            raise _diverged(model, hooks, history, "the parameters became non-finite", epoch,
                            steps - 1, steps)
        history.eval_seconds.append(time.perf_counter() - eval_start)
        if log is not None:
            log(epoch, history)
        stop = [bool(hook.on_epoch_end(epoch, model, history)) for hook in hooks]
        if any(stop):
            break
    for hook in hooks:
        hook.on_train_end(model, history)
    return history


def _diverged(model, hooks, history, what, epoch, step, steps):
    """Ends the run (early stopping restores its best weights) and returns the error."""
    for hook in hooks:
        hook.on_train_end(model, history)
    return diverged(what, epoch, step, steps, history)


@functools.wraps(_train, assigned=("__module__", "__doc__"))
def train(model, *args, **kwargs):
    # one run per model at a time; Ctrl-C reported with the position _train keeps in `where`
    where = TrainingPosition()
    with exclusive_training(model), reporting_interrupts(where):
        return _train(model, *args, _where=where, **kwargs)
