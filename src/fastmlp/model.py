"""The multilayer perceptron: parameters, workspaces, forward and backward passes.

All parameters live in one flat array and each layer's W[out, in], b[out] (and gamma[out]
with batch norm) are views into it (gradients likewise), so an optimizer updates the whole
network with a single fused kernel call. Batch norm's running statistics live in a second
flat array, `buffers`. Workspaces are allocated once per batch capacity and reused; the
passes themselves only call backend kernels.

A plain network (softmax cross-entropy, no dropout, no batch norm) trains through the
backend's fused ``forward_backward`` kernel; any other network through the per-kernel
passes below, which are also used for inference by every network.
"""
from __future__ import annotations

import numpy as np

from .backends import ACTIVATIONS, NetworkState, get_backend
from .hyperparameters import check_batch_norm_hyperparameters, check_dropout_rate
from .losses import get_loss
from .model_file import FORMAT_VERSION, load_model, save_model  # noqa: F401 (re-exported)

# name -> (fan used for the scale, distribution); weights have zero-mean, biases are zero
INITS = {
    "he": ("fan_in", "normal"),              # std sqrt(2 / fan_in): keeps ReLU variance
    "he_uniform": ("fan_in", "uniform"),     # U(-sqrt(6 / fan_in), +sqrt(6 / fan_in))
    "xavier": ("fan_avg", "normal"),         # std sqrt(2 / (fan_in + fan_out)): tanh, sigmoid
    "xavier_uniform": ("fan_avg", "uniform"),  # U(+-sqrt(6 / (fan_in + fan_out)))
}
INIT_ALIASES = {"he_normal": "he", "kaiming": "he", "kaiming_uniform": "he_uniform",
                "xavier_normal": "xavier", "glorot": "xavier", "glorot_normal": "xavier",
                "glorot_uniform": "xavier_uniform"}
# The one weight initialization default of MLP, the estimators and `fastmlp train`: Glorot
# reached 98% test accuracy by epoch 5 of the seed recipe more often than He (mean over
# seeds 0-3: 98.05% vs 97.84%; docs/BENCHMARKS.md, "Accuracy of the seed recipe").
DEFAULT_INIT = "xavier"
HIDDEN_ACTIVATIONS = tuple(a for a in ACTIVATIONS if a != "identity")


def _check_sizes(sizes):
    try:
        sizes = [int(s) for s in sizes]
    except (TypeError, ValueError):
        raise ValueError(f"sizes must be a sequence of positive integers, got {sizes!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes needs at least an input and an output size, all >= 1; got {sizes}")
    return sizes


def canonical_init(init):
    name = INIT_ALIASES.get(init, init)
    if name not in INITS:
        raise ValueError(f"unknown init {init!r}; known: {', '.join([*INITS, *INIT_ALIASES])}")
    return name


def _init_weights(w, init, rng):
    """Fills w[out, in] by the scheme `init` (see INITS), drawing from rng."""
    fan_out, fan_in = w.shape
    fan, dist = INITS[init]
    var = 2.0 / fan_in if fan == "fan_in" else 2.0 / (fan_in + fan_out)
    if dist == "normal":
        w[...] = rng.standard_normal(w.shape) * np.sqrt(var)
    else:  # U(-a, a) has variance a^2 / 3
        bound = np.sqrt(3.0 * var)
        w[...] = rng.uniform(-bound, bound, w.shape)


class _Workspace:
    """Activation and gradient buffers for batches of up to `capacity` rows.

    acts[i] is layer i's output (after its activation); grads[i] is d(loss)/d(layer i's
    pre-activation) during the backward pass. Batch-norm layers also keep their linear
    output (pre[i]) and batch statistics; dropout layers their noise and dropped output.
    """

    def __init__(self, model, capacity):
        dtype = model.dtype
        widths = model.sizes[1:]
        self.capacity = capacity
        self.acts = [np.empty((capacity, f), dtype) for f in widths]
        self.grads = [np.empty((capacity, f), dtype) for f in widths]
        bn = [g is not None for g in model.gammas]
        self.pre = [np.empty((capacity, f), dtype) if on else None for f, on in zip(widths, bn)]
        self.mean = [np.empty(f, dtype) if on else None for f, on in zip(widths, bn)]
        self.invstd = [np.empty(f, dtype) if on else None for f, on in zip(widths, bn)]
        drop = [model.dropout > 0 and i < model.n_layers - 1 for i in range(model.n_layers)]
        self.noise = [np.empty((capacity, f), dtype) if on else None for f, on in zip(widths, drop)]
        self.dropped = [np.empty((capacity, f), dtype) if on else None
                        for f, on in zip(widths, drop)]
        # the fused step's view of the network, checked once here
        self.network = model.network_state(capacity, self) if model.uses_fused_step else None


