"""fastmlp: fast, transparent multilayer perceptrons on the CPU.

    >>> import fastmlp
    >>> x, y, xt, yt = fastmlp.datasets.load_mnist()
    >>> model = fastmlp.MLP([784, 1024, 512, 10], seed=0)
    >>> history = fastmlp.train(model, x, y, xt, yt, epochs=5)

Kernels come from a swappable backend (numpy, numba, cpp): see fastmlp.backends.
fastmlp.set_matmul_precision("bfloat16") computes float32 matmuls with bfloat16 operands.
"""
from . import datasets
from .backends import (
    Backend,
    BackendError,
    available_backends,
    get_backend,
    get_flush_denormals,
    get_matmul_precision,
    get_num_threads,
    set_backend,
    set_flush_denormals,
    set_matmul_precision,
    set_num_threads,
)
from .callbacks import Callback, EarlyStopping
from .estimator import MLPClassifier
from .gradcheck import gradient_check
from .history import History
from .model import MLP
from .optim import SGD, Adam, AdamW, RMSprop
from .schedules import CosineLR, OneCycleLR, StepLR
from ._version import __version__
from .train import train

__all__ = [
    "MLP", "MLPClassifier", "SGD", "RMSprop", "Adam", "AdamW", "StepLR", "CosineLR", "OneCycleLR",
    "Callback", "EarlyStopping", "History", "train", "gradient_check", "datasets",
    "Backend", "BackendError",
    "available_backends", "get_backend", "set_backend", "get_num_threads", "set_num_threads",
    "get_flush_denormals", "set_flush_denormals", "get_matmul_precision", "set_matmul_precision",
]


def __getattr__(name):
    # fastmlp.plots needs matplotlib (an optional extra): imported on first use only
    if name in ("plots", "gradcheck"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'fastmlp' has no attribute {name!r}")
