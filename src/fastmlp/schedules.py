"""Learning-rate schedules: the learning rate of each epoch, from the run's base rate.

A schedule is any callable ``schedule(epoch, base_lr, epochs) -> lr`` (epoch counts from
0); the training loop sets the optimizer's lr from it at the start of every epoch. A
schedule with ``per_step = True`` is also called within epochs, with a fractional epoch
(see LR_EVERY), so its rate changes as the epoch goes.
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


# A per-step schedule's rate is set every LR_EVERY training steps, at the fractional epoch
# where that block of steps starts: the same steps get the same rate whatever chunks the
# training loop runs them in.
LR_EVERY = 25


class OneCycleLR:
    """torch's OneCycleLR (cosine, without momentum cycling) over the whole run, per step.

    The rate rises from base_lr / div_factor to base_lr (the peak) over the first
    pct_start of the run, then falls along a half cosine to base_lr / final_div_factor
    at its end. base_lr is the peak: pair it with a larger rate than a constant
    schedule's (the fast recipe: Adam at 4e-3; see fastmlp.recipes).
    """

    per_step = True

    def __init__(self, pct_start=0.25, div_factor=25.0, final_div_factor=1e4):
        if not 0.0 < pct_start < 1.0:
            raise ValueError(f"pct_start must be in (0, 1), got {pct_start!r}")
        if not div_factor >= 1.0:
            raise ValueError(f"div_factor must be >= 1, got {div_factor!r}")
        if not final_div_factor >= 1.0:
            raise ValueError(f"final_div_factor must be >= 1, got {final_div_factor!r}")
        self.pct_start, self.div_factor = float(pct_start), float(div_factor)
        self.final_div_factor = float(final_div_factor)

    def __call__(self, epoch, base_lr, epochs):
        t = min(max(epoch / max(epochs, 1), 0.0), 1.0)  # fraction of the run done
        low, end = base_lr / self.div_factor, base_lr / self.final_div_factor
        if t < self.pct_start:  # warm-up, cosine as torch's
            return base_lr + (low - base_lr) * (1 + math.cos(math.pi * t / self.pct_start)) / 2
        u = (t - self.pct_start) / (1.0 - self.pct_start)
        return end + (base_lr - end) * (1 + math.cos(math.pi * u)) / 2

    def __repr__(self):
        return (f"OneCycleLR(pct_start={self.pct_start}, div_factor={self.div_factor}, "
                f"final_div_factor={self.final_div_factor})")


def is_per_step(schedule):
    """Whether the training loop updates `schedule`'s rate within epochs (every LR_EVERY steps)."""
    return bool(getattr(schedule, "per_step", False))


SCHEDULES = {"step": StepLR, "cosine": CosineLR, "onecycle": OneCycleLR}


def make_schedule(schedule):
    """None, a schedule name (default settings) or a callable, as a callable or None."""
    if schedule is None or callable(schedule):
        return schedule
    try:
        return SCHEDULES[schedule]()
    except (KeyError, TypeError):
        raise ValueError(f"unknown schedule {schedule!r}; known: {', '.join(SCHEDULES)} "
                         "(or a callable (epoch, base_lr, epochs) -> lr)") from None
