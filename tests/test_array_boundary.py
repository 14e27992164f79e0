"""What the kernels accept at their boundary, beyond dtype and shape: plain ndarrays only
(np.matrix and masked arrays are refused with TypeError: they index and compute
differently), elements aligned to their type (a view at a byte offset is refused with
ValueError: the compiled kernels read aligned float32/int64), the fused kernels' state as
a NetworkState. The same on every backend and for direct fastmlp._cpp calls."""
from __future__ import annotations

import numpy as np
import pytest

from fastmlp import backends

NAMES = [n for n in ("numpy", "numba", "cpp") if backends.available_backends().get(n)]


def _cpp_or_skip():
    return pytest.importorskip("fastmlp._cpp")


def misaligned(shape, dtype):
    """A C-contiguous array of `shape` one byte past an aligned address."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape))
    buf = np.zeros(count * dtype.itemsize + 1, np.uint8)
    out = np.frombuffer(buf, dtype, count=count, offset=1).reshape(shape)
    out.flags.writeable = True
    assert not out.flags.aligned and out.flags.c_contiguous
    return out


def _loss_args(rng):
    logits = rng.standard_normal((6, 4)).astype(np.float32)
    return logits, rng.integers(0, 4, 6), np.empty_like(logits)


@pytest.mark.parametrize("name", NAMES)
def test_misaligned_arrays_are_refused(name, rng):
    be = backends.get_backend(name)
    logits, labels, grad = _loss_args(rng)
    bad_logits = misaligned(logits.shape, np.float32)
    bad_logits[...] = logits
    with pytest.raises(ValueError, match="logits is not aligned"):
        be.softmax_cross_entropy(bad_logits, labels, grad)
    bad_labels = misaligned(labels.shape, np.int64)
    bad_labels[...] = labels
    with pytest.raises(ValueError, match="labels is not aligned"):
        be.softmax_cross_entropy(logits, bad_labels, grad)
    with pytest.raises(ValueError, match="out is not aligned"):
        be.activation_forward("relu", logits, misaligned(logits.shape, np.float32))


@pytest.mark.parametrize("subclass", ["matrix", "masked"])
@pytest.mark.parametrize("name", NAMES)
def test_ndarray_subclasses_are_refused(name, subclass, rng):
    be = backends.get_backend(name)
    logits, labels, grad = _loss_args(rng)
    wrap = np.asmatrix if subclass == "matrix" else np.ma.masked_array
    with pytest.raises(TypeError, match="logits must be a plain numpy.ndarray"):
        be.sigmoid_binary_cross_entropy(wrap(logits[:, :1].copy()), labels % 2, grad[:, :1].copy())
    with pytest.raises(TypeError, match="plain numpy.ndarray"):
        be.activation_forward("sigmoid", wrap(logits), grad)
    with pytest.raises(TypeError, match="out must be a plain numpy.ndarray"):
        be.gemm(logits, logits.T.copy(), wrap(np.empty((6, 6), np.float32)))


def test_direct_extension_calls_refuse_the_same(rng):
    cpp = _cpp_or_skip()
    logits, labels, grad = _loss_args(rng)
    bad = misaligned(logits.shape, np.float32)
    with pytest.raises(ValueError, match="logits is not aligned"):
        cpp.softmax_cross_entropy(bad, labels, grad)
    with pytest.raises(ValueError, match="labels is not aligned"):
        cpp.mse_loss(logits, misaligned(labels.shape, np.int64), grad)
    with pytest.raises(TypeError, match="plain numpy.ndarray"):
        cpp.softmax_cross_entropy(np.asmatrix(logits), labels, grad)
    with pytest.raises(TypeError, match="plain numpy.ndarray"):
        cpp.activation_forward("relu", logits, np.ma.masked_array(grad))
    # the bound Network and its per-call arguments: the same rule through the one check
    w, b = np.zeros((3, 4), np.float32), np.zeros(3, np.float32)
    ws = [np.empty((5, 3), np.float32)]
    with pytest.raises(TypeError, match="weights\\[0\\] must be a plain numpy.ndarray"):
        cpp.Network([np.asmatrix(w)], [b], [w.copy()], [b.copy()], ws, [ws[0].copy()],
                    "relu", 5)
    network = cpp.Network([w], [b], [w.copy()], [b.copy()], ws, [ws[0].copy()], "relu", 5)
    x, y = np.zeros((5, 4), np.float32), np.zeros(5, np.int64)
    with pytest.raises(ValueError, match="x is not aligned"):
        cpp.forward_backward(network, misaligned(x.shape, np.float32), y)
    with pytest.raises(ValueError, match="labels is not aligned"):
        cpp.forward_backward(network, x, misaligned(y.shape, np.int64))


@pytest.mark.parametrize("name", NAMES)
def test_fused_kernels_take_a_network_state(name, rng):
    be = backends.get_backend(name)
    x = rng.random((4, 3), dtype=np.float32)
    labels = np.zeros(4, np.int64)
    with pytest.raises(TypeError, match="takes a NetworkState"):
        be.forward_backward(x, labels, {"weights": [np.zeros((2, 3), np.float32)]})
    with pytest.raises(TypeError, match="takes a NetworkState"):
        be.adam_train_steps(x, labels, np.arange(4), 0, 1, {"batch_size": 4}, 1e-3, 0.9, 0.999,
                            1e-8, 0, 0.0, np.empty(1))


def test_exp_of_nan_is_nan_on_every_isa():
    cpp = _cpp_or_skip()
    be = backends.get_backend("cpp")
    x = np.array([np.nan, -np.nan, 0.5, -200.0, 200.0], np.float32)
    before = cpp.isa()
    try:
        for isa in ("avx512", "avx2", "generic"):
            if not cpp.cpu_supports(isa):
                continue
            cpp.set_isa(isa)
            for act in ("sigmoid", "tanh"):
                out = be.activation_forward(act, x, np.empty_like(x))
                assert np.isnan(out[:2]).all() and np.isfinite(out[2:]).all(), (isa, act, out)
    finally:
        cpp.set_isa(before)


@pytest.mark.parametrize("name", NAMES)
def test_in_place_is_by_address_and_a_shifted_out_is_refused(name, rng):
    """out may be the very buffer of its input (any view starting there), not a shifted one:
    the bindings tell in-place calls by address, and so does the Python layer."""
    be = backends.get_backend(name)
    buf = rng.standard_normal(13).astype(np.float32)
    grad, act = buf[:12].reshape(3, 4), rng.random((3, 4), dtype=np.float32)
    be.activation_backward("sigmoid", grad, act, None, buf[:12].reshape(3, 4))  # in place
    be.activation_forward("tanh", grad, grad.view())
    with pytest.raises(ValueError, match="out must not overlap grad"):
        be.activation_backward("sigmoid", grad, act, None, buf[1:].reshape(3, 4))
