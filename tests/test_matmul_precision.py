"""Matmul precision (fastmlp.set_matmul_precision): bfloat16 rounding, the NumPy oracle's
exact emulation, the cpp backend against it on every ISA path and thread count, the
registry, the CLI, and training quality.

Tolerances (float32, eps = 2**-23) are test_parity.py's, derived the same way. Under
"bfloat16" both backends round the same operands to bfloat16 and multiply them exactly (a
product of two 8-bit significands fits in float32's 24), so they differ only in the order
of their float32 sums: test_parity's bounds hold with |op(a)| @ |op(b)| taken over the
rounded operands. That argument needs the *same* operands on both sides. In a chain of
GEMMs (forward_backward, adam_train_steps) a later GEMM rounds an intermediate result
that the two backends computed with float32-sized differences, and such a difference can
move an element across a bfloat16 rounding boundary (one bfloat16 ulp, 2**-8 relative, far
above the float32 bounds). So those kernels are checked layer by layer: every GEMM, loss,
column sum and Adam step the cpp kernel did is recomputed by the oracle from the cpp
kernel's own inputs to that stage (its acts, grads, params), each against the parity
bound of that stage. Different runs of the cpp kernel itself (thread counts, the fused
chunk against per-step calls) must agree bitwise.
"""
from __future__ import annotations

import contextlib
import itertools

import numpy as np
import pytest

import fastmlp
import flat_calls
from conftest import CONFIGS, configured
from fastmlp import backends
from fastmlp.backends.base import Backend
from fastmlp.backends.bfloat16 import MATMUL_PRECISIONS, round_to_bfloat16
from test_backends import _run
from test_cli import fastmlp as run_cli
from test_data import _small_dataset
from test_parity import ACTIVATIONS, EPS32, _op, _rand

F32 = np.float32
CPP_CONFIGS = [c for c in CONFIGS if c[1] == "cpp"]
CPP_IDS = [c[0] for c in CPP_CONFIGS]
CPP_ISAS = sorted({c[3] for c in CPP_CONFIGS})


def _cpp_has_bfloat16():
    if not backends.available_backends().get("cpp"):
        return False
    return "bfloat16" in backends.get_backend("cpp").matmul_precisions


CPP_BF16 = _cpp_has_bfloat16()


@contextlib.contextmanager
def matmul_precision(name):
    """fastmlp.set_matmul_precision(name) inside the block; the previous setting after it."""
    before = backends.get_matmul_precision()
    backends.set_matmul_precision(name)
    try:
        yield
    finally:
        backends.set_matmul_precision(before)


@pytest.fixture(autouse=True)
def _float32_after_each_test():
    # whatever a test does (or fails to undo), the next one starts from the same setting
    before = backends.get_matmul_precision()
    yield
    backends.set_matmul_precision(before)
    for backend in backends._loaded.values():
        assert backend.matmul_precision in (before, "float32")


@pytest.fixture
def bf16():
    with matmul_precision("bfloat16"):
        yield


@pytest.fixture
def cpp_bf16_available():
    if not backends.available_backends().get("cpp"):
        pytest.skip("the cpp backend does not load here")
    if not CPP_BF16:
        pytest.fail("the installed fastmlp._cpp has no bfloat16 GEMM (no "
                    "_cpp.set_matmul_precision): rebuild it with `pip install .`")


@pytest.fixture(params=CPP_CONFIGS, ids=CPP_IDS)
def cpp(request, cpp_bf16_available, bf16):
    """The cpp backend in each ISA x threads configuration, with bfloat16 matmuls."""
    _, name, threads, isa = request.param
    with configured(name, threads, isa) as backend:
        assert backend.matmul_precision == "bfloat16"
        yield backend


def _bits(x):
    return np.asarray(x, F32).view(np.uint32)


# -- 1. round_to_bfloat16 -----------------------------------------------------------------
MAX32 = float(np.finfo(F32).max)
BF16_MAX = (2 - 2 ** -7) * 2.0 ** 127  # largest finite bfloat16
ROUNDING_CASES = [
    (1.0, 1.0),
    (1 + 2 ** -8, 1.0),                  # halfway between 1 and 1 + 2**-7: ties to even, down
    (1 + 3 * 2 ** -8, 1 + 2 ** -6),      # halfway, the odd neighbour below: ties to even, up
    (1 + 2 ** -8 + 2 ** -20, 1 + 2 ** -7),  # just above halfway: up
    (1 + 2 ** -8 - 2 ** -20, 1.0),       # just below halfway: down
    (-(1 + 2 ** -8), -1.0),
    (-(1 + 3 * 2 ** -8), -(1 + 2 ** -6)),
    (-2.7182817, -2.71875),
    (3.1415927, 3.140625),
    (1e-3, 0.00099945068359375),
    (BF16_MAX, BF16_MAX),                # the largest bfloat16 stays
    ((2 - 2 ** -8) * 2.0 ** 127, np.inf),  # halfway to 2**128 (the odd max below): inf
    (MAX32, np.inf),                     # float32's max is beyond that midpoint: IEEE says inf
    (-MAX32, -np.inf),
    (np.inf, np.inf),
    (-np.inf, -np.inf),
    (2.0 ** -126, 2.0 ** -126),          # the smallest normal is a bfloat16
    (2.0 ** -126 * (1 - 2 ** -23), 0.0),  # the largest denormal
    (2.0 ** -127, 0.0),                  # denormals become zero, as VCVTNE2PS2BF16 makes them
    (-(2.0 ** -133), -0.0),              # ... keeping their sign
    (2.0 ** -149, 0.0),                  # the smallest float32 denormal
]


@pytest.mark.parametrize("value,expected", ROUNDING_CASES,
                         ids=[f"{v!r}" for v, _ in ROUNDING_CASES])
