"""The backend registry: names, defaults, environment variables, errors, introspection."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp import backends
from fastmlp.backends.base import KERNELS, Backend


def _run(code, **env):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FASTMLP_")}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full_env, timeout=120)


def test_known_backends_are_listed_fastest_first():
    assert backends.backend_names() == ["cpp", "numba", "numpy"]
    assert fastmlp.available_backends()["numpy"] is True


def test_every_backend_in_this_install_loads():
    # the package as installed by the README's command builds cpp and depends on numba
    assert fastmlp.available_backends() == {"cpp": True, "numba": True, "numpy": True}


def test_get_backend_by_name_and_object():
    be = fastmlp.get_backend("numpy")
    assert be.name == "numpy" and isinstance(be, Backend)
    assert fastmlp.get_backend(be) is be


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(fastmlp.BackendError, match="unknown backend 'nope'.*cpp, numba, numpy"):
        fastmlp.get_backend("nope")
    with pytest.raises(ValueError):  # BackendError is a ValueError
        fastmlp.set_backend("nope")


def test_default_is_fastest_loading_backend_without_env():
    r = _run("import fastmlp; print(fastmlp.get_backend().name)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "cpp"


@pytest.mark.parametrize("name", ["numpy", "numba", "cpp"])
def test_env_variable_selects_backend(name):
    r = _run("import fastmlp; print(fastmlp.get_backend().name)", FASTMLP_BACKEND=name)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == name


def test_env_variable_unknown_name_is_an_error():
    r = _run("import fastmlp; fastmlp.get_backend()", FASTMLP_BACKEND="nope")
    assert r.returncode != 0
    assert "FASTMLP_BACKEND='nope' is not a known backend" in r.stderr
    assert "cpp, numba, numpy" in r.stderr


def test_backend_that_cannot_load_says_why_and_never_switches():
    # Simulate a missing extension: block the import of fastmlp._cpp.
    code = ("import sys; sys.modules['fastmlp._cpp'] = None\n"
            "import fastmlp\n"
            "print(fastmlp.available_backends())\n"
            "try:\n    fastmlp.get_backend()\nexcept fastmlp.BackendError as e:\n    print('ERR', e)\n")
    r = _run(code, FASTMLP_BACKEND="cpp")
    assert r.returncode == 0, r.stderr
    assert "'cpp': False" in r.stdout
    assert "ERR backend 'cpp' cannot be loaded" in r.stdout
    assert "pip install" in r.stdout  # says how to fix it
    r = _run(code.replace("fastmlp.get_backend()", "print(fastmlp.get_backend().name)"))
    assert r.stdout.strip().endswith("numba")  # no variable: the fastest that loads


def test_set_backend_changes_the_default():
    before = fastmlp.get_backend()
    try:
        assert fastmlp.set_backend("numpy").name == "numpy"
        assert fastmlp.get_backend().name == "numpy"
        assert fastmlp.MLP([4, 3], seed=0).backend.name == "numpy"
    finally:
        fastmlp.set_backend(before.name)


def test_num_threads_setting_and_validation():
    before = fastmlp.get_num_threads()
    try:
        fastmlp.set_num_threads(1)
        assert fastmlp.get_num_threads() == 1
        from fastmlp import _cpp
        assert _cpp.num_threads() == 1
        import numba
        assert numba.get_num_threads() == 1
    finally:
        fastmlp.set_num_threads(before or os.cpu_count())
    for bad in (0, -1, "two"):
        with pytest.raises(ValueError, match="positive integer"):
            fastmlp.set_num_threads(bad)


def test_num_threads_from_env():
    r = _run("import fastmlp, numba; fastmlp.get_backend('numba'); "
             "print(fastmlp.get_num_threads(), numba.get_num_threads())",
             FASTMLP_NUM_THREADS="1")
    assert r.stdout.split() == ["1", "1"], r.stderr


def test_native_kernel_introspection():
    assert fastmlp.get_backend("numpy").native_kernels() == list(KERNELS)
    for name in ("numba", "cpp"):
        native = fastmlp.get_backend(name).native_kernels()
        assert "adam_step" in native
        assert set(native) <= set(KERNELS)


def test_compiled_backends_fall_back_per_kernel():
    """A kernel a backend leaves out is the NumPy one, so every backend has every kernel."""
    class Partial(Backend):
        name = "partial"
        native_dtypes = (np.dtype(np.float32),)

        def _bias_grad(self, grad, out):
            out[...] = 42

    be = Partial()
    assert be.native_kernels() == ["bias_grad"]
    out = np.empty(3, np.float32)
    be.bias_grad(np.ones((2, 3), np.float32), out)
    assert np.all(out == 42)
    c = np.empty((2, 2), np.float32)
    be.gemm(np.eye(2, dtype=np.float32), np.full((2, 2), 3, np.float32), c)
    assert np.all(c == 3)
    # float64 is not native to Partial: the NumPy kernel runs
    out64 = np.empty(3)
    be.bias_grad(np.ones((2, 3)), out64)
    assert np.all(out64 == 2)


BAD_CALLS = [
    ("gemm", lambda be, f: be.gemm(f(2, 3), f(4, 5), f(2, 5)), ValueError, "inner dimensions"),
    ("gemm", lambda be, f: be.gemm(f(2, 3).astype(np.int32), f(3, 5), f(2, 5)), TypeError, "a must be float32"),
    ("gemm", lambda be, f: be.gemm(f(2, 3), f(3, 5), f(5, 2).T), ValueError, "out must be C-contiguous"),
    ("gemm", lambda be, f: be.gemm(f(2, 3), f(3, 5), f(2, 4)), ValueError, r"out must have shape \(2, 5\)"),
    ("gemm", lambda be, f: be.gemm(f(2, 3), f(3, 5).astype(np.float64), f(2, 5)), TypeError, "b has dtype float64"),
    ("dense_forward", lambda be, f: be.dense_forward(f(2, 3), f(4, 3), f(5), f(2, 4), "relu"), ValueError, r"b must have shape \(4,\)"),
    ("dense_forward", lambda be, f: be.dense_forward(f(2, 3), f(4, 3), f(4), f(2, 4), "softplus"), ValueError, "unknown activation 'softplus'"),
    ("activation_backward", lambda be, f: be.activation_backward("tanh", f(2, 3), None, f(2, 3), f(2, 3)), ValueError, "needs out_act"),
    ("bias_grad", lambda be, f: be.bias_grad(f(2, 3), f(2)), ValueError, r"out must have shape \(3,\)"),
    ("softmax_cross_entropy", lambda be, f: be.softmax_cross_entropy(f(2, 3), np.array([0, 3]), f(2, 3)), ValueError, r"labels must lie in \[0, 3\)"),
    ("softmax_cross_entropy", lambda be, f: be.softmax_cross_entropy(f(2, 3), np.array([0.0, 1.0]), f(2, 3)), TypeError, "labels must be an int64"),
    ("adam_step", lambda be, f: be.adam_step(f(3), f(4), f(3), f(3), 1e-3, 0.9, 0.999, 1e-8, 1), ValueError, r"grad must have shape \(3,\)"),
    ("adam_step", lambda be, f: be.adam_step(f(3), f(3), f(3), f(3), 1e-3, 1.5, 0.999, 1e-8, 1), ValueError, "beta1"),
    ("adam_step", lambda be, f: be.adam_step(f(3), f(3), f(3), f(3), 1e-3, 0.9, 0.999, 1e-8, 0), ValueError, "step must be"),
    ("batch_norm_backward", lambda be, f: (lambda gamma: be.batch_norm_backward(
        f(4, 3), f(4, 3), gamma, f(3), f(3), f(4, 3), gamma, f(3)))(f(3)),
     ValueError, "grad_gamma must not overlap gamma"),
]


@pytest.mark.parametrize("kernel,call,exc,message", BAD_CALLS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(BAD_CALLS)])
@pytest.mark.parametrize("name", ["numpy", "numba", "cpp"])
def test_bad_arguments_raise_clear_errors(name, kernel, call, exc, message):
    be = fastmlp.get_backend(name)
    f = lambda *shape: np.ones(shape, np.float32)  # noqa: E731
    with pytest.raises(exc, match=message):
        call(be, f)


@pytest.mark.parametrize("name", ["numpy", "numba", "cpp"])
def test_outputs_aliasing_inputs_are_rejected(name):
    be = fastmlp.get_backend(name)
    a = np.ones((4, 4), np.float32)
    with pytest.raises(ValueError, match="out must not overlap a"):
        be.gemm(a, np.ones((4, 4), np.float32), a)
    p = np.ones(8, np.float32)
    with pytest.raises(ValueError, match="param must not overlap grad"):
        be.adam_step(p, p, np.zeros(8, np.float32), np.zeros(8, np.float32), 1e-3, 0.9, 0.999, 1e-8, 1)
    ro = np.ones((4, 4), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out must be writable"):
        be.gemm(a, a.copy(), ro)


def test_flush_denormals_switch_reaches_every_compiled_backend():
    from fastmlp import _cpp
    from fastmlp.backends.numba import backend as numba_backend
    assert fastmlp.get_flush_denormals() is True
    try:
        fastmlp.set_flush_denormals(False)
        assert _cpp.flush_denormals() is False and numba_backend.flush_denormals() is False
        # sigmoid backward multiplies a denormal gradient by s(1-s) = 0.25: the product is
        # denormal too, kept with flushing off, zero with it on
        tiny = np.full((1, 3), 1e-40, np.float32)
        half = np.full((1, 3), 0.5, np.float32)
        out = np.empty((1, 3), np.float32)
        for name in ("cpp", "numba"):
            fastmlp.get_backend(name).activation_backward("sigmoid", tiny, half, None, out)
            assert out[0, 0] == np.float32(1e-40) * np.float32(0.25) != 0
        fastmlp.set_flush_denormals(True)
        for name in ("cpp", "numba"):
            fastmlp.get_backend(name).activation_backward("sigmoid", tiny, half, None, out)
            assert out[0, 0] == 0.0
    finally:
        fastmlp.set_flush_denormals(True)


def test_flush_denormals_from_env():
    r = _run("import fastmlp; from fastmlp import _cpp; fastmlp.get_backend('cpp'); "
             "print(fastmlp.get_flush_denormals(), _cpp.flush_denormals())",
             FASTMLP_FLUSH_DENORMALS="0")
    assert r.stdout.split() == ["False", "False"], r.stderr


def test_optional_submodules_load_on_attribute_access():
    r = _run("import sys, fastmlp; assert 'fastmlp.plots' not in sys.modules; "
             "print(fastmlp.plots.__name__, fastmlp.gradcheck.__name__)")
    assert r.stdout.split() == ["fastmlp.plots", "fastmlp.gradcheck"], r.stderr
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fastmlp.nope
