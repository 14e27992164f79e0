"""The GEMM register microkernel, emitted as LLVM IR with explicit SIMD vectors.

Numba leaves vectorization to LLVM, whose x86 cost model prefers 256-bit vectors even on
AVX-512 CPUs and which does not keep an accumulator tile in registers across the k loop
of a plain Python loop nest. This intrinsic spells the tile out instead: MR x NR float32
accumulators held as MR * NR/LANES vectors of LANES floats (16 = one zmm register on
AVX-512, 8 = one ymm on AVX2), updated by one fused multiply-add per vector per k step.
It also writes the tile back itself, with vector (masked at the edges) loads and stores:
a scalar write-back loop costs as much as a third of the FMAs at the training shapes.
"""
from __future__ import annotations

import llvmlite.binding as llvm
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .activations import IDENTITY, LEAKY_RELU, RELU, SLOPE

_HAS_AVX512 = bool(llvm.get_host_cpu_features().get("avx512f", False))

LANES = 16 if _HAS_AVX512 else 8      # float32 lanes of one vector register
NR = 2 * LANES                        # tile columns: two vectors per row
MR = 12 if _HAS_AVX512 else 6         # tile rows: 2 * MR accumulators + 3 fit the 32 / 16 registers
TILE = MR * NR

NO_OUT = -1                           # o_act value: nothing is written to o
VECTOR_ACTIVATIONS = (IDENTITY, RELU, LEAKY_RELU)  # the activations the write-back applies


