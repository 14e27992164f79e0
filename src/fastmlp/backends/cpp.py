"""The C++ backend: kernels from the pybind11 extension fastmlp._cpp (built from csrc/).

Every kernel is native for float32 (other dtypes use the NumPy code of the base class).
The per-step kernels (`gemm`, `adam_step`, `forward_backward`, `adam_train_steps`) call the
extension directly on float32 and let its memory-safety checks (dtype, contiguity, shapes,
overlap, index ranges) be the only ones a valid call pays, which saves microseconds per
training step; the hyperparameters are checked in Python (fastmlp.hyperparameters), and a
call the extension rejects is checked again by validation.py, so the message is the same
as on every other backend. The NetworkState that forward_backward and adam_train_steps
take becomes a `_cpp.Network` once, on first use (its arrays parsed and checked once in
C++, kept on the state): each call passes the network as one object.

Matmul precision: both "float32" and "bfloat16" (see :class:`fastmlp.backends.base.Backend`).
The setting lives in the extension (`_cpp.set_matmul_precision`, `_cpp.matmul_precision`) and
applies to all its GEMMs, those inside forward_backward and adam_train_steps included. The
bfloat16 GEMM uses AMX tiles when the active ISA is avx512 and the CPU and OS offer them,
else AVX512-BF16's VDPBF16PS where the CPU has it, else it rounds the packed float32
panels to bfloat16 values and runs the float32 microkernel (`_cpp.bf16_matmul_engine()`
says which); that emulation is slower than float32, and asking for it warns once
(:class:`~fastmlp.backends.bfloat16.EmulatedBfloat16Warning`).

The GEMM's cache blocking is derived from the CPU's cache sizes at run time
(`_cpp.gemm_blocking()`; `fastmlp backends` shows it). float64 falls back to the NumPy
kernels of the base class, which never round float64.
"""
from __future__ import annotations

import os
import sys
import warnings

import numpy as np

from ..hyperparameters import check_adam_hyperparameters
from . import validation as check
from .base import Backend
from .bfloat16 import EmulatedBfloat16Warning
from .state import NetworkState

try:
    from .. import _cpp
except ImportError as exc:  # pragma: no cover - depends on how the package was built
    raise ImportError(
        f"the C++ extension fastmlp._cpp is not importable ({exc}); reinstall fastmlp with "
        "`pip install .` (needs a C++17 compiler; OpenMP for more than one thread) to build it") from exc

_FLOAT32 = np.dtype(np.float32)
_EMULATED_NOTE = ("bfloat16 matmuls are emulated on this CPU (ISA path {isa}: no AMX or "
                  "AVX512-BF16): float32 operands are rounded to bfloat16, which is slower "
                  "than float32 matmuls")
_warned_emulated = False


def _warn_once_if_emulated():
    global _warned_emulated
    if _warned_emulated or _cpp.bf16_matmul_engine() != "emulated":
        return
    _warned_emulated = True
    # point at the user's line, however deep inside fastmlp the setting was made
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    level, frame = 2, sys._getframe(1)  # stacklevel 2: our caller
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(_EMULATED_NOTE.format(isa=_cpp.isa()), EmulatedBfloat16Warning,
                  stacklevel=level)


def _kib(n):
    return f"{n // 1024} KiB" if n else "unknown"


class _worded_by:
    """Around a direct extension call: if the extension rejects it, `python_check` (from
    validation.py) runs on the same arguments and raises its own error, else the
    extension's stands. The extension checks everything before it writes anything.
    A plain class, not contextlib.contextmanager: it is entered on every training step
    and GEMM call, where the generator machinery cost about 0.6 us a call."""

    __slots__ = ("check", "args")

    def __init__(self, python_check, *args):
        self.check, self.args = python_check, args

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if kind is not None and issubclass(kind, (TypeError, ValueError)):
            try:
                self.check(*self.args)
            except (TypeError, ValueError) as worded:
                raise worded from None
        return False  # anything else, or no Python objection: the extension's error stands


