"""Shared fixtures: every backend configuration the parity suite runs each kernel under.

A configuration is a backend plus the knobs that change which code runs: the thread
count (1 and 2, so threaded splits are exercised) and, for cpp, the forced ISA path
(avx512, avx2, generic on x86-64; neon, generic on aarch64), so every microkernel is tested
on this machine.
"""
from __future__ import annotations

import contextlib
import os

import numpy as np
import pytest

import fastmlp
from fastmlp import backends


def _cpp_isas():
    try:
        from fastmlp import _cpp
    except ImportError:
        return []
    return [isa for isa in ("avx512", "avx2", "neon", "generic") if _cpp.cpu_supports(isa)]


def backend_configs():
    """(id, backend name, threads, isa) for every configuration that loads here."""
    configs = [("numpy", "numpy", None, None)]
    available = backends.available_backends()
    if available.get("numba"):
        configs += [(f"numba-t{t}", "numba", t, None) for t in (1, 2)]
    if available.get("cpp"):
        configs += [(f"cpp-{isa}-t{t}", "cpp", t, isa) for isa in _cpp_isas() for t in (1, 2)]
    return configs


@contextlib.contextmanager
def configured(name, threads, isa):
    """Backend `name` with `threads` and (cpp) `isa` in force; restores both afterwards."""
    before_threads = backends.get_num_threads()
    backend = backends.get_backend(name)
    cpp = None
    if isa is not None:
        from fastmlp import _cpp as cpp
        before_isa = cpp.isa()
        cpp.set_isa(isa)
    if threads is not None:
        backends.set_num_threads(threads)
    try:
        yield backend
    finally:
        if cpp is not None:
            cpp.set_isa(before_isa)
        if threads is not None:
            backends.set_num_threads(before_threads or os.cpu_count() or 1)


CONFIGS = backend_configs()


@pytest.fixture(autouse=True)
def _default_backend_restored():
    """A test that changes the default backend (the CLI's --backend calls set_backend in
    this process) must not hand it to the tests after it."""
    before = backends._default_name
    yield
    backends._default_name = before


@pytest.fixture(params=CONFIGS, ids=[c[0] for c in CONFIGS])
def any_backend(request):
    """Each backend configuration in turn (numpy included)."""
    _, name, threads, isa = request.param
    with configured(name, threads, isa) as backend:
        yield backend


@pytest.fixture
def oracle():
    return backends.get_backend("numpy")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def mnist():
    return fastmlp.datasets.load_mnist()
