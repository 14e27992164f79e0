"""The C++ backend: kernels from the pybind11 extension fastmlp._cpp (built from csrc/)."""
from __future__ import annotations

import numpy as np

from .base import Backend

try:
    from .. import _cpp
except ImportError as exc:  # pragma: no cover - depends on how the package was built
    raise ImportError(
        f"the C++ extension fastmlp._cpp is not importable ({exc}); reinstall fastmlp with "
        "`pip install .` (needs a C++17 compiler with OpenMP) to build it") from exc


class CppBackend(Backend):
    name = "cpp"
    native_dtypes = (np.dtype(np.float32),)

    def _adam_step(self, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay):
        _cpp.adam_step(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay)

    @staticmethod
    def set_num_threads(n):
        _cpp.set_num_threads(n)

    @staticmethod
    def details():
        return f"isa={_cpp.isa()}, threads={_cpp.num_threads()}, flush_denormals={_cpp.flush_denormals()}"
