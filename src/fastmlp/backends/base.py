"""The Backend interface: the kernels, their contracts, validate-then-dispatch.

Every kernel has a public method that validates its arguments
(:mod:`fastmlp.backends.validation`) and then calls the private ``_kernel`` method.
A backend implements the ``_kernel`` methods it has natively, for the dtypes in its
``native_dtypes``; every other kernel and dtype runs its `fallback`, the NumPy kernels
(:mod:`fastmlp.backends.numpy`), so each backend always offers every kernel and
``native_kernels()`` says which are its own.
"""
from __future__ import annotations

import numpy as np

from . import validation as check
from .bfloat16 import DEFAULT_MATMUL_PRECISION, MATMUL_PRECISIONS, check_matmul_precision
from .catalog import backends_with_matmul_precision
from .numpy import NumpyKernels
from .state import NetworkState

# The kernels of the interface, in the order `fastmlp backends` lists them.
KERNELS = (
    "gemm",
    "dense_forward",
    "activation_backward",
    "bias_grad",
    "softmax_cross_entropy",
    "adam_step",
    "forward_backward",
    # the building blocks of dropout, batch norm, other losses and optimizers
    "activation_forward",
    "mse_loss",
    "sigmoid_binary_cross_entropy",
    # regression: mean squared error against real-valued targets
    "mse_regression_loss",
    "dropout",
    "batch_norm_forward",
    "batch_norm_inference",
    "batch_norm_backward",
    "sgd_step",
    "rmsprop_step",
    "adamw_step",
    # several gathered minibatches' forward_backward + adam_step in one call
    "adam_train_steps",
)

# The kernels whose work includes a GEMM: the matmul precision applies to them.
GEMM_KERNELS = ("gemm", "dense_forward", "forward_backward", "adam_train_steps")

