"""Timing training epochs: fastmlp on any backend, and the same MLP in PyTorch.

Both trainers take the same data in the same shuffled order and batch size and return the
wall time of the epoch's steps, so their ratio is the speed-up a user would see.
"""
from __future__ import annotations

import numpy as np

from .. import datasets
from ..model import MLP
from ..train import train
from .cases import MNIST_TRAIN_SAMPLES


def epoch_data(workload, samples=MNIST_TRAIN_SAMPLES, seed=0):
    """(x, y, source): MNIST training data when the network has MNIST's shape, else random
    data of the network's shape (timing does not depend on the values, but ReLU sparsity
    and denormals do, so real data is preferred)."""
    sizes = workload.sizes
    if sizes[0] == 784 and sizes[-1] == 10:
        x, y, _, _ = datasets.load_mnist()
        reps = -(-samples // x.shape[0])
        if reps > 1:
            x, y = np.concatenate([x] * reps), np.concatenate([y] * reps)
        return x[:samples], y[:samples], "MNIST"
    rng = np.random.default_rng(seed)
    x = rng.random((samples, sizes[0]), dtype=np.float32)
    return x, rng.integers(0, sizes[-1], samples).astype(np.int64), "random"


class FastmlpEpoch:
    """fastmlp.train over the data given, one epoch, on one backend; call returns seconds."""

    def __init__(self, backend, workload, seed=0):
        self.workload, self.seed = workload, seed
        self.model = MLP(workload.sizes, activation=workload.activation, seed=seed, backend=backend)

    def __call__(self, x, y):
        history = train(self.model, x, y, epochs=1, batch_size=self.workload.batch,
                        seed=self.seed, progress=False, eval_train=False)
        return history.seconds[0]


class TorchEpoch:
    """The same MLP (same initial weights, ReLU, softmax cross-entropy, torch.optim.Adam with
    the same hyperparameters) trained by a plain PyTorch loop over the same batches."""

    def __init__(self, workload, seed=0, lr=1e-3, fused=False):
        import torch  # optional dependency: callers check first

        self.torch, self.workload, self.seed = torch, workload, seed
        init = MLP(workload.sizes, activation=workload.activation, seed=seed, backend="numpy")
        layers = []
        for i, (w, b) in enumerate(zip(init.weights, init.biases)):
            lin = torch.nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(b))
            layers.append(lin)
            if i < len(init.weights) - 1:
                layers.append(_torch_activation(torch, workload.activation))
        self.net = torch.nn.Sequential(*layers)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr, fused=fused or None)

    def __call__(self, x, y):
        import time

        torch, batch = self.torch, self.workload.batch
        n = x.shape[0]
        order = np.random.default_rng(self.seed).permutation(n)  # as fastmlp.train draws it
        xb = np.empty((batch, x.shape[1]), np.float32)
        yb = np.empty(batch, np.int64)
        start = time.perf_counter()
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            k = idx.shape[0]
            np.take(x, idx, axis=0, out=xb[:k])
            np.take(y, idx, out=yb[:k])
            loss = torch.nn.functional.cross_entropy(self.net(torch.from_numpy(xb[:k])),
                                                     torch.from_numpy(yb[:k]))
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        return time.perf_counter() - start


def _torch_activation(torch, name):
    modules = {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh,
               "leaky_relu": torch.nn.LeakyReLU}
    if name not in modules:
        raise ValueError(f"no PyTorch equivalent for activation {name!r}")
    return modules[name]()
