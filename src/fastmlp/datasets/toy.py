"""Small seeded 2-D classification problems, and a 1-D regression curve, for seeing what a
network learns.

Each classification function returns (x, y): x float32 of shape (n, 2) (features roughly in
[-1, 1]), y int64 class labels. The same seed gives the same data; use different seeds for
training and test sets. Classes are shuffled together, so any prefix is a fair sample.
make_polynomial returns real-valued targets instead (float32, shape (n,)).
"""
from __future__ import annotations

import numpy as np


def _check_n(n, at_least=1):
    if int(n) != n or n < at_least:
        raise ValueError(f"n must be an integer >= {at_least}, got {n!r}")
    return int(n)


def _check_noise(noise):
    if not noise >= 0.0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")


def _finish(x, y, noise, rng):
    """Adds Gaussian feature noise, shuffles, and converts to the library's dtypes."""
    if noise:
        x = x + rng.normal(0.0, noise, x.shape)
    order = rng.permutation(len(y))
    return np.ascontiguousarray(x[order], np.float32), np.ascontiguousarray(y[order], np.int64)


def make_circle(n=1000, radius=0.6, balance=0.5, noise=0.0, seed=None):
    """Points in the square [-1, 1]^2: class 1 inside the circle of `radius`, class 0 outside.

    `balance` is the fraction of class 1 (inside) points; each class is uniform over its
    region. A linear model cannot separate it; one hidden layer can.
    """
    n = _check_n(n)
    if not 0.0 < radius < 1.0:
        raise ValueError(f"radius must be in (0, 1) so both regions are in the square, got {radius!r}")
    if not 0.0 <= balance <= 1.0:
        raise ValueError(f"balance must be in [0, 1], got {balance!r}")
    _check_noise(noise)
    rng = np.random.default_rng(seed)
    n_in = int(round(balance * n))
    # inside: uniform over the disc (sqrt makes the radius area-uniform)
    r = radius * np.sqrt(rng.random(n_in))
    theta = rng.uniform(0, 2 * np.pi, n_in)
    inside = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
    # outside: uniform over the square minus the disc, by rejection
    outside = np.empty((0, 2))
    while len(outside) < n - n_in:
        cand = rng.uniform(-1, 1, (2 * (n - n_in) + 16, 2))
        outside = np.concatenate([outside, cand[np.hypot(cand[:, 0], cand[:, 1]) > radius]])
    x = np.concatenate([inside, outside[:n - n_in]])
    y = np.concatenate([np.ones(n_in, np.int64), np.zeros(n - n_in, np.int64)])
    return _finish(x, y, noise, rng)


def make_gaussian_mixture(n=1000, k=3, std=0.25, noise=0.0, seed=None):
    """k Gaussian blobs with standard deviation `std`, centred on a circle of radius 0.7.

    Class c is blob c; the n points are spread as evenly as possible over the classes.
    """
    n = _check_n(n)
    if int(k) != k or k < 2:
        raise ValueError(f"k must be an integer >= 2, got {k!r}")
    if not std > 0.0:
        raise ValueError(f"std must be > 0, got {std!r}")
    _check_noise(noise)
    rng = np.random.default_rng(seed)
    y = np.arange(n, dtype=np.int64) % int(k)
    angles = 2 * np.pi * np.arange(k) / k
    centres = 0.7 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    x = centres[y] + rng.normal(0.0, std, (n, 2))
    return _finish(x, y, noise, rng)


def make_xor(n=1000, noise=0.0, seed=None):
    """Uniform points in [-1, 1]^2; class 1 where x1 and x2 have different signs."""
    n = _check_n(n)
    _check_noise(noise)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 2))
    y = ((x[:, 0] > 0) != (x[:, 1] > 0)).astype(np.int64)
    return _finish(x, y, noise, rng)


def make_spirals(n=1000, turns=1.5, noise=0.0, seed=None):
    """Two interleaved spirals (classes 0 and 1) of `turns` turns each, radius up to 1."""
    n = _check_n(n, 2)
    if not turns > 0.0:
        raise ValueError(f"turns must be > 0, got {turns!r}")
    _check_noise(noise)
    rng = np.random.default_rng(seed)
    y = np.arange(n, dtype=np.int64) % 2
    t = np.sqrt(rng.random(n))  # more points where the arms are long (outside)
    angle = 2 * np.pi * turns * t + np.pi * y
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    return _finish(x, y, noise, rng)


def make_polynomial(n=1000, coefficient=5.0, noise=0.0, seed=None):
    """The curve y = coefficient * x**2 (the polynomial-fitting notebook's y = 5x^2) at n
    uniform points x in [-1, 1], plus Gaussian noise of std `noise` on y: (x (n, 1), y (n,))."""
    n = _check_n(n)
    _check_noise(noise)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 1))
    y = coefficient * x[:, 0] ** 2
    if noise:
        y = y + rng.normal(0.0, noise, n)
    return np.ascontiguousarray(x, np.float32), np.ascontiguousarray(y, np.float32)


TOY_DATASETS = {"circle": make_circle, "gaussians": make_gaussian_mixture, "xor": make_xor,
                "spirals": make_spirals}
# real-valued targets: for regression (MLP(..., loss="squared_error"), MLPRegressor)
TOY_REGRESSION_DATASETS = {"polynomial": make_polynomial}


def load_toy(name, n_train=2000, n_test=1000, seed=0, **options):
    """(x_train, y_train, x_test, y_test) of the toy problem `name`, from two seeds."""
    known = {**TOY_DATASETS, **TOY_REGRESSION_DATASETS}
    try:
        make = known[name]
    except KeyError:
        raise ValueError(f"unknown toy dataset {name!r}; known: {', '.join(known)}") from None
    x, y = make(n_train, seed=[seed, 0], **options)
    xt, yt = make(n_test, seed=[seed, 1], **options)
    return x, y, xt, yt
