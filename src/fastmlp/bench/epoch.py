"""Timing training epochs: fastmlp on any backend, and the same MLP in PyTorch.

Both trainers take the same data in the same shuffled order and batch size and return the
wall time of the epoch's steps, so their ratio is the speed-up a user would see.
fastmlp's trainer can run a backend in another matmul precision (bfloat16); PyTorch's
trainer has the options a torch user speeds training up with (fused Adam, flushed
denormals, bfloat16 autocast): TORCH_VARIANTS are the ones of ../shared/ANCHORS.md.
"""
from __future__ import annotations

import contextlib
import time

import numpy as np

from .. import datasets
from ..backends.bfloat16 import backend_matmul_precision
from ..model import MLP
from ..train import train
from .cases import MNIST_TRAIN_SAMPLES
from .references import PYTORCH, torch_flush_denormal


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


class _Epoch:
    """A trainer: call(x, y) trains one epoch over x, y and returns its seconds.

    A trainer's settings (a matmul precision, PyTorch's denormal flushing) are in force
    for each call and restored after it; inside `with trainer.session():` they are switched
    once for the whole block instead, so repeated calls (warm-up and timed epochs) do not
    pay for the switch and a benchmark harness timing each call does not time it.
    """

    _in_session = False

    @contextlib.contextmanager
    def session(self):
        if self._in_session:
            yield self
            return
        with self._settings():
            self._in_session = True
            try:
                yield self
            finally:
                self._in_session = False

    def __call__(self, x, y):
        with self.session():
            return self._epoch(x, y)

    def _settings(self):
        return contextlib.nullcontext()

    def _epoch(self, x, y):
        raise NotImplementedError


class FastmlpEpoch(_Epoch):
    """fastmlp.train over the data given, one epoch, on one backend.

    matmul_precision (None: the backend's current one) is set on the backend for each call
    (or session) and the backend's previous precision restored afterwards; ValueError (from
    backend.set_matmul_precision) at construction if the backend does not offer it.
    """

    def __init__(self, backend, workload, seed=0, matmul_precision=None):
        self.workload, self.seed = workload, seed
        self.model = MLP(workload.sizes, activation=workload.activation, seed=seed, backend=backend)
        self.matmul_precision = matmul_precision
        if matmul_precision is not None:  # fail now, not in the middle of a timing loop
            with self._settings():
                pass

    def _settings(self):
        return backend_matmul_precision(self.model.backend, self.matmul_precision)

    def _epoch(self, x, y):
        history = train(self.model, x, y, epochs=1, batch_size=self.workload.batch,
                        seed=self.seed, progress=False, eval_train=False)
        return history.seconds[0]


def torch_label(fused=False, flush_denormals=False, autocast=None):
    """The name of a PyTorch trainer's results: "PyTorch" for torch.optim.Adam's defaults,
    else e.g. "PyTorch bf16+fused+ftz" (bfloat16 autocast, Adam(fused=True), denormals
    flushed)."""
    parts = (["bf16"] if autocast == "bfloat16" else [f"{autocast} autocast"] if autocast
             else []) + (["fused"] if fused else []) + (["ftz"] if flush_denormals else [])
    return PYTORCH + (" " + "+".join(parts) if parts else "")


# The PyTorch trainers of ../shared/ANCHORS.md: {benchmark id: TorchEpoch options}
TORCH_VARIANTS = {
    "default_adam": {},                                          # eager, torch.optim.Adam defaults
    "fused_ftz": {"fused": True, "flush_denormals": True},       # Adam(fused=True), set_flush_denormal(True)
    "bf16_autocast": {"fused": True, "flush_denormals": True,    # + bfloat16 autocast (AMX)
                      "autocast": "bfloat16"},
}


class TorchEpoch(_Epoch):
    """The same MLP (same initial weights, ReLU, softmax cross-entropy, torch.optim.Adam with
    the same hyperparameters) trained by a plain PyTorch loop over the same batches.

    Options, each what a torch user would write:
    - fused: torch.optim.Adam(..., fused=True), one multi-tensor kernel per step;
    - flush_denormals: torch.set_flush_denormal(True) during each call (or session), in
      every thread that computes (see fastmlp.bench.references.set_torch_flush_denormal);
      the previous state is restored afterwards; `flushed_all_threads` says whether it
      reached every thread;
    - autocast="bfloat16": forward pass and loss inside torch.autocast("cpu",
      dtype=torch.bfloat16) (the Linear layers' matmuls in bfloat16, AMX where the CPU has
      it), backward and optimizer outside; weights, gradients and Adam state stay float32.
    `label` names the results (see torch_label).
    """

    def __init__(self, workload, seed=0, lr=1e-3, fused=False, flush_denormals=False,
                 autocast=None):
        import torch  # optional dependency: callers check first

        if autocast not in (None, "bfloat16"):
            raise ValueError(f"autocast must be None or 'bfloat16', got {autocast!r}")
        self.torch, self.workload, self.seed = torch, workload, seed
        self.flush_denormals, self.autocast = bool(flush_denormals), autocast
        self.label = torch_label(fused, flush_denormals, autocast)
        self.flushed_all_threads = None  # set by each session with flush_denormals
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

    @contextlib.contextmanager
    def _settings(self):
        if not self.flush_denormals:
            yield
            return
        with torch_flush_denormal(self.torch) as everywhere:
            self.flushed_all_threads = everywhere
            yield

    def _epoch(self, x, y):
        torch, batch = self.torch, self.workload.batch
        n = x.shape[0]
        order = np.random.default_rng(self.seed).permutation(n)  # as fastmlp.train draws it
        xb = np.empty((batch, x.shape[1]), np.float32)
        yb = np.empty(batch, np.int64)
        cross_entropy = torch.nn.functional.cross_entropy
        if self.autocast:  # a new context per step, as a training loop writes it
            autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16)  # noqa: E731
        else:
            autocast = contextlib.nullcontext
        start = time.perf_counter()
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            k = idx.shape[0]
            np.take(x, idx, axis=0, out=xb[:k])
            np.take(y, idx, out=yb[:k])
            with autocast():
                loss = cross_entropy(self.net(torch.from_numpy(xb[:k])), torch.from_numpy(yb[:k]))
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
