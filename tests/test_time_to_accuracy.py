"""Time to accuracy: the accuracy of the training batches as they pass (no full pass over
the training set unless asked), the one-cycle schedule and the fast recipe, the
terminal output of `fastmlp train`, and the time-to-accuracy benchmark's machinery."""
from __future__ import annotations

import functools
import importlib
import json
import math

import numpy as np
import pytest

import fastmlp
from fastmlp import cli
from fastmlp.bench import time_to_accuracy
from fastmlp.progress import EpochMeter
from fastmlp.recipes import RECIPES, get_recipe
from fastmlp.schedules import LR_EVERY, OneCycleLR, make_schedule

train_module = importlib.import_module("fastmlp.train")
progress_module = importlib.import_module("fastmlp.progress")


def _data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (4, 6))
    y = rng.integers(0, 4, n)
    x = (centers[y] + rng.normal(0, 1.5, (n, 6))).astype(np.float32)
    return x, y


# -- batch accuracy ----------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["numpy", "numba", "cpp"])
@pytest.mark.parametrize("loss, optimizer", [("cross_entropy", "adam"), ("cross_entropy", "sgd"),
                                             ("mse", "adam")],
                         ids=["fused-adam", "sgd", "mse-per-step"])
def test_batch_accuracy_with_frozen_weights_is_the_full_pass(backend, loss, optimizer):
    # lr 0: the weights never change, so the batches' running accuracy over one epoch
    # counts every training sample once with the same weights as the full pass
    if not fastmlp.available_backends().get(backend):
        pytest.skip(f"{backend} backend not available")
    x, y = _data()
    model = fastmlp.MLP([6, 16, 4], seed=2, backend=backend, loss=loss, init="xavier")
    h = fastmlp.train(model, x, y, epochs=1, batch_size=64, lr=0.0, optimizer=optimizer,
                      progress=False, eval_train=True)
    assert 0.2 < h.batch_accuracy[0] < 1.0  # an untrained net: neither all nor none right
    assert h.batch_accuracy == h.train_accuracy
    assert h.loss[0] == pytest.approx(model.evaluate(x, y)[0], rel=1e-5)


def test_without_eval_train_only_the_batches_measure_training_accuracy(any_backend):
    x, y = _data()
    model = fastmlp.MLP([6, 16, 4], seed=2, backend=any_backend)
    h = fastmlp.train(model, x, y, x[:100], y[:100], epochs=2, batch_size=50, lr=0.01,
                      progress=False, eval_train=False)
    assert all(math.isnan(a) for a in h.train_accuracy)
    assert h.batch_accuracy[1] > h.batch_accuracy[0] > 0
    assert len(h.eval_seconds) == len(h.samples_per_second) == 2
    assert all(s > 0 for s in h.samples_per_second + h.eval_seconds)


def test_the_epoch_meter_weights_batches_by_their_rows_and_skips_untrained_ones():
    meter = EpochMeter(n=10, batch_size=4, min_batch=3, show=False, desc="")
    # batches of 4, 4 and 2 rows: the last (< min_batch) did not train
    assert meter.add(0, np.array([1.0, 0.5]), np.array([4, 1])) is True
    assert meter.add(2, np.array([7.0]), np.array([2])) is False
    assert meter.samples == 8 and meter.correct == 5
    assert meter.loss == pytest.approx(0.75) and meter.accuracy == pytest.approx(5 / 8)
    assert meter.close() > 0 and meter.samples_per_second > 0


def test_the_epoch_meter_stops_at_a_trained_steps_non_finite_loss():
    meter = EpochMeter(n=12, batch_size=4, min_batch=1, show=False, desc="")
    meter.add(0, np.array([1.0, np.inf, 2.0]), np.array([1, 2, 3]))
    assert meter.non_finite == (1, math.inf)
    assert meter.samples == 4 and meter.correct == 1  # nothing after the bad step counted


