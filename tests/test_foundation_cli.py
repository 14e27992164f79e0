"""The `fastmlp` command as a user runs it (in a subprocess, like a shell would)."""
import os
import subprocess
import sys

import numpy as np
import pytest

from test_foundation_data import _small_dataset


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
    (["eval", "/nonexistent/model.npz"], "not a fastmlp model file"),
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
