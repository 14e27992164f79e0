"""Inverted dropout from caller-drawn uniform noise: out = x * [noise >= p] / (1 - p)."""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .denormals import flush_begin, flush_end
from .options import JIT

_CHUNK = 32768  # elements per parallel task

_ZERO = np.float32(0.0)
_ONE = np.float32(1.0)


@njit(inline="always", **JIT)
def _chunk(x, noise, out, n, p, scale):
    # a multiply by 1 or 0 (not a select), so a dropped inf or NaN gives NaN and a dropped
    # negative gives -0, as NumPy's x * (noise >= p)
    for i in range(n):
        out[i] = (x[i] * (_ONE if noise[i] >= p else _ZERO)) * scale


@njit(parallel=True, **JIT)
def dropout(x, noise, out, p, flush):
    """Flat arrays; out may be x itself. The keep test compares in float32, noise >=
    float32(p), as NumPy compares a float32 array with a Python float: the same units as
    the oracle are dropped even where float32(p) < p."""
    p32 = np.float32(p)
    scale = np.float32(1.0 / (1.0 - p))
    n = x.size
    for c in prange((n + _CHUNK - 1) // _CHUNK):
        csr = flush_begin(flush)
        s = c * _CHUNK
        t = min(n, s + _CHUNK)
        _chunk(x[s:t], noise[s:t], out[s:t], t - s, p32, scale)
        flush_end(csr)
