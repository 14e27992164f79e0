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
from .finite import NonFiniteError, NonFiniteLossError
from .gradcheck import gradient_check
from .history import History
from .model import MLP
from .model_file import ModelFileError
from .optim import SGD, Adam, AdamW, RMSprop
from .schedules import CosineLR, OneCycleLR, StepLR
from ._version import __version__
from .train import train
from .training_guard import ConcurrentTrainingError, TrainingInterrupted

__all__ = [
    "MLP", "SGD", "RMSprop", "Adam", "AdamW", "StepLR", "CosineLR", "OneCycleLR",
    "Callback", "EarlyStopping", "History", "train", "gradient_check", "datasets",
    "Backend", "BackendError", "ModelFileError", "NonFiniteError", "NonFiniteLossError",
    "ConcurrentTrainingError", "TrainingInterrupted",
    "available_backends", "get_backend", "set_backend", "get_num_threads", "set_num_threads",
    "get_flush_denormals", "set_flush_denormals", "get_matmul_precision", "set_matmul_precision",
]


# optional extras, imported on first use: plots needs matplotlib, the estimators scikit-learn
_LAZY_MODULES = ("plots", "gradcheck", "estimators", "sweep")
_LAZY_ATTRIBUTES = {"MLPClassifier": "estimators", "MLPRegressor": "estimators",
                    "run_sweep": "sweep"}


def __getattr__(name):
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_ATTRIBUTES:
        return getattr(importlib.import_module(f".{_LAZY_ATTRIBUTES[name]}", __name__), name)
    raise AttributeError(f"module 'fastmlp' has no attribute {name!r}")