def test_round_to_bfloat16_exact_values(value, expected):
    got = round_to_bfloat16(np.array([value], F32))
    assert got.dtype == F32
    assert got[0] == F32(expected)
    assert np.signbit(got[0]) == np.signbit(value)


def test_round_to_bfloat16_keeps_zero_signs_and_nans():
    zeros = round_to_bfloat16(np.array([0.0, -0.0], F32))
    assert _bits(zeros).tolist() == [0, 0x80000000]
    nans = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FFFFFFF, 0xFFFFFFFF,
                     0x7FBFFFFF], np.uint32).view(F32)  # quiet, signalling, all-ones payloads
    got = round_to_bfloat16(nans)
    assert np.all(np.isnan(got))
    assert np.all(np.signbit(got) == np.signbit(nans))
    assert np.all(_bits(got) & 0x00400000)  # quiet
    assert np.all(_bits(got) & 0xFFFF == 0)


def test_round_to_bfloat16_on_every_float32_pattern_class(rng):
    """Random bit patterns (all exponents, both signs, NaNs included) against a scalar
    rounding written from the definition: the nearer of the two bfloat16 neighbours, the
    even one on a tie."""
    bits = rng.integers(0, 2 ** 32, 20000, dtype=np.uint64).astype(np.uint32)
    x = bits.view(F32)
    got = round_to_bfloat16(x)
    assert np.all(_bits(got) & 0xFFFF == 0)  # every result is a bfloat16 value
    finite = np.isfinite(x) & ((bits & np.uint32(0x7F800000)) != 0)  # denormals: below
    assert np.array_equal(np.isnan(got), np.isnan(x))
    denormal = (bits & np.uint32(0x7F800000)) == 0
    assert np.array_equal(_bits(got)[denormal], bits[denormal] & np.uint32(0x80000000))
    lo = bits & np.uint32(0xFFFF0000)        # truncation: the neighbour towards zero
    rest = bits & np.uint32(0xFFFF)
    up = (rest > 0x8000) | ((rest == 0x8000) & (((lo >> 16) & 1) == 1))
    want = np.where(up, lo.astype(np.uint64) + 0x10000, lo).astype(np.uint32)
    assert np.array_equal(_bits(got)[finite], want[finite])
    # and rounding changes a finite, non-overflowing value by at most half a bfloat16 ulp
    ok = finite & np.isfinite(got)
    err = np.abs(got[ok].astype(np.float64) - x[ok])
    assert np.all(err <= 2.0 ** -8 * np.abs(x[ok].astype(np.float64)) + 2.0 ** -134)


def test_round_to_bfloat16_leaves_its_input_and_takes_any_layout(rng):
    a = _rand(rng, (7, 5))
    before = a.copy()
    t = round_to_bfloat16(a.T)
    assert t.shape == (5, 7)
    np.testing.assert_array_equal(a, before)
    np.testing.assert_array_equal(t, round_to_bfloat16(np.ascontiguousarray(a.T)))
    np.testing.assert_array_equal(round_to_bfloat16(a[:, ::2]), round_to_bfloat16(a)[:, ::2])
    with pytest.raises(TypeError, match="float32"):
        round_to_bfloat16(np.ones(3))


# -- 2. the numpy backend emulates bfloat16 ------------------------------------------------
def _exact(a, b, c0, trans_a, trans_b, alpha, beta):
    """alpha * op(a) @ op(b) + beta * c0 in float64 on bfloat16-rounded operands, and the
    float32-accumulation bound around it ((K + 2) eps, as test_cpp_backend.gemm_reference)."""
    ra = round_to_bfloat16(_op(a, trans_a)).astype(np.float64)
    rb = round_to_bfloat16(_op(b, trans_b)).astype(np.float64)
    k = ra.shape[1]
    want = alpha * (ra @ rb) + (beta * c0.astype(np.float64) if beta else 0.0)
    bound = abs(alpha) * (np.abs(ra) @ np.abs(rb)) + (abs(beta) * np.abs(c0) if beta else 0.0)
    return want, (k + 2) * EPS32 * bound + 1e-30


@pytest.mark.parametrize("trans_a,trans_b", list(itertools.product([False, True], repeat=2)),
                         ids=["NN", "NT", "TN", "TT"])
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (0.3, 0.0), (1.0, 1.0), (-0.7, 2.5)])
def test_numpy_gemm_is_the_exact_product_of_rounded_operands(oracle, rng, bf16, trans_a,
                                                             trans_b, alpha, beta):
    assert oracle.matmul_precision == "bfloat16"
    for m, n, k in [(1, 1, 1), (10, 33, 1), (31, 10, 33), (33, 130, 784)]:
        a = _rand(rng, (k, m) if trans_a else (m, k))
        b = _rand(rng, (n, k) if trans_b else (k, n))
        c0 = _rand(rng, (m, n))
        out = c0.copy() if beta else np.full((m, n), np.nan, F32)
        oracle.gemm(a, b, out, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta)
        want, tol = _exact(a, b, c0, trans_a, trans_b, alpha, beta)
        assert np.all(np.abs(out - want) <= tol)


