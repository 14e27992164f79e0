"""Optimizer kernels and classes: hand-computed steps, torch.optim's rules written out, and
one fused kernel call per training step."""
import math

import numpy as np
import pytest

import fastmlp
from fastmlp.backends.numpy.backend import NumpyBackend
from fastmlp.optim import OPTIMIZERS, SGD, Adam, AdamW, RMSprop, make_optimizer

EPS32 = float(np.finfo(np.float32).eps)


# -- torch.optim's update rules, element by element, as its documentation writes them --------
def torch_sgd(p, grads, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    p, b = list(p), [None] * len(p)
    for t, grad in enumerate(grads, start=1):
        for i in range(len(p)):
            g = grad[i] + weight_decay * p[i]
            if momentum:
                b[i] = g if t == 1 else momentum * b[i] + g  # dampening 0
                g = g + momentum * b[i] if nesterov else b[i]
            p[i] -= lr * g
    return np.array(p)


def torch_rmsprop(p, grads, lr, alpha=0.99, eps=1e-8, momentum=0.0, weight_decay=0.0):
    p, v, b = list(p), [0.0] * len(p), [0.0] * len(p)
    for grad in grads:
        for i in range(len(p)):
            g = grad[i] + weight_decay * p[i]
            v[i] = alpha * v[i] + (1 - alpha) * g * g
            d = g / (math.sqrt(v[i]) + eps)
            if momentum:
                b[i] = momentum * b[i] + d
                d = b[i]
            p[i] -= lr * d
    return np.array(p)


def torch_adam(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    (b1, b2), p = betas, list(p)
    m, v = [0.0] * len(p), [0.0] * len(p)
    for t, grad in enumerate(grads, start=1):
        for i in range(len(p)):
            g = grad[i]
            if decoupled:
                p[i] *= 1 - lr * weight_decay
            else:
                g = g + weight_decay * p[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            m_hat, v_hat = m[i] / (1 - b1 ** t), v[i] / (1 - b2 ** t)
            p[i] -= lr * m_hat / (math.sqrt(v_hat) + eps)
    return np.array(p)


CASES = [
    ("sgd", dict(lr=0.1), torch_sgd),
    ("sgd", dict(lr=0.1, weight_decay=0.05), torch_sgd),
    ("sgd", dict(lr=0.1, momentum=0.9), torch_sgd),
    ("sgd", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01), torch_sgd),
    ("rmsprop", dict(lr=0.01), torch_rmsprop),
    ("rmsprop", dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1), torch_rmsprop),
    ("rmsprop", dict(lr=0.01, momentum=0.8), torch_rmsprop),
    ("adam", dict(lr=0.01, weight_decay=0.1), torch_adam),
    ("adamw", dict(lr=0.01, weight_decay=0.1), lambda p, g, **kw: torch_adam(p, g, decoupled=True, **kw)),
]
IDS = [f"{name}-" + "-".join(f"{k}={v}" for k, v in kw.items()) for name, kw, _ in CASES]


class _Model:
    """Just what an optimizer touches: flat params, grads and a backend."""

    def __init__(self, params, backend):
        self.params = params
        self.grads = np.zeros_like(params)
        self.backend = backend


def _run(name, kwargs, params, grads, backend):
    model = _Model(params.copy(), backend)
    opt = make_optimizer(name, model, **kwargs)
    for g in grads:
        model.grads[...] = g
        opt.step()
    return model.params


@pytest.mark.parametrize("name,kwargs,rule", CASES, ids=IDS)
def test_float64_steps_follow_the_torch_rules(name, kwargs, rule):
    rng = np.random.default_rng(1)
    p0 = rng.standard_normal(11)
    grads = [rng.standard_normal(11) for _ in range(5)]
    got = _run(name, kwargs, p0, grads, fastmlp.get_backend("numpy"))
    want = rule(p0, grads, **kwargs)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name,kwargs,rule", CASES, ids=IDS)
def test_float32_steps_on_every_backend_follow_the_torch_rules(any_backend, name, kwargs, rule):
    rng = np.random.default_rng(2)
    p0 = rng.standard_normal(1003).astype(np.float32)
    grads = [rng.standard_normal(1003).astype(np.float32) for _ in range(5)]
    got = _run(name, kwargs, p0, grads, any_backend)
    want = rule(p0.astype(np.float64), [g.astype(np.float64) for g in grads], **kwargs)
    # five steps of a few float32 roundings each, relative to the parameters' scale; the
    # normalized steps of rmsprop/adam move each parameter by about lr per step at most
    tol = 64 * EPS32 * (np.abs(want) + 5 * kwargs["lr"] * 10)
    assert np.all(np.abs(got - want) <= tol)


def test_sgd_momentum_by_hand():
    be = fastmlp.get_backend("numpy")
    p, buf = np.array([1.0]), np.zeros(1)
    be.sgd_step(p, np.array([0.5]), buf, lr=0.1, momentum=0.9)
    assert buf[0] == 0.5 and p[0] == pytest.approx(1.0 - 0.05, abs=1e-15)  # first step: buf = g
    be.sgd_step(p, np.array([0.5]), buf, lr=0.1, momentum=0.9)
    assert buf[0] == pytest.approx(0.9 * 0.5 + 0.5, abs=1e-15)
    assert p[0] == pytest.approx(0.95 - 0.1 * 0.95, abs=1e-15)
    # Nesterov looks ahead: the step is g + momentum * buf
    p, buf = np.array([1.0]), np.array([0.95])
    be.sgd_step(p, np.array([0.5]), buf, lr=0.1, momentum=0.9, nesterov=True)
    assert buf[0] == pytest.approx(0.9 * 0.95 + 0.5, abs=1e-15)
    assert p[0] == pytest.approx(1.0 - 0.1 * (0.5 + 0.9 * buf[0]), abs=1e-15)


def test_l2_weight_decay_shrinks_parameters_without_gradient():
    be = fastmlp.get_backend("numpy")
    p = np.array([2.0, -4.0])
    be.sgd_step(p, np.zeros(2), None, lr=0.1, weight_decay=0.5)
    np.testing.assert_allclose(p, [2.0 - 0.1 * 0.5 * 2.0, -4.0 + 0.1 * 0.5 * 4.0], rtol=1e-15)


def test_rmsprop_by_hand():
    be = fastmlp.get_backend("numpy")
    p, sq = np.array([1.0]), np.zeros(1)
    be.rmsprop_step(p, np.array([2.0]), sq, None, lr=0.01, alpha=0.99, eps=1e-8)
    # square_avg = 0.01 * 4 = 0.04; step = 2 / (0.2 + 1e-8)
    assert sq[0] == pytest.approx(0.04, abs=1e-15)
    assert p[0] == pytest.approx(1.0 - 0.01 * 2.0 / (0.2 + 1e-8), abs=1e-14)


def test_adamw_decay_is_decoupled_from_the_moments():
    be = fastmlp.get_backend("numpy")
    p, m, v = np.array([2.0]), np.zeros(1), np.zeros(1)
    be.adamw_step(p, np.array([0.0]), m, v, 0.1, 0.9, 0.999, 1e-8, 1, weight_decay=0.5)
    # zero gradient: the moments stay zero, only the decay p *= 1 - lr * wd acts
    assert m[0] == 0.0 and v[0] == 0.0
    assert p[0] == pytest.approx(2.0 * (1 - 0.05), abs=1e-15)


class CountingBackend(NumpyBackend):
    """Counts calls of each public kernel."""

    def __init__(self):
        self.calls = {}

    def __getattribute__(self, name):
        attr = object.__getattribute__(self, name)
        if callable(attr) and not name.startswith("_") and name in _kernel_names():
            calls = object.__getattribute__(self, "calls")

            def counted(*args, **kwargs):
                calls[name] = calls.get(name, 0) + 1
                return attr(*args, **kwargs)
            return counted
        return attr


def _kernel_names():
    from fastmlp.backends.base import KERNELS
    return KERNELS


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_one_kernel_call_per_step_over_the_flat_parameters(name):
    rng = np.random.default_rng(0)
    x = rng.random((64, 6)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    backend = CountingBackend()
    model = fastmlp.MLP([6, 8, 5, 3], seed=0, backend=backend)
    fastmlp.train(model, x, y, epochs=1, batch_size=16, optimizer=name,
                  optimizer_options={"momentum": 0.9} if name == "sgd" else None,
                  progress=False, eval_train=False)
    kernel = {"sgd": "sgd_step", "rmsprop": "rmsprop_step", "adam": "adam_step",
              "adamw": "adamw_step"}[name]
    assert backend.calls[kernel] == 4  # 64 rows / 16 per batch
    assert backend.calls["forward_backward"] == 4  # the plain MLP's fused step


@pytest.mark.parametrize("name,options", [("sgd", {"momentum": 0.9, "nesterov": True}),
                                          ("rmsprop", {}), ("adam", {}), ("adamw", {})])
@pytest.mark.parametrize("backend", ["numpy", "numba", "cpp"])
def test_every_optimizer_trains_a_network(backend, name, options):
    x, y, xt, yt = fastmlp.datasets.load_toy("gaussians", n_train=600, n_test=300, seed=0)
    model = fastmlp.MLP([2, 16, 3], seed=0, backend=backend)
    h = fastmlp.train(model, x, y, xt, yt, epochs=15, batch_size=32, optimizer=name,
                      optimizer_options=options, progress=False)
    assert h.loss[-1] < 0.5 * h.loss[0]
    assert h.test_accuracy[-1] > 0.9


def test_optimizer_objects_and_their_defaults():
    model = fastmlp.MLP([3, 2], seed=0)
    assert SGD(model).lr == 0.01 and RMSprop(model).lr == 0.01 and Adam(model).lr == 1e-3
    assert AdamW(model).weight_decay == 0.01  # torch's default decoupled decay
    assert SGD(model).buf is None and SGD(model, momentum=0.9).buf.shape == model.params.shape
    opt = make_optimizer("adamw", model, lr=None, weight_decay=None)  # None: the defaults
    assert opt.lr == 1e-3 and opt.weight_decay == 0.01
    assert "momentum=0.9" in repr(SGD(model, momentum=0.9))


@pytest.mark.parametrize("name,kwargs,message", [
    ("sgd", dict(momentum=1.5), r"momentum must be in \[0, 1\)"),
    ("sgd", dict(nesterov=True), "nesterov momentum needs a momentum > 0"),
    ("sgd", dict(lr=-1.0), "lr must be >= 0"),
    ("rmsprop", dict(alpha=1.0), r"alpha must be in \[0, 1\)"),
    ("rmsprop", dict(eps=0.0), "eps must be > 0"),
    ("adamw", dict(weight_decay=-0.1), "weight_decay must be >= 0"),
    ("adam", dict(momentum=0.9), "optimizer 'adam' has no option momentum"),
    ("lbfgs", dict(), "unknown optimizer 'lbfgs'; known: sgd, rmsprop, adam, adamw"),
])
def test_invalid_hyperparameters_are_clear_errors(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_optimizer(name, fastmlp.MLP([3, 2], seed=0), **kwargs)


def test_kernels_check_their_state_arrays():
    be = fastmlp.get_backend("numpy")
    p, g = np.zeros(4, np.float32), np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="needs a momentum buffer"):
        be.sgd_step(p, g, None, 0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"buf must have shape \(4,\)"):
        be.sgd_step(p, g, np.zeros(3, np.float32), 0.1, momentum=0.9)
    with pytest.raises(TypeError, match="square_avg has dtype float64"):
        be.rmsprop_step(p, g, np.zeros(4), None, 0.1)
    with pytest.raises(ValueError, match="param must not overlap grad"):
        be.sgd_step(p, p, None, 0.1)
