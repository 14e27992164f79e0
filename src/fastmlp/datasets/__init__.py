"""Datasets: MNIST (shipped with the package, read from IDX files) and 2-D toy problems."""
from .mnist import DatasetError, load_mnist, read_idx
from .toy import (
    TOY_DATASETS,
    load_toy,
    make_circle,
    make_gaussian_mixture,
    make_spirals,
    make_xor,
)

__all__ = ["DatasetError", "load_mnist", "read_idx", "TOY_DATASETS", "load_toy", "make_circle",
           "make_gaussian_mixture", "make_spirals", "make_xor"]
