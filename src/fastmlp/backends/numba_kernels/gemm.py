"""Cache-blocked, parallel float32 GEMM with a fused bias/activation epilogue.

dst = alpha * op(a) @ op(b) + beta * dst, then optionally dst += bias (per column) and an
activation, written to dst itself or to a second array `out` (dense_forward keeping its
pre-activation).

The simd.microkernel multiplies a "broadcast" operand U (read in place, scalar by scalar,
any strides) by a "vector" operand V (packed into contiguous, zero-padded NR-column
panels) into an MR x NR tile. Which of op(a) and op(b)^T plays U decides whether the
tiles are rows or columns of dst; it is chosen so that V is copied, not transposed, when
the layouts allow it (only op(a) @ op(b) with a not transposed and b transposed needs a
transposing pack, and then the smaller operand is packed).

Work splits into blocks of tile rows x NC columns, the parallel tasks (prange). Every
task runs the whole k range of its block, in KC-deep slices, so each output element is
summed in the same order whatever the thread count: results are bitwise identical across
thread counts. The epilogue runs per block right after its last slice, while it is cached.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .activations import IDENTITY, activate
from .denormals import flush_begin, flush_end
from .options import JIT
from .simd import MR, NR, TILE, microkernel

KC = 1024         # k depth of a slice; the training shapes (k <= 1024) need one slice, so
                  # each tile is summed in registers and stored once
RC = 4 * MR       # U rows of a task (its packed U block is RC x k)


@njit(parallel=True, **JIT)
def _pack_v(v, v_trans, k, cols_total, vp):
    """vp[q*k*NR + p*NR + c] = V[p, q*NR + c] (zero past cols_total), V = v or v.T: each
    NR-column panel of V as one contiguous k x NR block, so a slice of it is too."""
    for q in prange((cols_total + NR - 1) // NR):
        base = q * k * NR
        l0 = q * NR
        cols = min(NR, cols_total - l0)
        if v_trans:  # a transpose: read rows of v, write with stride NR
            for c in range(cols):
                src = v[l0 + c]
                for p in range(k):
                    vp[base + p * NR + c] = src[p]
        else:
            for p in range(k):
                src = v[p, l0:l0 + cols]
                dst = vp[base + p * NR:base + p * NR + cols]
                for c in range(cols):
                    dst[c] = src[c]
        for p in range(k):
            for c in range(cols, NR):
                vp[base + p * NR + c] = 0.0


@njit(**JIT)
def _add_tile(tile, dst, r0, l0, rows, cols, tiles_are_rows, alpha, beta, first):
    """Adds alpha * tile[:rows, :cols] to dst at tile position (r0, l0); the first k slice
    replaces dst (plus beta * dst when beta != 0, so with beta == 0 dst is never read)."""
    if tiles_are_rows:
        for r in range(rows):
            t = tile[r * NR:r * NR + cols]
            d = dst[r0 + r, l0:l0 + cols]
            if not first:
                for c in range(cols):
                    d[c] += alpha * t[c]
            elif beta != 0.0:
                for c in range(cols):
                    d[c] = alpha * t[c] + beta * d[c]
            else:
                for c in range(cols):
                    d[c] = alpha * t[c]
    else:  # tile row r is dst column r0 + r
        for c in range(cols):
            d = dst[l0 + c, r0:r0 + rows]
            if not first:
                for r in range(rows):
                    d[r] += alpha * tile[r * NR + c]
            elif beta != 0.0:
                for r in range(rows):
                    d[r] = alpha * tile[r * NR + c] + beta * d[r]
            else:
                for r in range(rows):
                    d[r] = alpha * tile[r * NR + c]


@njit(**JIT)
def _epilogue(dst, i0, i1, j0, j1, bias, act, out):
    """dst[i0:i1, j0:j1] += bias; out[...] = act(dst[...])."""
    for i in range(i0, i1):
        d = dst[i, j0:j1]
        o = out[i, j0:j1]
        if bias.size:
            b = bias[j0:j1]
            for j in range(j1 - j0):
                d[j] += b[j]
        for j in range(j1 - j0):
            o[j] = activate(d[j], act)


@njit(**JIT)
def _pack_u(u, u_trans, r0, rc, k, up):
    """up[t*k*MR + p*MR + r] = U[r0 + t*MR + r, p] (zero past row r0 + rc), U = u or u.T:
    MR-row panels of U, so the microkernel reads its scalars from one contiguous stream
    (rows of u read in place would hit one cache set when their stride is a multiple of
    4 KB, as with 1024 float32 columns)."""
    for t in range((rc + MR - 1) // MR):
        base = t * k * MR
        first = r0 + t * MR
        rows = min(MR, rc - t * MR)
        if u_trans:
            for p in range(k):
                src = u[p, first:first + rows]
                for r in range(rows):
                    up[base + p * MR + r] = src[r]
        else:
            for r in range(rows):
                src = u[first + r]
                for p in range(k):
                    up[base + p * MR + r] = src[p]
        for p in range(k):
            for r in range(rows, MR):
                up[base + p * MR + r] = 0.0


@njit(parallel=True, **JIT)
def gemm_epilogue(a, b, trans_a, trans_b, alpha, beta, dst, bias, act, out, store_out, flush):
    """dst = alpha * op(a) @ op(b) + beta * dst (+ bias), then act(dst) into out when
    store_out, else into dst when act or bias apply.

    Shapes are checked by the caller (fastmlp.backends.validation); bias has dst's
    column count or size 0 (no bias); out has dst's shape.
    """
    m, n = dst.shape
    k = a.shape[0] if trans_a else a.shape[1]
    # The larger output dimension goes to U, split among the tasks; the smaller one is V,
    # packed once and shared. Tiles are rows of dst (U = op(a), V = op(b)) or columns
    # (U = op(b).T, V = op(a).T).
    tiles_are_rows = m >= n
    if tiles_are_rows:
        u, u_trans, v, v_trans, rows_total, cols_total = a, trans_a, b, trans_b, m, n
    else:
        u, u_trans, v, v_trans, rows_total, cols_total = b, not trans_b, a, not trans_a, n, m
    alpha32 = np.float32(alpha)
    beta32 = np.float32(beta)
    epilogue = store_out or bias.size > 0 or act != IDENTITY
    vp = np.empty(((cols_total + NR - 1) // NR) * k * NR, np.float32)
    _pack_v(v, v_trans, k, cols_total, vp)
    slices = max(1, (k + KC - 1) // KC)  # k == 0 still writes beta * dst and the epilogue
    for task in prange((rows_total + RC - 1) // RC):
        csr = flush_begin(flush)
        r0 = task * RC
        rc = min(RC, rows_total - r0)
        up = np.empty(RC * k, np.float32)
        tile = np.empty(TILE, np.float32)
        _pack_u(u, u_trans, r0, rc, k, up)
        for s in range(slices):
            p0 = s * KC
            kc = min(KC, k - p0)
            for jr in range(0, cols_total, NR):
                for ir in range(0, rc, MR):
                    # one kc x MR block of U panel ir/MR and one kc x NR block of V
                    # panel jr/NR: both inside the packed buffers since p0 + kc <= k
                    microkernel(up, ir * k + p0 * MR, 1, MR, MR, vp, jr * k + p0 * NR, kc,
                                tile)
                    _add_tile(tile, dst, r0 + ir, jr, min(MR, rc - ir),
                              min(NR, cols_total - jr), tiles_are_rows, alpha32, beta32,
                              s == 0)
        if epilogue:
            if tiles_are_rows:
                _epilogue(dst, r0, r0 + rc, 0, cols_total, bias, act, out)
            else:
                _epilogue(dst, 0, cols_total, r0, r0 + rc, bias, act, out)
        flush_end(csr)