def test_numpy_bfloat16_is_not_float32(oracle, rng):
    """K = 256 random normal data. A float32 product is within K*eps*(|a| @ |b|) of the
    exact one (Higham), so a setting that changed nothing would keep every element's
    |bf16 - f32| / (|a| @ |b|) below 2*K*eps = 6.1e-5 (both results within K*eps of the
    exact one). Rounding each operand to bfloat16 moves it by up to 2**-9 relative, in
    random directions: the typical (median) ratio is about 1.6e-4, well above."""
    k = 256
    a, b = _rand(rng, (64, k)), _rand(rng, (k, 64))
    f32, b16 = np.empty((64, 64), F32), np.empty((64, 64), F32)
    oracle.gemm(a, b, f32)
    with matmul_precision("bfloat16"):
        oracle.gemm(a, b, b16)
    bound = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
    ratio = np.abs(b16.astype(np.float64) - f32) / bound
    assert np.median(ratio) > 2 * k * EPS32
    # and float32 is today's behaviour, bit for bit
    np.testing.assert_array_equal(f32, np.matmul(a, b))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_numpy_dense_forward_rounds_x_and_w_only(oracle, rng, bf16, activation):
    n, k, f = 33, 784, 130
    x, w, b = _rand(rng, (n, k)), _rand(rng, (f, k), scale=1 / np.sqrt(k)), _rand(rng, (f,))
    out, pre = np.empty((n, f), F32), np.empty((n, f), F32)
    oracle.dense_forward(x, w, b, out, activation, pre=pre)
    want, tol = _exact(x, w, np.zeros((n, f), F32), False, True, 1.0, 0.0)
    want += b  # the bias is added in float32, not rounded
    assert np.all(np.abs(pre - want) <= tol + 2 * EPS32 * np.abs(want))
    from fastmlp.backends.numpy.activations import apply_activation
    np.testing.assert_array_equal(out, apply_activation(activation, pre, np.empty_like(pre)))


def test_float64_is_never_rounded(rng, bf16):
    a, b = rng.standard_normal((9, 33)), rng.standard_normal((33, 4))
    for name in ("numpy", "cpp"):
        if not backends.available_backends().get(name):
            continue
        be = backends.get_backend(name)
        out = np.empty((9, 4))
        be.gemm(a, b, out)
        np.testing.assert_array_equal(out, np.matmul(a, b))
        x, w, bias = rng.standard_normal((5, 33)), rng.standard_normal((7, 33)), np.zeros(7)
        got = be.dense_forward(x, w, bias, np.empty((5, 7)), "identity")
        np.testing.assert_array_equal(got, np.matmul(x, w.T))


# -- 3. cpp against the oracle, both in bfloat16 ---------------------------------------------
def _gemm_parity_tol(a, b, c0, trans_a, trans_b, alpha, beta):
    """test_parity.test_gemm's tolerance, on the rounded operands both backends multiply."""
    ra = np.abs(round_to_bfloat16(_op(a, trans_a))).astype(np.float64)
    rb = np.abs(round_to_bfloat16(_op(b, trans_b))).astype(np.float64)
    k = ra.shape[1]
    c_abs = 0.0 if beta == 0.0 else np.abs(beta * c0.astype(np.float64))
    return 2 * (k + 2) * EPS32 * (abs(alpha) * (ra @ rb) + c_abs) + 1e-30


MNS = [1, 10, 31, 33, 128, 130]
KS = [1, 31, 33, 784]
# every M with two Ns (rotating through the list), for every K: 48 shapes, plus 1x1x1 and
# shapes beyond typical cache blocks (on a 48 KiB L1d / 1 MiB L2: kc 512, mc 120, nc 256;
# test_gemm_blocking runs the GEMM under tiny caches too; up to 256 rows a row-major A is
# read in place in float32)
CPP_GEMM_SHAPES = ([(1, 1, 1)] + [(m, MNS[(i + j) % len(MNS)], k) for k in KS
                                  for i, m in enumerate(MNS) for j in (0, 3)]
                   + [(300, 130, 784), (520, 33, 400), (13, 1030, 385)])


@pytest.mark.parametrize("trans_a,trans_b", list(itertools.product([False, True], repeat=2)),
                         ids=["NN", "NT", "TN", "TT"])
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (0.3, 0.0), (1.0, 1.0), (-0.7, 2.5)])
def test_cpp_gemm(cpp, oracle, rng, trans_a, trans_b, alpha, beta):
    for m, n, k in CPP_GEMM_SHAPES:
        a = _rand(rng, (k, m) if trans_a else (m, k))
        b = _rand(rng, (n, k) if trans_b else (k, n))
        c0 = _rand(rng, (m, n))
        if beta == 0.0:
            c0[...] = np.nan  # with beta == 0, out must not be read
        got, want = c0.copy(), c0.copy()
        cpp.gemm(a, b, got, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta)
        oracle.gemm(a, b, want, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta)
        tol = _gemm_parity_tol(a, b, c0, trans_a, trans_b, alpha, beta)
        assert np.all(np.isfinite(got)), (m, n, k)
        assert np.all(np.abs(got.astype(np.float64) - want) <= tol), (m, n, k)


def _bf16_engines():
    try:
        from fastmlp import _cpp
    except ImportError:
        return []
    engines = []
    for name in ("amx", "avx512_bf16", "emulated"):
        try:
            _cpp.force_bf16_matmul_engine(name)
        except ValueError:
            continue
        engines.append(name)
    _cpp.force_bf16_matmul_engine("")
    return engines


@pytest.fixture
def forced_engine(request):
    from fastmlp import _cpp

    _cpp.force_bf16_matmul_engine(request.param)
    try:
        assert _cpp.bf16_matmul_engine() == request.param
        yield request.param
    finally:
        _cpp.force_bf16_matmul_engine("")


