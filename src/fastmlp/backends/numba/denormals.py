"""Flushing denormals (FTZ/DAZ) around the body of every compiled task.

MXCSR is per thread, so each prange task body (and each serial kernel) brackets its
arithmetic with `saved = flush_begin(flush)` ... `flush_end(saved)`: the pool threads and
the caller's thread get their own control word back, and NumPy code running afterwards
in the same thread keeps IEEE gradual underflow. `flush` is a kernel argument, not a
global, because compiled code (cached on disk) would freeze a global's value.
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_FTZ_DAZ = 0x8040  # MXCSR bits 15 (flush to zero) and 6 (denormals are zero)


def _csr_call(builder, name, ptr):
    i8p = ir.IntType(8).as_pointer()
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p]),
                                        name)
    builder.call(fn, [builder.bitcast(ptr, i8p)])


@intrinsic
def flush_begin(typingctx, flush):
    """Sets FTZ and DAZ when flush is true; returns the previous MXCSR for flush_end."""
    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        slot = cgutils.alloca_once(builder, i32)
        _csr_call(builder, "llvm.x86.sse.stmxcsr", slot)
        saved = builder.load(slot)
        on = context.cast(builder, args[0], signature.args[0], types.boolean)
        builder.store(builder.select(on, builder.or_(saved, ir.Constant(i32, _FTZ_DAZ)), saved),
                      slot)
        _csr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
        return builder.zext(saved, ir.IntType(64))

    return types.int64(flush), codegen


@intrinsic
def flush_end(typingctx, saved):
    """Restores the MXCSR that flush_begin returned."""
    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        slot = cgutils.alloca_once(builder, i32)
        builder.store(builder.trunc(args[0], i32), slot)
        _csr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
        return context.get_dummy_value()

    return types.void(types.int64), codegen
