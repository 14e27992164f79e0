"""The GEMM register microkernel and its packing copies, emitted as LLVM IR with explicit
SIMD vectors.

Numba leaves vectorization to LLVM, whose x86 cost model prefers 256-bit vectors even on
AVX-512 CPUs and which does not keep an accumulator tile in registers across the k loop
of a plain Python loop nest. This intrinsic spells the tile out instead: MR x NR float32
accumulators held as MR * NR/LANES vectors of LANES floats (16 = one zmm register on
AVX-512, 8 = one ymm on AVX2), updated by one fused multiply-add per vector per k step.
It also writes the tile back itself, with vector (masked at the edges) loads and stores:
a scalar write-back loop costs as much as a third of the FMAs at the training shapes.
The packing copies (copy_rows, transpose_rows) move whole vectors for the same reason.
"""
from __future__ import annotations

import llvmlite.binding as llvm
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .activations import IDENTITY, LEAKY_RELU, RELU, SIGMOID, SLOPE

_HAS_AVX512 = bool(llvm.get_host_cpu_features().get("avx512f", False))

LANES = 16 if _HAS_AVX512 else 8      # float32 lanes of one vector register
NR = 2 * LANES                        # tile columns: two vectors per row
MR = 12 if _HAS_AVX512 else 6         # tile rows: 2 * MR accumulators + 3 fit the 32 / 16 registers
# A tile of fewer rows runs only the multiply-adds of the first 2/3 or 1/3 of MR rows that
# cover them (a batch of 64 leaves a tile of 4 rows, 128 one of 8)
ROW_COUNTS = (MR, 2 * MR // 3, MR // 3)

NO_OUT = -1                           # o_act value: nothing is written to o
VECTOR_ACTIVATIONS = (IDENTITY, RELU, LEAKY_RELU)  # the activations the write-back applies


@intrinsic
def microkernel(typingctx, up, u_off, u_ld, vp, v_off, v_ld, kc, c, c_off, ldc, rows, cols,
                alpha, beta, bias_on, bias, bias_off, o, o_act, d_act, ref):
    """One MR x NR tile of C = (alpha * U @ V + beta * C (+ bias)) * act'(ref), act(C) into o.

    up, vp, c, bias, o and ref are addresses of float32 arrays (_floats); x[i] is the i-th float
    from address x. U is a packed panel, U[r, p] = up[u_off + p*MR + r] (zero past the
    matrix edge), when u_ld == 0; else rows of a row-major matrix read in place, U[r, p] =
    up[u_off + r*u_ld + p] for r < rows (small products skip packing it).
    V[p, j] = vp[v_off + p*v_ld + j] for j < cols: a packed panel (v_ld = NR) or rows
    of a row-major matrix read in place; lanes from cols on are not read. p < kc.
    The tile is C[r, j] = c[c_off + r*ldc + j] for r < rows, j < cols (nothing else of
    c is touched); with beta == 0, c is not read. A tile of at most LANES columns runs one
    vector per row (half the multiply-adds of a full tile, for the thin products), and one
    of fewer rows the rows of ROW_COUNTS that cover them.
    bias_on adds bias[bias_off + j].
    o_act in VECTOR_ACTIVATIONS also writes act(C) to o (same layout as c, may be c);
    NO_OUT writes nothing to o. d_act other than IDENTITY multiplies C by the derivative of
    that activation at ref (same layout as c; activations.backward's rounding): the
    backward pass's input gradient with its activation derivative fused in. Every sum is
    the same sequence of fused multiply-adds whichever variant runs. The caller guarantees
    every address is in bounds.
    """
    sig = types.void(types.uintp, types.intp, types.intp, types.uintp, types.intp, types.intp,
                     types.intp, types.uintp, types.intp, types.intp, types.intp, types.intp,
                     types.float32, types.float32, types.boolean, types.uintp, types.intp,
                     types.uintp, types.intp, types.intp, types.uintp)

    def codegen(context, builder, signature, args):
        (up_v, u_off_v, u_ld_v, vp_v, v_off_v, v_ld_v, kc_v, c_v, c_off_v, ldc_v, rows_v,
         cols_v, alpha_v, beta_v, bias_on_v, bias_v, bias_off_v, o_v, o_act_v, d_act_v,
         ref_v) = args
        f32 = ir.FloatType()
        i32 = ir.IntType(32)
        idx = ir.IntType(64)
        vec = ir.VectorType(f32, LANES)
        mask_t = ir.VectorType(ir.IntType(1), LANES)
        vec_ptr = vec.as_pointer()
        nv = NR // LANES

        def const(v):
            return ir.Constant(idx, v)

        def splat(scalar):
            one = builder.insert_element(ir.Constant(vec, ir.Undefined), scalar, const(0))
            return builder.shuffle_vector(one, ir.Constant(vec, ir.Undefined),
                                          ir.Constant(ir.VectorType(i32, LANES), None))

        def vptr(base, offset):
            return builder.bitcast(builder.gep(base, [offset]), vec_ptr)

        # the column masks: for the loads of V, and the same for every row's write-back
        ivec = ir.VectorType(idx, LANES)
        cols_splat = builder.shuffle_vector(
            builder.insert_element(ir.Constant(ivec, ir.Undefined), cols_v, const(0)),
            ir.Constant(ivec, ir.Undefined), ir.Constant(ir.VectorType(i32, LANES), None))
        masks = [builder.icmp_signed("<", ir.Constant(ivec, [const(v * LANES + i)
                                                             for i in range(LANES)]),
                                     cols_splat) for v in range(nv)]
        mload = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vec, [vec_ptr, i32, mask_t, vec]),
            f"llvm.masked.load.v{LANES}f32.p0")
        mstore = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [vec, vec_ptr, i32, mask_t]),
            f"llvm.masked.store.v{LANES}f32.p0")
        align = ir.Constant(i32, 4)
        zero = ir.Constant(vec, None)

        u_base = builder.gep(_floats(builder, up_v), [u_off_v])
        v_base = builder.gep(_floats(builder, vp_v), [v_off_v])
        # rows of U read in place: rows past `rows` read the last one (not written back)
        last_row = builder.sub(rows_v, const(1))
        row_base = []
        for r in range(MR):
            clamped = builder.select(builder.icmp_signed("<", const(r), rows_v), const(r),
                                     last_row)
            row_base.append(builder.gep(u_base, [builder.mul(clamped, u_ld_v)]))
        # entry-block allocas: LLVM promotes them to registers (mem2reg)
        acc = [[cgutils.alloca_once_value(builder, ir.Constant(vec, None)) for _ in range(nv)]
               for _ in range(MR)]
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec] * 3),
                                             f"llvm.fma.v{LANES}f32")

        def k_loop(in_place, vectors, tile_rows):
            with cgutils.for_range(builder, kc_v) as loop:
                p = loop.index
                v_row = builder.gep(v_base, [builder.mul(p, v_ld_v)])
                v_vecs = [builder.call(mload, [vptr(v_row, const(v * LANES)), align, masks[v],
                                               zero]) for v in range(vectors)]
                u_col = None if in_place else builder.gep(u_base, [builder.mul(p, const(MR))])
                for r in range(tile_rows):
                    u = (builder.gep(row_base[r], [p]) if in_place
                         else builder.gep(u_col, [const(r)]))
                    s = splat(builder.load(u))
                    for v in range(vectors):
                        builder.store(builder.call(fma, [s, v_vecs[v], builder.load(acc[r][v])]),
                                      acc[r][v])

        def k_loop_rows(in_place, vectors):  # the fewest rows of ROW_COUNTS covering `rows`
            def choose(counts):
                if len(counts) == 1:
                    k_loop(in_place, vectors, counts[0])
                    return
                with builder.if_else(builder.icmp_signed(">", rows_v, const(counts[1]))) as (
                        more, fewer):
                    with more:
                        k_loop(in_place, vectors, counts[0])
                    with fewer:
                        choose(counts[1:])
            choose(ROW_COUNTS)

        packed = builder.icmp_signed("==", u_ld_v, const(0))
        wide = builder.icmp_signed(">", cols_v, const(LANES))
        with builder.if_else(packed) as (from_panel, from_rows):
            for in_place, branch in ((False, from_panel), (True, from_rows)):
                with branch:
                    with builder.if_else(wide) as (full_width, one_vector):
                        with full_width:
                            k_loop_rows(in_place, nv)
                        with one_vector:
                            k_loop_rows(in_place, 1)

        # -- write-back. The plain product (beta == 0, no bias, no derivative, nothing to o:
        # the weight-gradient GEMMs) has a path of its own: for thin-k products the
        # write-back costs as much as the multiply-adds, and per-vector tests of beta, bias
        # and o_act would double it.
        # With AVX2, whole tiles store whole vectors: AMD cores run its masked stores
        # (VMASKMOVPS) as slow microcode.
        alpha_s, beta_s = splat(alpha_v), splat(beta_v)
        beta_nz = builder.fcmp_unordered("!=", beta_v, ir.Constant(f32, 0.0))
        o_on = builder.icmp_signed("!=", o_act_v, const(NO_OUT))
        d_on = builder.icmp_signed("!=", d_act_v, const(IDENTITY))
        c_base = builder.gep(_floats(builder, c_v), [c_off_v])
        o_base = builder.gep(_floats(builder, o_v), [c_off_v])
        r_base = builder.gep(_floats(builder, ref_v), [c_off_v])
        b_base = builder.gep(_floats(builder, bias_v), [bias_off_v])
        plain = builder.not_(builder.or_(builder.or_(beta_nz, bias_on_v),
                                         builder.or_(o_on, d_on)))

        def row_on(r):
            return builder.icmp_signed("<", const(r), rows_v)

        def vector_mask(mask, flag):  # mask where the scalar flag holds, else all false
            return builder.select(flag, mask, ir.Constant(mask_t, None))

        def write_back(whole):
            def put(value, ptr, v, flag=None):  # stores vector v of a row (when flag holds)
                if not whole:
                    mask = masks[v] if flag is None else vector_mask(masks[v], flag)
                    builder.call(mstore, [value, ptr, align, mask])
                elif flag is None:
                    builder.store(value, ptr, align=4)
                else:
                    with builder.if_then(flag):
                        builder.store(value, ptr, align=4)

            with builder.if_else(plain) as (plain_tile, epilogue_tile):
                with plain_tile:
                    for r in range(MR):
                        with builder.if_then(row_on(r)):
                            row_off = builder.mul(const(r), ldc_v)
                            for v in range(nv):
                                cp = vptr(c_base, builder.add(row_off, const(v * LANES)))
                                put(builder.fmul(alpha_s, builder.load(acc[r][v])), cp, v)
                with epilogue_tile:
                    # the bias is loaded only when bias_on (it may be empty otherwise)
                    bias_vecs = [builder.call(mload, [vptr(b_base, const(v * LANES)), align,
                                                      vector_mask(masks[v], bias_on_v), zero])
                                 for v in range(nv)]
                    old_masks = [vector_mask(masks[v], beta_nz) for v in range(nv)]  # c unread
                    ref_masks = [vector_mask(masks[v], d_on) for v in range(nv)]  # ref unread
                    slope = splat(ir.Constant(f32, float(SLOPE)))
                    one = splat(ir.Constant(f32, 1.0))
                    is_relu = builder.icmp_signed("==", o_act_v, const(RELU))
                    is_leaky = builder.icmp_signed("==", o_act_v, const(LEAKY_RELU))
                    d_code = [builder.icmp_signed("==", d_act_v, const(code))  # else tanh
                              for code in (RELU, LEAKY_RELU, SIGMOID)]
                    for r in range(MR):
                        with builder.if_then(row_on(r)):
                            row_off = builder.mul(const(r), ldc_v)
                            for v in range(nv):
                                off = builder.add(row_off, const(v * LANES))
                                cp = vptr(c_base, off)
                                z = builder.fmul(alpha_s, builder.load(acc[r][v]))
                                old = builder.call(mload, [cp, align, old_masks[v], zero])
                                z = builder.select(beta_nz,
                                                   builder.fadd(z, builder.fmul(beta_s, old)), z)
                                z = builder.select(bias_on_v, builder.fadd(z, bias_vecs[v]), z)
                                # z * act'(ref), rounding like activations.backward
                                y = builder.call(mload, [vptr(r_base, off), align, ref_masks[v],
                                                         zero])
                                positive = builder.fcmp_ordered(">", y, zero)
                                relu_d = builder.select(positive, one, zero)
                                leaky_d = builder.select(positive, one, slope)
                                sigmoid_d = builder.fmul(y, builder.fsub(one, y))
                                tanh_d = builder.fsub(one, builder.fmul(y, y))
                                factor = builder.select(d_code[0], relu_d, builder.select(
                                    d_code[1], leaky_d, builder.select(d_code[2], sigmoid_d,
                                                                       tanh_d)))
                                z = builder.select(d_on, builder.fmul(z, factor), z)
                                put(z, cp, v)
                                # act(z) to o, rounding like activations.activate
                                relu = builder.select(builder.fcmp_ordered("<", z, zero), zero, z)
                                leaky = builder.fmul(z, builder.select(
                                    builder.fcmp_ordered(">", z, zero), one, slope))
                                act = builder.select(is_relu, relu,
                                                     builder.select(is_leaky, leaky, z))
                                put(act, vptr(o_base, off), v, o_on)

        if LANES == 16:  # AVX-512 stores under a mask register at full speed
            write_back(False)
        else:
            with builder.if_else(builder.icmp_signed("==", cols_v, const(NR))) as (whole, edge):
                with whole:
                    write_back(True)
                with edge:
                    write_back(False)
        return context.get_dummy_value()

    return sig, codegen


