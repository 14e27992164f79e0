"""One trial of a sweep: train a network with some options, in a process whose threads are
its share of the cores, and report the scores and how it ran.

Runs in a joblib or Dask worker as well as in the calling process; it imports only fastmlp.
"""
from __future__ import annotations

import functools
import os
import socket
import time

import numpy as np

# what a trial's options may set, and where each goes: the network or the training loop
MODEL_OPTIONS = ("hidden", "activation", "init", "dropout", "batch_norm", "loss")
TRAIN_OPTIONS = ("epochs", "batch_size", "lr", "optimizer", "weight_decay", "schedule", "seed",
                 "val_split", "early_stopping")
RUN_OPTIONS = ("backend", "matmul_precision")
OPTIONS = MODEL_OPTIONS + TRAIN_OPTIONS + RUN_OPTIONS


def available_cores():
    """CPUs this process may run on (its affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def share_of_cores(concurrent):
    """Threads for one of `concurrent` trials running at once on this machine."""
    return max(1, available_cores() // max(1, int(concurrent)))


def backend_threads(backend):
    """The thread count `backend` will use, read back from its library."""
    if backend.name == "numba":
        import numba

        return numba.get_num_threads()
    if backend.name == "cpp":
        from .. import _cpp

        return _cpp.num_threads()
    from threadpoolctl import threadpool_info

    blas = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
    return max(blas) if blas else 1


@functools.lru_cache(maxsize=4)
def load_data(dataset, n_train, n_test, data_seed):
    """(x, y, x_test, y_test): MNIST's first n_train / n_test images, or a toy problem."""
    from .. import datasets

    if dataset == "mnist":
        x, y, xt, yt = datasets.load_mnist()
        return x[:n_train], y[:n_train], xt[:n_test], yt[:n_test]
    return datasets.load_toy(dataset, n_train=n_train, n_test=n_test, seed=data_seed)


def check_options(options):
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"unknown sweep option(s) {', '.join(unknown)}; known: "
                         f"{', '.join(OPTIONS)}")


def run_trial(index, options, data, threads):
    """Trains one network; returns the results row (the options, scores, threads, worker).

    `data` is (dataset, n_train, n_test, data_seed). `threads` is set for every backend
    in this process before training (replacing any inherited FASTMLP_NUM_THREADS).
    """
    from ..backends import get_backend, set_num_threads
    from ..backends.bfloat16 import backend_matmul_precision
    from ..model import MLP
    from ..train import train

    check_options(options)
    set_num_threads(threads)
    x, y, xt, yt = load_data(*data)
    opts = {"hidden": (64,), "epochs": 3, "seed": 0, **options}
    hidden = opts["hidden"]
    hidden = [int(hidden)] if np.isscalar(hidden) else [int(h) for h in hidden]
    n_classes = int(max(y.max(), yt.max())) + 1
    loss = opts.get("loss", "cross_entropy")
    sizes = [x.shape[1], *hidden, 1 if loss == "bce" else n_classes]
    backend = get_backend(opts.get("backend"))
    with backend_matmul_precision(backend, opts.get("matmul_precision") or None):
        model = MLP(sizes, seed=opts["seed"], backend=backend,
                    **{k: opts[k] for k in MODEL_OPTIONS if k in opts and k != "hidden"})
        start = time.perf_counter()
        history = train(model, x, y, xt, yt, progress=False, eval_train=False,
                        **{k: opts[k] for k in TRAIN_OPTIONS if k in opts})
        seconds = time.perf_counter() - start
        used_threads = backend_threads(backend)
        precision = backend.matmul_precision
    return {"trial": index, **options,
            "test_accuracy": history.test_accuracy[-1], "test_loss": history.test_loss[-1],
            "train_loss": history.loss[-1], "epochs_run": history.epochs,
            "seconds": seconds, "backend": backend.name, "matmul_precision": precision,
            "threads": used_threads,
            "worker": f"{socket.gethostname()}:{os.getpid()}"}
