"""Datasets: MNIST (shipped with the package, read from IDX files)."""
from .mnist import DatasetError, load_mnist, read_idx

__all__ = ["DatasetError", "load_mnist", "read_idx"]