def test_regression_has_no_batch_accuracy_and_its_epoch_line_no_accuracies(any_backend):
    # squared_error: nothing to classify, so no correct counts and NaN batch accuracy
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5])).astype(np.float32)
    model = fastmlp.MLP([3, 8, 1], seed=0, backend=any_backend, loss="squared_error")
    h = fastmlp.train(model, x, y, x[:50], y[:50], epochs=2, batch_size=32, progress=False,
                      eval_train=False)
    assert all(math.isnan(a) for a in h.batch_accuracy)
    assert all(math.isfinite(v) for v in h.loss + h.test_loss)
    line = cli.format_epoch(1, h)
    assert "test loss" in line and " acc " not in line


# -- the one-cycle schedule and the recipes ---------------------------------------------

def test_one_cycle_warms_up_to_the_peak_then_anneals_to_almost_zero():
    sched = make_schedule("onecycle")
    assert isinstance(sched, OneCycleLR) and sched.per_step
    epochs, peak = 3, 4e-3
    t = np.linspace(0, epochs, 301)
    lr = np.array([sched(e, peak, epochs) for e in t])
    top = int(np.argmax(lr))
    assert lr[0] == pytest.approx(peak / 25)
    assert t[top] == pytest.approx(sched.pct_start * epochs, abs=0.01)
    assert lr[top] == pytest.approx(peak)
    assert np.all(np.diff(lr[:top + 1]) >= 0) and np.all(np.diff(lr[top:]) <= 0)
    assert lr[-1] == pytest.approx(peak / 1e4)
    with pytest.raises(ValueError, match="pct_start"):
        OneCycleLR(pct_start=1.0)


def test_a_per_step_schedule_changes_the_rate_every_lr_every_steps(monkeypatch):
    x, y = _data(n=20 * LR_EVERY)
    seen = []

    class Spy(OneCycleLR):
        def __call__(self, epoch, base_lr, epochs):
            seen.append(epoch)
            return super().__call__(epoch, base_lr, epochs)

    model = fastmlp.MLP([6, 8, 4], seed=0, backend="numpy")
    h = fastmlp.train(model, x, y, epochs=2, batch_size=10, lr=1e-2, schedule=Spy(),
                      progress=False, eval_train=False)
    # 20 * LR_EVERY rows in batches of 10: 2 * LR_EVERY steps an epoch, 2 blocks of rates
    fractions = sorted(set(seen))
    assert fractions == [0.0, 0.5, 1.0, 1.5]
    assert h.lr == [pytest.approx(OneCycleLR()(e, 1e-2, 2)) for e in (0, 1)]


@pytest.mark.parametrize("backend", ["numpy", "cpp"])
def test_a_per_step_schedule_gives_the_same_run_with_and_without_the_bar(backend, capsys):
    # the bar cuts chunks at other steps; the rates must not depend on it
    if not fastmlp.available_backends().get(backend):
        pytest.skip(f"{backend} backend not available")
    x, y = _data(n=1000)
    runs = []
    for progress in (False, True):
        model = fastmlp.MLP([6, 16, 4], seed=1, backend=backend)
        h = fastmlp.train(model, x, y, epochs=2, batch_size=8, lr=1e-2, schedule="onecycle",
                          progress=progress, eval_train=False)
        runs.append((model.params.copy(), h.loss))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]


def test_recipes():
    assert get_recipe("default").schedule is None and get_recipe("default").epochs == 5
    fast = get_recipe("fast")
    assert isinstance(fast.schedule, OneCycleLR) and fast.epochs == 3 and fast.lr > 1e-3
    with pytest.raises(ValueError, match="unknown recipe 'slow'"):
        get_recipe("slow")
    assert set(RECIPES) == {"default", "fast"}


