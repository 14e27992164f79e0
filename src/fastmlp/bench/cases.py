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


def _hidden(w):
    """(layer number, rows, features) of each hidden layer's output: where activations,
    dropout and batch norm act (784-1024-512-10@128: 128x1024 and 128x512)."""
    return [(i, w.batch, f) for i, f in enumerate(w.sizes[1:-1], 1)]


def _n_params(w):
    """Parameters of the whole network (weights and biases), 1,333,770 for 784-1024-512-10."""
    return sum(i * o + o for i, o in w.layers)


def _outputs(w, rng, classes=None):
    """A loss kernel's inputs: (N, C) outputs, int64 labels in [0, C), an (N, C) gradient."""
    n, c = w.batch, classes or w.sizes[-1]
    logits = _rand(rng, n, c, scale=3.0)
    labels = rng.integers(0, max(c, 2), n).astype(np.int64)
    return logits, labels, np.empty_like(logits), F32 * 2.0 * n * c + 8.0 * n  # bytes touched


def _optimizer_case(kernel, w, rng, n_state, step):
    """An in-place step over the whole network's parameters (one flat array, as the model
    keeps them) with n_state state arrays: it reads param, grad and the states and writes
    param and the states. step(backend, param, grad, *states) makes the call."""
    size = _n_params(w)
    param, grad = _rand(rng, size, scale=0.05), _rand(rng, size, scale=1e-2)
    state = [np.zeros_like(param) for _ in range(n_state)]
    return Case(kernel, f"{size} params", lambda be: step(be, param, grad, *state),
                nbytes=(3.0 + 2 * n_state) * F32 * size, footprint=(2.0 + n_state) * F32 * size)


def _batch_norm_inputs(rng, n, f):
    """x (N, F) and per-feature gamma, beta, mean, inverse std (or running variance)."""
    vec = lambda: _rand(rng, f, scale=0.1)
    return _rand(rng, n, f), 1 + vec(), vec(), vec(), 1 + np.abs(vec())


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
    for i, n, fout in _hidden(w):
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
    logits, labels, grad, nbytes = _outputs(w, rng)
    yield Case("softmax_cross_entropy", "x".join(map(str, logits.shape)),
               lambda be: be.softmax_cross_entropy(logits, labels, grad), nbytes=nbytes)


def _mse_loss(w, rng):
    outputs, labels, grad, nbytes = _outputs(w, rng)
    yield Case("mse_loss", "x".join(map(str, outputs.shape)),
               lambda be: be.mse_loss(outputs, labels, grad), nbytes=nbytes)


def _mse_regression_loss(w, rng):
    # real-valued targets of the outputs' shape: one more array read than mse_loss
    outputs, _, grad, nbytes = _outputs(w, rng)
    targets = rng.standard_normal(outputs.shape).astype(outputs.dtype)
    yield Case("mse_regression_loss", "x".join(map(str, outputs.shape)),
               lambda be: be.mse_regression_loss(outputs, targets, grad),
               nbytes=nbytes + targets.nbytes)


def _sigmoid_binary_cross_entropy(w, rng):
    # a binary classifier's one logit per row, on the workload's batch
    logits, labels, grad, nbytes = _outputs(w, rng, classes=1)
    yield Case("sigmoid_binary_cross_entropy", "x".join(map(str, logits.shape)),
               lambda be: be.sigmoid_binary_cross_entropy(logits, labels, grad), nbytes=nbytes)


def _activation_forward(w, rng):
    for i, n, f in _hidden(w):
        x, out = _rand(rng, n, f), np.empty((n, f), np.float32)
        yield Case("activation_forward", f"L{i} {n}x{f} {w.activation}",
                   lambda be, x=x, out=out: be.activation_forward(w.activation, x, out),
                   nbytes=2.0 * F32 * n * f)


def _dropout(w, rng):
    for i, n, f in _hidden(w):
        x, noise = _rand(rng, n, f), rng.random((n, f), dtype=np.float32)
        out = np.empty_like(x)  # not in place: repeated calls would grow x without bound
        yield Case("dropout", f"L{i} {n}x{f} p=0.5",
                   lambda be, x=x, noise=noise, out=out: be.dropout(x, noise, 0.5, out),
                   nbytes=3.0 * F32 * n * f)


def _batch_norm_forward(w, rng):
    for i, n, f in _hidden(w):
        x, gamma, beta, run_mean, run_var = _batch_norm_inputs(rng, n, f)
        out, mean, invstd = np.empty_like(x), np.empty_like(gamma), np.empty_like(gamma)
        yield Case("batch_norm_forward", f"L{i} {n}x{f}",
                   lambda be, a=(x, gamma, beta, out, mean, invstd, run_mean, run_var):
                   be.batch_norm_forward(*a),
                   # reads x, gamma, beta and the running stats; writes out, mean, invstd
                   # and the running stats (x read once: a second pass finds it in cache)
                   nbytes=F32 * (2.0 * n * f + 8 * f), footprint=F32 * (2.0 * n * f + 6 * f))


