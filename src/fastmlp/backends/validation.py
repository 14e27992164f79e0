"""Argument checks shared by every backend.

Each public kernel of :class:`fastmlp.backends.base.Backend` calls one of these before
dispatching, so the NumPy oracle and the compiled backends reject the same inputs with
the same messages, and a compiled kernel never sees an array it could overrun.
They are written for speed (a few attribute reads), since they run on every call.
"""
from __future__ import annotations

import numpy as np

ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh")
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _array(x, name):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got dtype {x.dtype}")
    if not x.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (use np.ascontiguousarray)")


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
    if int(step) != step or step < 1:
        raise ValueError(f"step must be an integer >= 1, got {step!r}")


def check_adam_hyperparameters(lr, beta1, beta2, eps, weight_decay):
    if not lr >= 0.0:
        raise ValueError(f"lr must be >= 0, got {lr!r}")
    if not 0.0 <= beta1 < 1.0:
        raise ValueError(f"beta1 must be in [0, 1), got {beta1!r}")
    if not 0.0 <= beta2 < 1.0:
        raise ValueError(f"beta2 must be in [0, 1), got {beta2!r}")
    if not eps > 0.0:
        raise ValueError(f"eps must be > 0, got {eps!r}")
    if not weight_decay >= 0.0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")


def check_forward_backward(x, labels, weights, biases, weight_grads, bias_grads, acts, grads,
                           activation):
    layers = len(weights)
    if layers == 0:
        raise ValueError("forward_backward needs at least one layer")
    for seq, name in ((biases, "biases"), (weight_grads, "weight_grads"),
                      (bias_grads, "bias_grads"), (acts, "acts"), (grads, "grads")):
        if len(seq) != layers:
            raise ValueError(f"{name} has {len(seq)} entries but weights has {layers}")
    check_activation(activation)
    _array(x, "x")
    _ndim(x, "x", 2)
    n = x.shape[0]
    inp = x.shape[1]
    for i in range(layers):
        w, b, gw, gb, a, g = (weights[i], biases[i], weight_grads[i], bias_grads[i], acts[i],
                              grads[i])
        _array(w, f"weights[{i}]")
        _ndim(w, f"weights[{i}]", 2)
        f = w.shape[0]
        if w.shape[1] != inp:
            raise ValueError(f"weights[{i}] has shape {w.shape}, expected ({f}, {inp})")
        for arr, name, shape in ((b, f"biases[{i}]", (f,)), (gw, f"weight_grads[{i}]", w.shape),
                                 (gb, f"bias_grads[{i}]", (f,)), (a, f"acts[{i}]", (n, f)),
                                 (g, f"grads[{i}]", (n, f))):
            _array(arr, name)
            if arr.shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
        for arr, name in ((gw, f"weight_grads[{i}]"), (gb, f"bias_grads[{i}]"),
                          (a, f"acts[{i}]"), (g, f"grads[{i}]")):
            if not arr.flags.writeable:
                raise ValueError(f"{name} must be writable")
        _same_dtype(x, "x", (w, f"weights[{i}]"), (b, f"biases[{i}]"),
                    (gw, f"weight_grads[{i}]"), (gb, f"bias_grads[{i}]"), (a, f"acts[{i}]"),
                    (g, f"grads[{i}]"))
        inp = f
    # buffers that are written must not overlap anything else
    named = [(x, "x", False)]
    for i in range(layers):
        named += [(weights[i], f"weights[{i}]", False), (biases[i], f"biases[{i}]", False),
                  (weight_grads[i], f"weight_grads[{i}]", True),
                  (bias_grads[i], f"bias_grads[{i}]", True),
                  (acts[i], f"acts[{i}]", True), (grads[i], f"grads[{i}]", True)]
    _check_disjoint(named)
    if not isinstance(labels, np.ndarray) or labels.dtype != np.int64:
        raise TypeError("labels must be an int64 numpy array")
    if labels.shape != (n,) or not labels.flags.c_contiguous:
        raise ValueError(f"labels must be contiguous with shape {(n,)}, got {labels.shape}")
    classes = weights[-1].shape[0]
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
