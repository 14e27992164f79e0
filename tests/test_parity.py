"""Every kernel of every backend configuration against the NumPy oracle.

Shapes cover tiny and batch-1 cases, sizes that are multiples of no block or vector
width (7, 13, 17, 33, 129, ...), and the realistic shapes of the seed recipe.

Tolerances (float32, eps = 2**-23), from the standard error bounds, not tuned:
- GEMM: each of the two results is within K*eps*(|op(a)| @ |op(b)|) of the exact product
  (Higham, recursive summation in any order), so they differ by at most twice that.
  The same bound, with K+1 terms, holds for x @ w.T + b in dense_forward; the activations
  are 1-Lipschitz, and add a few ulps of their own (8*eps*|out| covers them).
- Column sums (bias_grad) of N terms: 2*N*eps*sum|g|.
- Elementwise kernels (activation_backward, adam_step) do a handful of roundings per
  element: 8 ulps of the magnitudes involved.
- softmax cross-entropy: a row's exp-sum has C terms; probabilities and the loss carry
  (C + 8) * eps relative error per backend, so twice that between two backends.
- forward_backward composes these over the layers: norm-wise, each layer's GEMM bound
  K_l*eps accumulates, so the relative error of each gradient is below 2*sum(K_l)*eps.
"""
from __future__ import annotations

import numpy as np
import pytest

import flat_calls
from fastmlp.backends.numpy.activations import apply_activation

EPS32 = float(np.finfo(np.float32).eps)
ACTIVATIONS = ["identity", "relu", "leaky_relu", "sigmoid", "tanh"]


def _rand(rng, shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def _op(x, trans):
    return x.T if trans else x


# -- gemm ----------------------------------------------------------------------------
GEMM_SHAPES = [(1, 1, 1), (1, 7, 3), (7, 1, 5), (3, 5, 1), (5, 6, 0), (17, 33, 29),
               (13, 31, 64), (64, 10, 128), (129, 65, 257), (128, 1024, 784),
               (1024, 784, 128)]


@pytest.mark.parametrize("m,n,k", GEMM_SHAPES, ids=[f"{m}x{n}x{k}" for m, n, k in GEMM_SHAPES])
@pytest.mark.parametrize("trans_a", [False, True], ids=["N", "T"])
@pytest.mark.parametrize("trans_b", [False, True], ids=["N", "T"])
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (0.5, 2.0), (-1.0, 1.0)])
def test_gemm(any_backend, oracle, rng, m, n, k, trans_a, trans_b, alpha, beta):
    a = _rand(rng, (k, m) if trans_a else (m, k))
    b = _rand(rng, (n, k) if trans_b else (k, n))
    c0 = _rand(rng, (m, n))
    if beta == 0.0:
        c0[...] = np.nan  # with beta == 0, out must not be read (BLAS convention)
    got, want = c0.copy(), c0.copy()
    any_backend.gemm(a, b, got, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta)
    oracle.gemm(a, b, want, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta)
    bound = abs(alpha) * (np.abs(_op(a, trans_a)).astype(np.float64)
                          @ np.abs(_op(b, trans_b)).astype(np.float64))
    c_abs = 0.0 if beta == 0.0 else np.abs(beta * c0.astype(np.float64))
    tol = 2 * (k + 2) * EPS32 * (bound + c_abs) + 1e-30
    assert np.all(np.isfinite(got))
    assert np.all(np.abs(got.astype(np.float64) - want) <= tol)


# -- dense_forward -------------------------------------------------------------------
DENSE_SHAPES = [(1, 1, 1), (1, 784, 10), (7, 13, 5), (33, 17, 65), (64, 784, 128),
                (128, 784, 1024), (128, 512, 10)]


@pytest.mark.parametrize("n,k,f", DENSE_SHAPES, ids=[f"{n}x{k}x{f}" for n, k, f in DENSE_SHAPES])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("with_pre", [False, True], ids=["nopre", "pre"])
def test_dense_forward(any_backend, oracle, rng, n, k, f, activation, with_pre):
    x = _rand(rng, (n, k))
    w = _rand(rng, (f, k), scale=1 / np.sqrt(k))
    b = _rand(rng, (f,))
    got, want = np.full((n, f), np.nan, np.float32), np.full((n, f), np.nan, np.float32)
    got_pre = np.full((n, f), np.nan, np.float32) if with_pre else None
    want_pre = np.empty((n, f), np.float32)
    any_backend.dense_forward(x, w, b, got, activation, pre=got_pre)
    oracle.dense_forward(x, w, b, want, activation, pre=want_pre)
    bound = np.abs(x).astype(np.float64) @ np.abs(w).T.astype(np.float64) + np.abs(b)
    tol_pre = 2 * (k + 2) * EPS32 * bound
    if with_pre:
        assert np.all(np.abs(got_pre.astype(np.float64) - want_pre) <= tol_pre)
    tol = tol_pre + 8 * EPS32 * np.abs(want) + 1e-30
    assert np.all(np.abs(got.astype(np.float64) - want) <= tol)


