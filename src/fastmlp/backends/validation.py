"""Argument checks shared by every backend.

Each public kernel of :class:`fastmlp.backends.base.Backend` calls one of these before
dispatching, so the NumPy oracle and the compiled backends reject the same inputs with
the same messages, and a compiled kernel never sees an array it could overrun.
They are written for speed (a few attribute reads), since they run on every call.
"""
from __future__ import annotations

import operator

import numpy as np

from ..hyperparameters import (
    real_number,
    check_adam_hyperparameters,
    check_batch_norm_hyperparameters,
    check_dropout_rate,
    check_rmsprop_hyperparameters,
    check_sgd_hyperparameters,
)

ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh")
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# optimizer step numbers are exchanged as doubles (the C++ bindings): below 9e18 every
# backend, int64 kernels included, takes them the same way
STEP_LIMIT = 9.0e18


def check_step_number(step, name="step"):
    """An optimizer step number: an integer >= 1 below STEP_LIMIT (the C++ rule)."""
    value = real_number(step, name)
    if not (1.0 <= value < STEP_LIMIT and value == int(value)):
        raise ValueError(f"{name} must be an integer >= 1, got {step!r}")


def _array(x, name):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got dtype {x.dtype}")
    if not x.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (use np.ascontiguousarray)")
    _plain(x, name)


def _plain(x, name):
    """x is an ndarray itself, not a subclass (np.matrix and masked arrays index and
    compute differently), and its elements are aligned to their type (the compiled
    kernels read them as such). The same rule as csrc/python/checks.h plain_array."""
    if type(x) is not np.ndarray:
        raise TypeError(f"{name} must be a plain numpy.ndarray, got the subclass "
                        f"{type(x).__module__}.{type(x).__name__} (use np.asarray)")
    if not x.flags.aligned:
        raise ValueError(f"{name} is not aligned to its dtype (a view at a byte offset; "
                         f"copy it with np.array)")


def _out(x, name):
    _array(x, name)
    if not x.flags.writeable:
        raise ValueError(f"{name} must be writable")


def _ndim(x, name, ndim):
    if x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {x.shape}")


def _same_dtype(ref, ref_name, *pairs):
    for x, name in pairs:
        if x.dtype != ref.dtype:
            raise TypeError(f"{name} has dtype {x.dtype} but {ref_name} has dtype {ref.dtype}")


def _in_place(out, x):
    """out starts where x does (their shapes are checked equal): an in-place call, not a
    partial overlap. By address, as the bindings tell it, so views of one buffer count."""
    return out.__array_interface__["data"][0] == x.__array_interface__["data"][0]


def _no_overlap(out, out_name, *pairs):
    for x, name in pairs:
        if x is not None and np.may_share_memory(out, x):
            raise ValueError(f"{out_name} must not overlap {name}")


def check_activation(activation):
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; known: {', '.join(ACTIVATIONS)}")


def check_gemm(a, b, out, trans_a, trans_b):
    """Returns (M, N, K) of out[M,N] = op(a)[M,K] @ op(b)[K,N]."""
    _array(a, "a")
    _array(b, "b")
    _out(out, "out")
    _ndim(a, "a", 2)
    _ndim(b, "b", 2)
    _ndim(out, "out", 2)
    _same_dtype(out, "out", (a, "a"), (b, "b"))
    m, k = (a.shape[1], a.shape[0]) if trans_a else a.shape
    kb, n = (b.shape[1], b.shape[0]) if trans_b else b.shape
    if k != kb:
        raise ValueError(
            f"inner dimensions differ: op(a) is {m}x{k} but op(b) is {kb}x{n} "
            f"(trans_a={bool(trans_a)}, trans_b={bool(trans_b)})")
    if out.shape != (m, n):
        raise ValueError(f"out must have shape {(m, n)}, got {out.shape}")
    _no_overlap(out, "out", (a, "a"), (b, "b"))
    return m, n, k


