"""The Numba backend: @njit kernels (the modules of fastmlp.backends.numba), compiled on
first use and cached on disk (cache=True), float32 only (float64 falls back to NumPy).

Denormals: every kernel runs with denormal floats flushed to zero (FTZ/DAZ set in MXCSR)
in each thread that computes, and restores that thread's MXCSR afterwards, so denormal
Adam moments and weights never slow training down. Switch it off for exact IEEE gradual
underflow with `fastmlp.set_flush_denormals(False)` or FASTMLP_FLUSH_DENORMALS=0, which
the backend registry applies to every compiled backend it loads (here through
`set_flush_denormals` of this module or the backend object).

Matmul precision: float32 only. `backend.set_matmul_precision("bfloat16")` raises; after
`fastmlp.set_matmul_precision("bfloat16")` this backend quietly keeps computing its
matmuls in float32 (its `matmul_precision` stays "float32").
"""
from __future__ import annotations

import numpy as np

from ..base import Backend
from ..validation import indices_changed

try:
    import numba
except ImportError as exc:  # pragma: no cover - numba is a declared dependency
    raise ImportError(f"numba is not importable ({exc}); install it with `pip install numba`") from exc

from . import activations, batch_norm, blocking, dropout, gemm, losses, optimizers, simd, step

_NO_BIAS = np.empty(0, np.float32)
_NO_STATE = np.empty(0, np.float32)  # a momentum buffer that is not used
_NO_COUNT = np.empty(0, np.int64)     # adam_train_steps without per-step correct counts

_caches = blocking.detected_caches()  # (L1d, L2) bytes: the GEMM's blocking comes from them
_flush = True  # the registry sets it from fastmlp.get_flush_denormals() when it loads us


def flush_denormals():
    """Whether the numba kernels flush denormals to zero (FTZ/DAZ)."""
    return _flush


def set_flush_denormals(on):
    """Switches denormal flushing of the numba kernels on or off (default: on)."""
    global _flush
    _flush = bool(on)


def _layer_arrays(state, acts, grads):
    """The compiled step's per-layer arguments: weights, biases, their gradients, and the
    acts and grads workspaces given, as tuples numba can index."""
    return (_same_type(state.weights), _same_type(state.biases), tuple(state.weight_grads),
            tuple(state.bias_grads), tuple(acts), tuple(grads))


def _same_type(arrays):
    """A tuple numba can index at run time: its arrays all of one type, so all read-only
    views when some are read-only (a mixed tuple is a numba TypingError)."""
    if all(a.flags.writeable for a in arrays):
        return tuple(arrays)
    views = tuple(a.view() for a in arrays)
    for v in views:
        v.flags.writeable = False
    return views


def _raise_if_bad_label(bad_row):
    """bad_row from the softmax kernel: the row whose label it met out of range, or -1."""
    if bad_row >= 0:
        raise indices_changed("labels", f": row {bad_row} had one out of range")