@pytest.mark.parametrize("forced_engine", _bf16_engines(), indirect=True)
def test_cpp_gemm_on_every_bfloat16_engine_of_this_cpu(cpp_bf16_available, bf16, forced_engine,
                                                       oracle, rng):
    """Each engine the CPU has (on an AMX machine the VDPBF16PS and emulated ones too), on 1
    and 2 threads: within the oracle's bound, and bitwise the same for both thread counts."""
    runs = []
    for threads in (1, 2):
        with configured("cpp", threads, None) as cpp:
            got_all = []
            for (m, n, k), (ta, tb) in itertools.product(
                    [(1, 1, 1), (13, 31, 33), (33, 130, 784), (300, 130, 785), (13, 1030, 385)],
                    itertools.product([False, True], repeat=2)):
                local = np.random.default_rng(m * 7 + n * 3 + k + 2 * ta + tb)
                a = _rand(local, (k, m) if ta else (m, k))
                b = _rand(local, (n, k) if tb else (k, n))
                c0 = _rand(local, (m, n))
                got, want = c0.copy(), c0.copy()
                cpp.gemm(a, b, got, trans_a=ta, trans_b=tb, alpha=-0.7, beta=2.5)
                oracle.gemm(a, b, want, trans_a=ta, trans_b=tb, alpha=-0.7, beta=2.5)
                tol = _gemm_parity_tol(a, b, c0, ta, tb, -0.7, 2.5)
                assert np.all(np.abs(got.astype(np.float64) - want) <= tol), (m, n, k, ta, tb)
                got_all.append(got)
            runs.append(got_all)
    for one, two in zip(*runs):
        np.testing.assert_array_equal(one, two)


def test_forcing_an_unknown_bfloat16_engine_is_an_error(cpp_bf16_available):
    from fastmlp import _cpp

    with pytest.raises(ValueError, match="one of amx, avx512_bf16, emulated"):
        _cpp.force_bf16_matmul_engine("tpu")
    assert "emulated" in _bf16_engines()


def test_cpp_gemm_special_values(cpp, oracle):
    """inf and NaN operands propagate as in the oracle; huge values round to inf."""
    a = np.ones((3, 34), F32)
    b = np.ones((34, 5), F32)
    a[0, 3], a[1, 7], a[2, 0] = np.inf, np.nan, MAX32  # MAX32 rounds to inf in bfloat16
    got, want = np.empty((3, 5), F32), np.empty((3, 5), F32)
    cpp.gemm(a, b, got)
    oracle.gemm(a, b, want)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[np.isinf(want)], want[np.isinf(want)])
    assert np.isinf(got[2]).all()  # float32 would give a finite 3.4e38 + 33


def test_cpp_gemm_denormal_operands_count_as_zero(cpp, oracle):
    """A denormal operand is zero in bfloat16 on both sides: 2**-130 * 2**100 would be a
    normal 2**-30 in float32, and a normal partner does not rescue it."""
    a = np.full((2, 40), 2.0 ** -130, F32)
    a[1] = 1.0
    b = np.full((40, 3), 2.0 ** 100, F32)
    b[5, 0] = -(2.0 ** -140)  # a denormal in B too
    got, want = np.empty((2, 3), F32), np.empty((2, 3), F32)
    cpp.gemm(a, b, got)
    oracle.gemm(a, b, want)
    np.testing.assert_array_equal(got, want)
    assert np.all(got[0] == 0.0)
    assert got[1, 0] == F32(39 * 2.0 ** 100)  # the denormal term of B dropped


DENSE_SHAPES = [(1, 1, 1), (1, 784, 10), (7, 13, 5), (33, 31, 65), (64, 784, 128),
                (130, 33, 130)]


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("with_pre", [False, True], ids=["nopre", "pre"])
def test_cpp_dense_forward(cpp, oracle, rng, activation, with_pre):
    for n, k, f in DENSE_SHAPES:
        x = _rand(rng, (n, k))
        w = _rand(rng, (f, k), scale=1 / np.sqrt(k))
        b = _rand(rng, (f,))
        got, want = np.full((n, f), np.nan, F32), np.full((n, f), np.nan, F32)
        got_pre = np.full((n, f), np.nan, F32) if with_pre else None
        want_pre = np.empty((n, f), F32)
        cpp.dense_forward(x, w, b, got, activation, pre=got_pre)
        oracle.dense_forward(x, w, b, want, activation, pre=want_pre)
        tol_pre = _dense_tol(x, w, b)
        if with_pre:
            assert np.all(np.abs(got_pre.astype(np.float64) - want_pre) <= tol_pre)
        tol = tol_pre + 8 * EPS32 * np.abs(want) + 1e-30
        assert np.all(np.abs(got.astype(np.float64) - want) <= tol), (n, k, f)


def _dense_tol(x, w, b):
    """test_parity.test_dense_forward's pre-activation tolerance, on rounded x and w."""
    k = x.shape[1]
    bound = (np.abs(round_to_bfloat16(x)).astype(np.float64)
             @ np.abs(round_to_bfloat16(w)).T.astype(np.float64) + np.abs(b))
    return 2 * (k + 2) * EPS32 * bound


def _net(rng, sizes, n):
    """A plain MLP's flat params with per-layer views, data, and the kernel's buffers."""
    layers = list(zip(sizes[:-1], sizes[1:]))
    params = np.empty(sum(o * i + o for i, o in layers), F32)
    weights, biases = _views(params, layers)
    for w, b, (i, o) in zip(weights, biases, layers):
        w[...] = _rand(rng, (o, i), scale=np.sqrt(2 / i))
        b[...] = _rand(rng, (o,), scale=0.1)
    x = rng.random((n, sizes[0])).astype(F32)
    labels = rng.integers(0, sizes[-1], n).astype(np.int64)
    return layers, params, x, labels


def _views(flat, layers):
    weights, biases, off = [], [], 0
    for i, o in layers:
        weights.append(flat[off:off + o * i].reshape(o, i))
        off += o * i
        biases.append(flat[off:off + o])
        off += o
    return weights, biases


def _buffers(layers, n, fill=np.nan):
    return ([np.full((n, o), fill, F32) for _, o in layers],
            [np.full((n, o), fill, F32) for _, o in layers])


