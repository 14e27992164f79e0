"""The C++ backend: kernels from the pybind11 extension fastmlp._cpp (built from csrc/).

Every kernel is native for float32 (other dtypes use the NumPy code of the base class).
The per-step kernels (`forward_backward`, `adam_step`, `adam_train_steps`) and `gemm` skip
the Python argument checks on float32: the extension checks the same things itself (dtype,
contiguity, writability, shapes, aliasing, label and index ranges, hyperparameters),
raising the same exception types with messages that name the argument, and that saves tens
of microseconds per training step. A NetworkState was checked in Python when it was built;
the extension takes its arrays as the argument lists of its bindings.

Matmul precision: both "float32" and "bfloat16" (see :class:`fastmlp.backends.base.Backend`).
The setting lives in the extension (`_cpp.set_matmul_precision`, `_cpp.matmul_precision`) and
applies to all its GEMMs, those inside forward_backward and adam_train_steps included. The
bfloat16 GEMM uses AMX tiles when the active ISA is avx512 and the CPU and OS offer them,
else it rounds the packed float32 panels to bfloat16 values and runs the float32
microkernel (`_cpp.bf16_matmul_engine()` says which). float64 falls back to the NumPy
kernels of the base class, which never round float64.
"""
from __future__ import annotations

import numpy as np

from .base import Backend

try:
    from .. import _cpp
except ImportError as exc:  # pragma: no cover - depends on how the package was built
    raise ImportError(
        f"the C++ extension fastmlp._cpp is not importable ({exc}); reinstall fastmlp with "
        "`pip install .` (needs a C++17 compiler with OpenMP) to build it") from exc

_FLOAT32 = np.dtype(np.float32)


class CppBackend(Backend):
    name = "cpp"
    native_dtypes = (_FLOAT32,)
    matmul_precisions = ("float32", "bfloat16")

    @property
    def matmul_precision(self):  # the extension's own setting is the one in force
        return _cpp.matmul_precision()

    def _set_matmul_precision(self, name):
        _cpp.set_matmul_precision(name)

    # -- per-step kernels: validated in C++ only ---------------------------------------
    def gemm(self, a, b, out, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
        # the 10-unit layer's products take ~10 us; Python checks would add 6
        if not (getattr(a, "dtype", None) == getattr(b, "dtype", None) ==
                getattr(out, "dtype", None) == _FLOAT32):  # float64, mixed, or not arrays
            return super().gemm(a, b, out, trans_a, trans_b, alpha, beta)
        _cpp.gemm(a, b, out, bool(trans_a), bool(trans_b), float(alpha), float(beta))
        return out

    def forward_backward(self, x, labels, state):
        if getattr(x, "dtype", None) != _FLOAT32:  # float64 or bad input: the checked NumPy path
            return super().forward_backward(x, labels, state)
        return self._forward_backward(x, labels, state)

    def adam_step(self, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay=0.0):
        if getattr(param, "dtype", None) != _FLOAT32:
            return super().adam_step(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay)
        _cpp.adam_step(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay)

    def adam_train_steps(self, x, labels, order, start, steps, state, lr, beta1, beta2, eps,
                         t0, weight_decay, losses, correct=None):
        if getattr(x, "dtype", None) != _FLOAT32 or state.m is None:
            return super().adam_train_steps(x, labels, order, start, steps, state, lr, beta1,
                                            beta2, eps, t0, weight_decay, losses, correct)
        self._adam_train_steps(x, labels, order, start, steps, state, lr, beta1, beta2, eps,
                               t0, weight_decay, losses, correct)
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

    # the extension takes the state's arrays as argument lists (it checks them again)
    def _forward_backward(self, x, labels, state):
        acts, grads = state.rows(x.shape[0])
        return _cpp.forward_backward(x, labels, state.weights, state.biases, state.weight_grads,
                                     state.bias_grads, acts, grads, state.activation)

    def _adam_train_steps(self, x, labels, order, start, steps, state, lr, beta1, beta2, eps,
                          t0, weight_decay, losses, correct):
        _cpp.adam_train_steps(x, labels, order, start, state.batch_size, steps, state.xb,
                              state.yb, state.weights, state.biases, state.weight_grads,
                              state.bias_grads, state.acts, state.grads, state.activation,
                              state.params, state.param_grads, state.m, state.v, lr, beta1,
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
        _cpp.set_num_threads(n)

    @staticmethod
    def flush_denormals():
        return _cpp.flush_denormals()

    @staticmethod
    def set_flush_denormals(on):
        _cpp.set_flush_denormals(bool(on))

    def details(self):
        return (f"isa={_cpp.isa()}, threads={_cpp.num_threads()}, "
                f"flush_denormals={_cpp.flush_denormals()}, "
                f"matmul={self.matmul_precision}, bf16_matmul_engine={_cpp.bf16_matmul_engine()}")
