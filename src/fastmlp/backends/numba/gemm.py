"""The dense layer's products: a packed, cache-blocked, parallel float32 GEMM with a fused
bias/activation epilogue, and the bias gradient (column sums).

dst = alpha * op(a) @ op(b) + beta * dst, then optionally dst += bias (per column) and an
activation, written to dst itself or to a second array `out` (dense_forward keeping its
pre-activation).

GotoBLAS-style, with the cpp backend's loops (csrc/gemm/gemm.cpp) and blocking
(blocking.py, from the cache sizes): the threads split dst on the grid that minimizes the
slowest one's work, and each runs one parallel task over its block: per nc-wide column
block and kc-deep slice it packs op(b) into NR-column panels, then op(a), mc rows at a
time, into MR-row panels (k-major, zero-padded; simd.copy_rows, simd.transpose_rows), and
runs simd.microkernel on every tile, which also writes the tile back with the epilogue
applied. Small products skip packing: a row-major op(a) of few rows and a row-major op(b)
that fits in L1 (or meets a single row panel) are read in place, and a product too small
to share runs in the calling thread without a parallel region.

Each element's k slices are added in the same order, with the same arithmetic, whichever
thread, block or tile variant computes it, so results are bitwise identical across
thread counts.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .activations import IDENTITY, activate
from .blocking import block_sizes, in_place_b_bytes, macs_per_thread, slice_depth
from .denormals import flush_begin, flush_end
from .options import JIT
from .simd import (LANES, MR, NO_OUT, NR, VECTOR_ACTIVATIONS, copy_rows, microkernel,
                   transpose_rows)

IN_PLACE_ROWS = 256  # up to this many rows, a row-major op(a) is read in place
PACK_COST = 8.0      # packing an element costs about as many multiply-adds (for the split)


@njit(**JIT)
def _pack_u(a, trans_a, m, k, r0, rows, p0, depth, up):
    """Rows r0..r0+rows of U = op(a) (m x k), columns p0..p0+depth, as MR-row panels:
    up[t*depth*MR + p*MR + r] = U[r0 + t*MR + r, p0 + p], zero past the last row (a and
    up are addresses, see simd.microkernel)."""
    for i in range(0, rows, MR):
        n_rows = min(MR, rows - i)
        base = i * depth
        if trans_a:  # U[r, p] = a[p, r]: MR contiguous floats per p
            copy_rows(a, p0 * m + r0 + i, m, n_rows, depth, up, base, MR)
        else:  # U[r, p] = a[r, p]: a transpose of MR rows of a
            transpose_rows(a, (r0 + i) * k + p0, k, n_rows, depth, up, base, MR, MR)


@njit(**JIT)
def _pack_v(b, trans_b, n, k, c0, cols, p0, depth, vp):
    """Columns c0..c0+cols of V = op(b) (k x n), rows p0..p0+depth, as NR-column panels:
    vp[q*depth*NR + p*NR + c] = V[p0 + p, c0 + q*NR + c], zero past the last column (b
    and vp are addresses)."""
    for j in range(0, cols, NR):
        n_cols = min(NR, cols - j)
        base = j * depth
        if trans_b:  # V[p, c] = b[c, p]: a transpose of NR rows of b, LANES rows at a time
            for v in range(NR // LANES):
                part = min(LANES, max(0, n_cols - v * LANES))
                transpose_rows(b, (c0 + j + v * LANES) * k + p0, k, part, depth, vp,
                               base + v * LANES, NR, LANES)
        else:  # NR contiguous floats per p
            copy_rows(b, p0 * n + c0 + j, n, n_cols, depth, vp, base, NR)


@njit(**JIT)
def _activate_tile(dst, out, i0, rows, j0, cols, act):
    """out = act(dst) on one tile, for the activations the microkernel does not vectorize
    (indexed, not sliced: a view per row would cost two atomic reference-count updates)."""
    for i in range(i0, i0 + rows):
        for j in range(j0, j0 + cols):
            out[i, j] = activate(dst[i, j], act)


@njit(**JIT)
def _split(count, parts, part, align):
    """[begin, end) of part `part` when count is split into `parts` near-equal pieces of
    whole multiples of align (the last may be short)."""
    units = (count + align - 1) // align
    return (min(count, units * part // parts * align),
            min(count, units * (part + 1) // parts * align))


@njit(**JIT)
def _grid_rows(m, n, k, threads):
    """The thread grid's row count tm (threads / tm columns) that minimizes the slowest
    thread's tile-padded multiply-adds plus its packing."""
    best_tm, best = 1, np.inf
    for tm in range(1, threads + 1):
        if threads % tm:
            continue
        rows = ((m + MR - 1) // MR + tm - 1) // tm * MR
        cols = ((n + NR - 1) // NR + threads // tm - 1) // (threads // tm) * NR
        cost = (rows * cols + PACK_COST * (rows + cols)) * k
        if cost < best:
            best_tm, best = tm, cost
    return best_tm


@njit(**JIT)
def _gemm_block(a, b, trans_a, trans_b, alpha, beta, dst, bias, act, out, store_out, d_act,
                ref, caches, m0, m1, n0, n1):
    """dst[m0:m1, n0:n1] and its epilogue (see gemm_epilogue), in the calling thread."""
    if m0 >= m1 or n0 >= n1:
        return
    k = a.shape[0] if trans_a else a.shape[1]
    kc = slice_depth(k, caches, MR)
    mc, nc = block_sizes(caches, MR, NR, kc)
    mc = min(mc, m1 - m0)
    nc = min(nc, n1 - n0)
    # read in place where packing cannot pay off: a single row panel reads each element of
    # op(b) once, an op(b) well inside L1 stays there; then few rows of a row-major op(a)
    # are cheaper to read than to transpose. A transposed op(a) is always packed (read in
    # place it takes a new line every k step, often all in one L1 set).
    b_in_place = not trans_b and (m1 - m0 <= MR
                                  or k * (n1 - n0) * 4 <= in_place_b_bytes(caches))
    a_in_place = not trans_a and not b_in_place and m1 - m0 <= IN_PLACE_ROWS
    up = np.empty(0 if a_in_place else (mc + MR - 1) // MR * MR * kc, np.float32)
    vp = np.empty(0 if b_in_place else (nc + NR - 1) // NR * NR * kc, np.float32)
    # the pack buffers are arguments there: alive until it returns (a local array would be
    # freed after its last use by name, and the loops use it by address)
    _block_loops(a, b, trans_a, trans_b, alpha, beta, dst, bias, act, out, store_out, d_act,
                 ref, m0, m1, n0, n1, kc, mc, nc, a_in_place, b_in_place, up, vp)


@njit(**JIT)
def _block_loops(a, b, trans_a, trans_b, alpha, beta, dst, bias, act, out, store_out, d_act,
                 ref, m0, m1, n0, n1, kc, mc, nc, a_in_place, b_in_place, up, vp):
    """The GotoBLAS loops of _gemm_block over its block, with the pack buffers up and vp."""
    m, n = dst.shape
    k = a.shape[0] if trans_a else a.shape[1]
    alpha32 = np.float32(alpha)
    beta32 = np.float32(beta)
    has_bias = bias.size > 0
    vector_act = act in VECTOR_ACTIVATIONS
    o_act = act if vector_act and (store_out or act != IDENTITY) else NO_OUT
    slices = max(1, (k + kc - 1) // kc)  # k == 0 still writes beta * dst and the epilogue
    # the kernels take addresses (see simd._floats); every array here is an argument
    a_at, b_at, up_at, vp_at = a.ctypes.data, b.ctypes.data, up.ctypes.data, vp.ctypes.data
    dst_at, bias_at, out_at = dst.ctypes.data, bias.ctypes.data, out.ctypes.data
    ref_at = ref.ctypes.data
    for jc in range(n0, n1, nc):
        n_cols = min(nc, n1 - jc)
        for s in range(slices):
            p0 = s * kc
            depth = min(kc, k - p0)
            last = s == slices - 1
            beta_s = beta32 if s == 0 else np.float32(1.0)  # later slices add to dst
            if not b_in_place:
                _pack_v(b_at, trans_b, n, k, jc, n_cols, p0, depth, vp_at)
            for ic in range(m0, m1, mc):
                n_rows = min(mc, m1 - ic)
                if not a_in_place:
                    _pack_u(a_at, trans_a, m, k, ic, n_rows, p0, depth, up_at)
                if b_in_place:
                    v_at, v_base, v_col_step, v_ld = b_at, p0 * n + jc, 1, n
                else:
                    v_at, v_base, v_col_step, v_ld = vp_at, 0, depth, NR
                for i in range(0, n_rows, MR):
                    i0 = ic + i
                    rows = min(MR, n_rows - i)
                    if a_in_place:
                        u_at, u_off, u_ld = a_at, i0 * k + p0, k
                    else:
                        u_at, u_off, u_ld = up_at, i * depth, 0
                    for j in range(0, n_cols, NR):
                        j0 = jc + j
                        cols = min(NR, n_cols - j)
                        microkernel(u_at, u_off, u_ld, v_at, v_base + j * v_col_step, v_ld,
                                    depth, dst_at, i0 * n + j0, n, rows, cols, alpha32, beta_s,
                                    last and has_bias, bias_at, j0, out_at,
                                    o_act if last else NO_OUT, d_act if last else IDENTITY,
                                    ref_at)
                        if last and not vector_act:
                            _activate_tile(dst, out, i0, rows, j0, cols, act)


@njit(parallel=True, **JIT)
def gemm_epilogue(a, b, trans_a, trans_b, alpha, beta, dst, bias, act, out, store_out, d_act,
                  ref, flush, threads, caches):
    """dst = (alpha * op(a) @ op(b) + beta * dst (+ bias)) * act'(ref) for the activation
    d_act (IDENTITY: no factor), then act(dst) into out when store_out, else into dst when
    act applies.

    Shapes are checked by the caller (fastmlp.backends.validation); bias has dst's
    column count or size 0 (no bias); out and ref have dst's shape. `threads` caps the
    threads used and `caches` ((L1d, L2) bytes, blocking.detected_caches) sizes the
    blocks (results do not depend on the thread count).
    """
    m, n = dst.shape
    if m == 0 or n == 0:  # nothing to write: no loop over the empty panels of the other side
        return
    k = a.shape[0] if trans_a else a.shape[1]
    macs = float(m) * float(n) * float(max(k, 1))
    used = min(threads, int(macs / macs_per_thread(caches)))
    if used < 2:
        csr = flush_begin(flush)
        _gemm_block(a, b, trans_a, trans_b, alpha, beta, dst, bias, act, out, store_out,
                    d_act, ref, caches, 0, m, 0, n)
        flush_end(csr)
        return
    tm = _grid_rows(m, n, k, used)
    tn = used // tm
    for task in prange(used):
        csr = flush_begin(flush)
        m0, m1 = _split(m, tm, task // tn, MR)
        n0, n1 = _split(n, tn, task % tn, NR)
        _gemm_block(a, b, trans_a, trans_b, alpha, beta, dst, bias, act, out, store_out,
                    d_act, ref, caches, m0, m1, n0, n1)
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
