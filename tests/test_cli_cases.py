"""The `fastmlp` command's edge cases a user meets: no training asked for, model files that
are missing or not model files, data that does not fit the model, where plots and the
examples write, and the one initialization default shared with MLP."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastmlp
from fastmlp.model import DEFAULT_INIT, MLP
from test_cli import fastmlp as run_fastmlp
from test_data import _small_dataset

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fashion-like")
    _small_dataset(folder, n_train=200, n_test=50)
    return folder


def _one_line_error(r, *parts):
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    for part in parts:
        assert part in r.stderr, r.stderr


def test_zero_epochs_is_refused(data_dir, tmp_path):
    model = tmp_path / "m.npz"
    r = run_fastmlp("train", "--data-dir", str(data_dir), "--sizes", "784,8,10",
                    "--epochs", "0", "--save", str(model))
    _one_line_error(r, "--epochs", "positive integer")
    assert not model.exists()


def test_eval_of_a_missing_file_says_no_such_file(tmp_path):
    r = run_fastmlp("eval", str(tmp_path / "absent.npz"))
    _one_line_error(r, "absent.npz: no such file")
    assert "not a fastmlp model file" not in r.stderr


@pytest.mark.parametrize("content", [b"garbage, not a model" * 10,
                                     b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': "
                                     b"False, 'shape': (1,), }" + b" " * 50 + b"\n" + b"\x80" * 20])
def test_eval_of_garbage_says_not_a_model_file_without_pickle_advice(tmp_path, content):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(content)
    r = run_fastmlp("eval", str(bad))
    _one_line_error(r, "bad.npz: not a fastmlp model file")
    assert "pickle" not in r.stderr.lower()


def test_eval_refuses_data_the_model_does_not_fit(data_dir, tmp_path):
    three_classes = tmp_path / "three.npz"
    MLP([2, 4, 3], seed=0, backend="numpy").save(three_classes)
    r = run_fastmlp("eval", str(three_classes), "--dataset", "circle")
    _one_line_error(r, "predicts 3 classes", "has 2")
    five_features = tmp_path / "five.npz"
    MLP([5, 4, 2], seed=0, backend="numpy").save(five_features)
    r = run_fastmlp("eval", str(five_features), "--dataset", "circle")
    _one_line_error(r, "takes 5 features", "has 2")
    mnist_three = tmp_path / "mnist3.npz"
    MLP([784, 4, 3], seed=0, backend="numpy").save(mnist_three)
    r = run_fastmlp("eval", str(mnist_three), "--data-dir", str(data_dir))
    _one_line_error(r, "predicts 3 classes", "has 10")


def test_headers_name_the_data_folder(data_dir, tmp_path):
    model = tmp_path / "m.npz"
    r = run_fastmlp("train", "--data-dir", str(data_dir), "--sizes", "784,8,10", "--epochs", "1",
                    "--no-progress", "--save", str(model))
    assert r.returncode == 0, r.stderr
    header = r.stdout.splitlines()[0]
    assert str(data_dir) in header and "mnist" not in header.lower().replace(str(data_dir).lower(), "")
    r = run_fastmlp("eval", str(model), "--data-dir", str(data_dir))
    assert r.returncode == 0, r.stderr
    assert str(data_dir) in r.stdout


def test_plot_redraws_every_plot_where_it_is_told(data_dir, tmp_path):
    pytest.importorskip("matplotlib")
    model, history = tmp_path / "m.npz", tmp_path / "run.json"
    r = run_fastmlp("train", "--data-dir", str(data_dir), "--sizes", "784,8,10", "--epochs", "1",
                    "--no-progress", "--save", str(model), "--history", str(history))
    assert r.returncode == 0, r.stderr
    out = tmp_path / "elsewhere"
    r = run_fastmlp("plot", str(history), "--model", str(model), "--data-dir", str(data_dir),
                    "--output-dir", str(out))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "curves.png", "gradient_norms.png", "misclassified.png"]
    assert not (tmp_path / "curves.png").exists()  # nothing beside the history
    r = run_fastmlp("plot", str(history), "--model", str(model), "--dataset", "circle",
                    "--out", str(out))
    _one_line_error(r, "takes 784 features")


def _example(name, *args):
    return subprocess.run([sys.executable, str(ROOT / "examples" / name), *args],
                          capture_output=True, text=True, timeout=600)


def test_examples_write_under_the_folder_they_are_given(tmp_path):
    pytest.importorskip("matplotlib")
    r = _example("circle.py", "--out", str(tmp_path / "circle"), "--backend", "numpy")
    assert r.returncode == 0, r.stderr
    assert {"curves.png", "decision_regions.png"} <= {p.name for p in (tmp_path / "circle").iterdir()}
    r = _example("compare_optimizers.py", "--epochs", "1", "--samples", "256",
                 "--out", str(tmp_path / "opt"), "--backend", "numpy")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "opt" / "optimizers.png").stat().st_size > 5000


def test_cli_and_mlp_start_from_the_same_weights(data_dir, tmp_path):
    # learning rate 0: Adam leaves every parameter as initialized, so the saved model is
    # the CLI's initialization, compared with MLP's default for the same sizes and seed
    model = tmp_path / "m.npz"
    r = run_fastmlp("train", "--data-dir", str(data_dir), "--sizes", "784,8,10", "--epochs", "1",
                    "--lr", "0", "--seed", "3", "--backend", "numpy", "--no-progress",
                    "--save", str(model))
    assert r.returncode == 0, r.stderr
    saved = MLP.load(model, backend="numpy")
    default = MLP([784, 8, 10], seed=3, backend="numpy")
    assert default.init == saved.init == DEFAULT_INIT
    assert np.array_equal(saved.params, default.params)
    assert fastmlp.MLP([4, 2], seed=0).init == DEFAULT_INIT