class MLP:
    """A fully connected network ``sizes[0] -> ... -> sizes[-1]`` classifier.

    Hidden layers use `activation`. `loss` is "cross_entropy" (softmax over linear
    outputs), "mse" (sigmoid outputs against one-hot targets), "bce" (a single output
    unit: binary cross-entropy from its logit; labels 0/1) or, for regression,
    "squared_error" (linear outputs against real-valued targets of shape (N, outputs)).
    `init` is "he" / "he_uniform" (variance 2 / fan_in) or "xavier" / "xavier_uniform"
    (variance 2 / (fan_in + fan_out)), default DEFAULT_INIT; biases start at zero; the same `seed` gives the same
    parameters and, unless a training loop passes its own generator, the same dropout masks.
    `dropout` is the probability of zeroing each hidden unit in training (inverted scaling,
    off in evaluation). `batch_norm` normalizes every hidden layer's linear output before its
    activation (torch BatchNorm1d: `bn_momentum`, `bn_eps`); such a layer has no separate
    bias, as normalization cancels it: its b is batch norm's shift (beta), next to gamma.
    """

    def __init__(self, sizes=(784, 1024, 512, 10), activation="relu", init=DEFAULT_INIT, seed=None,
                 dtype=np.float32, backend=None, *, loss="cross_entropy", dropout=0.0,
                 batch_norm=False, bn_momentum=0.1, bn_eps=1e-5):
        self.sizes = _check_sizes(sizes)
        if activation not in HIDDEN_ACTIVATIONS:
            raise ValueError(f"unknown hidden activation {activation!r}; known: "
                             f"{', '.join(HIDDEN_ACTIVATIONS)}")
        self.init = canonical_init(init)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        self.loss = get_loss(loss)
        self.loss.check_outputs(self.sizes[-1])
        check_dropout_rate(dropout)
        check_batch_norm_hyperparameters(bn_momentum, bn_eps)
        self.activation = activation
        self.dropout = float(dropout)
        self.batch_norm = bool(batch_norm)
        self.bn_momentum, self.bn_eps = float(bn_momentum), float(bn_eps)
        self.backend = get_backend(backend)

        n_layers = len(self.sizes) - 1
        self._bn = [self.batch_norm and i < n_layers - 1 for i in range(n_layers)]
        self._allocate()
        rng = np.random.default_rng(seed)
        self._initialize(rng)
        self._rng = rng  # dropout masks when the caller passes no generator
        self._ws: _Workspace | None = None

    # -- parameters ---------------------------------------------------------------------
    def _allocate(self):
        """The flat parameter, gradient and buffer arrays, and each layer's views into them."""
        layers = list(zip(self.sizes[:-1], self.sizes[1:]))
        sizes = [o * i + o + (o if bn else 0) for (i, o), bn in zip(layers, self._bn)]
        self.params = np.zeros(sum(sizes), self.dtype)
        self.grads = np.zeros(sum(sizes), self.dtype)
        ends = np.cumsum(sizes)
        self.layer_slices = [slice(int(e - s), int(e)) for e, s in zip(ends, sizes)]
        self.weights, self.biases, self.gammas = self._views(self.params)
        self.weight_grads, self.bias_grads, self.gamma_grads = self._views(self.grads)
        bn_widths = [o for (_, o), bn in zip(layers, self._bn) if bn]
        self.buffers = np.zeros(2 * sum(bn_widths), self.dtype)
        self.running_means, self.running_vars, pos = [], [], 0
        for (_, o), bn in zip(layers, self._bn):
            self.running_means.append(self.buffers[pos:pos + o] if bn else None)
            self.running_vars.append(self.buffers[pos + o:pos + 2 * o] if bn else None)
            pos += 2 * o if bn else 0

    def _views(self, flat):
        ws, bs, gs = [], [], []
        for (i, o), sl, bn in zip(zip(self.sizes[:-1], self.sizes[1:]), self.layer_slices,
                                  self._bn):
            layer = flat[sl]
            ws.append(layer[:o * i].reshape(o, i))
            bs.append(layer[o * i:o * i + o])
            gs.append(layer[o * i + o:] if bn else None)
        return ws, bs, gs

    def _initialize(self, rng):
        for w in self.weights:
            _init_weights(w, self.init, rng)
        for b in self.biases:
            b.fill(0)
        for g in self.gammas:
            if g is not None:
                g.fill(1)
        self.reset_running_stats()

    def reset_running_stats(self):
        for m, v in zip(self.running_means, self.running_vars):
            if m is not None:
                m.fill(0)
                v.fill(1)

    def named_parameters(self):
        """(name, parameter view, gradient view) for every parameter array, input to output.

        Names are W1, b1, ... by layer (1-based); batch-norm layers have gamma1, beta1.
        """
        out = []
        for i in range(self.n_layers):
            k = i + 1
            out.append((f"W{k}", self.weights[i], self.weight_grads[i]))
            if self.gammas[i] is not None:
                out.append((f"gamma{k}", self.gammas[i], self.gamma_grads[i]))
                out.append((f"beta{k}", self.biases[i], self.bias_grads[i]))
            else:
                out.append((f"b{k}", self.biases[i], self.bias_grads[i]))
        return out

    @property
    def n_layers(self):
        return len(self.weights)

    @property
    def n_classes(self):
        return self.loss.n_classes(self.sizes[-1])

    @property
    def uses_fused_step(self):
        """Whether training steps run as one backend.forward_backward call."""
        return self.loss.name == "cross_entropy" and self.dropout == 0 and not self.batch_norm

    @property
    def min_train_batch(self):
        """The fewest rows a training batch needs: batch statistics need 2."""
        return 2 if self.batch_norm else 1

    def layer_activation(self, i):
        return self.loss.output_activation if i == self.n_layers - 1 else self.activation

    def set_backend(self, backend):
        self.backend = get_backend(backend)

    def _workspace(self, n):
        """Buffers for n rows: one set, grown when a larger batch arrives, else reused."""
        if self._ws is None or self._ws.capacity < n:
            self._ws = _Workspace(self, max(n, 1))
        return self._ws

    def network_state(self, batch_size, ws=None, **extra):
        """A NetworkState of this (plain) network for batches of up to batch_size rows, on
        the workspace's acts and grads (ws, else this model's); `extra` adds Adam's m, v and
        the minibatch buffers xb, yb (see fastmlp.backends.state.NetworkState)."""
        ws = self._workspace(batch_size) if ws is None else ws
        return NetworkState(self.weights, self.biases, self.weight_grads, self.bias_grads,
                            [a[:batch_size] for a in ws.acts],
                            [g[:batch_size] for g in ws.grads], self.activation, batch_size,
                            params=self.params, param_grads=self.grads, **extra)

    def _check_input(self, x):
        if not isinstance(x, np.ndarray) or x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(f"x must be an array of shape (N, {self.sizes[0]}), "
                             f"got {getattr(x, 'shape', type(x).__name__)}")
        if x.dtype != self.dtype or not x.flags.c_contiguous:
            x = np.ascontiguousarray(x, dtype=self.dtype)
        return x

    # -- passes (kernels only) ---------------------------------------------------------
    def _forward(self, x, ws, training, rng=None):
        """The network's output for the rows of x, in ws.acts[-1][:n].

        In training, batch norm uses batch statistics (updating the running ones) and
        dropout draws fresh noise from rng; in evaluation, running statistics and no dropout.
        """
        be, n, inp = self.backend, x.shape[0], x
        for i in range(self.n_layers):
            out, act = ws.acts[i][:n], self.layer_activation(i)
            if self.gammas[i] is None:
                be.dense_forward(inp, self.weights[i], self.biases[i], out, act)
            else:
                z = ws.pre[i][:n]
                be.gemm(inp, self.weights[i], z, trans_b=True)
                if training:
                    be.batch_norm_forward(z, self.gammas[i], self.biases[i], out, ws.mean[i],
                                          ws.invstd[i], self.running_means[i],
                                          self.running_vars[i], self.bn_momentum, self.bn_eps)
                else:
                    be.batch_norm_inference(z, self.gammas[i], self.biases[i],
                                            self.running_means[i], self.running_vars[i], out,
                                            self.bn_eps)
                be.activation_forward(act, out, out)
            if training and ws.noise[i] is not None:
                noise = ws.noise[i][:n]
                rng.random(dtype=self.dtype, out=noise)
                out = be.dropout(out, noise, self.dropout, ws.dropped[i][:n])
            inp = out
        return inp

    def _layer_input(self, x, ws, i, n):
        """What layer i read in the training forward pass."""
        if i == 0:
            return x
        return ws.acts[i - 1][:n] if ws.dropped[i - 1] is None else ws.dropped[i - 1][:n]

    def _backward(self, x, ws):
        """Parameter gradients, given d(loss)/d(last pre-activation) in ws.grads[-1]."""
        be, n = self.backend, x.shape[0]
        for i in range(self.n_layers - 1, -1, -1):
            g = ws.grads[i][:n]
            if self.gammas[i] is None:
                be.bias_grad(g, self.bias_grads[i])
            else:  # in place: g becomes d(loss)/d(linear output)
                be.batch_norm_backward(g, ws.pre[i][:n], self.gammas[i], ws.mean[i],
                                       ws.invstd[i], g, self.gamma_grads[i], self.bias_grads[i])
            be.gemm(g, self._layer_input(x, ws, i, n), self.weight_grads[i], trans_a=True)
            if i > 0:
                below = ws.grads[i - 1][:n]
                be.gemm(g, self.weights[i], below)
                if ws.noise[i - 1] is not None:
                    be.dropout(below, ws.noise[i - 1][:n], self.dropout, below)
                be.activation_backward(self.activation, below, ws.acts[i - 1][:n], None, below)

    def loss_and_grad(self, x, y, rng=None):
        """Mean training loss on a batch; leaves d(loss)/d(params) in self.grads.

        x must be C-contiguous in the model's dtype and y as check_targets returns it (int64
        labels, or regression targets in the model's dtype; the training loop prepares them
        once). Dropout masks are drawn from `rng` (default: the model's own generator).
        """
        n = x.shape[0]
        ws = self._workspace(n)
        if self.uses_fused_step:
            return self.backend.forward_backward(x, y, ws.network)
        out = self._forward(x, ws, training=True, rng=self._rng if rng is None else rng)
        g = ws.grads[-1][:n]
        loss = getattr(self.backend, self.loss.kernel)(out, y, g)
        if self.loss.grad_wrt_output:
            self.backend.activation_backward(self.loss.output_activation, g, out, None, g)
        self._backward(x, ws)
        return loss

    def training_correct(self, y):
        """How many of the last training batch's rows (labels y) its forward pass
        classified right: from the outputs loss_and_grad left in the workspace."""
        return int(np.count_nonzero(self.loss.predict(self._ws.acts[-1][:y.shape[0]]) == y))

    # -- inference ---------------------------------------------------------------------
    def _chunks(self, x, batch_size):
        """(start, outputs) over x in evaluation mode; outputs live in the workspace."""
        ws = self._workspace(min(batch_size, max(x.shape[0], 1)))
        for start in range(0, x.shape[0], ws.capacity):
            yield start, self._forward(x[start:start + ws.capacity], ws, training=False)

    def logits(self, x, batch_size=1000):
        """The last layer's outputs for every row of x (evaluation mode), in chunks.

        These are logits for cross-entropy and bce, and sigmoid outputs for mse.
        """
        x = self._check_input(x)
        out = np.empty((x.shape[0], self.sizes[-1]), self.dtype)
        for start, chunk in self._chunks(x, batch_size):
            out[start:start + chunk.shape[0]] = chunk
        return out

    def predict(self, x, batch_size=1000):
        """Predicted class of every row of x (regression: the predicted values)."""
        return self.loss.predict(self.logits(x, batch_size))

    def predict_proba(self, x, batch_size=1000):
        """Class probabilities (N, classes), float64."""
        return self.loss.probabilities(self.logits(x, batch_size))

    def evaluate(self, x, y, batch_size=1000):
        """Returns (mean loss, accuracy) on (x, y), in evaluation mode (regression: accuracy
        is nan)."""
        x = self._check_input(x)
        y = self.check_targets(y, x.shape[0])
        if not len(y):
            return float("nan"), float("nan")
        loss_kernel = getattr(self.backend, self.loss.kernel)
        total, correct = 0.0, 0
        for start, out in self._chunks(x, batch_size):
            k = out.shape[0]
            labels = y[start:start + k]
            # the loss kernel's gradient output is scratch here
            total += loss_kernel(out, labels, self._ws.grads[-1][:k]) * k
            if not self.loss.regression:
                correct += int(np.count_nonzero(self.loss.predict(out) == labels))
        return total / len(y), (float("nan") if self.loss.regression else correct / len(y))

    def check_targets(self, y, n):
        """Training targets as the loss kernels take them: int64 labels, or for regression
        real values of shape (n, outputs) in the model's dtype ((n,) with one output)."""
        if not self.loss.regression:
            return check_labels(y, n, self.n_classes)
        y = np.asarray(y)
        outputs = self.sizes[-1]
        if y.ndim == 1 and outputs == 1:
            y = y.reshape(-1, 1)
        if y.shape != (n, outputs):
            raise ValueError(f"targets must have shape ({n}, {outputs})"
                             f"{f' or ({n},)' if outputs == 1 else ''}, got {y.shape}")
        if y.dtype.kind not in "iuf":
            raise TypeError(f"regression targets must be real numbers, got dtype {y.dtype}")
        return np.ascontiguousarray(y, dtype=self.dtype)

    # -- state and persistence (plain .npz, no pickle) ----------------------------------
    def get_state(self):
        """Copies of everything training changes: parameters and running statistics."""
        return {"params": self.params.copy(), "buffers": self.buffers.copy()}

    def set_state(self, state):
        """Restores a get_state() snapshot in place (the views stay valid)."""
        for key in ("params", "buffers"):
            src, dst = np.asarray(state[key]), getattr(self, key)
            if src.shape != dst.shape:
                raise ValueError(f"state {key} has shape {src.shape}, this model needs {dst.shape}")
            dst[...] = src

    def config(self):
        """The constructor arguments that fix the architecture (saved with the model)."""
        return dict(sizes=list(self.sizes), activation=self.activation, init=self.init,
                    loss=self.loss.name, dropout=self.dropout, batch_norm=self.batch_norm,
                    bn_momentum=self.bn_momentum, bn_eps=self.bn_eps)

    def save(self, path):
        """Writes the model to `path` (.npz added if missing) atomically: see model_file."""
        return save_model(self, path)

    @classmethod
    def load(cls, path, backend=None):
        """The model saved at `path`; a bad file raises ModelFileError naming it."""
        return load_model(cls, path, backend)

    # -- pickling: configuration, parameters, buffers and the dropout generator only; the
    # views and workspaces are rebuilt, and the arrays copied (so a read-only memory map,
    # e.g. from joblib.load(..., mmap_mode="r"), gives a model that trains)
    def __getstate__(self):
        return {"config": self.config(), "dtype": self.dtype.str, "backend": self.backend.name,
                "params": self.params, "buffers": self.buffers,
                "rng": self._rng.bit_generator.state}

    def __setstate__(self, state):
        self.__init__(seed=0, dtype=state["dtype"], backend=state["backend"], **state["config"])
        self.set_state(state)
        self._rng.bit_generator.state = state["rng"]

    def __repr__(self):
        extras = "".join([f", loss={self.loss.name!r}" if self.loss.name != "cross_entropy" else "",
                          f", dropout={self.dropout}" if self.dropout else "",
                          ", batch_norm=True" if self.batch_norm else ""])
        return (f"MLP(sizes={self.sizes}, activation={self.activation!r}{extras}, "
                f"params={self.params.size}, dtype={self.dtype}, backend={self.backend.name!r})")


class _UnsupportedFormat(Exception):
    """A model file of a format version this fastmlp cannot read (MLP.load reports it)."""


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
