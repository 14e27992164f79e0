"""Backend registry: choose, load and configure the kernel implementations.

``FASTMLP_BACKEND`` names the default backend; with no variable set, the default is the
fastest that loads (cpp, then numba, then numpy). A name that is unknown, or a backend
that cannot load, is an error that says why - never a silent switch to another backend.
``FASTMLP_NUM_THREADS`` (or :func:`set_num_threads`) sets the threads of every backend,
``FASTMLP_MATMUL_PRECISION`` (or :func:`set_matmul_precision`) the precision of their float32
matmuls.
"""
from __future__ import annotations

import os

from .base import KERNELS, Backend
from .bfloat16 import DEFAULT_MATMUL_PRECISION, MATMUL_PRECISIONS, check_matmul_precision
from .catalog import BACKENDS
from .catalog import backend_class, backends_with_matmul_precision
from .state import NetworkState
from .validation import ACTIVATIONS

_loaded: dict[str, Backend] = {}
_load_errors: dict[str, str] = {}
_default_name: str | None = None
_num_threads: int | None = None
_flush_denormals: bool | None = None
_matmul_precision: str | None = None


class BackendError(ValueError):
    """An unknown backend name, or a known backend that cannot be loaded here."""


def backend_names():
    """All known backend names, fastest first."""
    return list(BACKENDS)


def _load(name):
    if name in _loaded:
        return _loaded[name]
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}; known backends: {', '.join(BACKENDS)}")
    if name in _load_errors:
        raise BackendError(f"backend {name!r} cannot be loaded: {_load_errors[name]}")
    precision = get_matmul_precision()  # a bad FASTMLP_MATMUL_PRECISION fails before loading
    try:
        backend = backend_class(name)()
    except Exception as exc:  # ImportError, or a native library failing to initialize
        _load_errors[name] = str(exc) or type(exc).__name__
        raise BackendError(f"backend {name!r} cannot be loaded: {_load_errors[name]}") from exc
    _loaded[name] = backend
    threads = get_num_threads()
    if threads is not None:
        backend.set_num_threads(threads)
    backend.set_flush_denormals(get_flush_denormals())
    _push_matmul_precision(backend, precision)
    return backend


def available_backends():
    """Maps each known backend name to whether it loads on this machine."""
    result = {}
    for name in BACKENDS:
        try:
            _load(name)
            result[name] = True
        except BackendError:
            result[name] = False
    return result


def load_error(name):
    """Why backend `name` failed to load, or None if it loads."""
    try:
        _load(name)
        return None
    except BackendError as exc:
        return str(exc)


def _initial_default():
    env = os.environ.get("FASTMLP_BACKEND", "").strip()
    if env:
        if env not in BACKENDS:
            raise BackendError(f"FASTMLP_BACKEND={env!r} is not a known backend; "
                               f"known backends: {', '.join(BACKENDS)}")
        _load(env)  # raises with the reason if it cannot load
        return env
    for name in BACKENDS:
        try:
            _load(name)
            return name
        except BackendError:
            continue
    return "numpy"  # pragma: no cover - numpy always loads


def get_backend(name=None):
    """The backend object called `name`, or the current default when name is None.

    A Backend instance is returned as it is, so APIs can take a name or an object.
    """
    global _default_name
    if isinstance(name, Backend):
        return name
    if name is None:
        if _default_name is None:
            _default_name = _initial_default()
        name = _default_name
    return _load(name)


def set_backend(name):
    """Make backend `name` the default; returns the backend object."""
    global _default_name
    backend = _load(name)
    _default_name = backend.name
    return backend


def default_backend_name():
    return get_backend().name


def get_num_threads():
    """The thread count set by set_num_threads or FASTMLP_NUM_THREADS (None: library default)."""
    global _num_threads
    if _num_threads is None:
        env = os.environ.get("FASTMLP_NUM_THREADS", "").strip()
        if env:
            _num_threads = _parse_threads(env, "FASTMLP_NUM_THREADS")
    return _num_threads


