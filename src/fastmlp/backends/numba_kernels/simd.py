"""The GEMM register microkernel, emitted as LLVM IR with explicit SIMD vectors.

Numba leaves vectorization to LLVM, whose x86 cost model prefers 256-bit vectors even on
AVX-512 CPUs and which does not keep an accumulator tile in registers across the k loop
of a plain Python loop nest. This intrinsic spells the tile out instead: MR x NR float32
accumulators held as MR * NR/LANES vectors of LANES floats (16 = one zmm register on
AVX-512, 8 = one ymm on AVX2), updated by one fused multiply-add per vector per k step.
"""
from __future__ import annotations

import llvmlite.binding as llvm
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_HAS_AVX512 = bool(llvm.get_host_cpu_features().get("avx512f", False))

LANES = 16 if _HAS_AVX512 else 8      # float32 lanes of one vector register
NR = 2 * LANES                        # tile columns: two vectors per row
MR = 12 if _HAS_AVX512 else 6         # tile rows: 2 * MR accumulators + 3 fit the 32 / 16 registers
TILE = MR * NR


@intrinsic
def microkernel(typingctx, u, u_off, u_row, u_step, rows, vp, v_off, kc, tile):
    """tile[r*NR + c] = sum over p < kc of U[r, p] * V[p, c], for r < MR and c < NR.

    U[r, p] is the scalar u.flat[u_off + min(r, rows-1)*u_row + p*u_step] (rows past `rows`
    repeat the last valid one, so nothing outside u is read); V[p, c] is the packed panel
    vp.flat[v_off + p*NR + c]. The caller guarantees that every address lies inside u and
    vp, and that tile holds TILE floats: nothing is checked here.
    """
    sig = types.void(u, types.intp, types.intp, types.intp, types.intp, vp, types.intp,
                     types.intp, tile)

    def codegen(context, builder, signature, args):
        u_val, u_off_val, u_row_val, u_step_val, rows_val, vp_val, v_off_val, kc_val, t_val = args
        f32 = ir.FloatType()
        vec = ir.VectorType(f32, LANES)
        vec_ptr = vec.as_pointer()
        idx = ir.IntType(64)

        def data(pos, value):
            return context.make_array(signature.args[pos])(context, builder, value).data

        u_base = builder.gep(data(0, u_val), [u_off_val])
        v_base = builder.gep(data(5, vp_val), [v_off_val])
        t_data = data(8, t_val)
        last_row = builder.sub(rows_val, ir.Constant(idx, 1))
        row_offsets = []
        for r in range(MR):
            rr = builder.select(builder.icmp_signed("<", ir.Constant(idx, r), rows_val),
                                ir.Constant(idx, r), last_row)
            row_offsets.append(builder.mul(rr, u_row_val))
        nv = NR // LANES
        # entry-block allocas: LLVM promotes them to registers (mem2reg)
        acc = [[cgutils.alloca_once_value(builder, ir.Constant(vec, None)) for _ in range(nv)]
               for _ in range(MR)]
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec] * 3),
                                             f"llvm.fma.v{LANES}f32")
        zero_mask = ir.Constant(ir.VectorType(ir.IntType(32), LANES), None)
        with cgutils.for_range(builder, kc_val) as loop:
            p = loop.index
            u_col = builder.gep(u_base, [builder.mul(p, u_step_val)])
            v_row = builder.gep(v_base, [builder.mul(p, ir.Constant(idx, NR))])
            v_vecs = [builder.load(builder.bitcast(
                builder.gep(v_row, [ir.Constant(idx, v * LANES)]), vec_ptr), align=4)
                for v in range(nv)]
            for r in range(MR):
                scalar = builder.load(builder.gep(u_col, [row_offsets[r]]))
                splat = builder.shuffle_vector(
                    builder.insert_element(ir.Constant(vec, ir.Undefined), scalar,
                                           ir.Constant(idx, 0)),
                    ir.Constant(vec, ir.Undefined), zero_mask)
                for v in range(nv):
                    builder.store(builder.call(fma, [splat, v_vecs[v], builder.load(acc[r][v])]),
                                  acc[r][v])
        for r in range(MR):
            for v in range(nv):
                dst = builder.gep(t_data, [ir.Constant(idx, r * NR + v * LANES)])
                builder.store(builder.load(acc[r][v]), builder.bitcast(dst, vec_ptr), align=4)
        return context.get_dummy_value()

    return sig, codegen
