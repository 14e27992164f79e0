"""What surrounds a training run: one run per model at a time, and a clear Ctrl-C.

Two threads training one model would interleave their updates of the same parameter,
gradient and workspace arrays and give nondeterministic weights, so a run holds a
per-model lock and a second run on the same model fails at once with
:class:`ConcurrentTrainingError` (different models train in parallel freely). A Ctrl-C
during a run becomes :class:`TrainingInterrupted`, a KeyboardInterrupt that says where
the run stopped.
"""
from __future__ import annotations

import contextlib
import threading
import weakref


class ConcurrentTrainingError(RuntimeError):
    """The model is already being trained (in another thread, or from a callback)."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; ``epoch`` and ``step`` are 1-based, ``history`` what was
    measured up to the last complete epoch."""

    def __init__(self, epoch, step, steps, history):
        super().__init__(f"interrupted at epoch {epoch}, step {step} of {steps}")
        self.epoch, self.step, self.history = epoch, step, history


class TrainingPosition:
    """Where a run is (0-based), updated by the loop, read when it is interrupted."""

    __slots__ = ("epoch", "step", "steps", "history")

    def __init__(self):
        self.epoch = self.step = self.steps = 0
        self.history = None


_locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


@contextlib.contextmanager
def exclusive_training(model):
    """Holds `model`'s training lock for the block; ConcurrentTrainingError if it is held."""
    with _locks_guard:
        lock = _locks.get(model)
        if lock is None:
            lock = _locks[model] = threading.Lock()
    if not lock.acquire(blocking=False):
        raise ConcurrentTrainingError(
            "this model is already being trained in another thread (or by a callback of its "
            "own run); train one model from one thread at a time, or train copies")
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def reporting_interrupts(position):
    """Turns a KeyboardInterrupt inside the block into TrainingInterrupted at `position`."""
    try:
        yield
    except TrainingInterrupted:
        raise
    except KeyboardInterrupt:
        raise TrainingInterrupted(position.epoch + 1, position.step + 1, position.steps,
                                  position.history) from None