# -- elementwise and reductions ------------------------------------------------------
ROW_SHAPES = [(1, 1), (1, 10), (7, 13), (33, 65), (64, 128), (128, 1024)]
ROW_IDS = [f"{n}x{f}" for n, f in ROW_SHAPES]


# sigmoid and tanh derivatives are defined from out_act only; relu-like ones also from pre
BACKWARD_CASES = [(act, src) for act in ACTIVATIONS for src in ("out_act", "pre", "inplace")
                  if not (src == "pre" and act in ("sigmoid", "tanh"))]


@pytest.mark.parametrize("n,f", ROW_SHAPES, ids=ROW_IDS)
@pytest.mark.parametrize("activation,source", BACKWARD_CASES,
                         ids=[f"{a}-{s}" for a, s in BACKWARD_CASES])
def test_activation_backward(any_backend, oracle, rng, n, f, activation, source):
    pre = _rand(rng, (n, f), scale=3.0)
    out_act = apply_activation(activation, pre, np.empty_like(pre))
    grad = _rand(rng, (n, f))
    args = (out_act, None) if source != "pre" else (None, pre)
    want = np.empty_like(grad)
    oracle.activation_backward(activation, grad, *args, want)
    if source == "inplace":
        got = grad.copy()
        any_backend.activation_backward(activation, got, *args, got)
    else:
        got = np.full_like(grad, np.nan)
        any_backend.activation_backward(activation, grad, *args, got)
    assert np.all(np.abs(got - want) <= 8 * EPS32 * np.abs(grad))


@pytest.mark.parametrize("n,f", ROW_SHAPES, ids=ROW_IDS)
def test_bias_grad(any_backend, oracle, rng, n, f):
    g = _rand(rng, (n, f))
    got, want = np.full(f, np.nan, np.float32), np.empty(f, np.float32)
    any_backend.bias_grad(g, got)
    oracle.bias_grad(g, want)
    tol = 2 * n * EPS32 * np.abs(g).astype(np.float64).sum(axis=0)
    assert np.all(np.abs(got.astype(np.float64) - want) <= tol)


@pytest.mark.parametrize("n,c", [(1, 1), (1, 10), (7, 3), (64, 10), (128, 10), (33, 129)])
@pytest.mark.parametrize("scale", [1.0, 30.0], ids=["normal", "large-logits"])
def test_softmax_cross_entropy(any_backend, oracle, rng, n, c, scale):
    logits = _rand(rng, (n, c), scale=scale)
    labels = rng.integers(0, c, n).astype(np.int64)
    got, want = np.full((n, c), np.nan, np.float32), np.empty((n, c), np.float32)
    loss = any_backend.softmax_cross_entropy(logits, labels, got)
    ref = oracle.softmax_cross_entropy(logits, labels, want)
    tol = 2 * (c + 8) * EPS32
    assert abs(loss - ref) <= tol * (1 + abs(ref) + scale)
    assert np.all(np.abs(got - want) <= tol * (1 + scale) / n)


@pytest.mark.parametrize("size", [1, 7, 1000, 33 * 65, 100_003])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adam_step(any_backend, oracle, rng, size, weight_decay):
    param = _rand(rng, size)
    grad = _rand(rng, size, scale=0.1)
    m, v = _rand(rng, size, scale=0.01), np.abs(_rand(rng, size, scale=1e-3))
    states = [(param.copy(), m.copy(), v.copy()) for _ in range(2)]
    for step in (1, 2, 10):
        for backend, (p, mm, vv) in zip((any_backend, oracle), states):
            backend.adam_step(p, grad, mm, vv, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                              step=step, weight_decay=weight_decay)
    (p1, m1, v1), (p0, m0, v0) = states
    # three steps of a few roundings each, on the magnitudes that enter them
    assert np.all(np.abs(m1 - m0) <= 24 * EPS32 * (np.abs(m) + np.abs(grad) + np.abs(param) * weight_decay))
    assert np.all(np.abs(v1 - v0) <= 24 * EPS32 * (v + (np.abs(grad) + np.abs(param) * weight_decay) ** 2))
    # each step moves a parameter by at most ~lr/(1-beta1) * |m/sqrt(v)|-ish; 1e-3 * 3 steps
    assert np.all(np.abs(p1 - p0) <= 24 * EPS32 * (np.abs(param) + 3e-3 * 10))


