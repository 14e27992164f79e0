"""The C++ backend on its own: every ISA path and thread count, GEMM edge shapes,
bitwise thread-count independence, activation semantics, denormal flushing, and the
argument checks of every binding (fastmlp._cpp).

Tolerances (float32, eps = 2**-23), from the standard error bounds, never tuned:
- GEMM against the exact (float64) product: each element is a K-term dot product, and
  any summation order, with or without FMA, stays within K*eps*(|op(a)| @ |op(b)|) of it
  (Higham, Accuracy and Stability, 3.1, with u = eps/2 and room to spare); alpha and beta
  add two more roundings, on |alpha*ab| and |beta*c|: (K + 2) * eps overall.
- Elementwise kernels that do the oracle's operations in the oracle's order (activation
  derivatives) must match it bitwise; transcendental activations are within a few ulps.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import os
import subprocess
import sys

import numpy as np
import pytest

import flat_calls
from fastmlp import backends
from fastmlp.backends.numpy.activations import apply_activation

_cpp = pytest.importorskip("fastmlp._cpp")

EPS = float(np.finfo(np.float32).eps)
ISAS = [isa for isa in ("avx512", "avx2", "neon", "generic") if _cpp.cpu_supports(isa)]
ACTIVATIONS = ["identity", "relu", "leaky_relu", "sigmoid", "tanh"]
TRAINING_KERNELS = ["gemm", "dense_forward", "activation_backward", "bias_grad",
                    "softmax_cross_entropy", "adam_step", "forward_backward"]


@contextlib.contextmanager
def native(isa, threads):
    """Forces `isa` and `threads` in the extension; restores both afterwards."""
    before = (_cpp.isa(), _cpp.num_threads())
    _cpp.set_isa(isa)
    _cpp.set_num_threads(threads)
    try:
        yield
    finally:
        _cpp.set_isa(before[0])
        _cpp.set_num_threads(before[1])


@pytest.fixture(params=[(isa, t) for isa in ISAS for t in (1, 2)],
                ids=[f"{isa}-t{t}" for isa in ISAS for t in (1, 2)])
def config(request):
    with native(*request.param):
        yield request.param


@pytest.fixture(params=ISAS)
def isa(request):
    return request.param


def rand(rng, shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def flushed(x):
    """x with denormals flushed to (signed) zero, as the kernels compute by default."""
    return np.where(np.abs(x) < np.finfo(x.dtype).tiny, np.copysign(0, x), x).astype(x.dtype)


def gemm_reference(a, b, c0, ta, tb, alpha, beta):
    """Exact product in float64, and the error bound it must be within."""
    opa = (a.T if ta else a).astype(np.float64)
    opb = (b.T if tb else b).astype(np.float64)
    k = opa.shape[1]
    want = alpha * (opa @ opb) + (beta * c0.astype(np.float64) if beta else 0.0)
    bound = abs(alpha) * (np.abs(opa) @ np.abs(opb)) + (abs(beta) * np.abs(c0) if beta else 0.0)
    return want, (k + 2) * EPS * bound


def check_gemm(rng, m, n, k, ta, tb, alpha=1.0, beta=0.0):
    a = rand(rng, (k, m) if ta else (m, k))
    b = rand(rng, (n, k) if tb else (k, n))
    c0 = rand(rng, (m, n))
    out = c0.copy()
    if beta == 0.0:
        out[...] = np.nan  # beta == 0: out must not be read
    _cpp.gemm(a, b, out, ta, tb, alpha, beta)
    want, tol = gemm_reference(a, b, c0, ta, tb, alpha, beta)
    assert np.all(np.abs(out - want) <= tol), f"{m}x{n}x{k} ta={ta} tb={tb}"


# -- GEMM ------------------------------------------------------------------------------
EDGE = [1, 7, 17, 33, 129]


@pytest.mark.parametrize("ta,tb", list(itertools.product([False, True], repeat=2)),
                         ids=["NN", "NT", "TN", "TT"])
def test_gemm_edge_shapes(config, ta, tb):
    rng = np.random.default_rng(1)
    for m, n, k in itertools.product(EDGE, repeat=3):
        check_gemm(rng, m, n, k, ta, tb)


# around every microtile (6/12 rows, 16/32 columns) and beyond the cache blocks
# (kc <= 384, mc <= 192, nc <= 1024), so the blocking loops and edge tiles all run;
# above 256 rows a row-major A is packed instead of read in place; a row-major B is read in
# place for at most 12 rows (one row panel) or when it is at most 8192 floats (the 10-unit
# layer's 10x512x128 and 128x512x10, and 12 x 8200 x 1 / 13 x 700 x 12 on either side)
TILE_SHAPES = [(11, 31, 5), (12, 32, 16), (13, 33, 15), (24, 64, 3), (25, 65, 385),
               (193, 47, 100), (200, 1030, 800), (6, 1, 1), (4, 48, 9), (300, 50, 70),
               (520, 33, 400), (10, 512, 128), (128, 512, 10), (12, 8200, 1), (13, 700, 12)]


@pytest.mark.parametrize("m,n,k", TILE_SHAPES, ids=[f"{m}x{n}x{k}" for m, n, k in TILE_SHAPES])
@pytest.mark.parametrize("ta,tb", list(itertools.product([False, True], repeat=2)),
                         ids=["NN", "NT", "TN", "TT"])
def test_gemm_tile_and_block_edges(config, m, n, k, ta, tb):
    check_gemm(np.random.default_rng(2), m, n, k, ta, tb)


@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (2.5, 0.0), (1.0, 1.0), (0.5, 2.0),
                                        (-1.0, 1.0), (0.0, 3.0), (1.0, -0.5)])
@pytest.mark.parametrize("k", [1, 33, 500])
def test_gemm_alpha_beta(config, alpha, beta, k):
    rng = np.random.default_rng(3)
    for ta, tb in itertools.product([False, True], repeat=2):
        check_gemm(rng, 37, 45, k, ta, tb, alpha, beta)


@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0])
def test_gemm_empty_k_scales_out(config, beta):
    a, b = np.empty((5, 0), np.float32), np.empty((0, 6), np.float32)
    c0 = rand(np.random.default_rng(4), (5, 6))
    out = c0.copy() if beta else np.full((5, 6), np.nan, np.float32)
    _cpp.gemm(a, b, out, False, False, 1.0, beta)
    np.testing.assert_array_equal(out, beta * c0 if beta else np.zeros((5, 6), np.float32))


def test_gemm_empty_m_and_n(config):
    _cpp.gemm(np.empty((0, 3), np.float32), np.ones((3, 4), np.float32),
              np.empty((0, 4), np.float32), False, False, 1.0, 0.0)
    _cpp.gemm(np.ones((2, 3), np.float32), np.empty((3, 0), np.float32),
              np.empty((2, 0), np.float32), False, False, 1.0, 0.0)


# -- fused kernels against the oracle ----------------------------------------------------
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("n,k,f", [(1, 1, 1), (13, 29, 47), (128, 784, 100)])
def test_dense_forward_stores_pre_and_activation(config, activation, n, k, f):
    rng = np.random.default_rng(5)
    x, w, b = rand(rng, (n, k)), rand(rng, (f, k), 1 / np.sqrt(k)), rand(rng, (f,))
    out, pre = np.full((n, f), np.nan, np.float32), np.full((n, f), np.nan, np.float32)
    _cpp.dense_forward(x, w, b, out, activation, pre)
    want, tol = gemm_reference(x, w, None, False, True, 1.0, 0.0)
    want += b
    tol += EPS * np.abs(b)
    assert np.all(np.abs(pre - want) <= tol)
    # the activation is applied to exactly the stored pre-activation
    ref = apply_activation(activation, pre, np.empty_like(pre))
    assert np.all(np.abs(out - ref) <= 4 * EPS * np.abs(ref) + 1e-37)
    no_pre = np.full((n, f), np.nan, np.float32)
    _cpp.dense_forward(x, w, b, no_pre, activation)
    np.testing.assert_array_equal(no_pre, out)


SPECIAL = np.array([0.0, -0.0, 1e-30, -1e-30, 1e-6, -1e-6, 0.3, -0.3, 0.624, 0.626, -0.626,
                    1.0, -1.0, 5.0, -5.0, 9.0, -9.0, 20.0, -20.0, 87.0, -87.0, 88.5, -88.5,
                    89.0, -89.0, 104.0, -104.0, 200.0, -200.0, 3e38, -3e38,
                    np.inf, -np.inf, np.nan], np.float32)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_semantics_match_the_oracle(isa, activation):
    """act(x) through dense_forward with w = 1, b = 0 (so pre == x exactly)."""
    grid = np.concatenate([SPECIAL, np.linspace(-30, 30, 6001, dtype=np.float32)])
    x = grid[:, None].copy()
    out = np.empty_like(x)
    with native(isa, 1):
        _cpp.dense_forward(x, np.ones((1, 1), np.float32), np.zeros(1, np.float32), out, activation)
    with np.errstate(all="ignore"):
        want = apply_activation(activation, x, np.empty_like(x))
        exact = apply_activation(activation, x.astype(np.float64), np.empty(x.shape))
    assert np.array_equal(np.isnan(out), np.isnan(want))
    finite = ~np.isnan(want)
    if activation in ("identity", "relu", "leaky_relu"):
        np.testing.assert_array_equal(out, want)  # one rounding, as NumPy
    else:  # within 4 ulps of the exact value (denormal results may flush to zero)
        err = np.abs(out[finite].astype(np.float64) - exact[finite])
        assert np.all(err <= 4 * EPS * np.abs(exact[finite]) + 1.2e-38)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("source", ["out_act", "pre", "inplace"])
def test_activation_backward_is_bitwise_the_oracle(config, oracle, activation, source):
    if source == "pre" and activation in ("sigmoid", "tanh"):
        pytest.skip("sigmoid and tanh derivatives need out_act")
    rng = np.random.default_rng(6)
    pre = np.concatenate([rand(rng, 5000, 3.0), SPECIAL[:-3]])
    out_act = apply_activation(activation, pre, np.empty_like(pre))
    grad = np.concatenate([rand(rng, 5000), np.full(len(SPECIAL) - 3, -1.5, np.float32)])
    args = (out_act, None) if source != "pre" else (None, pre)
    want = np.empty_like(grad)
    oracle.activation_backward(activation, grad, *args, want)
    got = grad.copy() if source == "inplace" else np.full_like(grad, np.nan)
    _cpp.activation_backward(activation, got if source == "inplace" else grad, *args, got)
    np.testing.assert_array_equal(got, flushed(want))


def test_bias_grad_matches_column_sums(config):
    rng = np.random.default_rng(7)
    for n, f in [(1, 1), (7, 13), (128, 1024), (300, 33)]:
        g = rand(rng, (n, f))
        out = np.full(f, np.nan, np.float32)
        _cpp.bias_grad(g, out)
        want = g.astype(np.float64).sum(axis=0)
        assert np.all(np.abs(out - want) <= n * EPS * np.abs(g).astype(np.float64).sum(axis=0))


def test_softmax_cross_entropy_matches_float64(config):
    rng = np.random.default_rng(8)
    for n, c, scale in [(1, 1, 1.0), (7, 3, 1.0), (128, 10, 30.0), (33, 129, 5.0)]:
        z = rand(rng, (n, c), scale)
        y = rng.integers(0, c, n).astype(np.int64)
        grad = np.full_like(z, np.nan)
        loss = _cpp.softmax_cross_entropy(z, y, grad)
        zd = z.astype(np.float64) - z.max(axis=1, keepdims=True)
        p = np.exp(zd) / np.exp(zd).sum(axis=1, keepdims=True)
        want_loss = np.mean(-np.log(p[np.arange(n), y]))
        onehot = np.eye(c)[y]
        tol = (c + 8) * EPS
        assert abs(loss - want_loss) <= tol * (1 + abs(want_loss))
        assert np.all(np.abs(grad - (p - onehot) / n) <= tol / n)


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_adam_step_matches_the_oracle(config, oracle, weight_decay):
    rng = np.random.default_rng(9)
    size = 70_001
    p0, g = rand(rng, size), rand(rng, size, 0.1)
    m0, v0 = rand(rng, size, 0.01), np.abs(rand(rng, size, 1e-3))
    got, want = [p0.copy(), m0.copy(), v0.copy()], [p0.copy(), m0.copy(), v0.copy()]
    for step in (1, 2, 3):
        _cpp.adam_step(*got[:1], g, *got[1:], 1e-3, 0.9, 0.999, 1e-8, step, weight_decay)
        oracle.adam_step(want[0], g, want[1], want[2], 1e-3, 0.9, 0.999, 1e-8, step, weight_decay)
    # one fused pass with the oracle's float32 operations in the oracle's order: m and v
    # round exactly as it does; param within an ulp of itself plus a few ulps of 3 steps
    # of at most ~lr each (in case the oracle's update order changes)
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[2], want[2])
    assert np.all(np.abs(got[0] - want[0]) <= EPS * np.abs(want[0]) + 3 * 8 * EPS * 1e-3)


# -- bitwise identical for any thread count ------------------------------------------------
def _all_kernels(rng):
    """Runs every kernel on fresh copies of the same inputs; returns all outputs."""
    outs = []
    for m, n, k, ta, tb in [(128, 1024, 784, False, True), (1024, 784, 128, True, False),
                            (128, 10, 512, False, True), (257, 65, 129, False, False),
                            (7, 300, 1000, True, True)]:
        a = rand(rng, (k, m) if ta else (m, k))
        b = rand(rng, (n, k) if tb else (k, n))
        c = rand(rng, (m, n))
        _cpp.gemm(a, b, c, ta, tb, 0.5, 1.5)
        outs.append(c)
    x, w, bias = rand(rng, (200, 300)), rand(rng, (500, 300)), rand(rng, (500,))
    out, pre = np.empty((200, 500), np.float32), np.empty((200, 500), np.float32)
    _cpp.dense_forward(x, w, bias, out, "tanh", pre)
    g = rand(rng, (200, 500))
    _cpp.activation_backward("tanh", g, out, None, g)
    colsum = np.empty(500, np.float32)
    _cpp.bias_grad(g, colsum)
    z, y = rand(rng, (300, 10), 5.0), rng.integers(0, 10, 300).astype(np.int64)
    dz = np.empty_like(z)
    loss = _cpp.softmax_cross_entropy(z, y, dz)
    p, gp = rand(rng, 100_000), rand(rng, 100_000)
    mm, vv = np.zeros_like(p), np.zeros_like(p)
    _cpp.adam_step(p, gp, mm, vv, 1e-3, 0.9, 0.999, 1e-8, 1, 0.01)
    fb = _net_step(rng, [784, 256, 64, 10], 128, "relu")
    return outs + [out, pre, g, colsum, dz, np.float64(loss), p, mm, vv] + fb


def _net_step(rng, sizes, n, activation):
    layers = list(zip(sizes[:-1], sizes[1:]))
    ws = [rand(rng, (o, i), np.sqrt(2 / i)) for i, o in layers]
    bs = [rand(rng, (o,), 0.1) for _, o in layers]
    x = rng.random((n, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], n).astype(np.int64)
    wg = [np.empty_like(w) for w in ws]
    bg = [np.empty_like(b) for b in bs]
    acts = [np.empty((n, o), np.float32) for _, o in layers]
    grads = [np.empty((n, o), np.float32) for _, o in layers]
    loss = flat_calls.binding_forward_backward(x, y, ws, bs, wg, bg, acts, grads, activation)
    return [np.float64(loss)] + wg + bg + acts


def test_results_are_bitwise_identical_for_any_thread_count(isa):
    results = {}
    for threads in (1, 2, 3):
        with native(isa, threads):
            results[threads] = _all_kernels(np.random.default_rng(10))
    for threads in (2, 3):
        for got, want in zip(results[threads], results[1]):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("activation", ACTIVATIONS[1:])
def test_forward_backward_matches_the_kernel_sequence(config, oracle, activation):
    rng = np.random.default_rng(11)
    sizes, n = [50, 40, 30, 7], 33
    layers = list(zip(sizes[:-1], sizes[1:]))
    ws = [rand(rng, (o, i), np.sqrt(2 / i)) for i, o in layers]
    bs = [rand(rng, (o,), 0.1) for _, o in layers]
    x = rand(rng, (n, sizes[0]))
    y = rng.integers(0, sizes[-1], n).astype(np.int64)
    runs = []
    for fb in (flat_calls.binding_forward_backward,
               functools.partial(flat_calls.forward_backward, oracle)):
        wg, bg = [np.full_like(w, np.nan) for w in ws], [np.full_like(b, np.nan) for b in bs]
        acts = [np.full((n, o), np.nan, np.float32) for _, o in layers]
        grads = [np.full((n, o), np.nan, np.float32) for _, o in layers]
        runs.append((fb(x, y, ws, bs, wg, bg, acts, grads, activation), wg, bg, acts))
    (loss, wg, bg, acts), (loss0, wg0, bg0, acts0) = runs
    rel = 2 * sum(sizes) * EPS  # the layers' GEMM bounds add up (see test_parity.py)
    assert abs(loss - loss0) <= rel * (1 + abs(loss0))
    for got, want in zip(wg + bg + acts, wg0 + bg0 + acts0):
        assert np.linalg.norm(got - want) <= rel * np.linalg.norm(want) + 1e-30


# -- denormals ---------------------------------------------------------------------------------
def test_denormals_flush_inside_kernels_only(config):
    a = np.full((4, 4), 1e-20, np.float32)
    out = np.empty((4, 4), np.float32)
    assert _cpp.flush_denormals()
    _cpp.gemm(a, a, out, False, False, 1.0, 0.0)
    np.testing.assert_array_equal(out, 0.0)  # 4e-40 is denormal: flushed
    # the caller's floating-point mode is untouched
    assert np.float32(1e-20) * np.float32(1e-20) != 0
    _cpp.set_flush_denormals(False)
    try:
        _cpp.gemm(a, a, out, False, False, 1.0, 0.0)
        assert np.all(out > 0)
    finally:
        _cpp.set_flush_denormals(True)


# -- ISA selection ---------------------------------------------------------------------------
def test_set_isa_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown ISA 'sse9'"):
        _cpp.set_isa("sse9")


def test_fastmlp_isa_environment_variable_lowers_the_isa():
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTMLP_")}
    code = "from fastmlp import _cpp; print(_cpp.isa())"
    for isa in ISAS:
        r = subprocess.run([sys.executable, "-c", code], env={**env, "FASTMLP_ISA": isa},
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == isa


def test_backend_reports_the_training_kernels_native():
    cpp = backends.get_backend("cpp")
    assert set(TRAINING_KERNELS) <= set(cpp.native_kernels())
    assert f"isa={_cpp.isa()}" in cpp.details()


# -- argument checks: every binding, each bad input named -------------------------------------
def _f32(*shape):
    return np.ones(shape, np.float32)


def _readonly(x):
    x.flags.writeable = False
    return x


def _strided(*shape):
    return np.ones(shape[:-1] + (2 * shape[-1],), np.float32)[..., ::2]


def _gemm_args(**kw):
    args = dict(a=_f32(3, 4), b=_f32(4, 5), out=_f32(3, 5))
    args.update(kw)
    return args


shared = _f32(6, 6)
# hyperparameter ranges are Python's rules (fastmlp.hyperparameters): those cases call the
# cpp backend's public kernel; the others call the binding, which checks what memory safety
# needs (dtype, contiguity, shapes, overlap, index ranges)
CPP = backends.get_backend("cpp")
BAD_CALLS = {
    # name: (call, exception, the argument the message must name)
    "gemm a float64": (lambda: _cpp.gemm(**_gemm_args(a=np.ones((3, 4)))), TypeError, "a"),
    "gemm b list": (lambda: _cpp.gemm(**_gemm_args(b=[[1.0] * 5] * 4)), TypeError, "b"),
    "gemm a int": (lambda: _cpp.gemm(**_gemm_args(a=np.ones((3, 4), np.int32))), TypeError, "a"),
    "gemm b strided": (lambda: _cpp.gemm(**_gemm_args(b=_strided(4, 5))), ValueError, "b"),
    "gemm out readonly": (lambda: _cpp.gemm(**_gemm_args(out=_readonly(_f32(3, 5)))), ValueError, "out"),
    "gemm out shape": (lambda: _cpp.gemm(**_gemm_args(out=_f32(5, 3))), ValueError, "out"),
    "gemm a 1-D": (lambda: _cpp.gemm(**_gemm_args(a=_f32(12))), ValueError, "a"),
    "gemm inner dims": (lambda: _cpp.gemm(**_gemm_args(b=_f32(3, 5))), ValueError, "op\\(b\\)"),
    "gemm out aliases a": (lambda: _cpp.gemm(shared.reshape(-1)[10:22].reshape(3, 4), _f32(4, 5), shared.reshape(-1)[:15].reshape(3, 5)), ValueError, "out"),
    "gemm out aliases b": (lambda: _cpp.gemm(_f32(3, 4), shared.reshape(-1)[:20].reshape(4, 5), shared.reshape(-1)[19:34].reshape(3, 5)), ValueError, "out"),
    "gemm big-endian": (lambda: _cpp.gemm(**_gemm_args(a=np.ones((3, 4), ">f4"))), TypeError, "a"),
    "dense x float64": (lambda: _cpp.dense_forward(np.ones((2, 3)), _f32(4, 3), _f32(4), _f32(2, 4), "relu"), TypeError, "x"),
    "dense w shape": (lambda: _cpp.dense_forward(_f32(2, 3), _f32(4, 5), _f32(4), _f32(2, 4), "relu"), ValueError, "w"),
    "dense b shape": (lambda: _cpp.dense_forward(_f32(2, 3), _f32(4, 3), _f32(5), _f32(2, 4), "relu"), ValueError, "b"),
    "dense out shape": (lambda: _cpp.dense_forward(_f32(2, 3), _f32(4, 3), _f32(4), _f32(2, 5), "relu"), ValueError, "out"),
    "dense out readonly": (lambda: _cpp.dense_forward(_f32(2, 3), _f32(4, 3), _f32(4), _readonly(_f32(2, 4)), "relu"), ValueError, "out"),
    "dense pre shape": (lambda: _cpp.dense_forward(_f32(2, 3), _f32(4, 3), _f32(4), _f32(2, 4), "relu", _f32(4, 2)), ValueError, "pre"),
    "dense pre is out": (lambda: (lambda o: _cpp.dense_forward(_f32(2, 3), _f32(4, 3), _f32(4), o, "relu", o))(_f32(2, 4)), ValueError, "pre"),
    "dense out aliases x": (lambda: (lambda s: _cpp.dense_forward(s, _f32(3, 3), _f32(3), s, "relu"))(_f32(3, 3)), ValueError, "out"),
    "dense activation": (lambda: _cpp.dense_forward(_f32(2, 3), _f32(4, 3), _f32(4), _f32(2, 4), "gelu"), ValueError, "activation"),
    "dense x strided": (lambda: _cpp.dense_forward(_strided(2, 3), _f32(4, 3), _f32(4), _f32(2, 4), "relu"), ValueError, "x"),
    "backward grad dtype": (lambda: _cpp.activation_backward("relu", np.ones(4), _f32(4), None, _f32(4)), TypeError, "grad"),
    "backward out shape": (lambda: _cpp.activation_backward("relu", _f32(4), _f32(4), None, _f32(5)), ValueError, "out"),
    "backward out_act shape": (lambda: _cpp.activation_backward("relu", _f32(4), _f32(5), None, _f32(4)), ValueError, "out_act"),
    "backward needs out_act": (lambda: _cpp.activation_backward("tanh", _f32(4), None, _f32(4), _f32(4)), ValueError, "out_act"),
    "backward out readonly": (lambda: _cpp.activation_backward("relu", _f32(4), _f32(4), None, _readonly(_f32(4))), ValueError, "out"),
    "backward out aliases out_act": (lambda: (lambda s: _cpp.activation_backward("relu", _f32(4), s, None, s))(_f32(4)), ValueError, "out"),
    "backward shifted grad": (lambda: (lambda s: _cpp.activation_backward("identity", s[:4], None, None, s[1:]))(_f32(5)), ValueError, "grad"),
    "backward pre strided": (lambda: _cpp.activation_backward("relu", _f32(4), None, _strided(4), _f32(4)), ValueError, "pre"),
    "bias_grad out shape": (lambda: _cpp.bias_grad(_f32(3, 4), _f32(3)), ValueError, "out"),
    "bias_grad grad 1-D": (lambda: _cpp.bias_grad(_f32(4), _f32(4)), ValueError, "grad"),
    "bias_grad out readonly": (lambda: _cpp.bias_grad(_f32(3, 4), _readonly(_f32(4))), ValueError, "out"),
    "bias_grad out aliases grad": (lambda: (lambda s: _cpp.bias_grad(s.reshape(3, 4), s[:4]))(_f32(12)), ValueError, "out"),
    "softmax labels dtype": (lambda: _cpp.softmax_cross_entropy(_f32(2, 3), np.zeros(2, np.int32), _f32(2, 3)), TypeError, "labels"),
    "softmax labels list": (lambda: _cpp.softmax_cross_entropy(_f32(2, 3), [0, 1], _f32(2, 3)), TypeError, "labels"),
    "softmax labels range": (lambda: _cpp.softmax_cross_entropy(_f32(2, 3), np.array([0, 3]), _f32(2, 3)), ValueError, "labels"),
    "softmax labels negative": (lambda: _cpp.softmax_cross_entropy(_f32(2, 3), np.array([-1, 0]), _f32(2, 3)), ValueError, "labels"),
    "softmax labels shape": (lambda: _cpp.softmax_cross_entropy(_f32(2, 3), np.zeros(3, np.int64), _f32(2, 3)), ValueError, "labels"),
    "softmax grad shape": (lambda: _cpp.softmax_cross_entropy(_f32(2, 3), np.zeros(2, np.int64), _f32(3, 2)), ValueError, "grad"),
    "softmax grad is logits": (lambda: (lambda s: _cpp.softmax_cross_entropy(s, np.zeros(2, np.int64), s))(_f32(2, 3)), ValueError, "grad"),
    "softmax empty": (lambda: _cpp.softmax_cross_entropy(_f32(0, 3), np.zeros(0, np.int64), _f32(0, 3)), ValueError, "logits"),
    "softmax logits dtype": (lambda: _cpp.softmax_cross_entropy(np.ones((2, 3)), np.zeros(2, np.int64), _f32(2, 3)), TypeError, "logits"),
    "adam grad dtype": (lambda: _cpp.adam_step(_f32(4), np.ones(4), _f32(4), _f32(4), 1e-3, 0.9, 0.999, 1e-8, 1), TypeError, "grad"),
    "adam m shape": (lambda: _cpp.adam_step(_f32(4), _f32(4), _f32(5), _f32(4), 1e-3, 0.9, 0.999, 1e-8, 1), ValueError, "m"),
    "adam v readonly": (lambda: _cpp.adam_step(_f32(4), _f32(4), _f32(4), _readonly(_f32(4)), 1e-3, 0.9, 0.999, 1e-8, 1), ValueError, "v"),
    "adam param is m": (lambda: (lambda s: _cpp.adam_step(s, _f32(4), s, _f32(4), 1e-3, 0.9, 0.999, 1e-8, 1))(_f32(4)), ValueError, "param"),
    "adam step 0": (lambda: _cpp.adam_step(_f32(4), _f32(4), _f32(4), _f32(4), 1e-3, 0.9, 0.999, 1e-8, 0), ValueError, "step"),
    "adam step 1.5": (lambda: _cpp.adam_step(_f32(4), _f32(4), _f32(4), _f32(4), 1e-3, 0.9, 0.999, 1e-8, 1.5), ValueError, "step"),
    "adam lr nan": (lambda: CPP.adam_step(_f32(4), _f32(4), _f32(4), _f32(4), float("nan"), 0.9, 0.999, 1e-8, 1), ValueError, "lr"),
    "adam beta2 1": (lambda: CPP.adam_step(_f32(4), _f32(4), _f32(4), _f32(4), 1e-3, 0.9, 1.0, 1e-8, 1), ValueError, "beta2"),
    "adam eps 0": (lambda: CPP.adam_step(_f32(4), _f32(4), _f32(4), _f32(4), 1e-3, 0.9, 0.999, 0.0, 1), ValueError, "eps"),
    "adam weight_decay": (lambda: CPP.adam_step(_f32(4), _f32(4), _f32(4), _f32(4), 1e-3, 0.9, 0.999, 1e-8, 1, -1.0), ValueError, "weight_decay"),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_bad_arguments_raise_naming_the_argument(case):
    call, exc, name = BAD_CALLS[case]
    with pytest.raises(exc, match=rf"(^|\W){name}(\W|$)"):
        call()


def _net(sizes=(6, 5, 3), n=4):
    layers = list(zip(sizes[:-1], sizes[1:]))
    return dict(x=_f32(n, sizes[0]), labels=np.zeros(n, np.int64),
                weights=[_f32(o, i) for i, o in layers], biases=[_f32(o) for _, o in layers],
                weight_grads=[_f32(o, i) for i, o in layers],
                bias_grads=[_f32(o) for _, o in layers],
                acts=[_f32(n, o) for _, o in layers], grads=[_f32(n, o) for _, o in layers],
                activation="relu")


def _bad_net(**changes):
    net = _net()
    for key, value in changes.items():
        if "." in key:
            name, index = key.split(".")
            net[name][int(index)] = value
        else:
            net[key] = value
    return net


BAD_NETS = {
    "x float64": (dict(x=np.ones((4, 6))), TypeError, "x"),
    "x strided": (dict(x=_strided(4, 6)), ValueError, "x"),
    "weights[1] shape": ({"weights.1": _f32(3, 4)}, ValueError, r"weights\[1\]"),
    "weights[0] float64": ({"weights.0": np.ones((5, 6))}, TypeError, r"weights\[0\]"),
    "biases[1] shape": ({"biases.1": _f32(4)}, ValueError, r"biases\[1\]"),
    "weight_grads[0] readonly": ({"weight_grads.0": _readonly(_f32(5, 6))}, ValueError, r"weight_grads\[0\]"),
    "bias_grads[1] list": ({"bias_grads.1": [1.0, 2.0, 3.0]}, TypeError, r"bias_grads\[1\]"),
    "acts[0] shape": ({"acts.0": _f32(5, 5)}, ValueError, r"acts\[0\]"),
    "grads[1] readonly": ({"grads.1": _readonly(_f32(4, 3))}, ValueError, r"grads\[1\]"),
    "grads list length": (dict(grads=[_f32(4, 5)]), ValueError, "grads"),
    "weights empty": (dict(weights=[], biases=[], weight_grads=[], bias_grads=[], acts=[], grads=[]), ValueError, "layer"),
    "labels range": (dict(labels=np.array([0, 1, 2, 3])), ValueError, "labels"),
    "labels dtype": (dict(labels=np.zeros(4, np.float32)), TypeError, "labels"),
    "labels shape": (dict(labels=np.zeros(5, np.int64)), ValueError, "labels"),
    "activation": (dict(activation="swish"), ValueError, "activation"),
    "weights not a list": (dict(weights=5), TypeError, "weights"),
}


@pytest.mark.parametrize("case", list(BAD_NETS))
@pytest.mark.parametrize("entry", ["binding", "backend"])
def test_forward_backward_bad_arguments(case, entry):
    changes, exc, name = BAD_NETS[case]
    net = _bad_net(**changes)
    call = (flat_calls.binding_forward_backward if entry == "binding"
            else functools.partial(flat_calls.forward_backward, backends.get_backend("cpp")))
    with pytest.raises(exc, match=rf"(^|\W){name}(\W|$)"):
        call(**net)


def test_forward_backward_rejects_overlapping_buffers():
    net = _net()
    net["grads"][0] = net["acts"][0]  # written twice
    with pytest.raises(ValueError, match=r"(acts|grads)\[0\] must not overlap (acts|grads)\[0\]"):
        flat_calls.binding_forward_backward(**net)
    net = _net()
    net["acts"][1] = net["weight_grads"][0].reshape(-1)[:12].reshape(4, 3)
    with pytest.raises(ValueError, match="must not overlap"):
        flat_calls.binding_forward_backward(**net)


def test_a_network_keeps_its_arrays_and_runs_on_the_first_rows_of_its_workspaces():
    rng = np.random.default_rng(3)
    net = {k: ([rand(rng, a.shape) for a in v] if isinstance(v, list) else v)
           for k, v in _net().items()}
    x, labels = rand(rng, (4, 6)), np.array([0, 2, 1, 2])

    def fresh(n):  # the same network, with workspaces of n rows
        arrays = {k: ([a[:n].copy() if k in ("acts", "grads") else a.copy() for a in v]
                      if isinstance(v, list) else v) for k, v in net.items()}
        return flat_calls.binding_forward_backward(x[:n], labels[:n], **{
            k: v for k, v in arrays.items() if k not in ("x", "labels")})

    want = {n: fresh(n) for n in (3, 4)}
    network = _cpp.Network(**{k: v for k, v in net.items() if k not in ("x", "labels")},
                           batch_size=4)
    del net  # the Network holds the only references to its arrays now
    assert network.batch_size == 4 and network.layers == 2
    assert _cpp.forward_backward(network, x[:3], labels[:3]) == want[3]
    assert _cpp.forward_backward(network, x, labels) == want[4]
    with pytest.raises(ValueError, match="x has 5 rows"):
        _cpp.forward_backward(network, _f32(5, 6), np.zeros(5, np.int64))
    with pytest.raises(ValueError, match="adam_train_steps needs"):
        _cpp.adam_train_steps(network, x, labels, np.arange(4), 0, 1, 1e-3, 0.9, 0.999, 1e-8,
                              0, 0.0, np.empty(1))


def test_the_backend_builds_a_states_network_once(monkeypatch):
    cpp = backends.get_backend("cpp")
    net = _net()
    x, labels = net.pop("x"), net.pop("labels")
    state = backends.NetworkState(**net, batch_size=4)
    built = []
    monkeypatch.setattr(_cpp, "Network", lambda *a, **k: built.append(1) or Network(*a, **k))
    first = cpp.forward_backward(x, labels, state)
    assert cpp.forward_backward(x, labels, state) == first and built == [1]


Network = _cpp.Network


def _message(call):
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    return type(info.value), str(info.value)


def test_the_cpp_backends_errors_are_worded_by_validation(oracle):
    # the fast paths call the extension first; what it rejects, validation.py words
    cpp = backends.get_backend("cpp")
    net = _net()
    x, labels = net.pop("x"), net.pop("labels")
    state = backends.NetworkState(**net, batch_size=4)
    p = np.zeros(5, np.float32)
    calls = {
        "forward_backward labels": lambda be: be.forward_backward(x, np.array([0, 1, 2, 3]), state),
        "forward_backward x rows": lambda be: be.forward_backward(_f32(5, 6), np.zeros(5, np.int64), state),
        "gemm out shape": lambda be: be.gemm(_f32(3, 4), _f32(4, 5), _f32(5, 3)),
        "adam_step m shape": lambda be: be.adam_step(p, _f32(5), _f32(4), _f32(5), 1e-3, 0.9, 0.999, 1e-8, 1),
        "adam_step beta2": lambda be: be.adam_step(p, _f32(5), _f32(5), _f32(5), 1e-3, 0.9, 1.0, 1e-8, 1),
    }
    for name, call in calls.items():
        want = _message(lambda: call(oracle))
        assert _message(lambda: call(cpp)) == want, name


def test_float64_goes_through_the_checked_oracle(oracle):
    cpp = backends.get_backend("cpp")
    net = _net()
    for key in ("x",):
        net[key] = net[key].astype(np.float64)
    for key in ("weights", "biases", "weight_grads", "bias_grads", "acts", "grads"):
        net[key] = [a.astype(np.float64) for a in net[key]]
    ref = {k: ([a.copy() for a in v] if isinstance(v, list) else v) for k, v in net.items()}
    assert (flat_calls.forward_backward(cpp, **net)
            == flat_calls.forward_backward(oracle, **ref))
    p = np.ones(5)
    cpp.adam_step(p, np.ones(5), np.zeros(5), np.zeros(5), 1e-3, 0.9, 0.999, 1e-8, 1)
    assert p.dtype == np.float64 and np.all(p < 1)


# -- layer, loss and optimizer kernels: activation forward, losses, dropout, batch norm, SGD/RMSprop/AdamW ------
# These do the oracle's float32 operations in the oracle's order (each rounded once, the
# constants rounded from the same double expressions), so they match it bitwise; only
# exp/log1p/tanh are our own polynomials (a few ulps, see test_parity.py for the bounds).
LAYER_KERNELS = ["activation_forward", "mse_loss", "sigmoid_binary_cross_entropy", "dropout",
                 "batch_norm_forward", "batch_norm_inference", "batch_norm_backward",
                 "sgd_step", "rmsprop_step", "adamw_step"]


def _layer_kernels(rng, backend=None):
    """Runs every layer, loss and optimizer kernel (through `backend`, or _cpp directly) on inputs sized to
    use 3 threads; returns every output, in order."""
    k = backend or _cpp
    outs = []
    x = rand(rng, (300, 777), 3.0)  # 233k elements: no block or vector multiple
    for act in ACTIVATIONS:
        out = np.full_like(x, np.nan)
        k.activation_forward(act, x, out)
        outs.append(out)
    inplace = x.copy()
    k.activation_forward("tanh", inplace, inplace)
    outs.append(inplace)
    noise = rng.random(x.shape, dtype=np.float32)
    for p in (0.0, 0.2, 0.7):
        out = np.full_like(x, np.nan)
        k.dropout(x, noise, p, out)
        outs.append(out)
    o, y = rng.random((20_000, 13)).astype(np.float32), rng.integers(0, 13, 20_000)
    g = np.full_like(o, np.nan)
    outs += [np.float64(k.mse_loss(o, y, g)), g]
    z, yb = rand(rng, (100_003, 1), 10.0), rng.integers(0, 2, 100_003)
    gz = np.full_like(z, np.nan)
    outs += [np.float64(k.sigmoid_binary_cross_entropy(z, yb, gz)), gz]
    n, f = 256, 1000  # columns split over threads in 16-aligned blocks
    xb = rand(rng, (n, f), 2.0) + rand(rng, f)
    gamma, beta = rand(rng, f) + 1, rand(rng, f)
    bn = [np.full((n, f), np.nan, np.float32), np.full(f, np.nan, np.float32),
          np.full(f, np.nan, np.float32), rand(rng, f), np.abs(rand(rng, f)) + 0.5]
    k.batch_norm_forward(xb, gamma, beta, *bn, 0.1, 1e-5)
    inf = np.full((n, f), np.nan, np.float32)
    k.batch_norm_inference(xb, gamma, beta, bn[3], bn[4], inf, 1e-5)
    grad = rand(rng, (n, f))
    back = [np.full((n, f), np.nan, np.float32), np.full(f, np.nan, np.float32),
            np.full(f, np.nan, np.float32)]
    k.batch_norm_backward(grad, xb, gamma, bn[1], bn[2], *back)
    in_place = grad.copy()
    k.batch_norm_backward(in_place, xb, gamma, bn[1], bn[2], in_place, back[1].copy(),
                          back[2].copy())
    outs += bn + [inf] + back + [in_place]
    p0, gp = rand(rng, 100_003), rand(rng, 100_003, 0.1)
    for rule, step in [("sgd", lambda p, s, t: k.sgd_step(p, gp, None, 0.1, 0.0, False, 0.01)),
                       ("sgd-momentum", lambda p, s, t: k.sgd_step(p, gp, s[0], 0.1, 0.9, False, 0.01)),
                       ("sgd-nesterov", lambda p, s, t: k.sgd_step(p, gp, s[0], 0.1, 0.9, True, 0.0)),
                       ("rmsprop", lambda p, s, t: k.rmsprop_step(p, gp, s[0], None, 1e-2, 0.99, 1e-8, 0.0, 0.01)),
                       ("rmsprop-momentum", lambda p, s, t: k.rmsprop_step(p, gp, s[0], s[1], 1e-2, 0.9, 1e-8, 0.5, 0.0)),
                       ("adamw", lambda p, s, t: k.adamw_step(p, gp, s[0], s[1], 1e-3, 0.9, 0.999, 1e-8, t, 0.01))]:
        p, state = p0.copy(), [np.zeros_like(p0), np.zeros_like(p0)]
        for t in (1, 2, 3):
            step(p, state, t)
        outs += [p] + state
    return outs


def test_layer_kernels_are_bitwise_identical_for_any_thread_count(isa):
    results = {}
    for threads in (1, 2, 3):
        with native(isa, threads):
            results[threads] = _layer_kernels(np.random.default_rng(20))
    for threads in (2, 3):
        assert len(results[threads]) == len(results[1])
        for got, want in zip(results[threads], results[1]):
            np.testing.assert_array_equal(got, want)


def test_layer_kernels_match_the_oracle(config, oracle):
    got = _layer_kernels(np.random.default_rng(21))
    want = _layer_kernels(np.random.default_rng(21), oracle)
    names = ([f"act-{a}" for a in ACTIVATIONS] + ["act-tanh-inplace"] +
             ["dropout-0", "dropout-0.2", "dropout-0.7", "mse", "mse-grad", "bce", "bce-grad"] +
             ["bn-out", "bn-mean", "bn-invstd", "bn-running-mean", "bn-running-var",
              "bn-inference", "bn-grad-x", "bn-grad-gamma", "bn-grad-beta", "bn-grad-x-inplace"] +
             [f"{rule}-{what}" for rule in ("sgd", "sgd-momentum", "sgd-nesterov", "rmsprop",
                                            "rmsprop-momentum", "adamw")
              for what in ("param", "state0", "state1")])
    assert len(names) == len(got) == len(want)
    for name, a, b in zip(names, got, want):
        if name in ("act-sigmoid", "act-tanh", "act-tanh-inplace"):
            # our exp/tanh polynomials: within a few ulps (denormals flushed to zero)
            assert np.all(np.abs(a - b) <= 4 * EPS * np.abs(b) + np.finfo(np.float32).tiny), name
        elif name in ("mse", "bce"):
            # float64 sums of the same terms in another order (bce: our log1p, a few ulps)
            assert abs(a - b) <= 8 * EPS * abs(b), name
        elif name == "bce-grad":
            # (sigmoid - y) / n, sigmoid within a few ulps of 1
            assert np.all(np.abs(a - b) <= 4 * EPS / a.shape[0]), name
        else:
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_dropout_drops_exactly_the_oracles_units_at_the_threshold(config, oracle):
    # noise equal to float32(p) (which lies below p = 0.7) is kept, as NumPy compares in float32
    p = 0.7
    noise = np.array([np.float32(p), np.nextafter(np.float32(p), 0), 0.0, 0.99], np.float32)
    x = np.array([1.0, -2.0, 3.0, np.inf], np.float32)
    got, want = np.full_like(x, np.nan), np.empty_like(x)
    _cpp.dropout(x, noise, p, got)
    oracle.dropout(x, noise, p, want)
    np.testing.assert_array_equal(got, want)
    assert got[0] != 0 and got[1] == 0


def test_backends_command_lists_the_layer_kernels_native_for_cpp():
    assert set(LAYER_KERNELS) <= set(backends.get_backend("cpp").native_kernels())
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTMLP_")}
    r = subprocess.run([sys.executable, "-m", "fastmlp", "backends"], capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("cpp"))
    native_line = next(line for line in lines[at + 1:] if line.strip().startswith("native:"))
    fallback_line = next(line for line in lines[at + 1:] if line.strip().startswith("fallback:"))
    listed = {name.strip() for name in native_line.split(":", 1)[1].split(",")}
    assert set(LAYER_KERNELS) <= listed
    for name in LAYER_KERNELS:
        assert name not in fallback_line


def _bn_args(n=4, f=3, **kw):
    args = dict(x=_f32(n, f), gamma=_f32(f), beta=_f32(f), out=_f32(n, f), mean=_f32(f),
                invstd=_f32(f), running_mean=_f32(f), running_var=_f32(f))
    args.update(kw)
    return args


def _bn_back_args(n=4, f=3, **kw):
    args = dict(grad=_f32(n, f), x=_f32(n, f), gamma=_f32(f), mean=_f32(f), invstd=_f32(f),
                grad_x=_f32(n, f), grad_gamma=_f32(f), grad_beta=_f32(f))
    args.update(kw)
    return args


def _bn_inf_args(n=4, f=3, **kw):
    args = dict(x=_f32(n, f), gamma=_f32(f), beta=_f32(f), running_mean=_f32(f),
                running_var=_f32(f), out=_f32(n, f))
    args.update(kw)
    return args


def _opt_args(rule, via=_cpp, **kw):
    args = dict(param=_f32(5), grad=_f32(5))
    if rule == "sgd":
        args.update(buf=_f32(5), lr=0.1, momentum=0.9)
    elif rule == "rmsprop":
        args.update(square_avg=_f32(5), buf=_f32(5), lr=0.01, momentum=0.5)
    else:
        args.update(m=_f32(5), v=_f32(5), lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, step=1)
    args.update(kw)
    return getattr(via, f"{rule}_step"), args


def _opt(rule, via=_cpp, **kw):
    fn, args = _opt_args(rule, via, **kw)
    return lambda: fn(**args)


big = _f32(64)
BAD_LAYER_CALLS = {
    "act_fwd x float64": (lambda: _cpp.activation_forward("relu", np.ones(4), _f32(4)), TypeError, "x"),
    "act_fwd out int": (lambda: _cpp.activation_forward("relu", _f32(4), np.ones(4, np.int32)), TypeError, "out"),
    "act_fwd x strided": (lambda: _cpp.activation_forward("relu", _strided(3, 4), _f32(3, 4)), ValueError, "x"),
    "act_fwd out shape": (lambda: _cpp.activation_forward("relu", _f32(3, 4), _f32(4, 3)), ValueError, "out"),
    "act_fwd out readonly": (lambda: _cpp.activation_forward("relu", _f32(4), _readonly(_f32(4))), ValueError, "out"),
    "act_fwd shifted out": (lambda: _cpp.activation_forward("relu", big[:8], big[1:9]), ValueError, "out"),
    "act_fwd activation": (lambda: _cpp.activation_forward("gelu", _f32(4), _f32(4)), ValueError, "activation"),
    "mse outputs float64": (lambda: _cpp.mse_loss(np.ones((2, 3)), np.zeros(2, np.int64), _f32(2, 3)), TypeError, "outputs"),
    "mse outputs strided": (lambda: _cpp.mse_loss(_strided(2, 3), np.zeros(2, np.int64), _f32(2, 3)), ValueError, "outputs"),
    "mse outputs 1-D": (lambda: _cpp.mse_loss(_f32(3), np.zeros(3, np.int64), _f32(3)), ValueError, "outputs"),
    "mse grad shape": (lambda: _cpp.mse_loss(_f32(2, 3), np.zeros(2, np.int64), _f32(3, 2)), ValueError, "grad"),
    "mse grad readonly": (lambda: _cpp.mse_loss(_f32(2, 3), np.zeros(2, np.int64), _readonly(_f32(2, 3))), ValueError, "grad"),
    "mse grad is outputs": (lambda: (lambda s: _cpp.mse_loss(s, np.zeros(2, np.int64), s))(_f32(2, 3)), ValueError, "grad"),
    "mse labels dtype": (lambda: _cpp.mse_loss(_f32(2, 3), np.zeros(2, np.int32), _f32(2, 3)), TypeError, "labels"),
    "mse labels range": (lambda: _cpp.mse_loss(_f32(2, 3), np.array([0, 3]), _f32(2, 3)), ValueError, "labels"),
    "mse labels shape": (lambda: _cpp.mse_loss(_f32(2, 3), np.zeros(3, np.int64), _f32(2, 3)), ValueError, "labels"),
    "mse empty": (lambda: _cpp.mse_loss(_f32(0, 3), np.zeros(0, np.int64), _f32(0, 3)), ValueError, "outputs"),
    "bce logits float64": (lambda: _cpp.sigmoid_binary_cross_entropy(np.ones((2, 1)), np.zeros(2, np.int64), _f32(2, 1)), TypeError, "logits"),
    "bce logits 2 columns": (lambda: _cpp.sigmoid_binary_cross_entropy(_f32(2, 2), np.zeros(2, np.int64), _f32(2, 2)), ValueError, "logit"),
    "bce grad shape": (lambda: _cpp.sigmoid_binary_cross_entropy(_f32(2, 1), np.zeros(2, np.int64), _f32(2)), ValueError, "grad"),
    "bce grad readonly": (lambda: _cpp.sigmoid_binary_cross_entropy(_f32(2, 1), np.zeros(2, np.int64), _readonly(_f32(2, 1))), ValueError, "grad"),
    "bce grad is logits": (lambda: (lambda s: _cpp.sigmoid_binary_cross_entropy(s, np.zeros(2, np.int64), s))(_f32(2, 1)), ValueError, "grad"),
    "bce labels 2": (lambda: _cpp.sigmoid_binary_cross_entropy(_f32(2, 1), np.array([0, 2]), _f32(2, 1)), ValueError, "labels"),
    "bce labels list": (lambda: _cpp.sigmoid_binary_cross_entropy(_f32(2, 1), [0, 1], _f32(2, 1)), TypeError, "labels"),
    "dropout x float64": (lambda: _cpp.dropout(np.ones(4), _f32(4), 0.5, _f32(4)), TypeError, "x"),
    "dropout noise int": (lambda: _cpp.dropout(_f32(4), np.ones(4, np.int64), 0.5, _f32(4)), TypeError, "noise"),
    "dropout noise strided": (lambda: _cpp.dropout(_f32(2, 4), _strided(2, 4), 0.5, _f32(2, 4)), ValueError, "noise"),
    "dropout noise shape": (lambda: _cpp.dropout(_f32(4), _f32(5), 0.5, _f32(4)), ValueError, "noise"),
    "dropout out shape": (lambda: _cpp.dropout(_f32(4), _f32(4), 0.5, _f32(2, 2)), ValueError, "out"),
    "dropout out readonly": (lambda: _cpp.dropout(_f32(4), _f32(4), 0.5, _readonly(_f32(4))), ValueError, "out"),
    "dropout out is noise": (lambda: (lambda s: _cpp.dropout(_f32(4), s, 0.5, s))(_f32(4)), ValueError, "out"),
    "dropout shifted out": (lambda: _cpp.dropout(big[:8], _f32(8), 0.5, big[4:12]), ValueError, "out"),
    "dropout p 1": (lambda: CPP.dropout(_f32(4), _f32(4), 1.0, _f32(4)), ValueError, "dropout probability"),
    "dropout p nan": (lambda: CPP.dropout(_f32(4), _f32(4), float("nan"), _f32(4)), ValueError, "dropout probability"),
    "bn x float64": (lambda: _cpp.batch_norm_forward(**_bn_args(x=np.ones((4, 3)))), TypeError, "x"),
    "bn x 1-D": (lambda: _cpp.batch_norm_forward(**_bn_args(x=_f32(12), out=_f32(12))), ValueError, "x"),
    "bn one row": (lambda: _cpp.batch_norm_forward(**_bn_args(n=1)), ValueError, "rows"),
    "bn gamma shape": (lambda: _cpp.batch_norm_forward(**_bn_args(gamma=_f32(4))), ValueError, "gamma"),
    "bn beta strided": (lambda: _cpp.batch_norm_forward(**_bn_args(beta=_strided(3))), ValueError, "beta"),
    "bn out shape": (lambda: _cpp.batch_norm_forward(**_bn_args(out=_f32(3, 4))), ValueError, "out"),
    "bn mean readonly": (lambda: _cpp.batch_norm_forward(**_bn_args(mean=_readonly(_f32(3)))), ValueError, "mean"),
    "bn invstd float64": (lambda: _cpp.batch_norm_forward(**_bn_args(invstd=np.ones(3))), TypeError, "invstd"),
    "bn running_var readonly": (lambda: _cpp.batch_norm_forward(**_bn_args(running_var=_readonly(_f32(3)))), ValueError, "running_var"),
    "bn running_mean 2-D": (lambda: _cpp.batch_norm_forward(**_bn_args(running_mean=_f32(1, 3))), ValueError, "running_mean"),
    "bn mean is invstd": (lambda: (lambda s: _cpp.batch_norm_forward(**_bn_args(mean=s, invstd=s)))(_f32(3)), ValueError, "mean|invstd"),
    "bn out aliases x": (lambda: (lambda s: _cpp.batch_norm_forward(**_bn_args(x=s, out=s)))(_f32(4, 3)), ValueError, "out"),
    "bn running_mean in out": (lambda: (lambda s: _cpp.batch_norm_forward(**_bn_args(out=s[:12].reshape(4, 3), running_mean=s[10:13])))(_f32(16)), ValueError, "out|running_mean"),
    "bn momentum": (lambda: CPP.batch_norm_forward(**_bn_args(), momentum=1.5), ValueError, "momentum"),
    "bn eps": (lambda: CPP.batch_norm_forward(**_bn_args(), eps=0.0), ValueError, "eps"),
    "bn_inf x strided": (lambda: _cpp.batch_norm_inference(**_bn_inf_args(x=_strided(4, 3))), ValueError, "x"),
    "bn_inf running_var shape": (lambda: _cpp.batch_norm_inference(**_bn_inf_args(running_var=_f32(4))), ValueError, "running_var"),
    "bn_inf gamma float64": (lambda: _cpp.batch_norm_inference(**_bn_inf_args(gamma=np.ones(3))), TypeError, "gamma"),
    "bn_inf out readonly": (lambda: _cpp.batch_norm_inference(**_bn_inf_args(out=_readonly(_f32(4, 3)))), ValueError, "out"),
    "bn_inf out is x": (lambda: (lambda s: _cpp.batch_norm_inference(**_bn_inf_args(x=s, out=s)))(_f32(4, 3)), ValueError, "out"),
    "bn_inf out over beta": (lambda: (lambda s: _cpp.batch_norm_inference(**_bn_inf_args(beta=s[:3], out=s.reshape(4, 3))))(_f32(12)), ValueError, "out"),
    "bn_inf eps": (lambda: CPP.batch_norm_inference(**_bn_inf_args(), eps=-1.0), ValueError, "eps"),
    "bn_back grad float64": (lambda: _cpp.batch_norm_backward(**_bn_back_args(grad=np.ones((4, 3)))), TypeError, "grad"),
    "bn_back grad shape": (lambda: _cpp.batch_norm_backward(**_bn_back_args(grad=_f32(3, 4))), ValueError, "grad"),
    "bn_back grad_x readonly": (lambda: _cpp.batch_norm_backward(**_bn_back_args(grad_x=_readonly(_f32(4, 3)))), ValueError, "grad_x"),
    "bn_back grad_x strided": (lambda: _cpp.batch_norm_backward(**_bn_back_args(grad_x=_strided(4, 3))), ValueError, "grad_x"),
    "bn_back invstd shape": (lambda: _cpp.batch_norm_backward(**_bn_back_args(invstd=_f32(4))), ValueError, "invstd"),
    "bn_back grad_gamma readonly": (lambda: _cpp.batch_norm_backward(**_bn_back_args(grad_gamma=_readonly(_f32(3)))), ValueError, "grad_gamma"),
    "bn_back grad_x is x": (lambda: (lambda s: _cpp.batch_norm_backward(**_bn_back_args(x=s, grad_x=s)))(_f32(4, 3)), ValueError, "grad_x"),
    "bn_back shifted grad": (lambda: (lambda s: _cpp.batch_norm_backward(**_bn_back_args(grad=s[:12].reshape(4, 3), grad_x=s[1:13].reshape(4, 3))))(_f32(13)), ValueError, "grad_x"),
    "bn_back grad_beta in grad": (lambda: (lambda s: _cpp.batch_norm_backward(**_bn_back_args(grad=s.reshape(4, 3), grad_beta=s[:3])))(_f32(12)), ValueError, "grad_beta"),
    "bn_back grad_gamma is grad_beta": (lambda: (lambda s: _cpp.batch_norm_backward(**_bn_back_args(grad_gamma=s, grad_beta=s)))(_f32(3)), ValueError, "grad_gamma|grad_beta"),
    "sgd param float64": (_opt("sgd", param=np.ones(5)), TypeError, "param"),
    "sgd param readonly": (_opt("sgd", param=_readonly(_f32(5))), ValueError, "param"),
    "sgd grad strided": (_opt("sgd", grad=_strided(5)), ValueError, "grad"),
    "sgd grad shape": (_opt("sgd", grad=_f32(6)), ValueError, "grad"),
    "sgd buf shape": (_opt("sgd", buf=_f32(4)), ValueError, "buf"),
    "sgd buf readonly": (_opt("sgd", buf=_readonly(_f32(5))), ValueError, "buf"),
    "sgd buf list": (_opt("sgd", buf=[0.0] * 5), TypeError, "buf"),
    "sgd buf missing": (_opt("sgd", buf=None), ValueError, "buf"),
    "sgd buf is param": (lambda: (lambda s: _cpp.sgd_step(s, _f32(5), s, 0.1, 0.9))(_f32(5)), ValueError, "param|buf"),
    "sgd buf is grad": (lambda: (lambda s: _cpp.sgd_step(_f32(5), s, s, 0.1, 0.9))(_f32(5)), ValueError, "buf"),
    "sgd lr": (_opt("sgd", CPP, lr=-1.0), ValueError, "lr"),
    "sgd momentum": (_opt("sgd", CPP, momentum=1.0), ValueError, "momentum"),
    "sgd nesterov": (_opt("sgd", CPP, momentum=0.0, nesterov=True), ValueError, "nesterov"),
    "sgd weight_decay nan": (_opt("sgd", CPP, weight_decay=float("nan")), ValueError, "weight_decay"),
    "rmsprop grad float64": (_opt("rmsprop", grad=np.ones(5)), TypeError, "grad"),
    "rmsprop square_avg shape": (_opt("rmsprop", square_avg=_f32(6)), ValueError, "square_avg"),
    "rmsprop square_avg readonly": (_opt("rmsprop", square_avg=_readonly(_f32(5))), ValueError, "square_avg"),
    "rmsprop square_avg is grad": (lambda: (lambda s: _cpp.rmsprop_step(_f32(5), s, s, None, 0.01))(_f32(5)), ValueError, "square_avg"),
    "rmsprop buf is square_avg": (lambda: (lambda s: _cpp.rmsprop_step(_f32(5), _f32(5), s, s, 0.01, momentum=0.5))(_f32(5)), ValueError, "square_avg|buf"),
    "rmsprop buf missing": (_opt("rmsprop", buf=None), ValueError, "buf"),
    "rmsprop alpha": (_opt("rmsprop", CPP, alpha=1.0), ValueError, "alpha"),
    "rmsprop eps": (_opt("rmsprop", CPP, eps=0.0), ValueError, "eps"),
    "rmsprop momentum": (_opt("rmsprop", CPP, momentum=-0.5), ValueError, "momentum"),
    "adamw m shape": (_opt("adamw", m=_f32(4)), ValueError, "m"),
    "adamw v readonly": (_opt("adamw", v=_readonly(_f32(5))), ValueError, "v"),
    "adamw v strided": (_opt("adamw", v=_strided(5)), ValueError, "v"),
    "adamw m is v": (lambda: (lambda s: _cpp.adamw_step(_f32(5), _f32(5), s, s, 1e-3, 0.9, 0.999, 1e-8, 1))(_f32(5)), ValueError, "m|v"),
    "adamw param over grad": (lambda: _cpp.adamw_step(big[:5], big[4:9], _f32(5), _f32(5), 1e-3, 0.9, 0.999, 1e-8, 1), ValueError, "param"),
    "adamw step 0": (_opt("adamw", step=0), ValueError, "step"),
    "adamw beta1": (_opt("adamw", CPP, beta1=1.0), ValueError, "beta1"),
    "adamw weight_decay": (_opt("adamw", CPP, weight_decay=-0.01), ValueError, "weight_decay"),
}


@pytest.mark.parametrize("case", list(BAD_LAYER_CALLS))
def test_layer_kernel_bad_arguments_raise_naming_the_argument(case):
    call, exc, name = BAD_LAYER_CALLS[case]
    with pytest.raises(exc, match=rf"(^|\W)({name})(\W|$)"):
        call()


def test_layer_kernels_accept_what_the_oracle_accepts():
    # in place where the contract allows it, no optional buffer without momentum
    x = _f32(4, 3)
    _cpp.activation_forward("relu", x, x)
    _cpp.dropout(x, _f32(4, 3), 0.5, x)
    _cpp.batch_norm_backward(x, _f32(4, 3), _f32(3), _f32(3), _f32(3), x, _f32(3), _f32(3))
    _cpp.sgd_step(_f32(5), _f32(5), None, 0.1)
    _cpp.rmsprop_step(_f32(5), _f32(5), _f32(5), None, 0.01)
    _cpp.batch_norm_forward(**_bn_args(n=2, f=0))
    _cpp.activation_forward("tanh", _f32(0), _f32(0))


def test_threads_without_openmp_are_one_and_said_so():
    """Built without OpenMP (tools/no_openmp.sh) the kernels run on one thread: a request for
    more warns and is honoured as 1, and `fastmlp backends` says why; with OpenMP it is kept."""
    backend = backends.get_backend("cpp")
    before = _cpp.num_threads()
    try:
        if _cpp.openmp():
            backend.set_num_threads(2)
            assert _cpp.num_threads() == 2
            assert "threads=2," in backend.details()
        else:
            with pytest.warns(RuntimeWarning, match="built without OpenMP"):
                backend.set_num_threads(2)
            assert _cpp.num_threads() == 1
            assert "threads=1 (built without OpenMP)" in backend.details()
    finally:
        _cpp.set_num_threads(before)


def test_isa_names_of_other_architectures_are_unsupported_not_unknown():
    for name in ("avx512", "avx2", "neon", "generic"):
        assert isinstance(_cpp.cpu_supports(name), bool)
    assert _cpp.cpu_supports("generic")
    with pytest.raises(ValueError, match="unknown ISA 'sse4'"):
        _cpp.cpu_supports("sse4")