def _floats(builder, address):
    """The float32 pointer at an address. The kernels take addresses (array.ctypes.data),
    not arrays: numba brackets every call that takes an array with two atomic reference-
    count updates, which cost more than a thin tile's arithmetic."""
    return builder.inttoptr(address, ir.FloatType().as_pointer())


def _masked_memory(builder, vec):
    """The masked vector load and store intrinsics for vectors of type vec."""
    i32 = ir.IntType(32)
    lanes = vec.count
    mask_t = ir.VectorType(ir.IntType(1), lanes)
    load = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vec, [vec.as_pointer(), i32, mask_t, vec]),
        f"llvm.masked.load.v{lanes}f32.p0")
    store = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [vec, vec.as_pointer(), i32, mask_t]),
        f"llvm.masked.store.v{lanes}f32.p0")
    return load, store


def _splat_index(builder, value):
    """A vector of LANES copies of the 64-bit integer value."""
    idx = ir.IntType(64)
    ivec = ir.VectorType(idx, LANES)
    return builder.shuffle_vector(
        builder.insert_element(ir.Constant(ivec, ir.Undefined), value, ir.Constant(idx, 0)),
        ir.Constant(ivec, ir.Undefined), ir.Constant(ir.VectorType(ir.IntType(32), LANES), None))


