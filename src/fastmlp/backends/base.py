"""The Backend interface, whose default methods are the NumPy reference kernels.

Every kernel has a public method that validates its arguments
(:mod:`fastmlp.backends.validation`) and then calls the private ``_kernel`` method.
A compiled backend overrides only the ``_kernel`` methods it implements natively, for
the dtypes in its ``native_dtypes``; everything else falls back to the NumPy code here,
so each backend always offers every kernel and ``native_kernels()`` says which are its own.
"""
from __future__ import annotations

import math

import numpy as np

from . import validation as check
from .bfloat16 import DEFAULT_MATMUL_PRECISION, MATMUL_PRECISIONS, check_matmul_precision
from .bfloat16 import round_to_bfloat16

# The kernels of the interface, in the order `fastmlp backends` lists them.
KERNELS = (
    "gemm",
    "dense_forward",
    "activation_backward",
    "bias_grad",
    "softmax_cross_entropy",
    "adam_step",
    "forward_backward",
    # issue #6: the building blocks of dropout, batch norm, other losses and optimizers
    "activation_forward",
    "mse_loss",
    "sigmoid_binary_cross_entropy",
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

LEAKY_RELU_SLOPE = 0.01  # torch.nn.LeakyReLU's default negative slope


def _sigmoid(x, out):
    # exp of a non-positive number only: no overflow for large |x|
    e = np.exp(-np.abs(x))
    np.divide(np.where(x >= 0, 1.0, e), 1.0 + e, out=out)
    return out


def apply_activation(activation, pre, out):
    """out = act(pre); out may be pre itself."""
    if activation == "relu":
        np.maximum(pre, 0, out=out)
    elif activation == "leaky_relu":
        np.multiply(pre, np.where(pre > 0, 1.0, LEAKY_RELU_SLOPE).astype(pre.dtype), out=out)
    elif activation == "sigmoid":
        _sigmoid(pre, out)
    elif activation == "tanh":
        np.tanh(pre, out=out)
    elif out is not pre:
        np.copyto(out, pre)
    return out


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

    float64 kernels are never rounded (it is a float32-matmul setting). The NumPy kernels of
    this class offer both precisions, bfloat16 by exact emulation (operands rounded to
    bfloat16 values held in float32, then np.matmul in float32): the oracle the compiled
    backends are tested against. A subclass that implements a GEMM kernel itself
    (`_gemm`, `_dense_forward`, `_forward_backward` or `_adam_train_steps`) offers "float32"
    only unless it declares `matmul_precisions`. Use :func:`fastmlp.set_matmul_precision`
    to switch every backend at once; backends without the precision keep "float32".
    """

    name = "numpy"
    # dtypes whose kernels are this backend's own; other dtypes use the NumPy code
    native_dtypes = (np.dtype(np.float32), np.dtype(np.float64))
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
        """Names of the kernels this backend implements itself (not inherited from NumPy)."""
        if cls is Backend or cls.name == "numpy":
            return list(KERNELS)
        return [k for k in KERNELS if getattr(cls, "_" + k) is not getattr(Backend, "_" + k)]

    def _impl(self, kernel, dtype):
        if dtype in self.native_dtypes:
            return getattr(self, kernel)
        return getattr(Backend, kernel).__get__(self)

    @staticmethod
    def set_num_threads(n):
        """Threads for this backend's kernels; NumPy's only threads are its BLAS's."""
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # optional: without it the BLAS keeps its own setting
            return
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
            from . import backends_with_matmul_precision  # the registry imports this module

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
        return f"numpy {np.__version__}, matmul={self.matmul_precision}"

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

    def forward_backward(self, x, labels, weights, biases, weight_grads, bias_grads, acts,
                         grads, activation):
        """A whole training step's forward and backward pass of a plain MLP; returns the loss.

        Layer i computes acts[i] = act_i(acts[i-1] @ weights[i].T + biases[i]) (acts[-1] = x),
        with `activation` on hidden layers and identity on the last; the loss is softmax
        cross-entropy of acts[-1] against labels. Fills weight_grads/bias_grads, using
        grads[i] (same shapes as acts[i]) as scratch for d(loss)/d(pre-activation).
        The NumPy version is the kernel sequence below; a compiled backend may run it as
        one native call, which removes the per-kernel Python overhead on small networks.
        Every GEMM in it (forward, weight and input gradients) runs in the backend's
        matmul_precision; the loss and everything else stay float32.
        """
        check.check_forward_backward(x, labels, weights, biases, weight_grads, bias_grads,
                                     acts, grads, activation)
        return float(self._impl("_forward_backward", x.dtype)(
            x, labels, weights, biases, weight_grads, bias_grads, acts, grads, activation))

    def adam_train_steps(self, x, labels, order, start, batch_size, steps, xb, yb, weights,
                         biases, weight_grads, bias_grads, acts, grads, activation, params,
                         param_grads, m, v, lr, beta1, beta2, eps, t0, weight_decay, losses):
        """`steps` Adam training steps of a plain MLP in one call; returns losses.

        Step s (0-based) gathers the rows order[start + s*batch_size : start + (s+1)*batch_size]
        (the last step may get fewer, down to 1) of x and labels into the first k rows of
        xb[batch_size, features] and yb[batch_size], runs forward_backward on them with the
        first k rows of acts and grads ([batch_size, width] each), then one adam_step over the
        flat params / param_grads (which weights, biases / weight_grads, bias_grads view) with
        step number t0 + s + 1, and stores its loss in losses[s] (float64, shape (steps,)).
        Afterwards the gradients of the last step are left in param_grads. The NumPy version
        is exactly that sequence of public kernels, so every backend gets the same bits as
        calling them one by one; a compiled backend may run the chunk as one native call.
        Its GEMMs run in the backend's matmul_precision; params, m and v stay float32.
        """
        check.check_adam_train_steps(x, labels, order, start, batch_size, steps, xb, yb, weights,
                                     biases, weight_grads, bias_grads, acts, grads, activation,
                                     params, param_grads, m, v, lr, beta1, beta2, eps, t0,
                                     weight_decay, losses)
        self._impl("_adam_train_steps", xb.dtype)(
            x, labels, order, int(start), int(batch_size), int(steps), xb, yb, weights, biases,
            weight_grads, bias_grads, acts, grads, activation, params, param_grads, m, v,
            float(lr), float(beta1), float(beta2), float(eps), int(t0), float(weight_decay),
            losses)
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

    # -- NumPy reference implementations (the oracle) -----------------------------------
    def _forward_backward(self, x, labels, weights, biases, weight_grads, bias_grads, acts,
                          grads, activation):
        # Composed from the public kernels, so a backend that lacks a fused step still
        # runs its own native kernels here.
        last = len(weights) - 1
        inp = x
        for i in range(last + 1):
            self.dense_forward(inp, weights[i], biases[i], acts[i],
                               "identity" if i == last else activation)
            inp = acts[i]
        loss = self.softmax_cross_entropy(acts[last], labels, grads[last])
        for i in range(last, -1, -1):
            inp = x if i == 0 else acts[i - 1]
            self.gemm(grads[i], inp, weight_grads[i], trans_a=True)
            self.bias_grad(grads[i], bias_grads[i])
            if i > 0:
                self.gemm(grads[i], weights[i], grads[i - 1])
                self.activation_backward(activation, grads[i - 1], acts[i - 1], None,
                                         grads[i - 1])
        return loss


    def _gemm(self, a, b, out, trans_a, trans_b, alpha, beta):
        opa = a.T if trans_a else a
        opb = b.T if trans_b else b
        if self._bf16_matmul(out.dtype):  # exact products of the rounded operands
            opa, opb = round_to_bfloat16(opa), round_to_bfloat16(opb)
        if beta == 0.0:
            np.matmul(opa, opb, out=out)
            if alpha != 1.0:
                out *= alpha
        else:
            prod = np.matmul(opa, opb)
            out *= beta
            out += alpha * prod if alpha != 1.0 else prod

    def _dense_forward(self, x, w, b, out, activation, pre):
        target = out if pre is None else pre
        if self._bf16_matmul(out.dtype):  # exact products of the rounded operands
            x, w = round_to_bfloat16(x), round_to_bfloat16(w)
        np.matmul(x, w.T, out=target)
        target += b
        apply_activation(activation, target, out)

    def _activation_backward(self, activation, grad, out_act, pre, out):
        ref = out_act if out_act is not None else pre
        if activation == "relu":
            np.multiply(grad, ref > 0, out=out)
        elif activation == "leaky_relu":
            np.multiply(grad, np.where(ref > 0, 1.0, LEAKY_RELU_SLOPE).astype(out.dtype), out=out)
        elif activation == "sigmoid":
            np.multiply(grad, out_act * (1 - out_act), out=out)
        elif activation == "tanh":
            np.multiply(grad, 1 - out_act * out_act, out=out)
        elif out is not grad:
            np.copyto(out, grad)

    def _bias_grad(self, grad, out):
        np.sum(grad, axis=0, out=out)

    def _softmax_cross_entropy(self, logits, labels, grad):
        n = logits.shape[0]
        rows = np.arange(n)
        shifted = logits - logits.max(axis=1, keepdims=True)
        np.exp(shifted, out=grad)
        sums = grad.sum(axis=1, keepdims=True)
        grad /= sums
        # loss_i = log(sum_j exp(z_ij)) - z_i,label (accumulated in float64)
        loss = np.sum(np.log(sums[:, 0], dtype=np.float64) - shifted[rows, labels]) / n
        grad[rows, labels] -= 1
        grad /= n
        return loss

    def _adam_step(self, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay):
        # Python-float coefficients keep every temporary in the parameters' dtype
        g = grad + weight_decay * param if weight_decay else grad
        m *= beta1
        m += (1.0 - beta1) * g
        v *= beta2
        v += (1.0 - beta2) * (g * g)
        bias1 = 1.0 - beta1 ** step
        bias2 = 1.0 - beta2 ** step
        denom = np.sqrt(v)
        denom *= 1.0 / math.sqrt(bias2)
        denom += eps
        update = np.divide(m, denom, out=denom)
        update *= lr / bias1
        param -= update


    def _adam_train_steps(self, x, labels, order, start, batch_size, steps, xb, yb, weights,
                          biases, weight_grads, bias_grads, acts, grads, activation, params,
                          param_grads, m, v, lr, beta1, beta2, eps, t0, weight_decay, losses):
        # Composed from the public kernels (as the training loop calls them step by step),
        # so a backend without a native chunk still runs its own native kernels here.
        for s in range(steps):
            idx = order[start + s * batch_size:start + (s + 1) * batch_size]
            k = idx.shape[0]
            np.take(x, idx, axis=0, out=xb[:k])
            np.take(labels, idx, out=yb[:k])
            losses[s] = self.forward_backward(xb[:k], yb[:k], weights, biases, weight_grads,
                                              bias_grads, [a[:k] for a in acts],
                                              [g[:k] for g in grads], activation)
            self.adam_step(params, param_grads, m, v, lr, beta1, beta2, eps, t0 + s + 1,
                           weight_decay)

    def _activation_forward(self, activation, x, out):
        apply_activation(activation, x, out)

    def _mse_loss(self, outputs, labels, grad):
        n, c = outputs.shape
        np.copyto(grad, outputs)
        grad[np.arange(n), labels] -= 1
        loss = np.sum(np.square(grad, dtype=np.float64)) / (n * c)
        grad *= 2.0 / (n * c)
        return loss

    def _sigmoid_binary_cross_entropy(self, logits, labels, grad):
        z = logits[:, 0]
        y = labels.astype(logits.dtype)
        # log(1 + exp(z)) - y z = max(z, 0) - y z + log1p(exp(-|z|)): no overflow
        loss = np.sum(np.maximum(z, 0) - y * z + np.log1p(np.exp(-np.abs(z))), dtype=np.float64)
        _sigmoid(logits, grad)
        grad[:, 0] -= y
        grad *= 1.0 / z.shape[0]
        return loss / z.shape[0]

    def _dropout(self, x, noise, p, out):
        np.multiply(x, noise >= p, out=out)
        out *= 1.0 / (1.0 - p)

    def _batch_norm_forward(self, x, gamma, beta, out, mean, invstd, running_mean, running_var,
                            momentum, eps):
        n = x.shape[0]
        np.mean(x, axis=0, out=mean)
        centered = x - mean
        var = np.mean(centered * centered, axis=0)  # biased: what normalizes the batch
        np.sqrt(var + eps, out=invstd)
        np.divide(1.0, invstd, out=invstd)
        np.multiply(centered, invstd * gamma, out=out)
        out += beta
        running_mean *= 1.0 - momentum
        running_mean += momentum * mean
        running_var *= 1.0 - momentum
        running_var += (momentum * n / (n - 1)) * var  # unbiased, as torch keeps it

    def _batch_norm_inference(self, x, gamma, beta, running_mean, running_var, out, eps):
        scale = gamma / np.sqrt(running_var + eps)
        np.subtract(x, running_mean, out=out)
        out *= scale
        out += beta

    def _batch_norm_backward(self, grad, x, gamma, mean, invstd, grad_x, grad_gamma, grad_beta):
        n = x.shape[0]
        xhat = (x - mean) * invstd
        np.sum(grad, axis=0, out=grad_beta)
        np.sum(grad * xhat, axis=0, out=grad_gamma)
        # reductions first, so grad_x may overwrite grad
        xhat *= grad_gamma * (1.0 / n)
        np.subtract(grad, grad_beta * (1.0 / n), out=grad_x)
        grad_x -= xhat
        grad_x *= gamma * invstd

    def _sgd_step(self, param, grad, buf, lr, momentum, nesterov, weight_decay):
        g = grad + weight_decay * param if weight_decay else grad
        if momentum:
            buf *= momentum
            buf += g
            g = g + momentum * buf if nesterov else buf
        param -= lr * g

    def _rmsprop_step(self, param, grad, square_avg, buf, lr, alpha, eps, momentum,
                      weight_decay):
        g = grad + weight_decay * param if weight_decay else grad
        square_avg *= alpha
        square_avg += (1.0 - alpha) * (g * g)
        d = np.sqrt(square_avg)
        d += eps
        np.divide(g, d, out=d)
        if momentum:
            buf *= momentum
            buf += d
            d = buf
        param -= lr * d

    def _adamw_step(self, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay):
        param *= 1.0 - lr * weight_decay
        # the Adam part runs the backend's own adam_step where it has one
        self._impl("_adam_step", param.dtype)(param, grad, m, v, lr, beta1, beta2, eps, step, 0.0)