def _parse_threads(value, what):
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a positive integer, got {value!r}") from None
    if n < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    if n > max_threads():
        raise ValueError(f"{what} must be at most {max_threads()} (4 x the {os.cpu_count()} "
                         f"CPUs here), got {n}")
    return n


def max_threads():
    """The largest thread count accepted: 4 x os.cpu_count(). CPU-bound kernels gain nothing
    from more threads than CPUs, and a count in the thousands makes OpenMP's thread creation
    fail, which ends the process (libgomp aborts) instead of raising."""
    return 4 * (os.cpu_count() or 1)


def set_num_threads(n):
    """Set the threads of every backend (OpenMP in cpp, numba's pool, NumPy's BLAS)."""
    global _num_threads
    _num_threads = _parse_threads(n, "number of threads")
    for backend in _loaded.values():
        backend.set_num_threads(_num_threads)


def get_flush_denormals():
    """Whether compiled kernels flush denormals to zero: set_flush_denormals, else
    FASTMLP_FLUSH_DENORMALS (0/false/off disables), else on."""
    global _flush_denormals
    if _flush_denormals is None:
        env = os.environ.get("FASTMLP_FLUSH_DENORMALS", "1").strip().lower()
        _flush_denormals = env not in ("0", "false", "off", "no")
    return _flush_denormals


def set_flush_denormals(on):
    """Switch FTZ/DAZ in the compiled backends' kernels (default on: denormals make float32
    training slower epoch after epoch). The NumPy backend is unaffected."""
    global _flush_denormals
    _flush_denormals = bool(on)
    for backend in _loaded.values():
        backend.set_flush_denormals(_flush_denormals)


def get_matmul_precision():
    """The precision of float32 matmuls: set_matmul_precision, else FASTMLP_MATMUL_PRECISION,
    else "float32". A backend that does not offer it computes in float32 (see
    set_matmul_precision); `backend.matmul_precision` is what a backend does."""
    global _matmul_precision
    if _matmul_precision is None:
        env = os.environ.get("FASTMLP_MATMUL_PRECISION", "").strip()
        _matmul_precision = (check_matmul_precision(env, "FASTMLP_MATMUL_PRECISION") if env
                             else DEFAULT_MATMUL_PRECISION)
    return _matmul_precision


def set_matmul_precision(name):
    """Set the precision of every float32 matrix product (like torch's
    set_float32_matmul_precision): "float32" (the default) or "bfloat16".

    With "bfloat16", the GEMMs of gemm, dense_forward, forward_backward and adam_train_steps
    round both operands op(A) and op(B) to bfloat16 (round to nearest, ties to even; NaN
    and +-inf kept) and accumulate the exact products in float32; outputs, bias,
    activations, losses, optimizers, parameters, optimizer state and every kernel without
    a GEMM stay float32 (mixed precision like torch's bfloat16 autocast, with float32
    outputs). float64 computations are never rounded.

    The setting goes to every loaded backend that offers it (``backend.matmul_precisions``)
    and to each backend loaded later; a backend that does not offer it (numba offers
    float32 only) quietly keeps computing in float32, so check
    ``backend.matmul_precision``, or call ``backend.set_matmul_precision(name)``, which
    raises for such a backend. The numpy backend emulates bfloat16 exactly; cpp uses AMX
    tiles where the CPU has them. ValueError if `name` is not one of "float32",
    "bfloat16".
    """
    global _matmul_precision
    _matmul_precision = check_matmul_precision(name)
    for backend in _loaded.values():
        _push_matmul_precision(backend, _matmul_precision)


def _push_matmul_precision(backend, name):
    backend.set_matmul_precision(name if name in backend.matmul_precisions
                                 else DEFAULT_MATMUL_PRECISION)


__all__ = [
    "KERNELS", "ACTIVATIONS", "Backend", "NetworkState", "BackendError", "available_backends",
    "backend_names", "get_backend", "set_backend", "get_num_threads", "set_num_threads",
    "load_error", "default_backend_name", "get_flush_denormals", "set_flush_denormals",
    "MATMUL_PRECISIONS", "get_matmul_precision", "set_matmul_precision",
    "backends_with_matmul_precision",
]
