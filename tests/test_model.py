"""The model: whole-network gradients, Adam's rule, determinism, persistence, errors."""
import numpy as np
import pytest

import fastmlp
from fastmlp.model import MLP


def _numeric_gradient(model, x, y, h=1e-6):
    grad = np.empty_like(model.params)
    for i in range(model.params.size):
        keep = model.params[i]
        model.params[i] = keep + h
        up = model.loss_and_grad(x, y)
        model.params[i] = keep - h
        down = model.loss_and_grad(x, y)
        model.params[i] = keep
        grad[i] = (up - down) / (2 * h)
    return grad


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("backend", ["numpy", "numba", "cpp"])
def test_whole_network_gradient_matches_finite_differences(activation, backend):
    rng = np.random.default_rng(7)
    model = MLP([6, 5, 4, 3], activation=activation, seed=3, dtype=np.float64, backend=backend)
    model.biases[0][...] = rng.standard_normal(5) * 0.1  # non-zero biases exercise bias grads
    x = rng.standard_normal((4, 6))
    y = np.array([0, 2, 1, 2], dtype=np.int64)
    model.loss_and_grad(x, y)
    analytic = model.grads.copy()
    numeric = _numeric_gradient(model, x, y)
    # central differences in float64 have error ~h^2 * f''' + eps/h ~ 1e-10 relative
    rel = np.linalg.norm(analytic - numeric) / (np.linalg.norm(analytic) + np.linalg.norm(numeric))
    assert rel < 1e-6


def test_adam_matches_a_hand_computed_update():
    be = fastmlp.get_backend("numpy")
    p = np.array([1.0, -2.0], np.float64)
    m, v = np.zeros(2), np.zeros(2)
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    g1 = np.array([0.5, 0.0])
    be.adam_step(p, g1, m, v, lr, b1, b2, eps, step=1)
    # step 1: m = 0.1*g = 0.05, v = 0.001*g^2 = 0.00025; m_hat = 0.5, v_hat = 0.25
    # p -= lr * m_hat / (sqrt(v_hat) + eps) = 0.1 * 0.5 / (0.5 + 1e-8)
    assert m[0] == pytest.approx(0.05, abs=1e-15)
    assert v[0] == pytest.approx(0.00025, abs=1e-15)
    assert p[0] == pytest.approx(1.0 - 0.05 / (0.5 + 1e-8), abs=1e-14)
    assert p[1] == -2.0  # zero gradient, zero moments: no move
    g2 = np.array([-0.25, 0.0])
    be.adam_step(p, g2, m, v, lr, b1, b2, eps, step=2)
    # step 2: m = 0.9*0.05 + 0.1*(-0.25) = 0.02; v = 0.999*0.00025 + 0.001*0.0625 = 0.00031225
    # m_hat = 0.02/0.19, v_hat = 0.00031225/0.001999
    m_hat, v_hat = 0.02 / (1 - 0.81), 0.00031225 / (1 - 0.999 ** 2)
    assert m[0] == pytest.approx(0.02, abs=1e-15)
    assert v[0] == pytest.approx(0.00031225, abs=1e-15)
    p1 = 1.0 - 0.05 / (0.5 + 1e-8)
    assert p[0] == pytest.approx(p1 - lr * m_hat / (np.sqrt(v_hat) + eps), abs=1e-14)


@pytest.mark.parametrize("backend", ["numpy", "numba", "cpp"])
def test_adam_weight_decay_is_added_to_the_gradient(backend):
    be = fastmlp.get_backend(backend)
    p = np.array([2.0], np.float32)
    g = np.array([0.0], np.float32)
    m, v = np.zeros(1, np.float32), np.zeros(1, np.float32)
    be.adam_step(p, g, m, v, 0.1, 0.9, 0.999, 1e-8, 1, weight_decay=0.5)
    # effective gradient 0 + 0.5*2 = 1: m = 0.1, v = 0.001, step = lr * 1/(1+eps)
    assert m[0] == pytest.approx(0.1, rel=1e-6)
    assert v[0] == pytest.approx(0.001, rel=1e-6)
    assert p[0] == pytest.approx(2.0 - 0.1, rel=1e-6)
    assert g[0] == 0.0  # the caller's gradient is not modified


