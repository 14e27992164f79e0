"""NetworkState: the arrays a plain MLP's fused training kernels read and write, as one
object built and checked once (when a workspace is allocated), so forward_backward and
adam_train_steps take it and check per call only what changes per call."""
from __future__ import annotations

from . import validation as check


class NetworkState:
    """A plain MLP's arrays for batches of up to `batch_size` rows.

    weights[i] [out, in], biases[i] [out] and their gradients weight_grads / bias_grads;
    the workspaces acts[i] and grads[i] [batch_size, out] (layer outputs, and d(loss)/d(pre-
    activation) during the backward pass); the hidden layers' `activation`. For
    adam_train_steps also the flat `params` / `param_grads` the layers view, Adam's `m` and
    `v` (like params) and the minibatch buffers `xb` [batch_size, in] and `yb` [batch_size]
    (int64). The arrays are kept, not copied: kernels update them in place, and a state's
    arrays are never replaced (a model's or an optimizer's arrays live as long as it). Raises
    TypeError / ValueError naming the array that does not fit.
    """

    __slots__ = ("weights", "biases", "weight_grads", "bias_grads", "acts", "grads",
                 "activation", "batch_size", "params", "param_grads", "m", "v", "xb", "yb",
                 "pass_written", "written", "_rows", "prepared")

    def __init__(self, weights, biases, weight_grads, bias_grads, acts, grads, activation,
                 batch_size, *, params=None, param_grads=None, m=None, v=None, xb=None,
                 yb=None):
        check.check_network_state(weights, biases, weight_grads, bias_grads, acts, grads,
                                  activation, batch_size, params, param_grads, m, v, xb, yb)
        self.weights, self.biases = list(weights), list(biases)
        self.weight_grads, self.bias_grads = list(weight_grads), list(bias_grads)
        self.acts, self.grads = list(acts), list(grads)
        self.activation, self.batch_size = activation, int(batch_size)
        self.params, self.param_grads, self.m, self.v = params, param_grads, m, v
        self.xb, self.yb = xb, yb
        # the address ranges (start, end, name) of what forward_backward writes, and of
        # what adam_train_steps writes: the per-call overlap checks test their inputs
        # against these (the arrays are fixed for the state's life)
        self.pass_written = [check.address_range(a, f"{name}[{i}]") for name, seq in (
            ("weight_grads", self.weight_grads), ("bias_grads", self.bias_grads),
            ("acts", self.acts), ("grads", self.grads)) for i, a in enumerate(seq)]
        self.written = self.pass_written + [
            check.address_range(a, name) for a, name in (
                (params, "params"), (m, "m"), (v, "v"), (xb, "xb"), (yb, "yb"),
                (param_grads, "param_grads")) if a is not None]
        self._rows = {}
        # a backend's own form of this state, made on its first use (the cpp backend's
        # fastmlp._cpp.Network), by backend name: the arrays above are fixed for the state's
        # life, so it stays valid
        self.prepared = {}

    @property
    def dtype(self):
        return self.weights[0].dtype

    @property
    def features(self):
        """The network's input width."""
        return self.weights[0].shape[1]

    @property
    def classes(self):
        return self.weights[-1].shape[0]

    def rows(self, n):
        """(acts, grads) for the first n rows of every workspace (kept per n)."""
        views = self._rows.get(n)
        if views is None:
            views = self._rows[n] = ([a[:n] for a in self.acts], [g[:n] for g in self.grads])
        return views

    def __repr__(self):
        sizes = [self.features] + [w.shape[0] for w in self.weights]
        extras = " with Adam state and minibatch buffers" if self.m is not None else ""
        return (f"<NetworkState {'-'.join(map(str, sizes))} {self.activation} "
                f"batch_size={self.batch_size} {self.dtype}{extras}>")