# -- a whole step -----------------------------------------------------------------------
NETS = [([5, 3], 1), ([7, 13, 5], 4), ([784, 128, 10], 64), ([784, 1024, 512, 10], 128),
        ([33, 17, 9, 3], 1)]


@pytest.mark.parametrize("sizes,n", NETS, ids=["-".join(map(str, s)) + f"@{n}" for s, n in NETS])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_forward_backward(any_backend, oracle, rng, sizes, n, activation):
    layers = list(zip(sizes[:-1], sizes[1:]))
    weights = [_rand(rng, (o, i), scale=np.sqrt(2 / i)) for i, o in layers]
    biases = [_rand(rng, (o,), scale=0.1) for _, o in layers]
    x = rng.random((n, sizes[0])).astype(np.float32)
    labels = rng.integers(0, sizes[-1], n).astype(np.int64)
    results = []
    for backend in (any_backend, oracle):
        wg = [np.full_like(w, np.nan) for w in weights]
        bg = [np.full_like(b, np.nan) for b in biases]
        acts = [np.full((n, o), np.nan, np.float32) for _, o in layers]
        grads = [np.full((n, o), np.nan, np.float32) for _, o in layers]
        loss = flat_calls.forward_backward(backend, x, labels, weights, biases, wg, bg, acts,
                                           grads, activation)
        results.append((loss, wg, bg, acts[-1]))
    (loss1, wg1, bg1, z1), (loss0, wg0, bg0, z0) = results
    rel = 2 * sum(sizes) * EPS32  # sum of the layers' K, plus the loss's C
    assert abs(loss1 - loss0) <= rel * (1 + abs(loss0))
    assert np.linalg.norm(z1 - z0) <= rel * (np.linalg.norm(z0) + 1e-30)
    for got, want in zip(wg1 + bg1, wg0 + bg0):
        assert np.all(np.isfinite(got))
        assert np.linalg.norm(got - want) <= rel * np.linalg.norm(want) + 1e-30


# -- float64 goes through the oracle on every backend -----------------------------------
def test_float64_falls_back_to_the_oracle(any_backend, oracle, rng):
    a, b = rng.standard_normal((9, 5)), rng.standard_normal((5, 4))
    got, want = np.empty((9, 4)), np.empty((9, 4))
    any_backend.gemm(a, b, got)
    oracle.gemm(a, b, want)
    np.testing.assert_array_equal(got, want)
    g, ref = np.empty((9, 4)), np.empty((9, 4))
    labels = np.arange(9, dtype=np.int64) % 4
    assert any_backend.softmax_cross_entropy(want, labels, g) == oracle.softmax_cross_entropy(want, labels, ref)
    np.testing.assert_array_equal(g, ref)


