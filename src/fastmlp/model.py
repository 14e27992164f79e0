"""The multilayer perceptron: parameters, workspaces, forward and backward passes.

All parameters live in one flat array and each layer's W[out, in] and b[out] are views
into it (gradients likewise), so an optimizer updates the whole network with a single
fused kernel call. Workspaces are allocated once per batch capacity and reused; the
passes themselves only call backend kernels.
"""
from __future__ import annotations

import numpy as np

from .backends import get_backend
from .backends.validation import ACTIVATIONS

INITS = ("he", "xavier")
FORMAT_VERSION = 1


def _check_sizes(sizes):
    try:
        sizes = [int(s) for s in sizes]
    except (TypeError, ValueError):
        raise ValueError(f"sizes must be a sequence of positive integers, got {sizes!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes needs at least an input and an output size, all >= 1; got {sizes}")
    return sizes


class _Workspace:
    """Activation and gradient buffers for batches of up to `capacity` rows."""

    def __init__(self, sizes, capacity, dtype):
        self.capacity = capacity
        self.acts = [np.empty((capacity, s), dtype) for s in sizes[1:]]
        self.grads = [np.empty((capacity, s), dtype) for s in sizes[1:]]


class MLP:
    """A fully connected network ``sizes[0] -> ... -> sizes[-1]`` with softmax cross-entropy.

    Hidden layers use `activation`; the last layer is linear (its logits feed the loss).
    `init` is "he" (normal, std sqrt(2/fan_in)) or "xavier" (normal, std sqrt(2/(fan_in +
    fan_out))); biases start at zero. The same `seed` gives the same parameters.
    """

    def __init__(self, sizes=(784, 1024, 512, 10), activation="relu", init="he", seed=None,
                 dtype=np.float32, backend=None):
        self.sizes = _check_sizes(sizes)
        if activation not in ACTIVATIONS or activation == "identity":
            raise ValueError(f"unknown hidden activation {activation!r}; known: "
                             f"{', '.join(a for a in ACTIVATIONS if a != 'identity')}")
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; known: {', '.join(INITS)}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        self.activation = activation
        self.init = init
        self.backend = get_backend(backend)

        shapes = [(o, i) for i, o in zip(self.sizes[:-1], self.sizes[1:])]
        total = sum(o * i + o for o, i in shapes)
        self.params = np.zeros(total, self.dtype)
        self.grads = np.zeros(total, self.dtype)
        self.weights, self.biases = self._views(self.params, shapes)
        self.weight_grads, self.bias_grads = self._views(self.grads, shapes)
        self._initialize(np.random.default_rng(seed))
        self._ws: _Workspace | None = None

    @staticmethod
    def _views(flat, shapes):
        ws, bs, pos = [], [], 0
        for o, i in shapes:
            ws.append(flat[pos:pos + o * i].reshape(o, i))
            pos += o * i
            bs.append(flat[pos:pos + o])
            pos += o
        return ws, bs

    def _initialize(self, rng):
        for w in self.weights:
            fan_out, fan_in = w.shape
            var = 2.0 / fan_in if self.init == "he" else 2.0 / (fan_in + fan_out)
            w[...] = rng.standard_normal(w.shape) * np.sqrt(var)
        for b in self.biases:
            b.fill(0)

    @property
    def n_layers(self):
        return len(self.weights)

    def layer_activation(self, i):
        return "identity" if i == self.n_layers - 1 else self.activation

    def set_backend(self, backend):
        self.backend = get_backend(backend)

    def _workspace(self, n):
        """Buffers for n rows: one set, grown when a larger batch arrives, else reused."""
        if self._ws is None or self._ws.capacity < n:
            self._ws = _Workspace(self.sizes, max(n, 1), self.dtype)
        return self._ws

    def _check_input(self, x):
        if not isinstance(x, np.ndarray) or x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(f"x must be an array of shape (N, {self.sizes[0]}), "
                             f"got {getattr(x, 'shape', type(x).__name__)}")
        if x.dtype != self.dtype or not x.flags.c_contiguous:
            x = np.ascontiguousarray(x, dtype=self.dtype)
        return x

    # -- passes (kernels only) ---------------------------------------------------------
    def _forward(self, x, ws):
        n = x.shape[0]
        inp = x
        for i in range(self.n_layers):
            out = ws.acts[i][:n]
            self.backend.dense_forward(inp, self.weights[i], self.biases[i], out,
                                       self.layer_activation(i))
            inp = out
        return inp

    def loss_and_grad(self, x, y):
        """Mean softmax cross-entropy on a batch; leaves d(loss)/d(params) in self.grads."""
        n = x.shape[0]
        ws = self._workspace(n)
        return self.backend.forward_backward(
            x, y, self.weights, self.biases, self.weight_grads, self.bias_grads,
            [a[:n] for a in ws.acts], [g[:n] for g in ws.grads], self.activation)

    # -- inference ---------------------------------------------------------------------
    def logits(self, x, batch_size=1000):
        """Logits for every row of x, computed in chunks of batch_size."""
        x = self._check_input(x)
        out = np.empty((x.shape[0], self.sizes[-1]), self.dtype)
        ws = self._workspace(min(batch_size, max(x.shape[0], 1)))
        for start in range(0, x.shape[0], ws.capacity):
            chunk = x[start:start + ws.capacity]
            out[start:start + chunk.shape[0]] = self._forward(chunk, ws)
        return out

    def predict(self, x, batch_size=1000):
        """Predicted class of every row of x."""
        return self.logits(x, batch_size).argmax(axis=1)

    def predict_proba(self, x, batch_size=1000):
        z = self.logits(x, batch_size).astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z

    def evaluate(self, x, y, batch_size=1000):
        """Returns (mean loss, accuracy) on (x, y)."""
        y = check_labels(y, x.shape[0], self.sizes[-1])
        z = self.logits(x, batch_size).astype(np.float64)
        m = z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z - m).sum(axis=1)) + m[:, 0]
        loss = float(np.mean(lse - z[np.arange(len(y)), y])) if len(y) else float("nan")
        acc = float(np.mean(z.argmax(axis=1) == y)) if len(y) else float("nan")
        return loss, acc

    # -- persistence (plain .npz, no pickle) -------------------------------------------
    def save(self, path):
        np.savez(path, format_version=np.int64(FORMAT_VERSION),
                 sizes=np.asarray(self.sizes, np.int64), activation=np.str_(self.activation),
                 init=np.str_(self.init), params=self.params)

    @classmethod
    def load(cls, path, backend=None):
        try:
            with np.load(path, allow_pickle=False) as f:
                version = int(f["format_version"])
                if version != FORMAT_VERSION:
                    raise ValueError(f"{path}: model format {version} is not supported "
                                     f"(this fastmlp reads format {FORMAT_VERSION})")
                sizes = [int(s) for s in f["sizes"]]
                activation, init = str(f["activation"]), str(f["init"])
                params = f["params"]
        except (OSError, KeyError, EOFError) as exc:
            raise ValueError(f"{path}: not a fastmlp model file ({exc})") from exc
        model = cls(sizes, activation=activation, init=init, seed=0, dtype=params.dtype,
                    backend=backend)
        if params.shape != model.params.shape:
            raise ValueError(f"{path}: holds {params.size} parameters but sizes {sizes} "
                             f"need {model.params.size}")
        model.params[...] = params
        return model

    def __repr__(self):
        return (f"MLP(sizes={self.sizes}, activation={self.activation!r}, "
                f"params={self.params.size}, dtype={self.dtype}, backend={self.backend.name!r})")


def check_labels(y, n, n_classes):
    """Labels as a contiguous int64 array of length n with values in [0, n_classes)."""
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"labels must have shape ({n},), got {y.shape}")
    if y.dtype.kind not in "iu":
        raise TypeError(f"labels must be integers, got dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}), got [{y.min()}, {y.max()}]")
    return np.ascontiguousarray(y, dtype=np.int64)