def _batch_norm_inference(w, rng):
    for i, n, f in _hidden(w):
        x, gamma, beta, run_mean, run_var = _batch_norm_inputs(rng, n, f)
        out = np.empty_like(x)
        yield Case("batch_norm_inference", f"L{i} {n}x{f}",
                   lambda be, a=(x, gamma, beta, run_mean, run_var, out):
                   be.batch_norm_inference(*a),
                   nbytes=F32 * (2.0 * n * f + 4 * f))  # x and 4 vectors in, out out


def _batch_norm_backward(w, rng):
    for i, n, f in _hidden(w):
        x, gamma, _, mean, invstd = _batch_norm_inputs(rng, n, f)
        grad, grad_x = _rand(rng, n, f), np.empty_like(x)
        grad_gamma, grad_beta = np.empty_like(gamma), np.empty_like(gamma)
        yield Case("batch_norm_backward", f"L{i} {n}x{f}",
                   lambda be, a=(grad, x, gamma, mean, invstd, grad_x, grad_gamma, grad_beta):
                   be.batch_norm_backward(*a),
                   # reads grad, x, gamma, mean, invstd; writes grad_x, grad_gamma, grad_beta
                   nbytes=F32 * (3.0 * n * f + 5 * f))


def _adam_step(w, rng):
    yield _optimizer_case("adam_step", w, rng, 2, lambda be, p, g, m, v:
                          be.adam_step(p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 10))


def _adamw_step(w, rng):
    yield _optimizer_case("adamw_step", w, rng, 2, lambda be, p, g, m, v:
                          be.adamw_step(p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 10, 0.01))


def _sgd_step(w, rng):  # with momentum, as SGD is trained in practice
    yield _optimizer_case("sgd_step", w, rng, 1, lambda be, p, g, buf:
                          be.sgd_step(p, g, buf, 0.01, momentum=0.9))


def _rmsprop_step(w, rng):  # torch's defaults: no momentum buffer
    yield _optimizer_case("rmsprop_step", w, rng, 1, lambda be, p, g, sq:
                          be.rmsprop_step(p, g, sq, None, 0.01))


def _forward_backward(w, rng):
    n = w.batch
    model = MLP(w.sizes, activation=w.activation, seed=0, backend="numpy")  # only its arrays
    x = np.clip(_rand(rng, n, w.sizes[0], scale=0.5) + 0.5, 0, 1)  # pixel-like inputs
    labels = rng.integers(0, w.sizes[-1], n).astype(np.int64)
    state = model.network_state(n)
    yield Case("forward_backward", f"{'-'.join(map(str, w.sizes))} batch {n}",
               lambda be: be.forward_backward(x, labels, state), flops=w.step_flops())


def _adam_train_steps(w, rng, steps=8):
    """A chunk of whole Adam training steps, as the training loop runs them: minibatches
    gathered from a shuffled dataset of `steps` batches; rated by the steps' GEMM FLOPs."""
    n = w.batch
    model = MLP(w.sizes, activation=w.activation, seed=0, backend="numpy")  # only its arrays
    x = np.clip(_rand(rng, steps * n, w.sizes[0], scale=0.5) + 0.5, 0, 1)
    labels = rng.integers(0, w.sizes[-1], steps * n).astype(np.int64)
    order = rng.permutation(steps * n)
    state = model.network_state(
        n, xb=np.empty((n, w.sizes[0]), np.float32), yb=np.empty(n, np.int64),
        m=np.zeros_like(model.params), v=np.zeros_like(model.params))
    losses = np.empty(steps)
    yield Case("adam_train_steps", f"{'-'.join(map(str, w.sizes))} batch {n} x {steps} steps",
               lambda be: be.adam_train_steps(x, labels, order, 0, steps, state, 1e-4, 0.9,
                                              0.999, 1e-8, 10, 0.0, losses),
               flops=steps * w.step_flops())


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
    "activation_forward": _activation_forward,
    "mse_loss": _mse_loss,
    "mse_regression_loss": _mse_regression_loss,
    "sigmoid_binary_cross_entropy": _sigmoid_binary_cross_entropy,
    "dropout": _dropout,
    "batch_norm_forward": _batch_norm_forward,
    "batch_norm_inference": _batch_norm_inference,
    "batch_norm_backward": _batch_norm_backward,
    "sgd_step": _sgd_step,
    "rmsprop_step": _rmsprop_step,
    "adamw_step": _adamw_step,
    "adam_train_steps": _adam_train_steps,
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