def check_dense_forward(x, w, b, out, activation, pre):
    _array(x, "x")
    _array(w, "w")
    _array(b, "b")
    _out(out, "out")
    _ndim(x, "x", 2)
    _ndim(w, "w", 2)
    _ndim(b, "b", 1)
    _ndim(out, "out", 2)
    check_activation(activation)
    _same_dtype(out, "out", (x, "x"), (w, "w"), (b, "b"))
    n, k = x.shape
    f, kw = w.shape
    if kw != k:
        raise ValueError(f"x has {k} features but w expects {kw} (w is [out, in] = {w.shape})")
    if b.shape != (f,):
        raise ValueError(f"b must have shape {(f,)}, got {b.shape}")
    if out.shape != (n, f):
        raise ValueError(f"out must have shape {(n, f)}, got {out.shape}")
    _no_overlap(out, "out", (x, "x"), (w, "w"), (b, "b"))
    if pre is not None:
        _out(pre, "pre")
        _same_dtype(out, "out", (pre, "pre"))
        if pre.shape != out.shape:
            raise ValueError(f"pre must have shape {out.shape}, got {pre.shape}")
        _no_overlap(pre, "pre", (out, "out"), (x, "x"), (w, "w"), (b, "b"))


def check_activation_backward(activation, grad, out_act, pre, out):
    check_activation(activation)
    _array(grad, "grad")
    _out(out, "out")
    _same_dtype(out, "out", (grad, "grad"))
    if grad.shape != out.shape:
        raise ValueError(f"out must have shape {grad.shape}, got {out.shape}")
    for x, name in ((out_act, "out_act"), (pre, "pre")):
        if x is not None:
            _array(x, name)
            _same_dtype(out, "out", (x, name))
            if x.shape != grad.shape:
                raise ValueError(f"{name} must have shape {grad.shape}, got {x.shape}")
    # Derivatives are computed from the layer output; relu-like ones (whose output has the
    # sign of its input) may use pre instead when out_act is not kept.
    if out_act is None and activation != "identity" and (
            activation in ("sigmoid", "tanh") or pre is None):
        raise ValueError(f"activation_backward({activation!r}) needs out_act"
                         + ("" if activation in ("sigmoid", "tanh") else " or pre"))
    # out may be grad itself (in-place backward); it must not overlap what it is read against.
    _no_overlap(out, "out", (out_act, "out_act"), (pre, "pre"))
    if not _in_place(out, grad):  # a shifted view of grad would be overwritten before read
        _no_overlap(out, "out", (grad, "grad"))


def check_bias_grad(grad, out):
    _array(grad, "grad")
    _out(out, "out")
    _ndim(grad, "grad", 2)
    _ndim(out, "out", 1)
    _same_dtype(out, "out", (grad, "grad"))
    if out.shape != (grad.shape[1],):
        raise ValueError(f"out must have shape {(grad.shape[1],)}, got {out.shape}")
    _no_overlap(out, "out", (grad, "grad"))


def check_softmax_cross_entropy(logits, labels, grad):
    _array(logits, "logits")
    _out(grad, "grad")
    _ndim(logits, "logits", 2)
    _same_dtype(logits, "logits", (grad, "grad"))
    if grad.shape != logits.shape:
        raise ValueError(f"grad must have shape {logits.shape}, got {grad.shape}")
    if not isinstance(labels, np.ndarray) or labels.dtype != np.int64:
        raise TypeError("labels must be an int64 numpy array, got "
                        f"{getattr(labels, 'dtype', type(labels).__name__)}")
    if labels.shape != (logits.shape[0],) or not labels.flags.c_contiguous:
        raise ValueError(f"labels must be contiguous with shape {(logits.shape[0],)}, "
                         f"got {labels.shape}")
    _plain(labels, "labels")
    if logits.shape[0] == 0 or logits.shape[1] == 0:
        raise ValueError(f"logits must be non-empty, got shape {logits.shape}")
    # out-of-range labels would index outside a row: checked here, once, for every backend
    if labels.size and (labels.min() < 0 or labels.max() >= logits.shape[1]):
        raise ValueError(f"labels must lie in [0, {logits.shape[1]}), "
                         f"got values in [{labels.min()}, {labels.max()}]")
    _no_overlap(grad, "grad", (logits, "logits"))


