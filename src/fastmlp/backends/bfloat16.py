"""Matmul precisions and bfloat16 rounding, the reference for every backend.

A *matmul precision* says how a backend computes a float32 matrix product (see
:func:`fastmlp.set_matmul_precision`):

- ``"float32"`` (the default): operands and accumulation in float32.
- ``"bfloat16"``: both GEMM operands op(A) and op(B) are rounded to bfloat16 (8-bit
  significand, float32's exponent range; round to nearest, ties to even), their products
  (exact in float32: 8 x 8 significand bits) are accumulated in float32, and the result
  is float32. Alpha, beta, the bias and the activation epilogues stay float32.

:func:`round_to_bfloat16` is that rounding, bit for bit what the hardware conversion
(AVX512-BF16's VCVTNE2PS2BF16, which feeds the cpp backend's AMX tiles) gives: like it,
denormal inputs become a zero of the same sign (the tiles would read a bfloat16 denormal as
zero anyway).
"""
from __future__ import annotations

import contextlib

import numpy as np

# Every precision fastmlp knows, the default first.
MATMUL_PRECISIONS = ("float32", "bfloat16")
DEFAULT_MATMUL_PRECISION = "float32"

_ROUND_HALF = np.uint32(0x7FFF)
_HIGH_HALF = np.uint32(0xFFFF0000)
_QUIET_BIT = np.uint32(0x00400000)
_ONE = np.uint32(1)
_SHIFT = np.uint32(16)


class EmulatedBfloat16Warning(UserWarning):
    """bfloat16 matmuls were asked for where the CPU (or the forced ISA path) has neither AMX
    tiles nor AVX512-BF16: they are emulated by rounding float32 operands, which is slower
    than float32 matmuls, not faster."""


def check_matmul_precision(name, what="matmul precision"):
    """The canonical name of matmul precision `name`; ValueError naming the allowed ones.

    Surrounding whitespace and case are ignored ("BFloat16 " is "bfloat16").
    """
    canonical = name.strip().lower() if isinstance(name, str) else None
    if canonical not in MATMUL_PRECISIONS:
        raise ValueError(f"{what} must be one of {', '.join(MATMUL_PRECISIONS)}; got {name!r}")
    return canonical


def round_to_bfloat16(x):
    """x rounded to the nearest bfloat16 value (ties to even), as a new float32 array.

    The result holds bfloat16 values in float32 (its low 16 bits are zero), so NumPy can
    multiply them: the product of two of them is exact in float32. +-0, +-inf and the sign
    are kept; denormals (below 2**-126 in magnitude) become a zero of their sign, as the
    hardware conversion does; a NaN stays a (quiet) NaN; a finite number at or beyond
    (2 - 2**-8) * 2**127, halfway between bfloat16's largest finite value and 2**128,
    rounds to +-inf, as IEEE 754 round-to-nearest-even prescribes. Works on any float32
    array layout (transposed views included) and leaves x unchanged.
    """
    x = np.asarray(x)
    if x.dtype != np.float32:
        raise TypeError(f"round_to_bfloat16 takes float32 arrays, got {x.dtype}")
    u = x.view(np.uint32)
    # add half an ulp of bfloat16 (minus one unless the kept part is odd: ties to even),
    # then drop the low 16 bits; a carry moves into the exponent, up to infinity
    rounded = u + _ROUND_HALF
    rounded += (u >> _SHIFT) & _ONE
    rounded &= _HIGH_HALF
    denormal = (u & np.uint32(0x7F800000)) == 0
    if denormal.any():
        rounded[denormal] = u[denormal] & np.uint32(0x80000000)
    nan = np.isnan(x)
    if nan.any():
        # the carry above can turn a NaN into infinity or zero: keep it a NaN, made quiet
        # so a payload that sat in the dropped bits only does not leave +-inf behind
        rounded[nan] = (u[nan] | _QUIET_BIT) & _HIGH_HALF
    return rounded.view(np.float32)


@contextlib.contextmanager
def backend_matmul_precision(backend, name):
    """`backend` computes in matmul precision `name` inside the block (None: unchanged),
    its previous precision restored after; ValueError if the backend does not offer it."""
    if name is None:
        yield
        return
    before = backend.matmul_precision
    backend.set_matmul_precision(name)
    try:
        yield
    finally:
        backend.set_matmul_precision(before)
