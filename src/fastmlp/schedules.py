"""Learning-rate schedules: the learning rate of each epoch, from the run's base rate.

A schedule is any callable ``schedule(epoch, base_lr, epochs) -> lr`` (epoch counts from
0); the training loop sets the optimizer's lr from it at the start of every epoch.
"""
from __future__ import annotations

import math


class StepLR:
    """torch's StepLR: lr = base_lr * gamma ** (epoch // step_size).

    step_size defaults to a third of the run (at least 1 epoch).
    """

    def __init__(self, step_size=None, gamma=0.1):
        if step_size is not None and (int(step_size) != step_size or step_size < 1):
            raise ValueError(f"step_size must be a positive integer, got {step_size!r}")
        if not 0.0 < gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {gamma!r}")
        self.step_size, self.gamma = step_size, float(gamma)

    def __call__(self, epoch, base_lr, epochs):
        step = self.step_size or max(1, epochs // 3)
        return base_lr * self.gamma ** (epoch // step)

    def __repr__(self):
        return f"StepLR(step_size={self.step_size}, gamma={self.gamma})"


class CosineLR:
    """torch's CosineAnnealingLR over the run (T_max = epochs), from base_lr to min_lr."""

    def __init__(self, min_lr=0.0):
        if not min_lr >= 0.0:
            raise ValueError(f"min_lr must be >= 0, got {min_lr!r}")
        self.min_lr = float(min_lr)

    def __call__(self, epoch, base_lr, epochs):
        return self.min_lr + (base_lr - self.min_lr) * (1 + math.cos(math.pi * epoch / max(epochs, 1))) / 2

    def __repr__(self):
        return f"CosineLR(min_lr={self.min_lr})"


SCHEDULES = {"step": StepLR, "cosine": CosineLR}


def make_schedule(schedule):
    """None, a schedule name (default settings) or a callable, as a callable or None."""
    if schedule is None or callable(schedule):
        return schedule
    try:
        return SCHEDULES[schedule]()
    except (KeyError, TypeError):
        raise ValueError(f"unknown schedule {schedule!r}; known: {', '.join(SCHEDULES)} "
                         "(or a callable (epoch, base_lr, epochs) -> lr)") from None