class Backend:
    """A set of kernels; see the table in docs/ARCHITECTURE.md for each contract.

    Matmul precision: every float32 matrix product a backend computes (the GEMMs inside
    gemm, dense_forward, forward_backward and adam_train_steps) runs in its
    `matmul_precision`, one of `matmul_precisions`:

    - "float32" (the default, and what every backend offers): float32 operands, float32
      accumulation.
    - "bfloat16": both GEMM operands op(A) and op(B) are rounded to bfloat16 (round to
      nearest, ties to even; NaN stays NaN, +-inf stays +-inf; see
      :func:`fastmlp.backends.bfloat16.round_to_bfloat16`), the exact products are
      accumulated in float32, and the output is float32. alpha, beta, the bias, the
      activation epilogues, losses, optimizers and every kernel without a GEMM stay
      float32, and so do the parameters and optimizer state: mixed precision like torch's
      bfloat16 autocast, but with float32 outputs.

    float64 kernels are never rounded (it is a float32-matmul setting). The NumPy kernels
    (the fallback) offer both precisions, bfloat16 by exact emulation (operands rounded to
    bfloat16 values held in float32, then np.matmul in float32): the oracle the compiled
    backends are tested against. A subclass that implements a GEMM kernel itself
    (`_gemm`, `_dense_forward`, `_forward_backward` or `_adam_train_steps`) offers "float32"
    only unless it declares `matmul_precisions`. Use :func:`fastmlp.set_matmul_precision`
    to switch every backend at once; backends without the precision keep "float32".
    """

    name = ""
    # dtypes whose kernels are this backend's own; other dtypes use the fallback's
    native_dtypes = (np.dtype(np.float32), np.dtype(np.float64))
    # the kernels that run where a backend has none of its own: the NumPy oracle's
    fallback = NumpyKernels
    # matmul precisions this backend's float32 GEMMs offer (see the class docstring)
    matmul_precisions = MATMUL_PRECISIONS
    _matmul_precision = DEFAULT_MATMUL_PRECISION

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # a GEMM of the subclass's own would silently ignore the setting: float32 only,
        # unless the subclass says which precisions its GEMMs implement
        if "matmul_precisions" not in cls.__dict__ and any(
                "_" + kernel in cls.__dict__ for kernel in GEMM_KERNELS):
            cls.matmul_precisions = (DEFAULT_MATMUL_PRECISION,)

    # -- introspection ----------------------------------------------------------------
    @classmethod
    def native_kernels(cls):
        """Names of the kernels this backend implements itself (not its fallback's)."""
        return [k for k in KERNELS if hasattr(cls, "_" + k)]

    def _impl(self, kernel, dtype):
        """The `_kernel` method that runs for `dtype`: this backend's own, else the
        fallback's, bound to this backend (so composed kernels call its public ones)."""
        if dtype in self.native_dtypes:
            own = getattr(self, kernel, None)
            if own is not None:
                return own
        return getattr(self.fallback, kernel).__get__(self)

    @staticmethod
    def set_num_threads(n):
        """Threads for this backend's kernels; NumPy's only threads are its BLAS's."""
        from threadpoolctl import threadpool_limits  # a dependency: imported on first use

        threadpool_limits(limits=n)

    @staticmethod
    def flush_denormals():
        """Whether this backend's kernels flush denormals to zero (NumPy never does)."""
        return False

    @staticmethod
    def set_flush_denormals(on):
        """Compiled backends switch FTZ/DAZ in their kernels; NumPy has no such switch."""

    @property
    def matmul_precision(self):
        """The precision this backend computes float32 matmuls in now: "float32" (the
        default) or "bfloat16" (see the class docstring)."""
        return self._matmul_precision

    def set_matmul_precision(self, name):
        """Compute this backend's float32 matmuls in precision `name` ("float32" or
        "bfloat16"; see the class docstring).

        ValueError if `name` is not a matmul precision, or if this backend does not offer
        it (the message says which backends do). :func:`fastmlp.set_matmul_precision`
        sets every backend that offers the precision and leaves the others at float32.
        """
        name = check_matmul_precision(name)
        if name not in self.matmul_precisions:
            others = [n for n in backends_with_matmul_precision(name) if n != self.name]
            raise ValueError(
                f"backend {self.name!r} computes float32 matmuls in "
                f"{', '.join(self.matmul_precisions)} only; "
                f"{name} matmuls are in backends: {', '.join(others) or 'none'}")
        self._set_matmul_precision(name)

    def _set_matmul_precision(self, name):
        # `name` is one of matmul_precisions; a compiled backend forwards it to its kernels
        self._matmul_precision = name

    def _bf16_matmul(self, dtype):
        """Whether a GEMM on `dtype` arrays rounds its operands to bfloat16 here."""
        return dtype == np.float32 and self.matmul_precision == "bfloat16"

    def details(self):
        """One line about the implementation, for `fastmlp backends`."""
        return f"matmul={self.matmul_precision}"

    def detail_lines(self):
        """Further lines for `fastmlp backends` (e.g. how the GEMM is blocked); none here."""
        return []

    def __repr__(self):
        return f"<fastmlp backend {self.name!r}>"

    # -- public kernels: validate, then dispatch ----------------------------------------
    def gemm(self, a, b, out, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
        """out = alpha * op(a) @ op(b) + beta * out. With beta == 0, out is not read.

        op(a) @ op(b) runs in the backend's matmul_precision (bfloat16: op(a) and op(b)
        rounded to bfloat16, float32 accumulation; alpha and beta stay float32).
        """
        check.check_gemm(a, b, out, trans_a, trans_b)
        self._impl("_gemm", out.dtype)(a, b, out, bool(trans_a), bool(trans_b),
                                       float(alpha), float(beta))
        return out

    def dense_forward(self, x, w, b, out, activation, pre=None):
        """out = act(x @ w.T + b); the pre-activation goes to pre when given.

        x @ w.T runs in the backend's matmul_precision; bias and activation are float32.
        """
        check.check_dense_forward(x, w, b, out, activation, pre)
        self._impl("_dense_forward", out.dtype)(x, w, b, out, activation, pre)
        return out

    def activation_backward(self, activation, grad, out_act, pre, out):
        """out = grad * act'(pre), computed from out_act = act(pre).

        relu and leaky_relu may pass pre instead of out_act (both have its sign);
        out may be grad itself.
        """
        check.check_activation_backward(activation, grad, out_act, pre, out)
        self._impl("_activation_backward", out.dtype)(activation, grad, out_act, pre, out)
        return out

    def bias_grad(self, grad, out):
        """out = grad.sum(axis=0)."""
        check.check_bias_grad(grad, out)
        self._impl("_bias_grad", out.dtype)(grad, out)
        return out

    def softmax_cross_entropy(self, logits, labels, grad):
        """Returns the mean loss; grad = (softmax(logits) - onehot(labels)) / N."""
        check.check_softmax_cross_entropy(logits, labels, grad)
        return float(self._impl("_softmax_cross_entropy", logits.dtype)(logits, labels, grad))

    def adam_step(self, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay=0.0):
        """One in-place torch.optim.Adam step (L2 weight decay added to the gradient)."""
        check.check_adam_step(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay)
        self._impl("_adam_step", param.dtype)(param, grad, m, v, float(lr), float(beta1),
                                              float(beta2), float(eps), int(step),
                                              float(weight_decay))

    def forward_backward(self, x, labels, state):
        """A whole training step's forward and backward pass of a plain MLP; returns the loss.

        `state` is a :class:`~fastmlp.backends.state.NetworkState` (checked when it was
        built); x has at most state.batch_size rows, n. Layer i computes
        acts[i][:n] = act_i(acts[i-1][:n] @ weights[i].T + biases[i]) (acts[-1] = x), with
        state.activation on hidden layers and identity on the last; the loss is softmax
        cross-entropy of the last layer's outputs against labels. Fills weight_grads /
        bias_grads, using grads[i][:n] as scratch for d(loss)/d(pre-activation).
        The NumPy version is that kernel sequence; a compiled backend may run it as one
        native call, which removes the per-kernel Python overhead on small networks.
        Every GEMM in it (forward, weight and input gradients) runs in the backend's
        matmul_precision; the loss and everything else stay float32.
        """
        _network_state(state, "forward_backward")
        check.check_forward_backward(x, labels, state)
        return float(self._impl("_forward_backward", x.dtype)(x, labels, state))

    def adam_train_steps(self, x, labels, order, start, steps, state, lr, beta1, beta2, eps,
                         t0, weight_decay, losses, correct=None):
        """`steps` Adam training steps of a plain MLP in one call; returns losses.

        `state` is a NetworkState with params, param_grads, m, v, xb and yb; b is its
        batch_size. Step s (0-based) gathers the rows order[start + s*b : start + (s+1)*b]
        (the last step may get fewer, down to 1) of x and labels into the first k rows of
        xb and yb, runs forward_backward on them, then one adam_step over the flat params /
        param_grads with m, v and step number t0 + s + 1, and stores its loss in losses[s]
        (float64, shape (steps,)); with `correct` (int64, shape (steps,)), also how many of
        the step's rows its forward pass classified right (logits' first argmax, as
        np.argmax, equal to the label), measured before the step's update. Afterwards the
        gradients of the last step are left in param_grads. The NumPy version is exactly
        that sequence of public kernels, so every backend gets the same bits as calling them
        one by one; a compiled backend may run the chunk as one native call. Its GEMMs run in the backend's matmul_precision;
        params, m and v stay float32.
        """
        _network_state(state, "adam_train_steps")
        check.check_adam_train_steps(x, labels, order, start, steps, state, lr, beta1, beta2,
                                     eps, t0, weight_decay, losses, correct)
        self._impl("_adam_train_steps", x.dtype)(
            x, labels, order, int(start), int(steps), state, float(lr), float(beta1),
            float(beta2), float(eps), int(t0), float(weight_decay), losses, correct)
        return losses

    def activation_forward(self, activation, x, out):
        """out = act(x), elementwise; out may be x itself."""
        check.check_activation_forward(activation, x, out)
        self._impl("_activation_forward", out.dtype)(activation, x, out)
        return out

    def mse_loss(self, outputs, labels, grad):
        """Mean squared error against one-hot targets, torch's MSELoss(reduction="mean").

        Returns sum((outputs - onehot(labels))**2) / (N * C) and writes its gradient with
        respect to the outputs (not the pre-activation): grad = 2 * (outputs - onehot) / (N * C).
        """
        check.check_mse_loss(outputs, labels, grad)
        return float(self._impl("_mse_loss", outputs.dtype)(outputs, labels, grad))

    def mse_regression_loss(self, outputs, targets, grad):
        """Mean squared error against real-valued targets, torch's MSELoss(reduction="mean").

        targets has the shape and dtype of outputs (N, C). Returns sum((outputs - targets)**2)
        / (N * C) and writes grad = 2 * (outputs - targets) / (N * C).
        """
        check.check_mse_regression_loss(outputs, targets, grad)
        return float(self._impl("_mse_regression_loss", outputs.dtype)(outputs, targets, grad))

    def sigmoid_binary_cross_entropy(self, logits, labels, grad):
        """Binary cross-entropy of sigmoid(logits) against labels in {0, 1}, from the logits.

        logits has shape (N, 1). Returns mean(log(1 + exp(z)) - y * z), computed without
        overflow (torch's BCEWithLogitsLoss); grad = (sigmoid(z) - y) / N w.r.t. the logits.
        """
        check.check_sigmoid_binary_cross_entropy(logits, labels, grad)
        return float(self._impl("_sigmoid_binary_cross_entropy", logits.dtype)(logits, labels, grad))

    def dropout(self, x, noise, p, out):
        """Inverted dropout: out = x / (1 - p) where noise >= p, else 0; out may be x.

        noise holds uniform [0, 1) draws made by the caller, so every backend drops the same
        units; the backward pass calls this kernel again on the gradient with the same noise.
        """
        check.check_dropout(x, noise, p, out)
        self._impl("_dropout", out.dtype)(x, noise, float(p), out)
        return out

    def batch_norm_forward(self, x, gamma, beta, out, mean, invstd, running_mean, running_var,
                           momentum=0.1, eps=1e-5):
        """Training-mode batch norm over the rows of x (torch.nn.BatchNorm1d semantics).

        out = gamma * (x - mean) * invstd + beta with the batch mean and biased variance,
        invstd = 1 / sqrt(var + eps); mean and invstd are stored for the backward pass, and
        the running statistics move by `momentum` towards the batch mean and the unbiased
        batch variance. Needs at least 2 rows.
        """
        check.check_batch_norm_forward(x, gamma, beta, out, mean, invstd, running_mean,
                                       running_var, momentum, eps)
        self._impl("_batch_norm_forward", x.dtype)(x, gamma, beta, out, mean, invstd,
                                                   running_mean, running_var, float(momentum),
                                                   float(eps))
        return out

    def batch_norm_inference(self, x, gamma, beta, running_mean, running_var, out, eps=1e-5):
        """Evaluation-mode batch norm: out = gamma * (x - running_mean) / sqrt(running_var + eps) + beta."""
        check.check_batch_norm_inference(x, gamma, beta, running_mean, running_var, out, eps)
        self._impl("_batch_norm_inference", x.dtype)(x, gamma, beta, running_mean, running_var,
                                                     out, float(eps))
        return out

    def batch_norm_backward(self, grad, x, gamma, mean, invstd, grad_x, grad_gamma, grad_beta):
        """Gradients of training-mode batch norm, from the forward pass's x, mean and invstd.

        With xhat = (x - mean) * invstd and g = grad (w.r.t. the output):
        grad_beta = sum(g), grad_gamma = sum(g * xhat) (over rows), and
        grad_x = gamma * invstd * (g - grad_beta / N - xhat * grad_gamma / N).
        grad_x may be grad itself.
        """
        check.check_batch_norm_backward(grad, x, gamma, mean, invstd, grad_x, grad_gamma,
                                        grad_beta)
        self._impl("_batch_norm_backward", x.dtype)(grad, x, gamma, mean, invstd, grad_x,
                                                    grad_gamma, grad_beta)
        return grad_x

    def sgd_step(self, param, grad, buf, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        """One in-place torch.optim.SGD step (dampening 0); buf is the momentum buffer.

        g = grad + weight_decay * param; buf = momentum * buf + g (buf starts at zero, so
        the first step sets buf = g as torch does); the step uses g + momentum * buf with
        nesterov, else buf; param -= lr * step. Without momentum, buf may be None.
        """
        check.check_sgd_step(param, grad, buf, lr, momentum, nesterov, weight_decay)
        self._impl("_sgd_step", param.dtype)(param, grad, buf, float(lr), float(momentum),
                                             bool(nesterov), float(weight_decay))

    def rmsprop_step(self, param, grad, square_avg, buf, lr, alpha=0.99, eps=1e-8,
                     momentum=0.0, weight_decay=0.0):
        """One in-place torch.optim.RMSprop step (centered=False).

        g = grad + weight_decay * param; square_avg = alpha * square_avg + (1 - alpha) * g**2;
        d = g / (sqrt(square_avg) + eps); with momentum, buf = momentum * buf + d and
        param -= lr * buf, else param -= lr * d (buf may then be None).
        """
        check.check_rmsprop_step(param, grad, square_avg, buf, lr, alpha, eps, momentum,
                                 weight_decay)
        self._impl("_rmsprop_step", param.dtype)(param, grad, square_avg, buf, float(lr),
                                                 float(alpha), float(eps), float(momentum),
                                                 float(weight_decay))

    def adamw_step(self, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay=0.01):
        """One in-place torch.optim.AdamW step: decoupled weight decay, then Adam's update.

        param *= 1 - lr * weight_decay, then the Adam update of adam_step without L2 term.
        """
        check.check_adamw_step(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay)
        self._impl("_adamw_step", param.dtype)(param, grad, m, v, float(lr), float(beta1),
                                               float(beta2), float(eps), int(step),
                                               float(weight_decay))


def _network_state(state, kernel):
    if not isinstance(state, NetworkState):
        raise TypeError(f"{kernel} takes a NetworkState (fastmlp.backends.NetworkState), "
                        f"got {type(state).__name__}")
