"""Ctrl-C says where training stopped and keeps saved models whole; thread counts are
bounded; one model is trained by one thread at a time."""
import os
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastmlp
from fastmlp import MLP, ConcurrentTrainingError, TrainingInterrupted, train
from fastmlp.datasets import load_toy


@pytest.fixture(scope="module")
def xor():
    return load_toy("xor", n_train=400, n_test=100, seed=0)


@pytest.fixture(autouse=True)
def _keeps_the_backend():
    # the CLI's --backend sets this process's backend: later tests expect the one before
    before = fastmlp.get_backend().name
    yield
    fastmlp.set_backend(before)


def test_ctrl_c_mid_epoch_names_the_epoch_and_step(xor, monkeypatch):
    x, y, xt, yt = xor
    model = MLP([2, 8, 2], seed=0, backend="numpy")
    calls = []
    real = model.loss_and_grad

    def interrupted_on_the_fifth_step(*args, **kwargs):
        calls.append(1)
        if len(calls) == 13 + 5:  # epoch 2, step 5
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    monkeypatch.setattr(model, "loss_and_grad", interrupted_on_the_fifth_step)
    with pytest.raises(TrainingInterrupted, match=r"interrupted at epoch 2, step 5 of 13") as info:
        train(model, x, y, epochs=3, batch_size=32, optimizer="sgd", progress=False)
    assert isinstance(info.value, KeyboardInterrupt)
    assert info.value.history.epochs == 1
    train(model, x, y, epochs=1, batch_size=32, progress=False)  # the model is free again


def test_the_cli_exits_130_on_ctrl_c_and_keeps_the_saved_model(tmp_path):
    path = tmp_path / "model.npz"
    old = MLP([2, 32, 32, 2], seed=5)
    old.save(path)
    env = dict(os.environ, FASTMLP_BACKEND="numpy", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastmlp", "train", "--dataset", "xor", "--epochs", "100000",
         "--no-progress", "--save", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().startswith("fastmlp: ")
        assert proc.stdout.readline().startswith("epoch   1")  # mid-run from here on
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err.startswith("fastmlp train: interrupted at epoch ") and err.count("\n") == 1
    np.testing.assert_array_equal(MLP.load(path).params, old.params)


@pytest.mark.parametrize("n", [100_000, 4 * (os.cpu_count() or 1) + 1, 0, -3])
def test_thread_counts_out_of_range_raise(n):
    before = fastmlp.get_num_threads()
    with pytest.raises(ValueError, match="number of threads must be"):
        fastmlp.set_num_threads(n)
    assert fastmlp.get_num_threads() == before


def test_the_cli_refuses_a_huge_thread_count_in_one_line():
    r = subprocess.run([sys.executable, "-m", "fastmlp", "train", "--dataset", "xor",
                        "--threads", "100000", "--epochs", "1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "at most" in r.stderr and "Traceback" not in r.stderr


def test_one_model_trained_from_two_threads_is_refused(xor):
    x, y, _, _ = xor
    model = MLP([2, 8, 2], seed=0, backend="numpy")
    errors = []

    def train_again():
        try:
            train(model, x, y, epochs=1, progress=False)
        except ConcurrentTrainingError as exc:
            errors.append(exc)

    def second_thread_trains_the_same_model(epoch, history):
        t = threading.Thread(target=train_again)  # while the first run holds the model
        t.start()
        t.join()
    train(model, x, y, epochs=1, progress=False, callbacks=[second_thread_trains_the_same_model])
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)
    assert "already being trained in another thread" in str(errors[0])
    # different models train side by side; the first model is free again afterwards
    other = MLP([2, 8, 2], seed=0, backend="numpy")
    threads = [threading.Thread(target=train, args=(m, x, y), kwargs=dict(epochs=1,
                                                                           progress=False))
               for m in (model, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_the_cli_reports_a_model_too_large_for_memory_in_one_line(capsys):
    from fastmlp.cli import main

    code = main(["train", "--dataset", "xor", "--sizes", "2,100000000000,2", "--epochs", "1",
                 "--backend", "numpy", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "not enough memory" in err


def test_ctrl_c_while_the_cli_saves_keeps_the_previous_model(tmp_path, monkeypatch, capsys):
    from fastmlp import model_file
    from fastmlp.cli import main

    path = tmp_path / "model.npz"
    old = MLP([2, 32, 32, 2], seed=5)
    old.save(path)

    def savez_cut_by_ctrl_c(f, **members):
        f.write(b"PK\x03\x04 half a model")
        raise KeyboardInterrupt
    monkeypatch.setattr(model_file.np, "savez", savez_cut_by_ctrl_c)
    code = main(["train", "--dataset", "xor", "--epochs", "1", "--backend", "numpy",
                 "--no-progress", "--save", str(path)])
    monkeypatch.undo()
    assert code == 130 and capsys.readouterr().err == "fastmlp train: interrupted\n"
    np.testing.assert_array_equal(MLP.load(path).params, old.params)
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