def _network(state):
    """The NetworkState's arrays as one _cpp.Network, parsed and checked once."""
    network = state.prepared.get("cpp")
    if network is None:
        network = state.prepared["cpp"] = _cpp.Network(
            state.weights, state.biases, state.weight_grads, state.bias_grads, state.acts,
            state.grads, state.activation, state.batch_size, params=state.params,
            param_grads=state.param_grads, m=state.m, v=state.v, xb=state.xb, yb=state.yb)
    return network


class CppBackend(Backend):
    name = "cpp"
    native_dtypes = (_FLOAT32,)
    matmul_precisions = ("float32", "bfloat16")

    @property
    def matmul_precision(self):  # the extension's own setting is the one in force
        return _cpp.matmul_precision()

    def _set_matmul_precision(self, name):
        _cpp.set_matmul_precision(name)
        if name == "bfloat16":
            _warn_once_if_emulated()

    # -- per-step kernels: checked in C++ first, worded by validation.py ---------------
    # On float32 these call the extension directly: its memory-safety checks are all a
    # valid call pays (Python's would add microseconds to each training step). A call the
    # extension rejects is checked again in Python, so the error the user sees is
    # validation.py's wherever its rules reject the call too.
    def gemm(self, a, b, out, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
        if not (getattr(a, "dtype", None) == getattr(b, "dtype", None) ==
                getattr(out, "dtype", None) == _FLOAT32):  # float64, mixed, or not arrays
            return super().gemm(a, b, out, trans_a, trans_b, alpha, beta)
        with _worded_by(check.check_gemm, a, b, out, trans_a, trans_b):
            _cpp.gemm(a, b, out, bool(trans_a), bool(trans_b), float(alpha), float(beta))
        return out

    def adam_step(self, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay=0.0):
        if getattr(param, "dtype", None) != _FLOAT32:
            return super().adam_step(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay)
        check_adam_hyperparameters(lr, beta1, beta2, eps, weight_decay)  # not the extension's
        with _worded_by(check.check_adam_step, param, grad, m, v, lr, beta1, beta2, eps, step,
                        weight_decay):
            _cpp.adam_step(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay)

    def forward_backward(self, x, labels, state):
        # float64, or not a NetworkState (the base class's TypeError): the checked path
        if (getattr(x, "dtype", None) != _FLOAT32 or not isinstance(state, NetworkState)
                or state.dtype != _FLOAT32):
            return super().forward_backward(x, labels, state)
        with _worded_by(check.check_forward_backward, x, labels, state):
            return _cpp.forward_backward(_network(state), x, labels)

    def adam_train_steps(self, x, labels, order, start, steps, state, lr, beta1, beta2, eps,
                         t0, weight_decay, losses, correct=None):
        if (getattr(x, "dtype", None) != _FLOAT32 or not isinstance(state, NetworkState)
                or state.dtype != _FLOAT32 or state.m is None):
            return super().adam_train_steps(x, labels, order, start, steps, state, lr, beta1,
                                            beta2, eps, t0, weight_decay, losses, correct)
        check_adam_hyperparameters(lr, beta1, beta2, eps, weight_decay)  # not the extension's
        with _worded_by(check.check_adam_train_steps, x, labels, order, start, steps, state,
                        lr, beta1, beta2, eps, t0, weight_decay, losses, correct):
            _cpp.adam_train_steps(_network(state), x, labels, order, start, steps, lr, beta1,
                                  beta2, eps, t0, weight_decay, losses, correct)
        return losses

    # -- the kernels behind the checked public methods ---------------------------------
    def _gemm(self, a, b, out, trans_a, trans_b, alpha, beta):
        _cpp.gemm(a, b, out, trans_a, trans_b, alpha, beta)

    def _dense_forward(self, x, w, b, out, activation, pre):
        _cpp.dense_forward(x, w, b, out, activation, pre)

    def _activation_backward(self, activation, grad, out_act, pre, out):
        _cpp.activation_backward(activation, grad, out_act, pre, out)

    def _bias_grad(self, grad, out):
        _cpp.bias_grad(grad, out)

    def _softmax_cross_entropy(self, logits, labels, grad):
        return _cpp.softmax_cross_entropy(logits, labels, grad)

    def _adam_step(self, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay):
        _cpp.adam_step(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay)

    # the fused steps run on the state's Network, made once per state
    def _forward_backward(self, x, labels, state):
        return _cpp.forward_backward(_network(state), x, labels)

    def _adam_train_steps(self, x, labels, order, start, steps, state, lr, beta1, beta2, eps,
                          t0, weight_decay, losses, correct):
        _cpp.adam_train_steps(_network(state), x, labels, order, start, steps, lr, beta1,
                              beta2, eps, t0, weight_decay, losses, correct)

    # activation forward, losses, dropout, batch norm, SGD / RMSprop / AdamW
    def _activation_forward(self, activation, x, out):
        _cpp.activation_forward(activation, x, out)

    def _mse_loss(self, outputs, labels, grad):
        return _cpp.mse_loss(outputs, labels, grad)

    def _sigmoid_binary_cross_entropy(self, logits, labels, grad):
        return _cpp.sigmoid_binary_cross_entropy(logits, labels, grad)

    def _dropout(self, x, noise, p, out):
        _cpp.dropout(x, noise, p, out)

    def _batch_norm_forward(self, x, gamma, beta, out, mean, invstd, running_mean, running_var,
                            momentum, eps):
        _cpp.batch_norm_forward(x, gamma, beta, out, mean, invstd, running_mean, running_var,
                                momentum, eps)

    def _batch_norm_inference(self, x, gamma, beta, running_mean, running_var, out, eps):
        _cpp.batch_norm_inference(x, gamma, beta, running_mean, running_var, out, eps)

    def _batch_norm_backward(self, grad, x, gamma, mean, invstd, grad_x, grad_gamma, grad_beta):
        _cpp.batch_norm_backward(grad, x, gamma, mean, invstd, grad_x, grad_gamma, grad_beta)

    def _sgd_step(self, param, grad, buf, lr, momentum, nesterov, weight_decay):
        _cpp.sgd_step(param, grad, buf, lr, momentum, nesterov, weight_decay)

    def _rmsprop_step(self, param, grad, square_avg, buf, lr, alpha, eps, momentum,
                      weight_decay):
        _cpp.rmsprop_step(param, grad, square_avg, buf, lr, alpha, eps, momentum, weight_decay)

    def _adamw_step(self, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay):
        _cpp.adamw_step(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay)

    @staticmethod
    def set_num_threads(n):
        # built without OpenMP (e.g. Apple's clang) the kernels run on one thread: honoured as 1
        if n > 1 and not _cpp.openmp():
            warnings.warn(f"fastmlp's C++ extension was built without OpenMP; it runs on 1 "
                          f"thread, not {n}", RuntimeWarning, stacklevel=2)
        _cpp.set_num_threads(n)

    @staticmethod
    def flush_denormals():
        return _cpp.flush_denormals()

    @staticmethod
    def set_flush_denormals(on):
        _cpp.set_flush_denormals(bool(on))

    def details(self):
        threads = _cpp.num_threads() if _cpp.openmp() else "1 (built without OpenMP)"
        return (f"isa={_cpp.isa()}, threads={threads}, "
                f"flush_denormals={_cpp.flush_denormals()}, "
                f"matmul={self.matmul_precision}, bf16_matmul_engine={_cpp.bf16_matmul_engine()}")

    def detail_lines(self):
        b = _cpp.gemm_blocking()
        lines = [f"gemm caches ({b['cache_source']}): L1d {_kib(b['l1d'])}, L2 {_kib(b['l2'])}, "
                 f"L3 {_kib(b['l3'])} shared by {b['l3_sharing']} CPUs",
                 f"gemm blocking ({self.matmul_precision}): tile {b['mr']}x{b['nr']}, "
                 f"mc={b['mc']} kc={b['kc']} nc={b['nc']}, row-major B read in place up to "
                 f"{_kib(b['in_place_b_bytes'])}, >= {b['macs_per_thread']:.0f} multiply-adds "
                 "per thread"]
        if _cpp.bf16_matmul_engine() == "emulated":
            lines.append(_EMULATED_NOTE.format(isa=_cpp.isa()))
        return lines
