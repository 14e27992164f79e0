"""The dense layer's products: a packed, cache-blocked, parallel float32 GEMM with a fused
bias/activation epilogue, and the bias gradient (column sums).

dst = alpha * op(a) @ op(b) + beta * dst, then optionally dst += bias (per column) and an
activation, written to dst itself or to a second array `out` (dense_forward keeping its
pre-activation).

GotoBLAS-style: op(a) is packed into MR-row panels and op(b) into NR-column panels
(k-major, zero-padded; simd.copy_rows and simd.transpose_rows), all panels in one
parallel pass; then
the tiles of dst are computed in parallel tasks, each a range of panels of the longer
dimension with all panels of the other, by simd.microkernel, which also writes the tile
back with the epilogue applied. Tiles are always rows of dst, so the write-back is
contiguous whatever the transposes (columns would need a scalar transposed write-back).

k is summed in KC-deep slices (one L1-sized V panel slice, reused by every U panel of a
task); each element's slices are added in the same order whichever task and thread
computes it, so results are bitwise identical across thread counts.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .activations import IDENTITY, activate
from .denormals import flush_begin, flush_end
from .options import JIT
from .simd import (LANES, MR, NO_OUT, NR, VECTOR_ACTIVATIONS, copy_rows, microkernel,
                   transpose_rows)

KC = 256          # k depth of a slice: a KC x NR panel slice of V (32 KB) stays in L1
TASKS_PER_THREAD = 4


@njit(**JIT)
def _pack_u(a, trans_a, t, k, m, up):
    """Panel t of U = op(a): up[t*k*MR + p*MR + r] = U[t*MR + r, p], zero past row m."""
    base = t * k * MR
    r0 = t * MR
    rows = min(MR, m - r0)
    if trans_a:  # U[r, p] = a[p, r]: MR contiguous floats per p
        copy_rows(a, r0, m, rows, k, up, base, MR)
    else:  # U[r, p] = a[r, p]: a transpose of MR rows of a
        transpose_rows(a, r0 * k, k, rows, k, up, base, MR, MR)


@njit(**JIT)
def _pack_v(b, trans_b, q, k, n, vp):
    """Panel q of V = op(b): vp[q*k*NR + p*NR + c] = V[p, q*NR + c], zero past column n."""
    base = q * k * NR
    l0 = q * NR
    cols = min(NR, n - l0)
    if trans_b:  # V[p, c] = b[c, p]: a transpose of NR rows of b, LANES rows at a time
        for v in range(NR // LANES):
            rows = min(LANES, max(0, cols - v * LANES))
            transpose_rows(b, (l0 + v * LANES) * k, k, rows, k, vp, base + v * LANES, NR,
                           LANES)
    else:  # NR contiguous floats per p
        copy_rows(b, l0, n, cols, k, vp, base, NR)


@njit(**JIT)
def _activate_tile(dst, out, i0, rows, j0, cols, act):
    """out = act(dst) on one tile, for the activations the microkernel does not vectorize."""
    for i in range(i0, i0 + rows):
        d = dst[i, j0:j0 + cols]
        o = out[i, j0:j0 + cols]
        for j in range(cols):
            o[j] = activate(d[j], act)


@njit(**JIT)
def _split(panels, tasks, t):
    """Panel range of part t when `panels` are split as evenly as possible into `tasks`."""
    return t * panels // tasks, (t + 1) * panels // tasks


@njit(parallel=True, **JIT)
def gemm_epilogue(a, b, trans_a, trans_b, alpha, beta, dst, bias, act, out, store_out, flush,
                  threads):
    """dst = alpha * op(a) @ op(b) + beta * dst (+ bias), then act(dst) into out when
    store_out, else into dst when act applies.

    Shapes are checked by the caller (fastmlp.backends.validation); bias has dst's
    column count or size 0 (no bias); out has dst's shape. `threads` only sizes the
    task split (results do not depend on it).
    """
    m, n = dst.shape
    if m == 0 or n == 0:  # nothing to write: no loop over the empty panels of the other side
        return
    k = a.shape[0] if trans_a else a.shape[1]
    mp = (m + MR - 1) // MR
    nq = (n + NR - 1) // NR
    up = np.empty(mp * k * MR, np.float32)
    vp = np.empty(nq * k * NR, np.float32)
    for t in prange(mp + nq):  # packing copies, no arithmetic: no MXCSR guard needed
        if t < mp:
            _pack_u(a, trans_a, t, k, m, up)
        else:
            _pack_v(b, trans_b, t - mp, k, n, vp)
    alpha32 = np.float32(alpha)
    beta32 = np.float32(beta)
    has_bias = bias.size > 0
    vector_act = act in VECTOR_ACTIVATIONS
    o_act = act if vector_act and (store_out or act != IDENTITY) else NO_OUT
    # tasks split the longer panel dimension evenly and take all of the other one
    split_rows = mp >= nq
    parts = min(mp if split_rows else nq, TASKS_PER_THREAD * threads)
    slices = max(1, (k + KC - 1) // KC)  # k == 0 still writes beta * dst and the epilogue
    for task in prange(parts):
        csr = flush_begin(flush)
        if split_rows:
            t0, t1 = _split(mp, parts, task)
            q0, q1 = 0, nq
        else:
            t0, t1 = 0, mp
            q0, q1 = _split(nq, parts, task)
        for s in range(slices):
            p0 = s * KC
            kc = min(KC, k - p0)
            last = s == slices - 1
            beta_s = beta32 if s == 0 else np.float32(1.0)  # later slices add to dst
            for q in range(q0, q1):
                j0 = q * NR
                cols = min(NR, n - j0)
                bias_tile = bias[j0:j0 + cols]  # empty when there is no bias
                for t in range(t0, t1):
                    i0 = t * MR
                    rows = min(MR, m - i0)
                    microkernel(up, t * k * MR + p0 * MR, vp, q * k * NR + p0 * NR, kc,
                                dst, i0 * n + j0, n, rows, cols, alpha32, beta_s,
                                last and has_bias, bias_tile, out, o_act if last else NO_OUT)
                    if last and not vector_act:
                        _activate_tile(dst, out, i0, rows, j0, cols, act)
        flush_end(csr)



@njit(**JIT)
def bias_grad(grad, out, flush):
    """out[j] = sum over i of grad[i, j], rows added in order (vectorized across columns).

    Serial: at the training shapes (batch x 1024) one thread streams the gradient in
    about as long as waking a second one takes, and a parallel region costs a time
    slice whenever the other core is busy.
    """
    csr = flush_begin(flush)
    n, f = grad.shape
    out[:] = 0.0
    if f == 0:  # no columns: no loop over the rows (there may be very many)
        flush_end(csr)
        return
    for i in range(n):
        row = grad[i]
        for j in range(f):
            out[j] += row[j]
    flush_end(csr)
