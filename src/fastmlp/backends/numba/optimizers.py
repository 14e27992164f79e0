"""SGD, RMSprop, Adam and AdamW steps: one fused, in-place pass over parameters, gradients
and state.

torch.optim rules, every operation rounded like the NumPy oracle's sequence (float32
throughout, coefficients such as 1 - alpha computed in float64 and rounded once). Each
variant (weight decay or not, momentum kind) has its own loop over a task's slices from 0:
the shape LLVM vectorizes (about 4x faster than indexing the whole arrays from a task
offset with a branch inside). Elementwise, so results do not depend on the thread count.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .denormals import flush_begin, flush_end
from .options import JIT

_MIN_TASK = 16384  # elements: a share smaller than this is not worth waking a thread for


@njit(**JIT)
def _tasks(size, threads):
    """One parallel task per thread (of `threads`), each of at least _MIN_TASK elements:
    equal shares (chunks of a fixed size left some thread a chunk more than the others, up
    to 1/3 more time for the 100 k parameters of a small network). The thread count is an
    argument: numba.get_num_threads() in compiled code keeps it from being cached."""
    return max(1, min(threads, size // _MIN_TASK))


@njit(**JIT)
def _share(size, tasks, task):
    """[begin, end) of task `task` of `tasks`: near-equal, in whole 16-element vectors."""
    units = (size + 15) // 16
    return min(size, units * task // tasks * 16), min(size, units * (task + 1) // tasks * 16)


PLAIN, MOMENTUM, NESTEROV = range(3)


@njit(inline="always", **JIT)
def _sgd_chunk(p, g, b, n, lr, mom, wd, decay, mode):
    if decay:
        if mode == PLAIN:
            for i in range(n):
                p[i] -= lr * (g[i] + wd * p[i])
        elif mode == MOMENTUM:
            for i in range(n):
                bi = b[i] * mom + (g[i] + wd * p[i])
                b[i] = bi
                p[i] -= lr * bi
        else:
            for i in range(n):
                gi = g[i] + wd * p[i]
                bi = b[i] * mom + gi
                b[i] = bi
                p[i] -= lr * (gi + mom * bi)
    else:
        if mode == PLAIN:
            for i in range(n):
                p[i] -= lr * g[i]
        elif mode == MOMENTUM:
            for i in range(n):
                bi = b[i] * mom + g[i]
                b[i] = bi
                p[i] -= lr * bi
        else:
            for i in range(n):
                gi = g[i]
                bi = b[i] * mom + gi
                b[i] = bi
                p[i] -= lr * (gi + mom * bi)


@njit(parallel=True, **JIT)
def sgd_step(param, grad, buf, lr, momentum, nesterov, weight_decay, flush, threads):
    """torch.optim.SGD (dampening 0) on flat arrays: g = grad + wd * param;
    buf = buf * momentum + g; param -= lr * (g + momentum * buf if nesterov else buf),
    or param -= lr * g without momentum (buf is then not touched and may be empty)."""
    lr32 = np.float32(lr)
    mom = np.float32(momentum)
    wd = np.float32(weight_decay)
    decay = weight_decay != 0.0
    mode = PLAIN if momentum == 0.0 else (NESTEROV if nesterov else MOMENTUM)
    size = param.size
    tasks = _tasks(size, threads)
    for task in prange(tasks):
        csr = flush_begin(flush)
        s, t = _share(size, tasks, task)
        b = buf[s:t] if mode != PLAIN else buf[:0]
        _sgd_chunk(param[s:t], grad[s:t], b, t - s, lr32, mom, wd, decay, mode)
        flush_end(csr)


@njit(inline="always", **JIT)
def _rms_direction(gi, a, i, alpha, c, e):
    """square_avg update at i, then gi / (sqrt(square_avg) + eps)."""
    ai = a[i] * alpha + c * (gi * gi)
    a[i] = ai
    return gi / (np.float32(math.sqrt(ai)) + e)


@njit(inline="always", **JIT)
def _rmsprop_chunk(p, g, a, b, n, lr, alpha, c, e, mom, wd, decay, momentum):
    if decay:
        if momentum:
            for i in range(n):
                bi = b[i] * mom + _rms_direction(g[i] + wd * p[i], a, i, alpha, c, e)
                b[i] = bi
                p[i] -= lr * bi
        else:
            for i in range(n):
                p[i] -= lr * _rms_direction(g[i] + wd * p[i], a, i, alpha, c, e)
    else:
        if momentum:
            for i in range(n):
                bi = b[i] * mom + _rms_direction(g[i], a, i, alpha, c, e)
                b[i] = bi
                p[i] -= lr * bi
        else:
            for i in range(n):
                p[i] -= lr * _rms_direction(g[i], a, i, alpha, c, e)


@njit(parallel=True, **JIT)
def rmsprop_step(param, grad, square_avg, buf, lr, alpha, eps, momentum, weight_decay, flush,
                 threads):
    """torch.optim.RMSprop (centered=False) on flat arrays: g = grad + wd * param;
    square_avg = square_avg * alpha + float32(1 - alpha) * g**2; d = g / (sqrt(square_avg)
    + eps); with momentum buf = buf * momentum + d and param -= lr * buf, else
    param -= lr * d (buf is then not touched and may be empty)."""
    lr32 = np.float32(lr)
    a32 = np.float32(alpha)
    c = np.float32(1.0 - alpha)
    e = np.float32(eps)
    mom = np.float32(momentum)
    wd = np.float32(weight_decay)
    decay = weight_decay != 0.0
    has_momentum = momentum != 0.0
    size = param.size
    tasks = _tasks(size, threads)
    for task in prange(tasks):
        csr = flush_begin(flush)
        s, t = _share(size, tasks, task)
        b = buf[s:t] if has_momentum else buf[:0]
        _rmsprop_chunk(param[s:t], grad[s:t], square_avg[s:t], b, t - s, lr32, a32, c, e,
                       mom, wd, decay, has_momentum)
        flush_end(csr)


# -- Adam and AdamW ---------------------------------------------------------------------
@njit(inline="always", **JIT)
def _update(p, g, m, v, n, b1, b2, c1, c2, wd, decay, inv_sqrt_bias2, step_size, e):
    """The update on one chunk. The loops run over slices from 0 with the decay test
    hoisted out of them: that is the shape LLVM vectorizes (about 4x faster than
    indexing the whole arrays from a task offset with a branch inside)."""
    if decay:
        for i in range(n):
            gi = g[i] + wd * p[i]
            mi = b1 * m[i] + c1 * gi
            vi = b2 * v[i] + c2 * (gi * gi)
            m[i] = mi
            v[i] = vi
            p[i] -= (mi / (np.float32(math.sqrt(vi)) * inv_sqrt_bias2 + e)) * step_size
    else:
        for i in range(n):
            gi = g[i]
            mi = b1 * m[i] + c1 * gi
            vi = b2 * v[i] + c2 * (gi * gi)
            m[i] = mi
            v[i] = vi
            p[i] -= (mi / (np.float32(math.sqrt(vi)) * inv_sqrt_bias2 + e)) * step_size


@njit(parallel=True, **JIT)
def adam_step(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay, flush, threads):
    """torch.optim.Adam on flat float32 arrays, every operation rounded like the NumPy
    oracle's sequence (float32 throughout, coefficients rounded from float64)."""
    b1 = np.float32(beta1)
    b2 = np.float32(beta2)
    c1 = np.float32(1.0 - beta1)
    c2 = np.float32(1.0 - beta2)
    wd = np.float32(weight_decay)
    inv_sqrt_bias2 = np.float32(1.0 / math.sqrt(1.0 - beta2 ** step))
    step_size = np.float32(lr / (1.0 - beta1 ** step))
    e = np.float32(eps)
    decay = weight_decay != 0.0
    size = param.size
    tasks = _tasks(size, threads)
    for task in prange(tasks):
        csr = flush_begin(flush)
        s, t = _share(size, tasks, task)
        _update(param[s:t], grad[s:t], m[s:t], v[s:t], t - s, b1, b2, c1, c2, wd, decay,
                inv_sqrt_bias2, step_size, e)
        flush_end(csr)


