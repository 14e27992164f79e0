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

from fastmlp.backends.base import apply_activation

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
        loss = backend.forward_backward(x, labels, weights, biases, wg, bg, acts, grads,
                                        activation)
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
