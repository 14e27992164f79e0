"""The pure-NumPy backend, the correctness oracle: the interface with NumPy kernels.

Both matmul precisions: "float32", and "bfloat16" emulated exactly (both GEMM operands
rounded to bfloat16 values held in float32 by
:func:`fastmlp.backends.bfloat16.round_to_bfloat16`, then np.matmul in float32, where the
products of such values are exact).
"""
from __future__ import annotations

import numpy as np

from ..base import Backend
from ..bfloat16 import MATMUL_PRECISIONS
from . import NumpyKernels


class NumpyBackend(NumpyKernels, Backend):
    name = "numpy"
    native_dtypes = (np.dtype(np.float32), np.dtype(np.float64))
    matmul_precisions = MATMUL_PRECISIONS

    def details(self):
        return f"numpy {np.__version__}, matmul={self.matmul_precision}"
