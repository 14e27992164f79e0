"""Datasets: MNIST (shipped with the package, read from IDX files), 2-D toy problems and a
1-D regression curve."""
from .mnist import DatasetError, load_mnist, read_idx
from .toy import (
    TOY_DATASETS,
    TOY_REGRESSION_DATASETS,
    load_toy,
    make_circle,
    make_gaussian_mixture,
    make_polynomial,
    make_spirals,
    make_xor,
)

__all__ = ["DatasetError", "load_mnist", "read_idx", "TOY_DATASETS", "TOY_REGRESSION_DATASETS",
           "load_toy", "make_circle", "make_gaussian_mixture", "make_polynomial", "make_spirals",
           "make_xor"]
