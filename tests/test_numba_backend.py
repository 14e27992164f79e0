"""The numba backend's own kernels: GEMM blocking edges, thread-count independence,
argument checking. (tests/test_parity.py runs every kernel against the NumPy oracle.)"""
from __future__ import annotations

import numpy as np
import pytest

from fastmlp import backends
from fastmlp.backends.numba.blocking import detected_caches, max_depth
from fastmlp.backends.numba.simd import MR, NR

pytestmark = pytest.mark.skipif(not backends.available_backends().get("numba"),
                                reason="numba backend does not load")

EPS32 = float(np.finfo(np.float32).eps)
KC = max_depth(detected_caches(), MR)  # the deepest k slice on this machine


@pytest.fixture
def numba_backend():
    backend = backends.get_backend("numba")
    before = backends.get_num_threads()
    yield backend
    backends.set_num_threads(before or 2)


def _rand(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


def _gemm_case(rng, m, n, k, trans_a, trans_b):
    a = _rand(rng, (k, m) if trans_a else (m, k))
    b = _rand(rng, (n, k) if trans_b else (k, n))
    return a, b, (a.T if trans_a else a), (b.T if trans_b else b)


# Sizes around the microkernel tile (MR x NR), several tiles, and a k slice (KC), so
# every partial tile, uneven task split and multi-slice path runs.
RC = 4 * MR
EDGE = sorted({1, 7, 17, 33, 129, MR - 1, MR + 1, NR + 1, RC + 1})
SHAPES = ([(m, n, k) for m in EDGE for n in (1, 17, NR + 1, 129) for k in (0, 1, 33)]
          + [(7, 129, KC + 33), (RC + 1, 17, 2 * KC + 1), (129, 130, 129)])


@pytest.mark.parametrize("m,n,k", SHAPES, ids=[f"{m}x{n}x{k}" for m, n, k in SHAPES])
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (False, True), (True, False),
                                             (True, True)], ids=["NN", "NT", "TN", "TT"])
def test_gemm_edge_shapes(numba_backend, m, n, k, trans_a, trans_b):
    rng = np.random.default_rng(m * 10007 + n * 101 + k)
    a, b, opa, opb = _gemm_case(rng, m, n, k, trans_a, trans_b)
    c0 = _rand(rng, (m, n))
    got = c0.copy()
    numba_backend.gemm(a, b, got, trans_a=trans_a, trans_b=trans_b, alpha=-0.5, beta=1.5)
    want = -0.5 * (opa.astype(np.float64) @ opb) + 1.5 * c0.astype(np.float64)
    # float32 recursive summation of k products (in any order, FMA or not) is within
    # k*eps*(|op(a)| @ |op(b)|) of the exact result (Higham, Thm 3.5); alpha, beta and the
    # final add contribute two more roundings of |alpha|*that + |beta * c0|.
    bound = 0.5 * (np.abs(opa).astype(np.float64) @ np.abs(opb)) + np.abs(1.5 * c0)
    assert np.all(np.abs(got - want) <= (k + 2) * EPS32 * bound + 1e-30)


# (L1d, L2) bytes of real and made-up CPUs: the blocking (blocking.py) follows them, so
# these run the GEMM with very different slice depths, block sizes, in-place choices and
# thread splits; (0, 0) is a CPU that reports none (the defaults)
CACHES = {"zen5": (48 << 10, 1 << 20), "zen3": (32 << 10, 512 << 10),
          "tiny": (4 << 10, 16 << 10), "huge": (1 << 20, 64 << 20), "unknown": (0, 0)}
BLOCKING_SHAPES = [(1, 300, 70), (13, 40, 100), (150, 77, 5), (129, 130, 129), (70, 200, 300),
                   (300, 45, 64)]