def check_adam_step(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay):
    _out(param, "param")
    _array(grad, "grad")
    _out(m, "m")
    _out(v, "v")
    _same_dtype(param, "param", (grad, "grad"), (m, "m"), (v, "v"))
    for x, name in ((grad, "grad"), (m, "m"), (v, "v")):
        if x.shape != param.shape:
            raise ValueError(f"{name} must have shape {param.shape}, got {x.shape}")
    _no_overlap(param, "param", (grad, "grad"), (m, "m"), (v, "v"))
    _no_overlap(m, "m", (grad, "grad"), (v, "v"))
    _no_overlap(v, "v", (grad, "grad"))
    check_adam_hyperparameters(lr, beta1, beta2, eps, weight_decay)
    check_step_number(step)


def check_network_state(weights, biases, weight_grads, bias_grads, acts, grads, activation,
                        batch_size, params, param_grads, m, v, xb, yb):
    """NetworkState's arrays: the layers' parameters and gradients, workspaces of
    batch_size rows, and, where given, the flat params / param_grads the layers view,
    Adam's m and v, the minibatch buffers xb / yb. Written arrays overlap nothing."""
    layers = _layer_count(weights, biases, weight_grads, bias_grads, acts, grads)
    check_activation(activation)
    rows = _index(batch_size, "batch_size", 1)
    _check_layers(rows, None, weights, biases, weight_grads, bias_grads, acts, grads)
    named = []
    for i in range(layers):
        named += [(weights[i], f"weights[{i}]", False), (biases[i], f"biases[{i}]", False),
                  (weight_grads[i], f"weight_grads[{i}]", True),
                  (bias_grads[i], f"bias_grads[{i}]", True),
                  (acts[i], f"acts[{i}]", True), (grads[i], f"grads[{i}]", True)]
    if params is not None or param_grads is not None:
        _out(params, "params")
        _ndim(params, "params", 1)
        _same_dtype(weights[0], "weights[0]", (params, "params"))
        _state(params, param_grads, "param_grads")
        for i in range(layers):
            _inside(weights[i], f"weights[{i}]", params, "params")
            _inside(biases[i], f"biases[{i}]", params, "params")
            _inside(weight_grads[i], f"weight_grads[{i}]", param_grads, "param_grads")
            _inside(bias_grads[i], f"bias_grads[{i}]", param_grads, "param_grads")
        # the flat arrays stand for their views in the overlap check
        named = [(params, "params", True), (param_grads, "param_grads", True)]
        named += [(a, f"acts[{i}]", True) for i, a in enumerate(acts)]
        named += [(g, f"grads[{i}]", True) for i, g in enumerate(grads)]
    if m is not None or v is not None:
        if params is None:
            raise ValueError("Adam's m and v need the flat params they belong to")
        _state(params, m, "m")
        _state(params, v, "v")
        named += [(m, "m", True), (v, "v", True)]
    if xb is not None:
        _out(xb, "xb")
        features = weights[0].shape[1]
        if xb.shape != (rows, features):
            raise ValueError(f"xb must have shape {(rows, features)}, got {xb.shape}")
        _same_dtype(xb, "xb", (weights[0], "weights[0]"))
        _int64_vector(yb, "yb", writable=True)
        if yb.shape != (rows,):
            raise ValueError(f"yb must have shape {(rows,)}, got {yb.shape}")
        named += [(xb, "xb", True), (yb, "yb", True)]
    elif yb is not None:
        raise ValueError("yb needs xb")
    _check_disjoint(named)


def _layer_count(weights, biases, weight_grads, bias_grads, acts, grads):
    for seq, name in ((weights, "weights"), (biases, "biases"), (weight_grads, "weight_grads"),
                      (bias_grads, "bias_grads"), (acts, "acts"), (grads, "grads")):
        if not isinstance(seq, (list, tuple)):
            raise TypeError(f"{name} must be a list of arrays, one per layer, "
                            f"got {type(seq).__name__}")
    layers = len(weights)
    if layers == 0:
        raise ValueError("a network needs at least one layer")
    for seq, name in ((biases, "biases"), (weight_grads, "weight_grads"),
                      (bias_grads, "bias_grads"), (acts, "acts"), (grads, "grads")):
        if len(seq) != layers:
            raise ValueError(f"{name} has {len(seq)} entries but weights has {layers}")
    return layers