def test_the_cli_trains_with_the_fast_recipe(tmp_path, capsys):
    out = tmp_path / "h.json"
    assert cli.main(["train", "--dataset", "gaussians", "--recipe", "fast", "--backend",
                     "numpy", "--history", str(out), "--no-progress"]) == 0
    h = json.loads(out.read_text())
    fast = get_recipe("fast")
    assert len(h["loss"]) == fast.epochs  # the recipe's epochs
    assert h["lr"] == pytest.approx([fast.schedule(e, fast.lr, fast.epochs)
                                     for e in range(fast.epochs)])
    assert "recipe=fast" in capsys.readouterr().out
    # its settings give way to explicit ones
    assert cli.main(["train", "--dataset", "gaussians", "--recipe", "fast", "--epochs", "1",
                     "--lr", "0.002", "--schedule", "cosine", "--backend", "numpy",
                     "--history", str(out), "--no-progress"]) == 0
    assert json.loads(out.read_text())["lr"] == [0.002]
    capsys.readouterr()
    # its rate is Adam's: another optimizer needs its own
    assert cli.main(["train", "--dataset", "gaussians", "--recipe", "fast", "--optimizer",
                     "sgd", "--backend", "numpy", "--no-progress"]) == 2
    assert "give --lr" in capsys.readouterr().err


# -- terminal output ---------------------------------------------------------------------

def _train_cli(*extra):
    return cli.main(["train", "--dataset", "gaussians", "--epochs", "2", "--backend", "numpy",
                     *extra])


def test_the_cli_writes_no_progress_frames_when_output_is_not_a_terminal(capsys):
    assert _train_cli() == 0  # capsys: stdout and stderr are no terminals
    captured = capsys.readouterr()
    assert "\r" not in captured.out + captured.err
    assert captured.out.count("epoch ") == 2


def test_the_cli_draws_the_bar_on_a_terminal_unless_told_not_to(capsys, monkeypatch):
    monkeypatch.setattr(cli.sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(train_module, "BAR_EVERY", 1)  # a frame for every step ...
    bar = progress_module.tqdm  # ... drawn, however fast the steps are
    monkeypatch.setattr(progress_module, "tqdm", functools.partial(bar, mininterval=0))
    assert _train_cli() == 0
    err = capsys.readouterr().err
    assert "\r" in err and "loss=" in err and "acc=" in err and "sample/s" in err
    assert _train_cli("--no-progress") == 0
    assert "\r" not in capsys.readouterr().err


def test_the_epoch_line_has_losses_accuracies_rate_and_both_times(capsys):
    assert _train_cli() == 0
    line = [l for l in capsys.readouterr().out.splitlines() if l.startswith("epoch ")][0]
    for field in ("loss ", "batch acc ", "test loss ", "test acc ", "lr ", " samples/s",
                  "train ", "eval "):
        assert field in line, field
    assert "train acc" not in line  # no full pass over the training set by default
    assert _train_cli("--eval-train") == 0
    assert "train acc " in capsys.readouterr().out


# -- the time-to-accuracy benchmark ------------------------------------------------------

def test_time_to_accuracy_runs_a_contender_in_its_own_process():
    # a 3,000-sample subset and a low target: the machinery, not a measurement
    r = time_to_accuracy.measure("fastmlp", "fast", seed=0, threads=1, target=0.5,
                                 train_samples=3000)
    assert r["reached"] and r["epoch"] == 1 and r["seconds"] > 0
    assert r["accuracies"][0] >= 0.5
    assert "fastmlp" in time_to_accuracy.format_results([r])
    with pytest.raises(ValueError, match="unknown contender"):
        time_to_accuracy.measure("jax")


def test_time_to_accuracy_trains_what_fastmlp_train_trains():
    args = cli.build_parser().parse_args(["train"])
    assert (args.activation, args.init, args.batch_size) == (
        time_to_accuracy.ACTIVATION, time_to_accuracy.INIT, time_to_accuracy.BATCH_SIZE)


def test_bench_takes_the_time_to_accuracy_options():
    args = cli.build_parser().parse_args(["bench", "--time-to-accuracy", "--target", "0.9",
                                          "--recipes", "fast"])
    assert args.time_to_accuracy and args.target == 0.9 and args.recipes == ["fast"]
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["bench", "--time-to-accuracy", "--recipes", "slow"])