def _check_step_locally(oracle, x, labels, weights, biases, wg, bg, acts, grads, activation,
                        loss):
    """Every stage of a forward_backward the kernel under test ran (its outputs in acts,
    grads, wg, bg and loss) recomputed by the oracle from that kernel's own inputs to the
    stage, each within test_parity's bound for the stage."""
    last = len(weights) - 1
    inp = x
    for i in range(last + 1):  # forward: dense_forward, from the kernel's previous act
        act = "identity" if i == last else activation
        want = oracle.dense_forward(inp, weights[i], biases[i], np.empty_like(acts[i]), act)
        tol = _dense_tol(inp, weights[i], biases[i]) + 8 * EPS32 * np.abs(want) + 1e-30
        assert np.all(np.abs(acts[i].astype(np.float64) - want) <= tol), f"acts[{i}]"
        inp = acts[i]
    n, c = acts[last].shape
    want = np.empty_like(grads[last])
    ref = oracle.softmax_cross_entropy(acts[last], labels, want)
    scale = max(1.0, float(np.abs(acts[last]).max()))
    tol = 2 * (c + 8) * EPS32  # test_parity.test_softmax_cross_entropy
    assert abs(loss - ref) <= tol * (1 + abs(ref) + scale)
    assert np.all(np.abs(grads[last] - want) <= tol * (1 + scale) / n), "loss gradient"
    for i in range(last, -1, -1):  # backward, from the kernel's own grads[i]
        inp = x if i == 0 else acts[i - 1]
        want = oracle.gemm(grads[i], inp, np.empty_like(wg[i]), trans_a=True)
        tol = _gemm_parity_tol(grads[i], inp, None, True, False, 1.0, 0.0)
        assert np.all(np.abs(wg[i].astype(np.float64) - want) <= tol), f"weight_grads[{i}]"
        want = oracle.bias_grad(grads[i], np.empty_like(bg[i]))
        tol = 2 * n * EPS32 * np.abs(grads[i]).astype(np.float64).sum(axis=0)
        assert np.all(np.abs(bg[i].astype(np.float64) - want) <= tol), f"bias_grads[{i}]"
        if i > 0:
            back = oracle.gemm(grads[i], weights[i], np.empty_like(grads[i - 1]))
            want = oracle.activation_backward(activation, back, acts[i - 1], None,
                                              np.empty_like(back))
            # the GEMM's bound, times the derivative (at most 1), plus its few roundings
            tol = (_gemm_parity_tol(grads[i], weights[i], None, False, False, 1.0, 0.0)
                   + 8 * EPS32 * np.abs(want) + 1e-30)
            assert np.all(np.abs(grads[i - 1].astype(np.float64) - want) <= tol), f"grads[{i - 1}]"


NETS = [([784, 130, 33, 10], 64), ([33, 17, 9, 3], 1), ([31, 128, 10, 10], 33)]


@pytest.mark.parametrize("sizes,n", NETS, ids=["-".join(map(str, s)) + f"@{n}" for s, n in NETS])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_cpp_forward_backward(cpp, oracle, rng, sizes, n, activation):
    layers, params, x, labels = _net(rng, sizes, n)
    weights, biases = _views(params, layers)
    grads_flat = np.full_like(params, np.nan)
    wg, bg = _views(grads_flat, layers)
    acts, grads = _buffers(layers, n)
    loss = flat_calls.forward_backward(cpp, x, labels, weights, biases, wg, bg, acts, grads,
                                      activation)
    assert np.all(np.isfinite(grads_flat))
    _check_step_locally(oracle, x, labels, weights, biases, wg, bg, acts, grads, activation,
                        loss)


ADAM = dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)


def _adam_chunk(backend, x, labels, order, start, batch, steps, layers, params, m, v, t0,
                activation="relu"):
    """One adam_train_steps call on copies of params, m, v; returns everything it wrote."""
    params, m, v = params.copy(), m.copy(), v.copy()
    grads_flat = np.full_like(params, np.nan)
    weights, biases = _views(params, layers)
    wg, bg = _views(grads_flat, layers)
    acts, grads = _buffers(layers, batch)
    xb, yb = np.empty((batch, x.shape[1]), F32), np.empty(batch, np.int64)
    losses = np.full(steps, np.nan)
    flat_calls.adam_train_steps(backend, x, labels, order, start, batch, steps, xb, yb, weights,
                                biases, wg, bg, acts, grads, activation, params, grads_flat, m,
                                v, ADAM["lr"], ADAM["beta1"], ADAM["beta2"], ADAM["eps"], t0,
                                ADAM["weight_decay"], losses)
    return dict(params=params, grads=grads_flat, m=m, v=v, wg=wg, bg=bg, acts=acts,
                grads_act=grads, xb=xb, yb=yb, losses=losses)


def test_cpp_adam_train_steps(cpp, oracle, rng):
    """A few steps, one call each, every step checked locally against the oracle (the
    gradients are those of the call's last step, so one step per call keeps them all);
    then the same steps as one fused call must give the per-call bits."""
    sizes, batch, rows, steps = [31, 130, 33, 10], 33, 125, 4  # the last step gets 26 rows
    layers, params0, x, labels = _net(rng, sizes, rows)
    order = rng.permutation(rows).astype(np.int64)
    params, m, v = params0, np.zeros_like(params0), np.zeros_like(params0)
    for s in range(steps):
        r = _adam_chunk(cpp, x, labels, order, s * batch, batch, 1, layers, params, m, v, s)
        k = min(batch, rows - s * batch)
        weights, biases = _views(params, layers)  # this step's weights, before its update
        _check_step_locally(oracle, r["xb"][:k], r["yb"][:k], weights, biases, r["wg"],
                            r["bg"], [a[:k] for a in r["acts"]],
                            [g[:k] for g in r["grads_act"]], "relu", r["losses"][0])
        # the Adam step on the kernel's own gradients: test_parity.test_adam_step's bounds
        p_want, m_want, v_want = params.copy(), m.copy(), v.copy()
        oracle.adam_step(p_want, r["grads"], m_want, v_want, step=s + 1, **ADAM)
        g = np.abs(r["grads"])
        assert np.all(np.abs(r["m"] - m_want) <= 24 * EPS32 * (np.abs(m) + g))
        assert np.all(np.abs(r["v"] - v_want) <= 24 * EPS32 * (v + g ** 2))
        # one step moves a parameter by about lr (test_parity's 3 steps of lr 1e-3: 3e-3)
        assert np.all(np.abs(r["params"] - p_want) <= 24 * EPS32 * (np.abs(params) + 1e-2 * 10))
        params, m, v = r["params"], r["m"], r["v"]
    # the same steps as one fused call: bitwise the per-call sequence
    fused = _adam_chunk(cpp, x, labels, order, 0, batch, steps, layers, params0,
                        np.zeros_like(params0), np.zeros_like(params0), 0)
    np.testing.assert_array_equal(fused["params"], params)
    np.testing.assert_array_equal(fused["m"], m)
    np.testing.assert_array_equal(fused["v"], v)