def _check_layers(rows, features, weights, biases, weight_grads, bias_grads, acts, grads):
    """Each layer's arrays: shapes chained from `features` inputs (None: weights[0]'s),
    workspaces of `rows` rows, one dtype, the outputs writable."""
    inp = features
    for i in range(len(weights)):
        w, b, gw, gb, a, g = (weights[i], biases[i], weight_grads[i], bias_grads[i], acts[i],
                              grads[i])
        _array(w, f"weights[{i}]")
        _ndim(w, f"weights[{i}]", 2)
        f = w.shape[0]
        if inp is None:
            inp = w.shape[1]
        if w.shape[1] != inp:
            raise ValueError(f"weights[{i}] has shape {w.shape}, expected ({f}, {inp})")
        for arr, name, shape in ((b, f"biases[{i}]", (f,)), (gw, f"weight_grads[{i}]", w.shape),
                                 (gb, f"bias_grads[{i}]", (f,)), (a, f"acts[{i}]", (rows, f)),
                                 (g, f"grads[{i}]", (rows, f))):
            _array(arr, name)
            if arr.shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
        for arr, name in ((gw, f"weight_grads[{i}]"), (gb, f"bias_grads[{i}]"),
                          (a, f"acts[{i}]"), (g, f"grads[{i}]")):
            if not arr.flags.writeable:
                raise ValueError(f"{name} must be writable")
        _same_dtype(weights[0], "weights[0]", (w, f"weights[{i}]"), (b, f"biases[{i}]"),
                    (gw, f"weight_grads[{i}]"), (gb, f"bias_grads[{i}]"), (a, f"acts[{i}]"),
                    (g, f"grads[{i}]"))
        inp = f


def address_range(a, name):
    """(start, end, name): the bytes of contiguous array `a`, for _check_apart."""
    start = a.__array_interface__["data"][0]
    return start, start + a.nbytes, name


def _check_apart(x, what, written):
    """Contiguous x overlaps none of the address ranges `written` (as np.may_share_memory
    would tell, at the cost of a few comparisons)."""
    if x.nbytes:
        start, end, _ = address_range(x, what)
        for lo, hi, name in written:
            if lo < end and start < hi and lo < hi:
                raise ValueError(f"{name} must not overlap {what}")


def _network_input(x, state, rows_allowed, written, what="x"):
    """x for the network of `state`: a float array of its dtype and input width with at
    most `rows_allowed` rows, overlapping none of the address ranges `written`."""
    _array(x, what)
    _ndim(x, what, 2)
    if x.dtype != state.dtype:
        raise TypeError(f"{what} has dtype {x.dtype} but the network has dtype {state.dtype}")
    if x.shape[1] != state.features:
        raise ValueError(f"{what} has {x.shape[1]} features but weights[0] expects "
                         f"{state.features} (weights[0] is [out, in] = {state.weights[0].shape})")
    if x.shape[0] > rows_allowed:
        raise ValueError(f"{what} has {x.shape[0]} rows but the network's workspaces hold "
                         f"{rows_allowed} (its batch_size)")
    _check_apart(x, what, written)


def check_forward_backward(x, labels, state):
    _network_input(x, state, state.batch_size, state.pass_written)
    n = x.shape[0]
    if n == 0:
        raise ValueError("x must have at least one row")
    _int_labels(labels, n)
    classes = state.classes
    if n and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"labels must lie in [0, {classes}), got [{labels.min()}, {labels.max()}]")


def _check_disjoint(named):
    """named: (contiguous array, name, written). A written array may overlap no other."""
    spans = sorted((a.__array_interface__["data"][0], a.nbytes, name, w)
                   for a, name, w in named if a.nbytes)
    end, end_name, end_written = -1, None, False
    for start, size, name, written in spans:
        if start < end and (written or end_written):
            raise ValueError(f"{name} must not overlap {end_name}")
        if start + size > end:
            end, end_name, end_written = start + size, name, written


def _index(value, name, low):
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return value


def _int64_vector(a, name, writable=False):
    if not isinstance(a, np.ndarray) or a.dtype != np.int64:
        raise TypeError(f"{name} must be an int64 numpy array, got "
                        f"{getattr(a, 'dtype', type(a).__name__)}")
    if a.ndim != 1 or not a.flags.c_contiguous:
        raise ValueError(f"{name} must be a contiguous 1-D array, got shape {a.shape}")
    _plain(a, name)
    if writable and not a.flags.writeable:
        raise ValueError(f"{name} must be writable")