@pytest.mark.parametrize("cpu", list(CACHES))
@pytest.mark.parametrize("depth", [0, 1, 64, 130])  # 0: full-depth slices
def test_blocking_is_the_cpp_rule(cpu, depth):
    """numba's blocking (blocking.py) follows the cpp backend's rule (csrc/gemm/blocking.h,
    whose properties test_gemm_blocking.py checks) for any caches and slice depth."""
    from fastmlp.backends.numba import blocking
    _cpp = pytest.importorskip("fastmlp._cpp")
    l1, l2 = CACHES[cpu]
    want = _cpp.derive_gemm_blocking(l1, l2, 0, MR, NR, 4, 1, depth)
    kc = blocking.max_depth((l1, l2), MR)
    mc, nc = blocking.block_sizes((l1, l2), MR, NR, min(depth, kc) if depth else kc)
    assert (kc, mc, nc) == (want["kc"], want["mc"], want["nc"])
    assert blocking.in_place_b_bytes((l1, l2)) == want["in_place_b_bytes"]
    assert blocking.macs_per_thread((l1, l2)) == want["macs_per_thread"]
    assert blocking.slice_depth(0, (l1, l2), MR) == 1  # one empty slice
    for k in (1, 31, kc, kc + 1, 3 * kc + 5):  # equal slices of at most kc, as cpp cuts k
        depth_k = blocking.slice_depth(k, (l1, l2), MR)
        slices = -(-k // depth_k)
        assert depth_k <= kc and slices == -(-k // kc) and (slices - 1) * depth_k < k


@pytest.fixture(params=list(CACHES), ids=list(CACHES))
def caches(request, monkeypatch):
    """The numba backend blocking for the caches of CACHES[param]."""
    from fastmlp.backends.numba import backend as numba_module
    monkeypatch.setattr(numba_module, "_caches", CACHES[request.param])
    return CACHES[request.param]


@pytest.mark.parametrize("m,n,k", BLOCKING_SHAPES, ids=[f"{m}x{n}x{k}" for m, n, k in BLOCKING_SHAPES])
def test_gemm_and_dense_forward_under_any_blocking(numba_backend, caches, m, n, k):
    """Within the error bound of test_gemm_edge_shapes for every transpose, and bitwise the
    same at 1 and 2 threads; dense_forward's bias, activation and pre-activation too."""
    rng = np.random.default_rng(m + n + k)
    for trans_a, trans_b in [(False, False), (False, True), (True, False), (True, True)]:
        a, b, opa, opb = _gemm_case(rng, m, n, k, trans_a, trans_b)
        c0 = _rand(rng, (m, n))
        runs = []
        for threads in (1, 2):
            backends.set_num_threads(threads)
            got = c0.copy()
            numba_backend.gemm(a, b, got, trans_a=trans_a, trans_b=trans_b, alpha=-0.5,
                               beta=1.5)
            runs.append(got)
        np.testing.assert_array_equal(runs[0], runs[1])
        want = -0.5 * (opa.astype(np.float64) @ opb) + 1.5 * c0.astype(np.float64)
        bound = 0.5 * (np.abs(opa).astype(np.float64) @ np.abs(opb)) + np.abs(1.5 * c0)
        assert np.all(np.abs(runs[0] - want) <= (k + 2) * EPS32 * bound + 1e-30)
    x, w, bias = _rand(rng, (m, k)), _rand(rng, (n, k)), _rand(rng, n)
    oracle = backends.get_backend("numpy")
    for activation in ("relu", "tanh"):
        pre, out = np.empty((m, n), np.float32), np.empty((m, n), np.float32)
        numba_backend.dense_forward(x, w, bias, out, activation, pre)
        want_pre = x.astype(np.float64) @ w.T + bias
        bound = np.abs(x).astype(np.float64) @ np.abs(w).T + np.abs(bias)
        assert np.all(np.abs(pre - want_pre) <= (k + 1) * EPS32 * bound + 1e-30)
        # the activation of the stored pre-activation, as the oracle computes it
        np.testing.assert_allclose(out, oracle.activation_forward(activation, pre,
                                                                  np.empty_like(pre)),
                                   rtol=2 * EPS32, atol=0)


@pytest.mark.parametrize("k", [0, 5, KC + 1])
def test_gemm_beta_zero_never_reads_out(numba_backend, k):
    rng = np.random.default_rng(k)
    a, b, opa, opb = _gemm_case(rng, 19, 37, k, False, True)
    out = np.full((19, 37), np.nan, np.float32)
    numba_backend.gemm(a, b, out, trans_b=True)
    assert np.all(np.isfinite(out))
    if k == 0:
        assert np.all(out == 0)


def _run_all_kernels(backend, rng):
    """Every native kernel once, at shapes that split into several parallel tasks."""
    n, k, f = 133, KC + 77, 2 * RC + 5
    x, w, b = _rand(rng, (n, k)), _rand(rng, (f, k)), _rand(rng, f)
    pre, out = np.empty((n, f), np.float32), np.empty((n, f), np.float32)
    backend.dense_forward(x, w, b, out, "tanh", pre)
    grad = _rand(rng, (n, f))
    backend.activation_backward("tanh", grad, out, None, grad)
    dw, db = np.empty((f, k), np.float32), np.empty(f, np.float32)
    backend.gemm(grad, x, dw, trans_a=True)
    backend.bias_grad(grad, db)
    dx = np.empty((n, k), np.float32)
    backend.gemm(grad, w, dx)
    logits, labels = _rand(rng, (n, 10)), rng.integers(0, 10, n)
    dlogits = np.empty_like(logits)
    loss = backend.softmax_cross_entropy(logits, labels, dlogits)
    param, m, v = _rand(rng, 70001), np.zeros(70001, np.float32), np.zeros(70001, np.float32)
    backend.adam_step(param, _rand(rng, 70001), m, v, 1e-3, 0.9, 0.999, 1e-8, 1, 1e-4)
    return [pre, out, grad, dw, db, dx, dlogits, np.float64(loss), param, m, v]


def test_results_do_not_depend_on_the_thread_count(numba_backend):
    runs = []
    for threads in (1, 2, 1):
        backends.set_num_threads(threads)
        runs.append(_run_all_kernels(numba_backend, np.random.default_rng(7)))
    for other in runs[1:]:
        for got, want in zip(other, runs[0]):
            np.testing.assert_array_equal(got, want)  # bitwise, not approximately


def test_every_kernel_is_native(numba_backend):
    assert set(numba_backend.native_kernels()) >= {
        "gemm", "dense_forward", "activation_backward", "bias_grad",
        "softmax_cross_entropy", "adam_step", "forward_backward",
        # layers, losses, optimizers
        "activation_forward", "mse_loss", "sigmoid_binary_cross_entropy", "dropout",
        "batch_norm_forward", "batch_norm_inference", "batch_norm_backward", "sgd_step",
        "rmsprop_step", "adamw_step"}


@pytest.mark.parametrize("cache_name", ["zen5", "tiny"])  # tiny: k in several slices
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_native_step_runs_the_same_kernels_as_the_composed_one(numba_backend, activation,
                                                               cache_name, monkeypatch):
    """The one-call forward_backward gives the bits of the kernel-by-kernel sequence (its
    input-gradient GEMMs apply the activation derivative in their write-back, rounded as
    activation_backward does)."""
    from fastmlp.backends import NetworkState
    from fastmlp.backends.numba import backend as numba_module
    from fastmlp.backends.numpy import NumpyKernels
    monkeypatch.setattr(numba_module, "_caches", CACHES[cache_name])
    rng = np.random.default_rng(3)
    sizes, n = [67, 45, 29, 10], 37
    layers = list(zip(sizes[:-1], sizes[1:]))
    weights = [_rand(rng, (o, i)) * np.float32(0.2) for i, o in layers]
    biases = [_rand(rng, o) for _, o in layers]
    x, labels = _rand(rng, (n, sizes[0])), rng.integers(0, sizes[-1], n)
    runs = []
    for fb in (numba_backend._forward_backward, NumpyKernels._forward_backward.__get__(numba_backend)):
        wg = [np.empty_like(w) for w in weights]
        bg = [np.empty_like(b) for b in biases]
        acts = [np.empty((n, o), np.float32) for _, o in layers]
        grads = [np.empty((n, o), np.float32) for _, o in layers]
        state = NetworkState(weights, biases, wg, bg, acts, grads, activation, n)
        loss = fb(x, labels, state)
        runs.append([np.float64(loss)] + wg + bg + acts + grads)
    for got, want in zip(*runs):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("cache_name", ["zen5", "tiny"])  # tiny: every product in parallel
def test_adam_train_steps_is_the_per_step_sequence_at_any_thread_count(numba_backend, monkeypatch,
                                                                        cache_name):
    """The one-call chunk gives the bits of the per-step kernel calls (the composed NumPy
    sequence on this backend), at 1 and 2 threads alike: losses, correct counts, the
    parameters, Adam's state and the last step's gradients."""
    import fastmlp
    from fastmlp.backends.numba import backend as numba_module
    from fastmlp.backends.numpy import NumpyKernels
    monkeypatch.setattr(numba_module, "_caches", CACHES[cache_name])
    sizes, batch, rows = [150, 140, 60, 10], 48, 250  # 6 steps, the last of 10 rows
    rng = np.random.default_rng(4)
    x, y = _rand(rng, (rows, sizes[0])), rng.integers(0, sizes[-1], rows)
    order = rng.permutation(rows)
    steps = -(-rows // batch)
    runs = []
    for threads in (1, 2):
        backends.set_num_threads(threads)
        for chunk in (numba_backend._adam_train_steps,
                      NumpyKernels._adam_train_steps.__get__(numba_backend)):
            model = fastmlp.MLP(sizes, seed=2, backend="numba")
            m, v = np.zeros_like(model.params), np.zeros_like(model.params)
            state = model.network_state(batch, m=m, v=v,
                                        xb=np.empty((batch, sizes[0]), np.float32),
                                        yb=np.empty(batch, np.int64))
            losses, correct = np.empty(steps), np.empty(steps, np.int64)
            chunk(x, y, order, 0, steps, state, 5e-3, 0.9, 0.999, 1e-8, 3, 1e-4, losses, correct)
            runs.append([losses, correct, model.params.copy(), m, v, model.grads.copy()])
    for other in runs[1:]:
        for got, want in zip(other, runs[0]):
            np.testing.assert_array_equal(got, want)
    assert len(set(runs[0][1].tolist())) > 1  # the counts follow the steps


def test_bad_arguments_are_rejected_before_the_kernel_runs(numba_backend):
    rng = np.random.default_rng(0)
    a, b = _rand(rng, (4, 5)), _rand(rng, (5, 6))
    with pytest.raises(ValueError, match="inner dimensions"):
        numba_backend.gemm(a, b[:4].copy(), np.empty((4, 6), np.float32))
    with pytest.raises(ValueError, match="out must have shape"):
        numba_backend.gemm(a, b, np.empty((4, 7), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        numba_backend.gemm(a, np.asfortranarray(b), np.empty((4, 6), np.float32))
    with pytest.raises(TypeError, match="dtype"):
        numba_backend.gemm(a, b.astype(np.float64), np.empty((4, 6), np.float32))
    with pytest.raises(ValueError, match="overlap"):
        square = _rand(rng, (5, 5))
        numba_backend.gemm(a, square, square[:4])
    with pytest.raises(ValueError, match="labels must lie"):
        numba_backend.softmax_cross_entropy(_rand(rng, (3, 4)), np.array([0, 4, 1]),
                                            np.empty((3, 4), np.float32))
    with pytest.raises(ValueError, match="unknown activation"):
        numba_backend.dense_forward(a, _rand(rng, (3, 5)), _rand(rng, 3),
                                    np.empty((4, 3), np.float32), "gelu")


def test_float64_runs_the_numpy_code(numba_backend):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((9, 11)), rng.standard_normal((11, 3))
    out = np.empty((9, 3))
    numba_backend.gemm(a, b, out)
    np.testing.assert_allclose(out, a @ b, rtol=1e-12, atol=1e-12)


TINY = np.float32(1e-39)  # a float32 denormal (smallest normal is about 1.18e-38)


@pytest.fixture(params=[True, False], ids=["flush", "ieee"])
def flushing(request, numba_backend):
    """The numba backend with denormal flushing switched on or off; restored after."""
    before = numba_backend.flush_denormals()
    numba_backend.set_flush_denormals(request.param)
    yield request.param
    numba_backend.set_flush_denormals(before)


@pytest.mark.parametrize("threads", [1, 2])
def test_denormals_flushed_only_when_switched_on(numba_backend, flushing, threads):
    backends.set_num_threads(threads)
    n, f = 64, 1024  # several parallel tasks per kernel, so pool threads compute too
    x = np.full((n, 3), TINY, np.float32)
    w = np.ones((f, 3), np.float32)
    out = np.empty((n, f), np.float32)
    numba_backend.dense_forward(x, w, np.zeros(f, np.float32), out, "identity")
    grad = np.full((n, f), TINY, np.float32)
    back = np.empty_like(grad)
    half = np.full_like(grad, 0.5)
    numba_backend.activation_backward("tanh", grad, half, None, back)  # grad * 0.75
    db = np.empty(f, np.float32)
    numba_backend.bias_grad(grad, db)
    size = 70001
    param, m, v = np.ones(size, np.float32), np.zeros(size, np.float32), np.zeros(size, np.float32)
    numba_backend.adam_step(param, np.full(size, TINY, np.float32), m, v, 1e-3, 0.9, 0.999,
                            1e-8, 1)
    if flushing:  # denormal inputs read as zero, denormal results written as zero
        for result in (out, back, db, m):
            assert np.all(result == 0)
    else:  # exact gradual underflow
        np.testing.assert_array_equal(out, np.float32(3) * TINY)
        np.testing.assert_array_equal(back, TINY * np.float32(0.75))
        np.testing.assert_array_equal(db, np.float32(n) * TINY)
        np.testing.assert_array_equal(m, np.float32(0.1) * TINY)
    # the calling thread's MXCSR is restored: NumPy still produces denormals
    assert np.float32(1e-38) * np.float32(0.1) != 0


# -- layer, loss and optimizer kernels: activation forward, losses, dropout, batch norm, optimizers ---------
def _run_layer_loss_optimizer_kernels(backend, rng):
    """Every layer, loss and optimizer kernel once, at shapes that split into several parallel tasks
    (feature blocks of batch norm, element chunks), with uneven edges."""
    n, f, size = 131, 1029, 70001
    x = _rand(rng, (n, f)) * np.float32(3)
    results = []
    for act in ("relu", "leaky_relu", "sigmoid", "tanh"):
        results.append(backend.activation_forward(act, x, np.empty_like(x)))
    inplace = x.copy()
    results.append(backend.activation_forward("tanh", inplace, inplace))
    noise = rng.random((n, f), dtype=np.float32)
    results.append(backend.dropout(x, noise, 0.3, np.empty_like(x)))
    outputs, labels = rng.random((n, 10), dtype=np.float32), rng.integers(0, 10, n)
    grad = np.empty_like(outputs)
    results += [np.float64(backend.mse_loss(outputs, labels, grad)), grad]
    logits, bits = _rand(rng, (n, 1)), rng.integers(0, 2, n)
    grad = np.empty_like(logits)
    results += [np.float64(backend.sigmoid_binary_cross_entropy(logits, bits, grad)), grad]
    gamma, beta = _rand(rng, f), _rand(rng, f)
    out, mean, invstd = np.empty_like(x), np.empty(f, np.float32), np.empty(f, np.float32)
    rm, rv = _rand(rng, f), np.ones(f, np.float32)
    backend.batch_norm_forward(x, gamma, beta, out, mean, invstd, rm, rv, 0.1, 1e-5)
    results += [out, mean, invstd, rm, rv]
    results.append(backend.batch_norm_inference(x, gamma, beta, rm, rv, np.empty_like(x), 1e-5))
    g, gg, gb = _rand(rng, (n, f)), np.empty(f, np.float32), np.empty(f, np.float32)
    backend.batch_norm_backward(g, x, gamma, mean, invstd, g, gg, gb)  # in place
    results += [g, gg, gb]
    grad = _rand(rng, size)
    for kind in ("sgd", "nesterov", "rmsprop", "adamw"):
        p, s1, s2 = _rand(rng, size), np.zeros(size, np.float32), np.zeros(size, np.float32)
        for step in (1, 2):
            if kind == "sgd":
                backend.sgd_step(p, grad, s1, 0.1, 0.9, False, 1e-4)
            elif kind == "nesterov":
                backend.sgd_step(p, grad, s1, 0.1, 0.9, True, 0.0)
            elif kind == "rmsprop":
                backend.rmsprop_step(p, grad, s1, s2, 1e-2, 0.99, 1e-8, 0.5, 1e-4)
            else:
                backend.adamw_step(p, grad, s1, s2, 1e-3, 0.9, 0.999, 1e-8, step, 0.01)
        results += [p, s1, s2]
    return results


def test_layer_loss_optimizer_kernels_do_not_depend_on_the_thread_count(numba_backend):
    runs = []
    for threads in (1, 2, 1):
        backends.set_num_threads(threads)
        runs.append(_run_layer_loss_optimizer_kernels(numba_backend, np.random.default_rng(11)))
    for other in runs[1:]:
        assert len(other) == len(runs[0])
        for got, want in zip(other, runs[0]):
            np.testing.assert_array_equal(got, want)  # bitwise, not approximately


@pytest.mark.parametrize("p", [0.1, 0.7])  # float32(0.1) > 0.1, float32(0.7) < 0.7
def test_dropout_keeps_noise_equal_to_p_as_numpy_does(numba_backend, p):
    """NumPy compares float32 noise with float32(p): noise == float32(p) is kept even when
    float32(p) < p, and noise just below it dropped."""
    x = np.ones(5, np.float32)
    p32 = np.float32(p)
    noise = np.array([p32, np.nextafter(p32, np.float32(0)), np.nextafter(p32, np.float32(1)),
                      0, np.float32(0.99)], np.float32)
    got = numba_backend.dropout(x, noise, p, np.empty_like(x))
    want = backends.get_backend("numpy").dropout(x, noise, p, np.empty_like(x))
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got != 0, [True, False, True, False, True])


def test_layer_loss_optimizer_kernels_match_the_oracle_bitwise_where_no_libm_call_is_involved(numba_backend):
    """Dropout, batch norm, MSE and the optimizer steps round every operation like the
    NumPy code (only exp/tanh/log1p may differ by an ulp: libm versus NumPy's own)."""
    oracle = backends.get_backend("numpy")
    got = _run_layer_loss_optimizer_kernels(numba_backend, np.random.default_rng(5))
    want = _run_layer_loss_optimizer_kernels(oracle, np.random.default_rng(5))
    # 0-3 activations (0, 1 relu-like), 4 in-place tanh, 5 dropout, 6-7 MSE loss (a
    # float64 sum, NumPy's pairwise) and gradient, 8-9 BCE, then batch norm and optimizers
    exact = [0, 1, 5, 7] + list(range(10, len(want)))
    assert abs(got[6] - want[6]) <= 1e-12 * want[6]
    for i in exact:
        np.testing.assert_array_equal(got[i], want[i], err_msg=f"result {i}")


def test_layer_loss_optimizer_kernels_flush_denormals_only_when_switched_on(numba_backend, flushing):
    size = 70001
    tiny = np.full(size, TINY, np.float32)
    out = numba_backend.dropout(tiny, np.ones(size, np.float32), 0.0, np.empty_like(tiny))
    p, buf = np.ones(size, np.float32), np.zeros(size, np.float32)
    numba_backend.sgd_step(p, tiny, buf, 0.1, 0.5)
    if flushing:
        assert np.all(out == 0) and np.all(buf == 0)
    else:
        np.testing.assert_array_equal(out, tiny)
        np.testing.assert_array_equal(buf, tiny)
    assert np.float32(1e-38) * np.float32(0.1) != 0