# -- layer, loss and optimizer kernels: activations, losses, dropout, batch norm, optimizers ---------------
# Same error model as above: a sum of K terms carries K*eps relative to the sum of the
# magnitudes; an elementwise formula a handful of roundings (8 ulps of what enters it).
@pytest.mark.parametrize("n,f", ROW_SHAPES, ids=ROW_IDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("inplace", [False, True], ids=["out", "inplace"])
def test_activation_forward(any_backend, oracle, rng, n, f, activation, inplace):
    x = _rand(rng, (n, f), scale=3.0)
    want = oracle.activation_forward(activation, x, np.empty_like(x))
    got = x.copy() if inplace else np.full_like(x, np.nan)
    any_backend.activation_forward(activation, got if inplace else x, got)
    assert np.all(np.abs(got - want) <= 8 * EPS32 * np.abs(want) + 1e-30)


@pytest.mark.parametrize("n,c", [(1, 2), (7, 3), (64, 10), (128, 10), (33, 129)])
def test_mse_loss(any_backend, oracle, rng, n, c):
    outputs = rng.random((n, c)).astype(np.float32)  # sigmoid outputs
    labels = rng.integers(0, c, n).astype(np.int64)
    got, want = np.full((n, c), np.nan, np.float32), np.empty((n, c), np.float32)
    loss = any_backend.mse_loss(outputs, labels, got)
    ref = oracle.mse_loss(outputs, labels, want)
    assert abs(loss - ref) <= 2 * (n * c + 8) * EPS32 * ref
    assert np.all(np.abs(got - want) <= 8 * EPS32 * np.abs(want) + 1e-30)


@pytest.mark.parametrize("n", [1, 7, 128, 1000])
@pytest.mark.parametrize("scale", [1.0, 40.0], ids=["normal", "large-logits"])
def test_sigmoid_binary_cross_entropy(any_backend, oracle, rng, n, scale):
    logits = _rand(rng, (n, 1), scale=scale)
    labels = rng.integers(0, 2, n).astype(np.int64)
    got, want = np.full((n, 1), np.nan, np.float32), np.empty((n, 1), np.float32)
    loss = any_backend.sigmoid_binary_cross_entropy(logits, labels, got)
    ref = oracle.sigmoid_binary_cross_entropy(logits, labels, want)
    assert np.isfinite(loss)
    assert abs(loss - ref) <= 2 * (n + 8) * EPS32 * (abs(ref) + scale)
    assert np.all(np.abs(got - want) <= 8 * EPS32 / n)


@pytest.mark.parametrize("n,f", ROW_SHAPES, ids=ROW_IDS)
@pytest.mark.parametrize("p", [0.0, 0.2, 0.5])
@pytest.mark.parametrize("inplace", [False, True], ids=["out", "inplace"])
def test_dropout(any_backend, oracle, rng, n, f, p, inplace):
    x = _rand(rng, (n, f))
    noise = rng.random((n, f), dtype=np.float32)
    want = oracle.dropout(x, noise, p, np.empty_like(x))
    got = x.copy() if inplace else np.full_like(x, np.nan)
    any_backend.dropout(got if inplace else x, noise, p, got)
    np.testing.assert_array_equal(got == 0, want == 0)  # the same units dropped, exactly
    assert np.all(np.abs(got - want) <= 2 * EPS32 * np.abs(want))


BN_SHAPES = [(2, 1), (7, 13), (33, 65), (128, 1024)]
BN_IDS = [f"{n}x{f}" for n, f in BN_SHAPES]


def _bn_inputs(rng, n, f):
    x = _rand(rng, (n, f), scale=2.0) + _rand(rng, f)  # per-feature offsets of the scale of x
    return x, _rand(rng, f) + 1, _rand(rng, f)


@pytest.mark.parametrize("n,f", BN_SHAPES, ids=BN_IDS)
def test_batch_norm_forward(any_backend, oracle, rng, n, f):
    x, gamma, beta = _bn_inputs(rng, n, f)
    rm0, rv0 = _rand(rng, f), np.abs(_rand(rng, f)) + 0.5
    results = []
    for backend in (any_backend, oracle):
        out, mean, invstd = (np.full((n, f), np.nan, np.float32), np.full(f, np.nan, np.float32),
                             np.full(f, np.nan, np.float32))
        rm, rv = rm0.copy(), rv0.copy()
        backend.batch_norm_forward(x, gamma, beta, out, mean, invstd, rm, rv, 0.1, 1e-5)
        results.append((out, mean, invstd, rm, rv))
    (out1, m1, s1, rm1, rv1), (out0, m0, s0, rm0_, rv0_) = results
    tol = 4 * (n + 8) * EPS32
    scale_x = np.abs(x).max(axis=0)  # the magnitudes the mean and variance sum
    assert np.all(np.abs(m1 - m0) <= tol * scale_x)
    assert np.all(np.abs(s1 - s0) <= tol * s0 * (1 + scale_x * s0))
    xhat_scale = (np.abs(x) + scale_x) * s0
    assert np.all(np.abs(out1 - out0) <= tol * (np.abs(gamma) * (1 + xhat_scale) + np.abs(beta)))
    assert np.all(np.abs(rm1 - rm0_) <= tol * (np.abs(rm0) + scale_x))
    assert np.all(np.abs(rv1 - rv0_) <= tol * (rv0 + scale_x ** 2))


@pytest.mark.parametrize("n,f", ROW_SHAPES, ids=ROW_IDS)
def test_batch_norm_inference(any_backend, oracle, rng, n, f):
    x, gamma, beta = _bn_inputs(rng, n, f)
    rm, rv = _rand(rng, f), np.abs(_rand(rng, f)) + 0.5
    got, want = np.full((n, f), np.nan, np.float32), np.empty((n, f), np.float32)
    any_backend.batch_norm_inference(x, gamma, beta, rm, rv, got, 1e-5)
    oracle.batch_norm_inference(x, gamma, beta, rm, rv, want, 1e-5)
    scale = np.abs(gamma) / np.sqrt(rv + 1e-5)
    assert np.all(np.abs(got - want) <= 8 * EPS32 * (scale * (np.abs(x) + np.abs(rm)) + np.abs(beta)))


@pytest.mark.parametrize("n,f", BN_SHAPES, ids=BN_IDS)
@pytest.mark.parametrize("inplace", [False, True], ids=["out", "inplace"])
def test_batch_norm_backward(any_backend, oracle, rng, n, f, inplace):
    x, gamma, _ = _bn_inputs(rng, n, f)
    mean = x.mean(axis=0)
    invstd = (1 / np.sqrt(x.var(axis=0) + 1e-5)).astype(np.float32)
    grad = _rand(rng, (n, f))
    results = []
    for backend in (any_backend, oracle):
        gg, gb = np.full(f, np.nan, np.float32), np.full(f, np.nan, np.float32)
        g = grad.copy()
        gx = g if inplace else np.full_like(g, np.nan)
        backend.batch_norm_backward(g, x, gamma, mean, invstd, gx, gg, gb)
        results.append((gx, gg, gb))
    (gx1, gg1, gb1), (gx0, gg0, gb0) = results
    xhat = np.abs((x - mean) * invstd).astype(np.float64)
    tol = 4 * (n + 8) * EPS32
    assert np.all(np.abs(gb1 - gb0) <= tol * np.abs(grad).sum(axis=0))
    assert np.all(np.abs(gg1 - gg0) <= tol * (np.abs(grad) * (xhat + 1)).sum(axis=0))
    g_mean = np.abs(grad).mean(axis=0)
    bound = np.abs(gamma) * invstd * (np.abs(grad) + g_mean + (xhat + 1) * g_mean * (xhat.max(axis=0) + 1))
    assert np.all(np.abs(gx1 - gx0) <= tol * bound)


OPTIMIZER_STEPS = {
    "sgd": lambda be, p, g, s, wd: be.sgd_step(p, g, None, 0.1, weight_decay=wd),
    "sgd-momentum": lambda be, p, g, s, wd: be.sgd_step(p, g, s[0], 0.1, 0.9, False, wd),
    "sgd-nesterov": lambda be, p, g, s, wd: be.sgd_step(p, g, s[0], 0.1, 0.9, True, wd),
    "rmsprop": lambda be, p, g, s, wd: be.rmsprop_step(p, g, s[0], None, 1e-2, 0.99, 1e-8, 0.0, wd),
    "rmsprop-momentum": lambda be, p, g, s, wd: be.rmsprop_step(p, g, s[0], s[1], 1e-2, 0.9, 1e-8, 0.5, wd),
    "adamw": lambda be, p, g, s, wd: be.adamw_step(p, g, s[0], s[1], 1e-3, 0.9, 0.999, 1e-8, s[2], wd),
}


@pytest.mark.parametrize("size", [1, 7, 1000, 33 * 65, 100_003])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("rule", list(OPTIMIZER_STEPS))
def test_optimizer_steps(any_backend, oracle, rng, size, weight_decay, rule):
    param, grad = _rand(rng, size), _rand(rng, size, scale=0.1)
    states = []
    for backend in (any_backend, oracle):
        p, state = param.copy(), [np.zeros(size, np.float32), np.zeros(size, np.float32)]
        for step in (1, 2, 3):
            OPTIMIZER_STEPS[rule](backend, p, grad, state + [step], weight_decay)
        states.append((p, state))
    (p1, s1), (p0, s0) = states
    # three steps of a few roundings each; momentum sums carry at most 1/(1-0.9) = 10 steps'
    # worth of |grad| and normalized steps move by about lr each
    move = 3 * (0.1 * 10 * (np.abs(grad) + weight_decay * np.abs(param)) + 1e-2 * 10)
    assert np.all(np.abs(p1 - p0) <= 24 * EPS32 * (np.abs(param) + move))
    for a, b in zip(s1, s0):
        assert np.all(np.abs(a - b) <= 24 * EPS32 * (np.abs(b) + 10 * (np.abs(grad) + np.abs(param))))
