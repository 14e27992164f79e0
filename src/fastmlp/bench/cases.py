"""The inputs of every kernel at the shapes a real training step uses.

A :class:`Workload` is a network and a batch size; :func:`kernel_cases` turns it into
:class:`Case` objects, one per distinct kernel call a training step makes (each layer's
forward GEMM, weight-gradient GEMM, input-gradient GEMM, ...). A case holds its inputs, so
every backend (and NumPy's matmul and PyTorch, for GEMMs) runs on the same data. Both
`fastmlp bench` and the pytest-benchmark suite in benchmarks/ build their inputs here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..backends import KERNELS
from ..model import MLP

MNIST_TRAIN_SAMPLES = 60_000  # an "epoch" in every report, whatever data was timed
F32 = 4  # bytes per float32


@dataclass(frozen=True)
class Workload:
    """A network (layer sizes, input to output) trained at a batch size."""

    sizes: tuple
    batch: int
    activation: str = "relu"

    @property
    def name(self):
        return f"{'-'.join(map(str, self.sizes))}@{self.batch}"

    @property
    def layers(self):
        """(fan_in, fan_out) of each layer."""
        return list(zip(self.sizes[:-1], self.sizes[1:]))

    def step_flops(self, n=None):
        """FLOPs of one forward+backward pass over n rows: forward and weight-gradient GEMMs
        for every layer, input-gradient GEMMs for all but the first."""
        n = self.batch if n is None else n
        macs = [i * o for i, o in self.layers]
        return 2.0 * n * (2 * sum(macs) + sum(macs[1:]))


# The two workloads of the project's anchors (see docs/BENCHMARKS.md).
WORKLOADS = {
    "seed": Workload((784, 1024, 512, 10), 128),
    "small": Workload((784, 128, 10), 64),
}


@dataclass
class Case:
    """One kernel call with its inputs. Exactly one of flops and nbytes is non-zero:
    compute-bound kernels are rated in FLOP/s, memory-bound ones in bytes/s."""

    kernel: str
    name: str
    call: Callable  # call(backend) runs the kernel once
    flops: float = 0.0   # useful floating-point operations per call
    nbytes: float = 0.0  # bytes a call must read and write at least
    footprint: float = 0.0  # distinct bytes it touches (sizes the bandwidth yardstick)
    gemm: tuple | None = field(default=None, repr=False)  # (a, b, out, trans_a, trans_b)

    def __post_init__(self):
        self.footprint = self.footprint or self.nbytes

    @property
    def memory_bound(self):
        return self.flops == 0.0

    @property
    def id(self):
        return f"{self.kernel}[{self.name}]"


def _rand(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def _gemm_case(label, a, b, out, trans_a=False, trans_b=False):
    m, n = out.shape
    k = a.shape[0] if trans_a else a.shape[1]
    return Case("gemm", label, lambda be: be.gemm(a, b, out, trans_a=trans_a, trans_b=trans_b),
                flops=2.0 * m * n * k, gemm=(a, b, out, trans_a, trans_b))


def _gemm(w, rng):
    n = w.batch
    for i, (fin, fout) in enumerate(w.layers, 1):
        x, wt, g = _rand(rng, n, fin), _rand(rng, fout, fin), _rand(rng, n, fout)
        yield _gemm_case(f"fwd L{i} {n}x{fin} @ ({fout}x{fin})^T", x, wt,
                         np.empty((n, fout), np.float32), trans_b=True)
        yield _gemm_case(f"dW L{i} ({n}x{fout})^T @ {n}x{fin}", g, x,
                         np.empty((fout, fin), np.float32), trans_a=True)
        if i > 1:  # the first layer needs no input gradient
            yield _gemm_case(f"dX L{i} {n}x{fout} @ {fout}x{fin}", g, wt,
                             np.empty((n, fin), np.float32))


def _dense_forward(w, rng):
    n, last = w.batch, len(w.layers)
    for i, (fin, fout) in enumerate(w.layers, 1):
        act = w.activation if i < last else "identity"
        x, wt, b = _rand(rng, n, fin), _rand(rng, fout, fin, scale=fin ** -0.5), _rand(rng, fout)
        out = np.empty((n, fout), np.float32)
        yield Case("dense_forward", f"L{i} {n}x{fin} -> {fout} {act}",
                   lambda be, x=x, wt=wt, b=b, out=out, act=act: be.dense_forward(x, wt, b, out, act),
                   flops=2.0 * n * fin * fout)


def _activation_backward(w, rng):
    n = w.batch
    for i, (_, fout) in enumerate(w.layers[:-1], 1):  # hidden layers only
        grad, act = _rand(rng, n, fout), np.maximum(_rand(rng, n, fout), 0)
        out = np.empty_like(grad)
        yield Case("activation_backward", f"L{i} {n}x{fout} {w.activation}",
                   lambda be, grad=grad, act=act, out=out:
                   be.activation_backward(w.activation, grad, act, None, out),
                   nbytes=3.0 * F32 * n * fout)


def _bias_grad(w, rng):
    n = w.batch
    for i, (_, fout) in enumerate(w.layers, 1):
        grad, out = _rand(rng, n, fout), np.empty(fout, np.float32)
        yield Case("bias_grad", f"L{i} {n}x{fout}", lambda be, grad=grad, out=out: be.bias_grad(grad, out),
                   nbytes=F32 * (n * fout + fout))


def _softmax_cross_entropy(w, rng):
    n, c = w.batch, w.sizes[-1]
    logits, grad = _rand(rng, n, c, scale=3.0), np.empty((n, c), np.float32)
    labels = rng.integers(0, c, n).astype(np.int64)
    yield Case("softmax_cross_entropy", f"{n}x{c}",
               lambda be: be.softmax_cross_entropy(logits, labels, grad),
               nbytes=2.0 * F32 * n * c + 8.0 * n)


def _adam_step(w, rng):
    size = sum(i * o + o for i, o in w.layers)  # the whole network: one flat array
    param, grad = _rand(rng, size, scale=0.05), _rand(rng, size, scale=1e-2)
    m, v = np.zeros_like(param), np.zeros_like(param)
    yield Case("adam_step", f"{size} params",
               lambda be: be.adam_step(param, grad, m, v, 1e-3, 0.9, 0.999, 1e-8, 10),
               nbytes=7.0 * F32 * size,  # reads param, grad, m, v; writes param, m, v
               footprint=4.0 * F32 * size)


def _forward_backward(w, rng):
    n = w.batch
    model = MLP(w.sizes, activation=w.activation, seed=0, backend="numpy")  # only its arrays
    x = np.clip(_rand(rng, n, w.sizes[0], scale=0.5) + 0.5, 0, 1)  # pixel-like inputs
    labels = rng.integers(0, w.sizes[-1], n).astype(np.int64)
    acts = [np.empty((n, s), np.float32) for s in w.sizes[1:]]
    grads = [np.empty((n, s), np.float32) for s in w.sizes[1:]]
    yield Case("forward_backward", f"{'-'.join(map(str, w.sizes))} batch {n}",
               lambda be: be.forward_backward(x, labels, model.weights, model.biases,
                                              model.weight_grads, model.bias_grads, acts,
                                              grads, w.activation),
               flops=w.step_flops())


# kernel name -> generator of its cases. A kernel added to base.KERNELS without an entry
# here is reported as "no input generator" rather than silently left out.
BUILDERS = {
    "gemm": _gemm,
    "dense_forward": _dense_forward,
    "activation_backward": _activation_backward,
    "bias_grad": _bias_grad,
    "softmax_cross_entropy": _softmax_cross_entropy,
    "adam_step": _adam_step,
    "forward_backward": _forward_backward,
}


def kernel_cases(workload, kernels=None, seed=0):
    """The cases of `kernels` (default: every interface kernel) for `workload`.

    Returns (cases, missing): missing lists the requested kernels this module cannot
    generate inputs for. The same seed gives the same inputs.
    """
    rng = np.random.default_rng(seed)
    cases, missing = [], []
    for kernel in (KERNELS if kernels is None else kernels):
        builder = BUILDERS.get(kernel)
        if builder is None:
            missing.append(kernel)
        else:
            cases.extend(builder(workload, rng))
    return cases, missing
