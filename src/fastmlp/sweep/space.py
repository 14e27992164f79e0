"""Search spaces: the trials of a grid (every combination) or of a seeded random search."""
from __future__ import annotations

import itertools

import numpy as np

# a random-search dimension given as ("loguniform", low, high) or ("uniform", low, high);
# a list is a set of choices
DISTRIBUTIONS = ("uniform", "loguniform")


def _check_space(space):
    if not isinstance(space, dict) or not space:
        raise ValueError(f"a search space maps option names to values, got {space!r}")
    for name, values in space.items():
        if isinstance(values, tuple):
            if len(values) != 3 or values[0] not in DISTRIBUTIONS or not values[1] < values[2]:
                raise ValueError(f"{name}: a range is (distribution, low, high) with "
                                 f"distribution in {DISTRIBUTIONS} and low < high, got {values!r}")
            if values[0] == "loguniform" and not values[1] > 0:
                raise ValueError(f"{name}: a loguniform range needs low > 0, got {values!r}")
        elif not isinstance(values, (list, np.ndarray)) or not len(values):
            raise ValueError(f"{name}: give a non-empty list of values, got {values!r}")


def grid_trials(grid):
    """Every combination of the values in `grid` (name -> list), first names varying slowest."""
    _check_space(grid)
    ranges = [name for name, v in grid.items() if isinstance(v, tuple)]
    if ranges:
        raise ValueError(f"a grid takes lists of values; {', '.join(ranges)} is a range "
                         "(use a random search)")
    names = list(grid)
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))]


def random_trials(space, n_trials, seed=0):
    """n_trials draws from `space`: a list is drawn from uniformly, a (distribution, low,
    high) range from that distribution."""
    _check_space(space)
    if int(n_trials) != n_trials or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer, got {n_trials!r}")
    rng = np.random.default_rng(seed)
    trials = []
    for _ in range(int(n_trials)):
        trial = {}
        for name, values in space.items():
            if isinstance(values, tuple):
                kind, low, high = values
                if kind == "uniform":
                    trial[name] = float(rng.uniform(low, high))
                else:
                    trial[name] = float(np.exp(rng.uniform(np.log(low), np.log(high))))
            else:
                value = values[int(rng.integers(len(values)))]
                trial[name] = value.item() if isinstance(value, np.generic) else value
        trials.append(trial)
    return trials
