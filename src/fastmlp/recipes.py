"""Training recipes: named settings of the learning rate, its schedule and the epochs.

"default" is Adam at its default rate (1e-3), constant, for 5 epochs. "fast" reaches the
same accuracy sooner: a one-cycle schedule (warm-up to a larger peak rate, then a
cosine down to almost zero) over 3 epochs; on the seed network (784-1024-512-10, relu,
batch 128, Adam) its test accuracy after epoch 3 averaged over seeds 0-3 is above 98.0%
(docs/BENCHMARKS.md has the sweep). A schedule spans the run's epochs, so with the fast
recipe more epochs mean a longer cycle, not more of the same.
"""
from __future__ import annotations

from dataclasses import dataclass

from .schedules import OneCycleLR


@dataclass(frozen=True)
class Recipe:
    name: str
    epochs: int
    lr: float | None = None       # None: the optimizer's default
    schedule: object = None       # a schedule callable (fastmlp.schedules) or None
    description: str = ""


RECIPES = {
    "default": Recipe("default", epochs=5, description="constant learning rate, 5 epochs"),
    "fast": Recipe("fast", epochs=3, lr=4e-3, schedule=OneCycleLR(),
                   description="one-cycle learning rate peaking at 4e-3 (Adam), 3 epochs"),
}


def get_recipe(name):
    try:
        return RECIPES[name]
    except KeyError:
        raise ValueError(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}") from None
