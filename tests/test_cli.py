"""The `fastmlp` command as a user runs it (in a subprocess, like a shell would): train,
eval, backends, the training flags, plot and gradcheck."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from test_data import _small_dataset


def fastmlp(*args, env=None, timeout=300):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FASTMLP_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "fastmlp", *args], capture_output=True,
                          text=True, env=full_env, timeout=timeout)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist-small")
    _small_dataset(folder, n_train=200, n_test=50)
    return folder


def test_backends_lists_every_backend_and_its_kernels():
    r = fastmlp("backends")
    assert r.returncode == 0, r.stderr
    for name in ("cpp", "numba", "numpy"):
        assert f"{name}" in r.stdout
    assert "cpp (default): loads" in r.stdout
    assert "native:" in r.stdout and "adam_step" in r.stdout


@pytest.mark.parametrize("backend", ["numpy", "numba", "cpp"])
def test_train_save_and_eval(tiny_data, tmp_path, backend):
    model = tmp_path / "m.npz"
    r = fastmlp("train", "--data-dir", str(tiny_data), "--sizes", "784,32,10", "--epochs", "2",
                "--batch-size", "16", "--backend", backend, "--threads", "1", "--save", str(model))
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stdout.splitlines() if l.startswith("epoch")]
    assert len(lines) == 2
    assert "loss" in lines[0] and "test acc" in lines[0] and lines[0].endswith(" s")
    assert f"backend='{backend}'" in r.stdout
    assert model.exists()
    r = fastmlp("eval", str(model), "--data-dir", str(tiny_data))
    assert r.returncode == 0, r.stderr
    assert "test accuracy" in r.stdout


def test_backend_from_environment(tiny_data):
    r = fastmlp("train", "--data-dir", str(tiny_data), "--sizes", "784,8,10", "--epochs", "1",
                "--no-progress", env={"FASTMLP_BACKEND": "numba", "FASTMLP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    assert "backend='numba'" in r.stdout and "threads=1" in r.stdout


def test_unknown_backend_from_environment_fails_clearly():
    r = fastmlp("train", "--epochs", "1", env={"FASTMLP_BACKEND": "nope"})
    assert r.returncode == 2
    assert "FASTMLP_BACKEND='nope' is not a known backend; known backends: cpp, numba, numpy" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("args,message", [
    (["train", "--backend", "nope"], "unknown backend 'nope'"),
    (["train", "--data-dir", "/nonexistent/dir"], "does not exist"),
    (["train", "--sizes", "784,x,10"], "sizes must be integers"),
    (["train", "--sizes", "100,10"], "--sizes starts with 100"),
    (["train", "--threads", "0"], "positive integer"),
    (["train", "--lr", "-1", "--sizes", "784,4,10"], "lr must be >= 0"),
    (["eval", "/nonexistent/model.npz"], "no such file"),
])
def test_user_errors_are_one_clear_line(tiny_data, args, message):
    if "--data-dir" not in args and args[0] == "train":
        args = args + ["--data-dir", str(tiny_data), "--epochs", "1"]
    r = fastmlp(*args)
    assert r.returncode == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_console_script_is_installed():
    r = subprocess.run(["fastmlp", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    assert "train" in r.stdout and "backends" in r.stdout


def test_version_is_the_package_version():
    from importlib.metadata import version

    from fastmlp._version import __version__

    r = fastmlp("--version")
    assert r.returncode == 0, r.stderr
    # one source: _version.py, which the build's metadata reads too
    assert r.stdout.strip() == f"fastmlp {__version__}" == f"fastmlp {version('fastmlp')}"


@pytest.fixture(scope="module")
def flag_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist-small")
    _small_dataset(folder, n_train=300, n_test=60)
    return folder


FLAG_SETS = {
    "sgd-nesterov-step": ["--optimizer", "sgd", "--momentum", "0.9", "--nesterov",
                          "--schedule", "step", "--step-size", "1", "--gamma", "0.5"],
    "rmsprop-dropout-bn": ["--optimizer", "rmsprop", "--dropout", "0.2", "--batch-norm",
                           "--init", "he_uniform"],
    "adamw-mse-cosine-early": ["--optimizer", "adamw", "--loss", "mse", "--activation",
                               "sigmoid", "--init", "xavier", "--schedule", "cosine",
                               "--early-stopping", "1", "--val-split", "0.2"],
}


@pytest.mark.parametrize("flags", list(FLAG_SETS))
@pytest.mark.parametrize("backend", ["numpy", "numba", "cpp"])
def test_train_flags_work_on_every_backend(flag_data, tmp_path, backend, flags):
    history = tmp_path / "h.json"
    r = fastmlp("train", "--data-dir", str(flag_data), "--sizes", "784,16,10", "--epochs", "3",
                "--batch-size", "32", "--backend", backend, "--threads", "1", "--no-progress",
                "--history", str(history), *FLAG_SETS[flags])
    assert r.returncode == 0, r.stderr
    epochs = [line for line in r.stdout.splitlines() if line.startswith("epoch")]
    assert 1 <= len(epochs) <= 3 and f"backend='{backend}'" in r.stdout
    data = json.loads(history.read_text())
    assert len(data["loss"]) == len(epochs)
    if flags.startswith("sgd"):
        assert data["lr"] == pytest.approx([0.01, 0.005, 0.0025])
    if "early" in flags:
        assert "val loss" in epochs[0]


def test_train_on_toy_data_with_plots_then_plot_the_history(tmp_path):
    pytest.importorskip("matplotlib")
    plots = tmp_path / "plots"
    r = fastmlp("train", "--dataset", "circle", "--sizes", "2,16,16,2", "--activation", "tanh",
                "--epochs", "8", "--batch-size", "32", "--lr", "0.01", "--no-progress",
                "--history", str(tmp_path / "h.csv"), "--plots", str(plots))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in plots.iterdir()) == [
        "curves.png", "decision_regions.png", "gradient_norms.png"]
    r = fastmlp("plot", str(tmp_path / "h.csv"), "--out", str(tmp_path / "again"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "again" / "curves.png").stat().st_size > 5000


def test_mnist_plots_include_misclassified_digits(flag_data, tmp_path):
    pytest.importorskip("matplotlib")
    r = fastmlp("train", "--data-dir", str(flag_data), "--sizes", "784,16,10", "--epochs", "1",
                "--no-progress", "--plots", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "misclassified.png").exists()


def test_bce_on_a_toy_problem_and_eval_of_the_saved_model(tmp_path):
    model = tmp_path / "xor.npz"
    r = fastmlp("train", "--dataset", "xor", "--loss", "bce", "--epochs", "5", "--lr", "0.01",
                "--no-progress", "--save", str(model))
    assert r.returncode == 0, r.stderr
    assert "sizes=[2, 32, 32, 1]" in r.stdout and "loss='bce'" in r.stdout
    r = fastmlp("eval", str(model), "--dataset", "xor")
    assert r.returncode == 0, r.stderr
    assert "test accuracy" in r.stdout


@pytest.mark.parametrize("args", [
    ["--loss", "mse", "--batch-norm", "--activation", "sigmoid"],
    ["--loss", "bce", "--activation", "leaky_relu", "--backend", "cpp"],
])
def test_gradcheck_command_passes(args):
    r = fastmlp("gradcheck", *args)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASS: largest relative error" in r.stdout
    assert "W1" in r.stdout and "rel error" in r.stdout


@pytest.mark.parametrize("args,message", [
    (["--optimizer", "sgd", "--momentum", "1.5"], r"momentum must be in [0, 1)"),
    (["--optimizer", "sgd", "--nesterov"], "nesterov momentum needs a momentum > 0"),
    (["--optimizer", "adam", "--momentum", "0.9"], "optimizer 'adam' has no option momentum"),
    (["--dropout", "1.0"], "dropout probability must be in [0, 1)"),
    (["--val-split", "1.5"], "val_split must be in [0, 1)"),
    (["--early-stopping", "2", "--val-split", "0"], "--early-stopping monitors the validation loss"),
    (["--loss", "bce"], "needs a single output unit"),
    (["--history", "h.txt"], "ends in .json or .csv"),
    (["--schedule", "step", "--gamma", "0"], "gamma must be in (0, 1]"),
])
def test_invalid_hyperparameters_are_one_line_errors(flag_data, tmp_path, args, message):
    r = fastmlp("train", "--data-dir", str(flag_data), "--sizes", "784,8,10", "--epochs", "1",
                "--no-progress", *[str(tmp_path / a) if a == "h.txt" else a for a in args])
    assert r.returncode == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_plot_rejects_a_file_that_is_not_a_history(tmp_path):
    bad = tmp_path / "h.json"
    bad.write_text("{}")
    r = fastmlp("plot", str(bad))
    assert r.returncode == 2 and "not a fastmlp history file" in r.stderr