@njit(inline="always", **JIT)
def _update_decoupled(p, g, m, v, n, b1, b2, c1, c2, keep, inv_sqrt_bias2, step_size, e):
    """AdamW on one chunk: param * keep (decoupled decay), then _update without L2 term."""
    for i in range(n):
        gi = g[i]
        mi = b1 * m[i] + c1 * gi
        vi = b2 * v[i] + c2 * (gi * gi)
        m[i] = mi
        v[i] = vi
        p[i] = p[i] * keep - (mi / (np.float32(math.sqrt(vi)) * inv_sqrt_bias2 + e)) * step_size


@njit(parallel=True, **JIT)
def adamw_step(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay, flush, threads):
    """torch.optim.AdamW on flat float32 arrays: param *= float32(1 - lr * weight_decay),
    then adam_step's update with no L2 term, rounded like the oracle's two passes."""
    b1 = np.float32(beta1)
    b2 = np.float32(beta2)
    c1 = np.float32(1.0 - beta1)
    c2 = np.float32(1.0 - beta2)
    keep = np.float32(1.0 - lr * weight_decay)
    inv_sqrt_bias2 = np.float32(1.0 / math.sqrt(1.0 - beta2 ** step))
    step_size = np.float32(lr / (1.0 - beta1 ** step))
    e = np.float32(eps)
    size = param.size
    tasks = _tasks(size, threads)
    for task in prange(tasks):
        csr = flush_begin(flush)
        s, t = _share(size, tasks, task)
        _update_decoupled(param[s:t], grad[s:t], m[s:t], v[s:t], t - s, b1, b2, c1, c2, keep,
                          inv_sqrt_bias2, step_size, e)
        flush_end(csr)