@intrinsic
def microkernel(typingctx, up, u_off, vp, v_off, kc, c, c_off, ldc, rows, cols, alpha, beta,
                bias_on, bias, o, o_act):
    """One MR x NR tile of C = alpha * U @ V + beta * C (+ bias), act(C) into o.

    U[r, p] = up.flat[u_off + p*MR + r] and V[p, j] = vp.flat[v_off + p*NR + j] are packed
    panels (zero past the matrix edge), p < kc. The tile is C[r, j] = c.flat[c_off + r*ldc + j]
    for r < rows, j < cols (nothing else of c is touched); with beta == 0, c is not read.
    bias_on adds bias.flat[j] (bias already offset by the caller to the tile's columns).
    o_act in VECTOR_ACTIVATIONS also writes act(C) to o (same layout as c, may be c);
    NO_OUT writes nothing to o. The caller guarantees every address is in bounds.
    """
    sig = types.void(up, types.intp, vp, types.intp, types.intp, c, types.intp, types.intp,
                     types.intp, types.intp, types.float32, types.float32, types.boolean, bias,
                     o, types.intp)

    def codegen(context, builder, signature, args):
        (up_v, u_off_v, vp_v, v_off_v, kc_v, c_v, c_off_v, ldc_v, rows_v, cols_v, alpha_v,
         beta_v, bias_on_v, bias_v, o_v, o_act_v) = args
        f32 = ir.FloatType()
        i32 = ir.IntType(32)
        idx = ir.IntType(64)
        vec = ir.VectorType(f32, LANES)
        mask_t = ir.VectorType(ir.IntType(1), LANES)
        vec_ptr = vec.as_pointer()
        nv = NR // LANES

        def data(pos, value):
            return context.make_array(signature.args[pos])(context, builder, value).data

        def const(v):
            return ir.Constant(idx, v)

        def splat(scalar):
            one = builder.insert_element(ir.Constant(vec, ir.Undefined), scalar, const(0))
            return builder.shuffle_vector(one, ir.Constant(vec, ir.Undefined),
                                          ir.Constant(ir.VectorType(i32, LANES), None))

        def vptr(base, offset):
            return builder.bitcast(builder.gep(base, [offset]), vec_ptr)

        u_base = builder.gep(data(0, up_v), [u_off_v])
        v_base = builder.gep(data(2, vp_v), [v_off_v])
        # entry-block allocas: LLVM promotes them to registers (mem2reg)
        acc = [[cgutils.alloca_once_value(builder, ir.Constant(vec, None)) for _ in range(nv)]
               for _ in range(MR)]
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec] * 3),
                                             f"llvm.fma.v{LANES}f32")
        with cgutils.for_range(builder, kc_v) as loop:
            p = loop.index
            u_col = builder.gep(u_base, [builder.mul(p, const(MR))])
            v_row = builder.gep(v_base, [builder.mul(p, const(NR))])
            v_vecs = [builder.load(vptr(v_row, const(v * LANES)), align=4) for v in range(nv)]
            for r in range(MR):
                s = splat(builder.load(builder.gep(u_col, [const(r)])))
                for v in range(nv):
                    builder.store(builder.call(fma, [s, v_vecs[v], builder.load(acc[r][v])]),
                                  acc[r][v])

        # -- write-back: the column masks are the same for every row of the tile
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
        alpha_s, beta_s = splat(alpha_v), splat(beta_v)
        beta_nz = builder.fcmp_unordered("!=", beta_v, ir.Constant(f32, 0.0))
        c_base = builder.gep(data(5, c_v), [c_off_v])
        o_base = builder.gep(data(14, o_v), [c_off_v])
        b_base = data(13, bias_v)
        bias_vecs = []
        for v in range(nv):  # loaded only when bias_on (the bias may be empty otherwise)
            slot = cgutils.alloca_once_value(builder, zero)
            with builder.if_then(bias_on_v):
                builder.store(builder.call(mload, [vptr(b_base, const(v * LANES)), align,
                                                   masks[v], zero]), slot)
            bias_vecs.append(builder.load(slot))
        slope = splat(ir.Constant(f32, float(SLOPE)))
        one = splat(ir.Constant(f32, 1.0))
        for r in range(MR):
            with builder.if_then(builder.icmp_signed("<", const(r), rows_v)):
                row_off = builder.mul(const(r), ldc_v)
                for v in range(nv):
                    off = builder.add(row_off, const(v * LANES))
                    cp = vptr(c_base, off)
                    z = cgutils.alloca_once_value(builder, builder.fmul(alpha_s,
                                                                        builder.load(acc[r][v])))
                    with builder.if_then(beta_nz):
                        old = builder.call(mload, [cp, align, masks[v], zero])
                        builder.store(builder.fadd(builder.load(z), builder.fmul(beta_s, old)), z)
                    with builder.if_then(bias_on_v):
                        builder.store(builder.fadd(builder.load(z), bias_vecs[v]), z)
                    zv = builder.load(z)
                    builder.call(mstore, [zv, cp, align, masks[v]])
                    # act(z) to o, rounding like activations.activate
                    relu = builder.select(builder.fcmp_ordered("<", zv, zero), zero, zv)
                    leaky = builder.fmul(zv, builder.select(builder.fcmp_ordered(">", zv, zero),
                                                            one, slope))
                    act = builder.select(
                        builder.icmp_signed("==", o_act_v, const(RELU)), relu,
                        builder.select(builder.icmp_signed("==", o_act_v, const(LEAKY_RELU)),
                                       leaky, zv))
                    with builder.if_then(builder.icmp_signed("!=", o_act_v, const(NO_OUT))):
                        builder.call(mstore, [act, vptr(o_base, off), align, masks[v]])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def gather_strided(typingctx, src, s_off, ld, count, dst, d_off, width):
    """dst.flat[d_off + c] = src.flat[s_off + c*ld] for c < count, zero for count <= c <
    width, by masked vector gathers and stores: the GEMM's packing, both transposing (a
    column of a row-major block; a scalar transposing copy runs at about one float per
    cycle, 2x slower) and plain (ld == 1; 3x faster than numba's loop over short slices).
    The caller guarantees every address is in bounds."""
    sig = types.void(src, types.intp, types.intp, types.intp, dst, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        src_v, s_off_v, ld_v, count_v, dst_v, d_off_v, width_v = args
        f32 = ir.FloatType()
        i32 = ir.IntType(32)
        idx = ir.IntType(64)
        vec = ir.VectorType(f32, LANES)
        ivec = ir.VectorType(idx, LANES)
        pvec = ir.VectorType(f32.as_pointer(), LANES)
        mask_t = ir.VectorType(ir.IntType(1), LANES)
        gather = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vec, [pvec, i32, mask_t, vec]),
            f"llvm.masked.gather.v{LANES}f32.v{LANES}p0")
        store = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [vec, vec.as_pointer(), i32, mask_t]),
            f"llvm.masked.store.v{LANES}f32.p0")

        def data(pos, value):
            return context.make_array(signature.args[pos])(context, builder, value).data

        def splat(value):
            return builder.shuffle_vector(
                builder.insert_element(ir.Constant(ivec, ir.Undefined), value,
                                       ir.Constant(idx, 0)),
                ir.Constant(ivec, ir.Undefined), ir.Constant(ir.VectorType(i32, LANES), None))

        base = builder.gep(data(0, src_v), [s_off_v])
        out = builder.gep(data(4, dst_v), [d_off_v])
        lanes = ir.Constant(ivec, [ir.Constant(idx, i) for i in range(LANES)])
        ld_s = splat(ld_v)
        count_s = splat(count_v)
        width_s = splat(width_v)
        base_s = splat(builder.ptrtoint(base, idx))
        four = splat(ir.Constant(idx, 4))  # bytes per float32
        with cgutils.for_range_slice(builder, ir.Constant(idx, 0), width_v,
                                     ir.Constant(idx, LANES)) as (c0, _):
            cols = builder.add(splat(c0), lanes)
            mask = builder.icmp_signed("<", cols, count_s)
            # masked-off lanes would address past the block: clamp them to column 0
            # (llvmlite's gep takes no vector index: addresses as integers)
            offsets = builder.mul(builder.select(mask, cols, ir.Constant(ivec, None)), ld_s)
            ptrs = builder.inttoptr(builder.add(base_s, builder.mul(offsets, four)), pvec)
            values = builder.call(gather, [ptrs, ir.Constant(i32, 4), mask, ir.Constant(vec, None)])
            builder.call(store, [values, builder.bitcast(builder.gep(out, [c0]), vec.as_pointer()),
                                 ir.Constant(i32, 4), builder.icmp_signed("<", cols, width_s)])
        return context.get_dummy_value()

    return sig, codegen