def _transpose(builder, rows):
    """The LANES x LANES transpose of the vectors `rows`: log2(LANES) stages, each swapping
    the off-diagonal b x b blocks of every 2b x 2b block (two two-source shuffles per pair
    of rows), which LLVM lowers to permute instructions."""
    i32 = ir.IntType(32)
    rows = list(rows)
    b = LANES // 2
    while b >= 1:
        low = [c if c & b == 0 else LANES + c - b for c in range(LANES)]
        high = [c + b if c & b == 0 else LANES + c for c in range(LANES)]
        low_mask = ir.Constant(ir.VectorType(i32, LANES), low)
        high_mask = ir.Constant(ir.VectorType(i32, LANES), high)
        for i in range(LANES):
            if i & b == 0:
                j = i | b
                rows[i], rows[j] = (builder.shuffle_vector(rows[i], rows[j], low_mask),
                                    builder.shuffle_vector(rows[i], rows[j], high_mask))
        b //= 2
    return rows


def _put(builder, value, ptr, whole, mask):
    """Stores the vector value at ptr: whole when the flag `whole` holds, else its lanes in
    mask (whole stores where possible: AMD cores run AVX2 masked stores as microcode)."""
    _, store = _masked_memory(builder, value.type)
    with builder.if_else(whole) as (all_lanes, some_lanes):
        with all_lanes:
            builder.store(value, ptr, align=4)
        with some_lanes:
            builder.call(store, [value, ptr, ir.Constant(ir.IntType(32), 4), mask])