def _inside(view, name, flat, flat_name):
    start, base = view.__array_interface__["data"][0], flat.__array_interface__["data"][0]
    if view.nbytes and not base <= start <= base + flat.nbytes - view.nbytes:
        raise ValueError(f"{name} must be a view into {flat_name}")


def check_adam_train_steps(x, labels, order, start, steps, state, lr, beta1, beta2, eps, t0,
                           weight_decay, losses, correct=None):
    """Backend.adam_train_steps: a state with Adam's m, v and the minibatch buffers, and
    every order entry the steps read (and the label it selects) in range."""
    if state.m is None or state.xb is None:
        raise ValueError("adam_train_steps needs a NetworkState with m, v, xb and yb")
    _array(x, "x")
    _ndim(x, "x", 2)
    rows = x.shape[0]
    _int64_vector(labels, "labels")
    if labels.shape != (rows,):
        raise ValueError(f"labels must have shape {(rows,)}, got {labels.shape}")
    _int64_vector(order, "order")
    start, steps, t0 = _index(start, "start", 0), _index(steps, "steps", 0), _index(t0, "t0", 0)
    if t0 > (1 << 62) - steps:  # step numbers t0 + 1 .. t0 + steps, as the C++ binding
        raise ValueError("t0 is too large")
    batch_size = state.batch_size
    if steps and start + (steps - 1) * batch_size >= order.shape[0]:
        raise ValueError(f"order has {order.shape[0]} entries: too few for {steps} steps of "
                         f"{batch_size} from {start}")
    check_adam_hyperparameters(lr, beta1, beta2, eps, weight_decay)
    if not isinstance(losses, np.ndarray) or losses.dtype != np.float64:
        raise TypeError("losses must be a float64 numpy array")
    _out(losses, "losses")
    if losses.shape != (steps,):
        raise ValueError(f"losses must have shape {(steps,)}, got {losses.shape}")
    written = state.written + [address_range(losses, "losses")]
    if correct is not None:
        _int64_vector(correct, "correct", writable=True)
        if correct.shape != (steps,):
            raise ValueError(f"correct must have shape {(steps,)}, got {correct.shape}")
        _check_apart(correct, "correct", written)
        written.append(address_range(correct, "correct"))
    _network_input(x, state, rows, written)
    _check_apart(labels, "labels", written)
    _check_apart(order, "order", written)
    _check_apart(losses, "losses", state.written)
    # a copy: read once, so another thread rewriting order cannot change what was checked
    chunk = order[start:start + steps * batch_size].copy()
    if chunk.size:
        if chunk.min() < 0 or chunk.max() >= rows:
            raise ValueError(f"order entries must lie in [0, {rows}) (the rows of x), got "
                             f"[{chunk.min()}, {chunk.max()}]")
        picked, classes = labels[chunk], state.classes
        if picked.min() < 0 or picked.max() >= classes:
            raise ValueError(f"labels must lie in [0, {classes}), got "
                             f"[{picked.min()}, {picked.max()}]")


# -- activation forward, optimizers, losses, dropout, batch norm --------------------------
def _same_shape(ref, ref_name, *pairs):
    for x, name in pairs:
        if x.shape != ref.shape:
            raise ValueError(f"{name} must have shape {ref.shape}, got {x.shape}")


def _state(param, x, name):
    """An optimizer state array: writable, like param, disjoint from it."""
    _out(x, name)
    _same_dtype(param, "param", (x, name))
    _same_shape(param, "param", (x, name))


def _int_labels(labels, n):
    if not isinstance(labels, np.ndarray) or labels.dtype != np.int64:
        raise TypeError("labels must be an int64 numpy array, got "
                        f"{getattr(labels, 'dtype', type(labels).__name__)}")
    if labels.shape != (n,) or not labels.flags.c_contiguous:
        raise ValueError(f"labels must be contiguous with shape {(n,)}, got {labels.shape}")
    _plain(labels, "labels")