def test_cpp_fused_chunk_is_the_per_step_calls(cpp, rng):
    """adam_train_steps under bfloat16 is bitwise its own forward_backward + adam_step."""
    sizes, batch, rows = [23, 17, 12, 5], 16, 103
    layers, params0, x, labels = _net(rng, sizes, rows)
    order = rng.permutation(rows).astype(np.int64)
    steps = -(-rows // batch)
    fused = _adam_chunk(cpp, x, labels, order, 0, batch, steps, layers, params0,
                        np.zeros_like(params0), np.zeros_like(params0), 0)
    params, m, v = params0.copy(), np.zeros_like(params0), np.zeros_like(params0)
    grads_flat = np.empty_like(params)
    weights, biases = _views(params, layers)
    wg, bg = _views(grads_flat, layers)
    losses = []
    for s in range(steps):
        idx = order[s * batch:(s + 1) * batch]
        acts, grads = _buffers(layers, idx.shape[0])
        losses.append(flat_calls.forward_backward(cpp, x[idx], labels[idx], weights, biases, wg,
                                                  bg, acts, grads, "relu"))
        cpp.adam_step(params, grads_flat, m, v, step=s + 1, **ADAM)
    np.testing.assert_array_equal(fused["losses"], losses)
    np.testing.assert_array_equal(fused["params"], params)
    np.testing.assert_array_equal(fused["grads"], grads_flat)


def _cpp_outputs(rng_seed):
    """Outputs of every GEMM kernel at shapes large enough to be split between threads."""
    rng = np.random.default_rng(rng_seed)
    cpp = backends.get_backend("cpp")
    out = []
    for (m, n, k), (ta, tb) in itertools.product(
            [(128, 1024, 784), (1024, 784, 128), (130, 33, 784)],
            itertools.product([False, True], repeat=2)):
        a = _rand(rng, (k, m) if ta else (m, k))
        b = _rand(rng, (n, k) if tb else (k, n))
        c = _rand(rng, (m, n))
        out.append(cpp.gemm(a, b, c, trans_a=ta, trans_b=tb, alpha=0.3, beta=1.0))
    x, w, bias = _rand(rng, (128, 784)), _rand(rng, (1024, 784), 0.05), _rand(rng, (1024,))
    out.append(cpp.dense_forward(x, w, bias, np.empty((128, 1024), F32), "relu"))
    layers, params, x, labels = _net(rng, [784, 256, 130, 10], 128)
    weights, biases = _views(params, layers)
    grads_flat = np.empty_like(params)
    wg, bg = _views(grads_flat, layers)
    acts, grads = _buffers(layers, 128)
    out.append(np.array([flat_calls.forward_backward(cpp, x, labels, weights, biases, wg, bg,
                                                     acts, grads, "tanh")]))
    out += [grads_flat, *acts, *grads]
    order = rng.permutation(128).astype(np.int64)
    r = _adam_chunk(cpp, x, labels, order, 0, 32, 4, layers, params, np.zeros_like(params),
                    np.zeros_like(params), 0)
    out += [r["params"], r["m"], r["v"], r["losses"]]
    return out


@pytest.mark.parametrize("isa", CPP_ISAS)
def test_cpp_bfloat16_is_bitwise_the_same_on_1_and_2_threads(cpp_bf16_available, bf16, isa):
    results = []
    for threads in (1, 2):
        with configured("cpp", threads, isa):
            results.append(_cpp_outputs(7))
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


def test_cpp_float32_is_unchanged_after_a_bfloat16_detour(cpp_bf16_available, rng):
    cpp = backends.get_backend("cpp")
    a, b = _rand(rng, (130, 784)), _rand(rng, (784, 33))
    before = cpp.gemm(a, b, np.empty((130, 33), F32))
    with matmul_precision("bfloat16"):
        detour = cpp.gemm(a, b, np.empty((130, 33), F32))
    after = cpp.gemm(a, b, np.empty((130, 33), F32))
    np.testing.assert_array_equal(before, after)
    assert not np.array_equal(before, detour)


def _cpu_flags():
    """The CPU's feature flags as Linux lists them, or None elsewhere."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def test_cpp_extension_functions(cpp_bf16_available):
    from fastmlp import _cpp

    cpp = backends.get_backend("cpp")
    assert _cpp.matmul_precision() == cpp.matmul_precision == "float32"
    with matmul_precision("bfloat16"):
        assert _cpp.matmul_precision() == "bfloat16"
    assert _cpp.matmul_precision() == "float32"
    with pytest.raises(ValueError, match="float32.*bfloat16|bfloat16.*float32"):
        _cpp.set_matmul_precision("float16")
    assert isinstance(_cpp.amx_available(), bool)
    flags = _cpu_flags()
    for isa in CPP_ISAS:
        with configured("cpp", None, isa):
            engine = _cpp.bf16_matmul_engine()
            if isa != "avx512":
                want = {"emulated"}
            elif _cpp.amx_available():
                want = {"amx"}
            elif flags is None:  # no /proc/cpuinfo to ask
                want = {"avx512_bf16", "emulated"}
            else:
                want = {"avx512_bf16" if "avx512_bf16" in flags else "emulated"}
            assert engine in want, isa
            assert f"bf16_matmul_engine={engine}" in cpp.details()


def test_emulated_bfloat16_warns_once(cpp_bf16_available, monkeypatch):
    """Without AMX or AVX512-BF16 (the generic path has neither) bfloat16 is slower than
    float32: asking for it says so, once per process; where the CPU has them it does not."""
    import warnings

    from fastmlp import _cpp
    from fastmlp.backends import cpp as cpp_backend
    from fastmlp.backends.bfloat16 import EmulatedBfloat16Warning

    assert issubclass(EmulatedBfloat16Warning, UserWarning)
    monkeypatch.setattr(cpp_backend, "_warned_emulated", False)
    with configured("cpp", None, "generic"):
        with pytest.warns(EmulatedBfloat16Warning, match="emulated .*slower than float32") as rec:
            backends.set_matmul_precision("bfloat16")
        assert rec[0].filename == __file__  # the caller's line, not one inside fastmlp
        backends.set_matmul_precision("float32")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            backends.set_matmul_precision("bfloat16")  # said once already
    backends.set_matmul_precision("float32")
    monkeypatch.setattr(cpp_backend, "_warned_emulated", False)
    if _cpp.bf16_matmul_engine() != "emulated":  # the best path here has bf16 instructions
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            backends.set_matmul_precision("bfloat16")


def test_backends_command_says_when_bfloat16_is_emulated(cpp_bf16_available):
    from fastmlp import _cpp

    note = "bfloat16 matmuls are emulated on this CPU (ISA path generic"
    r = run_cli("backends", env={"FASTMLP_ISA": "generic"})
    assert r.returncode == 0, r.stderr
    assert note in r.stdout
    r = run_cli("backends")  # at the best ISA path (run_cli drops FASTMLP_ISA)
    assert r.returncode == 0, r.stderr
    best = next(isa for isa in ("avx512", "avx2", "generic") if _cpp.cpu_supports(isa))
    with configured("cpp", None, best):
        emulated = _cpp.bf16_matmul_engine() == "emulated"
    assert ("bfloat16 matmuls are emulated" in r.stdout) == emulated


# -- 4. the registry -----------------------------------------------------------------------
def test_default_is_float32_and_names_are_checked():
    assert MATMUL_PRECISIONS == ("float32", "bfloat16")
    assert fastmlp.get_matmul_precision() == "float32"
    for bad in ("float16", "bf16", "", None, 16):
        with pytest.raises(ValueError, match="one of float32, bfloat16"):
            fastmlp.set_matmul_precision(bad)
        with pytest.raises(ValueError, match="one of float32, bfloat16"):
            backends.get_backend("numpy").set_matmul_precision(bad)
    assert fastmlp.get_matmul_precision() == "float32"
    assert fastmlp.set_matmul_precision is backends.set_matmul_precision
    assert fastmlp.get_matmul_precision is backends.get_matmul_precision
    assert {"set_matmul_precision", "get_matmul_precision"} <= set(fastmlp.__all__)


def test_env_variable_is_read_lazily(monkeypatch):
    monkeypatch.setattr(backends, "_matmul_precision", None)
    monkeypatch.setenv("FASTMLP_MATMUL_PRECISION", " BFloat16 ")
    assert backends.get_matmul_precision() == "bfloat16"
    monkeypatch.setattr(backends, "_matmul_precision", None)
    monkeypatch.setenv("FASTMLP_MATMUL_PRECISION", "")
    assert backends.get_matmul_precision() == "float32"
    monkeypatch.setattr(backends, "_matmul_precision", None)
    monkeypatch.setenv("FASTMLP_MATMUL_PRECISION", "half")
    with pytest.raises(ValueError, match="FASTMLP_MATMUL_PRECISION must be one of "
                                         "float32, bfloat16; got 'half'"):
        backends.get_matmul_precision()


def test_env_variable_reaches_backends_loaded_later():
    code = ("import fastmlp\n"
            "print(fastmlp.get_matmul_precision())\n"
            "for name in ('numpy', 'numba', 'cpp'):\n"
            "    be = fastmlp.get_backend(name)\n"
            "    print(name, be.matmul_precision, 'matmul=' + be.matmul_precision in be.details())\n")
    r = _run(code, FASTMLP_MATMUL_PRECISION="bfloat16")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "bfloat16"
    assert lines[1] == "numpy bfloat16 True"
    assert lines[2] == "numba float32 True"  # float32 only, quietly
    assert lines[3] == f"cpp {'bfloat16' if CPP_BF16 else 'float32'} True"


def test_bad_env_variable_is_an_error_when_a_backend_loads():
    r = _run("import fastmlp; fastmlp.get_backend()", FASTMLP_MATMUL_PRECISION="fp8")
    assert r.returncode != 0
    assert "FASTMLP_MATMUL_PRECISION must be one of float32, bfloat16; got 'fp8'" in r.stderr


def test_registry_pushes_to_backends_that_offer_the_precision():
    loaded = backends.available_backends()
    with matmul_precision("bfloat16"):
        assert fastmlp.get_matmul_precision() == "bfloat16"
        assert backends.get_backend("numpy").matmul_precision == "bfloat16"
        if loaded.get("numba"):
            assert backends.get_backend("numba").matmul_precision == "float32"
        if CPP_BF16:
            assert backends.get_backend("cpp").matmul_precision == "bfloat16"
        for name, ok in loaded.items():
            if ok:
                be = backends.get_backend(name)
                assert f"matmul={be.matmul_precision}" in be.details()
    for name, ok in loaded.items():
        if ok:
            assert backends.get_backend(name).matmul_precision == "float32"
            assert "matmul=float32" in backends.get_backend(name).details()


def test_numba_refuses_bfloat16_itself():
    if not backends.available_backends().get("numba"):
        pytest.skip("numba does not load")
    numba_be = backends.get_backend("numba")
    assert numba_be.matmul_precisions == ("float32",)
    offered = "cpp, numpy" if CPP_BF16 else "numpy"
    with pytest.raises(ValueError) as info:
        numba_be.set_matmul_precision("bfloat16")
    assert str(info.value) == ("backend 'numba' computes float32 matmuls in float32 only; "
                               f"bfloat16 matmuls are in backends: {offered}")
    assert numba_be.matmul_precision == "float32"
    numba_be.set_matmul_precision("float32")  # always fine


def test_backends_with_their_own_gemm_offer_float32_unless_they_say_otherwise():
    class OwnGemm(Backend):
        name = "own-gemm"
        native_dtypes = (np.dtype(F32),)

        def _gemm(self, a, b, out, trans_a, trans_b, alpha, beta):
            raise AssertionError("not called")

    class OwnBiasGrad(Backend):
        name = "own-bias-grad"

        def _bias_grad(self, grad, out):
            out[...] = 0

    class Declared(OwnGemm):
        matmul_precisions = ("float32", "bfloat16")

    assert OwnGemm.matmul_precisions == ("float32",)
    assert OwnBiasGrad.matmul_precisions == ("float32", "bfloat16")
    assert Declared.matmul_precisions == ("float32", "bfloat16")
    with pytest.raises(ValueError, match="backend 'own-gemm' computes float32 matmuls in "
                                         "float32 only"):
        OwnGemm().set_matmul_precision("bfloat16")
    # a backend without a GEMM of its own runs the oracle's, so it follows the setting
    be = OwnBiasGrad()
    be.set_matmul_precision("bfloat16")
    a = np.full((2, 2), 1 + 2 ** -7 + 2 ** -9, F32)  # rounds to 1 + 2**-7
    out = be.gemm(a, np.eye(2, dtype=F32), np.empty((2, 2), F32))
    assert np.all(out == F32(1 + 2 ** -7))


# -- 5. the CLI -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist-small")
    _small_dataset(folder, n_train=200, n_test=50)
    return folder


def test_cli_refuses_bfloat16_on_numba(tiny_data):
    r = run_cli("train", "--data-dir", str(tiny_data), "--sizes", "784,8,10", "--epochs", "1",
                "--backend", "numba", "--matmul-precision", "bfloat16", "--no-progress")
    assert r.returncode == 2
    assert "fastmlp train: error: backend 'numba' computes float32 matmuls in float32 only" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_rejects_unknown_precisions_and_has_none_for_gradcheck(tiny_data):
    r = run_cli("train", "--data-dir", str(tiny_data), "--matmul-precision", "float16")
    assert r.returncode == 2 and "invalid choice: 'float16'" in r.stderr
    r = run_cli("gradcheck", "--matmul-precision", "bfloat16")
    assert r.returncode == 2 and "unrecognized arguments: --matmul-precision" in r.stderr
    r = run_cli("train", "--data-dir", str(tiny_data), "--epochs", "1",
                env={"FASTMLP_MATMUL_PRECISION": "fp8"})
    assert r.returncode == 2
    assert "FASTMLP_MATMUL_PRECISION must be one of float32, bfloat16; got 'fp8'" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_train_and_eval_with_bfloat16_on_cpp(cpp_bf16_available, tiny_data, tmp_path):
    model = tmp_path / "m.npz"
    r = run_cli("train", "--data-dir", str(tiny_data), "--sizes", "784,32,10", "--epochs", "2",
                "--batch-size", "16", "--backend", "cpp", "--threads", "1", "--no-progress",
                "--matmul-precision", "bfloat16", "--save", str(model))
    assert r.returncode == 0, r.stderr
    header = r.stdout.splitlines()[0]
    assert "backend='cpp'" in header and "matmul=bfloat16" in header
    assert len([line for line in r.stdout.splitlines() if line.startswith("epoch")]) == 2
    r = run_cli("eval", str(model), "--data-dir", str(tiny_data), "--backend", "cpp",
                "--matmul-precision", "bfloat16")
    assert r.returncode == 0, r.stderr
    assert "matmul=bfloat16" in r.stdout and "test accuracy" in r.stdout


def test_cli_header_shows_float32_by_default_and_backends_lists_precisions(tiny_data):
    r = run_cli("train", "--data-dir", str(tiny_data), "--sizes", "784,8,10", "--epochs", "1",
                "--backend", "numpy", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "matmul=float32" in r.stdout.splitlines()[0]
    r = run_cli("backends", env={"FASTMLP_MATMUL_PRECISION": "bfloat16"})
    assert r.returncode == 0, r.stderr
    lines = {line.split(":")[0].split()[0]: line for line in r.stdout.splitlines()
             if ": loads" in line}
    assert "matmul=bfloat16" in lines["numpy"]
    assert "matmul=float32" in lines["numba"]
    assert f"matmul={'bfloat16' if CPP_BF16 else 'float32'}" in lines["cpp"]


# -- 6. training quality ------------------------------------------------------------------------
def test_cpp_bfloat16_learns_mnist_in_a_few_epochs(cpp_bf16_available, bf16, mnist):
    """test_training's recipe and bar, with bfloat16 matmuls on cpp."""
    x, y, xt, yt = mnist
    model = fastmlp.MLP([784, 256, 10], seed=0, backend="cpp")
    assert model.backend.matmul_precision == "bfloat16"
    history = fastmlp.train(model, x, y, xt, yt, epochs=3, batch_size=64, lr=1e-3, seed=0,
                            progress=False)
    assert history.test_accuracy[-1] >= 0.97
    assert history.loss[0] > history.loss[-1]
    assert model.params.dtype == F32  # master weights stay float32
