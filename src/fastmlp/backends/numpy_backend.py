"""The pure-NumPy backend: the Backend base class as it is, the correctness oracle.

Both matmul precisions: "float32", and "bfloat16" emulated exactly (both GEMM operands
rounded to bfloat16 values held in float32 by
:func:`fastmlp.backends.bfloat16.round_to_bfloat16`, then np.matmul in float32, where the
products of such values are exact).
"""
from .base import Backend


class NumpyBackend(Backend):
    name = "numpy"