def check_activation_forward(activation, x, out):
    check_activation(activation)
    _array(x, "x")
    _out(out, "out")
    _same_dtype(out, "out", (x, "x"))
    _same_shape(x, "x", (out, "out"))
    if not _in_place(out, x):  # in place is fine; a partial overlap is not
        _no_overlap(out, "out", (x, "x"))


def check_sgd_step(param, grad, buf, lr, momentum, nesterov, weight_decay):
    _out(param, "param")
    _array(grad, "grad")
    _same_dtype(param, "param", (grad, "grad"))
    _same_shape(param, "param", (grad, "grad"))
    check_sgd_hyperparameters(lr, momentum, nesterov, weight_decay)
    if buf is None:
        if momentum != 0.0:
            raise ValueError("sgd_step with momentum needs a momentum buffer buf")
    else:
        _state(param, buf, "buf")
        _no_overlap(buf, "buf", (grad, "grad"))
    _no_overlap(param, "param", (grad, "grad"), (buf, "buf"))


def check_rmsprop_step(param, grad, square_avg, buf, lr, alpha, eps, momentum, weight_decay):
    _out(param, "param")
    _array(grad, "grad")
    _same_dtype(param, "param", (grad, "grad"))
    _same_shape(param, "param", (grad, "grad"))
    _state(param, square_avg, "square_avg")
    check_rmsprop_hyperparameters(lr, alpha, eps, momentum, weight_decay)
    if buf is None:
        if momentum != 0.0:
            raise ValueError("rmsprop_step with momentum needs a momentum buffer buf")
    else:
        _state(param, buf, "buf")
        _no_overlap(buf, "buf", (grad, "grad"), (square_avg, "square_avg"))
    _no_overlap(param, "param", (grad, "grad"), (square_avg, "square_avg"), (buf, "buf"))
    _no_overlap(square_avg, "square_avg", (grad, "grad"))


def check_adamw_step(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay):
    # same arrays and ranges as Adam; only the meaning of weight_decay differs
    check_adam_step(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay)


def check_label_loss(outputs, labels, grad, n_classes, what):
    """A loss kernel's (N, C) outputs, int64 labels in [0, n_classes or C), (N, C) grad."""
    _array(outputs, what)
    _out(grad, "grad")
    _ndim(outputs, what, 2)
    _same_dtype(outputs, what, (grad, "grad"))
    _same_shape(outputs, what, (grad, "grad"))
    if outputs.shape[0] == 0 or outputs.shape[1] == 0:
        raise ValueError(f"{what} must be non-empty, got shape {outputs.shape}")
    _int_labels(labels, outputs.shape[0])
    n_classes = outputs.shape[1] if n_classes is None else n_classes
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"labels must lie in [0, {n_classes}), "
                         f"got values in [{labels.min()}, {labels.max()}]")
    _no_overlap(grad, "grad", (outputs, what))


def check_mse_loss(outputs, labels, grad):
    check_label_loss(outputs, labels, grad, None, "outputs")


def check_mse_regression_loss(outputs, targets, grad):
    _array(outputs, "outputs")
    _array(targets, "targets")
    _out(grad, "grad")
    _ndim(outputs, "outputs", 2)
    _same_dtype(outputs, "outputs", (targets, "targets"), (grad, "grad"))
    _same_shape(outputs, "outputs", (targets, "targets"), (grad, "grad"))
    if outputs.shape[0] == 0 or outputs.shape[1] == 0:
        raise ValueError(f"outputs must be non-empty, got shape {outputs.shape}")
    _no_overlap(grad, "grad", (outputs, "outputs"), (targets, "targets"))


def check_sigmoid_binary_cross_entropy(logits, labels, grad):
    if isinstance(logits, np.ndarray) and logits.ndim == 2 and logits.shape[1] != 1:
        raise ValueError(f"binary cross-entropy takes one logit per row, shape (N, 1); "
                         f"got {logits.shape}")
    check_label_loss(logits, labels, grad, 2, "logits")


def check_dropout(x, noise, p, out):
    _array(x, "x")
    _array(noise, "noise")
    _out(out, "out")
    _same_dtype(out, "out", (x, "x"), (noise, "noise"))
    _same_shape(x, "x", (noise, "noise"), (out, "out"))
    check_dropout_rate(p)
    if not _in_place(out, x):
        _no_overlap(out, "out", (x, "x"))
    _no_overlap(out, "out", (noise, "noise"))