def _rows_at(builder, src, s_off, dst, d_off):
    """The float32 pointers src + s_off and dst + d_off of a packing copy."""
    return builder.gep(_floats(builder, src), [s_off]), builder.gep(_floats(builder, dst), [d_off])


@intrinsic
def transpose_rows(typingctx, src, s_off, ld, rows, depth, dst, d_off, stride, keep):
    """The GEMM's transposing pack: dst[d_off + p*stride + i] = src[s_off + i*ld + p]
    (float32 addresses, see microkernel) for i < rows (<= LANES) and p < depth; lanes
    rows <= i < keep are written as zero, lanes from keep on are not written.
    LANES x LANES blocks are read as contiguous row pieces and transposed in registers:
    reading src a column at a time (a gather) costs several times more, and with ld a
    multiple of 1024 floats every row of a column falls in the same L1 set. The caller
    guarantees every address is in bounds."""
    sig = types.void(types.uintp, types.intp, types.intp, types.intp, types.intp, types.uintp,
                     types.intp, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        src_v, s_off_v, ld_v, rows_v, depth_v, dst_v, d_off_v, stride_v, keep_v = args
        idx = ir.IntType(64)
        vec = ir.VectorType(ir.FloatType(), LANES)
        load, _ = _masked_memory(builder, vec)
        lanes = ir.Constant(ir.VectorType(idx, LANES), [ir.Constant(idx, i) for i in range(LANES)])
        keep_mask = builder.icmp_signed("<", lanes, _splat_index(builder, keep_v))
        full = builder.icmp_signed("==", keep_v, ir.Constant(idx, LANES))
        src_base, dst_base = _rows_at(builder, src_v, s_off_v, dst_v, d_off_v)
        with cgutils.for_range_slice(builder, ir.Constant(idx, 0), depth_v,
                                     ir.Constant(idx, LANES)) as (p0, _):
            count = builder.sub(depth_v, p0)  # p0 + lane < depth
            in_depth = builder.icmp_signed("<", lanes, _splat_index(builder, count))
            loaded = []
            for i in range(LANES):  # masked-off rows past `rows` read nothing: zeros
                row_on = builder.icmp_signed("<", ir.Constant(idx, i), rows_v)
                mask = builder.select(row_on, in_depth, ir.Constant(in_depth.type, None))
                ptr = builder.gep(src_base, [builder.add(builder.mul(ir.Constant(idx, i), ld_v),
                                                         p0)])
                loaded.append(builder.call(load, [builder.bitcast(ptr, vec.as_pointer()),
                                                  ir.Constant(ir.IntType(32), 4), mask,
                                                  ir.Constant(vec, None)]))
            for q, column in enumerate(_transpose(builder, loaded)):
                with builder.if_then(builder.icmp_signed("<", ir.Constant(idx, q), count)):
                    ptr = builder.gep(dst_base, [builder.mul(builder.add(p0, ir.Constant(idx, q)),
                                                             stride_v)])
                    _put(builder, column, builder.bitcast(ptr, vec.as_pointer()), full,
                         keep_mask)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def copy_rows(typingctx, src, s_off, ld, count, depth, dst, d_off, width):
    """The GEMM's plain pack: dst[d_off + p*width + c] = src[s_off + p*ld + c] (float32
    addresses, see microkernel) for c < count and p < depth, zero for count <= c < width
    (width <= 2 * LANES), by (masked) vector loads and stores. The caller guarantees every
    address is in bounds."""
    sig = types.void(types.uintp, types.intp, types.intp, types.intp, types.intp, types.uintp,
                     types.intp, types.intp)

    def codegen(context, builder, signature, args):
        src_v, s_off_v, ld_v, count_v, depth_v, dst_v, d_off_v, width_v = args
        idx = ir.IntType(64)
        vec = ir.VectorType(ir.FloatType(), LANES)
        load, _ = _masked_memory(builder, vec)
        src_base, dst_base = _rows_at(builder, src_v, s_off_v, dst_v, d_off_v)
        parts = []  # per vector of a row: its load mask, store mask, whether it is whole/used
        for v in range(2):
            lanes = ir.Constant(ir.VectorType(idx, LANES),
                                [ir.Constant(idx, v * LANES + i) for i in range(LANES)])
            parts.append((builder.icmp_signed("<", lanes, _splat_index(builder, count_v)),
                          builder.icmp_signed("<", lanes, _splat_index(builder, width_v)),
                          builder.icmp_signed(">=", width_v, ir.Constant(idx, (v + 1) * LANES)),
                          builder.icmp_signed(">", width_v, ir.Constant(idx, v * LANES))))
        with cgutils.for_range(builder, depth_v) as loop:
            p = loop.index
            s_row = builder.gep(src_base, [builder.mul(p, ld_v)])
            d_row = builder.gep(dst_base, [builder.mul(p, width_v)])
            for v, (in_count, in_width, whole, used) in enumerate(parts):
                with builder.if_then(used):
                    off = ir.Constant(idx, v * LANES)
                    value = builder.call(load, [
                        builder.bitcast(builder.gep(s_row, [off]), vec.as_pointer()),
                        ir.Constant(ir.IntType(32), 4), in_count, ir.Constant(vec, None)])
                    _put(builder, value, builder.bitcast(builder.gep(d_row, [off]),
                                                         vec.as_pointer()), whole, in_width)
        return context.get_dummy_value()

    return sig, codegen
