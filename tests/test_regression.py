"""Regression in the engine: linear outputs against real-valued targets (one or several),
the mse_regression_loss kernel on every backend, gradients, training and the polynomial."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastmlp
from fastmlp import backends
from fastmlp.gradcheck import gradient_check
from fastmlp.model import MLP

EPS32 = float(np.finfo(np.float32).eps)
BACKENDS = [name for name, ok in backends.available_backends().items() if ok]


@pytest.mark.parametrize("n,c", [(1, 1), (7, 3), (64, 1), (128, 10), (33, 129)])
def test_mse_regression_loss_matches_the_oracle(any_backend, oracle, rng, n, c):
    outputs = (rng.standard_normal((n, c)) * 3).astype(np.float32)
    targets = (rng.standard_normal((n, c)) * 3).astype(np.float32)
    got, want = np.full((n, c), np.nan, np.float32), np.empty((n, c), np.float32)
    loss = any_backend.mse_regression_loss(outputs, targets, got)
    ref = oracle.mse_regression_loss(outputs, targets, want)
    assert abs(loss - ref) <= 2 * (n * c + 8) * EPS32 * ref
    assert np.all(np.abs(got - want) <= 8 * EPS32 * np.abs(want) + 1e-30)
    exact = np.mean((outputs.astype(np.float64) - targets) ** 2)
    assert ref == pytest.approx(exact, rel=1e-6)


def test_the_oracle_is_torchs_mean_squared_error_and_its_gradient():
    o = np.array([[1.0, 2.0], [0.5, -1.0]])
    t = np.array([[0.0, 2.0], [1.5, 1.0]])
    g = np.empty_like(o)
    assert backends.get_backend("numpy").mse_regression_loss(o, t, g) == (1 + 0 + 1 + 4) / 4
    np.testing.assert_array_equal(g, 2 * (o - t) / 4)


def test_native_on_numba_and_through_the_oracle_on_cpp():
    avail = backends.available_backends()
    if avail.get("numba"):
        assert "mse_regression_loss" in backends.get_backend("numba").native_kernels()
    if avail.get("cpp"):  # the C++ extension has no such kernel: the base class's NumPy code
        assert "mse_regression_loss" not in backends.get_backend("cpp").native_kernels()


@pytest.mark.parametrize("bad,kind,match", [
    (lambda o, t, g: (o, t[:, :1], g), ValueError, "targets"),
    (lambda o, t, g: (o, t.astype(np.float64), g), TypeError, "targets"),
    (lambda o, t, g: (o, t, o), ValueError, "grad must not overlap outputs"),
    (lambda o, t, g: (o[:0], t[:0], g[:0]), ValueError, "non-empty"),
])
def test_mse_regression_loss_refuses_bad_arguments(bad, kind, match):
    o, t, g = (np.ones((3, 2), np.float32) for _ in range(3))
    with pytest.raises(kind, match=match):
        backends.get_backend("numpy").mse_regression_loss(*bad(o, t, g))


@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "bn"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("outputs", [1, 3])
def test_regression_gradients_pass_the_float64_check(activation, batch_norm, outputs):
    report = gradient_check((4, 6, 5, outputs), activation=activation, loss="squared_error",
                            batch_norm=batch_norm, backend="numpy", seed=2)
    assert report.max_rel_error < 1e-6, report.format()
    assert all(c.analytic_norm > 0 for c in report.checks)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
def test_regression_gradients_check_on_compiled_backends(backend):
    report = gradient_check((3, 5, 2), activation="tanh", loss="squared_error", backend=backend)
    assert report.passed, report.format()


def test_targets_are_checked_and_one_output_takes_a_vector():
    model = MLP([2, 4, 1], loss="squared_error", seed=0, backend="numpy")
    x = np.zeros((5, 2), np.float32)
    assert model.check_targets(np.arange(5), 5).shape == (5, 1)
    with pytest.raises(ValueError, match=r"targets must have shape \(5, 1\) or \(5,\)"):
        model.check_targets(np.zeros((5, 2)), 5)
    with pytest.raises(TypeError, match="real numbers"):
        model.check_targets(np.array(list("abcde")), 5)
    with pytest.raises(ValueError, match="regression loss"):
        model.predict_proba(x)
    assert model.predict(x).shape == (5, 1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_train_fits_the_polynomial_on_every_backend(backend):
    x, y, xt, yt = fastmlp.datasets.load_toy("polynomial", n_train=400, n_test=200)
    np.testing.assert_allclose(y, 5 * x[:, 0].astype(np.float64) ** 2, rtol=1e-6)  # y = 5x^2
    model = MLP([1, 32, 32, 1], activation="tanh", init="xavier", seed=0,
                loss="squared_error", backend=backend)
    history = fastmlp.train(model, x, y, xt, yt, epochs=120, batch_size=32, lr=0.03,
                            progress=False)
    assert history.test_loss[-1] < 0.02 * np.var(yt)  # R^2 > 0.98
    assert np.isnan(history.test_accuracy[-1])
    fit = model.predict(xt)[:, 0]
    assert np.mean((fit - yt) ** 2) == pytest.approx(history.test_loss[-1], rel=1e-5)


def test_several_outputs_train_together():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (300, 2)).astype(np.float32)
    y = np.stack([x[:, 0] * x[:, 1], x[:, 0] - x[:, 1], np.sin(2 * x[:, 0])], 1)
    model = MLP([2, 32, 3], activation="tanh", seed=0, loss="squared_error", backend="numpy")
    history = fastmlp.train(model, x, y, epochs=60, batch_size=16, lr=0.01, progress=False)
    assert history.loss[-1] < 0.05 * history.loss[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_mlp_regressor_fits_the_polynomial_on_every_backend(backend):
    pytest.importorskip("sklearn")
    from fastmlp import MLPRegressor

    x, y, xt, yt = fastmlp.datasets.load_toy("polynomial", n_train=400, n_test=200)
    reg = MLPRegressor(hidden_layer_sizes=(32, 32), activation="tanh", learning_rate_init=0.01,
                       max_iter=300, random_state=0, backend=backend, dtype="float32")
    reg.fit(x, y)
    assert np.mean((reg.predict(xt) - yt) ** 2) < 0.02 * np.var(yt)
    assert reg.out_activation_ == "identity" and reg.n_outputs_ == 1


def test_train_command_fits_the_polynomial_and_draws_the_fit(tmp_path):
    pytest.importorskip("matplotlib")
    r = subprocess.run([sys.executable, "-m", "fastmlp", "train", "--dataset", "polynomial",
                        "--activation", "tanh", "--epochs", "30", "--batch-size", "32",
                        "--lr", "0.03", "--no-progress", "--plots", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "loss='squared_error'" in r.stdout and "test loss" in r.stdout
    assert "acc" not in r.stdout.splitlines()[-4]
    assert (tmp_path / "fit.png").stat().st_size > 1000


def test_polynomial_example_runs(tmp_path):
    pytest.importorskip("matplotlib")
    example = Path(__file__).resolve().parents[1] / "examples" / "polynomial.py"
    r = subprocess.run([sys.executable, str(example), "--epochs", "20", "--backend", "numpy",
                        "--plot", str(tmp_path / "fit.png")], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "fit.png").stat().st_size > 1000
