"""The known backends: name -> where its class lives, fastest first (the default order).

Backends are loaded by name (importlib), so neither the interface nor the registry imports
a backend module it may not be able to load; both ask here.
"""
from __future__ import annotations

import importlib

from .bfloat16 import check_matmul_precision

BACKENDS = {
    "cpp": ("fastmlp.backends.cpp", "CppBackend"),
    "numba": ("fastmlp.backends.numba.backend", "NumbaBackend"),
    "numpy": ("fastmlp.backends.numpy.backend", "NumpyBackend"),
}


def backend_class(name):
    """The class of backend `name` (a known name); raises whatever importing it raises."""
    module_name, cls_name = BACKENDS[name]
    return getattr(importlib.import_module(module_name), cls_name)


def backends_with_matmul_precision(name):
    """Names of the backends whose float32 matmuls offer precision `name` (loaded or not;
    a backend that cannot be imported is left out)."""
    name = check_matmul_precision(name)
    result = []
    for backend_name in BACKENDS:
        try:
            cls = backend_class(backend_name)
        except Exception:  # cannot load here: it offers nothing
            continue
        if name in cls.matmul_precisions:
            result.append(backend_name)
    return result
