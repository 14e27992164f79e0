"""The Numba backend: @njit kernels compiled on first use and cached on disk (cache=True)."""
from __future__ import annotations

import math

import numpy as np

from .base import Backend

try:
    import numba
    from numba import njit, prange
except ImportError as exc:  # pragma: no cover - numba is a declared dependency
    raise ImportError(f"numba is not importable ({exc}); install it with `pip install numba`") from exc

_OPTS = dict(cache=True, nogil=True, fastmath=False)


@njit(parallel=True, **_OPTS)
def _adam_kernel(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay):
    bias1 = 1.0 - beta1 ** step
    bias2 = 1.0 - beta2 ** step
    step_size = np.float32(lr / bias1)
    inv_sqrt_bias2 = np.float32(1.0 / math.sqrt(bias2))
    b1 = np.float32(beta1)
    b2 = np.float32(beta2)
    wd = np.float32(weight_decay)
    e = np.float32(eps)
    one = np.float32(1.0)
    for i in prange(param.size):
        g = grad[i] + wd * param[i]
        mi = b1 * m[i] + (one - b1) * g
        vi = b2 * v[i] + (one - b2) * g * g
        m[i] = mi
        v[i] = vi
        param[i] -= step_size * mi / (math.sqrt(vi) * inv_sqrt_bias2 + e)


class NumbaBackend(Backend):
    name = "numba"
    native_dtypes = (np.dtype(np.float32),)

    def _adam_step(self, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay):
        _adam_kernel(param.reshape(-1), grad.reshape(-1), m.reshape(-1), v.reshape(-1),
                     lr, beta1, beta2, eps, step, weight_decay)

    @staticmethod
    def set_num_threads(n):
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))

    @staticmethod
    def details():
        return f"numba {numba.__version__}, threads={numba.get_num_threads()}"