class NumbaBackend(Backend):
    name = "numba"
    native_dtypes = (np.dtype(np.float32),)
    matmul_precisions = ("float32",)  # no bfloat16 GEMM (see the module docstring)

    def _gemm(self, a, b, out, trans_a, trans_b, alpha, beta):
        gemm.gemm_epilogue(a, b, trans_a, trans_b, alpha, beta, out, _NO_BIAS,
                           activations.IDENTITY, out, False, activations.IDENTITY, out, _flush,
                           numba.get_num_threads(), _caches)

    def _dense_forward(self, x, w, b, out, activation, pre):
        # x @ w.T lands in pre (or out); bias and activation follow per block, in cache
        dst = out if pre is None else pre
        gemm.gemm_epilogue(x, w, False, True, 1.0, 0.0, dst, b, activations.CODES[activation],
                           out, pre is not None, activations.IDENTITY, dst, _flush,
                           numba.get_num_threads(), _caches)

    def _activation_backward(self, activation, grad, out_act, pre, out):
        ref = out_act if out_act is not None else pre
        if activation == "identity":
            if out is not grad:
                np.copyto(out, grad)
            return
        activations.activation_backward(grad.reshape(-1), ref.reshape(-1), out.reshape(-1),
                                        activations.CODES[activation], _flush)

    def _bias_grad(self, grad, out):
        gemm.bias_grad(grad, out, _flush)

    def _softmax_cross_entropy(self, logits, labels, grad):
        row_loss = np.empty(logits.shape[0], np.float64)
        loss, bad_row = losses.softmax_cross_entropy(logits, labels, grad, row_loss, _flush)
        _raise_if_bad_label(bad_row)
        return loss

    def _adam_step(self, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay):
        optimizers.adam_step(param.reshape(-1), grad.reshape(-1), m.reshape(-1), v.reshape(-1),
                             lr, beta1, beta2, eps, step, weight_decay, _flush,
                             numba.get_num_threads())

    def _activation_forward(self, activation, x, out):
        if activation == "identity" and out is x:
            return
        activations.activation_forward(x.reshape(-1), out.reshape(-1),
                                       activations.CODES[activation], _flush)

    def _mse_loss(self, outputs, labels, grad):
        return losses.mse_loss(outputs, labels, grad, _flush)

    def _mse_regression_loss(self, outputs, targets, grad):
        return losses.mse_regression_loss(outputs, targets, grad, _flush)

    def _sigmoid_binary_cross_entropy(self, logits, labels, grad):
        return losses.sigmoid_binary_cross_entropy(logits, labels, grad, _flush)

    def _dropout(self, x, noise, p, out):
        dropout.dropout(x.reshape(-1), noise.reshape(-1), out.reshape(-1), p, _flush)

    def _batch_norm_forward(self, x, gamma, beta, out, mean, invstd, running_mean, running_var,
                            momentum, eps):
        batch_norm.batch_norm_forward(x, gamma, beta, out, mean, invstd, running_mean,
                                      running_var, momentum, eps, _flush)

    def _batch_norm_inference(self, x, gamma, beta, running_mean, running_var, out, eps):
        batch_norm.batch_norm_inference(x, gamma, beta, running_mean, running_var, out, eps,
                                        _flush)

    def _batch_norm_backward(self, grad, x, gamma, mean, invstd, grad_x, grad_gamma, grad_beta):
        batch_norm.batch_norm_backward(grad, x, gamma, mean, invstd, grad_x, grad_gamma,
                                       grad_beta, _flush)

    def _sgd_step(self, param, grad, buf, lr, momentum, nesterov, weight_decay):
        optimizers.sgd_step(param.reshape(-1), grad.reshape(-1),
                            _NO_STATE if buf is None else buf.reshape(-1), lr, momentum,
                            nesterov, weight_decay, _flush, numba.get_num_threads())

    def _rmsprop_step(self, param, grad, square_avg, buf, lr, alpha, eps, momentum,
                      weight_decay):
        optimizers.rmsprop_step(param.reshape(-1), grad.reshape(-1), square_avg.reshape(-1),
                                _NO_STATE if buf is None else buf.reshape(-1), lr, alpha, eps,
                                momentum, weight_decay, _flush, numba.get_num_threads())

    def _adamw_step(self, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay):
        optimizers.adamw_step(param.reshape(-1), grad.reshape(-1), m.reshape(-1), v.reshape(-1),
                              lr, beta1, beta2, eps, step, weight_decay, _flush,
                              numba.get_num_threads())

    flush_denormals = staticmethod(flush_denormals)
    set_flush_denormals = staticmethod(set_flush_denormals)

    def _forward_backward(self, x, labels, state):
        acts, grads = state.rows(x.shape[0])
        loss, bad_row = step.forward_backward(
            x, labels, *_layer_arrays(state, acts, grads), activations.CODES[state.activation],
            np.empty(x.shape[0], np.float64), _flush, numba.get_num_threads(), _caches)
        _raise_if_bad_label(bad_row)
        return loss

    def _adam_train_steps(self, x, labels, order, start, steps, state, lr, beta1, beta2, eps,
                          t0, weight_decay, losses, correct):
        fault = step.adam_train_steps(
            x, labels, order, start, steps, state.xb, state.yb,
            *_layer_arrays(state, state.acts, state.grads), activations.CODES[state.activation],
            state.params, state.param_grads, state.m, state.v, lr, beta1, beta2, eps, t0,
            weight_decay, losses, _NO_COUNT if correct is None else correct, _flush,
            numba.get_num_threads(), _caches)
        if fault == step.ORDER_CHANGED:
            raise indices_changed("order")
        _raise_if_bad_label(fault)

    @staticmethod
    def set_num_threads(n):
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))

    def details(self):
        return (f"numba {numba.__version__}, threads={numba.get_num_threads()}, "
                f"flush_denormals={_flush}, matmul={self.matmul_precision}")

    def detail_lines(self):
        return blocking.describe(_caches, simd.MR, simd.NR)