@pytest.mark.parametrize("backend", ["numpy", "numba", "cpp"])
def test_same_seed_gives_the_same_run(backend):
    rng = np.random.default_rng(0)
    x = rng.random((300, 20)).astype(np.float32)
    y = rng.integers(0, 4, 300)
    runs = []
    for _ in range(2):
        model = MLP([20, 16, 4], seed=11, backend=backend)
        fastmlp.train(model, x, y, epochs=2, batch_size=32, seed=5, progress=False)
        runs.append(model.params.copy())
    np.testing.assert_array_equal(runs[0], runs[1])
    other = MLP([20, 16, 4], seed=12, backend=backend)
    assert not np.array_equal(other.params, MLP([20, 16, 4], seed=11).params)


def test_init_schemes_have_the_right_scale():
    he = MLP([1000, 500, 10], init="he", seed=0)
    xavier = MLP([1000, 500, 10], init="xavier", seed=0)
    assert he.weights[0].std() == pytest.approx(np.sqrt(2 / 1000), rel=0.02)
    assert xavier.weights[0].std() == pytest.approx(np.sqrt(2 / 1500), rel=0.02)
    assert all(np.all(b == 0) for b in he.biases)
    assert he.weights[0].dtype == np.float32


def test_parameters_are_views_of_one_flat_buffer():
    model = MLP([5, 4, 3], seed=0)
    assert model.params.size == 5 * 4 + 4 + 4 * 3 + 3
    model.weights[1][0, 0] = 123.0
    assert 123.0 in model.params
    for w, g in zip(model.weights, model.weight_grads):
        assert np.shares_memory(w, model.params) and np.shares_memory(g, model.grads)


def test_save_and_load_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    model = MLP([8, 6, 3], activation="tanh", seed=2)
    model.params[...] = rng.standard_normal(model.params.size)
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = MLP.load(path, backend="numpy")
    assert loaded.sizes == [8, 6, 3] and loaded.activation == "tanh"
    np.testing.assert_array_equal(loaded.params, model.params)
    x = rng.random((5, 8)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    with np.load(path, allow_pickle=False) as f:  # a plain .npz, no pickled objects
        assert "params" in f.files


def test_load_rejects_files_that_are_not_models(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, something=np.zeros(3))
    with pytest.raises(ValueError, match="not a fastmlp model file"):
        MLP.load(bad)
    with pytest.raises(FileNotFoundError, match="missing.npz: no such file"):
        MLP.load(tmp_path / "missing.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a model at all" * 8)
    with pytest.raises(ValueError, match="not a fastmlp model file") as info:
        MLP.load(garbage)
    assert "pickle" not in str(info.value)  # never NumPy's advice to load unsafely


@pytest.mark.parametrize("kwargs,message", [
    (dict(sizes=[784]), "at least an input and an output"),
    (dict(sizes=[784, 0, 10]), "at least an input and an output"),
    (dict(sizes=[784, 10], activation="softplus"), "unknown hidden activation"),
    (dict(sizes=[784, 10], init="orthogonal"), "unknown init"),
    (dict(sizes=[784, 10], backend="nope"), "unknown backend"),
])
def test_model_arguments_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MLP(**kwargs)


def test_predict_checks_its_input():
    model = MLP([4, 3], seed=0)
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        model.predict(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        model.evaluate(np.zeros((2, 4), np.float32), np.array([0, 7]))
    # other float dtypes and non-contiguous inputs are converted, not rejected
    x = np.asfortranarray(np.random.default_rng(0).random((3, 4)))
    assert model.predict(x).shape == (3,)
