"""Toy 2-D datasets (and the circle example learning them) and the plots."""
import builtins
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp import plots
from fastmlp.datasets import (
    load_toy,
    make_circle,
    make_gaussian_mixture,
    make_spirals,
    make_xor,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("make", [make_circle, make_gaussian_mixture, make_xor, make_spirals])
def test_toy_datasets_are_seeded_typed_and_shuffled(make):
    x, y = make(500, seed=3)
    assert x.shape == (500, 2) and x.dtype == np.float32 and x.flags.c_contiguous
    assert y.shape == (500,) and y.dtype == np.int64
    x2, y2 = make(500, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(x, make(500, seed=4)[0])
    assert len(np.unique(y[:100])) == len(np.unique(y))  # classes are mixed, not in blocks


@pytest.mark.parametrize("balance", [0.5, 0.1, 0.9])
def test_circle_labels_and_balance(balance):
    x, y = make_circle(2000, radius=0.5, balance=balance, seed=0)
    r = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_array_equal(y, (r <= 0.5).astype(np.int64))
    assert y.mean() == pytest.approx(balance, abs=1e-3)
    assert np.all(np.abs(x) <= 1)


def test_xor_gaussians_and_spirals_labels():
    x, y = make_xor(1000, seed=0)
    np.testing.assert_array_equal(y, (np.sign(x[:, 0]) != np.sign(x[:, 1])).astype(np.int64))
    x, y = make_gaussian_mixture(900, k=4, std=0.05, seed=0)
    assert np.bincount(y).tolist() == [225] * 4
    centres = 0.7 * np.stack([np.cos(y * np.pi / 2), np.sin(y * np.pi / 2)], axis=1)
    assert np.all(np.hypot(*(x - centres).T) < 0.3)  # blob c at angle 2 pi c / k, std 0.05
    x, y = make_spirals(1000, seed=0)
    assert np.bincount(y).tolist() == [500, 500]
    # the two arms are point reflections of each other: class never decides the radius
    assert np.hypot(*x[y == 0].T).mean() == pytest.approx(np.hypot(*x[y == 1].T).mean(), rel=0.1)


@pytest.mark.parametrize("make,kwargs,message", [
    (make_circle, dict(radius=1.5), "radius must be in"),
    (make_circle, dict(balance=1.2), r"balance must be in \[0, 1\]"),
    (make_gaussian_mixture, dict(k=1), "k must be an integer >= 2"),
    (make_xor, dict(noise=-1), "noise must be >= 0"),
    (make_spirals, dict(n=0), "n must be an integer"),
])
def test_toy_arguments_are_checked(make, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make(**{"n": 100, **kwargs})
    with pytest.raises(ValueError, match="unknown toy dataset 'moons'"):
        load_toy("moons")


@pytest.mark.parametrize("backend", ["numpy", "numba", "cpp"])
def test_the_circle_example_learns_to_97_percent(backend):
    # the documented example (examples/circle.py, README)
    x, y, xt, yt = fastmlp.datasets.load_toy("circle", seed=0)
    model = fastmlp.MLP([2, 16, 16, 2], activation="tanh", seed=0, backend=backend)
    history = fastmlp.train(model, x, y, xt, yt, epochs=30, batch_size=32, lr=0.01,
                            progress=False)
    assert history.test_accuracy[-1] >= 0.97


# -- plots -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_circle():
    pytest.importorskip("matplotlib")
    x, y, xt, yt = fastmlp.datasets.load_toy("circle", n_train=500, n_test=200, seed=0)
    model = fastmlp.MLP([2, 8, 2], activation="tanh", seed=0)
    history = fastmlp.train(model, x, y, xt, yt, epochs=4, lr=0.01, val_split=0.2,
                            early_stopping=2, progress=False)
    return model, history, xt, yt


def _is_png(path):
    data = path.read_bytes()
    return data.startswith(PNG_MAGIC) and len(data) > 5000


def test_history_and_gradient_norm_plots(tmp_path, trained_circle):
    _, history, _, _ = trained_circle
    fig = plots.plot_history(history, tmp_path / "curves.png")
    assert _is_png(tmp_path / "curves.png")
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].get_lines()) >= 3  # train, validation, test (+ best epoch)
    plots.plot_gradient_norms(history, tmp_path / "norms.png")
    assert _is_png(tmp_path / "norms.png")


def test_decision_regions_and_misclassified_grid(tmp_path, trained_circle):
    model, _, xt, yt = trained_circle
    plots.plot_decision_regions(model, xt, yt, tmp_path / "regions.png")
    assert _is_png(tmp_path / "regions.png")
    rng = np.random.default_rng(0)
    x = rng.random((40, 16)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    digits = fastmlp.MLP([16, 3], seed=0)
    fig = plots.plot_misclassified(digits, x, y, tmp_path / "wrong.png", n=9)
    assert _is_png(tmp_path / "wrong.png")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    wrong = np.flatnonzero(digits.predict(x) != y)[:9]
    assert titles == [f"true {y[i]} → {digits.predict(x)[i]}" for i in wrong]
    with pytest.raises(ValueError, match="decision regions need 2-D inputs"):
        plots.plot_decision_regions(digits, x, y)


def test_save_training_plots_picks_the_plots_that_fit(tmp_path, trained_circle):
    model, history, xt, yt = trained_circle
    paths = plots.save_training_plots(tmp_path, history, model, xt, yt)
    assert [p.name for p in paths] == ["curves.png", "gradient_norms.png", "decision_regions.png"]
    assert all(_is_png(p) for p in paths)


def test_missing_matplotlib_is_a_clear_import_error(monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    for mod in [m for m in sys.modules if m.startswith("matplotlib")]:
        monkeypatch.delitem(sys.modules, mod)
    with pytest.raises(ImportError, match=r"pip install fastmlp\[plot\]"):
        plots.plot_history(fastmlp.History(loss=[1.0]))


def test_comparison_plot_overlays_runs(tmp_path, trained_circle):
    _, history, _, _ = trained_circle
    fig = plots.plot_comparison({"a": history, "b": history}, tmp_path / "cmp.png")
    assert _is_png(tmp_path / "cmp.png")
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["a", "b"]
    with pytest.raises(ValueError, match="run 'a' has no val_loss"):
        plots.plot_comparison({"a": fastmlp.History(loss=[1.0], val_loss=[float("nan")])},
                              metric="val_loss")