def _features(x, name, f, *pairs):
    """Checks that each (array, name, writable) of pairs is a float vector of f entries."""
    for v, vname, writable in pairs:
        (_out if writable else _array)(v, vname)
        _ndim(v, vname, 1)
        _same_dtype(x, name, (v, vname))
        if v.shape != (f,):
            raise ValueError(f"{vname} must have shape {(f,)}, got {v.shape}")


def check_batch_norm_forward(x, gamma, beta, out, mean, invstd, running_mean, running_var,
                             momentum, eps):
    _array(x, "x")
    _ndim(x, "x", 2)
    _out(out, "out")
    _same_dtype(x, "x", (out, "out"))
    _same_shape(x, "x", (out, "out"))
    n, f = x.shape
    if n < 2:
        raise ValueError(f"batch norm in training needs at least 2 rows per batch, got {n}")
    _features(x, "x", f, (gamma, "gamma", False), (beta, "beta", False), (mean, "mean", True),
              (invstd, "invstd", True), (running_mean, "running_mean", True),
              (running_var, "running_var", True))
    check_batch_norm_hyperparameters(momentum, eps)
    _check_disjoint([(x, "x", False), (gamma, "gamma", False), (beta, "beta", False),
                     (out, "out", True), (mean, "mean", True), (invstd, "invstd", True),
                     (running_mean, "running_mean", True), (running_var, "running_var", True)])


def check_batch_norm_inference(x, gamma, beta, running_mean, running_var, out, eps):
    _array(x, "x")
    _ndim(x, "x", 2)
    _out(out, "out")
    _same_dtype(x, "x", (out, "out"))
    _same_shape(x, "x", (out, "out"))
    _features(x, "x", x.shape[1], (gamma, "gamma", False), (beta, "beta", False),
              (running_mean, "running_mean", False), (running_var, "running_var", False))
    check_batch_norm_hyperparameters(0.0, eps)
    _no_overlap(out, "out", (x, "x"), (gamma, "gamma"), (beta, "beta"),
                (running_mean, "running_mean"), (running_var, "running_var"))


def check_batch_norm_backward(grad, x, gamma, mean, invstd, grad_x, grad_gamma, grad_beta):
    _array(grad, "grad")
    _array(x, "x")
    _ndim(x, "x", 2)
    if x.shape[0] == 0:  # the gradient averages over the batch's rows
        raise ValueError("batch_norm_backward needs at least 1 row, got 0")
    _out(grad_x, "grad_x")
    _same_dtype(x, "x", (grad, "grad"), (grad_x, "grad_x"))
    _same_shape(x, "x", (grad, "grad"), (grad_x, "grad_x"))
    _features(x, "x", x.shape[1], (gamma, "gamma", False), (mean, "mean", False),
              (invstd, "invstd", False), (grad_gamma, "grad_gamma", True),
              (grad_beta, "grad_beta", True))
    # grad_x may be grad itself (the reductions are taken before grad is overwritten)
    _no_overlap(grad_x, "grad_x", (x, "x"), (gamma, "gamma"), (mean, "mean"),
                (invstd, "invstd"), (grad_gamma, "grad_gamma"), (grad_beta, "grad_beta"))
    if not _in_place(grad_x, grad):
        _no_overlap(grad_x, "grad_x", (grad, "grad"))
    # the parameter gradients are accumulated in place: they may share nothing they read
    _no_overlap(grad_gamma, "grad_gamma", (grad, "grad"), (x, "x"), (grad_beta, "grad_beta"),
                (gamma, "gamma"), (mean, "mean"), (invstd, "invstd"))
    _no_overlap(grad_beta, "grad_beta", (grad, "grad"), (x, "x"), (gamma, "gamma"),
                (mean, "mean"), (invstd, "invstd"))


# -- indices rewritten during a call ------------------------------------------------------
def indices_changed(what, detail=""):
    """The error a kernel raises when an index it checked at the point of use (a label, an
    order entry) was out of range: another thread rewrote it after the checks above."""
    return ValueError(f"{what} changed while the kernel ran (another thread wrote them)"
                      f"{detail}; the outputs are undefined")
